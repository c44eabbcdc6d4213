import { once } from "node:events";
import { connect as connectTcp, isIP, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { connect as connectTls } from "node:tls";
import { assertSecureTls, EntraAuthError, type EntraTarget, inspectTlsPeer } from "@org/entra-core";
import { watchSignIn } from "./postgres-sign-in.js";
import type { PostgresTls } from "./resolve-postgres-tls.js";

/** The parts of postgres.js's parsed options (what it passes to `socket`) the factory reads. */
export interface ParsedPostgresOptions {
  readonly host: readonly string[];
  readonly port: readonly number[];
  readonly path?: string | false;
  readonly ssl?: unknown;
  readonly user?: string;
  readonly connect_timeout?: number | null;
  readonly connection: Record<string, unknown>;
}

/** postgres.js's `socket` option: called for every new physical connection. */
export type PostgresSocketFactory = (options: ParsedPostgresOptions) => Promise<Duplex>;

/** What {@link createSocketFactory} needs from `withEntra`. */
export interface SocketPlan {
  readonly target: EntraTarget;
  readonly tls: PostgresTls;
  /** `"direct"` for TLS from the first byte (PostgreSQL 17), else the SSLRequest first. */
  readonly sslnegotiation: unknown;
  /** Your own `socket` option: the transport to run TLS over (an SSH tunnel...). */
  readonly transport: ((options: ParsedPostgresOptions) => unknown) | undefined;
  /** Set the database to the user name read from the token (libpq's default when none is given). */
  readonly learnDatabase: boolean;
}

/** The factories withEntra made, to recognise options it already prepared. */
export const socketFactories = new WeakSet<object>();

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const noop = () => {};

/**
 * postgres.js's `socket` option for Entra: opens each new physical connection itself, so that the
 * token only ever goes over a connection the adapter verified. For each one it reads the user name
 * from the token when none was given (postgres.js sends it first), connects to the next host,
 * negotiates TLS (SSLRequest, or direct) and verifies it (chain and host name, then the live peer
 * again), and hands postgres.js the TLS socket with its sign-in watched. postgres.js is given
 * `ssl: false` so it does not wrap that socket again. A failure (insecure answer, certificate,
 * token, timeout) is handed to postgres.js as a socket that fails with the error, which postgres.js
 * reports as the query's error: a rejected factory would leave postgres.js's connection slot stuck.
 */
export function createSocketFactory(plan: SocketPlan): PostgresSocketFactory {
  const nextHost = new WeakMap<object, number>();
  const factory: PostgresSocketFactory = async (options) => {
    let opened: Duplex[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      checkParsedOptions(options, plan);
      const user = await signInUser(options, plan);
      const index = nextHost.get(options) ?? 0;
      nextHost.set(options, index + 1);
      const host = options.host[index % options.host.length] ?? "localhost";
      const port = options.port[index % options.host.length] ?? options.port[0] ?? 5432;
      const seconds = options.connect_timeout ?? 0;
      const deadline = new Promise<never>((_, reject) => {
        if (seconds > 0) timer = setTimeout(() => reject(connectTimeout(host, port)), seconds * 1000);
      });
      deadline.catch(noop);
      const within = <T>(step: Promise<T>) => Promise.race([step, deadline]);

      const raw = await within(
        Promise.resolve(
          plan.transport
            ? plan.transport(options)
            : options.path
              ? connectTcp(options.path)
              : connectTcp({ host, port }),
        ) as Promise<Duplex>,
      );
      opened = [raw];
      raw.on("error", noop);
      if ((raw as Socket).connecting) await within(once(raw, "connect"));

      let socket: Duplex = raw;
      let serverName: string | undefined;
      if (plan.tls.mode !== "off" && (await within(negotiateTls(raw, plan)))) {
        serverName = plan.tls.options.servername ?? host;
        const tls = connectTls({
          ...plan.tls.options,
          socket: raw,
          host,
          servername: plan.tls.options.servername ?? (isIP(host) ? undefined : host),
          ...(plan.sslnegotiation === "direct" ? { ALPNProtocols: ["postgresql"] } : {}),
        });
        opened = [raw, tls];
        tls.on("error", noop);
        await within(once(tls, "secureConnect"));
        if (plan.tls.mode === "verify") assertSecureTls(inspectTlsPeer(tls, serverName));
        socket = tls;
      }
      // postgres.js names the server in its connection errors from these (as on its own sockets).
      Object.assign(socket, { host, port });
      watchSignIn({ socket, verify: plan.tls.mode === "verify", serverName, user }, plan.target);
      return socket;
    } catch (error) {
      for (const socket of opened) socket.destroy();
      return failedSocket(error);
    } finally {
      clearTimeout(timer);
    }
  };
  socketFactories.add(factory);
  return factory;
}

/**
 * Refuses options changed after withEntra in a way that would bypass the adapter's TLS: an `ssl`
 * (postgres.js would wrap the verified socket in a second TLS layer), and a process that turned
 * certificate checks off since.
 */
function checkParsedOptions(options: ParsedPostgresOptions, plan: SocketPlan): void {
  if (options.ssl) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      "The postgres.js options have ssl set after withEntra: @org/postgres-entra's socket already is the TLS connection.",
      { hint: "Pass ssl inside withEntra({ ..., ssl }) and leave the ssl it returns (false) as it is." },
    );
  }
  if (plan.tls.mode === "verify" && !plan.target.allowInsecure) assertSecureTls(undefined);
}

/** The user name the startup message carries; read from the token first when none was given. */
async function signInUser(options: ParsedPostgresOptions, plan: SocketPlan): Promise<string | undefined> {
  if (plan.target.user !== undefined) return plan.target.user;
  const user = await plan.target.resolveUser();
  // postgres.js sends `connection` over its own user and database fields in the startup message.
  options.connection.user = user;
  if (plan.learnDatabase && options.connection.database === undefined) options.connection.database = user;
  return user;
}

/**
 * The SSLRequest exchange (skipped for direct TLS). Returns `true` to go on with TLS, `false` to go
 * on in plaintext (only for `prefer` with `allowInsecure`, when the server has no TLS).
 *
 * @throws EntraAuthError `INSECURE_TRANSPORT` when the server refuses TLS, answers with anything
 *   but one `S` byte (a server sending more before the handshake is injecting plaintext), or closes.
 */
async function negotiateTls(raw: Duplex, plan: SocketPlan): Promise<boolean> {
  if (plan.sslnegotiation === "direct") return true;
  raw.write(SSL_REQUEST);
  const answer = await firstChunk(raw);
  if (answer.length === 1 && answer[0] === 0x53) return true; // 'S'
  if (answer.length === 1 && answer[0] === 0x4e && plan.tls.mode === "prefer") return false; // 'N'
  const problem =
    answer.length === 1 && answer[0] === 0x4e
      ? "refused TLS (it answered N to the SSLRequest), so the token would travel in clear"
      : answer[0] === 0x53
        ? "sent data after agreeing to TLS, before the handshake (plaintext injected by a machine in the middle?)"
        : `answered the SSLRequest with a '${String.fromCharCode(answer[0] ?? 0)}' message instead of S or N`;
  throw insecureServer(problem);
}

function insecureServer(problem: string): EntraAuthError {
  return new EntraAuthError(
    "INSECURE_TRANSPORT",
    `The server ${problem}; an Entra access token must only be sent over TLS with certificate and host name verification.`,
    {
      hint: "Check that host and port name the Azure Database for PostgreSQL server itself (it always offers TLS), not a proxy or another service.",
    },
  );
}

/** The first chunk the server sends, or an error when it closes first. */
function firstChunk(raw: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      raw.off("data", onData);
      raw.off("error", onError);
      raw.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      cleanup();
      resolve(chunk);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(insecureServer("closed the connection instead of answering the SSLRequest"));
    };
    raw.on("data", onData);
    raw.once("error", onError);
    raw.once("close", onClose);
  });
}

/** postgres.js's own connect-timeout error, for the part of connecting the adapter does. */
function connectTimeout(host: string, port: number): Error {
  return Object.assign(new Error(`write CONNECT_TIMEOUT ${host}:${port}`), {
    code: "CONNECT_TIMEOUT",
    errno: "CONNECT_TIMEOUT",
    address: host,
    port,
  });
}

/**
 * A socket that fails with `error` once postgres.js listens to it (it does so as soon as the
 * factory's promise settles, before any immediate runs): postgres.js then rejects the waiting query
 * with `error` and frees the connection slot for a later attempt.
 */
function failedSocket(error: unknown): Duplex {
  const socket = new Socket();
  socket.on("error", noop);
  const reason = error instanceof Error ? error : new Error(String(error));
  setImmediate(() => socket.destroy(reason));
  return socket;
}
