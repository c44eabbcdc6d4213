import { describeConformance } from "../src/conformance.js";
import { knexMysql2Target } from "../src/targets/knex-targets.js";

describeConformance(knexMysql2Target);
