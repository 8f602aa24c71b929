#!/usr/bin/python3
"""--rounding adaround end to end (docs/quantization.md, "AdaRound").

A synthetic onnx.helper model with every layer form AdaRound learns: x[1, 1, 16, 16] -> Conv
3x3 stride 2 pad 1 (reads the graph input) -> Relu -> depthwise Conv 3x3 dilation 2 pad 2
(group 8) -> Relu -> Conv 1x1 8->16 -> Relu -> Flatten -> Gemm (transB 1, alpha 0.5) -> Relu
-> MatMul (B [32, 10]) = y; calibrated on 24 .npy fields of smooth noise. Checks:
  * `--rounding adaround` and the default both give models that pass onnx.checker(full_check)
    and run in onnxruntime;
  * the two models have the same nodes and the same initializers except the int8 weights,
    which differ by at most 1 and in some places (scales, zero points and int32 biases equal):
    a weight mapped back into the wrong layout (the Gemm / MatMul transposes, the im2col
    order) would move by more than one step;
  * on 16 held-out fields the adaround model's output SQNR against FP32 (onnxruntime) is
    above the nearest model's: the learned rounding fits the layers' real inputs;
  * the summary notes "adaround: 5 layers, 16 samples";
  * the output is byte-identical at --threads 1 and 2;
  * `--rounding up` and `--rounding adaround` with --load-stats are refused with exit 2.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qc_test as T

rng = np.random.default_rng(14)


def build():
    def w(*shape, scale=0.3):
        return (rng.normal(0, scale, shape)).astype(np.float32)

    inits = [numpy_helper.from_array(w(8, 1, 3, 3), "c1_w"), numpy_helper.from_array(w(8, scale=0.1), "c1_b"),
             numpy_helper.from_array(w(8, 1, 3, 3), "dw_w"), numpy_helper.from_array(w(8, scale=0.1), "dw_b"),
             numpy_helper.from_array(w(16, 8, 1, 1), "pw_w"), numpy_helper.from_array(w(16, scale=0.1), "pw_b"),
             numpy_helper.from_array(w(32, 1024, scale=0.05), "fc_w"), numpy_helper.from_array(w(32, scale=0.1), "fc_b"),
             numpy_helper.from_array(w(32, 10), "out_w")]
    nodes = [
        helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["a1"], strides=[2, 2], pads=[1, 1, 1, 1], name="c1"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "dw_w", "dw_b"], ["a2"], group=8, dilations=[2, 2], pads=[2, 2, 2, 2],
                         name="dw"),
        helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
        helper.make_node("Conv", ["r2", "pw_w", "pw_b"], ["a3"], name="pw"),
        helper.make_node("Relu", ["a3"], ["r3"], name="relu3"),
        helper.make_node("Flatten", ["r3"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["a4"], transB=1, alpha=0.5, name="fc"),
        helper.make_node("Relu", ["a4"], ["r4"], name="relu4"),
        helper.make_node("MatMul", ["r4", "out_w"], ["y"], name="out"),
    ]
    g = helper.make_graph(nodes, "adaround", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


def field():
    """Smooth noise: 4x4 random values upsampled, plus fine noise."""
    coarse = rng.normal(0, 1, (4, 4))
    f = np.kron(coarse, np.ones((4, 4))) + rng.normal(0, 0.2, (16, 16))
    return f.astype(np.float32)[None, None]


def initializers(m):
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def compare_models(near_path, ada_path):
    near, ada = onnx.load(near_path), onnx.load(ada_path)
    same_nodes = [(n.op_type, list(n.input), list(n.output)) for n in near.graph.node] == \
                 [(n.op_type, list(n.input), list(n.output)) for n in ada.graph.node]
    T.check(same_nodes, "same nodes, inputs and outputs as the nearest model")
    a, b = initializers(near), initializers(ada)
    T.check(set(a) == set(b), "same initializer names")
    moved, far, other_diff, int8_weights = 0, 0, [], 0
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.dtype == np.int8 and x.ndim >= 2:  # weights (the zero points are vectors)
            int8_weights += 1
            d = np.abs(x.astype(np.int32) - y.astype(np.int32))
            moved += int((d > 0).sum())
            far += int((d > 1).sum())
        elif x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
            other_diff.append(name)
    T.check(int8_weights == 5, f"5 int8 weight tensors ({int8_weights})")
    T.check(far == 0 and moved > 0, f"int8 weights differ by at most 1 ({moved} moved, {far} by more)")
    T.check(not other_diff, f"scales, zero points and biases are equal {other_diff}")


def main():
    T.require_ort()
    m = build()
    with T.tempdir("qc_adaround_") as tmp:
        path = os.path.join(tmp, "m.onnx")
        onnx.save(m, path)
        calib = os.path.join(tmp, "calib")
        os.makedirs(calib)
        for i in range(24):
            np.save(os.path.join(calib, f"{i:02d}.npy"), field())
        near, ada, ada2 = (os.path.join(tmp, n) for n in ("near.onnx", "ada.onnx", "ada2.onnx"))
        # bias correction (on by default) corrects each rounding differently: off here, so the two
        # models differ in their int8 weights alone
        nobc = "--no-bias-correction"
        r = T.qconvert(path, "--calib", calib, "-o", near, nobc, "--quiet")
        T.check(r.returncode == 0, f"default: qconvert rc {r.returncode}")
        r = T.qconvert(path, "--calib", calib, "-o", ada, "--rounding", "adaround", nobc, "--threads", "1")
        if not T.check(r.returncode == 0, f"--rounding adaround: qconvert rc {r.returncode} {r.stderr[-300:]}"):
            T.finish("adaround")
        note = next((ln.strip() for ln in r.stdout.splitlines() if "adaround:" in ln), "")
        T.check("adaround: 5 layers, 16 samples" in note, f"summary note: {note}")
        for p in (near, ada):
            ok, err = T.checker_ok(p)
            T.check(ok, f"onnx.checker full_check {os.path.basename(p)} {err}")
        compare_models(near, ada)
        r = T.qconvert(path, "--calib", calib, "-o", ada2, "--rounding", "adaround", nobc, "--threads", "2",
                       "--quiet")
        T.check(r.returncode == 0 and T.file_bytes(ada) == T.file_bytes(ada2),
                "--rounding adaround: byte-identical at --threads 1 and 2")

        samples = [{"x": field()} for _ in range(16)]
        ref = T.ort_run_batch(path, samples, os.path.join(tmp, "f"))[0][0]
        got_near = T.ort_run_batch(near, samples, os.path.join(tmp, "n"))[0][0]
        got_ada = T.ort_run_batch(ada, samples, os.path.join(tmp, "a"))[0][0]
        s_near, s_ada = T.sqnr_db(ref, got_near), T.sqnr_db(ref, got_ada)
        T.check(np.isfinite(got_ada).all() and s_ada > s_near,
                f"held-out output SQNR in onnxruntime: adaround {s_ada:.2f} dB > nearest {s_near:.2f} dB")

        r = T.qconvert(path, "--calib", calib, "-o", ada2, "--rounding", "up", check_rc=False)
        T.check(r.returncode == 2 and "--rounding: expected nearest or adaround, got 'up'" in r.stderr,
                "--rounding up -> exit 2", r.stderr.strip())
        stats = os.path.join(tmp, "s.stats")
        T.qconvert(path, "--calib", calib, "-o", ada2, "--save-stats", stats, "--quiet")
        r = T.qconvert(path, "--load-stats", stats, "-o", ada2, "--rounding", "adaround", check_rc=False)
        T.check(r.returncode == 2 and "--load-stats" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
                "--rounding adaround with --load-stats -> exit 2, one line", r.stderr.strip())
    T.finish("adaround")


if __name__ == "__main__":
    main()
