import { describeConformance } from "../src/conformance.js";
import { typeormTarget } from "../src/targets/typeorm-targets.js";

describeConformance(typeormTarget("1", "mysql"));
