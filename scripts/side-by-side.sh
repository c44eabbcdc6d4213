#!/usr/bin/env bash
# Runs two commands at the same time and fails when either fails. The first one's output streams
# as usual; the second's is kept in a file and printed, whole, when it ends (so the two logs do not
# interleave). The test command uses it to run the Node 24 pass while the hostile and packed
# suites, which mostly wait on npm, run on Node 22: on 2 cores that keeps the whole command under
# 25 minutes.
#
#   bash scripts/side-by-side.sh "<first command>" "<second command>"
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: side-by-side.sh <first command> <second command>" >&2; exit 2; }
log=$(mktemp -t side-by-side.XXXXXX.log)
trap 'rm -f "$log"' EXIT

bash -c "$2" > "$log" 2>&1 &
second=$!
bash -c "$1"
first_status=$?
wait "$second"
second_status=$?

echo
echo "side-by-side: output of \`$2\` (exit $second_status):"
cat "$log"
if [ "$first_status" -ne 0 ] || [ "$second_status" -ne 0 ]; then
  echo "side-by-side: \`$1\` exited $first_status, \`$2\` exited $second_status" >&2
  exit 1
fi
