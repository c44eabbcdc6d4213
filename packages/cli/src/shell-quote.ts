/**
 * Quotes a value for POSIX shells (sh, bash, zsh): single quotes, with embedded single quotes
 * written as `'\''`; the empty string becomes `''`. Safe for any byte sequence except NUL.
 *
 * @example
 * ```ts
 * shellQuote("it's"); // "'it'\\''s'"
 * ```
 */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * `export NAME='value'` lines for POSIX shells, one per entry, skipping `undefined` values; the
 * empty string when every value is `undefined`.
 *
 * @example
 * ```ts
 * exportLines([["PGHOST", "db.example.com"]]); // "export PGHOST='db.example.com'\n"
 * ```
 */
export function exportLines(entries: ReadonlyArray<readonly [string, string | undefined]>): string {
  return entries
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
    .join("");
}
