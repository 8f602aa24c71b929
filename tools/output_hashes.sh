#!/bin/bash
# Records what a refactoring must not change: the sha256 of the quantized
# models, the stdout summaries and the JSON reports (timing fields masked) of
# the demo models and two real models, at 1 and 2 threads.
#
#   bash tools/output_hashes.sh BUILD_DIR OUT_DIR     # then: diff -r OLD_OUT NEW_OUT
#
# Every run works in a scratch directory with relative paths, so the texts do
# not depend on where the build or the scratch directory is.
set -euo pipefail
build=$(realpath "$1")
out=$(realpath -m "$2")
root=$(realpath "$(dirname "$0")/..")
qc="$build/qconvert"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir in out
cp "$root"/demo/*.onnx in/
cp "$root"/.deps/models/blazeface.onnx "$root"/.deps/models/ppocr_cls.onnx in/
"$build/tools/idx2png" /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz calib --count 200 >/dev/null
"$build/tools/idx2png" /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz eval --count 100 >/dev/null
mkdir photos
for p in astronaut chelsea coffee motorcycle_left; do
  cp /usr/lib/python3/dist-packages/skimage/data/$p.png photos/
done

mask() { sed -E 's/([0-9]+m )?[0-9]+(\.[0-9]+)? ?(ms|s)\b/<t>/g; s/"(calibration_seconds|total_seconds|fp32_ms|quant_ms|ms)": [-+0-9.e]+/"\1": <t>/g'; }

# run NAME ARGS...: one qconvert run; its model, stdout, stderr and JSON report.
run() {
  local name=$1
  shift
  local rc=0
  "$qc" "$@" --report out/$name.json >out/$name.stdout 2>out/$name.stderr || rc=$?
  echo "exit $rc" >>out/$name.stdout
  mask <out/$name.stdout >"$out/$name.stdout"
  grep -v '^\[' out/$name.stderr | mask >"$out/$name.stderr" || true
  [ -f out/$name.json ] && mask <out/$name.json >"$out/$name.json"
  [ -f out/$name.onnx ] && (sha256sum out/$name.onnx | cut -d' ' -f1 >"$out/$name.sha256")
  return 0
}

for t in 1 2; do
  for m in fmnist_cnn fmnist_dwnet fmnist_resnet; do
    run $m.default.t$t in/$m.onnx --calib calib -o out/$m.default.t$t.onnx --threads $t --quiet
    run $m.int8.t$t in/$m.onnx --calib calib -o out/$m.int8.t$t.onnx --threads $t --quiet --activation-type int8
    run $m.wonly.t$t in/$m.onnx --calib calib -o out/$m.wonly.t$t.onnx --threads $t --quiet --weight-only
    run $m.sqnr.t$t in/$m.onnx --calib calib -o out/$m.sqnr.t$t.onnx --threads $t --quiet --min-sqnr 60 --eval eval
    run $m.compare.t$t compare in/$m.onnx --calib calib -o out/$m.compare.t$t.onnx --threads $t --quiet
  done
  run blazeface.t$t in/blazeface.onnx --calib photos -o out/blazeface.t$t.onnx --threads $t --quiet \
    --scale 1 --mean 127.5 --std 127.5
  run ppocr_cls.t$t in/ppocr_cls.onnx --calib photos -o out/ppocr_cls.t$t.onnx --threads $t --quiet \
    --input-shape 1x3x48x192 --mean 0.5 --std 0.5
done
cd "$out"
# Determinism: 1 and 2 threads give the same model.
for f in *.t1.sha256; do
  cmp -s "$f" "${f%.t1.sha256}.t2.sha256" || echo "thread-dependent: ${f%.t1.sha256}"
done
echo "$(ls *.sha256 | wc -l) models in $out"
