import { createRequire } from "node:module";
import { EntraAuthError } from "@org/entra-core";

/**
 * Loads an optional peer dependency only when its provider is used, so that a PostgreSQL-only app
 * does not need the MySQL packages installed (and the other way round).
 */
export function loadPeer<T>(name: string, provider: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (error) {
    throw new EntraAuthError("MISSING_SETTING", `provider "${provider}" needs the package ${name}.`, {
      hint: `Install it next to @org/prisma-entra: npm install ${name}`,
      cause: error,
    });
  }
}
