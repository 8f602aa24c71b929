#!/usr/bin/env bash
# Valgrind memcheck of one end-to-end quantization: demo/fmnist_cnn.onnx with
# 20 calibration PNGs (Fashion-MNIST when /usr/share/datasets/fashion-mnist is
# present, generated ones otherwise), JSON and text reports, one thread.
# Fails on any memory error and on definite/indirect leaks; "possibly lost"
# blocks (thread pools of libgomp/OpenBLAS) are reported but do not fail.
#
#   tools/valgrind_e2e.sh
#
# Environment: QC_VALGRIND_BUILD (default <repo>/build-valgrind, a
# debugoptimized build for readable stacks; made if missing).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${QC_VALGRIND_BUILD:-$ROOT/build-valgrind}"
command -v valgrind >/dev/null || { echo "valgrind_e2e: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
if [[ ! -f $BUILD/build.ninja ]]; then
  meson setup "$BUILD" "$ROOT" -Dbuildtype=debugoptimized >/dev/null || exit 2
fi
ninja -C "$BUILD" qconvert tools/idx2png >/dev/null || { echo "valgrind_e2e: build failed" >&2; exit 2; }

WORK="$(mktemp -d /tmp/qc-valgrind-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
FMNIST=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [[ -f $FMNIST && -x $BUILD/tools/idx2png ]]; then
  "$BUILD/tools/idx2png" "$FMNIST" "$WORK/calib" --count 20 >/dev/null || exit 2
else
  "${PYTHON:-/usr/bin/python3}" - "$WORK/calib" <<'PY' || exit 2
import os, sys
import numpy as np
from PIL import Image
d = sys.argv[1]
os.makedirs(d)
rng = np.random.default_rng(0)
for i in range(20):
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8), "L").save(os.path.join(d, "%02d.png" % i))
PY
fi

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# qconvert re-execs itself via /proc/self/exe to set OMP_WAIT_POLICY (see
# src/cli/runtime_env.c); under valgrind that path is valgrind's own tool
# binary, so set the variables here and skip the re-exec.
export OMP_WAIT_POLICY=PASSIVE QC_RUNTIME_ENV_DONE=1
valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
  --track-origins=yes --num-callers=40 --suppressions="$ROOT/tests/sanitizers/valgrind.supp" \
  --log-file="$WORK/valgrind.log" \
  "$BUILD/qconvert" "$ROOT/demo/fmnist_cnn.onnx" --calib "$WORK/calib" -o "$WORK/out.int8.onnx" \
  --report "$WORK/report.json" --report "$WORK/report.txt" --threads 1 --quiet >"$WORK/stdout.txt" 2>"$WORK/stderr.txt"
rc=$?
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|Invalid|uninitialised" "$WORK/valgrind.log" | sed 's/^==[0-9]*== /  /'
if [[ $rc -ne 0 || ! -s $WORK/out.int8.onnx ]]; then
  echo "valgrind_e2e: FAILED (exit $rc)"
  cat "$WORK/stderr.txt"
  cp "$WORK/valgrind.log" "${TMPDIR:-/tmp}/qc-valgrind-last.log" && echo "full log: ${TMPDIR:-/tmp}/qc-valgrind-last.log"
  exit 1
fi
echo "valgrind_e2e: clean (no memory errors, no definite/indirect leaks)"
