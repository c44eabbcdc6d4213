import { describeConformance } from "../src/conformance.js";
import { drizzleNodePostgresTarget } from "../src/targets/drizzle-targets.js";

describeConformance(drizzleNodePostgresTarget);
