#!/usr/bin/python3
"""Discrete post-processing stays float (docs/quantization.md, "Float regions").

A synthetic onnx.helper model with M-LSD's peak picking: x[1, 1, 32, 32] -> Conv (3x3 blur)
-> Conv (1x1, the logits) -> Sigmoid -> s; MaxPool 3x3 (stride 1, pad 1) of s; Equal(s, maxpool)
-> Cast(float) -> Mul(s, mask) = scores; calibrated on 16 .npy fields of a few bright blobs.
Checks:
  * no QuantizeLinear reads the logits, s, the MaxPool output or the mask, and no Q/DQ sits
    between the logits Conv and `scores` (the decision region), while the first Conv's input
    and both Convs' weights are quantized (DequantizeLinear in front of them);
  * onnx.checker(full_check) passes; onnxruntime runs it, and on 8 held-out fields the peaks
    (scores > 0.1) are exactly FP32's and the scores within 1 % of the peak heights;
  * the JSON report's float_regions lists the region (decided by the Equal; MaxPool, Equal,
    Cast, Mul and Sigmoid among its nodes; the logits Conv's output float) and the .txt
    report says "float by design";
  * --min-sqnr 150 (out of reach: the whole search runs) ranks only the two Convs: the
    region's compute nodes (Sigmoid, Mul) stay float whatever the mask says, so the report's
    warning says "the ranking covers 2 compute nodes; 2 more stay float by design", no region node is named
    as kept in FP32, and onnxruntime runs the result (finite scores with peaks; the search
    leaves the logits Conv int8, so the peak set may differ from FP32's by one).
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qc_test as T

rng = np.random.default_rng(5)
H = W = 32


def build():
    blur = np.full((4, 1, 3, 3), 1 / 9, np.float32) * rng.uniform(0.8, 1.2, (4, 1, 1, 1)).astype(np.float32)
    head = rng.uniform(0.1, 0.3, (1, 4, 1, 1)).astype(np.float32)  # logits up to about 3: no float plateaus
    inits = [numpy_helper.from_array(blur, "blur_w"), numpy_helper.from_array(head, "head_w"),
             numpy_helper.from_array(np.array([-4.0], np.float32), "head_b")]
    nodes = [
        helper.make_node("Conv", ["x", "blur_w"], ["feat"], pads=[1, 1, 1, 1], name="blur"),
        helper.make_node("Conv", ["feat", "head_w", "head_b"], ["logits"], name="head"),
        helper.make_node("Sigmoid", ["logits"], ["s"], name="sigmoid"),
        helper.make_node("MaxPool", ["s"], ["pooled"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="maxpool"),
        helper.make_node("Equal", ["s", "pooled"], ["is_peak"], name="equal"),
        helper.make_node("Cast", ["is_peak"], ["mask"], to=TensorProto.FLOAT, name="cast"),
        helper.make_node("Mul", ["s", "mask"], ["scores"], name="mul"),
    ]
    g = helper.make_graph(nodes, "peaks", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, H, W])],
                          [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, H, W])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


def blobs():
    """A field of 3-6 Gaussian blobs of different heights on faint noise."""
    yy, xx = np.mgrid[0:H, 0:W]
    f = rng.normal(0, 0.05, (H, W))
    for _ in range(rng.integers(3, 7)):
        cy, cx, r, a = rng.uniform(3, H - 3), rng.uniform(3, W - 3), rng.uniform(1.5, 3), rng.uniform(2, 8)
        f += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return f.astype(np.float32)[None, None]


def fallback(tmp, path, calib, region_nodes):
    """--min-sqnr ranks the Convs only; the region's Sigmoid and Mul are no trials."""
    out, rep = os.path.join(tmp, "m.sqnr.onnx"), os.path.join(tmp, "m.sqnr.json")
    r = T.qconvert(path, "--calib", calib, "-o", out, "--report", rep, "--quiet", "--min-sqnr", "150")
    if not T.check(r.returncode == 0, f"--min-sqnr: qconvert rc {r.returncode} {r.stderr.strip()[-300:]}"):
        return
    with open(rep) as f:
        warnings = json.load(f).get("warnings", [])
    T.check(any("the ranking covers 2 compute nodes; 2 more stay float by design" in w for w in warnings),
            "--min-sqnr ranks the 2 Convs, not the region's Sigmoid and Mul", str(warnings))
    kept = next((w for w in warnings if "most sensitive node" in w), "")
    names = {n.split("'")[1] for n in region_nodes if "'" in n}
    T.check(kept and not any(f" {n} (" in kept for n in names), f"no region node kept by the search: {kept}")
    x = os.path.join(tmp, "s.npy")
    np.save(x, blobs())
    ref = T.ort_run(path, {"x": x}, os.path.join(tmp, "sf"))[0][0]
    got = T.ort_run(out, {"x": x}, os.path.join(tmp, "sq"))[0][0]
    T.check(got.shape == ref.shape and bool(np.isfinite(got).all()) and bool((got > 0.1).any()),
            f"--min-sqnr result runs in onnxruntime: {got.shape}, {int((got > 0.1).sum())} peaks "
            f"(FP32 {int((ref > 0.1).sum())})")


def main():
    T.require_ort()
    m = build()
    with T.tempdir("qc_regions_") as tmp:
        path = os.path.join(tmp, "m.onnx")
        onnx.save(m, path)
        calib = os.path.join(tmp, "calib")
        os.makedirs(calib)
        for i in range(16):
            np.save(os.path.join(calib, f"{i:02d}.npy"), blobs())
        out, rep, txt = (os.path.join(tmp, n) for n in ("m.int8.onnx", "m.json", "m.txt"))
        r = T.qconvert(path, "--calib", calib, "-o", out, "--report", rep, "--report", txt, "--quiet")
        if not T.check(r.returncode == 0, f"qconvert rc {r.returncode} {r.stderr.strip()[-300:]}"):
            T.finish("float_regions")
        ok, err = T.checker_ok(out)
        T.check(ok, f"onnx.checker full_check {err}")

        q = onnx.load(out)
        quantized = {n.input[0] for n in q.graph.node if n.op_type == "QuantizeLinear"}
        region = {"logits", "s", "pooled", "mask", "scores"}
        T.check(not (quantized & region), f"no QuantizeLinear reads the decision region {sorted(quantized & region)}")
        prod = {o: n for n in q.graph.node for o in n.output}
        head = next((n for n in q.graph.node if n.op_type == "Conv" and n.output[0] == "logits"), None)
        T.check(head is not None and all(prod.get(i) is not None and prod[i].op_type == "DequantizeLinear"
                                          for i in head.input),
                "the logits Conv keeps int8 inputs and weights (DequantizeLinear on every input)")
        T.check("feat" in quantized and "x" in quantized, f"the Convs' activations are quantized {sorted(quantized)}")
        tail = [n.op_type for n in q.graph.node if set(n.input) & region or set(n.output) & (region - {"logits"})]
        T.check(not {"QuantizeLinear", "DequantizeLinear"} & set(tail), f"the region's ops are float: {tail}")

        peaks_ref, peaks_q, worst = 0, 0, 0.0
        same = True
        for i in range(8):
            x = os.path.join(tmp, f"t{i}.npy")
            np.save(x, blobs())
            ref = T.ort_run(path, {"x": x}, os.path.join(tmp, f"f{i}"))[0][0]
            got = T.ort_run(out, {"x": x}, os.path.join(tmp, f"q{i}"))[0][0]
            a, b = ref > 0.1, got > 0.1
            same &= bool(np.array_equal(a, b))
            peaks_ref += int(a.sum())
            peaks_q += int(b.sum())
            if a.any():
                worst = max(worst, float(np.abs(ref - got)[a | b].max() / ref[a].max()))
        T.check(same and peaks_ref > 8, f"INT8 peaks equal FP32's on 8 held-out fields ({peaks_q} vs {peaks_ref})")
        T.check(worst <= 0.01, f"peak scores within 1 % of the peak height (worst {100 * worst:.2f} %)")

        with open(rep) as f:
            regions = json.load(f).get("float_regions", [])
        T.check(len(regions) == 1, f"the JSON report lists one float region ({len(regions)})")
        if regions:
            reg = regions[0]
            ops = {n.split(" ")[0] for n in reg["nodes"]}
            T.check(reg["decided_by"] == "Equal 'equal'", f"decided by {reg['decided_by']}")
            T.check({"Sigmoid", "MaxPool", "Equal", "Cast", "Mul"} <= ops, f"its nodes {reg['nodes']}")
            T.check(reg["float_outputs_of"] == ["Conv 'head'"], f"float output of {reg['float_outputs_of']}")
            T.check(reg["float_bytes_per_sample"] == 3 * 4 * H * W,
                    f"float bytes per sample {reg['float_bytes_per_sample']} = logits, s, pooled: 3 x {H}x{W} float32")
        with open(txt) as f:
            T.check("float by design (decided by Equal 'equal')" in f.read(), ".txt report: float by design")
        fallback(tmp, path, calib, regions[0]["nodes"] if regions else [])
    T.finish("float_regions")


if __name__ == "__main__":
    main()
