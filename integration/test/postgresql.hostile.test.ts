import { describeHostileMatrix } from "../src/hostile/hostile-matrix.js";
import { postgresqlHostileTargets } from "../src/hostile/postgresql-hostile-targets.js";

describeHostileMatrix("postgresql", postgresqlHostileTargets);
