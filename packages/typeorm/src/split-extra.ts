/** An options bag with its `undefined` values left out. */
export function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/**
 * Splits TypeORM's `extra` into the driver connection fields the driver adapter must see (TypeORM
 * merges `extra` over the fields it derives, so an `extra.ssl` or `extra.connectionString` would
 * otherwise bypass the adapter's checks) and everything else, which is passed through untouched.
 *
 * @param extra - The user's `extra`, if any.
 * @param keys - The driver fields the adapter owns.
 * @returns `connection` (defined values only) and `rest`.
 */
export function splitExtra(
  extra: Record<string, unknown> | undefined,
  keys: readonly string[],
): { connection: Record<string, unknown>; rest: Record<string, unknown> } {
  const connection: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (keys.includes(key)) {
      if (value !== undefined) connection[key] = value;
    } else {
      rest[key] = value;
    }
  }
  return { connection, rest };
}

/** A port as TypeORM types it (a number), from a driver config value. */
export function toPort(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  return typeof value === "number" ? value : Number(value);
}
