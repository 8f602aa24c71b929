#!/usr/bin/python3
"""Output-driven range refinement (src/pipeline/refine.c, docs/quantization.md), on two small
models built with onnx.helper and quantized from 32 random .npy samples:

  gain   Conv -> Reshape (same shape) -> Mul(per-channel gain) -> output. Channel 0 of the Conv output is 100x smaller
         than the others, and the Mul amplifies it 100x (the others 0.01x): the observer's range,
         set by the large channels, quantizes the channel that decides the output coarsely.
         Refinement must narrow it and raise the output SQNR, measured independently in
         onnxruntime on 32 other samples, by >= 6 dB over the default (no --refine); the report names the
         change and its confirmation. --threads 1 and 2 write the same bytes.
  peaks  Conv -> GlobalMaxPool -> output, inputs with rare 40x outliers: a range that gains on
         the 8 search samples loses on the 8 confirmation samples, so every change is undone
         and the model is byte-identical to the default's.
Without --refine the JSON report has no "refine" section.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qc_test as T

rng = np.random.default_rng(5)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def save_model(path, nodes, out_shape, inits):
    g = helper.make_graph(nodes, os.path.basename(path),
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


def gain_model(path):
    w = rng.standard_normal((8, 4, 3, 3)) * 0.3
    w[0] *= 0.01
    gain = np.full((1, 8, 1, 1), 0.01)
    gain[0, 0] = 100
    # The Reshape (to the same shape) keeps the prepare pass fold_affine from folding the gain into
    # the Conv's weights, which would remove the problem this model is built to have.
    save_model(path, [helper.make_node("Conv", ["x", "w", "b"], ["t"], pads=[1, 1, 1, 1], name="conv"),
                      helper.make_node("Reshape", ["t", "same"], ["tr"], name="same_shape"),
                      helper.make_node("Mul", ["tr", "gain"], ["y"], name="gain")],
               [1, 8, 16, 16], [init("w", w), init("b", np.zeros(8)), init("gain", gain),
                                numpy_helper.from_array(np.zeros(4, np.int64), "same")])


def peaks_model(path, gen):
    save_model(path, [helper.make_node("Conv", ["x", "w", "b"], ["t"], pads=[1, 1, 1, 1], name="conv"),
                      helper.make_node("GlobalMaxPool", ["t"], ["y"], name="gmp")],
               [1, 8, 1, 1], [init("w", gen.standard_normal((8, 4, 3, 3)) * 0.3),
                              init("b", gen.standard_normal(8) * 0.1)])


def samples(d, n, outliers, gen=rng):
    os.makedirs(d)
    xs = []
    for i in range(n):
        x = gen.standard_normal((1, 4, 16, 16))
        if outliers:
            x *= 0.3
            mask = gen.random(x.shape) < 0.004
            x[mask] *= 40
        xs.append(x.astype(np.float32))
        np.save(os.path.join(d, f"{i:02d}.npy"), xs[-1])
    return xs


def quantize(model, calib, out, *args):
    T.qconvert(model, "--calib", calib, "-o", out, "--quiet", "--report", out + ".json", *args)
    return T.load_json(out + ".json")


def ort_outputs(model, xs, work):
    outs, _ = T.ort_run_batch(model, [{"x": x} for x in xs], work)
    return outs[0]


T.require_ort()
with T.tempdir("refine") as tmp:
    # gain: refinement raises the output SQNR, in onnxruntime on other samples.
    model = os.path.join(tmp, "gain.onnx")
    gain_model(model)
    calib = os.path.join(tmp, "gain_calib")
    samples(calib, 32, False)
    held_out = samples(os.path.join(tmp, "gain_eval"), 32, False)
    q1, q2, qn = (os.path.join(tmp, f) for f in ("gain.t1.onnx", "gain.t2.onnx", "gain.norefine.onnx"))
    r1 = quantize(model, calib, q1, "--refine", "--threads", "1")
    quantize(model, calib, q2, "--refine", "--threads", "2")
    rn = quantize(model, calib, qn)
    T.check(T.file_bytes(q1) == T.file_bytes(q2), "gain: --threads 1 and 2 write the same model")
    T.check("refine" not in rn, "gain: without --refine no refine section", str(rn.get("refine")))
    f = r1.get("refine") or {}
    T.check(f.get("skipped") is None and f.get("samples") == 8 and f.get("confirm_samples") == 8,
            "gain: refinement ran on 8 samples, confirmed on 8 others", str(f))
    T.check(not f.get("undone") and any(c["tensor"] == "t" for c in f.get("changes", [])),
            "gain: the Conv output's range is changed and kept", str(f))
    T.check(f.get("after_db", 0) > f.get("before_db", 0) + 6, "gain: held-back SQNR rises by > 6 dB", str(f))
    ref = ort_outputs(model, held_out, os.path.join(tmp, "ort_fp32"))
    db_refined = T.sqnr_db(ref, ort_outputs(q1, held_out, os.path.join(tmp, "ort_refined")))
    db_plain = T.sqnr_db(ref, ort_outputs(qn, held_out, os.path.join(tmp, "ort_plain")))
    T.check(db_refined >= db_plain + 6, f"gain: onnxruntime output SQNR {db_plain:.2f} dB -> {db_refined:.2f} dB "
            "with refinement (>= 6 dB more)")
    ok, why = T.checker_ok(q1)
    T.check(ok, "gain: the refined model passes the ONNX checker", why)

    # peaks: a gain on the search samples that does not hold on the confirmation samples
    # (with these weights and samples: seed 5, drawn in this order).
    gen = np.random.default_rng(5)
    model = os.path.join(tmp, "peaks.onnx")
    peaks_model(model, gen)
    calib = os.path.join(tmp, "peaks_calib")
    samples(calib, 32, True, gen)
    qp, qpn = os.path.join(tmp, "peaks.onnx.q"), os.path.join(tmp, "peaks.norefine.onnx")
    rp = quantize(model, calib, qp, "--refine")
    quantize(model, calib, qpn)
    f = rp.get("refine") or {}
    T.check(f.get("undone") is True and f.get("changes") == [] and f.get("confirm_after_db", 0) <= f.get(
        "confirm_before_db", 0) + 0.1, "peaks: the search's gain is not confirmed and is undone", str(f))
    T.check(T.file_bytes(qp) == T.file_bytes(qpn), "peaks: undone refinement writes the default's bytes")
T.finish("refine")
