import type { TokenCredential } from "@azure/identity";

/** A place to write text: `process.stdout`, `process.stderr` or a test double. */
export interface OutputStream {
  /** Writes `text` as given (the commands end their lines with `\n`). */
  write(text: string): unknown;
  /** True when the stream is a terminal. Defaults to `false`. */
  readonly isTTY?: boolean | undefined;
}

/** Options for {@link CliIo.createCredential}. */
export interface CreateCredentialOptions {
  /**
   * Client ID of a user-assigned managed identity (`--client-id` or `*_CLIENTID`). Absent when
   * neither is set: the built-in credentials then use `AZURE_CLIENT_ID`, else the system-assigned
   * identity.
   */
  readonly clientId?: string | undefined;
}

/**
 * Everything the commands touch outside themselves, injected so tests need no module mocks.
 * `processIo()` gives the real one.
 */
export interface CliIo {
  /** Where results go: the token, the URL, the `export` lines, the doctor's report. */
  readonly stdout: OutputStream;
  /** Where errors and usage messages go. */
  readonly stderr: OutputStream;
  /** Environment variables (`process.env` in `processIo()`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * The credential of `token`, `url` and `env`. Defaults to
   * `new DefaultAzureCredential({ managedIdentityClientId })`.
   */
  readonly createCredential?: (options: CreateCredentialOptions) => TokenCredential;
  /** The credentials `doctor` tries, in order. Defaults to the chain of `doctor/credential-chain.ts`. */
  readonly createCredentialChain?: (options: CreateCredentialOptions) => NamedCredential[];
  /**
   * Aborted when a long-running command (`proxy`) should stop: it drains and returns. Defaults to
   * the process's SIGINT and SIGTERM, listened to only while such a command runs.
   */
  readonly signal?: AbortSignal;
  /** Current time, epoch ms. Defaults to `Date.now`. */
  readonly now?: () => number;
}

/** A credential with the class name reported by `doctor`. */
export interface NamedCredential {
  /** The credential's class name, e.g. `ManagedIdentityCredential`. */
  readonly name: string;
  /** The credential, or why it could not be constructed. */
  readonly credential: TokenCredential | Error;
}

/**
 * The real IO: `process.stdout`, `process.stderr`, `process.env`. It sets no `createCredential`,
 * `createCredentialChain` or `now`, so their defaults apply (`DefaultAzureCredential` for tokens).
 */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
