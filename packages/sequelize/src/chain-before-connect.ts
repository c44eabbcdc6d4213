import type { Options } from "sequelize";

/** The `config` Sequelize passes to `beforeConnect`: its connection manager's own copy of the connection settings. */
export interface ConnectConfig {
  username?: string | null;
  password?: unknown;
  host?: string;
  [key: string]: unknown;
}

/** A `beforeConnect` hook as Sequelize accepts it in `options.hooks`: a function or `{ name, fn }`. */
type BeforeConnectHook =
  | ((config: ConnectConfig) => unknown)
  | { readonly fn: (config: ConnectConfig) => unknown };

/** Hooks made by `withEntra`, so that wrapping the same options twice does not run them twice. */
const ownHooks = new WeakSet<object>();

/**
 * Marks a `beforeConnect` hook as made by `withEntra`.
 *
 * @returns The same function.
 */
export function ownHook<T extends (config: ConnectConfig) => Promise<void>>(hook: T): T {
  ownHooks.add(hook);
  return hook;
}

/**
 * Returns `hooks` with `hook` appended to `beforeConnect`. The caller's hooks (a function or an
 * array, as Sequelize accepts both) run first, so a hook that picks the host or user name still
 * works, and nothing runs after ours to overwrite the fresh token. Hooks of an earlier `withEntra`
 * call on the same options are replaced, not repeated.
 *
 * @returns A copy of `hooks` (`{ beforeConnect: [hook] }` when there were none); other hook types are untouched.
 */
export function chainBeforeConnect(
  hooks: Options["hooks"] | undefined,
  hook: (config: ConnectConfig) => Promise<void>,
): NonNullable<Options["hooks"]> {
  const existing = (hooks as { beforeConnect?: BeforeConnectHook | BeforeConnectHook[] } | undefined)
    ?.beforeConnect;
  const theirs = (existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]).filter(
    (entry) => !ownHooks.has(typeof entry === "function" ? entry : entry.fn),
  );
  // Sequelize's `_setupHooks` accepts an array per hook type; its TypeScript types do not say so.
  return { ...hooks, beforeConnect: [...theirs, hook] } as unknown as NonNullable<Options["hooks"]>;
}

/**
 * Sets `config.password` for the connection about to open without making it enumerable: Sequelize
 * keeps this `config` object for the life of the instance, and a token must not show up when the
 * Sequelize instance is logged or inspected.
 */
export function setHiddenPassword(config: ConnectConfig, token: string): void {
  Object.defineProperty(config, "password", {
    value: token,
    enumerable: false,
    writable: true,
    configurable: true,
  });
}
