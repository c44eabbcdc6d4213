#!/usr/bin/env bash
# Publishing is checked, not assumed (run after the build):
# 1. every package packed as `pnpm publish` packs it: LICENSE and README inside, repository (with
#    directory), homepage, bugs, keywords, engines node >=22, no `workspace:` range left, and
#    `npm publish --dry-run` of the tarball prints no warning but the expected "not logged in";
# 2. `changeset version` on a copy of the repository: every package moves to one new version
#    together, each with a CHANGELOG.md, internal ranges still caret ranges.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
fail() { echo "check-publish: $*" >&2; status=1; }

node scripts/pack-packages.mjs "$work/packs" >/dev/null
while IFS=$'\t' read -r name file; do
  manifest=$(tar -xzOf "$file" package/package.json)
  listing=$(tar -tzf "$file")
  for required in package/LICENSE package/README.md; do
    grep -qx "$required" <<<"$listing" || fail "$name: $required missing from the tarball"
  done
  problems=$(node -e '
    const p = JSON.parse(process.argv[1]);
    const out = [];
    if (!p.repository?.url || !p.repository?.directory) out.push("repository with url and directory");
    if (!p.homepage) out.push("homepage");
    if (!p.bugs?.url) out.push("bugs.url");
    if (!Array.isArray(p.keywords) || p.keywords.length === 0) out.push("keywords");
    if (p.engines?.node !== ">=22") out.push("engines.node >=22 (got " + p.engines?.node + ")");
    if (p.license !== "MIT") out.push("license MIT");
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"])
      for (const [dep, range] of Object.entries(p[field] ?? {}))
        if (String(range).startsWith("workspace:")) out.push(field + "." + dep + " is " + range);
    console.log(out.join("; "));
  ' "$manifest")
  [ -z "$problems" ] || fail "$name: $problems"
  output=$(cd "$work" && npm publish --dry-run "$file" 2>&1) || fail "$name: npm publish --dry-run failed: $output"
  warnings=$(grep -i "npm warn" <<<"$output" | grep -v "requires you to be logged in" || true)
  [ -z "$warnings" ] || fail "$name: npm publish --dry-run warned: $warnings"
  echo "check-publish: $name $(grep -o 'package size: .*' <<<"$output")"
done < <(node -e '
  const index = require(process.argv[1]);
  for (const [name, { file }] of Object.entries(index)) console.log(name + "\t" + file);
' "$work/packs/index.json")

# changeset version on a copy (tracked files plus the working tree's changes).
copy="$work/repo"
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | (cd "$root" && xargs -0 cp --parents -t "$copy" 2>/dev/null || true)
ln -s "$root/node_modules" "$copy/node_modules"
(cd "$copy" && node "$root/node_modules/@changesets/cli/bin.js" version >/dev/null) || fail "changeset version failed"
node -e '
  const fs = require("fs");
  const copy = process.argv[1];
  const published = fs.readdirSync(copy + "/packages")
    .map((dir) => ({ dir, p: JSON.parse(fs.readFileSync(copy + "/packages/" + dir + "/package.json", "utf8")) }))
    .filter(({ p }) => !p.private);
  const versions = new Set(published.map(({ p }) => p.version));
  if (versions.size !== 1) throw new Error("packages did not move together: " + [...versions].join(", "));
  const [version] = versions;
  for (const { dir, p } of published) {
    const changelog = copy + "/packages/" + dir + "/CHANGELOG.md";
    if (!fs.existsSync(changelog) || !fs.readFileSync(changelog, "utf8").includes("## " + version))
      throw new Error(p.name + ": no CHANGELOG.md entry for " + version);
    for (const [dep, range] of Object.entries(p.dependencies ?? {}))
      if (dep.startsWith("@org/") && range !== "workspace:^") throw new Error(p.name + ": " + dep + " became " + range);
  }
  console.log("check-publish: changeset version moves " + published.length + " packages together to " + version + ", each with a CHANGELOG entry");
' "$copy" || fail "changeset version check failed"
exit $status
