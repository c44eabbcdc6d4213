import { describeConformance } from "../src/conformance.js";
import { kyselyPostgresTarget } from "../src/targets/kysely-targets.js";

describeConformance(kyselyPostgresTarget);
