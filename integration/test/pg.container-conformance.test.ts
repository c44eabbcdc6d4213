import { describeConformance } from "../src/conformance.js";
import { pgTarget } from "../src/targets/pg-target.js";

// The second server version per engine: a database started by testcontainers (scripts/ensure-docker.sh).
describeConformance(pgTarget, { backend: "container" });
