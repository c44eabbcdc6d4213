/**
 * A stand-in for the Azure Functions Node.js worker, for machines where the Functions host cannot run
 * (azure-functions-core-tools downloads the host's binaries when it is installed). Run it in a function
 * app's folder (`node --import tsx <this file>`, with `PORT`). It does what the real worker
 * (github.com/Azure/azure-functions-nodejs-worker) does with an app, through the same contract, so the
 * app's own `@azure/functions` registers and runs everything:
 * - offers the `@azure/functions-core` module by intercepting `require`, as the worker does, so
 *   `app.http(...)` and `app.hook.*` register for real (without it the library stays in "test mode"
 *   and registers nothing);
 * - loads the files package.json `main` names, then runs the `appStart` hooks;
 * - serves the HTTP-triggered functions at `http://127.0.0.1:$PORT/api/<route>` (the host's default
 *   route prefix), each request as an RPC invocation through the library's programming model:
 *   `getArguments`, `preInvocation` hooks, `invokeFunction`, `postInvocation` hooks, `getResponse`;
 * - on SIGTERM or SIGINT stops serving, runs the `appTerminate` hooks and exits 0.
 *
 * Not emulated: the host itself (routing beyond exact routes, authorization levels and function keys,
 * host.json, bindings other than HTTP, scaling), gRPC and the worker's protobuf conversions, and HTTP
 * streaming (`app.setup({ enableHttpStream: true })` is refused).
 *
 * @packageDocumentation
 */
import { randomUUID } from "node:crypto";
import { glob, readFile } from "node:fs/promises";
import http from "node:http";
import Module, { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** The RPC shapes of `@azure/functions-core` this stand-in exchanges with the library. */
interface RpcTypedData {
  readonly string?: string | null;
  readonly json?: string | null;
  readonly bytes?: Uint8Array | null;
  readonly http?: RpcHttpData | null;
}

interface RpcHttpData {
  readonly method?: string;
  readonly url?: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly params?: Record<string, string>;
  readonly body?: RpcTypedData | null;
  readonly statusCode?: string | null;
  readonly cookies?: readonly unknown[];
}

interface RpcBindingInfo {
  readonly type?: string;
  readonly direction?: string;
  readonly route?: string;
  readonly methods?: readonly string[];
}

interface FunctionMetadata {
  readonly name: string;
  readonly functionId?: string;
  readonly bindings: Record<string, RpcBindingInfo>;
}

type FunctionCallback = (...args: unknown[]) => unknown;
type HookCallback = (context: object) => unknown;

interface CoreInvocationContext {
  readonly invocationId: string;
  readonly request: object;
  readonly metadata: FunctionMetadata;
  state?: "preInvocationHooks" | "postInvocationHooks" | "invocation" | undefined;
  log(level: string, category: string, message: string): void;
}

interface InvocationModel {
  getArguments(): Promise<{ context: object; inputs: unknown[] }>;
  invokeFunction(context: object, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: object, result: unknown): Promise<{ returnValue?: RpcTypedData | null }>;
}

interface ProgrammingModel {
  readonly name: string;
  readonly version: string;
  getInvocationModel(context: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

class Disposable {
  #callOnDispose: (() => void) | undefined;

  constructor(callOnDispose: () => void) {
    this.#callOnDispose = callOnDispose;
  }

  dispose(): void {
    this.#callOnDispose?.();
    this.#callOnDispose = undefined;
  }
}

const functions = new Map<string, { metadata: FunctionMetadata; callback: FunctionCallback }>();
const hooks = new Map<string, HookCallback[]>();
let programmingModel: ProgrammingModel | undefined;
let indexingLocked = false;

/** Like the worker's system log: what the library reports about itself, debug and trace left out. */
function log(level: string, category: string, message: string): void {
  if (level === "debug" || level === "trace") return;
  const line = `[${category} ${level}] ${message}`;
  if (level === "error" || level === "critical" || level === "warning") console.error(line);
  else console.log(line);
}

const coreApi = {
  version: "3.10.1",
  hostVersion: "4.1044.0",
  Disposable,
  log,
  registerHook(name: string, callback: HookCallback): Disposable {
    const list = hooks.get(name) ?? [];
    hooks.set(name, list);
    list.push(callback);
    return new Disposable(() => {
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    });
  },
  setProgrammingModel(model: ProgrammingModel): void {
    programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return programmingModel;
  },
  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (indexingLocked) throw new Error("A function can only be registered during app startup.");
    const id = metadata.functionId ?? metadata.name;
    if (functions.has(id)) throw new Error(`A function with id "${id}" has already been registered.`);
    functions.set(id, { metadata, callback });
    return new Disposable(() => functions.delete(id));
  },
};

async function runHooks(name: string, context: object): Promise<void> {
  for (const callback of [...(hooks.get(name) ?? [])]) await callback(context);
}

// The worker's own way of offering its API: `require("@azure/functions-core")` answers with it.
Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args: [string]) {
    return args[0] === "@azure/functions-core" ? coreApi : Reflect.apply(target, thisArg, args);
  },
});

const appDirectory = process.cwd();
const packageJson = JSON.parse(await readFile(path.join(appDirectory, "package.json"), "utf8")) as {
  main?: string;
  type?: string;
};
if (!packageJson.main) throw new Error(`${appDirectory}/package.json has no "main" naming the entry files.`);
const requireFromApp = createRequire(path.join(appDirectory, "package.json"));
// Loaded through require first, as the worker does: the app's ESM imports then reuse this instance,
// whose lazy require("@azure/functions-core") goes through the interception above.
requireFromApp("@azure/functions");

const entryFiles: string[] = [];
for await (const file of glob(packageJson.main, { cwd: appDirectory })) entryFiles.push(file);
if (entryFiles.length === 0) throw new Error(`No file matches "main": "${packageJson.main}" (build first).`);
for (const file of entryFiles.sort()) {
  const absolute = path.join(appDirectory, file);
  const isModule = file.endsWith(".mjs") || (!file.endsWith(".cjs") && packageJson.type === "module");
  if (isModule) await import(pathToFileURL(absolute).href);
  else requireFromApp(absolute);
}
if (!programmingModel || functions.size === 0) {
  throw new Error(
    `${entryFiles.join(", ")} registered no function: is "@azure/functions" v4 installed in the app?`,
  );
}
const model = programmingModel;

const appHookData: Record<string, unknown> = {};
const appLevelOnlyHookData: Record<string, unknown> = {};
await runHooks("appStart", {
  hookData: appLevelOnlyHookData,
  appHookData,
  functionAppDirectory: appDirectory,
});
indexingLocked = true;
const capabilities = await model.getCapabilities({});
if (capabilities.HttpUri) {
  throw new Error(
    "HTTP streaming (app.setup({ enableHttpStream: true })) is not supported by this stand-in.",
  );
}

interface HttpRoute {
  readonly path: string;
  readonly methods: readonly string[];
  readonly triggerName: string;
  readonly functionId: string;
}

const routes: HttpRoute[] = [];
for (const [functionId, { metadata }] of functions) {
  const trigger = Object.entries(metadata.bindings).find(
    ([, binding]) => binding.direction === "in" && binding.type?.toLowerCase() === "httptrigger",
  );
  if (!trigger) {
    console.error(`function "${metadata.name}" has no HTTP trigger: not served by this stand-in`);
    continue;
  }
  const [triggerName, binding] = trigger;
  routes.push({
    path: `/api/${binding.route ?? metadata.name}`.toLowerCase(),
    methods: (binding.methods ?? ["GET", "POST"]).map((method) => method.toUpperCase()),
    triggerName,
    functionId,
  });
}

/** One HTTP request as one invocation, in the order the worker's InvocationHandler uses. */
async function invoke(route: HttpRoute, request: http.IncomingMessage, url: URL): Promise<RpcHttpData> {
  const registered = functions.get(route.functionId);
  if (!registered) throw new Error(`function ${route.functionId} was disposed`);
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  const invocationId = randomUUID();
  const coreContext: CoreInvocationContext = {
    invocationId,
    request: {
      invocationId,
      functionId: route.functionId,
      inputData: [
        {
          name: route.triggerName,
          data: {
            http: {
              method: request.method ?? "GET",
              url: url.href,
              headers,
              query: Object.fromEntries(url.searchParams),
              params: {},
              body: body.length > 0 ? { bytes: body } : undefined,
            },
          },
        },
      ],
      triggerMetadata: {},
    },
    metadata: registered.metadata,
    state: undefined,
    log,
  };
  const invocation = await model.getInvocationModel(coreContext);
  const { context, inputs } = await invocation.getArguments();
  const hookData: Record<string, unknown> = {};
  const pre = {
    hookData,
    appHookData,
    invocationContext: context,
    functionCallback: registered.callback,
    inputs,
  };
  coreContext.state = "preInvocationHooks";
  await runHooks("preInvocation", pre);
  const post: { result: unknown; error: unknown } & Record<string, unknown> = {
    hookData,
    appHookData,
    invocationContext: context,
    inputs: pre.inputs,
    result: null,
    error: null,
  };
  coreContext.state = "invocation";
  try {
    post.result = await invocation.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (error) {
    post.error = error;
  }
  coreContext.state = "postInvocationHooks";
  await runHooks("postInvocation", post);
  coreContext.state = undefined;
  if (post.error) throw post.error;
  const response = await invocation.getResponse(context, post.result);
  return response.returnValue?.http ?? { statusCode: "204" };
}

const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "127.0.0.1"}`);
  const pathname = url.pathname.replace(/\/+$/, "").toLowerCase();
  const route = routes.find((candidate) => candidate.path === pathname);
  if (!route) {
    response.writeHead(404).end();
    return;
  }
  if (!route.methods.includes(request.method ?? "GET")) {
    response.writeHead(405, { allow: route.methods.join(", ") }).end();
    return;
  }
  invoke(route, request, url).then(
    (result) => {
      const body = result.body?.bytes ?? result.body?.string ?? result.body?.json ?? "";
      response.writeHead(Number(result.statusCode ?? 200), result.headers).end(body);
    },
    (error: Error) => {
      console.error(`invocation of ${route.functionId} failed: ${error.stack ?? error.message}`);
      response.writeHead(500).end();
    },
  );
});

server.listen(Number(process.env.PORT ?? 7071), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : process.env.PORT;
  console.log(`functions: ${routes.map((route) => `${route.methods.join(",")} ${route.path}`).join("; ")}`);
  console.log(`listening on http://127.0.0.1:${port}`);
});

let terminating = false;
async function terminate(): Promise<void> {
  if (terminating) return;
  terminating = true;
  server.close();
  await runHooks("appTerminate", { hookData: appLevelOnlyHookData, appHookData });
  process.exit(0);
}
process.once("SIGTERM", () => void terminate());
process.once("SIGINT", () => void terminate());
