#!/usr/bin/python3
"""A Relu or Clip is removed only where a QuantizeLinear with the clipped range replaces it
(docs/quantization.md "removable"; issue 12, defects 1 and 2).

Each case builds a small model with onnx.helper, quantizes it (calibrated on 16 random .npy
samples, 64 for the vector models), and checks:
  structure  every Relu/Clip that is gone from the output was replaced by a QuantizeLinear on its
             output tensor (the DequantizeLinear's input, for a graph output) with zero point 0
             (uint8) and a top of range (255 - zp) * scale no higher than the Clip's max;
  numbers    onnxruntime runs the FP32 and the INT8 model on held-out inputs: every output that
             FP32 clips stays within the clip bounds in INT8, and the INT8 output is close to the
             FP32 one (SQNR >= 20 dB).
Cases, one per way a removal could lose its Q:
  gemm_out / matmul_clip_out   Gemm -> Relu and MatMul -> Clip(0, 1.5) produce the graph output
                               (outputs of Gemm/MatMul that are graph outputs get no Q)
  demo_cut                     the issue's reproduction: the demo CNN cut at its last Relu
  exclude_consumer             the Relu's reader is excluded (--exclude)
  float_consumer               the Relu's reader is an op that is never quantized (Sqrt)
  op_types                     --op-types Conv,Relu leaves the Gemm producer out
  weight_only                  --weight-only: activations stay float
  other_readers                the producer's output has another reader besides the Relu
  no_stats                     --load-stats without the Relu output's record (partial coverage:
                               a warning, not an error)
  min_sqnr                     --min-sqnr keeps some producers in FP32 (node mask)
  concat_pad                   Concat(x, zeros) -> Relu: the Concat would reuse x's qparams
  clip_dynamic_max             Clip(0, m) with m computed at run time: no constant top
  relu_clip_chain              Conv -> Relu -> Clip(0, 0.6): both removed, range within [0, 0.6]
Before the rule, gemm_out, matmul_clip_out, demo_cut, no_stats, concat_pad and clip_dynamic_max
removed the activation without a clipping Q (negative or unclipped INT8 outputs); the other cases
held already and guard the rule.
"""
import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import e2e_util as U
import qc_test as T

rng = np.random.default_rng(11)
C = 8
CLIPS = ("Relu", "Clip")


def init(name, a, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(a, dtype), name)


def conv(nodes, inits, x, y, cin, cout):
    inits += [init(y + "_w", rng.standard_normal((cout, cin, 3, 3)) * 0.3),
              init(y + "_b", rng.standard_normal(cout) * 0.2)]
    nodes.append(helper.make_node("Conv", [x, y + "_w", y + "_b"], [y], pads=[1, 1, 1, 1], name=y))


def relu(nodes, x, y):
    nodes.append(helper.make_node("Relu", [x], [y], name=y))


def clip(nodes, inits, x, y, hi):
    inits += [init(y + "_lo", 0.0), init(y + "_hi", hi)]
    nodes.append(helper.make_node("Clip", [x, y + "_lo", y + "_hi"], [y], name=y))


def build(nodes, inits, outputs, in_shape):
    """outputs: {name: shape}."""
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, s) for o, s in outputs.items()],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


# ---- models ---------------------------------------------------------------------------------
# Each returns (model, {clipped graph output: (lo, hi)}).

def m_gemm_out():
    inits = [init("w", rng.standard_normal((16, 8)) * 0.4), init("b", rng.standard_normal(8) * 0.2)]
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["g"], name="gemm")]
    relu(nodes, "g", "y")
    return build(nodes, inits, {"y": ["N", 8]}, ["N", 16]), {"y": (0.0, np.inf)}


def m_matmul_clip_out():
    inits = [init("w", rng.standard_normal((16, 8)) * 0.4)]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="mm")]
    clip(nodes, inits, "mm", "y", 1.5)
    return build(nodes, inits, {"y": ["N", 8]}, ["N", 16]), {"y": (0.0, 1.5)}


def conv_relu_conv(excluded_reader=None):
    nodes, inits = [], []
    conv(nodes, inits, "x", "c1", 3, C)
    relu(nodes, "c1", "r1")
    if excluded_reader == "Sqrt":
        nodes.append(helper.make_node("Sqrt", ["r1"], ["s1"], name="s1"))
        conv(nodes, inits, "s1", "y", C, C)
    else:
        conv(nodes, inits, "r1", "y", C, C)
    return build(nodes, inits, {"y": ["N", C, 8, 8]}, ["N", 3, 8, 8]), {}


def m_op_types():
    """Gemm -> Relu -> Reshape -> Conv -> Relu: with --op-types Conv,Relu the Gemm stays float."""
    nodes = [helper.make_node("Gemm", ["x", "gw", "gb"], ["g"], name="gemm")]
    inits = [init("gw", rng.standard_normal((16, 3 * 64)) * 0.3), init("gb", rng.standard_normal(3 * 64) * 0.2),
             init("shape", [-1, 3, 8, 8], np.int64)]
    relu(nodes, "g", "r0")
    nodes.append(helper.make_node("Reshape", ["r0", "shape"], ["img"], name="reshape"))
    conv(nodes, inits, "img", "c1", 3, C)
    relu(nodes, "c1", "y")
    return build(nodes, inits, {"y": ["N", C, 8, 8]}, ["N", 16]), {"y": (0.0, np.inf)}


def m_conv_relu_out():
    nodes, inits = [], []
    conv(nodes, inits, "x", "c1", 3, C)
    relu(nodes, "c1", "y")
    return build(nodes, inits, {"y": ["N", C, 8, 8]}, ["N", 3, 8, 8]), {"y": (0.0, np.inf)}


def m_other_readers():
    """c1 is read by the Relu and by a Conv: the Relu cannot take over c1's output."""
    nodes, inits = [], []
    conv(nodes, inits, "x", "c1", 3, C)
    relu(nodes, "c1", "y1")
    conv(nodes, inits, "c1", "y2", C, C)
    return build(nodes, inits, {"y1": ["N", C, 8, 8], "y2": ["N", C, 8, 8]}, ["N", 3, 8, 8]), {"y1": (0.0, np.inf)}


def m_no_stats():
    """r1 is a graph output and read by c2; its statistics record will be missing."""
    nodes, inits = [], []
    conv(nodes, inits, "x", "c1", 3, C)
    relu(nodes, "c1", "r1")
    conv(nodes, inits, "r1", "c2", C, C)
    relu(nodes, "c2", "y")
    return (build(nodes, inits, {"r1": ["N", C, 8, 8], "y": ["N", C, 8, 8]}, ["N", 3, 8, 8]),
            {"r1": (0.0, np.inf), "y": (0.0, np.inf)})


def m_chain3():
    nodes, inits = [], []
    conv(nodes, inits, "x", "c1", 3, C)
    relu(nodes, "c1", "r1")
    conv(nodes, inits, "r1", "c2", C, C)
    relu(nodes, "c2", "r2")
    conv(nodes, inits, "r2", "c3", C, C)
    relu(nodes, "c3", "y")
    return build(nodes, inits, {"y": ["N", C, 8, 8]}, ["N", 3, 8, 8]), {"y": (0.0, np.inf)}


def m_concat_pad():
    """Conv -> MaxPool -> Concat(pooled, zeros) -> Relu: the Concat alone would copy the pooled
    tensor's qparams, whose zero point is not 0."""
    nodes, inits = [], []
    conv(nodes, inits, "x", "c1", 3, C)
    nodes.append(helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="p1"))
    inits.append(init("zeros", np.zeros((1, 4, 4, 4))))
    nodes.append(helper.make_node("Concat", ["p1", "zeros"], ["cat"], axis=1, name="cat"))
    relu(nodes, "cat", "y")
    return build(nodes, inits, {"y": [1, C + 4, 4, 4]}, [1, 3, 8, 8]), {"y": (0.0, np.inf)}


def m_clip_dynamic_max():
    """Clip(c1, 0, m) with m = 0.5 * max(x), known only at run time."""
    nodes, inits = [], []
    conv(nodes, inits, "x", "c1", 3, C)
    inits += [init("zero", 0.0), init("half", 0.5)]
    nodes += [helper.make_node("ReduceMax", ["x"], ["xmax"], keepdims=0, name="xmax"),
              helper.make_node("Mul", ["xmax", "half"], ["m"], name="m"),
              helper.make_node("Clip", ["c1", "zero", "m"], ["y"], name="y")]
    return build(nodes, inits, {"y": [1, C, 8, 8]}, [1, 3, 8, 8]), {"y": (0.0, "0.5*max(x)")}


def m_relu_clip_chain():
    nodes, inits = [], []
    conv(nodes, inits, "x", "c1", 3, C)
    relu(nodes, "c1", "r1")
    clip(nodes, inits, "r1", "y", 0.6)
    return build(nodes, inits, {"y": ["N", C, 8, 8]}, ["N", 3, 8, 8]), {"y": (0.0, 0.6)}


def demo_cut():
    """The demo CNN with its last Gemm removed: the fc1 Relu produces the graph output."""
    m = onnx.load(os.path.join(T.DEMO, "fmnist_cnn.onnx"))
    relu_node = [n for n in m.graph.node if n.op_type == "Relu"][-1]
    keep = list(m.graph.node)[:list(m.graph.node).index(relu_node) + 1]
    del m.graph.node[:]
    m.graph.node.extend(keep)
    del m.graph.output[:]
    gemm = next(n for n in keep if relu_node.input[0] in n.output)
    w = next(t for t in m.graph.initializer if t.name == gemm.input[1])
    trans_b = any(a.name == "transB" and a.i for a in gemm.attribute)
    shape = [m.graph.input[0].type.tensor_type.shape.dim[0].dim_param or 1, w.dims[0] if trans_b else w.dims[1]]
    m.graph.output.append(helper.make_tensor_value_info(relu_node.output[0], TensorProto.FLOAT, shape))
    return m, {relu_node.output[0]: (0.0, np.inf)}


# ---- stats files (format: docs/observers.md; reader: e2e_util.read_stats) ---------------------

def write_stats(path, parsed):
    """Writes what U.read_stats parsed (minus the records deleted from it) as a QCSTATS v1 file."""
    fp = parsed["__fingerprint__"].encode()
    out = bytearray(b"QCSTATS\0" + struct.pack("<III", 1, parsed["__bins__"], len(fp)) + fp)
    names = [k for k in parsed if not k.startswith("__")]
    out += struct.pack("<I", len(names))
    for name in names:
        r = parsed[name]
        out += struct.pack("<I", len(name.encode())) + name.encode()
        out += struct.pack("<QQQQffd", r["count"], r["nonfinite"], r["zeros"], r["samples"], r["min"], r["max"],
                           r["ema_constant"])
        out += struct.pack("<Qdd", *r["ema_min"]) + struct.pack("<Qdd", *r["ema_max"])
        out += struct.pack("<iqI", r["hist_exp"], r["hist_first"], len(r["counts"]))
        out += struct.pack(f"<{len(r['counts'])}Q", *r["counts"])
    h = 0xcbf29ce484222325
    for b in out:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    out += struct.pack("<Q", h)
    with open(path, "wb") as f:
        f.write(out)


# ---- checks ---------------------------------------------------------------------------------

def clip_top(node, src):
    """The constant max of a source Clip (inf for Relu, a Clip without max, or a run-time max)."""
    if node.op_type == "Relu" or len(node.input) < 3 or not node.input[2]:
        return np.inf
    inits = {t.name: numpy_helper.to_array(t) for t in src.graph.initializer}
    return float(inits[node.input[2]]) if node.input[2] in inits else None


def check_replacements(tag, src, q):
    """Every Relu/Clip that is gone was replaced by a clipping QuantizeLinear on its output."""
    kept = {n.name for n in q.graph.node}
    inits = U.initializers(q)
    prod = {o: n for n in q.graph.node for o in n.output}
    graph_outputs = {o.name for o in q.graph.output}
    removed = [n for n in src.graph.node if n.op_type in CLIPS and n.name not in kept]
    readers = {}
    for n in src.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    for n in removed:
        # A chain (Relu -> Clip) is replaced by one Q on its last output, within every bound.
        out, hi, last = n.output[0], clip_top(n, src), n
        while out not in graph_outputs and len(readers.get(out, [])) == 1 and readers[out][0] in removed:
            last = readers[out][0]
            out, top = last.output[0], clip_top(last, src)
            hi = None if hi is None or top is None else min(hi, top)
        if out in graph_outputs:
            dq = prod.get(out)
            qn = prod.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        else:
            qn = next((m for m in q.graph.node if m.op_type == "QuantizeLinear" and m.input[0] == out), None)
        if not T.check(qn is not None and qn.op_type == "QuantizeLinear",
                       f"{tag}: removed {n.op_type} '{n.name}' is replaced by a QuantizeLinear on '{out}'"):
            continue
        scale, zp = inits[qn.input[1]], inits[qn.input[2]]
        top = (255.0 - float(zp)) * float(scale)
        T.check(zp.dtype == np.uint8 and int(zp) == 0 and hi is not None and top <= hi * (1 + 1e-6),
                f"{tag}: that QuantizeLinear clips at {n.op_type}'s bounds: zero point {zp!r}, "
                f"range [0, {top:.6g}] within [0, {hi}]")
    return len(removed)


def seen_input(q, x):
    """x as the INT8 model's readers see it: through the Q/DQ on graph input 'x', if any."""
    a = np.load(x)
    qn = next((n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"), None)
    if qn is None:
        return a
    inits = U.initializers(q)
    scale, zp = np.float32(inits[qn.input[1]]), int(inits[qn.input[2]])
    return (np.clip(np.rint(a / scale) + zp, 0, 255) - zp).astype(np.float32) * scale


def check_clipped(tag, name, got, lo, hi, x, q):
    if hi == "0.5*max(x)":  # the run-time max reads x through its Q/DQ
        hi = 0.5 * float(seen_input(q, x).max())
    lo_got, hi_got = float(got.min()), float(got.max())
    return T.check(lo_got >= lo and hi_got <= hi * (1 + 1e-6),
                   f"{tag}: INT8 output '{name}' stays within [{lo}, {hi:.6g}] as FP32 clips it: "
                   f"[{lo_got:.6g}, {hi_got:.6g}] on {os.path.basename(x)}")


def run_case(tmp, tag, model, clipped, args, calib, xs, min_removed=None, expect_warning=None):
    path = os.path.join(tmp, tag + ".onnx")
    onnx.save(model, path)
    out = os.path.join(tmp, tag + ".int8.onnx")
    r = T.qconvert(path, "--calib", calib, "-o", out, "--threads", "1", *args)
    if not T.check(r.returncode == 0, f"{tag}: qconvert rc {r.returncode} {r.stderr.strip()[:300]}"):
        return
    if expect_warning:
        T.check(expect_warning in r.stdout + r.stderr, f"{tag}: warns '{expect_warning}'")
    good, err = T.checker_ok(out)
    T.check(good, f"{tag}: onnx.checker full_check {err}")
    q = onnx.load(out)
    removed = check_replacements(tag, model, q)
    if min_removed is not None:
        T.check(removed >= min_removed, f"{tag}: {removed} Relu/Clip removed (>= {min_removed})")
    if T.ort_missing() is not None:
        return
    names = [o.name for o in model.graph.output]
    in_name = model.graph.input[0].name
    for i, x in enumerate(xs):
        ref, _ = T.ort_run(path, {in_name: x}, os.path.join(tmp, f"{tag}_f{i}"))
        got, _ = T.ort_run(out, {in_name: x}, os.path.join(tmp, f"{tag}_q{i}"))
        for name, a, b in zip(names, ref, got):
            if name in clipped:
                check_clipped(tag, name, b, *clipped[name], x, q)
            sq = T.sqnr_db(a, b)
            T.check(sq >= 20, f"{tag}: output '{name}' INT8 vs FP32 SQNR {sq:.1f} dB (>= 20) on "
                              f"{os.path.basename(x)}")


def inputs(tmp, tag, shape, n):
    paths = []
    for i in range(n):
        paths.append(os.path.join(tmp, f"{tag}{i}.npy"))
        np.save(paths[-1], rng.standard_normal(shape).astype(np.float32))
    return paths


def main():
    with T.tempdir("qc_e2e_relu_") as tmp:
        def calib_dir(name, shape, count):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            for i in range(count):
                np.save(os.path.join(d, f"{i:02d}.npy"), rng.standard_normal(shape).astype(np.float32))
            return d
        # A vector sample has few values: 64 of them give the range that 16 images give.
        cal_vec, cal_img = calib_dir("calib_vec", (1, 16), 64), calib_dir("calib_img", (1, 3, 8, 8), 16)
        xs_vec = [inputs(tmp, "v", (8, 16), 1)[0]]
        xs_img = [inputs(tmp, "i", (8, 3, 8, 8), 1)[0]]
        xs_one = inputs(tmp, "one", (1, 3, 8, 8), 4)

        run_case(tmp, "gemm_out", *m_gemm_out(), [], cal_vec, xs_vec)
        run_case(tmp, "matmul_clip_out", *m_matmul_clip_out(), [], cal_vec, xs_vec)

        if os.path.isfile(os.path.join(T.FMNIST, "t10k-images-idx3-ubyte.gz")):
            fm_calib = U.export_fmnist_pngs(os.path.join(tmp, "fm_calib"), 64)
            fm_x, _ = U.fmnist_test_npy(os.path.join(tmp, "fm_x.npy"), 64)
            run_case(tmp, "demo_cut", *demo_cut(), [], fm_calib, [fm_x])
        else:
            print(f"SKIP demo_cut: {T.FMNIST} is missing")

        model, clipped = conv_relu_conv()
        run_case(tmp, "exclude_consumer", model, clipped, ["--exclude", "y"], cal_img, xs_img, min_removed=1)
        run_case(tmp, "float_consumer", *conv_relu_conv("Sqrt"), [], cal_img, xs_img, min_removed=1)
        run_case(tmp, "op_types", *m_op_types(), ["--op-types", "Conv,Relu"], cal_vec, xs_vec, min_removed=1)
        run_case(tmp, "weight_only", *m_conv_relu_out(), ["--weight-only"], cal_img, xs_img)
        run_case(tmp, "other_readers", *m_other_readers(), [], cal_img, xs_img)

        # Statistics without r1's record: r1 stays a Relu (a warning), y's Relu is still removed.
        model, clipped = m_no_stats()
        path = os.path.join(tmp, "no_stats_src.onnx")
        onnx.save(model, path)
        full = os.path.join(tmp, "no_stats.stats")
        r = T.qconvert(path, "--calib", cal_img, "-o", os.path.join(tmp, "no_stats_full.onnx"), "--quiet",
                       "--save-stats", full)
        if T.check(r.returncode == 0, f"no_stats: --save-stats rc {r.returncode} {r.stderr.strip()[:200]}"):
            parsed = U.read_stats(full)
            T.check(parsed.get("r1", {}).get("count", 0) > 0, "no_stats: the saved file has r1's record")
            parsed.pop("r1", None)
            partial = os.path.join(tmp, "no_r1.stats")
            write_stats(partial, parsed)
            run_case(tmp, "no_stats", model, clipped, ["--load-stats", partial], cal_img, xs_img, min_removed=1,
                     expect_warning="'r1' has no usable calibration statistics")

        run_case(tmp, "min_sqnr", *m_chain3(), ["--min-sqnr", "150"], cal_img, xs_img)
        run_case(tmp, "concat_pad", *m_concat_pad(), [], cal_img, xs_one, min_removed=1)
        run_case(tmp, "clip_dynamic_max", *m_clip_dynamic_max(), [], cal_img, xs_one)
        run_case(tmp, "relu_clip_chain", *m_relu_clip_chain(), [], cal_img, xs_img, min_removed=2)
    T.finish()


if __name__ == "__main__":
    main()
