import { describeHostileMatrix } from "../src/hostile/hostile-matrix.js";
import { mysqlHostileTargets } from "../src/hostile/mysql-hostile-targets.js";

describeHostileMatrix("mysql", mysqlHostileTargets);
