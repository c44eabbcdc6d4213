import { describeConformance } from "../src/conformance.js";
import { prismaMysqlTarget } from "../src/targets/prisma-targets.js";

describeConformance(prismaMysqlTarget);
