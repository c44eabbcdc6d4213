import { createRequire } from "node:module";

/**
 * tedious 19's own PRELOGIN/LOGIN7 builders and token parser, for tests that check the emulator's
 * bytes against the client that must accept them (CommonJS modules loaded with `require`).
 */
const require = createRequire(import.meta.url);

export const PreloginPayload: typeof import("tedious/lib/prelogin-payload.js").default = require("tedious/lib/prelogin-payload.js");
export const Login7Payload: typeof import("tedious/lib/login7-payload.js").default = require("tedious/lib/login7-payload.js");
export const StreamParser: {
  parseTokens(
    chunks: Iterable<Buffer>,
    debug: object,
    options: object,
  ): AsyncIterable<Record<string, unknown>>;
} = require("tedious/lib/token/stream-parser.js");
