import { describeConformance } from "../src/conformance.js";
import { sequelizeMariadbTarget } from "../src/targets/sequelize-targets.js";

// The mariadb connector against MariaDB 11 started by testcontainers (scripts/ensure-docker.sh).
describeConformance(sequelizeMariadbTarget, { backend: "container" });
