import { describeConformance } from "../src/conformance.js";
import { kyselyMysqlTarget } from "../src/targets/kysely-targets.js";

describeConformance(kyselyMysqlTarget);
