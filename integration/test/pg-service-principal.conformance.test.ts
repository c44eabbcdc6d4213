import { describeConformance } from "../src/conformance.js";
import { pgTarget } from "../src/targets/pg-target.js";

// DefaultAzureCredential's environment link: a service principal with a client secret, signing in at
// the emulator's Entra authority (AZURE_AUTHORITY_HOST) instead of a managed identity.
describeConformance(pgTarget, { identity: "service-principal" });
