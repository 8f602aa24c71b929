#!/usr/bin/env python3
"""Every libonnx-testdata model goes through qconvert's load -> IR -> save, and
python3-onnx compares the two ModelProtos: they must be equal (including
unknown fields, compared through deterministic serialization)."""
import glob
import os
import subprocess
import sys
import tempfile

import onnx

DATA = "/usr/share/libonnx-testdata/data"
SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
tool = os.path.join(os.environ["QC_BUILD_ROOT"], "tests", "core", "qc_roundtrip")

models = sorted(p for s in SUITES for p in glob.glob(os.path.join(DATA, s, "*", "model.onnx")))
if not models:
    print("no libonnx-testdata models found (install libonnx-testdata)")
    sys.exit(1)

failed = []
with tempfile.TemporaryDirectory() as out:
    # One process per chunk keeps the command line short.
    for start in range(0, len(models), 200):
        chunk = models[start:start + 200]
        chunk_dir = os.path.join(out, str(start))
        os.mkdir(chunk_dir)
        r = subprocess.run([tool, chunk_dir] + chunk, capture_output=True, text=True)
        for line in r.stdout.splitlines():
            failed.append(line)
        for i, src in enumerate(chunk):
            dst = os.path.join(chunk_dir, "%04d.onnx" % i)
            if not os.path.exists(dst):
                continue
            a = onnx.load(src, load_external_data=False)
            b = onnx.load(dst, load_external_data=False)
            if a.SerializeToString(deterministic=True) != b.SerializeToString(deterministic=True):
                why = "ModelProto differs" if a != b else "unknown fields or encoding differ"
                failed.append("DIFF %s: %s" % (src, why))

print("round-trip: %d models, %d failed" % (len(models), len(failed)))
for f in failed:
    print(f)
sys.exit(1 if failed else 0)
