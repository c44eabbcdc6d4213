import { describeHostileMatrix } from "../src/hostile/hostile-matrix.js";
import { sqlserverHostileTargets } from "../src/hostile/sqlserver-hostile-targets.js";

describeHostileMatrix("sqlserver", sqlserverHostileTargets);
