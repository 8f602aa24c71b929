#!/usr/bin/python3
"""Empirical bias correction (docs/quantization.md, "Bias correction") against numpy.

A synthetic onnx.helper model, x[1, 4, 8, 8] -> Conv A (bias) -> Relu -> Conv B (no bias) ->
Flatten -> Gemm (bias), quantized with --no-equalize (so the FP32 layers are the model's own)
on 40 .npy samples with a non-zero mean (so weight rounding shifts the output means). Checks:
  * with --no-bias-correction the int32 biases are the FP32 biases on the grid s_x * s_w[c]
    (round(b / s)) and Conv B has none;
  * by default, every bias equals numpy's: a numpy interpreter runs the FP32 model on the 32
    evenly spaced samples qconvert measures (floor(k * 40 / 32)) and, for each layer, the layer
    quantized as in the --no-bias-correction output (its input through that model's Q -> DQ,
    its int8 weight and int32 bias dequantized) on the layer's FP32 input; per output channel
    (axis 1 for Conv, last for Gemm), delta = mean_q - mean_fp, and b <- b - delta
    requantized to int32. Conv B gets a new int32 bias with scale s_x * s_w[c];
  * measured the same way on the corrected model, each layer's mean shift is 20x smaller;
  * the summary notes the correction and its largest |delta|, numpy's, on numpy's layer; with
    --load-stats only a note; the model passes onnx.checker(full_check), runs in
    onnxruntime, and onnxruntime's optimised graph still fuses every Conv and the Gemm into
    integer kernels (no float Conv/Gemm left);
  * --weight-only on x[1, K] -> MatMul -> Add (float bias) -> y: the Add's float bias takes the
    correction, b - (mean(x Wq) - mean(x W)) as numpy computes it (the layer's input stays
    float), and onnxruntime's output is within weight-rounding error of FP32's (a correction
    divided by Gemm's beta, which a MatMul does not have, once wrote +-inf here).
"""
import os
import re

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qc_test as T

rng = np.random.default_rng(5)
N_SAMPLES, N_MEASURED = 40, 32
C_IN, C_A, C_B, N_OUT, HW = 4, 8, 6, 5, 8


def build():
    wa = rng.normal(0, 0.3, (C_A, C_IN, 3, 3)).astype(np.float32)
    ba = rng.normal(0, 0.2, C_A).astype(np.float32)
    wb = rng.normal(0, 0.2, (C_B, C_A, 3, 3)).astype(np.float32)
    wg = rng.normal(0, 0.05, (N_OUT, C_B * HW * HW)).astype(np.float32)
    bg = rng.normal(0, 0.2, N_OUT).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in [(wa, "wa"), (ba, "ba"), (wb, "wb"), (wg, "wg"), (bg, "bg")]]
    nodes = [
        helper.make_node("Conv", ["x", "wa", "ba"], ["a"], name="convA", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["ar"], name="relu"),
        helper.make_node("Conv", ["ar", "wb"], ["b"], name="convB", pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["b"], ["f"], name="flat", axis=1),
        helper.make_node("Gemm", ["f", "wg", "bg"], ["y"], name="gemm", transB=1),
    ]
    g = helper.make_graph(nodes, "biascorr", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C_IN, HW, HW])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, N_OUT])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


# ---- a numpy interpreter for the ops of these models ----

def conv(x, w, b, pads):
    n, c, h, wd = x.shape
    k = w.shape[2]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    out = np.zeros((n, w.shape[0], h, wd))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + h, j:j + wd], w[:, :, i, j].astype(np.float64))
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def run(model, x, bias=None):
    """Every value of model on input x (float64 compute, Q/DQ as ONNX defines them). bias:
    {node name: float bias} replaces the bias a Conv/Gemm reads. Returns {value name: array}."""
    vals = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    vals["x"] = x
    bias = bias or {}
    for n in model.graph.node:
        ins = [vals[i] if i else None for i in n.input]
        if n.op_type == "QuantizeLinear":
            lo, hi = (0, 255) if ins[2].dtype == np.uint8 else (-128, 127)
            q = np.rint(np.float32(ins[0]) / np.float32(ins[1])) + ins[2].astype(np.int64)
            out = np.clip(q, lo, hi).astype(ins[2].dtype)
        elif n.op_type == "DequantizeLinear":
            s, zp = ins[1], ins[2] if len(ins) > 2 else np.zeros_like(ins[1], dtype=np.int64)
            shape = [1] * ins[0].ndim
            if s.ndim == 1 and s.size > 1:
                shape[attr(n, "axis", 1)] = -1
            out = ((ins[0].astype(np.float64) - zp.astype(np.float64).reshape(shape)) * s.reshape(shape)).astype(np.float32)
        elif n.op_type == "Conv":
            b = bias.get(n.name, ins[2] if len(ins) > 2 else None)
            out = conv(ins[0], ins[1], b, attr(n, "pads", [0, 0, 0, 0]))
        elif n.op_type == "Gemm":
            w = ins[1].astype(np.float64)
            out = ins[0].astype(np.float64) @ (w.T if attr(n, "transB", 0) else w)
            b = bias.get(n.name, ins[2] if len(ins) > 2 else None)
            if b is not None:
                out = out + b
        elif n.op_type == "Relu":
            out = np.maximum(ins[0], 0)
        elif n.op_type == "Flatten":
            out = ins[0].reshape(ins[0].shape[0], -1)
        else:
            raise RuntimeError("numpy interpreter: no " + n.op_type)
        vals[n.output[0]] = out.astype(np.float32) if out.dtype == np.float64 else out
    return vals


def layer_nodes(model):
    return {n.name: n for n in model.graph.node if n.op_type in ("Conv", "Gemm")}


def channel_means(model, xs, bias=None):
    """{layer: per-channel mean of its own output over xs}."""
    sums = {}
    for x in xs:
        vals = run(model, x, bias)
        for name, n in layer_nodes(model).items():
            y = vals[n.output[0]].astype(np.float64)
            axes = (0, 2, 3) if n.op_type == "Conv" else (0,)
            sums[name] = sums.get(name, 0) + y.mean(axis=axes)
    return {k: v / len(xs) for k, v in sums.items()}


def inits_of(model):
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def producer(model, value):
    return next((n for n in model.graph.node if value in n.output), None)


def int32_bias(model, layer):
    """(int32 values, scale per channel) of a layer's bias behind DequantizeLinear, or None."""
    n = layer_nodes(model)[layer]
    if len(n.input) < 3 or not n.input[2]:
        return None
    dq = producer(model, n.input[2])
    if dq is None or dq.op_type != "DequantizeLinear":
        return None
    inits = inits_of(model)
    q, s = inits[dq.input[0]], inits[dq.input[1]]
    return q.astype(np.int64), np.broadcast_to(s, q.shape).astype(np.float64)


def dq_scale(model, value):
    """The per-channel (or scalar) scale of the DequantizeLinear producing value."""
    return inits_of(model)[producer(model, value).input[1]]


def quantized_layer(plain, name, x, bias):
    """The quantized layer alone on input x: x through the layer's input Q -> DQ (the output
    model's scale and zero point), the int8 weight dequantized, the given float bias."""
    n = layer_nodes(plain)[name]
    dq = producer(plain, n.input[0])
    inits = inits_of(plain)
    s, zp = np.float32(inits[dq.input[1]]), inits[dq.input[2]]
    lo, hi = (0, 255) if zp.dtype == np.uint8 else (-128, 127)
    xq = ((np.clip(np.rint(x.astype(np.float32) / s) + int(zp), lo, hi) - int(zp)) * s).astype(np.float32)
    wdq = producer(plain, n.input[1])
    w = inits[wdq.input[0]].astype(np.float64) * inits[wdq.input[1]].reshape(-1, *([1] * (inits[wdq.input[0]].ndim - 1)))
    if n.op_type == "Conv":
        return conv(xq, w.astype(np.float32), bias, attr(n, "pads", [0, 0, 0, 0]))
    return xq.astype(np.float64) @ (w.T if attr(n, "transB", 0) else w) + bias


def expected_biases(fp32, plain, xs):
    """numpy's bias correction of `plain` (the --no-bias-correction model): per layer, on its FP32
    input, delta = mean(quantized layer) - mean(FP32 layer) per output channel, and
    b <- round(b / s - delta / s); a missing bias is 0 on the grid s_x * s_w."""
    q, scale, delta = {}, {}, {}
    for name, n in layer_nodes(plain).items():
        got = int32_bias(plain, name)
        if got is None:
            s_x = np.float32(dq_scale(plain, n.input[0]))
            s_w = dq_scale(plain, n.input[1]).astype(np.float32)
            s = (s_x * s_w).astype(np.float64)
            got = (np.zeros(s.shape, dtype=np.int64), s)
        q[name], scale[name] = got
    fp_nodes = layer_nodes(fp32)
    sum_fp, sum_q = {}, {}
    for x in xs:
        vals = run(fp32, x)
        for name, n in fp_nodes.items():
            axes = (0, 2, 3) if n.op_type == "Conv" else (0,)
            sum_fp[name] = sum_fp.get(name, 0) + vals[n.output[0]].astype(np.float64).mean(axis=axes)
            yq = quantized_layer(plain, name, vals[n.input[0]], (q[name] * scale[name]).astype(np.float32))
            sum_q[name] = sum_q.get(name, 0) + yq.mean(axis=axes)
    for name in q:
        delta[name] = (sum_q[name] - sum_fp[name]) / len(xs)
        q[name] = np.clip(np.rint(q[name] - delta[name] / scale[name]), -2**31, 2**31 - 1).astype(np.int64)
    return q, scale, delta


def main():
    T.require_ort()
    d = T.mkdtemp("qc_biascorr_")
    model = build()
    path = os.path.join(d, "m.onnx")
    onnx.save(model, path)
    calib = os.path.join(d, "calib")
    os.makedirs(calib)
    xs = []
    for i in range(N_SAMPLES):
        x = (rng.uniform(0, 1, (1, C_IN, HW, HW)) + 0.3).astype(np.float32)
        np.save(os.path.join(calib, f"{i:03d}.npy"), x)
        xs.append(x)
    measured = [xs[k * N_SAMPLES // N_MEASURED] for k in range(N_MEASURED)]

    outs = {}
    for tag, extra in [("plain", ["--no-bias-correction"]), ("corrected", [])]:
        out = os.path.join(d, tag + ".onnx")
        r = T.qconvert(path, "--calib", calib, "-o", out, "--no-equalize", "--threads", "2", *extra)
        T.check(r.returncode == 0, f"{tag}: qconvert exits 0", r.stderr.strip()[-400:])
        if r.returncode != 0:
            T.finish("bias_correction")
        outs[tag] = (onnx.load(out), r.stdout + r.stderr, out)
    plain, corrected = outs["plain"][0], outs["corrected"][0]
    T.check("bias correction" not in outs["plain"][1], "--no-bias-correction: no bias correction note")
    T.check("bias correction: 3 layers corrected (1 bias added) over 32 samples" in outs["corrected"][1],
            "default: the summary notes 3 layers corrected, 1 bias added, 32 samples",
            [line for line in outs["corrected"][1].splitlines() if "bias" in line])

    # --load-stats: no samples to measure on, a note and the biases as quantized.
    stats = os.path.join(d, "s.stats")
    T.qconvert(path, "--calib", calib, "-o", os.path.join(d, "s.onnx"), "--no-equalize", "--save-stats", stats)
    r = T.qconvert(path, "--load-stats", stats, "-o", os.path.join(d, "ls.onnx"), "--no-equalize")
    T.check(r.returncode == 0 and "bias correction: skipped, no calibration samples (--load-stats)" in r.stdout + r.stderr,
            "--load-stats: bias correction skipped with a note", (r.stdout + r.stderr).strip()[-300:])
    if r.returncode == 0:
        T.check(np.array_equal(int32_bias(onnx.load(os.path.join(d, "ls.onnx")), "gemm")[0], int32_bias(plain, "gemm")[0]),
                "--load-stats: biases as quantized")

    # --no-bias-correction: the FP32 bias on the int32 grid; Conv B has none.
    for layer, b in [("convA", "ba"), ("gemm", "bg")]:
        q, s = int32_bias(plain, layer)
        want = np.rint(numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == b)) / s)
        T.check(np.array_equal(q, want), f"--no-bias-correction: {layer} bias is round(b / (s_x * s_w))",
                f"got {q} want {want}")
    T.check(int32_bias(plain, "convB") is None and len(layer_nodes(plain)["convB"].input) < 3,
            "--no-bias-correction: Conv B has no bias")

    # Default: numpy's correction of the plain model.
    want_q, want_s, delta1 = expected_biases(model, plain, measured)
    for layer in ("convA", "convB", "gemm"):
        got = int32_bias(corrected, layer)
        if not T.check(got is not None, f"{layer}: the corrected model has an int32 bias behind DequantizeLinear"):
            continue
        q, s = got
        T.check(np.allclose(s, want_s[layer], rtol=1e-6, atol=0), f"{layer}: bias scale is s_x * s_w[c]")
        # float rounding of the means (float32 engine vs float64 numpy) may move a value by a step
        diff = np.abs(q - want_q[layer])
        plain_q = int32_bias(plain, layer)
        moved = np.abs(q - (plain_q[0] if plain_q else 0))
        T.check(diff.max() <= 2, f"{layer}: int32 bias equals numpy's within 2 steps (of {moved.max()} moved)",
                f"got {q} want {want_q[layer]}")
        T.check(np.abs(delta1[layer]).max() > 20 * s.max(),
                f"{layer}: the correction is not trivial (max |delta| {np.abs(delta1[layer]).max():.4g} = "
                f"{np.abs(delta1[layer]).max() / s.max():.0f} bias steps)")

    note = next((line for line in outs["corrected"][1].splitlines() if "bias correction:" in line), "")
    m = re.search(r"largest \|delta\| ([0-9.e+-]+) on \w+ node '(\w+)'", note)
    top = max(delta1, key=lambda k: np.abs(delta1[k]).max())
    want = np.abs(delta1[top]).max()
    T.check(m and m.group(2) == top and abs(float(m.group(1)) - want) <= 1e-3 * want,
            f"the note's largest |delta| is numpy's ({want:.4g} on {top})", note)

    # Each layer alone on its FP32 input: the corrected model's layer means are FP32's.
    _, _, residual = expected_biases(model, corrected, measured)
    for layer in ("convA", "convB", "gemm"):
        e0, e1 = np.abs(delta1[layer]).max(), np.abs(residual[layer]).max()
        T.check(e1 < 0.05 * e0, f"{layer}: max |mean_q - mean_fp| of the layer alone {e0:.4g} -> {e1:.4g} "
                "(20x smaller)")

    # The corrected model is a valid ONNX model that onnxruntime runs and still fuses.
    ok, why = T.checker_ok(outs["corrected"][2])
    T.check(ok, "corrected model passes onnx.checker full_check", why)
    xin = os.path.join(d, "x.npy")
    np.save(xin, xs[1])
    opt = os.path.join(d, "opt.onnx")
    y, _ = T.ort_run(outs["corrected"][2], {"x": xin}, os.path.join(d, "ort"), optimized_model=opt)
    yq = run(corrected, xs[1])["y"]
    T.check(np.allclose(y[0], yq, atol=1e-3 + 0.02 * np.abs(yq).max()),
            "onnxruntime runs the corrected model (close to the numpy interpreter)", f"{y[0]} vs {yq}")
    ops = [n.op_type for n in onnx.load(opt).graph.node]
    T.check("Conv" not in ops and "Gemm" not in ops and ops.count("QLinearConv") == 2,
            "onnxruntime fuses both Convs (QLinearConv) and the Gemm: no float Conv/Gemm", ops)
    check_weight_only_matmul(d)
    T.finish("bias_correction")


def check_weight_only_matmul(d):
    k, n, samples = 24, 3, 16
    r = np.random.default_rng(11)
    w = r.normal(0, 0.2, (k, n)).astype(np.float32)
    b = r.normal(0, 0.2, n).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"), helper.make_node("Add", ["m", "b"], ["y"], name="add")],
        "wo_matmul", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    path, calib = os.path.join(d, "wo.onnx"), os.path.join(d, "wo_calib")
    onnx.save(model, path)
    os.makedirs(calib)
    xs = [(r.uniform(0, 1, (1, k)) + 0.5).astype(np.float32) for _ in range(samples)]
    for i, x in enumerate(xs):
        np.save(os.path.join(calib, f"{i:03d}.npy"), x)
    out = os.path.join(d, "wo.int8.onnx")
    res = T.qconvert(path, "--calib", calib, "-o", out, "--weight-only", "--threads", "2", check_rc=False)
    if not T.check(res.returncode == 0, "--weight-only MatMul -> Add: qconvert exits 0", res.stderr.strip()[-300:]):
        return
    q = onnx.load(out)
    inits = inits_of(q)
    dq = next(nd for nd in q.graph.node if nd.op_type == "DequantizeLinear" and nd.output[0] in
              next(m for m in q.graph.node if m.op_type == "MatMul").input)
    s = inits[dq.input[1]].astype(np.float64)
    wq = inits[dq.input[0]].astype(np.float64) * s
    x = np.concatenate(xs).astype(np.float64)
    want = b.astype(np.float64) - ((x @ wq).mean(axis=0) - (x @ w.astype(np.float64)).mean(axis=0))
    got = inits["b"].astype(np.float64)
    T.check(np.all(np.isfinite(got)) and np.allclose(got, want, rtol=0, atol=1e-5),
            "--weight-only MatMul -> Add: the float bias is b - delta (numpy)", f"got {got} want {want}")
    xin = os.path.join(d, "wo_x.npy")
    np.save(xin, xs[0])
    y, _ = T.ort_run(out, {"x": xin}, os.path.join(d, "wo_ort"))
    ref = xs[0].astype(np.float64) @ w + b
    err = np.abs(y[0] - ref).max()
    T.check(np.all(np.isfinite(y[0])) and err < 0.05 * np.abs(ref).max(),
            f"--weight-only MatMul -> Add: onnxruntime's output is FP32's within weight rounding (max err {err:.3g})")


if __name__ == "__main__":
    main()
