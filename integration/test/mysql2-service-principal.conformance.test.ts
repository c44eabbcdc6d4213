import { describeConformance } from "../src/conformance.js";
import { mysql2Target } from "../src/targets/mysql2-target.js";

// DefaultAzureCredential's environment link: a service principal with a client secret, signing in at
// the emulator's Entra authority (AZURE_AUTHORITY_HOST) instead of a managed identity.
describeConformance(mysql2Target, { identity: "service-principal" });
