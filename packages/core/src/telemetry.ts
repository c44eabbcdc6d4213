import { createRequire } from "node:module";
import type * as OpenTelemetry from "@opentelemetry/api";
import type { EntraAuthErrorCode } from "./entra-auth-error.js";
import type { Engine } from "./scope-for.js";

/** One token acquisition (a credential call), from start to outcome. */
export interface TokenRequestRecord {
  /** The credential answered with a usable token. */
  succeed(info: { readonly expiresOnTimestamp: number; readonly sameToken: boolean }): void;
  /** The credential call failed or timed out. `stillServing`: a valid cached token is still handed out. */
  fail(info: { readonly code: EntraAuthErrorCode; readonly stillServing: boolean }): void;
}

type Api = typeof OpenTelemetry;

interface Instruments {
  readonly requests: OpenTelemetry.Counter;
  readonly duration: OpenTelemetry.Histogram;
  readonly refreshFailures: OpenTelemetry.Counter;
  readonly rejections: OpenTelemetry.Counter;
}

type ExpirySource = () => Iterable<{
  readonly scope: string;
  readonly credential: string;
  readonly expiresOnTimestamp: number | undefined;
}>;

/** Instrumentation scope of the meter and the tracer. */
const SCOPE_NAME = "@org/entra-core";

const DB_SYSTEM_NAMES: Readonly<Record<Engine, string>> = Object.freeze({
  postgresql: "postgresql",
  mysql: "mysql",
  sqlserver: "microsoft.sql_server",
});

// Up to the 30 s default timeout and beyond: identity endpoints retry for seconds, caches answer in ms.
const DURATION_BUCKETS_IN_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

// Codes are UPPER_SNAKE_CASE; anything else becomes semconv's "_OTHER", so that no attribute can
// carry free text (a token, a tenant) whatever a caller passes.
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

const NOOP_RECORD: TokenRequestRecord = Object.freeze({ succeed() {}, fail() {} });

/** `undefined`: not tried yet; `null`: `@opentelemetry/api` is not installed. */
let api: Api | null | undefined;
let expirySource: ExpirySource | undefined;
// Per MeterProvider object: metrics.getMeter() binds to the provider registered at call time (no
// proxy as for traces), so an app registering its SDK after we loaded gets new instruments.
const instrumentsByProvider = new WeakMap<object, Instruments>();

function loadApi(): Api | null {
  try {
    api = createRequire(import.meta.url)("@opentelemetry/api") as Api;
  } catch {
    api = null;
  }
  return api;
}

function errorType(code: unknown): string {
  return typeof code === "string" && ERROR_CODE.test(code) ? code : "_OTHER";
}

function instrumentsOf(otel: Api): Instruments {
  const provider = otel.metrics.getMeterProvider();
  let instruments = instrumentsByProvider.get(provider);
  if (!instruments) {
    const meter = provider.getMeter(SCOPE_NAME);
    instruments = {
      requests: meter.createCounter("entra.token.requests", {
        unit: "{request}",
        description: "Credential calls for an Entra access token, by outcome.",
      }),
      duration: meter.createHistogram("entra.token.acquisition.duration", {
        unit: "s",
        description: "Duration of each credential call for an Entra access token.",
        advice: { explicitBucketBoundaries: DURATION_BUCKETS_IN_S },
      }),
      refreshFailures: meter.createCounter("entra.token.refresh.failures", {
        unit: "{failure}",
        description: "Background token refreshes that failed.",
      }),
      rejections: meter.createCounter("entra.server.rejections", {
        unit: "{rejection}",
        description: "Logins a database server refused because of the Entra token or its principal.",
      }),
    };
    meter
      .createObservableGauge("entra.token.time_to_expiry", {
        unit: "s",
        description: "Seconds until the cached Entra access token of each live token provider expires.",
      })
      .addCallback(observeTimeToExpiry);
    instrumentsByProvider.set(provider, instruments);
  }
  return instruments;
}

function observeTimeToExpiry(result: OpenTelemetry.ObservableResult): void {
  const source = expirySource;
  if (!source) return;
  const now = Date.now();
  // Several providers can share scope and credential class (one per credential object): report the
  // soonest expiry, the one an alert must see. Expired cached tokens are reported as negative.
  const soonest = new Map<string, { scope: string; credential: string; seconds: number }>();
  try {
    for (const { scope, credential, expiresOnTimestamp } of source()) {
      if (typeof expiresOnTimestamp !== "number" || !Number.isFinite(expiresOnTimestamp)) continue;
      const seconds = (expiresOnTimestamp - now) / 1000;
      const key = JSON.stringify([scope, credential]);
      const entry = soonest.get(key);
      if (!entry || seconds < entry.seconds) soonest.set(key, { scope, credential, seconds });
    }
  } catch {
    // A failing source must not break the app's whole metric collection.
  }
  for (const { scope, credential, seconds } of soonest.values()) {
    result.observe(seconds, { "entra.token.scope": scope, "entra.token.credential": credential });
  }
}

function startRecord(
  otel: Api,
  info: { readonly scope: string; readonly credential: string; readonly background: boolean },
): TokenRequestRecord {
  const attributes: OpenTelemetry.Attributes = {
    "entra.token.scope": info.scope,
    "entra.token.credential": info.credential,
    "entra.token.background": info.background,
  };
  // INTERNAL, not CLIENT: a credential call may answer from its own cache or make several HTTP
  // calls (IMDS retries, a credential chain), whose instrumentations emit the CLIENT spans.
  // Background refreshes are roots: their timer would otherwise parent them to whichever request
  // first fetched the token, possibly hours earlier.
  const span = otel.trace.getTracer(SCOPE_NAME).startSpan("entra.token.acquire", {
    kind: otel.SpanKind.INTERNAL,
    attributes,
    root: info.background,
  });
  const startedAt = performance.now();
  let done = false;

  function measure(outcome: string, extra: OpenTelemetry.Attributes): void {
    const seconds = (performance.now() - startedAt) / 1000;
    const measured = { ...attributes, "entra.token.outcome": outcome, ...extra };
    const instruments = instrumentsOf(otel);
    instruments.requests.add(1, measured);
    instruments.duration.record(seconds, measured);
  }

  return {
    succeed({ expiresOnTimestamp, sameToken }): void {
      if (done) return;
      done = true;
      try {
        const outcome = sameToken ? "same_token" : "success";
        measure(outcome, {});
        span.setAttribute("entra.token.outcome", outcome);
        if (typeof expiresOnTimestamp === "number" && Number.isFinite(expiresOnTimestamp)) {
          span.setAttribute("entra.token.expires_in", (expiresOnTimestamp - Date.now()) / 1000);
        }
      } catch {
        // Telemetry never fails a token request.
      } finally {
        span.end();
      }
    },
    fail({ code, stillServing }): void {
      if (done) return;
      done = true;
      try {
        const type = errorType(code);
        measure("failure", { "error.type": type });
        if (info.background) {
          instrumentsOf(otel).refreshFailures.add(1, {
            "entra.token.scope": info.scope,
            "entra.token.credential": info.credential,
            "error.type": type,
            "entra.token.still_serving": stillServing === true,
          });
        }
        span.setAttributes({
          "entra.token.outcome": "failure",
          "error.type": type,
          "entra.token.still_serving": stillServing === true,
        });
        // No description: the credential's message may name the tenant or the identity.
        span.setStatus({ code: otel.SpanStatusCode.ERROR });
      } catch {
        // Telemetry never fails a token request.
      } finally {
        span.end();
      }
    },
  };
}

/**
 * Called when a credential call starts; call `succeed` or `fail` on the result once, when it ends.
 * Records the `entra.token.acquire` span, `entra.token.requests`, `entra.token.acquisition.duration`
 * and, for background refreshes that fail, `entra.token.refresh.failures`.
 *
 * Returns a shared no-op record when `@opentelemetry/api` is not installed; never throws.
 *
 * @param info - The scope, the credential's class name (e.g. `"DefaultAzureCredential"`), and
 *   whether this is a background refresh (no caller waiting) rather than a caller's fetch.
 */
export function startTokenRequest(info: {
  readonly scope: string;
  readonly credential: string;
  readonly background: boolean;
}): TokenRequestRecord {
  const otel = api === undefined ? loadApi() : api;
  if (otel === null) return NOOP_RECORD;
  try {
    return startRecord(otel, info);
  } catch {
    return NOOP_RECORD;
  }
}

/**
 * Called when a database server refused a login (code = our EntraAuthErrorCode-like string such as
 * `"TOKEN_EXPIRED"`): adds one to `entra.server.rejections`. A code that is not UPPER_SNAKE_CASE is
 * recorded as `"_OTHER"`. Does nothing when `@opentelemetry/api` is not installed; never throws.
 *
 * @param info - The engine, the code, and the adapter's name (e.g. `"@org/pg-entra"`).
 */
export function recordServerRejection(info: {
  readonly engine: Engine;
  readonly code: string;
  readonly adapter: string;
}): void {
  const otel = api === undefined ? loadApi() : api;
  if (otel === null) return;
  try {
    const { engine } = info;
    instrumentsOf(otel).rejections.add(1, {
      "db.system.name": Object.hasOwn(DB_SYSTEM_NAMES, engine) ? DB_SYSTEM_NAMES[engine] : "other_sql",
      "error.type": errorType(info.code),
      "entra.adapter": info.adapter,
    });
  } catch {
    // Telemetry never fails a connection.
  }
}

/**
 * Called once at module load of the provider code, giving the live providers to observe for the
 * time-to-expiry gauge (`entra.token.time_to_expiry`). A later call replaces the source. The source is read at each metric collection; entries without a token
 * (`expiresOnTimestamp` undefined) are skipped, and it may throw without breaking the collection.
 *
 * Costs nothing by itself: the gauge exists once a token request or server rejection has been
 * recorded with the app's MeterProvider registered.
 *
 * @param source - Yields the scope, credential class name and token expiry (epoch milliseconds)
 *   of every live provider.
 */
export function setTokenExpirySource(
  source: () => Iterable<{
    readonly scope: string;
    readonly credential: string;
    readonly expiresOnTimestamp: number | undefined;
  }>,
): void {
  expirySource = source;
}
