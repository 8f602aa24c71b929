#!/usr/bin/env bash
# Builds build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the whole meson test suite under it. Any memory error, leak or UB report
# aborts the process under test, so it shows up as a failed test.
#
#   tools/sanitize.sh [meson test args...]     e.g. tools/sanitize.sh --suite bad_inputs
#
# Environment: QC_ASAN_BUILD (default <repo>/build-asan), CC (default gcc).
# Prints "N passed, N failed" (and skipped); exit status is meson test's.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${QC_ASAN_BUILD:-$ROOT/build-asan}"
cd "$ROOT"
if [[ ! -f $BUILD/build.ninja ]]; then
  CC="${CC:-gcc}" meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized || exit 2
fi
ninja -C "$BUILD" >/dev/null || { ninja -C "$BUILD" | tail -20; echo "sanitize: build failed" >&2; exit 2; }

SUPP="$ROOT/tests/sanitizers"
# halt_on_error/abort_on_error: a UBSan report is a failure, not a log line.
# detect_leaks: leaks fail the test (known third-party noise in lsan.supp).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:verify_asan_link_order=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$SUPP/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export QC_SANITIZED=1

meson test -C "$BUILD" --print-errorlogs --num-processes 2 --timeout-multiplier 4 "$@"
status=$?
log=$BUILD/meson-logs/testlog.json
if [[ -f $log ]]; then
  python3 - "$log" <<'PY'
import json, sys
counts = {}
failed_names = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    r = t.get("result")
    counts[r] = counts.get(r, 0) + 1
    if r in ("FAIL", "TIMEOUT", "UNEXPECTEDPASS", "ERROR"):
        failed_names.append(t.get("name"))
passed = counts.get("OK", 0) + counts.get("EXPECTEDFAIL", 0)
failed = len(failed_names)
print("%d passed, %d failed, %d skipped" % (passed, failed, counts.get("SKIP", 0)))
for n in failed_names:
    print("  failed: %s" % n)
PY
fi
exit $status
