import { describeConformance } from "../src/conformance.js";
import { tediousTarget } from "../src/targets/sqlserver-targets.js";

describeConformance(tediousTarget);
