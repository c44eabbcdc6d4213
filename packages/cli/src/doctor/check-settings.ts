import { type Engine, isEntraAuthError } from "@org/entra-core";
import { isCliError } from "../cli-error.js";
import { describeTarget, resolveTarget, type Target, type TargetFlags } from "../resolve-target.js";
import { ENGINE_PREFIXES, selectEngine, serviceConnectorVariables } from "../select-engine.js";
import type { Check } from "./check.js";

type Env = Readonly<Record<string, string | undefined>>;

/** What {@link checkSettings} found. */
export interface SettingsResult {
  readonly check: Check;
  /** The engine, when one could be picked. */
  readonly engine?: Engine | undefined;
  /** False when the engine's variables are malformed: `target` then comes from the flags only. */
  readonly settingsUsable: boolean;
  /** The settings to check, when the engine could be picked. */
  readonly target?: Target | undefined;
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
 * which engine is used, and the settings actually used (flags over variables, see
 * `resolveTarget`), naming the flags that overrode variables. Fails on a malformed variable, a
 * missing engine, or no host; warns when `*_SSL` turns TLS off (the adapters refuse that). The
 * engine is picked by `selectEngine`: the engine flag, else the one engine whose variables are
 * set. A usage error (`CliError`: unknown engine, several engines, a malformed flag) is thrown.
 */
export function checkSettings(flags: TargetFlags, env: Env): SettingsResult {
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
    if (isCliError(error)) throw error;
    const { message, hint } = describeError(error);
    return {
      settingsUsable: false,
      check: { name: "settings", status: "fail", detail: foundText, cause: message, fix: hint, data },
    };
  }
  let target: Target;
  try {
    target = resolveTarget({ ...flags, engine }, env);
  } catch (error) {
    if (isCliError(error)) throw error;
    const { message, hint } = describeError(error);
    return {
      engine,
      settingsUsable: false,
      // Go on with the flags only.
      target: resolveTarget({ ...flags, engine }, {}),
      check: { name: "settings", status: "fail", detail: foundText, cause: message, fix: hint, data },
    };
  }
  const prefix = ENGINE_PREFIXES[engine];
  const own = found.find(([name]) => name === engine)?.[1] ?? [];
  const others = found.filter(([name]) => name !== engine).map(([name]) => name);
  const fromFlags = target.fromFlags ?? [];
  const origin = [
    fromFlags.length ? `${fromFlags.join(", ")} from flags` : "",
    own.length ? `${own.length} ${prefix}* variables` : fromFlags.length ? "" : "no variables",
    others.length ? `also set: ${others.join(", ")}` : "",
  ].filter(Boolean);
  const detail = `${describeTarget(target)} (${origin.join("; ")})`;
  const dataWithTarget = { ...data, fromFlags };
  if (!target.host) {
    const variable = engine === "sqlserver" ? "AZURE_SQL_SERVER" : `${prefix}HOST`;
    return {
      engine,
      settingsUsable: true,
      target,
      check: {
        name: "settings",
        status: "fail",
        detail,
        cause: `No host: neither --host nor ${variable} is set.`,
        fix: `Pass --host or set ${variable} (Service Connector sets it when the connection is created).`,
        data: dataWithTarget,
      },
    };
  }
  if (target.ssl === false) {
    return {
      engine,
      settingsUsable: true,
      target,
      check: {
        name: "settings",
        status: "warn",
        detail,
        cause: `${prefix}SSL is false: Azure requires TLS and the @org/*-entra adapters refuse it (INSECURE_TRANSPORT).`,
        fix: `Set ${prefix}SSL=true or unset it.`,
        data: dataWithTarget,
      },
    };
  }
  return {
    engine,
    settingsUsable: true,
    target,
    check: { name: "settings", status: "ok", detail, data: dataWithTarget },
  };
}
