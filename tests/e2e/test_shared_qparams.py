#!/usr/bin/python3
"""Where a tensor can reuse another's int8 tensor or qparams exactly (docs/quantization.md).

Mul by a positive scalar constant is folded into its input's scale, and a Concat of one tensor
with zero padding reuses that tensor's qparams. Synthetic onnx.helper models, calibrated on 16
random .npy samples:

  fold      Conv -> Relu -> Mul(0.25) -> Mul([3.0]) -> Conv -> Relu -> Mul(0.5) = graph output
            (the Relus keep the prepare pass fold_affine from folding the Muls into the Convs): no Mul is left;
            each folded tensor still read is the producer's int8 tensor read by a
            DequantizeLinear whose scale is c * (the producer's Q scale) in float32, with the
            same zero point (chains multiply: 0.75); the graph output keeps its name; the
            second Conv's int32 bias scale is its input scale times the weight scale, so
            onnxruntime still fuses it (no float Conv in its optimized graph).
  kept      Conv -> Relu, then Mul by -0.5, by a [1, C, 1, 1] tensor, and by a rank-5 scalar (which would
            broadcast the output to rank 5) stay Mul nodes.
  relu      Conv -> Mul(0.5) -> Relu -> Conv: the Relu still clips (it is not absorbed into
            the folded Mul).
  int8      --activation-type int8: folded the same way, zero point 0.
  pad       Conv -> MaxPool -> Concat(x, zeros) -> Conv, the zeros from a ConstantOfShape (2 KiB,
            not folded) or an initializer: the Concat's output has exactly x's scale and zero
            point; a Concat of two data tensors keeps its own calibrated scale.
For every model the output passes onnx.checker(full_check), and onnxruntime's INT8 output
matches onnxruntime's FP32 output (SQNR >= 30 dB) on 4 held-out inputs; folding is not less
accurate than keeping the Muls in float (--op-types Conv) by more than 1 dB.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import e2e_util as U
import qc_test as T

rng = np.random.default_rng(7)
C = 8


def conv_w(cin, cout):
    return (rng.standard_normal((cout, cin, 3, 3)) * 0.3).astype(np.float32)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def build(body, out_shape):
    """body(nodes, inits) appends nodes from 'x' and returns the output value name."""
    nodes, inits = [], []
    out = body(nodes, inits)
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


def conv(nodes, inits, x, y, cin, cout):
    inits += [init(y + "_w", conv_w(cin, cout)), init(y + "_b", rng.standard_normal(cout) * 0.1)]
    nodes.append(helper.make_node("Conv", [x, y + "_w", y + "_b"], [y], pads=[1, 1, 1, 1], name=y))


def mul(nodes, inits, x, y, c):
    inits.append(init(y + "_c", c))
    nodes.append(helper.make_node("Mul", [x, y + "_c"], [y], name=y))


def relu(nodes, x, y):
    nodes.append(helper.make_node("Relu", [x], [y], name=y))


# A Mul straight after a Conv would be folded into its weights (the prepare pass fold_affine):
# the Relus keep these Muls in the graph for the QDQ pass.
def m_fold(nodes, inits):
    conv(nodes, inits, "x", "c1", 3, C)
    relu(nodes, "c1", "r1")
    mul(nodes, inits, "r1", "m1", 0.25)
    mul(nodes, inits, "m1", "m2", np.array([3.0], np.float32))  # shape [1] broadcasts fine
    conv(nodes, inits, "m2", "c2", C, C)
    relu(nodes, "c2", "r2")
    mul(nodes, inits, "r2", "out", 0.5)
    return "out"


def m_kept(nodes, inits):
    conv(nodes, inits, "x", "c1", 3, C)
    relu(nodes, "c1", "r1")
    mul(nodes, inits, "r1", "neg", -0.5)
    mul(nodes, inits, "neg", "chan", rng.uniform(0.5, 2, (1, C, 1, 1)))
    conv(nodes, inits, "chan", "c2", C, C)
    mul(nodes, inits, "c2", "out", np.full((1, 1, 1, 1, 1), 2.0))
    return "out"


def m_relu(nodes, inits):
    conv(nodes, inits, "x", "c1", 3, C)
    mul(nodes, inits, "c1", "m1", 0.5)
    nodes.append(helper.make_node("Relu", ["m1"], ["r1"], name="r1"))
    conv(nodes, inits, "r1", "out", C, C)
    return "out"


def m_pad(zeros_kind):
    """Conv -> MaxPool -> Concat(pooled, padding) -> Conv. The pooled tensor shares the Conv's
    qparams, so a Concat calibrated on its own would round it again (BlazeFace's pattern)."""
    pad_c = 32  # [1, 32, 4, 4] float32 = 2 KiB: a generator this big is not constant-folded

    def body(nodes, inits):
        conv(nodes, inits, "x", "c1", 3, C)
        nodes.append(helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="p1"))
        if zeros_kind == "generator":
            inits.append(numpy_helper.from_array(np.array([1, pad_c, 4, 4], np.int64), "pad_shape"))
            nodes.append(helper.make_node("ConstantOfShape", ["pad_shape"], ["zeros"], name="zeros",
                                          value=numpy_helper.from_array(np.zeros(1, np.float32))))
            other, cin = "zeros", C + pad_c
        elif zeros_kind == "initializer":
            inits.append(init("zeros", np.zeros((1, pad_c, 4, 4))))
            other, cin = "zeros", C + pad_c
        else:  # a second data tensor
            conv(nodes, inits, "x", "c0", 3, C)
            nodes.append(helper.make_node("MaxPool", ["c0"], ["p0"], kernel_shape=[2, 2], strides=[2, 2], name="p0"))
            other, cin = "p0", 2 * C
        nodes.append(helper.make_node("Concat", ["p1", other], ["cat"], axis=1, name="cat"))
        conv(nodes, inits, "cat", "out", cin, C)
        return "out"
    return body


def qdq_params(m, inits, prod, value):
    """(scale, zero point) of the DequantizeLinear that produces `value`."""
    dq = prod[value]
    return float(inits[dq.input[1]]), int(inits[dq.input[2]])


def graph_maps(m):
    inits = U.initializers(m)
    prod = {o: n for n in m.graph.node for o in n.output}
    return inits, prod


def check_folded(tag, m, folded, factors):
    """Each folded value is DQ(q, c * s_q, zp_q) of the quantized tensor q of its source."""
    inits, prod = graph_maps(m)
    for name, (src, c) in zip(folded, factors):
        dq = prod.get(name)
        if not T.check(dq is not None and dq.op_type == "DequantizeLinear",
                       f"{tag}: '{name}' is produced by a DequantizeLinear ({dq.op_type if dq else None})"):
            continue
        q = prod.get(dq.input[0])
        ok = q is not None and q.op_type == "QuantizeLinear"
        # The source Q reads the producer's output (or its _prequant name if it is a graph output).
        if ok:
            s_q, z_q = inits[q.input[1]], inits[q.input[2]]
            s_dq, z_dq = inits[dq.input[1]], inits[dq.input[2]]
            want = np.float32(np.float64(s_q) * c)
            ok = s_dq == want and z_dq == z_q and z_dq.dtype == z_q.dtype
            T.check(ok, f"{tag}: '{name}' = DQ of the {src} tensor with scale {float(s_dq):.6g} = "
                        f"{c} * {float(s_q):.6g} (want {float(want):.6g}), zero point {z_dq} = {z_q}")
        else:
            T.check(False, f"{tag}: '{name}' reads a quantized tensor ({q.op_type if q else None})")


def run_case(tmp, tag, m, args, calib, xs):
    path = os.path.join(tmp, tag + ".onnx")
    onnx.save(m, path)
    out = os.path.join(tmp, tag + ".int8.onnx")
    r = T.qconvert(path, "--calib", calib, "-o", out, "--quiet", *args)
    if not T.check(r.returncode == 0, f"{tag}: qconvert rc {r.returncode} {r.stderr.strip()[:200]}"):
        return None, None
    good, err = T.checker_ok(out)
    T.check(good, f"{tag}: onnx.checker full_check {err}")
    q = onnx.load(out)
    T.check([o.name for o in q.graph.output] == [o.name for o in m.graph.output],
            f"{tag}: graph output names kept")
    sq = None
    if T.ort_missing() is None:
        ref = np.concatenate([T.ort_run(path, {"x": x}, os.path.join(tmp, f"{tag}_f{i}"))[0][0]
                              for i, x in enumerate(xs)])
        opt = os.path.join(tmp, tag + ".opt.onnx")
        got = np.concatenate([T.ort_run(out, {"x": x}, os.path.join(tmp, f"{tag}_q{i}"),
                                        optimized_model=opt if i == 0 else None)[0][0]
                              for i, x in enumerate(xs)])
        sq = T.sqnr_db(ref, got)
        T.check(sq >= 30, f"{tag}: onnxruntime INT8 vs FP32 SQNR {sq:.1f} dB (>= 30)")
        float_conv = [n.name for n in onnx.load(opt).graph.node if n.op_type in U.FLOAT_COMPUTE_OPS]
        T.check(not float_conv, f"{tag}: no float Conv in onnxruntime's optimized graph {float_conv}")
    return q, sq


def main():
    with T.tempdir("qc_e2e_rescale_") as tmp:
        calib = os.path.join(tmp, "calib")
        os.makedirs(calib)
        for i in range(16):
            np.save(os.path.join(calib, f"{i:02d}.npy"), rng.standard_normal((1, 3, 8, 8)).astype(np.float32))
        xs = []
        for i in range(4):
            xs.append(os.path.join(tmp, f"x{i}.npy"))
            np.save(xs[-1], rng.standard_normal((1, 3, 8, 8)).astype(np.float32))

        fold = build(m_fold, [1, C, 8, 8])
        q, sq_fold = run_case(tmp, "fold", fold, [], calib, xs)
        if q:
            muls = [n.name for n in q.graph.node if n.op_type == "Mul"]
            T.check(not muls, f"fold: no Mul left ({muls})")
            # m1 is read only by the second Mul, so its DequantizeLinear is gone too.
            T.check("m1" not in {i for n in q.graph.node for i in n.input}, "fold: nothing reads m1")
            check_folded("fold", q, ["m2", "out"], [("c1", 0.75), ("c2", 0.5)])
            inits, prod = graph_maps(q)
            c2 = next(n for n in q.graph.node if n.op_type == "Conv" and n.input[0] == "m2")
            s_x = inits[prod["m2"].input[1]]
            s_w = inits[prod[c2.input[1]].input[1]]
            s_b = inits[prod[c2.input[2]].input[1]]
            T.check(np.allclose(s_b, np.float32(s_x) * s_w, rtol=1e-6, atol=0),
                    "fold: the second Conv's bias scale is its (folded) input scale times the weight scale")
        # Reference: the same model with the Muls left in float.
        _, sq_float = run_case(tmp, "fold_nomul", fold, ["--op-types", "Conv"], calib, xs)
        if sq_fold is not None and sq_float is not None:
            T.check(sq_fold >= sq_float - 1.0, f"fold: SQNR {sq_fold:.1f} dB, not worse than with the Muls "
                                                f"kept in float ({sq_float:.1f} dB) by more than 1 dB")

        q, _ = run_case(tmp, "kept", build(m_kept, [1, 1, C, 8, 8]), [], calib, xs)
        if q:
            muls = sorted(n.name for n in q.graph.node if n.op_type == "Mul")
            T.check(muls == ["chan", "neg", "out"], f"kept: negative, per-channel and rank-raising Muls "
                                                    f"stay ({muls})")

        relu = build(m_relu, [1, C, 8, 8])
        q, _ = run_case(tmp, "relu", relu, [], calib, xs)
        if q:
            inits, prod = graph_maps(q)
            relus = [n for n in q.graph.node if n.op_type == "Relu"]
            # Either the Relu node stays, or its clipping is carried by a zero point at qmin.
            clipped = bool(relus)
            if not relus:
                c2 = next(n for n in q.graph.node if n.op_type == "Conv" and n.name == "out")
                dq = prod[c2.input[0]]
                clipped = int(inits[dq.input[2]]) == 0
            T.check(clipped, f"relu: the Relu after a folded Mul still clips ({len(relus)} Relu left)")

        q, _ = run_case(tmp, "int8", fold, ["--activation-type", "int8"], calib, xs)
        if q:
            T.check(not [n for n in q.graph.node if n.op_type == "Mul"], "int8: no Mul left")
            check_folded("int8", q, ["m2", "out"], [("c1", 0.75), ("c2", 0.5)])

        for kind in ("generator", "initializer", "data"):
            q, _ = run_case(tmp, "pad_" + kind, build(m_pad(kind), [1, C, 4, 4]), [], calib, xs)
            if not q:
                continue
            inits, prod = graph_maps(q)
            cat = next(n for n in q.graph.node if n.op_type == "Concat")
            q_out = next(n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "cat")
            out_qp = float(inits[q_out.input[1]]), int(inits[q_out.input[2]])
            in_qp = qdq_params(q, inits, prod, cat.input[0])
            if kind == "data":
                T.check(out_qp != in_qp, f"pad_data: a Concat of two data tensors has its own qparams "
                                         f"{out_qp} (first input {in_qp})")
            else:
                T.check(out_qp == in_qp, f"pad_{kind}: the Concat output reuses its data input's scale and "
                                         f"zero point {out_qp} == {in_qp}")
    T.finish()


if __name__ == "__main__":
    main()
