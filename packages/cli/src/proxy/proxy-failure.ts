import {
  describeServerAuthError,
  type Engine,
  type EntraAuthErrorCode,
  isEntraAuthError,
  redactToken,
  shouldInvalidateToken,
} from "@org/entra-core";

/**
 * Why the proxy refused a local client, beside the upstream server's and the token provider's own
 * reasons (an {@link EntraAuthErrorCode}).
 */
export type ProxyRefusalCode =
  | "LOCAL_PASSWORD"
  | "TOO_MANY_CONNECTIONS"
  | "SHUTTING_DOWN"
  | "UPSTREAM_UNREACHABLE"
  | "UPSTREAM_REFUSED";

/** A failure as the local client reads it, in its own protocol's error message. */
export interface ProxyFailure {
  /** The proxy's code, also in {@link ProxyFailure.text}. */
  readonly code: EntraAuthErrorCode | ProxyRefusalCode;
  /** `entra-db proxy: <what happened> [<CODE>] <what to change>`; never a token. */
  readonly text: string;
  /** True when the upstream server refused the token itself (expired, invalid): drop it from the cache. */
  readonly invalidatesToken: boolean;
}

const LOCAL_REFUSALS: Readonly<
  Record<"LOCAL_PASSWORD" | "TOO_MANY_CONNECTIONS" | "SHUTTING_DOWN", [string, string]>
> = {
  LOCAL_PASSWORD: [
    "the local password is wrong or missing.",
    "Use the password the proxy was started with (--local-password or ENTRA_DB_PROXY_PASSWORD).",
  ],
  TOO_MANY_CONNECTIONS: [
    "too many client connections.",
    "Close idle connections, or start the proxy with a higher --max-connections.",
  ],
  SHUTTING_DOWN: ["the proxy is shutting down.", "Reconnect once it has been restarted."],
};

function format(code: string, what: string, hint: string | undefined): string {
  return `entra-db proxy: ${what} [${code}]${hint ? ` ${hint}` : ""}`;
}

/** The message for a client the proxy refuses by itself: wrong local password, too many clients, shutting down. */
export function localRefusal(code: keyof typeof LOCAL_REFUSALS): ProxyFailure {
  const [what, hint] = LOCAL_REFUSALS[code];
  return { code, text: format(code, what, hint), invalidatesToken: false };
}

/**
 * The message for a login the proxy could not complete upstream: a token it could not get (the
 * provider's `EntraAuthError`, with its code and hint), a server it could not reach or verify, or
 * the server's own refusal, recognised as core recognises it for every adapter. `token` is
 * redacted from whatever the server said.
 */
export function upstreamFailure(
  error: unknown,
  context: {
    readonly engine: Engine;
    readonly upstream: string;
    readonly token?: string | undefined;
    readonly serverMessage?: string | undefined;
    readonly serverCode?: number | string | undefined;
  },
): ProxyFailure {
  const clean = (text: string) => redactToken(text, context.token);
  if (context.serverMessage !== undefined) {
    const serverMessage = clean(context.serverMessage);
    const described = describeServerAuthError(serverMessage, context.engine, context.serverCode);
    if (described) {
      return {
        code: described.code,
        text: format(
          described.code,
          `${context.upstream} refused the login: ${serverMessage}`,
          described.hint,
        ),
        invalidatesToken: shouldInvalidateToken(described.code),
      };
    }
    return {
      code: "UPSTREAM_REFUSED",
      text: format("UPSTREAM_REFUSED", `${context.upstream} refused the login: ${serverMessage}`, undefined),
      invalidatesToken: false,
    };
  }
  if (isEntraAuthError(error)) {
    return {
      code: error.code,
      // The message already ends with the hint.
      text: format(error.code, clean(error.message), undefined),
      invalidatesToken: false,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: "UPSTREAM_UNREACHABLE",
    text: format(
      "UPSTREAM_UNREACHABLE",
      `could not reach ${context.upstream}: ${clean(message)}`,
      "Check the host and port, and that this machine may connect to the server (firewall rules, private endpoint).",
    ),
    invalidatesToken: false,
  };
}
