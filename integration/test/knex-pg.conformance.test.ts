import { describeConformance } from "../src/conformance.js";
import { knexPgTarget } from "../src/targets/knex-targets.js";

describeConformance(knexPgTarget);
