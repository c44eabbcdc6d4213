import { describeConformance } from "../src/conformance.js";
import { drizzlePostgresJsTarget } from "../src/targets/drizzle-targets.js";

describeConformance(drizzlePostgresJsTarget);
