import { execFile } from "node:child_process";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import {
  type Context,
  type ContextManager,
  context,
  metrics,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InstrumentType,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { harness, rejectionOf, SCOPE } from "./testing/harness.js";

type Telemetry = typeof import("./telemetry.js");

const CANARY = "eyJ0eXAiOiJKV1QifQ.canary-token-must-never-leak.c2lnbmF0dXJl";
const CREDENTIAL = "DefaultAzureCredential";
const HOUR = 3_600_000;

/**
 * A pull reader: the test decides when metrics are collected. Delta for the gauge: with cumulative
 * temporality the JS SDK keeps exporting the last value of an attribute set no longer observed.
 */
class TestMetricReader extends MetricReader {
  constructor() {
    super({
      aggregationTemporalitySelector: (type) =>
        type === InstrumentType.OBSERVABLE_GAUGE
          ? AggregationTemporality.DELTA
          : AggregationTemporality.CUMULATIVE,
    });
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** Synchronous context propagation, as an app gets from the SDK's AsyncLocalStorage context manager. */
class StackContextManager implements ContextManager {
  #active: Context = ROOT_CONTEXT;
  active(): Context {
    return this.#active;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    active: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const previous = this.#active;
    this.#active = active;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#active = previous;
    }
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#active = ROOT_CONTEXT;
    return this;
  }
}

interface Sdk {
  /** The metric points of `name` from our meter, collected now. */
  points(name: string): Promise<DataPoint<number | Histogram>[]>;
  /** The finished `entra.token.acquire` spans. */
  spans(): ReadableSpan[];
  /** JSON of everything exported so far: every metric of our meter and every span. */
  exported(): Promise<string>;
  shutdown(): Promise<void>;
}

/** Registers a real MeterProvider and TracerProvider globally, as an app does. */
function installSdk(): Sdk {
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  expect(metrics.setGlobalMeterProvider(meterProvider)).toBe(true);
  expect(trace.setGlobalTracerProvider(tracerProvider)).toBe(true);
  const collect = async () => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    return resourceMetrics.scopeMetrics
      .filter((scope) => scope.scope.name === "@org/entra-core")
      .flatMap((scope) => scope.metrics);
  };
  const spans = () => exporter.getFinishedSpans().filter((span) => span.name === "entra.token.acquire");
  return {
    async points(name) {
      return (await collect())
        .filter((metric) => metric.descriptor.name === name)
        .flatMap((metric) => metric.dataPoints as DataPoint<number | Histogram>[]);
    },
    spans,
    async exported() {
      const exportedSpans = exporter.getFinishedSpans().map((span) => ({
        name: span.name,
        attributes: span.attributes,
        status: span.status,
        events: span.events,
        links: span.links,
      }));
      return JSON.stringify({ metrics: await collect(), spans: exportedSpans });
    },
    async shutdown() {
      await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
    },
  };
}

const installed: Sdk[] = [];

function install(): Sdk {
  const sdk = installSdk();
  installed.push(sdk);
  return sdk;
}

afterEach(async () => {
  metrics.disable();
  trace.disable();
  context.disable();
  await Promise.all(installed.splice(0).map((sdk) => sdk.shutdown()));
});

function histogramOf(point: DataPoint<number | Histogram> | undefined): Histogram {
  expect(point).toBeDefined();
  return point?.value as Histogram;
}

function requestAttributes(outcome: string, background = false, extra: Record<string, unknown> = {}) {
  return {
    "entra.token.scope": SCOPE,
    "entra.token.credential": CREDENTIAL,
    "entra.token.background": background,
    "entra.token.outcome": outcome,
    ...extra,
  };
}

describe("telemetry", () => {
  // A fresh copy of the module per test: its lazily loaded API, instruments and source start empty.
  let telemetry: Telemetry;
  beforeEach(async () => {
    vi.resetModules();
    telemetry = await import("./telemetry.js");
  });

  function request(background = false) {
    return telemetry.startTokenRequest({ scope: SCOPE, credential: CREDENTIAL, background });
  }

  it("counts a successful credential call and records its duration and span", async () => {
    const sdk = install();
    request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });

    const [count] = await sdk.points("entra.token.requests");
    expect(count?.value).toBe(1);
    expect(count?.attributes).toEqual(requestAttributes("success"));
    const [duration] = await sdk.points("entra.token.acquisition.duration");
    expect(duration?.attributes).toEqual(requestAttributes("success"));
    expect(histogramOf(duration).count).toBe(1);

    const [span] = sdk.spans();
    expect(sdk.spans()).toHaveLength(1);
    expect(span?.kind).toBe(SpanKind.INTERNAL);
    expect(span?.instrumentationScope.name).toBe("@org/entra-core");
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    const { "entra.token.expires_in": expiresIn, ...attributes } = span?.attributes ?? {};
    expect(attributes).toEqual(requestAttributes("success"));
    expect(expiresIn).toBeGreaterThan(3590);
    expect(expiresIn).toBeLessThanOrEqual(3600);
  });

  it("records the duration in seconds", async () => {
    const sdk = install();
    const record = request();
    await new Promise((resolve) => setTimeout(resolve, 30));
    record.succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
    const [duration] = await sdk.points("entra.token.acquisition.duration");
    const { sum } = histogramOf(duration);
    expect(sum).toBeGreaterThanOrEqual(0.025);
    expect(sum).toBeLessThan(5);
  });

  it("records the same token returned again as outcome same_token", async () => {
    const sdk = install();
    request(true).succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: true });
    const [count] = await sdk.points("entra.token.requests");
    expect(count?.attributes).toEqual(requestAttributes("same_token", true));
    expect(sdk.spans()[0]?.attributes["entra.token.outcome"]).toBe("same_token");
    expect(await sdk.points("entra.token.refresh.failures")).toEqual([]);
  });

  it("records a failure with its error.type and an error status without a message", async () => {
    const sdk = install();
    request().fail({ code: "CREDENTIAL_FAILED", stillServing: false });

    const failure = requestAttributes("failure", false, { "error.type": "CREDENTIAL_FAILED" });
    const [count] = await sdk.points("entra.token.requests");
    expect(count?.attributes).toEqual(failure);
    const [duration] = await sdk.points("entra.token.acquisition.duration");
    expect(duration?.attributes).toEqual(failure);
    // A caller was waiting: not a background refresh failure.
    expect(await sdk.points("entra.token.refresh.failures")).toEqual([]);

    const [span] = sdk.spans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span?.events).toEqual([]);
    expect(span?.attributes).toEqual({ ...failure, "entra.token.still_serving": false });
  });

  it("counts failed background refreshes with still_serving", async () => {
    const sdk = install();
    request(true).fail({ code: "TOKEN_TIMEOUT", stillServing: true });
    request(true).fail({ code: "CREDENTIAL_FAILED", stillServing: false });
    request(true).succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });

    const failures = await sdk.points("entra.token.refresh.failures");
    expect(failures.map((point) => [point.value, point.attributes])).toEqual([
      [
        1,
        {
          "entra.token.scope": SCOPE,
          "entra.token.credential": CREDENTIAL,
          "error.type": "TOKEN_TIMEOUT",
          "entra.token.still_serving": true,
        },
      ],
      [
        1,
        {
          "entra.token.scope": SCOPE,
          "entra.token.credential": CREDENTIAL,
          "error.type": "CREDENTIAL_FAILED",
          "entra.token.still_serving": false,
        },
      ],
    ]);
    const requests = await sdk.points("entra.token.requests");
    expect(requests.map((point) => point.attributes["entra.token.outcome"]).sort()).toEqual([
      "failure",
      "failure",
      "success",
    ]);
  });

  it("parents a caller's span to the active span and makes background refreshes root spans", async () => {
    const sdk = install();
    context.setGlobalContextManager(new StackContextManager());
    trace.getTracer("app").startActiveSpan("app.request", (parent) => {
      request(false).succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
      request(true).succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
      parent.end();
      const [caller, background] = sdk.spans();
      expect(caller?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      expect(caller?.spanContext().traceId).toBe(parent.spanContext().traceId);
      expect(background?.parentSpanContext).toBeUndefined();
      expect(background?.spanContext().traceId).not.toBe(parent.spanContext().traceId);
    });
  });

  it("records each credential call once, whatever is called after its outcome", async () => {
    const sdk = install();
    const record = request(true);
    record.succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
    record.succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: true });
    record.fail({ code: "TOKEN_TIMEOUT", stillServing: true });
    const requests = await sdk.points("entra.token.requests");
    expect(requests.map((point) => [point.value, point.attributes["entra.token.outcome"]])).toEqual([
      [1, "success"],
    ]);
    expect(await sdk.points("entra.token.refresh.failures")).toEqual([]);
    expect(sdk.spans()).toHaveLength(1);
  });

  it("counts server rejections with the semantic-convention db.system.name of each engine", async () => {
    const sdk = install();
    telemetry.recordServerRejection({
      engine: "postgresql",
      code: "TOKEN_EXPIRED",
      adapter: "@org/pg-entra",
    });
    telemetry.recordServerRejection({
      engine: "postgresql",
      code: "TOKEN_EXPIRED",
      adapter: "@org/pg-entra",
    });
    telemetry.recordServerRejection({
      engine: "mysql",
      code: "PRINCIPAL_UNKNOWN",
      adapter: "@org/mysql2-entra",
    });
    telemetry.recordServerRejection({
      engine: "sqlserver",
      code: "TOKEN_INVALID",
      adapter: "@org/mssql-entra",
    });
    const rejections = await sdk.points("entra.server.rejections");
    expect(rejections.map((point) => [point.value, point.attributes])).toEqual([
      [
        2,
        { "db.system.name": "postgresql", "error.type": "TOKEN_EXPIRED", "entra.adapter": "@org/pg-entra" },
      ],
      [
        1,
        {
          "db.system.name": "mysql",
          "error.type": "PRINCIPAL_UNKNOWN",
          "entra.adapter": "@org/mysql2-entra",
        },
      ],
      [
        1,
        {
          "db.system.name": "microsoft.sql_server",
          "error.type": "TOKEN_INVALID",
          "entra.adapter": "@org/mssql-entra",
        },
      ],
    ]);
  });

  it("reports the seconds to expiry of each provider holding a token, the soonest per scope and credential", async () => {
    const sdk = install();
    const now = Date.now();
    telemetry.setTokenExpirySource(() => [
      { scope: SCOPE, credential: CREDENTIAL, expiresOnTimestamp: now + 600_000 },
      { scope: SCOPE, credential: CREDENTIAL, expiresOnTimestamp: now + 300_000 },
      { scope: SCOPE, credential: "ManagedIdentityCredential", expiresOnTimestamp: undefined },
      {
        scope: "https://database.windows.net/.default",
        credential: CREDENTIAL,
        expiresOnTimestamp: now + HOUR,
      },
    ]);
    // The gauge is registered with the app's MeterProvider on the first record.
    telemetry.recordServerRejection({ engine: "mysql", code: "TOKEN_EXPIRED", adapter: "@org/mysql2-entra" });

    const gauge = await sdk.points("entra.token.time_to_expiry");
    expect(gauge.map((point) => point.attributes)).toEqual([
      { "entra.token.scope": SCOPE, "entra.token.credential": CREDENTIAL },
      { "entra.token.scope": "https://database.windows.net/.default", "entra.token.credential": CREDENTIAL },
    ]);
    expect(gauge[0]?.value).toBeGreaterThan(290);
    expect(gauge[0]?.value).toBeLessThanOrEqual(300);
    expect(gauge[1]?.value).toBeGreaterThan(3590);
    expect(gauge[1]?.value).toBeLessThanOrEqual(3600);
  });

  it("reads the expiry source again at each collection and survives a source that throws", async () => {
    const sdk = install();
    let expiresOnTimestamp: number | undefined = Date.now() + HOUR;
    telemetry.setTokenExpirySource(() => [{ scope: SCOPE, credential: CREDENTIAL, expiresOnTimestamp }]);
    request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
    expect(await sdk.points("entra.token.time_to_expiry")).toHaveLength(1);

    expiresOnTimestamp = undefined;
    expect(await sdk.points("entra.token.time_to_expiry")).toEqual([]);

    telemetry.setTokenExpirySource(() => {
      throw new Error("registry unavailable");
    });
    expect(await sdk.points("entra.token.time_to_expiry")).toEqual([]);
    expect(await sdk.points("entra.token.requests")).toHaveLength(1);
  });

  it("records into providers the app registers after the first calls", async () => {
    telemetry.setTokenExpirySource(() => [
      { scope: SCOPE, credential: CREDENTIAL, expiresOnTimestamp: Date.now() + HOUR },
    ]);
    const early = request();
    request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
    telemetry.recordServerRejection({
      engine: "postgresql",
      code: "TOKEN_EXPIRED",
      adapter: "@org/pg-entra",
    });

    const sdk = install();
    // Started before the registration: measured with the provider registered at its end.
    early.fail({ code: "CREDENTIAL_FAILED", stillServing: false });
    request(true).fail({ code: "TOKEN_TIMEOUT", stillServing: true });
    telemetry.recordServerRejection({
      engine: "postgresql",
      code: "TOKEN_EXPIRED",
      adapter: "@org/pg-entra",
    });

    expect((await sdk.points("entra.token.requests")).map((point) => point.value)).toEqual([1, 1]);
    expect((await sdk.points("entra.token.refresh.failures")).map((point) => point.value)).toEqual([1]);
    expect((await sdk.points("entra.server.rejections")).map((point) => point.value)).toEqual([1]);
    expect(await sdk.points("entra.token.time_to_expiry")).toHaveLength(1);
    expect(sdk.spans()).toHaveLength(1);
  });

  it("follows the app when it replaces its providers", async () => {
    const first = install();
    request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
    metrics.disable();
    trace.disable();

    const second = install();
    telemetry.setTokenExpirySource(() => [
      { scope: SCOPE, credential: CREDENTIAL, expiresOnTimestamp: Date.now() + HOUR },
    ]);
    request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
    request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });

    expect((await first.points("entra.token.requests")).map((point) => point.value)).toEqual([1]);
    expect(first.spans()).toHaveLength(1);
    expect((await second.points("entra.token.requests")).map((point) => point.value)).toEqual([2]);
    expect(second.spans()).toHaveLength(2);
    // One gauge callback per provider, so one point per scope and credential.
    expect(await second.points("entra.token.time_to_expiry")).toHaveLength(1);
  });

  it("never exports a token, even one passed where a code belongs", async () => {
    const sdk = install();
    telemetry.setTokenExpirySource(() => [
      { scope: SCOPE, credential: CREDENTIAL, expiresOnTimestamp: Date.now() + HOUR },
    ]);
    request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
    request(true).fail({ code: CANARY as "CREDENTIAL_FAILED", stillServing: true });
    request().fail({ code: `Bearer ${CANARY}` as "CREDENTIAL_FAILED", stillServing: false });
    telemetry.recordServerRejection({ engine: "postgresql", code: CANARY, adapter: "@org/pg-entra" });

    const exported = await sdk.exported();
    expect(exported).toContain("entra.token.time_to_expiry");
    expect(exported).toContain('"error.type":"_OTHER"');
    expect(exported).not.toContain("canary");
    expect(exported).not.toContain(CANARY.slice(0, 19));
  });

  it("throws nothing while the app has registered no providers", () => {
    telemetry.setTokenExpirySource(() => [
      { scope: SCOPE, credential: CREDENTIAL, expiresOnTimestamp: Date.now() + HOUR },
    ]);
    expect(() => {
      request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
      request(true).fail({ code: "TOKEN_TIMEOUT", stillServing: true });
      telemetry.recordServerRejection({
        engine: "sqlserver",
        code: "TOKEN_EXPIRED",
        adapter: "@org/mssql-entra",
      });
    }).not.toThrow();
  });

  it("never fails a token request or a connection when the app's providers throw", () => {
    const broken = (): never => {
      throw new Error("broken SDK");
    };
    metrics.setGlobalMeterProvider({ getMeter: broken });
    trace.setGlobalTracerProvider({ getTracer: broken });
    expect(() => {
      const record = request(true);
      record.succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
      request().fail({ code: "TOKEN_TIMEOUT", stillServing: false });
      telemetry.recordServerRejection({
        engine: "mysql",
        code: "TOKEN_EXPIRED",
        adapter: "@org/mysql2-entra",
      });
    }).not.toThrow();

    // Spans work, metrics do not: the span still ends.
    metrics.disable();
    trace.disable();
    const sdk = install();
    metrics.disable();
    metrics.setGlobalMeterProvider({ getMeter: broken });
    expect(() => {
      request().succeed({ expiresOnTimestamp: Date.now() + HOUR, sameToken: false });
      request(true).fail({ code: "TOKEN_TIMEOUT", stillServing: true });
    }).not.toThrow();
    expect(sdk.spans()).toHaveLength(2);
  });

  it("hands out one frozen no-op record when @opentelemetry/api is not installed", async () => {
    // A copy of the module where no node_modules can be found: Node loads it with type stripping.
    const dir = await mkdtemp(join(tmpdir(), "entra-telemetry-"));
    try {
      const copy = join(dir, "telemetry.mts");
      await copyFile(fileURLToPath(new URL("./telemetry.ts", import.meta.url)), copy);
      const script = `
                let resolvable = true;
        try { createRequire(${JSON.stringify(copy)}).resolve("@opentelemetry/api"); } catch { resolvable = false; }
        const t = await import(${JSON.stringify(pathToFileURL(copy).href)});
        t.setTokenExpirySource(() => { throw new Error("never read"); });
        const a = t.startTokenRequest({ scope: "s", credential: "c", background: false });
        const b = t.startTokenRequest({ scope: "s", credential: "c", background: true });
        a.succeed({ expiresOnTimestamp: Date.now() + 1000, sameToken: false });
        b.fail({ code: "TOKEN_TIMEOUT", stillServing: true });
        t.recordServerRejection({ engine: "mysql", code: "TOKEN_EXPIRED", adapter: "x" });
        console.log(JSON.stringify({ resolvable, same: a === b, frozen: Object.isFrozen(a) }));
      `;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--no-warnings", "--input-type=module", "-e", script],
        { cwd: dir, env: { ...process.env, NODE_PATH: "", NODE_OPTIONS: "" } },
      );
      expect(JSON.parse(stdout)).toEqual({ resolvable: false, same: true, frozen: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// Through the real provider: needs startTokenRequest and setTokenExpirySource wired into
// create-token-provider.ts.
describe("telemetry of createTokenProvider", () => {
  function ours(spans: ReadableSpan[], scope = SCOPE): ReadableSpan[] {
    return spans.filter((span) => span.attributes["entra.token.scope"] === scope);
  }

  it("records one request and one span per credential call, none for cache hits", async () => {
    const sdk = install();
    const { credential, provider } = harness();
    await provider.getToken();
    await provider.getToken();
    await Promise.all([provider.getToken({ forceRefresh: true }), provider.getToken({ forceRefresh: true })]);
    provider.close();
    expect(credential.calls).toBe(2);

    const requests = await sdk.points("entra.token.requests");
    expect(requests.map((point) => [point.value, point.attributes])).toEqual([
      [
        2,
        {
          "entra.token.scope": SCOPE,
          "entra.token.credential": "FakeCredential",
          "entra.token.background": false,
          "entra.token.outcome": "success",
        },
      ],
    ]);
    const spans = ours(sdk.spans());
    expect(spans).toHaveLength(2);
    expect(spans[0]?.attributes["entra.token.credential"]).toBe("FakeCredential");
    expect(spans[0]?.attributes["entra.token.expires_in"]).toBeGreaterThan(3500);
  });

  it("records background refreshes, and their failures while the cached token is still served", async () => {
    const sdk = install();
    const { clock, credential, provider } = harness();
    await provider.getToken();
    credential.script.push(new Error("IMDS unavailable"));
    // Into the refresh window (10 min before expiry): the background refresh fails, the token stays.
    await clock.advance(HOUR - 600_000);
    expect(credential.calls).toBe(2);
    // The retry (after 1 s or less) succeeds.
    await clock.advance(1_000);
    expect(credential.calls).toBe(3);
    provider.close();

    const requests = await sdk.points("entra.token.requests");
    const byKey = Object.fromEntries(
      requests.map((point) => [
        `${point.attributes["entra.token.outcome"]}/${point.attributes["entra.token.background"]}`,
        point.value,
      ]),
    );
    expect(byKey).toEqual({ "success/false": 1, "failure/true": 1, "success/true": 1 });
    const failures = await sdk.points("entra.token.refresh.failures");
    expect(failures.map((point) => [point.value, point.attributes])).toEqual([
      [
        1,
        {
          "entra.token.scope": SCOPE,
          "entra.token.credential": "FakeCredential",
          "error.type": "CREDENTIAL_FAILED",
          "entra.token.still_serving": true,
        },
      ],
    ]);
    const spans = ours(sdk.spans());
    expect(spans).toHaveLength(credential.calls);
    expect(spans.map((span) => span.status.code)).toEqual([
      SpanStatusCode.UNSET,
      SpanStatusCode.ERROR,
      SpanStatusCode.UNSET,
    ]);
    expect(spans.map((span) => span.attributes["entra.token.background"])).toEqual([false, true, true]);
  });

  it("records a credential that never answers as a TOKEN_TIMEOUT failure", async () => {
    const sdk = install();
    const { clock, credential, provider } = harness();
    credential.script.push("hang");
    const pending = rejectionOf(provider.getToken());
    await clock.advance(30_000);
    expect((await pending).code).toBe("TOKEN_TIMEOUT");
    provider.close();

    const requests = await sdk.points("entra.token.requests");
    expect(requests.map((point) => [point.value, point.attributes["error.type"]])).toEqual([
      [1, "TOKEN_TIMEOUT"],
    ]);
    const [span] = ours(sdk.spans());
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span?.attributes["error.type"]).toBe("TOKEN_TIMEOUT");
    expect(await sdk.points("entra.token.refresh.failures")).toEqual([]);
  });

  it("reports the time to expiry of a live provider's token", async () => {
    const sdk = install();
    const scope = "https://telemetry-gauge.example/.default";
    const { clock, credential, provider } = harness({ scope });
    credential.script.push(credential.mint(HOUR));
    await provider.getToken();
    const point = (await sdk.points("entra.token.time_to_expiry")).find(
      (entry) => entry.attributes["entra.token.scope"] === scope,
    );
    provider.close();
    expect(point?.attributes).toEqual({
      "entra.token.scope": scope,
      "entra.token.credential": "FakeCredential",
    });
    const expected = (clock.now() + HOUR - Date.now()) / 1000;
    expect(point?.value).toBeGreaterThan(expected - 10);
    expect(point?.value).toBeLessThanOrEqual(expected + 10);
    // Closed: no token any more, so no point.
    const after = await sdk.points("entra.token.time_to_expiry");
    expect(after.filter((entry) => entry.attributes["entra.token.scope"] === scope)).toEqual([]);
  });

  it("exports no token, not even one the credential echoes in its error", async () => {
    const sdk = install();
    const { clock, credential, provider } = harness();
    credential.script.push({ token: CANARY, expiresOnTimestamp: clock.now() + HOUR });
    expect((await provider.getToken()).token).toBe(CANARY);
    credential.script.push(new Error(`refresh failed for Bearer ${CANARY}`));
    await clock.advance(HOUR - 600_000);
    expect(credential.calls).toBe(2);
    await clock.advance(1_000);
    expect(credential.calls).toBe(3);
    const exported = await sdk.exported();
    provider.close();
    expect(ours(sdk.spans())).toHaveLength(3);
    expect(exported).toContain("entra.token.refresh.failures");
    expect(exported).not.toContain("canary");
    expect(exported).not.toContain(CANARY.slice(0, 19));
  });
});
