#!/usr/bin/python3
"""The report's "where the output error enters" (src/pipeline/error_entry.c, docs/report.md) on
a chain of six Convs built with onnx.helper. Channel 0 of conv3's output is 100x smaller than the
others and a Mul after it (through a same-shape Reshape) amplifies that channel 100x (the others 0.01x): the range of conv3's
output, set by the large channels, is bad for the output, although the tensor itself quantizes
well (its own SQNR is high). The report must name conv3 / its output c3 first, in JSON, TXT and
HTML, and the output SQNR of its fully quantized checkpoint must agree with onnxruntime's run of
the written model on the same 8 calibration samples (rows floor(i * 32 / 8)) within 1 dB.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qc_test as T

rng = np.random.default_rng(7)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def chain_model(path):
    nodes, inits, x = [], [], "x"
    for i in range(1, 7):
        w = rng.standard_normal((8, 8 if i > 1 else 4, 3, 3)) * 0.25
        if i == 3:
            w[0] *= 0.01
        inits += [init(f"w{i}", w), init(f"b{i}", np.zeros(8))]
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1], name=f"conv{i}"))
        x = f"c{i}"
        if i == 3:
            gain = np.full((1, 8, 1, 1), 0.01)
            gain[0, 0] = 100
            inits.append(init("gain", gain))
            # Through a same-shape Reshape, which keeps fold_affine from folding the gain into conv3.
            inits.append(numpy_helper.from_array(np.zeros(4, np.int64), "same"))
            nodes.append(helper.make_node("Reshape", [x, "same"], ["c3r"], name="same_shape"))
            nodes.append(helper.make_node("Mul", ["c3r", "gain"], ["m3"], name="gain3"))
            x = "m3"
        elif i < 6:
            nodes.append(helper.make_node("Relu", [x], [f"r{i}"], name=f"relu{i}"))
            x = f"r{i}"
    nodes[-1].output[0] = "y"
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


T.require_ort()
with T.tempdir("error_entry") as tmp:
    model = os.path.join(tmp, "chain.onnx")
    chain_model(model)
    calib = os.path.join(tmp, "calib")
    os.makedirs(calib)
    xs = []
    for i in range(32):
        xs.append(rng.standard_normal((1, 4, 16, 16)).astype(np.float32))
        np.save(os.path.join(calib, f"{i:02d}.npy"), xs[-1])
    out = os.path.join(tmp, "chain.int8.onnx")
    reports = [os.path.join(tmp, "r." + ext) for ext in ("json", "txt", "html")]
    args = [model, "--calib", calib, "-o", out, "--quiet"]
    for r in reports:
        args += ["--report", r]
    T.qconvert(*args)
    e = T.load_json(reports[0]).get("error_entry") or {}
    steps = e.get("steps") or [{}]
    T.check(e.get("skipped") is None and e.get("samples") == 8 and e.get("compute_nodes") == 7,
            "error_entry ran on 8 samples over the 7 compute nodes", str(e)[:400])
    T.check(steps[0].get("tensor") == "c3" and "conv3" in steps[0].get("node", ""),
            "the first node named is conv3 (output c3)", str(steps))
    T.check(steps[0].get("before_db", 0) - steps[0].get("after_db", 0) > 20,
            "quantizing conv3 costs the output > 20 dB", str(steps[0]))
    inside = {t["tensor"]: t["sqnr_db"] for t in e.get("tensors_in_quantized_model", [])}
    T.check(inside.get("c3", 0) > 25 and inside.get("m3", 99) < 10,
            "per tensor, c3 itself looks fine (> 25 dB) and the amplified m3 does not (< 10 dB)", str(inside))
    txt = open(reports[1]).read()
    T.check("where the output error enters" in txt and "conv3" in txt.split("where the output error enters")[1][:400],
            "the .txt report names conv3 in its section")
    html = open(reports[2]).read()
    T.check('id="error-entry"' in html and "conv3" in html.split('id="error-entry"')[1][:3000],
            "the .html report names conv3 in its section")
    # The fully quantized checkpoint against onnxruntime on the same 8 samples.
    picked = [xs[i * 32 // 8] for i in range(8)]
    ref, _ = T.ort_run_batch(model, [{"x": x} for x in picked], os.path.join(tmp, "ort_fp32"))
    q, _ = T.ort_run_batch(out, [{"x": x} for x in picked], os.path.join(tmp, "ort_int8"))
    ort_db = T.sqnr_db(ref[0], q[0])
    last = (e.get("checkpoints") or [{}])[-1]
    T.check(last.get("nodes") == 7 and abs(last.get("output_sqnr_db", 0) - ort_db) < 1,
            f"the fully quantized checkpoint {last.get('output_sqnr_db')} dB agrees with onnxruntime's "
            f"{ort_db:.2f} dB within 1 dB")
T.finish("error_entry")
