import { describeConformance } from "../src/conformance.js";
import { mysql2Target } from "../src/targets/mysql2-target.js";

// DefaultAzureCredential's workload-identity link (AKS, GitHub Actions): the federated token in
// AZURE_FEDERATED_TOKEN_FILE, issued by the emulator's OIDC issuer, exchanged at its Entra authority.
describeConformance(mysql2Target, { identity: "workload-identity" });
