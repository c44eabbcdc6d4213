import { describeConformance } from "../src/conformance.js";
import { postgresTarget } from "../src/targets/postgres-target.js";

describeConformance(postgresTarget);
