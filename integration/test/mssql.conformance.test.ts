import { describeConformance } from "../src/conformance.js";
import { mssqlTarget } from "../src/targets/sqlserver-targets.js";

describeConformance(mssqlTarget);
