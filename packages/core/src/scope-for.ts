/** The database engines supported by the `@org/*-entra` packages. */
export type Engine = "postgresql" | "mysql" | "sqlserver";

const CLOUDS: ReadonlyArray<{ readonly suffix: string; readonly ossrdbms: string; readonly sql: string }> = [
  {
    suffix: ".chinacloudapi.cn",
    ossrdbms: "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
    sql: "https://database.chinacloudapi.cn/.default",
  },
  {
    suffix: ".usgovcloudapi.net",
    ossrdbms: "https://ossrdbms-aad.database.usgovcloudapi.net/.default",
    sql: "https://database.usgovcloudapi.net/.default",
  },
];

/**
 * The Entra token scope for a database engine, with the sovereign cloud chosen from the host
 * suffix (`*.chinacloudapi.cn`, `*.usgovcloudapi.net`; case-insensitive, trailing dot and a
 * `:port` / `,port` / `tcp:` decoration tolerated).
 *
 * @example
 * ```ts
 * scopeFor("postgresql"); // "https://ossrdbms-aad.database.windows.net/.default"
 * scopeFor("sqlserver", "srv.database.chinacloudapi.cn"); // "https://database.chinacloudapi.cn/.default"
 * ```
 *
 * Gives the Azure public cloud's scope when `host` is absent or not a sovereign-cloud host.
 */
export function scopeFor(engine: Engine, host?: string): string {
  const sql = engine === "sqlserver";
  if (host) {
    const name = host
      .trim()
      .toLowerCase()
      .replace(/^tcp:/, "")
      .replace(/[,:]\d+$/, "")
      .replace(/\.+$/, "");
    for (const cloud of CLOUDS) {
      if (name.endsWith(cloud.suffix)) return sql ? cloud.sql : cloud.ossrdbms;
    }
  }
  return sql ? "https://database.windows.net/.default" : "https://ossrdbms-aad.database.windows.net/.default";
}
