#!/usr/bin/env python3
"""Simplify passes: for demo models and synthetic onnx.helper models, the
simplified model (simplify_tool) must compute the same outputs in qconvert's
engine (max |diff| <= 1e-5 * max |ref|), drop the expected BN / Identity /
Dropout / constant nodes, keep graph output names, and pass
onnx.checker.check_model(full_check=True)."""
import glob
import json
import os
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qc_test import check, checker_ok, finish

QC = os.environ["QCONVERT"]
SRC = os.environ["QC_SOURCE_ROOT"]
TOOL = os.path.join(os.environ["QC_BUILD_ROOT"], "tests", "quant", "simplify_tool")
RTOL = 1e-5
rng = np.random.default_rng(1234)
worst = {}


def run_engine(model_path, inputs, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    args = [QC, "run", model_path, "--output-dir", out_dir, "--threads", "1"]
    for i, x in enumerate(inputs):
        p = os.path.join(out_dir, "in_%d.npy" % i)
        np.save(p, x)
        args += ["--input", p]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("qconvert run %s: %s" % (model_path, r.stderr.strip()))
    outs, i = [], 0
    while os.path.exists(os.path.join(out_dir, "output_%d.pb" % i)):
        t = onnx.TensorProto()
        with open(os.path.join(out_dir, "output_%d.pb" % i), "rb") as f:
            t.ParseFromString(f.read())
        outs.append(numpy_helper.to_array(t))
        i += 1
    return outs


def op_counts(model):
    c = {}
    for n in model.graph.node:
        c[n.op_type] = c.get(n.op_type, 0) + 1
    return c


def random_inputs(model, batch=2):
    inits = {t.name for t in model.graph.initializer}
    xs = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else batch for d in tt.shape.dim]
        dt = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[tt.elem_type]
        xs.append(rng.standard_normal(shape).astype(dt))
    return xs


def verify(name, model, expect_stats=None, expect_ops=None, tmp=None, decompose=False, equalize=False,
           fold_affine=False):
    """Simplifies `model` (and decomposes for int8); checks outputs, stats (subset) and op counts (subset)."""
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    src, dst = os.path.join(d, "in.onnx"), os.path.join(d, "out.onnx")
    if isinstance(model, str):
        src = model
        model = onnx.load(model)
    else:
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, src)
    r = subprocess.run([TOOL, src, dst] + (["--decompose"] if decompose else []) + (["--equalize"] if equalize else [])
                       + (["--fold-affine"] if fold_affine else []), capture_output=True, text=True)
    if r.returncode != 0:
        check(False, name + ": simplify_tool runs", r.stderr.strip())
        return
    stats = json.loads(r.stdout)
    out = onnx.load(dst)
    ok, err = checker_ok(out)
    check(ok, name + ": checker full_check", err)
    check([o.name for o in out.graph.output] == [o.name for o in model.graph.output], name + ": output names kept")
    xs = random_inputs(model)
    try:
        ref = run_engine(src, xs, os.path.join(d, "ref"))
        got = run_engine(dst, xs, os.path.join(d, "got"))
    except RuntimeError as e:
        check(False, name + ": engine runs", str(e))
        return
    rel = 0.0
    ok = len(ref) == len(got)
    for a, b in zip(ref, got):
        if a.shape != b.shape or a.dtype != b.dtype:
            ok = False
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        scale = max(np.abs(a64).max(initial=0.0), 1e-30)
        rel = max(rel, float(np.abs(a64 - b64).max(initial=0.0) / scale))
    worst[name] = rel
    check(ok and rel <= RTOL, name + ": outputs match", "max rel diff %.3g" % rel)
    for k, v in (expect_stats or {}).items():
        check(stats.get(k) == v, name + ": %s == %d" % (k, v), "got %s" % stats.get(k))
    counts = op_counts(out)
    for k, v in (expect_ops or {}).items():
        check(counts.get(k, 0) == v, name + ": %d x %s left" % (v, k), "got %d" % counts.get(k, 0))
    return out


# ---------------------------------------------------------------- builders
def f32(*shape, positive=False):
    a = rng.standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.1 if positive else a


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def bn_inits(prefix, c):
    return [init(prefix + "_s", f32(c)), init(prefix + "_b", f32(c)), init(prefix + "_m", f32(c)),
            init(prefix + "_v", f32(c, positive=True))]


def bn_node(prefix, x, y, eps=1e-5):
    return helper.make_node("BatchNormalization", [x, prefix + "_s", prefix + "_b", prefix + "_m", prefix + "_v"],
                            [y], epsilon=eps)


def vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def model(nodes, inputs, outputs, inits, opset=13, ir=None):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    if ir is not None:
        m.ir_version = ir
    return onnx.shape_inference.infer_shapes(m)


def conv_bn(bias, group=1, cin=4, cout=6, relu=True):
    inits = [init("W", f32(cout, cin // group, 3, 3))] + bn_inits("bn", cout)
    ins = ["x", "W"]
    if bias:
        inits.append(init("Bc", f32(cout)))
        ins.append("Bc")
    nodes = [helper.make_node("Conv", ins, ["c"], pads=[1, 1, 1, 1], group=group), bn_node("bn", "c", "b")]
    out = "b"
    if relu:
        nodes.append(helper.make_node("Relu", ["b"], ["y"]))
        out = "y"
    return model(nodes, [vi("x", [2, cin, 7, 7])], [vi(out, None)], inits)


def convt_bn(bias, group, cin=4, per_group_out=3):
    cout = per_group_out * group
    inits = [init("W", f32(cin, per_group_out, 3, 3))] + bn_inits("bn", cout)
    ins = ["x", "W"]
    if bias:
        inits.append(init("Bt", f32(cout)))
        ins.append("Bt")
    nodes = [helper.make_node("ConvTranspose", ins, ["c"], strides=[2, 2], group=group), bn_node("bn", "c", "y")]
    return model(nodes, [vi("x", [2, cin, 5, 5])], [vi("y", None)], inits)


def gemm_bn(trans_b, c_shape=None, alpha=0.7, beta=0.3, k=8, m=5):
    inits = [init("B", f32(m, k) if trans_b else f32(k, m))] + bn_inits("bn", m)
    ins = ["x", "B"]
    if c_shape is not None:
        inits.append(init("C", f32(*c_shape)))
        ins.append("C")
    nodes = [helper.make_node("Gemm", ins, ["g"], transB=trans_b, alpha=alpha, beta=beta), bn_node("bn", "g", "y")]
    return model(nodes, [vi("x", [2, k])], [vi("y", None)], inits)


def conv_two_consumers():
    inits = [init("W", f32(4, 3, 3, 3))] + bn_inits("bn", 4)
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"]), bn_node("bn", "c", "b"),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Add", ["b", "r"], ["y"])]
    return model(nodes, [vi("x", [1, 3, 6, 6])], [vi("y", None)], inits)


def shared_weight():
    """Two Convs share W and bias: each gets its own folded copies."""
    inits = [init("W", f32(4, 3, 3, 3)), init("Bc", f32(4))] + bn_inits("bn1", 4) + bn_inits("bn2", 4)
    nodes = [helper.make_node("Conv", ["x", "W", "Bc"], ["c1"]), bn_node("bn1", "c1", "y1"),
             helper.make_node("Conv", ["x", "W", "Bc"], ["c2"], pads=[1, 1, 1, 1]), bn_node("bn2", "c2", "y2")]
    return model(nodes, [vi("x", [1, 3, 6, 6])], [vi("y1", None), vi("y2", None)], inits)


def identity_chain():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Identity", ["r"], ["i1"]),
             helper.make_node("Identity", ["i1"], ["i2"]), helper.make_node("Sigmoid", ["i2"], ["s"]),
             helper.make_node("Identity", ["s"], ["y"]),          # feeds a graph output: rename Sigmoid's output
             helper.make_node("Identity", ["x"], ["y2"]),         # graph input -> graph output: must stay
             helper.make_node("Identity", ["s"], ["y3"])]         # reads y after the rename: both names kept
    return model(nodes, [vi("x", [2, 5])], [vi("y", None), vi("y2", None), vi("y3", None)], [])


def dropouts():
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Dropout", ["r"], ["d1"]),                        # removed
             helper.make_node("Dropout", ["d1", "ratio", "train"], ["d2", "unused_mask"]),  # train=false: removed
             helper.make_node("Dropout", ["d2"], ["y", "mask"])]                # mask is a graph output: kept
    inits = [init("ratio", np.array(0.3, np.float32)), init("train", np.array(False))]
    return model(nodes, [vi("x", [2, 5])], [vi("y", None), vi("mask", None, TensorProto.BOOL)], inits)


def dropout_opset10():
    nodes = [helper.make_node("Dropout", ["x"], ["d"], ratio=0.2), helper.make_node("Relu", ["d"], ["y"])]
    return model(nodes, [vi("x", [2, 5])], [vi("y", None)], [], opset=10)


def shape_chain(batch):
    shape = [batch, 3, 4, 5]
    nodes = [helper.make_node("Shape", ["x"], ["shp"]),
             helper.make_node("Gather", ["shp", "idx0"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["newshape"], axis=0),
             helper.make_node("Reshape", ["x", "newshape"], ["y"])]
    inits = [init("idx0", np.array(0, np.int64)), init("axes0", np.array([0], np.int64)),
             init("minus1", np.array([-1], np.int64))]
    return model(nodes, [vi("x", shape)], [vi("y", [batch, 60])], inits)


def misc_constants():
    """Constant, ConstantOfShape, Range, Cast, Equal, Where, Expand, Slice, Squeeze, int Mul/Add."""
    t = helper.make_tensor
    nodes = [helper.make_node("Constant", [], ["two_three"], value=t("v", TensorProto.INT64, [2], [2, 3])),
             helper.make_node("ConstantOfShape", ["two_three"], ["ones"], value=t("o", TensorProto.FLOAT, [1], [1.5])),
             helper.make_node("Range", ["r0", "r6", "r1"], ["rng"]),
             helper.make_node("Equal", ["rng", "three"], ["is3"]),
             helper.make_node("Cast", ["rng"], ["rngf"], to=TensorProto.FLOAT),
             helper.make_node("Where", ["is3", "rngf", "minus"], ["w"]),
             helper.make_node("Mul", ["two_three", "one_one"], ["shape2"]),
             helper.make_node("Add", ["shape2", "zero"], ["shape3"]),
             helper.make_node("Reshape", ["w", "shape3"], ["w23"]),
             helper.make_node("Expand", ["w23", "two_three"], ["we"]),
             helper.make_node("Slice", ["we", "s0", "s1"], ["ws"]),        # [1, 3]
             helper.make_node("Squeeze", ["ws", "ax0"], ["wsq"]),          # [3]
             helper.make_node("Add", ["ones", "wsq"], ["k"]),              # float: not folded (not int)
             helper.make_node("Mul", ["x", "k"], ["y"])]
    inits = [init("r0", np.array(0, np.int64)), init("r6", np.array(6, np.int64)), init("r1", np.array(1, np.int64)),
             init("three", np.array(3, np.int64)), init("minus", np.array(-2.0, np.float32)),
             init("one_one", np.array([1, 1], np.int64)), init("zero", np.array(0, np.int64)),
             init("s0", np.array([0], np.int64)), init("s1", np.array([1], np.int64)), init("ax0", np.array([0], np.int64))]
    return model(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])], inits)


def big_constant():
    """ConstantOfShape of 600x600 floats (1.4 MB) is over the fold cap: stays a node."""
    nodes = [helper.make_node("ConstantOfShape", ["shp"], ["c"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])),
             helper.make_node("Add", ["x", "c"], ["y"])]
    return model(nodes, [vi("x", [600, 600])], [vi("y", None)], [init("shp", np.array([600, 600], np.int64))])


def channel_pad(n):
    """BlazeFace-style channel padding: Concat(x, ConstantOfShape([1,n,64,64]) zeros). A 1x4x64x64
    generator (16 KiB) stays a node: folding it would store the zeros in the file. A 1x1x8x8 one
    (256 B) folds."""
    nodes = [helper.make_node("ConstantOfShape", ["shp"], ["zeros"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0])),
             helper.make_node("Concat", ["x", "zeros"], ["y"], axis=1)]
    hw = 64 if n == 4 else 8
    return model(nodes, [vi("x", [1, 2, hw, hw])], [vi("y", None)],
                 [init("shp", np.array([1, n, hw, hw], np.int64))])


def hard_ops(opset, strip_value_info=False):
    """Relu -> HardSwish (opset 14 only) -> HardSigmoid(alpha 0.3, beta 0.4) -> Div by a constant
    vector, Div by a constant with a zero (kept), Div of a constant by x (kept). x * 4 spans the
    clip regions of both hard ops."""
    nodes = [helper.make_node("Mul", ["x", "four"], ["x4"]), helper.make_node("Relu", ["x4"], ["r"])]
    src = "x4"
    if opset >= 14:
        nodes.append(helper.make_node("HardSwish", [src], ["hs"], name="hswish"))
        src = "hs"
    nodes += [helper.make_node("HardSigmoid", [src], ["hsig"], alpha=0.3, beta=0.4),
              helper.make_node("Add", ["hsig", "r"], ["s"]),
              helper.make_node("Div", ["s", "den"], ["d1"]),
              helper.make_node("Div", ["d1", "den0"], ["d2"]),
              helper.make_node("Div", ["den", "d2"], ["y"])]
    inits = [init("four", np.array(4.0, np.float32)), init("den", np.array([2.0, -4.0, 0.3], np.float32)),
             init("den0", np.array([1.0, 0.0, 2.0], np.float32))]
    m = model(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])], inits, opset=opset)
    if strip_value_info:
        del m.graph.value_info[:]
    return m


def cle_chain(shared_weight=False, tail_output=False):
    """Depthwise Conv (channel ranges 1e-3 .. 30) -> pointwise Conv -> Relu -> 3x3 Conv: two
    equalizable pairs in a chain. With shared_weight the pointwise weight is also read by another
    Conv (no pair may touch it); with tail_output the pointwise output is a graph output too."""
    r = np.random.default_rng(5)
    c = 6
    w_dw = (r.standard_normal((c, 1, 3, 3)) * np.array([1e-3, 0.1, 1, 3, 10, 30])[:, None, None, None])
    nodes = [helper.make_node("Conv", ["x", "w_dw", "b_dw"], ["dw"], group=c, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["dw", "w_pw", "b_pw"], ["pw"]),
             helper.make_node("Relu", ["pw"], ["pr"]),
             helper.make_node("Conv", ["pr", "w_3"], ["y"], pads=[1, 1, 1, 1])]
    inits = [init("w_dw", w_dw.astype(np.float32)), init("b_dw", f32(c)),
             init("w_pw", (r.standard_normal((8, c, 1, 1)) * 0.5).astype(np.float32)), init("b_pw", f32(8)),
             init("w_3", (r.standard_normal((4, 8, 3, 3)) * 0.2).astype(np.float32))]
    outs = [vi("y", None)]
    if shared_weight:
        nodes.append(helper.make_node("Conv", ["dw", "w_pw"], ["y2"]))
        outs.append(vi("y2", None))
    if tail_output:
        outs.append(vi("pw", None))
    return model(nodes, [vi("x", [1, c, 5, 5])], outs, inits)


def channel_ranges(m, name, axis):
    w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}[name]
    return np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(1)


def affine_net(case):
    """Constant Mul/Add/Sub/Div around Convs and a Gemm (fold_affine)."""
    c = 4
    inits = [init("W1", f32(c, c, 3, 3)), init("B1", f32(c)), init("W2", f32(6, c, 1, 1)),
             init("s", np.float32(0.7)), init("t", np.float32(-0.3)), init("s2", np.float32(1.6)),
             init("t2", np.float32(0.25)), init("tc", f32(1, 6, 1, 1)), init("d", np.float32(-2.5)),
             init("sc", f32(1, c, 1, 1)), init("sp", f32(1, 1, 7, 7)), init("W3", f32(c, c, 3, 3))]
    mk = helper.make_node
    if case == "lab":  # Conv -> Mul(c, x) -> Add -> Relu -> Mul -> Add -> Conv 1x1 -> Sub(x, c) -> Div
        nodes = [mk("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]), mk("Mul", ["s", "c1"], ["m1"]),
                 mk("Add", ["m1", "t"], ["a1"]), mk("Relu", ["a1"], ["r"]), mk("Mul", ["r", "s2"], ["m2"]),
                 mk("Add", ["t2", "m2"], ["a2"]), mk("Conv", ["a2", "W2"], ["c2"]), mk("Sub", ["c2", "tc"], ["s3"]),
                 mk("Div", ["s3", "d"], ["y"])]
    elif case == "padded":  # Relu -> Add -> Mul(-2.5) -> Conv(pad): the Mul folds, the Add cannot
        nodes = [mk("Relu", ["x"], ["r"]), mk("Add", ["r", "t"], ["a"]), mk("Mul", ["a", "d"], ["m"]),
                 mk("Conv", ["m", "W3"], ["y"], pads=[1, 1, 1, 1])]
    elif case == "kept":  # per-channel scale before a Conv, spatial Mul after one, c / x, shared Conv output
        nodes = [mk("Mul", ["x", "sc"], ["m"]), mk("Conv", ["m", "W3"], ["c1"], pads=[1, 1, 1, 1]),
                 mk("Mul", ["c1", "sp"], ["m2"]), mk("Conv", ["m2", "W1"], ["c2"], pads=[1, 1, 1, 1]),
                 mk("Div", ["d", "c2"], ["q"]), mk("Relu", ["c2"], ["r"]), mk("Add", ["q", "r"], ["y"])]
    else:  # Sub(c, x) after a grouped Conv, then Gemm -> Add per column
        inits += [init("Wg", f32(c, 2, 3, 3)), init("G", f32(c * 49, 5)), init("gc", f32(5)),
                  init("shape", np.array([0, -1], dtype=np.int64))]
        nodes = [mk("Conv", ["x", "Wg"], ["c1"], pads=[1, 1, 1, 1], group=2), mk("Sub", ["t", "c1"], ["s1"]),
                 mk("Reshape", ["s1", "shape"], ["f"]), mk("Gemm", ["f", "G"], ["g"]), mk("Add", ["g", "gc"], ["y"])]
    return model(nodes, [vi("x", [2, c, 7, 7])], [vi("y", None)], inits)


def ir3_conv_bn():
    m = conv_bn(bias=True, relu=False)
    # IR 3 lists every initializer as a graph input too; opset 8 is the newest IR-3 opset.
    m.opset_import[0].version = 8
    m.ir_version = 3
    for t in m.graph.initializer:
        m.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return m


with tempfile.TemporaryDirectory() as tmp:
    for path in sorted(glob.glob(os.path.join(SRC, "demo", "*.onnx"))):
        name = "demo_" + os.path.splitext(os.path.basename(path))[0]
        before = op_counts(onnx.load(path))
        verify(name, path, {"bn_folded": before.get("BatchNormalization", 0)},
               {"BatchNormalization": 0}, tmp=tmp)

    verify("conv_bn_bias", conv_bn(True), {"bn_folded": 1}, {"BatchNormalization": 0, "Conv": 1}, tmp=tmp)
    verify("conv_bn_nobias_output", conv_bn(False, relu=False), {"bn_folded": 1}, {"BatchNormalization": 0}, tmp=tmp)
    verify("grouped_conv_bn", conv_bn(True, group=2), {"bn_folded": 1}, {"BatchNormalization": 0}, tmp=tmp)
    verify("depthwise_conv_bn", conv_bn(False, group=4, cin=4, cout=4), {"bn_folded": 1},
           {"BatchNormalization": 0}, tmp=tmp)
    verify("convt_bn_group2", convt_bn(True, 2), {"bn_folded": 1}, {"BatchNormalization": 0}, tmp=tmp)
    verify("convt_bn_group1_nobias", convt_bn(False, 1), {"bn_folded": 1}, {"BatchNormalization": 0}, tmp=tmp)
    verify("convt_bn_depthwise", convt_bn(False, 4, cin=4, per_group_out=1), {"bn_folded": 1},
           {"BatchNormalization": 0}, tmp=tmp)
    verify("gemm_bn_transB0_C", gemm_bn(0, [5]), {"bn_folded": 1}, {"BatchNormalization": 0}, tmp=tmp)
    verify("gemm_bn_transB1_noC", gemm_bn(1, None), {"bn_folded": 1}, {"BatchNormalization": 0}, tmp=tmp)
    verify("gemm_bn_C_row", gemm_bn(1, [1, 5], beta=0.0), {"bn_folded": 1}, {"BatchNormalization": 0}, tmp=tmp)
    verify("gemm_bn_C_scalar", gemm_bn(0, [], alpha=1.0, beta=2.0), {"bn_folded": 1},
           {"BatchNormalization": 0}, tmp=tmp)
    verify("gemm_bn_C_matrix_kept", gemm_bn(0, [2, 5]), {"bn_folded": 0}, {"BatchNormalization": 1}, tmp=tmp)
    verify("conv_two_consumers_kept", conv_two_consumers(), {"bn_folded": 0}, {"BatchNormalization": 1}, tmp=tmp)
    out = verify("shared_weight", shared_weight(), {"bn_folded": 2}, {"BatchNormalization": 0}, tmp=tmp)
    if out is not None:
        ws = {n.input[1] for n in out.graph.node if n.op_type == "Conv"}
        bs = {n.input[2] for n in out.graph.node if n.op_type == "Conv"}
        check(len(ws) == 2 and len(bs) == 2, "shared_weight: each Conv has its own folded W and bias", str(ws | bs))
    verify("identity_chain", identity_chain(), {"identities_removed": 3}, {"Identity": 2}, tmp=tmp)
    verify("dropouts", dropouts(), {"dropouts_removed": 2}, {"Dropout": 1}, tmp=tmp)
    verify("dropout_opset10", dropout_opset10(), {"dropouts_removed": 1}, {"Dropout": 0}, tmp=tmp)
    verify("shape_chain_static", shape_chain(2), {"nodes_const_folded": 4},
           {"Shape": 0, "Gather": 0, "Unsqueeze": 0, "Concat": 0, "Reshape": 1}, tmp=tmp)
    verify("shape_chain_dynamic_batch", shape_chain("N"), {"nodes_const_folded": 0}, {"Shape": 1}, tmp=tmp)
    verify("misc_constants", misc_constants(), {"nodes_const_folded": 12}, {"Add": 1, "Mul": 1}, tmp=tmp)
    verify("big_constant_kept", big_constant(), {"nodes_const_folded": 0}, {"ConstantOfShape": 1}, tmp=tmp)
    verify("generator_16k_kept", channel_pad(4), {"nodes_const_folded": 0}, {"ConstantOfShape": 1}, tmp=tmp)
    verify("generator_256b_folded", channel_pad(1), {"nodes_const_folded": 1}, {"ConstantOfShape": 0}, tmp=tmp)
    verify("decompose_opset14", hard_ops(14), {"decomposed": 3},
           {"HardSwish": 0, "HardSigmoid": 0, "Div": 2, "Clip": 2, "Mul": 5, "Add": 3}, tmp=tmp, decompose=True)
    verify("decompose_opset14_no_value_info", hard_ops(14, True), {"decomposed": 3}, {"HardSwish": 0, "Div": 2},
           tmp=tmp, decompose=True)
    out = verify("decompose_opset9_clip_attrs", hard_ops(9), {"decomposed": 2},
                 {"HardSigmoid": 0, "Div": 2, "Clip": 1}, tmp=tmp, decompose=True)
    if out is not None:
        clip = [n for n in out.graph.node if n.op_type == "Clip"]
        check(len(clip) == 1 and len(clip[0].input) == 1
              and {a.name for a in clip[0].attribute} == {"min", "max"}, "decompose_opset9: Clip takes min/max attributes", str(clip))
    out = verify("equalize_chain", cle_chain(), {"equalized": 2}, {"Conv": 3}, tmp=tmp, equalize=True)
    if out is not None:
        r1, r2 = channel_ranges(out, "w_dw", 0), channel_ranges(out, "w_pw", 1)
        before = channel_ranges(cle_chain(), "w_dw", 0)
        check(bool(np.all(np.abs(r1 / r2 - 1) < 0.02)),
              "equalize_chain: depthwise and pointwise channel ranges equal (within 2 %)", f"{np.round(r1 / r2, 3)}")
        check(r1.max() / r1.min() < 0.1 * before.max() / before.min(),
              "equalize_chain: depthwise channel spread shrinks",
              f"{before.max() / before.min():.0f} -> {r1.max() / r1.min():.1f}")
    out = verify("equalize_shared_weight", cle_chain(shared_weight=True), {"equalized": 0}, tmp=tmp, equalize=True)
    verify("equalize_graph_output_between", cle_chain(tail_output=True), {"equalized": 1}, tmp=tmp,
           equalize=True)
    # The Mul by 1.6 before the second Conv stays: a positive scale alone is a free rescale in QDQ.
    verify("affine_lab_chain", affine_net("lab"), {"affine_folded": 5},
           {"Conv": 2, "Relu": 1, "Mul": 1, "Add": 0, "Sub": 0, "Div": 0}, tmp=tmp, fold_affine=True)
    verify("affine_padded_conv", affine_net("padded"), {"affine_folded": 1}, {"Add": 1, "Mul": 0},
           tmp=tmp, fold_affine=True)
    verify("affine_kept", affine_net("kept"), {"affine_folded": 0}, {"Mul": 2, "Div": 1}, tmp=tmp,
           fold_affine=True)
    verify("affine_sub_gemm", affine_net("sub_gemm"), {"affine_folded": 2}, {"Sub": 0, "Add": 0}, tmp=tmp,
           fold_affine=True)
    verify("ir3_conv_bn", ir3_conv_bn(), {"bn_folded": 1}, {"BatchNormalization": 0}, tmp=tmp)

print("max relative output change per model:")
for k, v in worst.items():
    print("  %-28s %.3g" % (k, v))
finish("simplify")
