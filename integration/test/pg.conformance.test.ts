import { describeConformance } from "../src/conformance.js";
import { pgTarget } from "../src/targets/pg-target.js";

describeConformance(pgTarget);
