#!/bin/bash
# Builds the libFuzzer harnesses with clang + ASan + UBSan into build-fuzz/
# and runs each one for SECONDS. Exits non-zero if any harness crashes, leaks,
# hits undefined behaviour, times out (>10 s per input) or runs out of memory.
#
#   tests/fuzz/run_fuzz.sh SECONDS [HARNESS...]
#
# Harnesses: model png npy tensor_proto options stats (default: all).
# Environment: QC_FUZZ_BUILD (default <repo>/build-fuzz), QC_FUZZ_JOBS (harnesses run in
#   parallel, default 1), and:
#   QC_FUZZ_SEED: reproducible mode, as CI runs it. libFuzzer gets -seed and a fixed number of
#     runs (SECONDS x the harness's rate on the CI VM, RATE below) instead of a time budget, and
#     starts from an empty corpus, so a commit finds the same inputs on any machine however
#     loaded it is. A time cap of 5 x SECONDS stays as a safety net. Without QC_FUZZ_SEED: a
#     random seed, SECONDS of wall time, and the corpus kept between runs (exploration).
# Outputs under $QC_FUZZ_BUILD:
#   fuzz-seeds/<h>/    seed corpus (tests/fuzz/build_corpus.py, built once)
#   fuzz-corpus/<h>/   inputs libFuzzer found interesting (kept between runs)
#   fuzz-crashes/<h>/  crash-*, leak-*, timeout-*, oom-* reproducers
#   fuzz-logs/<h>.log  full libFuzzer output
# To keep a crash as a regression test: fix it, then copy the reproducer to
# tests/fuzz/regressions/<h>/ (meson test fuzz_replay_<h> replays it).
set -u
SECONDS_PER="${1:-}"
if ! [[ "$SECONDS_PER" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER" -lt 1 ]; then
  echo "usage: $0 SECONDS [HARNESS...]" >&2
  exit 2
fi
shift
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${QC_FUZZ_BUILD:-$ROOT/build-fuzz}"
JOBS="${QC_FUZZ_JOBS:-1}"
PY="${PYTHON:-/usr/bin/python3}"
HARNESSES=("$@")
[ ${#HARNESSES[@]} -eq 0 ] && HARNESSES=(model png npy tensor_proto options stats)

command -v clang >/dev/null || { echo "run_fuzz: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang meson setup "$BUILD" "$ROOT" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized || exit 2
else
  meson configure "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 2
fi
TARGETS=()
for h in "${HARNESSES[@]}"; do TARGETS+=("tests/fuzz/fuzz_$h"); done
ninja -C "$BUILD" qconvert "${TARGETS[@]}" || { echo "run_fuzz: build failed (does clang support -fsanitize=fuzzer?)" >&2; exit 2; }

need_seeds=0
for h in "${HARNESSES[@]}"; do [ -d "$BUILD/fuzz-seeds/$h" ] || need_seeds=1; done
if [ $need_seeds -eq 1 ]; then
  rm -rf "$BUILD/fuzz-seeds.tmp" "$BUILD/fuzz-seeds"
  ASAN_OPTIONS=detect_leaks=0 "$PY" "$ROOT/tests/fuzz/build_corpus.py" "$BUILD/fuzz-seeds.tmp" --qconvert "$BUILD/qconvert" && mv "$BUILD/fuzz-seeds.tmp" "$BUILD/fuzz-seeds" || exit 2
fi

# halt_on_error: UBSan findings are crashes; detect_leaks: leaks are too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# Executions per second of each harness on the 2-core CI VM (two harnesses at a time, ASan+UBSan).
declare -A RATE=([model]=8000 [png]=12000 [npy]=40000 [tensor_proto]=300000 [options]=5000 [stats]=1200)

run_one() {
  local h="$1"
  local crashes="$BUILD/fuzz-crashes/$h" corpus="$BUILD/fuzz-corpus/$h" log="$BUILD/fuzz-logs/$h.log"
  local budget=(-max_total_time="$SECONDS_PER")
  local extra=()
  if [ -n "${QC_FUZZ_SEED:-}" ]; then
    corpus="$BUILD/fuzz-corpus-seeded/$h"
    rm -rf "$corpus"
    budget=(-runs=$((SECONDS_PER * ${RATE[$h]:-1000})) -max_total_time=$((SECONDS_PER * 5)) -seed="$QC_FUZZ_SEED")
  fi
  mkdir -p "$crashes" "$corpus" "$BUILD/fuzz-logs"
  [ -d "$ROOT/tests/fuzz/regressions/$h" ] && extra+=("$ROOT/tests/fuzz/regressions/$h")
  "$BUILD/tests/fuzz/fuzz_$h" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$BUILD/fuzz-seeds/$h" "${extra[@]}" \
    >"$log" 2>&1
  local rc=$?
  local stats
  stats=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}')
  if [ $rc -eq 0 ] && [ -n "${QC_FUZZ_SEED:-}" ]; then
    echo "fuzz $h: ok (${stats:-?} runs, seed $QC_FUZZ_SEED)"
  elif [ $rc -eq 0 ]; then
    echo "fuzz $h: ok (${stats:-?} runs in ${SECONDS_PER}s)"
  else
    echo "fuzz $h: FAILED (exit $rc) - see $log"
    grep -E "^==[0-9]+==ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -5 | sed 's/^/    /'
  fi
  return $rc
}

failed=0
if [ "$JOBS" -gt 1 ]; then
  pids=()
  for h in "${HARNESSES[@]}"; do
    run_one "$h" & pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
  done
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
else
  for h in "${HARNESSES[@]}"; do run_one "$h" || failed=$((failed + 1)); done
fi
found=$(find "$BUILD/fuzz-crashes" -type f 2>/dev/null | wc -l)
echo "fuzz: ${#HARNESSES[@]} harnesses, $failed failed; $found reproducer(s) in $BUILD/fuzz-crashes"
[ $failed -eq 0 ]
