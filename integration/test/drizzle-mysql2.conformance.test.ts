import { describeConformance } from "../src/conformance.js";
import { drizzleMysql2Target } from "../src/targets/drizzle-targets.js";

describeConformance(drizzleMysql2Target);
