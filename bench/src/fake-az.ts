import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** A fake Azure CLI on disk: put `dir` first in PATH and `AzureCliCredential` runs it. */
export interface FakeAz {
  /** Directory holding the `az` executable. */
  readonly dir: string;
  /** How many times `az` ran since the last `reset()`. */
  invocations(): Promise<number>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** Where the fake `az` gets its tokens: the emulator's App Service identity endpoint. */
export interface FakeAzOptions {
  readonly identityEndpoint: string;
  readonly identityHeader: string;
  readonly tenantId: string;
}

/**
 * Writes a fake `az` (a tiny Node script) into a temp directory. It answers
 * `az account get-access-token --output json --resource <r> [--tenant <t>]` (what
 * `AzureCliCredential` of @azure/identity 4.14 runs, once per `getToken`, with no cache) by asking
 * the emulator's identity endpoint for a token, and prints what the real CLI prints:
 * `{ accessToken, expiresOn, expires_on, subscription, tenant, tokenType }`. Each run appends a
 * line to a counter file, so spawns can be counted.
 */
export async function installFakeAz(options: FakeAzOptions): Promise<FakeAz> {
  const dir = await mkdtemp(path.join(tmpdir(), "bench-fake-az-"));
  const counterFile = path.join(dir, "invocations.log");
  const script = path.join(dir, "az");
  await writeFile(counterFile, "");
  await writeFile(script, fakeAzSource(options, counterFile));
  await chmod(script, 0o755);
  return {
    dir,
    async invocations() {
      const text = await readFile(counterFile, "utf8");
      return text.split("\n").filter(Boolean).length;
    },
    async reset() {
      await writeFile(counterFile, "");
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function fakeAzSource(options: FakeAzOptions, counterFile: string): string {
  const constants = JSON.stringify({ ...options, counterFile });
  return `#!${process.execPath}
"use strict";
// Fake Azure CLI for benchmarks: az account get-access-token --output json --resource <r>
const fs = require("node:fs");
const http = require("node:http");
const { identityEndpoint, identityHeader, tenantId, counterFile } = ${constants};
fs.appendFileSync(counterFile, process.pid + "\\n");
const args = process.argv.slice(2);
const resourceAt = args.indexOf("--resource");
if (args[0] !== "account" || args[1] !== "get-access-token" || resourceAt < 0) {
  process.stderr.write("ERROR: fake az supports only 'account get-access-token --resource <r>'\\n");
  process.exit(2);
}
const url = new URL(identityEndpoint);
url.searchParams.set("api-version", "2019-08-01");
url.searchParams.set("resource", args[resourceAt + 1]);
const fail = (message) => {
  process.stderr.write("ERROR: " + message + "\\n");
  process.exit(1);
};
const pad = (n, width = 2) => String(n).padStart(width, "0");
// az prints expiresOn as local time "YYYY-MM-DD HH:MM:SS.ffffff"
const localTime = (d) =>
  d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
  pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + ".000000";
http
  .get(url, { headers: { "X-IDENTITY-HEADER": identityHeader } }, (response) => {
    let body = "";
    response.setEncoding("utf8");
    response.on("data", (chunk) => (body += chunk));
    response.on("end", () => {
      let reply;
      try {
        reply = JSON.parse(body);
      } catch {
        fail("unexpected reply from the identity endpoint");
      }
      if (response.statusCode !== 200 || !reply.access_token) fail(reply.message || "no token");
      const expiresOn = Number(reply.expires_on);
      process.stdout.write(
        JSON.stringify(
          {
            accessToken: reply.access_token,
            expiresOn: localTime(new Date(expiresOn * 1000)),
            expires_on: expiresOn,
            subscription: "00000000-0000-4000-8000-0000000000b1",
            tenant: tenantId,
            tokenType: "Bearer",
          },
          null,
          2,
        ) + "\\n",
      );
    });
  })
  .on("error", (error) => fail(error.message));
`;
}
