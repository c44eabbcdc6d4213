import { describeConformance } from "../src/conformance.js";
import { sequelizeMariadbTarget } from "../src/targets/sequelize-targets.js";

describeConformance(sequelizeMariadbTarget);
