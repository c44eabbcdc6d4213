import { describeConformance } from "../src/conformance.js";
import { mikroOrmTarget } from "../src/targets/mikro-orm-targets.js";

describeConformance(mikroOrmTarget("postgresql"));
