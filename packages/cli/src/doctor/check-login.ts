import type { AccessToken } from "@azure/identity";
import {
  createTokenProvider,
  deriveUsername,
  describeServerAuthError,
  type Engine,
  type EntraAuthErrorCode,
  isEntraAuthError,
  type ServerAuthErrorDescription,
} from "@org/entra-core";
import { withEntra as withMysqlEntra } from "@org/mysql2-entra";
import { withEntra as withPgEntra } from "@org/pg-entra";
import mysql from "mysql2/promise";
import pg from "pg";
import type { Check } from "./check.js";

function createPrincipal(engine: "postgresql" | "mysql", name: string): string {
  return engine === "postgresql"
    ? `in database postgres: select * from pgaadauth_create_principal('${name}', false, false)`
    : `CREATE AADUSER '${name}'`;
}

/** Input of {@link checkLogin}. */
export interface CheckLoginInput {
  readonly engine: "postgresql" | "mysql";
  readonly host: string;
  readonly port: number;
  /** Defaults to `postgres` for PostgreSQL; for MySQL the login selects no database. */
  readonly database?: string | undefined;
  /** The resolved username (flag, `*_USER`, or the token's name). */
  readonly user: string;
  readonly accessToken: AccessToken;
  readonly scope: string;
  /** PEM to trust (`--ca`). Defaults to Node's CA store. */
  readonly ca?: string | undefined;
  readonly timeoutInMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** MySQL error numbers of Azure's Entra login failures. */
const MYSQL_ERRNO: Readonly<Record<number, EntraAuthErrorCode>> = {
  9118: "TOKEN_INVALID",
  9119: "TOKEN_EXPIRED",
  9120: "TOKEN_AUDIENCE",
  1045: "PRINCIPAL_UNKNOWN",
  3159: "INSECURE_TRANSPORT",
};

const CAUSES: Readonly<Record<string, string>> = {
  TOKEN_EXPIRED: "The server says the token expired.",
  TOKEN_AUDIENCE: "The server rejected the token's audience: it was requested for another resource.",
  TOKEN_INVALID: "The server could not validate the token: it is from another tenant or not for this server.",
  INSECURE_TRANSPORT: "The server refused a connection without TLS.",
};

interface DriverError extends Error {
  readonly code?: string;
  readonly errno?: number;
  readonly sqlMessage?: string;
}

/** The server's own message, without the hint the adapters append. */
function serverMessage(error: DriverError): string {
  const text = typeof error.sqlMessage === "string" ? error.sqlMessage : error.message;
  return text.replace(/ \[@org\/(pg|mysql2)-entra [A-Z_]+\][\s\S]*$/, "");
}

function describe(error: DriverError, engine: Engine): ServerAuthErrorDescription | undefined {
  const message = serverMessage(error);
  const described = describeServerAuthError(message, engine);
  if (described) return described;
  const code = error.errno === undefined ? undefined : MYSQL_ERRNO[error.errno];
  return code ? describeServerAuthError(reasonText(code), engine) : undefined;
}

function reasonText(code: EntraAuthErrorCode): string {
  switch (code) {
    case "TOKEN_EXPIRED":
      return "The access token has expired.";
    case "TOKEN_AUDIENCE":
      return "The access token does not have a valid audience claim.";
    case "TOKEN_INVALID":
      return "An error occurred while validating the access token.";
    case "INSECURE_TRANSPORT":
      return "insecure transport";
    default:
      return "Access denied for user ''";
  }
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ALTNAME/;

async function login(input: CheckLoginInput): Promise<string> {
  const provider = createTokenProvider({
    credential: { getToken: async () => input.accessToken },
    scope: input.scope,
    mustRefreshMarginInMs: 0,
    getTokenTimeoutInMs: input.timeoutInMs,
  });
  try {
    const options = { tokenProvider: provider, env: input.env, scope: input.scope };
    if (input.engine === "postgresql") {
      const client = new pg.Client(
        withPgEntra(
          {
            host: input.host,
            port: input.port,
            database: input.database ?? "postgres",
            user: input.user,
            ssl: input.ca ? { ca: input.ca } : true,
            connectionTimeoutMillis: input.timeoutInMs,
          },
          options,
        ),
      );
      client.on("error", () => {});
      try {
        await client.connect();
        const { rows } = await client.query<{ current_user: string }>("select current_user");
        return rows[0]?.current_user ?? "?";
      } finally {
        await client.end().catch(() => {});
      }
    }
    const connection = await mysql.createConnection(
      withMysqlEntra(
        {
          host: input.host,
          port: input.port,
          ...(input.database ? { database: input.database } : {}),
          user: input.user,
          ssl: input.ca ? { ca: input.ca } : {},
          connectTimeout: input.timeoutInMs,
        },
        options,
      ),
    );
    try {
      const [rows] = await connection.query("select current_user() as u");
      return String((rows as Array<{ u: string }>)[0]?.u ?? "?");
    } finally {
      await connection.end().catch(() => {});
    }
  } finally {
    provider.close();
  }
}

/**
 * The `login` check: a real login with `@org/pg-entra` (`select current_user`) or
 * `@org/mysql2-entra` (`select current_user()`) using the token the credential check got, over
 * verified TLS. Failures are mapped with `describeServerAuthError`: wrong audience, unknown
 * role or username mismatch (naming the token's principal), TLS refused, invalid or expired token.
 */
export async function checkLogin(input: CheckLoginInput): Promise<Check> {
  const where = `${input.user}@${input.host}:${input.port}/${input.database ?? (input.engine === "postgresql" ? "postgres" : "")}`;
  try {
    const currentUser = await login(input);
    return {
      name: "login",
      status: "ok",
      detail: `logged in as ${currentUser} (${where})`,
      data: { currentUser },
    };
  } catch (caught) {
    const error = caught as DriverError;
    const message = serverMessage(error);
    const detail = `login as ${where} refused: ${message}`;
    if (isEntraAuthError(error)) {
      return {
        name: "login",
        status: "fail",
        detail,
        cause: `${error.code}: the adapter refused the config.`,
        fix: error.hint || undefined,
      };
    }
    const described = describe(error, input.engine);
    if (described?.code === "PRINCIPAL_UNKNOWN") {
      const derived = deriveUsername(input.accessToken.token);
      if (derived && derived !== input.user) {
        const variable = input.engine === "postgresql" ? "AZURE_POSTGRESQL_USER" : "AZURE_MYSQL_USER";
        return {
          name: "login",
          status: "fail",
          detail,
          cause: `Username mismatch: the token belongs to "${derived}", but the login used "${input.user}" (PRINCIPAL_UNKNOWN).`,
          fix: `Use --user ${derived} (set ${variable}=${derived}). If "${input.user}" is an Entra group, add "${derived}" to it and create the group's role (${createPrincipal(input.engine, input.user)}).`,
        };
      }
      return {
        name: "login",
        status: "fail",
        detail,
        cause: `The server has no database role for "${input.user}" (PRINCIPAL_UNKNOWN).`,
        fix: described.hint,
      };
    }
    if (described) {
      return {
        name: "login",
        status: "fail",
        detail,
        cause: `${CAUSES[described.code] ?? "The server refused the login."} (${described.code})`,
        fix: described.hint,
      };
    }
    if (error.code && TLS_CODES.test(error.code)) {
      return {
        name: "login",
        status: "fail",
        detail,
        cause: `TLS verification failed (${error.code}).`,
        fix: "Trust the server's CA: NODE_EXTRA_CA_CERTS=<ca.pem> at start-up, or ssl: { ca } (--ca <file> here).",
      };
    }
    return {
      name: "login",
      status: "fail",
      detail,
      cause: `The login failed${error.code ? ` (${error.code})` : ""}.`,
      fix: "See the message above; run with AZURE_LOG_LEVEL=verbose for the token provider's log.",
    };
  }
}
