/**
 * What `startEmulatorFor` needs of a started database container: the shape of
 * testcontainers' `StartedPostgreSqlContainer`, `StartedMySqlContainer` and `StartedMariaDbContainer`,
 * described structurally so the emulator does not depend on testcontainers.
 */
export interface StartedDatabaseContainer {
  /** A `postgres://`, `mysql://` or `mariadb://` URL of the database, with user and password. */
  getConnectionUri(): string;
  /**
   * The root password (MySQL and MariaDB containers). When present the emulator logs in as `root`
   * with it, because it creates a user per identity and the container's own user cannot.
   */
  getRootPassword?(): string;
  /** Stops (and removes) the container; called by `close()` unless `stopContainers` is false. */
  stop?(): Promise<unknown>;
  /** Used to stop the container when it has no `stop()`. */
  [Symbol.asyncDispose]?(): Promise<void>;
}

/** A database the emulator stands in front of: a started container, or a URL of a running server. */
export type DatabaseSource = StartedDatabaseContainer | string;

/** The engine option (`postgres` or `mysql`) of `startEmulatorFor` that an error is about. */
export type ContainerEngine = "postgres" | "mysql";

/** Codes of {@link EmulatorContainerError}. */
export type EmulatorContainerErrorCode =
  /** A container object that was created but not started (it has `start()`, no `getConnectionUri()`). */
  | "CONTAINER_NOT_STARTED"
  /** Neither a started container, nor a URL, nor `{ backend }` options. */
  | "NOT_A_CONTAINER"
  /** `startEmulatorFor` was given no database. */
  | "NO_DATABASE"
  /** `trustCa` needs `tls.setDefaultCACertificates` (Node.js 22.19 / 24.5 or later). */
  | "CA_TRUST_UNAVAILABLE";

/**
 * Thrown by `startEmulatorFor` (from `@org/entra-emulator/testcontainers`) before anything starts,
 * when what it was given cannot work. The message says what to change; it never contains a URL or
 * a password.
 *
 * @example
 * ```ts
 * try {
 *   await startEmulatorFor({ postgres: new PostgreSqlContainer("postgres:17-alpine") });
 * } catch (error) {
 *   if (error instanceof EmulatorContainerError && error.code === "CONTAINER_NOT_STARTED") {
 *     // pass `await container.start()` instead
 *   }
 * }
 * ```
 */
export class EmulatorContainerError extends Error {
  /** What went wrong, for programs. */
  readonly code: EmulatorContainerErrorCode;
  /** The engine option (`postgres` or `mysql`) at fault, when one is. */
  readonly engine?: ContainerEngine;

  /**
   * @param code - What went wrong.
   * @param message - What went wrong and what to change, for people.
   * @param engine - The engine option at fault, when one is.
   */
  constructor(code: EmulatorContainerErrorCode, message: string, engine?: ContainerEngine) {
    super(message);
    this.name = "EmulatorContainerError";
    this.code = code;
    if (engine !== undefined) this.engine = engine;
  }
}

/**
 * The backend URL for the emulator's `postgres.backend` / `mysql.backend` from a started container
 * or a URL: the container's `getConnectionUri()`, with `root` and `getRootPassword()` as the account
 * when the container has a root password (MySQL, MariaDB), so the emulator can create users. A URL
 * is returned as given. Throws {@link EmulatorContainerError} for anything else.
 *
 * @example
 * backendOfContainer("mysql", mariaDbContainer); // "mariadb://root:test@localhost:32768/test"
 */
export function backendOfContainer(engine: ContainerEngine, source: unknown): string {
  if (typeof source === "string") return source;
  if (!isObject(source)) throw notAContainer(engine, source);
  if (typeof source.getConnectionUri !== "function") {
    if (typeof source.start === "function") {
      throw new EmulatorContainerError(
        "CONTAINER_NOT_STARTED",
        `${engine}: this container has not been started. Pass the started container: ` +
          `\`${engine}: await new ${containerClassName(engine, source)}(image).start()\`.`,
        engine,
      );
    }
    throw notAContainer(engine, source);
  }
  const uri: unknown = source.getConnectionUri();
  if (typeof uri !== "string") {
    throw new EmulatorContainerError(
      "NOT_A_CONTAINER",
      `${engine}: getConnectionUri() returned ${typeof uri}, not a URL string.`,
      engine,
    );
  }
  if (typeof source.getRootPassword !== "function") return uri;
  const rootPassword: unknown = source.getRootPassword();
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new EmulatorContainerError(
      "NOT_A_CONTAINER",
      `${engine}: getConnectionUri() did not return a valid URL.`,
      engine,
    );
  }
  url.username = "root";
  url.password = typeof rootPassword === "string" ? rootPassword : "";
  return url.toString();
}

/**
 * How to stop what a source started: the container's `stop()`, else its `Symbol.asyncDispose`;
 * undefined for a URL or an object with neither.
 *
 * @example
 * await stopperOf(container)?.();
 */
export function stopperOf(source: unknown): (() => Promise<unknown>) | undefined {
  if (!isObject(source)) return undefined;
  if (typeof source.stop === "function") return () => (source.stop as () => Promise<unknown>).call(source);
  const dispose = source[Symbol.asyncDispose];
  if (typeof dispose === "function") return () => (dispose as () => Promise<unknown>).call(source);
  return undefined;
}

function containerClassName(engine: ContainerEngine, source: Record<PropertyKey, unknown>): string {
  const name = (source.constructor as { name?: unknown } | undefined)?.name;
  if (typeof name === "string" && /^\w+$/.test(name) && name !== "Object") return name;
  return engine === "postgres" ? "PostgreSqlContainer" : "MariaDbContainer";
}

function isObject(value: unknown): value is Record<PropertyKey, unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null;
}

function notAContainer(engine: ContainerEngine, value: unknown): EmulatorContainerError {
  const shape = isObject(value)
    ? `an object without getConnectionUri() (it has: ${describeKeys(value)})`
    : value === null
      ? "null"
      : typeof value;
  return new EmulatorContainerError(
    "NOT_A_CONTAINER",
    `${engine}: expected a started testcontainers container (anything with getConnectionUri()), ` +
      `a ${engine === "postgres" ? "postgres://" : "mysql://"} URL, or { backend: <one of those> }; got ${shape}.`,
    engine,
  );
}

/** Names of the object's methods and properties, never their values. */
function describeKeys(value: Record<PropertyKey, unknown>): string {
  const names = new Set<string>();
  for (let object: object | null = value; object && object !== Object.prototype; ) {
    for (const key of Object.getOwnPropertyNames(object)) if (key !== "constructor") names.add(key);
    object = Object.getPrototypeOf(object);
  }
  const list = [...names].slice(0, 8);
  return list.length === 0 ? "nothing" : `${list.join(", ")}${names.size > list.length ? ", …" : ""}`;
}
