import { accessSync, constants } from "node:fs";
import path from "node:path";
import { EntraAuthError, resolveUsername } from "@org/entra-core";
import { acquireToken } from "./acquire-token.js";
import { CliError } from "./cli-error.js";
import type { CliIo } from "./cli-io.js";
import { requireHost, resolveTarget, type TargetFlags } from "./resolve-target.js";

/** What a PostgreSQL or MySQL client needs to log in with a token: what `url` and `env` print. */
export interface Login {
  readonly engine: "postgresql" | "mysql";
  readonly host: string;
  readonly port: number;
  /** Absent when neither `--database` nor `*_DATABASE` is set. */
  readonly database?: string | undefined;
  /** `--user`, else `*_USER`, else the name in the token (see `resolveUsername`). */
  readonly user: string;
  /** The access token, used as the password. */
  readonly token: string;
  /** When the token expires, epoch ms. */
  readonly expiresOnTimestamp: number;
}

/**
 * What `url --json` and `env --json` say about a login beside their own field: engine, host,
 * port, database (`null` when none), user and the token's expiry as ISO 8601. Never the token.
 */
export function describeLogin(login: Login): {
  engine: Login["engine"];
  host: string;
  port: number;
  database: string | null;
  user: string;
  expiresOn: string;
} {
  return {
    engine: login.engine,
    host: login.host,
    port: login.port,
    database: login.database ?? null,
    user: login.user,
    expiresOn: new Date(login.expiresOnTimestamp).toISOString(),
  };
}

/** The CA certificates a client should verify the server with, see {@link resolveCa}. */
export interface CaChoice {
  /** An absolute file path, or `"system"` for the operating system's store. */
  readonly file: string;
  /**
   * Where it came from: `--ca`, `PGSSLROOTCERT`, `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`,
   * `system-bundle` (the operating system's CA bundle file) or `default` (`"system"`).
   */
  readonly source:
    | "--ca"
    | "PGSSLROOTCERT"
    | "NODE_EXTRA_CA_CERTS"
    | "SSL_CERT_FILE"
    | "system-bundle"
    | "default";
}

/**
 * Where operating systems keep their CA bundle as one PEM file: Debian, Ubuntu, Alpine and Arch;
 * RHEL and Fedora; openSUSE; macOS and the BSDs.
 */
export const SYSTEM_CA_BUNDLES: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/ssl/cert.pem",
];

function isReadable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The CA the printed connection settings verify the server with: `--ca <file>` (or `--ca system`),
 * else for PostgreSQL a `PGSSLROOTCERT` already set, else `NODE_EXTRA_CA_CERTS` when it names a
 * readable file (the emulator and private CAs set it), else `SSL_CERT_FILE`, else the operating
 * system's CA bundle file ({@link SYSTEM_CA_BUNDLES}), else `"system"` (libpq 16+ only). Files are
 * made absolute so the output works from any directory. Throws `CliError` `USAGE` when the `--ca` file cannot be read.
 *
 * @example
 * ```ts
 * resolveCa(undefined, "postgresql", { NODE_EXTRA_CA_CERTS: "/tmp/ca.pem" }); // { file: "/tmp/ca.pem", source: "NODE_EXTRA_CA_CERTS" }
 * ```
 */
export function resolveCa(
  flag: string | undefined,
  engine: "postgresql" | "mysql",
  env: Readonly<Record<string, string | undefined>>,
  bundles: readonly string[] = SYSTEM_CA_BUNDLES,
): CaChoice {
  if (flag !== undefined) {
    if (flag === "system") return { file: "system", source: "--ca" };
    const file = path.resolve(flag);
    if (flag === "" || !isReadable(file)) {
      throw new CliError(
        "USAGE",
        `Cannot read the --ca file "${flag}".`,
        "Pass a PEM file with the CA certificates of the server, or --ca system for the system store.",
      );
    }
    return { file, source: "--ca" };
  }
  const pgRootCert = engine === "postgresql" ? env.PGSSLROOTCERT : undefined;
  if (pgRootCert) {
    return { file: pgRootCert === "system" ? "system" : path.resolve(pgRootCert), source: "PGSSLROOTCERT" };
  }
  const extra = env.NODE_EXTRA_CA_CERTS;
  if (extra && isReadable(path.resolve(extra))) {
    return { file: path.resolve(extra), source: "NODE_EXTRA_CA_CERTS" };
  }
  // A file every client reads (libpq of any version, node-postgres, Prisma), where "system" is
  // understood by libpq 16+ only and read as a file name by the others.
  const sslCertFile = env.SSL_CERT_FILE;
  if (sslCertFile && isReadable(path.resolve(sslCertFile))) {
    return { file: path.resolve(sslCertFile), source: "SSL_CERT_FILE" };
  }
  const bundle = bundles.find(isReadable);
  if (bundle) return { file: bundle, source: "system-bundle" };
  return { file: "system", source: "default" };
}

/** Options for {@link resolveLogin}. */
export interface ResolveLoginOptions {
  /** The command, for the message refusing Azure SQL (`entra-db <command> supports ...`). */
  readonly command: string;
  /** What to use for Azure SQL instead, the hint of that message. */
  readonly azureSqlHint: string;
  /** What to use for MySQL instead, for a command that supports PostgreSQL only. */
  readonly mysqlHint?: string | undefined;
}

/**
 * The login of `url` and `env`: the target from the flags and Service Connector variables (see
 * `resolveTarget`), which must be PostgreSQL or MySQL and have a host, a token for it within
 * `--timeout` (see `acquireToken`), and the user. Throws `EntraAuthError`: `INVALID_SETTING` for
 * Azure SQL (and MySQL when `options.mysqlHint` is set) or a malformed flag or variable, `MISSING_SETTING` without a host, and the token's errors.
 *
 * @example
 * ```ts
 * const login = await resolveLogin(flags, io, { command: "env", azureSqlHint: "Use sqlcmd." });
 * ```
 */
export async function resolveLogin(
  flags: TargetFlags & { readonly timeout?: string | undefined },
  io: CliIo,
  options: ResolveLoginOptions,
): Promise<Login> {
  const target = resolveTarget(flags, io.env);
  if (target.engine === "sqlserver") {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `entra-db ${options.command} supports postgresql and mysql only.`,
      { hint: options.azureSqlHint },
    );
  }
  if (target.engine === "mysql" && options.mysqlHint !== undefined) {
    throw new EntraAuthError("INVALID_SETTING", `entra-db ${options.command} supports postgresql only.`, {
      hint: options.mysqlHint,
    });
  }
  const host = requireHost(target);
  const { token, expiresOnTimestamp } = await acquireToken(io, {
    scope: target.scope,
    clientId: target.clientId,
    timeout: flags.timeout,
  });
  const user = resolveUsername({ explicit: target.user, token });
  return {
    engine: target.engine,
    host,
    port: target.port,
    database: target.database,
    user,
    token,
    expiresOnTimestamp,
  };
}
