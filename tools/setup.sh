#!/usr/bin/env bash
# Installs qconvert's build and test dependencies (Debian 12 packages, then
# npm packages and real models into .deps/), and builds into build/.
# Idempotent: installed packages and finished steps are skipped.
# Environment: MESON_ARGS (extra `meson setup` arguments, e.g. -Dwerror=true).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Build: compiler, meson, protobuf-c (code generated from libonnx-dev's onnx.proto), libpng, OpenBLAS.
BUILD_PKGS="gcc pkg-config meson ninja-build protobuf-c-compiler libprotobuf-c-dev libonnx-dev
  libpng-dev zlib1g-dev libopenblas-dev libopenblas-openmp-dev"
# Tests and demo data: ONNX backend test data, Fashion-MNIST, python3-onnx/numpy/pil/skimage/torch
# as independent references (test helpers only), node for onnxruntime-node, ImageMagick and
# DejaVu fonts for the text the real-model accuracy suite renders (docs/accuracy.md).
TEST_PKGS="python3 python3-onnx python3-numpy python3-pil python3-skimage python3-torch
  libonnx-testdata dataset-fashion-mnist chromium imagemagick fonts-dejavu-core"

missing=()
for p in $BUILD_PKGS $TEST_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# onnxruntime-node (CPU) and the real third-party models, into .deps/.
bash tools/fetch_deps.sh

if [[ ! -f build/build.ninja ]]; then
  meson setup build ${MESON_ARGS:-}
elif [[ -n "${MESON_ARGS:-}" ]]; then
  meson configure build ${MESON_ARGS}
fi
ninja -C build
