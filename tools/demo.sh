#!/usr/bin/env bash
# README command 1: install, build, then run the main job on the shipped demo:
# quantize the Fashion-MNIST CNN with 500 calibration PNGs, evaluate FP32 vs
# INT8 on the 10k test images, and write the reports into build/demo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup.sh

FMNIST=/usr/share/datasets/fashion-mnist
if [[ ! -f build/demo/calib/.done ]]; then
  rm -rf build/demo/calib
  build/tools/idx2png "$FMNIST/train-images-idx3-ubyte.gz" build/demo/calib --count 500
  touch build/demo/calib/.done
fi
if [[ ! -f build/demo/eval/.done ]]; then
  rm -rf build/demo/eval
  build/tools/idx2png "$FMNIST/t10k-images-idx3-ubyte.gz" "$FMNIST/t10k-labels-idx1-ubyte.gz" build/demo/eval --by-class
  touch build/demo/eval/.done
fi

build/qconvert demo/fmnist_cnn.onnx --calib build/demo/calib -o build/demo/fmnist_cnn.int8.onnx \
  --eval build/demo/eval --report build/demo/report.json --report build/demo/report.txt
echo "reports: build/demo/report.json build/demo/report.txt"
