import { type Engine, isEntraAuthError, resolveSettings } from "@org/entra-core";
import { ENGINE_PREFIXES, selectEngine, serviceConnectorVariables } from "../select-engine.js";
import type { Check } from "./check.js";

type Env = Readonly<Record<string, string | undefined>>;

/** What {@link checkSettings} found. */
export interface SettingsResult {
  readonly check: Check;
  /** The engine, when one could be picked. */
  readonly engine?: Engine | undefined;
  /** False when the engine's variables are malformed: use the flags only. */
  readonly settingsUsable: boolean;
}

function describeError(error: unknown): { message: string; hint?: string } {
  if (isEntraAuthError(error)) {
    const hint = error.hint || undefined;
    const message = hint ? error.message.slice(0, error.message.length - hint.length).trim() : error.message;
    return hint ? { message, hint } : { message };
  }
  return { message: String((error as Error)?.message ?? error) };
}

/**
 * The `settings` check: which Service Connector variables are set (names only, per engine),
 * which engine is used, and whether the engine's variables are well-formed (`resolveSettings`).
 * Fails on a malformed variable, an ambiguous or missing engine, or no host; warns when `*_SSL`
 * turns TLS off (the adapters refuse that). The engine is picked by `selectEngine`: the engine
 * flag, else the one engine whose variables are set.
 */
export function checkSettings(
  flags: { readonly engine?: string | undefined; readonly host?: string | undefined },
  env: Env,
): SettingsResult {
  const found = (Object.keys(ENGINE_PREFIXES) as Engine[])
    .map((engine) => [engine, serviceConnectorVariables(engine, env)] as const)
    .filter(([, names]) => names.length > 0);
  const foundText = found.length
    ? found.map(([engine, names]) => `${engine}: ${names.join(", ")}`).join("; ")
    : "no AZURE_POSTGRESQL_* / AZURE_MYSQL_* / AZURE_SQL_* variables";
  const data = { variables: Object.fromEntries(found) };

  let engine: Engine;
  try {
    engine = selectEngine(flags.engine, env);
  } catch (error) {
    const { message, hint } = describeError(error);
    return {
      settingsUsable: false,
      check: { name: "settings", status: "fail", detail: foundText, cause: message, fix: hint, data },
    };
  }
  try {
    const settings = resolveSettings(engine, env);
    const prefix = ENGINE_PREFIXES[engine];
    const host = flags.host || settings.host;
    const summary = `${engine}${host ? ` ${host}` : ""}${settings.port ? `:${settings.port}` : ""}${settings.database ? `/${settings.database}` : ""}${settings.user ? ` user ${settings.user}` : ""}${settings.clientId ? ` client id ${settings.clientId}` : ""}`;
    const own = found.find(([name]) => name === engine)?.[1] ?? [];
    const others = found.filter(([name]) => name !== engine).map(([name]) => name);
    const detail = `${summary} (${own.length ? `${own.length} ${prefix}* variables` : "from flags"}${others.length ? `; also set: ${others.join(", ")}` : ""})`;
    if (!host) {
      const variable = engine === "sqlserver" ? "AZURE_SQL_SERVER" : `${prefix}HOST`;
      return {
        engine,
        settingsUsable: true,
        check: {
          name: "settings",
          status: "fail",
          detail,
          cause: `No host: neither --host nor ${variable} is set.`,
          fix: `Pass --host or set ${variable} (Service Connector sets it when the connection is created).`,
          data,
        },
      };
    }
    if (settings.ssl === false) {
      return {
        engine,
        settingsUsable: true,
        check: {
          name: "settings",
          status: "warn",
          detail,
          cause: `${prefix}SSL is false: Azure requires TLS and the @org/*-entra adapters refuse it (INSECURE_TRANSPORT).`,
          fix: `Set ${prefix}SSL=true or unset it.`,
          data,
        },
      };
    }
    return { engine, settingsUsable: true, check: { name: "settings", status: "ok", detail, data } };
  } catch (error) {
    const { message, hint } = describeError(error);
    return {
      engine,
      settingsUsable: false,
      check: { name: "settings", status: "fail", detail: foundText, cause: message, fix: hint, data },
    };
  }
}
