import { createSecureContext, type SecureContext } from "node:tls";

/** What an emulated database server derives once from its options, for every connection. */
export interface ServerSettings<Options, Limits> {
  /** The options as given; their callbacks are called on them. */
  readonly options: Options;
  /** The limits given, completed from the server's defaults. */
  readonly limits: Limits;
  /** The options' key and certificate, for every TLS handshake (an empty context without them). */
  readonly secureContext: SecureContext;
}

/**
 * Builds a server's {@link ServerSettings}: `limits` over `defaults`, and one secure context from
 * `options.tls` (an empty one when the server offers no TLS).
 *
 * @example
 * const settings = serverSettings(options, DEFAULT_SESSION_LIMITS, { startupTimeoutInMs: 500 });
 */
export function serverSettings<
  Options extends {
    /** PEM key and certificate to serve TLS with; none gives an empty secure context. */
    readonly tls?:
      | {
          /** PEM private key. */
          readonly key: string;
          /** PEM certificate chain. */
          readonly cert: string;
        }
      | undefined;
  },
  Limits extends object,
>(options: Options, defaults: Limits, limits: Partial<Limits>): ServerSettings<Options, Limits> {
  return {
    options,
    limits: { ...defaults, ...limits },
    secureContext: options.tls
      ? createSecureContext({ key: options.tls.key, cert: options.tls.cert })
      : createSecureContext(),
  };
}
