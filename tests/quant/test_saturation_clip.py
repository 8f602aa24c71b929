#!/usr/bin/python3
"""Ranges before saturating readers (docs/quantization.md, "Saturating readers").

A synthetic onnx.helper model, x[1, 16] -> MatMul -> logits with wide ranges (about +-80) ->
Sigmoid / Tanh / HardSigmoid / Softmax, calibrated with --observer minmax on 32 .npy samples
(so numpy knows every range). Checks:
  * the scale of each clipped logit tensor equals numpy's: the observed range intersected with
    Sigmoid [ln(p/(1-p)) at p = q/2 and 1 - q/2] (q the Sigmoid output's scale), Tanh
    [atanh(-1 + q/2), atanh(1 - q/2)] (q the scale the float Tanh output would have at 8 bits),
    HardSigmoid [-beta/alpha, (1-beta)/alpha] (it is decomposed into Mul, Add, Clip first), each
    widened by one step of the new grid, (hi - lo) / 253, on both sides; HardSwish
    (x * Clip(x + 3, 0, 6) / 6) [-3 - step, observed max], the step that of [-3, observed max];
    the Softmax logits keep their observed range; the JSON report lists the three clips;
  * onnxruntime's INT8 Sigmoid output is within about one output quantum of FP32 (RMS <= q,
    max <= 2.5 q: half a logit step times the slope 1/4, plus the output's own rounding) on 16
    held-out inputs (inputs and weights on exact int8 grids, so the logits' grid is the only
    error before the Sigmoid), and closer than with --no-saturation-clip (max error at least 4x
    and RMS at least 2x smaller), which keeps the observed ranges (its logit scale is numpy's minmax one);
  * both models pass onnx.checker(full_check).
"""
import json
import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qc_test as T

rng = np.random.default_rng(11)
N_IN, N_OUT = 16, 32
ALPHA, BETA = 0.2, 0.5


def weights():
    """Integers times 0.05 with one +-127 per column: per-channel int8 holds them exactly."""
    k = rng.integers(-127, 128, (N_IN, N_OUT))
    k[rng.integers(0, N_IN, N_OUT), np.arange(N_OUT)] = 127
    return (k * 0.05).astype(np.float32)


def grid_input(n):
    """Inputs on the uint8 grid of [-2.56, 2.54] (step 0.02, zero point 128): quantized exactly,
    so the logits' own quantization is the only error before the saturating op."""
    return ((rng.integers(0, 256, (n, 1, N_IN)) - 128) * 0.02).astype(np.float32)


def build():
    nodes, inits, outs = [], [], []
    for name, op in [("sig", "Sigmoid"), ("tanh", "Tanh"), ("hsig", "HardSigmoid"), ("soft", "Softmax")]:
        w = weights()
        inits.append(numpy_helper.from_array(w, name + "_w"))
        nodes.append(helper.make_node("MatMul", ["x", name + "_w"], [name + "_logits"], name=name + "_mm"))
        attrs = dict(alpha=ALPHA, beta=BETA) if op == "HardSigmoid" else dict(axis=1) if op == "Softmax" else {}
        nodes.append(helper.make_node(op, [name + "_logits"], [name + "_out"], name=name, **attrs))
        outs.append(helper.make_tensor_value_info(name + "_out", TensorProto.FLOAT, [1, N_OUT]))
    # A HardSwish as exporters write it at opset 13: x * Clip(x + 3, 0, 6) / 6.
    inits.append(numpy_helper.from_array(weights(), "hsw_w"))
    for name, v in [("three", 3.0), ("zero", 0.0), ("six", 6.0)]:
        inits.append(numpy_helper.from_array(np.array(v, np.float32), name))
    nodes += [helper.make_node("MatMul", ["x", "hsw_w"], ["hsw_logits"], name="hsw_mm"),
              helper.make_node("Add", ["hsw_logits", "three"], ["hsw_shift"], name="hsw_add"),
              helper.make_node("Clip", ["hsw_shift", "zero", "six"], ["hsw_gate"], name="hsw_clip"),
              helper.make_node("Mul", ["hsw_logits", "hsw_gate"], ["hsw_prod"], name="hsw_mul"),
              helper.make_node("Div", ["hsw_prod", "six"], ["hsw_out"], name="hsw_div")]
    outs.append(helper.make_tensor_value_info("hsw_out", TensorProto.FLOAT, [1, N_OUT]))
    g = helper.make_graph(nodes, "saturation", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, N_IN])],
                          outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


def uint8_scale(lo, hi):
    """qconvert's uint8 scale of a range: widened to include 0, (max - min) / 255 in float32."""
    lo, hi = min(np.float32(lo), np.float32(0)), max(np.float32(hi), np.float32(0))
    return float(np.float32((np.float64(np.float32(hi - lo))) / 255.0))


def q_scale(model, tensor):
    """The scale of the QuantizeLinear reading `tensor` (None if there is none)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[0] == tensor:
            return float(inits[n.input[1]])
    return None


def expected_ranges(m, xs):
    """numpy's ranges: observed (float32 MatMul on the calibration samples), and clipped."""
    w = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    logits = {k: np.concatenate([x @ w[k + "_w"] for x in xs]) for k in ("sig", "tanh", "hsig", "soft", "hsw")}
    observed = {k: (float(v.min()), float(v.max())) for k, v in logits.items()}
    sig = 1 / (1 + np.exp(-logits["sig"].astype(np.float64)))
    q_sig = uint8_scale(sig.min(), sig.max())
    top = min(255 * q_sig, 1.0) - q_sig / 2  # the output grid's top, [0, 255 q]
    l_sig = (math.log((q_sig / 2) / (1 - q_sig / 2)), math.log(top / (1 - top)))
    th = np.tanh(logits["tanh"].astype(np.float64))
    q_tanh = uint8_scale(th.min(), th.max())
    l_tanh = (math.atanh(-1 + q_tanh / 2), math.atanh(1 - q_tanh / 2))  # a float output: Tanh's limits
    bounds = {"sig": l_sig, "tanh": l_tanh, "hsig": (-BETA / ALPHA, (1 - BETA) / ALPHA)}
    margin = {k: (b[1] - b[0]) / 253 for k, b in bounds.items()}  # one step of the new grid
    clipped = {k: (max(observed[k][0], b[0] - margin[k]), min(observed[k][1], b[1] + margin[k]))
               for k, b in bounds.items()}
    # HardSwish: every x <= -3 gives 0, the top is open; the step is that of [-3, observed max].
    hsw_margin = (observed["hsw"][1] + 3) / 253
    clipped["hsw"] = (max(observed["hsw"][0], -3 - hsw_margin), observed["hsw"][1])
    return observed, clipped, q_sig


def main():
    T.require_ort()
    m = build()
    with T.tempdir("qc_satclip_") as tmp:
        path = os.path.join(tmp, "m.onnx")
        onnx.save(m, path)
        calib = os.path.join(tmp, "calib")
        os.makedirs(calib)
        xs = list(grid_input(32))
        xs[0][0, :2] = np.float32(-2.56), np.float32(2.54)  # the grid's ends
        for i, x in enumerate(xs):
            np.save(os.path.join(calib, f"{i:02d}.npy"), x)
        observed, clipped, q_sig = expected_ranges(m, xs)
        T.check(observed["sig"][1] - observed["sig"][0] > 40, f"the logits are wide: {observed['sig']}")

        models = {}
        for tag, extra in [("clip", []), ("noclip", ["--no-saturation-clip"])]:
            out, rep = os.path.join(tmp, tag + ".onnx"), os.path.join(tmp, tag + ".json")
            r = T.qconvert(path, "--calib", calib, "--observer", "minmax", "-o", out, "--report", rep, "--quiet",
                           *extra)
            if not T.check(r.returncode == 0, f"{tag}: qconvert rc {r.returncode} {r.stderr.strip()[-300:]}"):
                T.finish("saturation_clip")
            ok, err = T.checker_ok(out)
            T.check(ok, f"{tag}: onnx.checker full_check {err}")
            with open(rep) as f:
                models[tag] = (onnx.load(out), json.load(f), out)

        q, report, _ = models["clip"]
        for k, (lo, hi) in clipped.items():
            want, got = uint8_scale(lo, hi), q_scale(q, k + "_logits")
            T.check(got is not None and abs(got - want) <= 1e-5 * want,
                    f"{k}: logit scale {got} = numpy's {want:.7g} (range {observed[k][0]:.2f}..{observed[k][1]:.2f} "
                    f"clipped to {lo:.4f}..{hi:.4f})")
        want = uint8_scale(*observed["soft"])
        got = q_scale(q, "soft_logits")
        T.check(got is not None and abs(got - want) <= 1e-5 * want,
                f"soft: Softmax logits keep the observed range (scale {got}, numpy {want:.7g})")
        listed = {c["tensor"]: c for c in report.get("saturation_clips", [])}
        T.check(set(listed) == {"sig_logits", "tanh_logits", "hsig_logits", "hsw_logits"},
                f"the report lists the four clipped tensors {sorted(listed)}")
        for k, by in [("sig", "Sigmoid"), ("tanh", "Tanh"), ("hsig", "Add+Clip"), ("hsw", "HardSwish")]:
            c = listed.get(k + "_logits", {})
            T.check(c.get("read_by") == by and abs(c.get("min", 0) - clipped[k][0]) < 1e-4 and
                    abs(c.get("max", 0) - clipped[k][1]) < 1e-4,
                    f"report: {k}_logits read by {c.get('read_by')} clipped to {c.get('min')}..{c.get('max')}")
        noclip = models["noclip"][0]
        want = uint8_scale(*observed["sig"])
        got = q_scale(noclip, "sig_logits")
        T.check(got is not None and abs(got - want) <= 1e-5 * want,
                f"--no-saturation-clip keeps the observed range (scale {got}, numpy {want:.7g})")
        T.check(not models["noclip"][1].get("saturation_clips"), "--no-saturation-clip: no clips reported")

        # onnxruntime: INT8 against FP32 on held-out inputs.
        tests = list(grid_input(16))
        files = []
        for i, x in enumerate(tests):
            files.append(os.path.join(tmp, f"t{i}.npy"))
            np.save(files[-1], x)

        def outputs(model, tag):
            return [T.ort_run(model, {"x": f}, os.path.join(tmp, f"{tag}{i}"))[0] for i, f in enumerate(files)]
        ref = outputs(path, "f")
        errs = {}
        for tag in ("clip", "noclip"):
            got = outputs(models[tag][2], tag)
            d = np.concatenate([g[0] - r[0] for g, r in zip(got, ref)]).ravel()
            errs[tag] = (float(np.sqrt(np.mean(d ** 2))), float(np.abs(d).max()))
        (rms, mx), (rms0, mx0) = errs["clip"], errs["noclip"]
        T.check(rms <= q_sig and mx <= 2.5 * q_sig,
                f"INT8 Sigmoid output within about one quantum q = {q_sig:.5f}: RMS {rms / q_sig:.2f} q, "
                f"max {mx / q_sig:.2f} q")
        T.check(mx0 >= 4 * mx and rms0 >= 2 * rms, f"without the clip: RMS {rms0 / q_sig:.2f} q, max "
                f"{mx0 / q_sig:.2f} q (at least 2x the clipped RMS and 4x its max; most outputs saturate)")
    T.finish("saturation_clip")


if __name__ == "__main__":
    main()
