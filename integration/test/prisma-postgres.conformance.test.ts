import { describeConformance } from "../src/conformance.js";
import { prismaPostgresTarget } from "../src/targets/prisma-targets.js";

describeConformance(prismaPostgresTarget);
