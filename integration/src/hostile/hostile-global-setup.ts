import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority } from "@org/entra-emulator";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The CA every hostile-suite worker trusts through NODE_EXTRA_CA_CERTS (PEM and its key). */
    hostileAuthority: { ca: string; caKey: string };
  }
}

/**
 * Creates the CA the hostile suite's worker processes trust by default, the way an app trusts a
 * CA through `NODE_EXTRA_CA_CERTS`: Node reads that variable only when a process starts, so it is
 * set here, before vitest forks the workers. "wrong-host" servers present certificates from this
 * CA, so that "defaults" (no TLS options at all) is a real test of the host name check.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const authority = await createCertificateAuthority();
  const directory = await mkdtemp(join(tmpdir(), "entra-hostile-"));
  const file = join(directory, "trusted-ca.pem");
  await writeFile(file, authority.ca);
  process.env.NODE_EXTRA_CA_CERTS = file;
  project.provide("hostileAuthority", { ca: authority.ca, caKey: authority.caKey });
  return async () => {
    await rm(directory, { recursive: true, force: true });
  };
}
