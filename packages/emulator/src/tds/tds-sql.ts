import type { ResultColumn, ResultValue, RpcValue, TdsMessageFields } from "@org/entra-wire";

/** What a statement sees of its session. */
export interface SqlSession {
  /** The database user (`CURRENT_USER`, `USER_NAME()`). */
  readonly user: string;
  /** The login, i.e. the token's principal name (`SUSER_SNAME()`, `SYSTEM_USER`). */
  readonly login: string;
  /** The current database (`DB_NAME()`). */
  readonly database: string;
  /** The session id (`@@SPID`). */
  readonly spid: number;
  /** Server name (`@@SERVERNAME`, `SERVERPROPERTY('ServerName')`). */
  readonly serverName: string;
  /** Open transactions (`@@TRANCOUNT`). */
  readonly transactionCount: number;
  /** RPC parameters by name with `@` (for `sp_executesql`). */
  readonly parameters?: ReadonlyMap<string, RpcValue>;
}

/** The outcome of a batch: result sets, then either success or one error. */
export interface SqlOutcome {
  readonly resultSets: ReadonlyArray<{
    readonly columns: readonly ResultColumn[];
    readonly rows: ResultValue[][];
  }>;
  /** Rows affected by the last statement when no result set (e.g. `SET`): undefined. */
  readonly error?: TdsMessageFields;
  /** Transaction effect of the batch (`BEGIN TRAN`, `COMMIT`, `ROLLBACK`), if any. */
  readonly transaction?: "begin" | "commit" | "rollback";
  /** `WAITFOR DELAY`: answer only after this many milliseconds (ATTENTION cancels). */
  readonly delayMs?: number;
}

/** Longest `WAITFOR DELAY` the emulator honours. */
export const MAX_WAITFOR_DELAY_MS = 5 * 60 * 1000;

/** Azure SQL Database's product version. */
export const AZURE_SQL_PRODUCT_VERSION = "12.0.2000.8";
/** What `SELECT @@VERSION` returns (the shape Azure SQL Database uses). */
export const AZURE_SQL_VERSION_STRING =
  "Microsoft SQL Azure (RTM) - 12.0.2000.8 \n\tSep 18 2025 19:27:40 \n\tCopyright (C) 2025 Microsoft Corporation\n";

/** The Azure error for a statement the emulator does not run (real code and text, 40517). */
export function unsupportedStatementError(keyword: string, serverName: string): TdsMessageFields {
  return {
    number: 40517,
    state: 1,
    class: 16,
    message: `Keyword or statement option '${keyword}' is not supported in this version of SQL Server.`,
    serverName,
    lineNumber: 1,
  };
}

type Typed = { readonly value: ResultValue; readonly type: ResultColumn["type"]; readonly length?: number };

class Unsupported extends Error {}
class SqlError extends Error {
  constructor(readonly fields: Omit<TdsMessageFields, "serverName">) {
    super(fields.message);
  }
}

/**
 * Runs a batch the way the emulator understands it: only `SET` options, `DECLARE`, transaction
 * statements and `SELECT` of constant expressions (literals, `+`, session functions such as
 * `SUSER_SNAME()`, `CURRENT_USER`, `DB_NAME()`, `@@VERSION`, `SERVERPROPERTY(...)`, `CAST`/
 * `CONVERT`), plus Sequelize's version probe. `SELECT ... FROM <table>` answers 208, `EXEC <proc>`
 * 2812, anything else 40517.
 *
 * @example
 * runSqlBatch("SELECT 1 AS one", session) // { resultSets: [{ columns: [{ name: "one", type: "int" }], rows: [[1]] }] }
 */
export function runSqlBatch(sql: string, session: SqlSession): SqlOutcome {
  const resultSets: Array<{ columns: ResultColumn[]; rows: ResultValue[][] }> = [];
  let transaction: SqlOutcome["transaction"];
  let delayMs = 0;
  const special = matchKnownBatch(sql);
  if (special) {
    return { resultSets: [special] };
  }
  const variables = new Map<string, Typed>();
  for (const [name, value] of session.parameters ?? []) variables.set(name.toLowerCase(), typedOf(value));
  try {
    for (const statement of splitStatements(sql)) {
      const tokens = tokenize(statement);
      if (tokens.length === 0) continue;
      const head = keyword(tokens[0]);
      switch (head) {
        case "SET":
          runSet(tokens, variables, session);
          break;
        case "DECLARE":
          runDeclare(tokens, variables, session);
          break;
        case "SELECT":
          resultSets.push(runSelect(tokens, variables, session));
          break;
        case "BEGIN":
          if (isTransactionWord(tokens[1])) transaction = "begin";
          else throw new Unsupported("BEGIN");
          break;
        case "COMMIT":
          transaction = "commit";
          break;
        case "ROLLBACK":
          transaction = "rollback";
          break;
        case "SAVE":
          break;
        case "WAITFOR": {
          const delay = tokens[2];
          if (keyword(tokens[1]) !== "DELAY" || delay?.kind !== "string" || tokens.length !== 3) {
            throw new Unsupported("WAITFOR");
          }
          delayMs += parseDelay(delay.text);
          break;
        }
        case "USE": {
          const name = identifierText(tokens[1]);
          if (!name || name.toLowerCase() !== session.database.toLowerCase()) {
            throw new SqlError({
              number: 40508,
              state: 1,
              class: 16,
              message:
                "USE statement is not supported to switch between databases. Use a new connection to connect to a different database.",
            });
          }
          break;
        }
        case "EXEC":
        case "EXECUTE": {
          const name = qualifiedName(tokens, 1);
          throw new SqlError({
            number: 2812,
            state: 62,
            class: 16,
            message: `Could not find stored procedure '${name}'.`,
          });
        }
        default:
          throw new Unsupported(tokens[0]?.text.toUpperCase() ?? "");
      }
    }
  } catch (error) {
    if (error instanceof SqlError) {
      return { resultSets, error: { ...error.fields, serverName: session.serverName } };
    }
    if (error instanceof Unsupported) {
      return { resultSets, error: unsupportedStatementError(error.message, session.serverName) };
    }
    throw error;
  }
  return {
    resultSets,
    transaction,
    delayMs: delayMs > 0 ? Math.min(delayMs, MAX_WAITFOR_DELAY_MS) : undefined,
  };
}

function parseDelay(text: string): number {
  const match = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(text.trim());
  if (!match) {
    throw new SqlError({
      number: 148,
      state: 1,
      class: 15,
      message: `Incorrect time syntax in time string '${text}' used with WAITFOR.`,
    });
  }
  const [, hours, minutes, seconds = "0", millis = "0"] = match;
  return (
    ((Number(hours) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000 + Number(millis.padEnd(3, "0"))
  );
}

/** Sequelize 6's `versionQuery()` (mssql dialect), answered with the product version minus its last part. */
function matchKnownBatch(sql: string): { columns: ResultColumn[]; rows: ResultValue[][] } | undefined {
  const normalized = sql.replace(/\s+/g, " ").trim();
  if (
    /^DECLARE @ms_ver NVARCHAR\(20\); SET @ms_ver = REVERSE\(CONVERT\(NVARCHAR\(20\), SERVERPROPERTY\('ProductVersion'\)\)\); SELECT REVERSE\(SUBSTRING\(@ms_ver, CHARINDEX\('\.', @ms_ver\)\+1, 20\)\) AS 'version';?$/i.test(
      normalized,
    )
  ) {
    const version = AZURE_SQL_PRODUCT_VERSION.split(".").slice(0, 3).join(".");
    return {
      columns: [{ name: "version", type: "nvarchar", length: 20, nullable: true }],
      rows: [[version]],
    };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Lexing

interface Token {
  readonly kind: "word" | "number" | "string" | "punct" | "variable" | "quoted";
  readonly text: string;
}

/** Splits a batch on top-level `;` and on line breaks between statements that start a new keyword. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = "";
  let index = 0;
  while (index < sql.length) {
    const char = sql[index] as string;
    if (char === "'" || char === '"' || char === "[") {
      const close = char === "[" ? "]" : char;
      let end = index + 1;
      while (end < sql.length) {
        if (sql[end] === close) {
          if (sql[end + 1] === close) {
            end += 2;
            continue;
          }
          break;
        }
        end += 1;
      }
      current += sql.slice(index, end + 1);
      index = end + 1;
      continue;
    }
    if (char === "-" && sql[index + 1] === "-") {
      const end = sql.indexOf("\n", index);
      index = end === -1 ? sql.length : end;
      continue;
    }
    if (char === "/" && sql[index + 1] === "*") {
      const end = sql.indexOf("*/", index + 2);
      index = end === -1 ? sql.length : end + 2;
      current += " ";
      continue;
    }
    if (char === ";") {
      statements.push(current);
      current = "";
      index += 1;
      continue;
    }
    if (
      char === "\n" &&
      /^\s*(?:\/\*[\s\S]*?\*\/\s*)*(set|select|declare|begin|commit|rollback|use|exec|execute|waitfor)\b/i.test(
        sql.slice(index + 1),
      )
    ) {
      statements.push(current);
      current = "";
      index += 1;
      continue;
    }
    current += char;
    index += 1;
  }
  statements.push(current);
  return statements.map((statement) => statement.trim()).filter((statement) => statement.length > 0);
}

function tokenize(statement: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < statement.length) {
    const rest = statement.slice(index);
    const space = /^\s+/.exec(rest);
    if (space) {
      index += space[0].length;
      continue;
    }
    const string = /^N?'((?:[^']|'')*)'/i.exec(rest);
    if (string) {
      tokens.push({ kind: "string", text: (string[1] ?? "").replaceAll("''", "'") });
      index += string[0].length;
      continue;
    }
    const quoted = /^(?:\[((?:[^\]]|\]\])*)\]|"((?:[^"]|"")*)")/.exec(rest);
    if (quoted) {
      const text =
        quoted[1] !== undefined ? quoted[1].replaceAll("]]", "]") : (quoted[2] ?? "").replaceAll('""', '"');
      tokens.push({ kind: "quoted", text });
      index += quoted[0].length;
      continue;
    }
    const number = /^\d+(?:\.\d+)?/.exec(rest);
    if (number) {
      tokens.push({ kind: "number", text: number[0] });
      index += number[0].length;
      continue;
    }
    const variable = /^@@?[\w$#@]+/.exec(rest);
    if (variable) {
      tokens.push({ kind: "variable", text: variable[0] });
      index += variable[0].length;
      continue;
    }
    const word = /^[A-Za-z_#][\w$#@]*/.exec(rest);
    if (word) {
      tokens.push({ kind: "word", text: word[0] });
      index += word[0].length;
      continue;
    }
    tokens.push({ kind: "punct", text: rest[0] as string });
    index += 1;
  }
  return tokens;
}

function keyword(token: Token | undefined): string {
  return token?.kind === "word" ? token.text.toUpperCase() : "";
}

function isTransactionWord(token: Token | undefined): boolean {
  const word = keyword(token);
  return word === "TRAN" || word === "TRANSACTION";
}

function identifierText(token: Token | undefined): string | undefined {
  if (!token) return undefined;
  if (token.kind === "word" || token.kind === "quoted") return token.text;
  return undefined;
}

/** `a.b.c` (bare or quoted parts) starting at `index`, as written without the quotes. */
function qualifiedName(tokens: Token[], index: number): string {
  const parts: string[] = [];
  let at = index;
  while (
    tokens[at] &&
    (tokens[at]?.kind === "word" || tokens[at]?.kind === "quoted" || tokens[at]?.text === ".")
  ) {
    parts.push(tokens[at]?.text ?? "");
    at += 1;
  }
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------
// Statements

function runSet(tokens: Token[], variables: Map<string, Typed>, session: SqlSession): void {
  const target = tokens[1];
  if (target?.kind === "variable" && tokens[2]?.text === "=") {
    const parser = new ExpressionParser(tokens, 3, variables, session);
    const value = parser.expression();
    parser.expectEnd();
    variables.set(target.text.toLowerCase(), value);
  }
  // Session options (ANSI_NULLS, TEXTSIZE, ISOLATION LEVEL, ...) are accepted and ignored.
}

function runDeclare(tokens: Token[], variables: Map<string, Typed>, session: SqlSession): void {
  let index = 1;
  while (index < tokens.length) {
    const name = tokens[index];
    if (name?.kind !== "variable") throw new Unsupported("DECLARE");
    index += 1;
    if (keyword(tokens[index]) === "AS") index += 1;
    const type = parseTypeName(tokens, index);
    index = type.next;
    let value: Typed = { value: null, type: type.type, length: type.length };
    if (tokens[index]?.text === "=") {
      const parser = new ExpressionParser(tokens, index + 1, variables, session);
      value = convert(parser.expression(), type.type, type.length);
      index = parser.position;
    }
    variables.set(name.text.toLowerCase(), value);
    if (tokens[index]?.text === ",") index += 1;
    else if (index < tokens.length) throw new Unsupported("DECLARE");
  }
}

function runSelect(
  tokens: Token[],
  variables: Map<string, Typed>,
  session: SqlSession,
): { columns: ResultColumn[]; rows: ResultValue[][] } {
  const fromIndex = tokens.findIndex((token, index) => index > 0 && keyword(token) === "FROM");
  if (fromIndex !== -1) {
    throw new SqlError({
      number: 208,
      state: 1,
      class: 16,
      message: `Invalid object name '${qualifiedName(tokens, fromIndex + 1) || "?"}'.`,
    });
  }
  const columns: ResultColumn[] = [];
  const row: ResultValue[] = [];
  const parser = new ExpressionParser(tokens, 1, variables, session);
  for (;;) {
    const start = parser.position;
    const value = parser.expression();
    const literal = parser.position === start + 1 && tokens[start]?.kind !== "word";
    let name = "";
    const next = tokens[parser.position];
    if (keyword(next) === "AS") {
      const alias = tokens[parser.position + 1];
      if (!alias || (alias.kind !== "word" && alias.kind !== "quoted" && alias.kind !== "string")) {
        throw new Unsupported("AS");
      }
      name = alias.text;
      parser.position += 2;
    } else if (next && (next.kind === "quoted" || (next.kind === "word" && !isReserved(next.text)))) {
      name = next.text;
      parser.position += 1;
    } else if (tokens[start]?.kind === "variable" && tokens[start + 1]?.text === "=") {
      throw new Unsupported("SELECT");
    }
    columns.push({
      name,
      type: value.type,
      length:
        value.type === "nvarchar"
          ? Math.max(value.length ?? 128, String(value.value ?? "").length, 1)
          : undefined,
      nullable: !literal || value.value === null,
    });
    row.push(value.value);
    if (tokens[parser.position]?.text === ",") {
      parser.position += 1;
      continue;
    }
    parser.expectEnd();
    break;
  }
  return { columns, rows: [row] };
}

const RESERVED = new Set(["FROM", "WHERE", "UNION", "ORDER", "GROUP", "HAVING", "INTO", "OPTION", "FOR"]);

function isReserved(word: string): boolean {
  return RESERVED.has(word.toUpperCase());
}

function parseTypeName(
  tokens: Token[],
  index: number,
): { type: ResultColumn["type"]; length?: number; next: number } {
  const name = keyword(tokens[index]);
  let next = index + 1;
  let length: number | undefined;
  if (tokens[next]?.text === "(") {
    const size = tokens[next + 1];
    length = keyword(size) === "MAX" ? 4000 : Number(size?.text);
    if (tokens[next + 2]?.text !== ")" || !Number.isFinite(length)) throw new Unsupported(name);
    next += 3;
  }
  switch (name) {
    case "INT":
    case "SMALLINT":
    case "TINYINT":
      return { type: "int", next };
    case "BIGINT":
      return { type: "bigint", next };
    case "BIT":
      return { type: "bit", next };
    case "NVARCHAR":
    case "VARCHAR":
    case "NCHAR":
    case "CHAR":
    case "SYSNAME":
      return { type: "nvarchar", length: name === "SYSNAME" ? 128 : (length ?? 30), next };
    default:
      throw new Unsupported(name || "CAST");
  }
}

function typedOf(value: RpcValue): Typed {
  if (value === null) return { value: null, type: "nvarchar", length: 1 };
  if (typeof value === "string") return { value, type: "nvarchar", length: Math.max(value.length, 1) };
  if (typeof value === "boolean") return { value, type: "bit" };
  if (typeof value === "bigint") return { value, type: "bigint" };
  return Number.isInteger(value) && Math.abs(value) <= 0x7fffffff
    ? { value, type: "int" }
    : { value: String(value), type: "nvarchar" };
}

function convert(value: Typed, type: ResultColumn["type"], length?: number): Typed {
  if (value.value === null) return { value: null, type, length };
  switch (type) {
    case "nvarchar": {
      const text = typeof value.value === "boolean" ? (value.value ? "1" : "0") : String(value.value);
      return { value: length ? text.slice(0, length) : text, type, length: length ?? 30 };
    }
    case "int":
    case "bigint": {
      const number = typeof value.value === "boolean" ? Number(value.value) : Number(value.value);
      if (!Number.isFinite(number)) {
        throw new SqlError({
          number: 245,
          state: 1,
          class: 16,
          message: `Conversion failed when converting the nvarchar value '${String(value.value)}' to data type int.`,
        });
      }
      return type === "int"
        ? { value: Math.trunc(number), type }
        : { value: BigInt(Math.trunc(number)), type };
    }
    case "bit":
      return { value: Boolean(Number(value.value)), type };
  }
}

/** A tiny expression parser: literals, variables, `+`/`-`, parentheses and known functions. */
class ExpressionParser {
  position: number;
  readonly #tokens: Token[];
  readonly #variables: Map<string, Typed>;
  readonly #session: SqlSession;

  constructor(tokens: Token[], position: number, variables: Map<string, Typed>, session: SqlSession) {
    this.#tokens = tokens;
    this.position = position;
    this.#variables = variables;
    this.#session = session;
  }

  expectEnd(): void {
    if (this.position < this.#tokens.length) {
      throw new Unsupported(this.#tokens[this.position]?.text.toUpperCase() ?? "");
    }
  }

  expression(): Typed {
    let left = this.#term();
    for (;;) {
      const operator = this.#tokens[this.position]?.text;
      if (operator !== "+" && operator !== "-") return left;
      this.position += 1;
      const right = this.#term();
      left = arithmetic(left, right, operator);
    }
  }

  #term(): Typed {
    const token = this.#tokens[this.position];
    if (!token) throw new Unsupported("SELECT");
    this.position += 1;
    switch (token.kind) {
      case "number": {
        if (token.text.includes(".")) return { value: token.text, type: "nvarchar" };
        const number = Number(token.text);
        return number <= 0x7fffffff
          ? { value: number, type: "int" }
          : { value: BigInt(token.text), type: "bigint" };
      }
      case "string":
        return { value: token.text, type: "nvarchar", length: Math.max(token.text.length, 1) };
      case "variable":
        return this.#variable(token.text);
      case "punct":
        if (token.text === "(") {
          const value = this.expression();
          this.#expect(")");
          return value;
        }
        if (token.text === "-") {
          const value = this.#term();
          return arithmetic({ value: 0, type: "int" }, value, "-");
        }
        throw new Unsupported(token.text);
      case "word":
        return this.#word(token.text.toUpperCase());
      case "quoted":
        throw new Unsupported(token.text);
    }
  }

  #expect(text: string): void {
    if (this.#tokens[this.position]?.text !== text)
      throw new Unsupported(this.#tokens[this.position]?.text ?? text);
    this.position += 1;
  }

  #arguments(): Typed[] {
    this.#expect("(");
    const values: Typed[] = [];
    if (this.#tokens[this.position]?.text === ")") {
      this.position += 1;
      return values;
    }
    for (;;) {
      values.push(this.expression());
      if (this.#tokens[this.position]?.text === ",") {
        this.position += 1;
        continue;
      }
      this.#expect(")");
      return values;
    }
  }

  #variable(name: string): Typed {
    const session = this.#session;
    switch (name.toUpperCase()) {
      case "@@VERSION":
        return { value: AZURE_SQL_VERSION_STRING, type: "nvarchar", length: 300 };
      case "@@SPID":
        return { value: session.spid, type: "int" };
      case "@@SERVERNAME":
        return { value: session.serverName, type: "nvarchar", length: 128 };
      case "@@TRANCOUNT":
        return { value: session.transactionCount, type: "int" };
      case "@@ROWCOUNT":
      case "@@ERROR":
        return { value: 0, type: "int" };
      case "@@LANGUAGE":
        return { value: "us_english", type: "nvarchar", length: 128 };
      case "@@MAX_PRECISION":
        return { value: 38, type: "int" };
      case "@@OPTIONS":
        return { value: 5496, type: "int" };
    }
    const value = this.#variables.get(name.toLowerCase());
    if (!value) {
      throw new SqlError({
        number: 137,
        state: 2,
        class: 15,
        message: `Must declare the scalar variable "${name}".`,
      });
    }
    return value;
  }

  #word(name: string): Typed {
    const session = this.#session;
    const text = (value: string | null, length = 128): Typed => ({ value, type: "nvarchar", length });
    switch (name) {
      case "NULL":
        return { value: null, type: "int" };
      case "CURRENT_USER":
      case "SESSION_USER":
      case "USER":
        return text(session.user);
      case "SYSTEM_USER":
        return text(session.login);
      case "CAST": {
        this.#expect("(");
        const value = this.expression();
        if (keyword(this.#tokens[this.position]) !== "AS") throw new Unsupported("CAST");
        const type = parseTypeName(this.#tokens, this.position + 1);
        this.position = type.next;
        this.#expect(")");
        return convert(value, type.type, type.length);
      }
      case "CONVERT":
      case "TRY_CONVERT": {
        this.#expect("(");
        const type = parseTypeName(this.#tokens, this.position);
        this.position = type.next;
        this.#expect(",");
        const value = this.expression();
        if (this.#tokens[this.position]?.text === ",") {
          this.position += 1;
          this.expression(); // style
        }
        this.#expect(")");
        return convert(value, type.type, type.length);
      }
    }
    const functionCall = this.#tokens[this.position]?.text === "(";
    if (!functionCall) throw new Unsupported(name);
    const args = this.#arguments();
    const first = args[0]?.value;
    switch (name) {
      case "SUSER_SNAME":
      case "SUSER_NAME":
      case "ORIGINAL_LOGIN":
        return text(args.length === 0 ? session.login : null);
      case "USER_NAME":
      case "CURRENT_USER":
        return text(args.length === 0 || first === 1 ? (args.length === 0 ? session.user : "dbo") : null);
      case "DB_NAME":
        return text(
          args.length === 0 || Number(first) === 5 ? session.database : Number(first) === 1 ? "master" : null,
        );
      case "DB_ID":
        return {
          value:
            args.length === 0 || String(first).toLowerCase() === session.database.toLowerCase()
              ? 5
              : String(first).toLowerCase() === "master"
                ? 1
                : null,
          type: "int",
        };
      case "SCHEMA_NAME":
        return text(args.length === 0 || Number(first) === 1 ? "dbo" : null);
      case "SCHEMA_ID":
        return { value: args.length === 0 || String(first).toLowerCase() === "dbo" ? 1 : null, type: "int" };
      case "SERVERPROPERTY":
        return serverProperty(String(first ?? ""), session);
      case "DATABASEPROPERTYEX":
        return String(args[1]?.value ?? "").toLowerCase() === "edition" ? text("GeneralPurpose") : text(null);
      case "IS_MEMBER":
      case "IS_ROLEMEMBER":
        return { value: 0, type: "int" };
      case "ISNULL":
      case "COALESCE":
        return args.find((arg) => arg.value !== null) ?? args[0] ?? text(null);
      case "LEN":
        return {
          value: first === null || first === undefined ? null : String(first).replace(/\s+$/, "").length,
          type: "int",
        };
      case "UPPER":
        return text(
          first === null || first === undefined ? null : String(first).toUpperCase(),
          args[0]?.length,
        );
      case "LOWER":
        return text(
          first === null || first === undefined ? null : String(first).toLowerCase(),
          args[0]?.length,
        );
      case "REVERSE":
        return text(
          first === null || first === undefined ? null : [...String(first)].reverse().join(""),
          args[0]?.length,
        );
      default:
        throw new SqlError({
          number: 195,
          state: 10,
          class: 15,
          message: `'${name.toLowerCase()}' is not a recognized built-in function name.`,
        });
    }
  }
}

function serverProperty(property: string, session: SqlSession): Typed {
  const text = (value: string | null): Typed => ({ value, type: "nvarchar", length: 128 });
  switch (property.toLowerCase()) {
    case "productversion":
      return text(AZURE_SQL_PRODUCT_VERSION);
    case "productlevel":
      return text("RTM");
    case "productmajorversion":
      return text("12");
    case "edition":
      return text("SQL Azure");
    case "engineedition":
      return { value: 5, type: "int" };
    case "servername":
    case "machinename":
      return text(session.serverName);
    case "collation":
      return text("SQL_Latin1_General_CP1_CI_AS");
    case "isintegratedsecurityonly":
    case "isclustered":
    case "ishadrenabled":
      return { value: 0, type: "int" };
    default:
      return text(null);
  }
}

function arithmetic(left: Typed, right: Typed, operator: "+" | "-"): Typed {
  if (left.value === null || right.value === null) return { value: null, type: left.type };
  const numeric = (typed: Typed) => typed.type === "int" || typed.type === "bigint" || typed.type === "bit";
  if (numeric(left) && numeric(right)) {
    if (left.type === "bigint" || right.type === "bigint") {
      const a = BigInt(left.value as number | bigint);
      const b = BigInt(right.value as number | bigint);
      return { value: operator === "+" ? a + b : a - b, type: "bigint" };
    }
    const a = Number(left.value);
    const b = Number(right.value);
    return { value: operator === "+" ? a + b : a - b, type: "int" };
  }
  if (operator === "+" && left.type === "nvarchar" && right.type === "nvarchar") {
    const value = String(left.value) + String(right.value);
    return {
      value,
      type: "nvarchar",
      length: Math.max((left.length ?? 0) + (right.length ?? 0), value.length),
    };
  }
  // Mixed types convert to int, as SQL Server's precedence does.
  const a = convert(left, "int");
  const b = convert(right, "int");
  return arithmetic(a, b, operator);
}
