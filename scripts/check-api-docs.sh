#!/usr/bin/env bash
# Regenerates the API reference into a temporary directory and fails when it differs from the
# committed docs/api (or when TypeDoc's validation fails: an undocumented public export, a broken
# {@link}, a public signature that uses a type the package does not export).
set -euo pipefail

cd "$(dirname "$0")/.."

typedoc="node_modules/.bin/typedoc"
if [ ! -x "$typedoc" ]; then
  echo "check-api-docs: $typedoc not found; install the workspace dependencies first." >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! "$typedoc" --out "$tmp/api" --logLevel Warn; then
  echo "check-api-docs: TypeDoc failed (see the warnings above): every public export needs a JSDoc comment and every {@link} must resolve." >&2
  exit 1
fi

if ! diff -r -u docs/api "$tmp/api" >"$tmp/api.diff"; then
  head -n 60 "$tmp/api.diff" >&2
  echo "docs/api is stale: run pnpm docs:api" >&2
  exit 1
fi

echo "docs/api is up to date."
