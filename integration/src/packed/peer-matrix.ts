import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import semver from "semver";

/**
 * The peer-range matrix: which adapter x engine runs against which peer versions at the LOWEST and
 * the HIGHEST end of the ranges the packages declare, and how those runs are grouped into as few
 * clean npm projects as npm's peer rules allow.
 *
 * Everything is derived at test time: the ranges from packages/*\/package.json `peerDependencies`
 * (intersected over the adapter and the @org packages it depends on), the versions from the npm
 * registry (`npm view <pkg> versions --json`, prereleases ignored), and the peers' own peer ranges
 * (`npm view <pkg>@<range> version peerDependencies --json`), which npm enforces on install. The plain ends must install together: if npm refuses them (typeorm 0.3.27
 * declares mssql ^9.1.1 || ^10.0.1 || ^11.0.1, so it cannot sit next to @org/typeorm-entra's
 * optional mssql >=12.0.0 <13), the check fails and says which versions would install, so the range
 * gets narrowed instead of silently tested somewhere else.
 */

export type PeerEnd = "lowest" | "highest";
export const PEER_ENDS: readonly PeerEnd[] = ["lowest", "highest"];

/** The engines the children connect to: "mariadb" is the mysql gateway through Sequelize's mariadb dialect. */
export type PeerEngine = "postgresql" | "mysql" | "mariadb" | "sqlserver";

/** One adapter x engine of the matrix and the peers its code path loads. */
export interface PeerCheck {
  readonly adapter: string;
  readonly engine: PeerEngine;
  /** Peers this path uses (plus `@azure/identity`, which every path uses). */
  readonly peers: readonly string[];
}

export const IDENTITY_PEER = "@azure/identity";

export const PEER_CHECKS: readonly PeerCheck[] = [
  { adapter: "@org/pg-entra", engine: "postgresql", peers: ["pg"] },
  { adapter: "@org/postgres-entra", engine: "postgresql", peers: ["postgres"] },
  { adapter: "@org/mysql2-entra", engine: "mysql", peers: ["mysql2"] },
  { adapter: "@org/knex-entra", engine: "postgresql", peers: ["knex", "pg"] },
  { adapter: "@org/knex-entra", engine: "mysql", peers: ["knex", "mysql2"] },
  // knex's mssql dialect drives tedious itself; mssql is declared for @org/mssql-entra's config mapping.
  { adapter: "@org/knex-entra", engine: "sqlserver", peers: ["knex", "tedious", "mssql"] },
  { adapter: "@org/sequelize-entra", engine: "postgresql", peers: ["sequelize", "pg"] },
  { adapter: "@org/sequelize-entra", engine: "mysql", peers: ["sequelize", "mysql2"] },
  { adapter: "@org/sequelize-entra", engine: "mariadb", peers: ["sequelize", "mariadb"] },
  { adapter: "@org/sequelize-entra", engine: "sqlserver", peers: ["sequelize", "tedious"] },
  { adapter: "@org/typeorm-entra", engine: "postgresql", peers: ["typeorm", "pg"] },
  { adapter: "@org/typeorm-entra", engine: "mysql", peers: ["typeorm", "mysql2"] },
  { adapter: "@org/typeorm-entra", engine: "sqlserver", peers: ["typeorm", "mssql"] },
  {
    adapter: "@org/prisma-entra",
    engine: "postgresql",
    peers: ["@prisma/adapter-pg", "@prisma/driver-adapter-utils", "pg"],
  },
  {
    adapter: "@org/prisma-entra",
    engine: "mysql",
    peers: ["@prisma/adapter-mariadb", "@prisma/driver-adapter-utils"],
  },
  {
    adapter: "@org/prisma-entra",
    engine: "sqlserver",
    peers: ["@prisma/adapter-mssql", "@prisma/driver-adapter-utils"],
  },
  { adapter: "@org/tedious-entra", engine: "sqlserver", peers: ["tedious"] },
  { adapter: "@org/mssql-entra", engine: "sqlserver", peers: ["mssql"] },
];

export const checkId = (check: PeerCheck): string => `${check.adapter} ${check.engine}`;

/** The parts of a publishable @org package.json the matrix reads. */
export interface OrgManifest {
  readonly name: string;
  readonly peers: Readonly<Record<string, string>>;
  readonly optionalPeers: ReadonlySet<string>;
  /** @org packages it depends on (installed from their tarballs too). */
  readonly orgDependencies: readonly string[];
}

/** Reads every publishable package of packages/*. */
export function readOrgManifests(root: string): Map<string, OrgManifest> {
  const manifests = new Map<string, OrgManifest>();
  for (const dir of readdirSync(join(root, "packages")).sort()) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8"));
    } catch {
      continue;
    }
    if (json.private) continue;
    const meta = (json.peerDependenciesMeta ?? {}) as Record<string, { optional?: boolean }>;
    manifests.set(json.name as string, {
      name: json.name as string,
      peers: (json.peerDependencies ?? {}) as Record<string, string>,
      optionalPeers: new Set(Object.keys(meta).filter((peer) => meta[peer]?.optional)),
      orgDependencies: Object.keys((json.dependencies ?? {}) as object).filter((d) => d.startsWith("@org/")),
    });
  }
  return manifests;
}

/** The package and the @org packages it depends on, transitively. */
export function orgClosure(manifests: Map<string, OrgManifest>, name: string): Set<string> {
  const seen = new Set<string>();
  const visit = (current: string) => {
    if (seen.has(current)) return;
    seen.add(current);
    for (const dependency of manifests.get(current)?.orgDependencies ?? []) visit(dependency);
  };
  visit(name);
  return seen;
}

// ---------------------------------------------------------------------------------------------
// Registry look-ups (each made once per run)

const run = promisify(execFile);
const lookups = new Map<string, Promise<unknown>>();

/** `npm view <args> --json`, parsed; `undefined` when npm printed nothing (no match). */
function npmView(args: readonly string[]): Promise<unknown> {
  const key = args.join("\0");
  let lookup = lookups.get(key);
  if (!lookup) {
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` };
    lookup = run("npm", ["view", ...args, "--json"], { env, maxBuffer: 32 * 1024 * 1024 }).then(
      ({ stdout }) => (stdout.trim() === "" ? undefined : JSON.parse(stdout)),
    );
    lookups.set(key, lookup);
  }
  return lookup;
}

/** Published, non-prerelease versions of a package, ascending. */
export async function publishedVersions(name: string): Promise<string[]> {
  const listed = await npmView([name, "versions"]);
  const versions = (Array.isArray(listed) ? listed : [listed]).filter(
    (v): v is string => typeof v === "string" && semver.valid(v) !== null && semver.prerelease(v) === null,
  );
  return versions.sort(semver.compare);
}

/** The peerDependencies of every published version of `name` in `range`. */
async function peerRangesOf(name: string, range: string): Promise<Map<string, Record<string, string>>> {
  const listed = await npmView([`${name}@${range}`, "version", "peerDependencies"]);
  const entries = listed === undefined ? [] : Array.isArray(listed) ? listed : [listed];
  const byVersion = new Map<string, Record<string, string>>();
  for (const entry of entries) {
    if (typeof entry === "string") byVersion.set(entry, {});
    else if (entry && typeof entry === "object" && "version" in entry) {
      const { version, peerDependencies } = entry as { version: string; peerDependencies?: object };
      byVersion.set(version, (peerDependencies ?? {}) as Record<string, string>);
    }
  }
  return byVersion;
}

// ---------------------------------------------------------------------------------------------
// Planning

/** One check at one end: the versions it runs with, or why there are none. */
export interface PlannedCheck {
  readonly check: PeerCheck;
  readonly end: PeerEnd;
  /** peer -> version (includes @azure/identity). */
  readonly versions: Record<string, string>;
  /** peer -> the ranges it must satisfy (the adapter's and its @org dependencies'). */
  readonly ranges: Record<string, string[]>;
  /** Set when the check cannot run: no versions satisfy every range, or npm refuses them together. */
  readonly error?: string;
}

/** One clean npm project: the exact peer versions it installs and the checks it runs. */
export interface PlannedProject {
  readonly id: string;
  readonly end: PeerEnd;
  /** peer -> exact version, installed next to the tarballs. */
  readonly versions: Record<string, string>;
  /** The @org packages installed (each with its @org dependencies). */
  readonly orgs: readonly string[];
  readonly checks: readonly PlannedCheck[];
}

export interface PeerPlan {
  readonly checks: readonly PlannedCheck[];
  readonly projects: readonly PlannedProject[];
}

/** What planning needs from the registry, per peer: versions and their own peer ranges. */
interface PeerIndex {
  versions(name: string): string[];
  /** Peer ranges of name@version on the packages the projects may install. */
  peersOf(name: string, version: string): Record<string, string>;
}

function ordered(versions: readonly string[], ranges: readonly string[], end: PeerEnd): string[] {
  const matching = versions.filter((v) => ranges.every((range) => semver.satisfies(v, range)));
  return end === "lowest" ? matching : matching.reverse();
}

/** The @org ranges for `peer` among `orgs`. */
function orgRanges(peer: string, orgs: Iterable<string>, manifests: Map<string, OrgManifest>): string[] {
  return [...orgs].flatMap((org) => {
    const range = manifests.get(org)?.peers[peer];
    return range === undefined ? [] : [range];
  });
}

/** Why npm would refuse an install: `from` declares `on` in `range`, and `found` is what it gets. */
interface Refusal {
  readonly from: string;
  readonly on: string;
  readonly range: string;
  readonly found: string;
  readonly text: string;
}

/**
 * How npm (strict peer dependencies, its default) would refuse to install `versions` next to the @org
 * packages `orgs`, or undefined when it installs. It checks the @org packages' peer ranges, and the
 * peers' own peer ranges against what is installed, or, for a peer that an @org package declares as
 * optional and that is not installed, against the version npm resolves that optional range to: npm
 * checks peer sets with it, so typeorm 0.3.27 (mssql ^9.1.1 || ^10.0.1 || ^11.0.1) cannot be
 * installed next to @org/typeorm-entra (optional mssql >=12.0.0 <13) even without mssql.
 */
function npmRefusal(
  versions: Record<string, string>,
  orgs: Iterable<string>,
  manifests: Map<string, OrgManifest>,
  index: PeerIndex,
): Refusal | undefined {
  for (const org of orgs) {
    for (const [on, range] of Object.entries(manifests.get(org)?.peers ?? {})) {
      const found = versions[on];
      if (found !== undefined && !semver.satisfies(found, range)) {
        return {
          from: org,
          on,
          range,
          found,
          text: `${org} declares ${on} ${range}, the project has ${found}`,
        };
      }
    }
  }
  for (const [from, version] of Object.entries(versions)) {
    for (const [on, range] of Object.entries(index.peersOf(from, version))) {
      const installed = versions[on];
      const declared = orgRanges(on, orgs, manifests);
      const found =
        installed ?? (declared.length > 0 ? ordered(index.versions(on), declared, "highest")[0] : undefined);
      if (found === undefined || semver.satisfies(found, range)) continue;
      const what =
        installed === undefined
          ? `npm resolves the optional peer ${on} ${[...new Set(declared)].join(" and ")} of the @org packages to ${found}`
          : `the project has ${on} ${found}`;
      return { from, on, range, found, text: `${from}@${version} declares ${on} ${range}, ${what}` };
    }
  }
  return undefined;
}

/**
 * The versions nearest to the plain `versions` (towards the other end) that npm installs, moving
 * a peer within its ranges, or the peer that declares the offending range: the suggestion for a
 * range that cannot be installed at its end.
 */
function nearestInstallable(
  plain: Record<string, string>,
  ranges: Record<string, string[]>,
  end: PeerEnd,
  orgs: Set<string>,
  manifests: Map<string, OrgManifest>,
  index: PeerIndex,
): Record<string, string> | undefined {
  const versions = { ...plain };
  for (let round = 0; round < 500; round++) {
    const refusal = npmRefusal(versions, orgs, manifests, index);
    if (!refusal) return versions;
    const { from, on, range } = refusal;
    const current = versions[on];
    if (current !== undefined && ranges[on]) {
      const alternative = ordered(index.versions(on), [...ranges[on], range], end)[0];
      if (alternative !== undefined && alternative !== current) {
        versions[on] = alternative;
        continue;
      }
    }
    const fromVersion = versions[from];
    if (fromVersion === undefined || !ranges[from]) return undefined;
    const candidates = ordered(index.versions(from), ranges[from], end);
    const next = candidates[candidates.indexOf(fromVersion) + 1];
    if (next === undefined) return undefined;
    versions[from] = next;
  }
  return undefined;
}

function planCheck(
  check: PeerCheck,
  end: PeerEnd,
  manifests: Map<string, OrgManifest>,
  index: PeerIndex,
): PlannedCheck {
  const closure = orgClosure(manifests, check.adapter);
  const ranges: Record<string, string[]> = {};
  for (const peer of [...check.peers, IDENTITY_PEER]) ranges[peer] = orgRanges(peer, closure, manifests);
  const versions: Record<string, string> = {};
  const fail = (error: string): PlannedCheck => ({ check, end, versions, ranges, error });
  for (const [peer, peerRanges] of Object.entries(ranges)) {
    if (peerRanges.length === 0)
      return fail(`no @org package of ${check.adapter} declares a range for ${peer}`);
    const first = ordered(index.versions(peer), peerRanges, end)[0];
    if (!first) return fail(`no published ${peer} satisfies ${peerRanges.join(" and ")}`);
    versions[peer] = first;
  }
  // The plain end of every range must install together: a range whose end npm refuses is not a
  // range users can have. Say which versions would install instead.
  const refusal = npmRefusal(versions, closure, manifests, index);
  if (!refusal) return { check, end, versions, ranges };
  const nearest = nearestInstallable(versions, ranges, end, closure, manifests, index);
  const moved = nearest
    ? Object.entries(nearest)
        .filter(([peer, version]) => versions[peer] !== version)
        .map(([peer, version]) => `${peer} ${versions[peer]} -> ${version}`)
        .join(", ")
    : undefined;
  return fail(
    `npm refuses the ${end} versions ${JSON.stringify(versions)} with ${[...closure].join(", ")}: ${refusal.text}. ` +
      (moved
        ? `Nearest ${end} that installs: ${moved}; narrow the range.`
        : "No version in the ranges installs."),
  );
}

function merged(a: Record<string, string>, b: Record<string, string>): Record<string, string> | undefined {
  for (const [peer, version] of Object.entries(b))
    if (a[peer] !== undefined && a[peer] !== version) return undefined;
  return { ...a, ...b };
}

/**
 * Adds the @org packages a project can also hold (all of them when nothing conflicts), with a
 * version for each non-optional peer they bring (npm would otherwise pick the newest by itself).
 */
function completeProject(
  versions: Record<string, string>,
  required: Set<string>,
  end: PeerEnd,
  manifests: Map<string, OrgManifest>,
  index: PeerIndex,
): { versions: Record<string, string>; orgs: Set<string> } {
  let current = { ...versions };
  const orgs = new Set(required);
  for (const org of manifests.keys()) {
    if (orgs.has(org)) continue;
    const candidateOrgs = new Set([...orgs, ...orgClosure(manifests, org)]);
    let candidate: Record<string, string> | undefined = { ...current };
    for (const member of candidateOrgs) {
      const manifest = manifests.get(member) as OrgManifest;
      for (const peer of Object.keys(manifest.peers)) {
        if (candidate === undefined || candidate[peer] !== undefined || manifest.optionalPeers.has(peer))
          continue;
        const peerRanges = orgRanges(peer, candidateOrgs, manifests);
        const base: Record<string, string> = candidate;
        const fits: string | undefined = ordered(index.versions(peer), peerRanges, end).find(
          (version) =>
            npmRefusal({ ...base, [peer]: version }, candidateOrgs, manifests, index) === undefined,
        );
        candidate = fits === undefined ? undefined : { ...base, [peer]: fits };
      }
    }
    if (candidate && npmRefusal(candidate, candidateOrgs, manifests, index) === undefined) {
      current = candidate;
      for (const member of candidateOrgs) orgs.add(member);
    }
  }
  return { versions: current, orgs };
}

/**
 * Plans the matrix: versions per check and end, then projects per end, first fit in check order
 * (a check joins the first project whose versions and installed packages it does not contradict).
 */
export async function planPeerMatrix(
  root: string,
  checks: readonly PeerCheck[] = PEER_CHECKS,
): Promise<PeerPlan> {
  const manifests = readOrgManifests(root);
  const peerNames = new Set<string>([IDENTITY_PEER]);
  for (const manifest of manifests.values()) {
    for (const peer of Object.keys(manifest.peers))
      if (!manifest.optionalPeers.has(peer)) peerNames.add(peer);
  }
  for (const check of checks) for (const peer of check.peers) peerNames.add(peer);

  const versionLists = new Map<string, string[]>();
  const peerLists = new Map<string, Map<string, Record<string, string>>>();
  await Promise.all(
    [...peerNames].map(async (name) => {
      const union = [...manifests.values()]
        .flatMap((m) => (m.peers[name] ? [m.peers[name]] : []))
        .join(" || ");
      const [versions, byVersion] = await Promise.all([
        publishedVersions(name),
        peerRangesOf(name, union || "*"),
      ]);
      versionLists.set(name, versions);
      peerLists.set(name, byVersion);
    }),
  );
  const relevant = (ranges: Readonly<Record<string, string>> | undefined) =>
    Object.fromEntries(Object.entries(ranges ?? {}).filter(([name]) => peerNames.has(name)));
  const index: PeerIndex = {
    versions: (name) => versionLists.get(name) ?? [],
    // Only packages that the projects install can conflict.
    peersOf: (name, version) => relevant(peerLists.get(name)?.get(version)),
  };

  const planned: PlannedCheck[] = [];
  const projects: PlannedProject[] = [];
  for (const end of PEER_ENDS) {
    const groups: { versions: Record<string, string>; orgs: Set<string>; checks: PlannedCheck[] }[] = [];
    for (const check of checks) {
      const plan = planCheck(check, end, manifests, index);
      planned.push(plan);
      if (plan.error) continue;
      const closure = orgClosure(manifests, check.adapter);
      const home = groups.find((group) => {
        const versions = merged(group.versions, plan.versions);
        const orgs = new Set([...group.orgs, ...closure]);
        return versions !== undefined && npmRefusal(versions, orgs, manifests, index) === undefined;
      });
      if (home) {
        home.versions = merged(home.versions, plan.versions) as Record<string, string>;
        for (const org of closure) home.orgs.add(org);
        home.checks.push(plan);
      } else {
        groups.push({ versions: { ...plan.versions }, orgs: new Set(closure), checks: [plan] });
      }
    }
    groups.forEach((group, i) => {
      const complete = completeProject(group.versions, group.orgs, end, manifests, index);
      projects.push({
        id: `${end}${groups.length > 1 ? `-${i + 1}` : ""}`,
        end,
        versions: complete.versions,
        orgs: [...complete.orgs].sort(),
        checks: group.checks,
      });
    });
  }
  return { checks: planned, projects };
}
