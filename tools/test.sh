#!/usr/bin/env bash
# README command 2: run the whole test suite and print "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ -f build/build.ninja ]] || { echo "test: build/ is missing; run README command 1 first" >&2; exit 2; }
ninja -C build >/dev/null || { echo "test: build failed" >&2; exit 1; }
meson test -C build --print-errorlogs --num-processes 2 "$@"
status=$?
log=build/meson-logs/testlog.json
if [[ -f $log ]]; then
  python3 - "$log" <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0, "ERROR": 0}
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    counts[r] = counts.get(r, 0) + 1
passed = counts["OK"] + counts["EXPECTEDFAIL"]
failed = counts["FAIL"] + counts["TIMEOUT"] + counts["UNEXPECTEDPASS"] + counts["ERROR"]
print("%d passed, %d failed, %d skipped" % (passed, failed, counts["SKIP"]))
PY
fi
exit $status
