#!/usr/bin/env python3
"""Every libonnx-testdata model goes through qconvert's load -> IR -> save, and
python3-onnx compares the two ModelProtos: they must be equal (including
unknown fields, compared through deterministic serialization)."""
import glob
import os
import subprocess

import onnx

from qc_test import ONNX_TESTDATA as DATA, check, finish, tempdir

SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
tool = os.path.join(os.environ["QC_BUILD_ROOT"], "tests", "core", "qc_roundtrip")

models = sorted(p for s in SUITES for p in glob.glob(os.path.join(DATA, s, "*", "model.onnx")))
check(models, "libonnx-testdata models found (install libonnx-testdata)")
with tempdir("qc_roundtrip_") as out:
    # One process per chunk keeps the command line short.
    for start in range(0, len(models), 200):
        chunk = models[start:start + 200]
        chunk_dir = os.path.join(out, str(start))
        os.mkdir(chunk_dir)
        r = subprocess.run([tool, chunk_dir] + chunk, capture_output=True, text=True)
        for line in r.stdout.splitlines():
            check(False, line)
        for i, src in enumerate(chunk):
            dst = os.path.join(chunk_dir, "%04d.onnx" % i)
            if not os.path.exists(dst):
                continue
            a = onnx.load(src, load_external_data=False)
            b = onnx.load(dst, load_external_data=False)
            same = a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)
            why = "" if same else "ModelProto differs" if a != b else "unknown fields or encoding differ"
            check(same, "round trip %s" % os.path.relpath(src, DATA), why)

finish("round-trip of %d models" % len(models))
