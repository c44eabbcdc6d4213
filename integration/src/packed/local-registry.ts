import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import semver from "semver";

/** One package version the registry serves. */
export interface ServedVersion {
  readonly name: string;
  readonly version: string;
  /** The .tgz on disk. */
  readonly file: string;
  /** `sha512-<base64>` of the .tgz, as `dist.integrity`. */
  readonly integrity: string;
  /** Hex SHA-1 of the .tgz, as `dist.shasum`. */
  readonly shasum: string;
  /** Absolute URL of the tarball on this registry, as `dist.tarball`. */
  readonly tarball: string;
}

/** A request the registry answered. */
export interface RegistryRequest {
  readonly method: string;
  /** The path as requested (still URL-encoded). */
  readonly path: string;
  readonly status: number;
}

/** Options for {@link startLocalRegistry}. */
export interface LocalRegistryOptions {
  /** The only scope served; every tarball must belong to it. Defaults to `"@org"`. */
  readonly scope?: string;
  /**
   * Dist-tags per package name, e.g. `{ "@org/pg-entra": { latest: "0.1.0", next: "0.2.0-rc.1" } }`.
   * `latest` defaults to the highest release version (the highest version if all are prereleases).
   */
  readonly distTags?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** A running registry: {@link startLocalRegistry}. */
export interface LocalRegistry extends AsyncDisposable {
  /** `http://127.0.0.1:<port>/`, the value for `<scope>:registry=` in an `.npmrc`. */
  readonly url: string;
  readonly port: number;
  readonly scope: string;
  /** Served versions per package name, lowest version first. */
  readonly packages: ReadonlyMap<string, readonly ServedVersion[]>;
  /** The `.npmrc` line that routes the scope (and only it) here. */
  readonly npmrc: string;
  /** Every request answered so far, in order. */
  requests(): readonly RegistryRequest[];
  /** `name@version` of every tarball downloaded so far (repeats included). */
  tarballsServed(): readonly string[];
  /** Stops the server (idempotent). */
  close(): Promise<void>;
}

/**
 * Starts a minimal npm registry on 127.0.0.1 (ephemeral port) that serves only `scope` from packed
 * tarballs: the packument at `GET /@scope%2fname` (and `/@scope/name`) with `dist.tarball` pointing
 * back here, `dist.integrity` (sha512) and `dist.shasum`, `dist-tags`, and the tarballs themselves.
 * Everything else is 404, so with `<scope>:registry=<url>` in an `.npmrc` every other package comes
 * from the configured (real) registry, exactly as for a user after `npm publish`. Several versions of
 * one package may be served. Responses carry `Cache-Control: no-store`, so npm's cache never keeps
 * a packument of this short-lived server.
 *
 * @example
 * ```ts
 * await using registry = await startLocalRegistry(Object.values(inject("packedPackages")).map((p) => p.file));
 * await writeFile(join(project, ".npmrc"), registry.npmrc);
 * ```
 */
export async function startLocalRegistry(
  tarballs: Iterable<string>,
  options: LocalRegistryOptions = {},
): Promise<LocalRegistry> {
  const scope = options.scope ?? "@org";
  const entries = await Promise.all([...tarballs].map((file) => describeTarball(file)));
  const byName = new Map<string, Described[]>();
  for (const entry of entries) {
    if (!entry.name.startsWith(`${scope}/`)) {
      throw new Error(`local registry: ${entry.file} is ${entry.name}, outside the served scope ${scope}`);
    }
    const list = byName.get(entry.name) ?? [];
    if (list.some((other) => other.version === entry.version)) {
      throw new Error(`local registry: ${entry.name}@${entry.version} is given twice`);
    }
    list.push(entry);
    byName.set(entry.name, list);
  }

  const log: RegistryRequest[] = [];
  const served: string[] = [];
  const tarballRoutes = new Map<string, Described>();
  let base = "";

  const server = createServer((request, response) => {
    const status = answer(request, response);
    log.push({ method: request.method ?? "", path: request.url ?? "", status });
  });

  function answer(request: IncomingMessage, response: ServerResponse): number {
    const path = decodedPath(request.url ?? "/");
    if ((request.method !== "GET" && request.method !== "HEAD") || path === undefined) {
      return send(response, request, 404, { error: "not found" });
    }
    const tarball = tarballRoutes.get(path);
    if (tarball) {
      if (request.method === "GET") served.push(`${tarball.name}@${tarball.version}`);
      response.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": tarball.bytes.length,
        "cache-control": "no-store",
      });
      response.end(request.method === "HEAD" ? undefined : tarball.bytes);
      return 200;
    }
    const name = /^\/(@[^/]+\/[^/]+)\/?$/.exec(path)?.[1];
    const versions = name === undefined ? undefined : byName.get(name);
    if (name === undefined || versions === undefined)
      return send(response, request, 404, { error: "not found" });
    return send(response, request, 200, packument(name, versions));
  }

  function packument(name: string, versions: readonly Described[]): Record<string, unknown> {
    const distTags = { latest: defaultLatest(versions.map((v) => v.version)), ...options.distTags?.[name] };
    const time: Record<string, string> = {};
    for (const v of versions) time[v.version] = v.modified;
    const modified =
      versions
        .map((v) => v.modified)
        .sort()
        .at(-1) ?? new Date(0).toISOString();
    return {
      _id: name,
      name,
      "dist-tags": distTags,
      versions: Object.fromEntries(
        versions.map((v) => [
          v.version,
          {
            ...v.manifest,
            _id: `${name}@${v.version}`,
            dist: { tarball: tarballUrl(v), integrity: v.integrity, shasum: v.shasum },
          },
        ]),
      ),
      time: { created: time[versions[0]?.version ?? ""] ?? modified, modified, ...time },
    };
  }

  function tarballUrl(v: Described): string {
    return `${base}${v.name}/-/${v.name.slice(scope.length + 1)}-${v.version}.tgz`;
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}/`;
  const packages = new Map<string, ServedVersion[]>();
  for (const [name, list] of byName) {
    list.sort((a, b) => semver.compare(a.version, b.version));
    for (const v of list) tarballRoutes.set(new URL(tarballUrl(v)).pathname, v);
    packages.set(
      name,
      list.map((v) => ({
        name,
        version: v.version,
        file: v.file,
        integrity: v.integrity,
        shasum: v.shasum,
        tarball: tarballUrl(v),
      })),
    );
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  return {
    url: base,
    port,
    scope,
    packages,
    npmrc: `${scope}:registry=${base}\n`,
    requests: () => [...log],
    tarballsServed: () => [...served],
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface Described {
  readonly file: string;
  readonly name: string;
  readonly version: string;
  readonly manifest: Record<string, unknown>;
  readonly bytes: Buffer;
  readonly integrity: string;
  readonly shasum: string;
  readonly modified: string;
}

async function describeTarball(file: string): Promise<Described> {
  const [bytes, info] = await Promise.all([readFile(file), stat(file)]);
  const manifest = readPackageJson(bytes, file);
  const { name, version } = manifest;
  if (typeof name !== "string" || typeof version !== "string" || !semver.valid(version)) {
    throw new Error(`local registry: ${file} has no valid name and version in its package.json`);
  }
  return {
    file,
    name,
    version,
    manifest,
    bytes,
    integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
    shasum: createHash("sha1").update(bytes).digest("hex"),
    modified: info.mtime.toISOString(),
  };
}

/** The package.json at the root folder of a .tgz (npm takes whatever the first folder is called). */
function readPackageJson(tgz: Buffer, file: string): Record<string, unknown> {
  const tar = gunzipSync(tgz);
  let offset = 0;
  let longPath: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = Number.parseInt(field(header, 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    const prefix = field(header, 345, 155);
    const path = longPath ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longPath = undefined;
    if (type === "L") longPath = field(body, 0, body.length);
    else if (type === "x") longPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString("utf8"))?.[1];
    else if ((type === "0" || type === "\0") && /^[^/]+\/package\.json$/.test(path)) {
      return JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`local registry: ${file} contains no package.json`);
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString("utf8");
}

function decodedPath(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url, "http://registry.invalid").pathname);
  } catch {
    return undefined;
  }
}

function defaultLatest(versions: readonly string[]): string {
  const releases = versions.filter((v) => semver.prerelease(v) === null);
  const pick = (list: readonly string[]) => [...list].sort(semver.rcompare)[0];
  return pick(releases) ?? pick(versions) ?? "";
}

function send(
  response: ServerResponse,
  request: IncomingMessage,
  status: number,
  body: Record<string, unknown>,
): number {
  const json = Buffer.from(JSON.stringify(body));
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": json.length,
    "cache-control": "no-store",
  });
  response.end(request.method === "HEAD" ? undefined : json);
  return status;
}
