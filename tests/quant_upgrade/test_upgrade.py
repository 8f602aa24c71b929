#!/usr/bin/env python3
"""Opset upgrade pass: synthetic onnx.helper models at old opsets (one per
rewrite rule) and the real PP-OCR cls / BlazeFace models are raised to opset
13 by upgrade_tool. The upgraded model must pass
onnx.checker.check_model(full_check=True), import opset 13, and compute the
same outputs (max |diff| <= 1e-5 * max |ref|) as the original, both in
onnxruntime (tools/ort_run.mjs) and in qconvert's engine. Models whose old
form neither runtime implements (opset < 7) are checked against numpy.
Models the pass must refuse are checked for the error message.
Exit 77 (skip) when onnxruntime-node (.deps/node) is missing."""
import json
import os
import subprocess

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qc_test import MODELS, check, checker_ok, finish, mkdtemp, ort_run, require_ort

QC = os.environ["QCONVERT"]
SRC = os.environ["QC_SOURCE_ROOT"]
TOOL = os.path.join(os.environ["QC_BUILD_ROOT"], "tests", "quant_upgrade", "upgrade_tool")
RTOL = 1e-5
rng = np.random.default_rng(4321)

require_ort()


def load_outputs(d, ext):
    outs, i = [], 0
    while os.path.exists(os.path.join(d, "output_%d.%s" % (i, ext))):
        p = os.path.join(d, "output_%d.%s" % (i, ext))
        if ext == "npy":
            outs.append(np.load(p))
        else:
            t = onnx.TensorProto()
            with open(p, "rb") as f:
                t.ParseFromString(f.read())
            outs.append(numpy_helper.to_array(t))
        i += 1
    return outs


def run_engine(path, names, xs, d):
    os.makedirs(d, exist_ok=True)
    args = [QC, "run", path, "--output-dir", d, "--threads", "1"]
    for i, x in enumerate(xs):
        np.save(os.path.join(d, "in_%d.npy" % i), x)
        args += ["--input", os.path.join(d, "in_%d.npy" % i)]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("qconvert run: " + r.stderr.strip())
    return load_outputs(d, "pb")


def run_ort(path, names, xs, d):
    os.makedirs(d, exist_ok=True)
    inputs = {}
    for i, (n, x) in enumerate(zip(names, xs)):
        inputs[n] = os.path.join(d, "in_%d.npy" % i)
        np.save(inputs[n], x)
    return ort_run(path, inputs, d)[0]


def rel_diff(ref, got):
    if len(ref) != len(got):
        return float("inf")
    worst = 0.0
    for a, b in zip(ref, got):
        if a.shape != b.shape:
            return float("inf")
        a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
        scale = max(np.abs(a64).max(initial=0.0), 1e-30)
        worst = max(worst, float(np.abs(a64 - b64).max(initial=0.0) / scale))
    return worst


def graph_inputs(m):
    inits = {t.name for t in m.graph.initializer}
    return [vi for vi in m.graph.input if vi.name not in inits]


def random_inputs(m, shapes=None):
    xs = []
    for vi in graph_inputs(m):
        tt = vi.type.tensor_type
        shape = (shapes or {}).get(vi.name) or [d.dim_value if d.HasField("dim_value") else 2 for d in tt.shape.dim]
        xs.append(rng.standard_normal(shape).astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[tt.elem_type]))
    return xs


def verify(name, m, tmp, numpy_ref=None, shapes=None, expect_ops=None, old_runs=True, runtimes=("ort", "engine")):
    """Upgrades m (a ModelProto or a path) and compares outputs. old_runs=False:
    the original's opset predates what the runtimes implement; numpy_ref(xs)
    gives the expected outputs instead. runtimes: those that implement the ops."""
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    src, dst = os.path.join(d, "in.onnx"), os.path.join(d, "out.onnx")
    if isinstance(m, str):
        src, m = m, onnx.load(m)
    else:
        onnx.save(m, src)
    r = subprocess.run([TOOL, src, dst], capture_output=True, text=True)
    if r.returncode != 0:
        check(False, name + ": upgrade_tool runs", r.stderr.strip())
        return None
    rewritten = json.loads(r.stdout)["nodes_rewritten"]
    out = onnx.load(dst)
    ok, err = checker_ok(out)
    check(ok, name + ": checker full_check", err)
    opsets = {o.domain: o.version for o in out.opset_import}
    check(opsets.get("", opsets.get("ai.onnx")) == 13, name + ": opset_import is 13", str(opsets))
    for op, n in (expect_ops or {}).items():
        got = sum(1 for nd in out.graph.node if nd.op_type == op)
        check(got == n, name + ": %d x %s" % (n, op), "got %d" % got)
    names = [vi.name for vi in graph_inputs(m)]
    xs = random_inputs(m, shapes)
    results = {}
    for rt, fn in (("ort", run_ort), ("engine", run_engine)):
        if rt not in runtimes:
            print("skip %s: %s does not implement its ops" % (name, rt))
            continue
        for which, path in (("old", src), ("new", dst)):
            if which == "old" and not old_runs:
                continue
            try:
                results[rt, which] = fn(path, names, xs, os.path.join(d, rt + "_" + which))
            except RuntimeError as e:
                check(False, "%s: %s runs the %s model" % (name, rt, which), str(e)[:300])
    ref = numpy_ref(xs) if numpy_ref else None
    if ref is not None and ("ort", "old") in results:
        diff = rel_diff(ref, results["ort", "old"])
        check(diff <= RTOL, "%s: numpy reference == ort old" % name, "max rel diff %.3g" % diff)
    for rt in ("ort", "engine"):
        if (rt, "new") not in results:
            continue
        base = results.get((rt, "old"), ref)
        if base is None:
            check(False, "%s: %s reference" % (name, rt), "no reference outputs")
            continue
        diff = rel_diff(base, results[rt, "new"])
        check(diff <= RTOL, "%s: %s old == new" % (name, rt), "max rel diff %.3g (%d nodes rewritten)" % (diff, rewritten))
    return out


def refuse(name, m, tmp, needle):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "in.onnx")
    onnx.save(m, src)
    r = subprocess.run([TOOL, src, os.path.join(d, "out.onnx")], capture_output=True, text=True)
    msg = r.stderr.strip()
    check(r.returncode != 0 and "cannot raise opset" in msg and needle in msg, name + ": refused", msg)


# ---------------------------------------------------------------- builders
def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def model(nodes, inputs, outputs, inits=(), opset=9, ir=None, infer=True, value_info=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    if ir is not None:
        m.ir_version = ir
    return onnx.shape_inference.infer_shapes(m) if infer else m


N = helper.make_node
X4 = [vi("x", [2, 3, 4, 5])]


def softmax_np(x, axis, log=False):
    """Pre-13 semantics: flatten to 2-D at axis."""
    shp = x.shape
    x2 = x.reshape(int(np.prod(shp[:axis])), -1).astype(np.float64)
    e = np.exp(x2 - x2.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    return (np.log(y) if log else y).astype(np.float32).reshape(shp)


def main():
    tmp = mkdtemp("qc_upgrade_")
    # Clip 6 -> 11: both bounds, max only, none. IR 3 checks the initializer-as-input rule.
    verify("clip_v9", model([N("Clip", ["x"], ["a"], min=-0.5, max=0.7), N("Clip", ["a"], ["b"], max=0.3),
                             N("Clip", ["b"], ["y"])], X4, [vi("y", None)], ir=3), tmp)
    verify("slice_v9", model([N("Slice", ["x"], ["a"], starts=[1, -3], ends=[3, 100], axes=[1, 3]),
                              N("Slice", ["x"], ["b"], starts=[1], ends=[2])], X4, [vi("a", None), vi("b", None)]),
           tmp)
    verify("pad_v9", model([N("Pad", ["x"], ["a"], pads=[0, 1, 2, 0, 0, 2, 1, 0], value=1.5),
                            N("Pad", ["x"], ["b"], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode="reflect"),
                            N("Pad", ["x"], ["c"], pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="edge")],
                           X4, [vi("a", None), vi("b", None), vi("c", None)]), tmp)
    verify("squeeze_v11", model([N("Unsqueeze", ["x"], ["a"], axes=[0, 3]), N("Relu", ["a"], ["b"]),
                                 N("Squeeze", ["b"], ["y"], axes=[0, -3])], X4, [vi("y", None)], opset=11), tmp)
    verify("split_v11", model([N("Split", ["x"], ["a", "b"], axis=1, split=[1, 2]),
                               N("Split", ["x"], ["c", "d"], axis=3, split=[2, 3])],
                              X4, [vi(n, None) for n in "abcd"], opset=11), tmp)
    verify("reducesum_v11", model([N("ReduceSum", ["x"], ["a"], axes=[1, 3], keepdims=0),
                                   N("ReduceSum", ["x"], ["b"])], X4, [vi("a", None), vi("b", None)], opset=11), tmp)
    # Softmax family: axis=1 on 4-D (Flatten/Reshape rewrite), last axis, trailing ones, default axis.
    x = [vi("x", [2, 3, 4, 5]), vi("z", [2, 5, 1, 1])]
    verify("softmax_v11", model([N("Softmax", ["x"], ["a"], axis=1), N("LogSoftmax", ["x"], ["b"], axis=3),
                                 N("Hardmax", ["z"], ["c"], axis=1), N("Softmax", ["x"], ["d"]),
                                 N("LogSoftmax", ["x"], ["e"], axis=2)],
                                x, [vi(n, None) for n in "abcde"], opset=11), tmp,
           expect_ops={"Flatten": 3, "Reshape": 3})
    # Rank unknown to the IR (no shape inference): the exact rewrite still applies.
    verify("softmax_norank_v9", model([N("Relu", ["x"], ["r"]), N("Softmax", ["r"], ["y"], axis=2)],
                                            X4, [vi("y", [2, 3, 4, 5])], infer=False), tmp, expect_ops={"Flatten": 1})
    verify("softmax_v9_numpy", model([N("Softmax", ["x"], ["y"], axis=1)], X4, [vi("y", None)]), tmp,
           numpy_ref=lambda xs: [softmax_np(xs[0], 1)])
    # Upsample / Resize-10 -> Resize-13.
    verify("upsample_v9", model([N("Upsample", ["x", "s"], ["y"], mode="nearest")], X4, [vi("y", None)],
                                [init("s", np.array([1, 1, 2, 3], np.float32))]), tmp, expect_ops={"Resize": 1})
    verify("upsample_const_v9", model([N("Constant", [], ["s"], value=init("sv", np.array([1, 1, 2, 2], np.float32))),
                                       N("Upsample", ["x", "s"], ["y"], mode="linear")], X4, [vi("y", None)]), tmp)
    verify("upsample_v8", model([N("Upsample", ["x"], ["y"], scales=[1.0, 1.0, 2.0, 2.0], mode="linear")],
                                X4, [vi("y", None)], opset=8), tmp)
    verify("resize_v10", model([N("Resize", ["x", "s"], ["y"], mode="nearest")], X4, [vi("y", None)],
                               [init("s", np.array([1, 1, 0.5, 0.4], np.float32))], opset=10), tmp)
    verify("dropout_v10", model([N("Dropout", ["x"], ["a"], ratio=0.3), N("Relu", ["a"], ["y"])],
                                X4, [vi("y", None)], opset=10), tmp)
    c = 3
    bn = [init(n, f32(c) if n != "v" else np.abs(f32(c)) + 0.1) for n in ("s", "b", "m", "v")]
    verify("batchnorm_v8", model([N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=1, epsilon=1e-3)],
                                 X4, [vi("y", None)], bn, opset=8), tmp)
    verify("topk_v9", model([N("TopK", ["x"], ["v", "i"], k=3, axis=3)], X4,
                            [vi("v", None), vi("i", None, TensorProto.INT64)]), tmp, runtimes=("ort",))
    scatter_idx = init("idx", np.array([[[[0, 2]]]] * 2, np.int64).repeat(3, 1).repeat(4, 2))
    verify("scatter_v9", model([N("Scatter", ["x", "idx", "u"], ["y"], axis=3)], X4, [vi("y", None)],
                               [scatter_idx, init("u", f32(2, 3, 4, 2))]), tmp, expect_ops={"ScatterElements": 1},
           runtimes=("ort",))

    # Opsets < 7: neither runtime implements the old forms; numpy is the reference.
    bvec = f32(3)
    verify("broadcast_v6", model([N("Add", ["x", "bv"], ["a"], broadcast=1, axis=1),
                                  N("Mul", ["a", "w"], ["y"], broadcast=1, axis=1)],
                                 [vi("x", [2, 3, 4, 5]), vi("w", [3, 4])], [vi("y", [2, 3, 4, 5])], [init("bv", bvec)],
                                 opset=6, infer=False, value_info=[vi("a", [2, 3, 4, 5])]), tmp,
           old_runs=False, numpy_ref=lambda xs: [(xs[0] + bvec[:, None, None]) * xs[1][:, :, None]])
    verify("legacy_v3", model([N("Reshape", ["x"], ["r"], shape=[2, 12, 5], consumed_inputs=[0]),
                               N("Concat", ["r", "r"], ["c"]),
                               N("Cast", ["c"], ["y"], to="DOUBLE"),
                               N("Dropout", ["x"], ["d"], is_test=1),
                               N("Selu", ["d"], ["s"])], X4,
                              [vi("y", [2, 24, 5], TensorProto.DOUBLE), vi("s", [2, 3, 4, 5])], opset=3, infer=False),
           tmp, old_runs=False,
           numpy_ref=lambda xs: [np.concatenate([xs[0].reshape(2, 12, 5)] * 2, 1).astype(np.float64),
                                 np.where(xs[0] > 0, 1.0507 * xs[0], 1.0507 * 1.6732 * (np.exp(xs[0]) - 1))
                                 .astype(np.float32)])

    # ImageScaler (experimental, no longer in ONNX) -> Mul + Add.
    sb = f32(3)
    verify("imagescaler_v8", model([N("ImageScaler", ["x"], ["y"], scale=0.5, bias=sb.tolist())], X4,
                                   [vi("y", [2, 3, 4, 5])], opset=8, infer=False), tmp, old_runs=False,
           numpy_ref=lambda xs: [xs[0] * 0.5 + sb[None, :, None, None]], expect_ops={"Mul": 1, "Add": 1})
    # Opset 11 Resize and Softmax on the last axis need no rewrite.
    m = verify("resize_v11", model([N("Resize", ["x", "roi", "s"], ["y"], mode="linear"),
                                    N("Softmax", ["y"], ["z"], axis=3)], X4, [vi("z", None)],
                                   [init("roi", np.zeros(0, np.float32)), init("s", np.array([1, 1, 2, 2], np.float32))],
                                   opset=11), tmp, expect_ops={"Flatten": 0})

    # Refusals name op, node and opsets.
    refuse("bn_spatial0", model([N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn0", spatial=0)],
                                X4, [vi("y", None)], bn, opset=8, infer=False), tmp, "BatchNormalization node 'bn0'")
    refuse("upsample_dynamic", model([N("Upsample", ["x", "s"], ["y"], name="up")],
                                     [vi("x", [2, 3, 4, 5]), vi("s", [4])], [vi("y", None)]), tmp, "opset 9 → 13")
    refuse("tile_v5", model([N("Tile", ["x", "t", "ax"], ["y"], name="t0")],
                            [vi("x", [2, 3]), vi("t", [1]), vi("ax", [1])], [vi("y", None)], opset=5, infer=False),
           tmp, "changed meaning at opset 6")
    refuse("resize_tfnn_v11", model([N("Resize", ["x", "roi", "s"], ["y"], name="rz",
                                       coordinate_transformation_mode="tf_half_pixel_for_nn")], X4, [vi("y", None)],
                                    [init("roi", np.zeros(0, np.float32)), init("s", np.array([1, 1, 2, 2], np.float32))],
                                    opset=11), tmp, "tf_half_pixel_for_nn")

    # Real models.
    cls = os.path.join(MODELS, "ppocr_cls.onnx")
    if os.path.exists(cls):
        verify("ppocr_cls", cls, tmp, shapes={"x": [1, 3, 48, 192]}, expect_ops={"Clip": 18})
    else:
        print("skip ppocr_cls: %s missing (tools/fetch_deps.sh)" % cls)
    bf = os.path.join(MODELS, "blazeface.onnx")
    if os.path.exists(bf):
        m = onnx.load(bf)
        verify("blazeface", bf, tmp, shapes={graph_inputs(m)[0].name: [1, 128, 128, 3]})
    else:
        print("skip blazeface: %s missing (tools/fetch_deps.sh)" % bf)

    finish("opset_upgrade")


if __name__ == "__main__":
    main()
