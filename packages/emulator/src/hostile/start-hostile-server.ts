import { createSecureContext } from "node:tls";
import { listenTracked, type TrackedServer } from "@org/entra-wire";
import type { MysqlPersona } from "../mysql/mysql-persona.js";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createSelfSignedCertificate,
} from "../tls-authority.js";
import type { HostileConnectionContext, HostileMode } from "./hostile-connection-context.js";
import { HostileMysqlConnection } from "./hostile-mysql-connection.js";
import { HostilePgConnection } from "./hostile-pg-connection.js";
import { HostileTdsConnection } from "./hostile-tds-connection.js";
import { ConnectionCapture, type SecretPart, SecretWatch } from "./secret-watch.js";

export type { HostileMode } from "./hostile-connection-context.js";
export type { SecretPart } from "./secret-watch.js";

/**
 * The server a hostile server impersonates: Azure Database for PostgreSQL, Azure Database for MySQL
 * or Azure SQL Database (TDS).
 */
export type HostileEngine = "postgresql" | "mysql" | "sqlserver";

/**
 * What a hostile MySQL server's greeting claims to be: `mysql8` (MySQL 8.0.42, as Azure) or
 * `mariadb` (MariaDB 11.4.5).
 */
export type HostilePersona = MysqlPersona;

/** Options of {@link startHostileServer}. */
export interface HostileServerOptions {
  /** The server to impersonate. */
  readonly engine: HostileEngine;
  /** The attack (see the README's modes table). */
  readonly mode: HostileMode;
  /** MySQL only: what the greeting claims to be. Defaults to "mysql8". */
  readonly persona?: HostilePersona;
  /**
   * The CA the client under test trusts; in "wrong-host" mode the server's certificate is signed by
   * it. Defaults to a fresh CA (read it back from `ca`).
   */
  readonly authority?: CertificateAuthority;
  /** Secrets (access tokens) to watch for; add more with watch(). */
  readonly secrets?: readonly string[];
  /** Interface to listen on. Defaults to "127.0.0.1". */
  readonly host?: string;
  /** Port to listen on; `0` picks a free one (read it back from `port`). Defaults to 0. */
  readonly port?: number;
  /** Name in the "wrong-host" certificate. Defaults to "impostor.invalid". */
  readonly impostorName?: string;
  /**
   * A connection whose client sends nothing for this long gets the engine's authentication failure
   * and is closed, so a client attempt never hangs. Defaults to 5000.
   */
  readonly idleTimeoutInMs?: number;
}

/**
 * One connection on which a watched secret (or part of it) arrived.
 */
export interface HostileLeak {
  /** The label the secret was watched under (never the secret). */
  readonly label: string;
  /** The parts that arrived, in the order whole, header, payload, signature. */
  readonly parts: readonly SecretPart[];
  /** Which connection, counting from 1 since start or the last reset(). */
  readonly connection: number;
}

/**
 * A running hostile server; `close()` (or `await using`) stops it.
 */
export interface HostileServer extends AsyncDisposable {
  /** The impersonated engine, as given. */
  readonly engine: HostileEngine;
  /** The attack, as given. */
  readonly mode: HostileMode;
  /** What a MySQL greeting claims to be; undefined for other engines. */
  readonly persona: HostilePersona | undefined;
  /** The host it listens on, as given. */
  readonly host: string;
  /** The port it listens on (the real one when `0` was asked). */
  readonly port: number;
  /** PEM of the CA a client under test should trust (the authority's CA). */
  readonly ca: string;
  /**
   * Watches for another secret; `label` names it in leaks (never the secret itself).
   * Defaults to "secret-<n>". Throws a `TypeError` for an empty secret.
   */
  watch(secret: string, label?: string): void;
  /** Connections accepted since start or the last reset(). */
  readonly connections: number;
  /** Bytes received from clients (plaintext, after TLS decryption where TLS was completed) since start or reset(). */
  readonly bytesReceived: number;
  /** Which parts of which watched secrets arrived, per connection. Empty when nothing leaked. */
  leaks(): readonly HostileLeak[];
  /** Forgets connections, bytes and leaks recorded so far (watched secrets stay). */
  reset(): void;
  /** Stops listening and destroys every socket. Idempotent. */
  close(): Promise<void>;
}

const ENGINES: readonly HostileEngine[] = ["postgresql", "mysql", "sqlserver"];
const MODES: readonly HostileMode[] = [
  "wrong-host",
  "untrusted-certificate",
  "tls-stripped",
  "cleartext-first",
];
const PERSONAS: readonly HostilePersona[] = ["mysql8", "mariadb"];
/** The names a client under test connects to: the untrusted certificate is valid for all of them. */
const LOCAL_NAMES = ["localhost", "127.0.0.1", "::1"];

/**
 * Starts a server that impersonates a PostgreSQL, MySQL or Azure SQL (TDS) server, tries to make the
 * client under test send its access token (a certificate for another host name, an untrusted
 * certificate, TLS refused, or a cleartext password request before TLS) and records whether any part
 * of a watched secret arrived. Every attempt ends quickly with the engine's authentication failure.
 *
 * @example
 * ```ts
 * await using server = await startHostileServer({ engine: "postgresql", mode: "wrong-host", secrets: [token] });
 * const client = new pg.Client({ host: "localhost", port: server.port, ssl: { ca: server.ca }, password: token });
 * await expect(client.connect()).rejects.toThrow();
 * expect(server.leaks()).toEqual([]);
 * ```
 *
 * Rejects with a `TypeError` for an unknown engine, mode or persona, or a persona on another engine.
 */
export async function startHostileServer(options: HostileServerOptions): Promise<HostileServer> {
  const { engine, mode } = options;
  if (!ENGINES.includes(engine)) throw new TypeError(`engine must be one of ${ENGINES.join(", ")}.`);
  if (!MODES.includes(mode)) throw new TypeError(`mode must be one of ${MODES.join(", ")}.`);
  if (options.persona !== undefined && (engine !== "mysql" || !PERSONAS.includes(options.persona))) {
    throw new TypeError(`persona must be one of ${PERSONAS.join(", ")}, and applies to engine "mysql" only.`);
  }
  const persona = engine === "mysql" ? (options.persona ?? "mysql8") : undefined;
  const authority = options.authority ?? (await createCertificateAuthority());
  const material =
    mode === "wrong-host"
      ? await authority.issue({ names: [options.impostorName ?? "impostor.invalid"] })
      : await createSelfSignedCertificate({ names: LOCAL_NAMES });
  const secureContext = createSecureContext(material);
  const recorder = new Recorder();
  for (const secret of options.secrets ?? []) recorder.watch(secret);
  const idleTimeoutInMs = options.idleTimeoutInMs ?? 5_000;
  const listener = await listenTracked(
    { host: options.host ?? "127.0.0.1", port: options.port ?? 0 },
    (socket, forget) => {
      const { number, capture } = recorder.open();
      const context: HostileConnectionContext = {
        mode,
        persona: persona ?? "mysql8",
        secureContext,
        idleTimeoutInMs,
        connectionNumber: number,
        capture,
      };
      switch (engine) {
        case "postgresql":
          return new HostilePgConnection(socket, context, forget);
        case "mysql":
          return new HostileMysqlConnection(socket, context, forget);
        case "sqlserver":
          return new HostileTdsConnection(socket, context, forget);
      }
    },
  );
  return new HostileServerHandle({ engine, mode, persona, ca: authority.ca, listener, recorder });
}

/** Watched secrets and what each connection sent; private fields only, so nothing of it prints. */
class Recorder {
  readonly #watches: SecretWatch[] = [];
  #captures: ConnectionCapture[] = [];

  watch(secret: string, label?: string): void {
    this.#watches.push(new SecretWatch(secret, label ?? `secret-${this.#watches.length + 1}`));
  }

  /** Starts recording a new connection; its capture stops counting once reset() forgot it. */
  open(): { number: number; capture: (chunk: Buffer) => void } {
    const capture = new ConnectionCapture();
    const captures = this.#captures;
    captures.push(capture);
    return {
      number: captures.length,
      capture: (chunk) => {
        if (captures === this.#captures) capture.append(chunk);
      },
    };
  }

  get connections(): number {
    return this.#captures.length;
  }

  get bytesReceived(): number {
    return this.#captures.reduce((sum, capture) => sum + capture.bytesReceived, 0);
  }

  leaks(): HostileLeak[] {
    const leaks: HostileLeak[] = [];
    this.#captures.forEach((capture, index) => {
      const received = capture.contents();
      for (const watch of this.#watches) {
        const parts = watch.partsIn(received);
        if (parts.length > 0) {
          leaks.push(
            Object.freeze({ label: watch.label, parts: Object.freeze(parts), connection: index + 1 }),
          );
        }
      }
    });
    return leaks;
  }

  reset(): void {
    this.#captures = [];
  }
}

class HostileServerHandle implements HostileServer {
  readonly engine: HostileEngine;
  readonly mode: HostileMode;
  readonly persona: HostilePersona | undefined;
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  readonly #listener: TrackedServer;
  readonly #recorder: Recorder;

  constructor(fields: {
    engine: HostileEngine;
    mode: HostileMode;
    persona: HostilePersona | undefined;
    ca: string;
    listener: TrackedServer;
    recorder: Recorder;
  }) {
    this.engine = fields.engine;
    this.mode = fields.mode;
    this.persona = fields.persona;
    this.host = fields.listener.host;
    this.port = fields.listener.port;
    this.ca = fields.ca;
    this.#listener = fields.listener;
    this.#recorder = fields.recorder;
    Object.freeze(this);
  }

  get connections(): number {
    return this.#recorder.connections;
  }

  get bytesReceived(): number {
    return this.#recorder.bytesReceived;
  }

  watch(secret: string, label?: string): void {
    this.#recorder.watch(secret, label);
  }

  leaks(): readonly HostileLeak[] {
    return Object.freeze(this.#recorder.leaks());
  }

  reset(): void {
    this.#recorder.reset();
  }

  close(): Promise<void> {
    return this.#listener.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
