"""The trial evaluator (qc_evaluate_cached, used by --min-sqnr and refinement)
gives the very numbers of a plain evaluation: tests/eval/eval_cache.c checks
them bit for bit on the Fashion-MNIST CNN, quantized by qconvert, over 3
batches of labeled images with FP32 outputs kept in full, in part and not at all,
and a reference over 5 evenly spaced calibration images against an evaluation of
the 5 images the source picks itself."""
import os
import subprocess
import sys

import qc_test as T
from common import CNN, export_flat, export_labeled, qc

TOOL = sys.argv[2]

with T.tempdir("eval_cache") as tmp:
    calib = export_flat(os.path.join(tmp, "calib"), 40)
    data = export_labeled(os.path.join(tmp, "eval"), 20)
    qmodel = os.path.join(tmp, "cnn.int8.onnx")
    qc(CNN, "--calib", calib, "-o", qmodel, "--quiet")
    p = subprocess.run([TOOL, CNN, qmodel, data, calib], capture_output=True, text=True, timeout=300)
    T.check(p.returncode == 0, "eval_cache: exit %d" % p.returncode, p.stdout + p.stderr)
    print(p.stdout.strip())
T.finish("eval_cache")
