#!/usr/bin/env node
import { processIo } from "./cli-io.js";
import { run } from "./run.js";

run(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
  // Nothing we start keeps the process alive, but a credential's HTTP agent might: do not hang.
  setTimeout(() => process.exit(code), 1_000).unref();
});
