import { describeConformance } from "../src/conformance.js";
import { sequelizePostgresTarget } from "../src/targets/sequelize-targets.js";

describeConformance(sequelizePostgresTarget);
