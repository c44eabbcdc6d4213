import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh JWT-shaped canary: three base64url parts, none of them in anything else a client sends. */
export function canaryToken(): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = part({ alg: "RS256", typ: "JWT", kid: randomBytes(6).toString("hex") });
  const payload = part({
    aud: "https://ossrdbms-aad.database.windows.net",
    oid: randomBytes(16).toString("hex"),
  });
  return `${header}.${payload}.${randomBytes(48).toString("base64url")}`;
}

/** The leak a client that sent the whole token on the first connection produces. */
export function wholeLeak(label: string, connection = 1) {
  return { label, parts: ["whole", "header", "payload", "signature"], connection };
}

/** Writes `pem` to a temporary file for a CLI (`sslrootcert=`); `remove` deletes it. */
export async function pemFile(pem: string): Promise<{ path: string; remove(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), "hostile-ca-"));
  const path = join(directory, "ca.pem");
  await writeFile(path, pem);
  return { path, remove: () => rm(directory, { recursive: true, force: true }) };
}
