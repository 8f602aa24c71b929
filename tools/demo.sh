#!/usr/bin/env bash
# README command 1: install, build, then run the main job on the shipped demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup.sh

# Calibration PNGs from Fashion-MNIST's training set (500 images, 28x28 gray).
FMNIST=/usr/share/datasets/fashion-mnist
if [[ ! -f build/demo/calib/.done ]]; then
  rm -rf build/demo/calib
  build/tools/idx2png "$FMNIST/train-images-idx3-ubyte.gz" build/demo/calib --count 500
  touch build/demo/calib/.done
fi

build/qconvert inspect demo/fmnist_cnn.onnx
