#!/usr/bin/env python3
"""External data: tensors in side files are read relative to the model's
directory; inspect reports them; --inline round trip keeps values; locations
that escape the directory are refused with exit 2."""
import os
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

from qc_test import check, finish

QC = os.environ["QCONVERT"]
TOOL = os.path.join(os.environ["QC_BUILD_ROOT"], "tests", "core", "qc_roundtrip")


def make_model(path, location):
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    wt = numpy_helper.from_array(w, "W")
    node = helper.make_node("MatMul", ["x", "W"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [wt])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=0)
    return w


with tempfile.TemporaryDirectory() as d:
    sub = os.path.join(d, "model")
    os.mkdir(sub)
    path = os.path.join(sub, "ext.onnx")
    w = make_model(path, "weights.bin")
    r = subprocess.run([QC, "inspect", path], capture_output=True, text=True)
    check(r.returncode == 0 and "external data: yes" in r.stdout, "inspect external model", r.stderr)
    out = os.path.join(d, "out")
    os.mkdir(out)
    r = subprocess.run([TOOL, "--inline", out, path], capture_output=True, text=True)
    check(r.returncode == 0, "inline round trip runs", r.stdout + r.stderr)
    if r.returncode == 0:
        m2 = onnx.load(os.path.join(out, "0000.onnx"))
        t = m2.graph.initializer[0]
        check(t.data_location == TensorProto.DEFAULT, "inlined tensor has no external reference")
        check(np.array_equal(numpy_helper.to_array(t), w), "inlined values equal")
    # A location with '..' must be refused.
    m = onnx.load(path, load_external_data=False)
    for bad in ["../weights.bin", "/etc/passwd", "a/../../weights.bin"]:
        for e in m.graph.initializer[0].external_data:
            if e.key == "location":
                e.value = bad
        badpath = os.path.join(sub, "bad.onnx")
        onnx.save_model(m, badpath)
        r = subprocess.run([TOOL, "--inline", out, badpath], capture_output=True, text=True)
        check(r.returncode != 0 and ("escapes" in r.stdout or "absolute" in r.stdout), "refuses location %r" % bad,
              r.stdout.strip())
    # A symlink inside the directory pointing outside must be refused too.
    outside = os.path.join(d, "outside.bin")
    with open(os.path.join(sub, "weights.bin"), "rb") as f, open(outside, "wb") as g:
        g.write(f.read())
    os.symlink(outside, os.path.join(sub, "link.bin"))
    for e in m.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = "link.bin"
    onnx.save_model(m, os.path.join(sub, "link.onnx"))
    r = subprocess.run([TOOL, "--inline", out, os.path.join(sub, "link.onnx")], capture_output=True, text=True)
    check(r.returncode != 0 and "outside" in r.stdout, "refuses symlink escaping the directory", r.stdout.strip())

finish("external_data")
