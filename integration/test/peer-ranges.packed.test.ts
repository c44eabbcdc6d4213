import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { checkId, PEER_CHECKS, PEER_ENDS, type PeerPlan, planPeerMatrix } from "../src/packed/peer-matrix.js";
import {
  formatTable,
  judgeRow,
  type MatrixRun,
  type RowVerdict,
  runPeerMatrix,
} from "../src/packed/peer-run.js";

/**
 * True peer ranges, tested at both ends. For every adapter x engine, the LOWEST and the HIGHEST
 * published version of each peer its packages declare (read from packages/*\/package.json now, looked
 * up on the npm registry now) are installed with npm, next to the packed @org tarballs, in clean
 * projects outside the repository. In each project one child process per adapter, given only the
 * emulator's environment, checks per engine:
 * - tls refusal: the idiomatic "TLS off" config throws EntraAuthError INSECURE_TRANSPORT, and the
 *   emulator saw no token request and no login by then;
 * - login: a new connection runs as the managed identity;
 * - rotation: once the first token has expired (3 s lifetime; the children wait 4.5 s, beyond the
 *   gateways' 1 s clock skew, so that token would be refused) a new connection still logs in, with no
 *   rejected login and at least one more token request per audience.
 */

const root = join(import.meta.dirname, "..", "..");
const TOKEN_LIFETIME_IN_SECONDS = 3;

let plan: PeerPlan;
let run: MatrixRun | undefined;
const verdicts: RowVerdict[] = [];
const started = Date.now();

beforeAll(async () => {
  plan = await planPeerMatrix(root);
  console.info(
    `peer matrix: ${plan.projects.length} projects planned in ${Date.now() - started} ms\n` +
      plan.projects
        .map(
          (p) =>
            `  ${p.id}: ${Object.entries(p.versions)
              .map(([n, v]) => `${n}@${v}`)
              .join(" ")}`,
        )
        .join("\n"),
  );
  run = await runPeerMatrix(plan, inject("packedPackages"), {
    concurrency: 4,
    tokenLifetimeInSeconds: TOKEN_LIFETIME_IN_SECONDS,
    childTimeoutInMs: 90_000,
    installTimeoutInMs: 180_000,
  });
  console.info(
    `peer matrix: installs ${run.installs.map((i) => `${i.project.id} ${i.ms} ms`).join(", ")}; ` +
      `children ${run.children.map((c) => `${c.project.id}/${c.adapter.replace("@org/", "")} ${c.ms} ms`).join(", ")}`,
  );
}, 280_000);

afterAll(async () => {
  if (verdicts.length > 0) {
    const unplanned = plan.checks.filter((c) => c.error);
    console.info(
      `\n${formatTable(verdicts)}\n` +
        unplanned.map((c) => `\n${checkId(c.check)} (${c.end}): ${c.error}`).join("") +
        `\npeer matrix: ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
    );
  }
  await run?.cleanup();
});

describe.each(PEER_ENDS)("peers at their %s published versions", (end) => {
  it.each(PEER_CHECKS.map((check) => ({ check, id: checkId(check) })))("$id", ({ check }) => {
    const planned = plan.checks.find((c) => c.check === check && c.end === end);
    expect(planned, "planned").toBeDefined();
    expect(run, "the matrix ran").toBeDefined();
    const verdict = judgeRow(planned as NonNullable<typeof planned>, run as MatrixRun);
    verdicts.push(verdict);
    expect.soft(verdict.versions.ok, verdict.versions.detail).toBe(true);
    expect.soft(verdict.tls.ok, verdict.tls.detail).toBe(true);
    expect.soft(verdict.login.ok, verdict.login.detail).toBe(true);
    expect.soft(verdict.rotation.ok, verdict.rotation.detail).toBe(true);
  });
});
