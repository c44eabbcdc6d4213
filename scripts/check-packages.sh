#!/usr/bin/env bash
# Packaging is checked, not assumed: publint and arethetypeswrong on every publishable package
# (dual ESM/CJS, types first in exports, files, sideEffects). Run after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for manifest in packages/*/package.json; do
  dir=$(dirname "$manifest")
  if node -e 'process.exit(require("./'"$manifest"'").private ? 0 : 1)'; then continue; fi
  name=$(node -p 'require("./'"$manifest"'").name')
  echo "check-packages: $name"
  (cd "$dir" && npx publint --strict --pack npm) || status=1
  (cd "$dir" && npx attw --pack . --profile node16 --format ascii) || status=1
done
exit $status
