import { describeConformance } from "../src/conformance.js";
import { kyselyMssqlTarget } from "../src/targets/kysely-targets.js";

describeConformance(kyselyMssqlTarget);
