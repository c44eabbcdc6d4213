import { describeConformance } from "../src/conformance.js";
import { sequelizeMysqlTarget } from "../src/targets/sequelize-targets.js";

describeConformance(sequelizeMysqlTarget);
