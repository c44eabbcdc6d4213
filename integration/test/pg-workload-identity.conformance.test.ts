import { describeConformance } from "../src/conformance.js";
import { pgTarget } from "../src/targets/pg-target.js";

// DefaultAzureCredential's workload-identity link (AKS, GitHub Actions): the federated token in
// AZURE_FEDERATED_TOKEN_FILE, issued by the emulator's OIDC issuer, exchanged at its Entra authority.
describeConformance(pgTarget, { identity: "workload-identity" });
