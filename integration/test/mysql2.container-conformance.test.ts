import { describeConformance } from "../src/conformance.js";
import { mysql2Target } from "../src/targets/mysql2-target.js";

// The second server version per engine: a database started by testcontainers (scripts/ensure-docker.sh).
describeConformance(mysql2Target, { backend: "container" });
