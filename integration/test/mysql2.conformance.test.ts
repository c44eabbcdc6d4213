import { describeConformance } from "../src/conformance.js";
import { mysql2Target } from "../src/targets/mysql2-target.js";

describeConformance(mysql2Target);
