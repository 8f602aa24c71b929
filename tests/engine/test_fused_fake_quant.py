#!/usr/bin/env python3
"""Fused fake quantization (src/engine/fusion.h) gives the bits of the per-node kernels.

A run without a value callback computes QuantizeLinear -> DequantizeLinear as
one pass, alone or in the epilogue of the Conv (+ Add, + activation), the
Add/Sub/Mul/Div, MatMul or activation that makes its input. Each small QDQ graph below runs through
fused_fake_quant_run (argv[1]), which runs it fused and with a callback
watching every value (per-node QuantizeLinear, DequantizeLinear, Relu, Add)
and requires the same bytes; the fused outputs must also equal a numpy
float32 reference (np.round is round half to even). The inputs hit the
rounding ties (x / s exactly k + 0.5), saturation at both ends, NaN and
infinities. The fusion counts the engine reports show which graphs fuse: a
per-channel pair and a QuantizeLinear whose output is a graph output must
not.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qc_test as T
from test_prepacked_weights import conv_ref  # float64 NCHW convolution

RUNNER = sys.argv[1]


def fake_quant(x, s, zp, lo, hi, dq_s=None):
    """QuantizeLinear then DequantizeLinear in float32, NaN to the zero point."""
    x = np.asarray(x, np.float32)
    v = np.divide(x, np.float32(s), dtype=np.float32)
    v = np.where(np.isnan(v), np.float32(0), v)
    q = np.clip(np.round(v) + np.float32(zp), lo, hi).astype(np.float32)
    return ((q - np.float32(zp)) * np.float32(s if dq_s is None else dq_s)).astype(np.float32)


def save(path, nodes, inputs, outputs, inits):
    vi = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)  # noqa: E731
    g = helper.make_graph(nodes, 'g', [vi(n, list(a.shape)) for n, a in inputs],
                          [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs],
                          [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
    m.ir_version = 8
    onnx.save(m, path)


def qparams(tag, s, zp, dtype=np.int8):
    return [(f's_{tag}', np.array(s, np.float32)), (f'z_{tag}', np.array(zp, dtype))]


def qdq(src, dst, tag, readers=None):
    """Q of src with params tag, then DQ(s) into dst (readers: [(dst, scale tag)])."""
    nodes = [helper.make_node('QuantizeLinear', [src, f's_{tag}', f'z_{tag}'], [f'{src}_q'])]
    for d, t in readers or [(dst, tag)]:
        nodes.append(helper.make_node('DequantizeLinear', [f'{src}_q', f's_{t}', f'z_{tag}'], [d]))
    return nodes


def tie_input(shape, s, rng):
    """Multiples of s/4 (ties at odd multiples of s/2), saturating values and specials."""
    k = rng.integers(-700, 700, size=shape).astype(np.float32)
    x = (k * np.float32(s) / np.float32(4)).astype(np.float32).ravel()
    x[:6] = [np.nan, np.inf, -np.inf, 1e30, -1e30, -0.0]
    return x.reshape(shape)


def cases(rng):
    # 1. Q -> DQ alone, int8 and uint8 (two chains), s a power of two and not.
    x = tie_input((2, 3, 17, 19), 0.5, rng)
    x2 = (rng.standard_normal((2, 3, 17, 19)) * 9).astype(np.float32)
    x2.ravel()[:300] = (np.arange(300) - 150).astype(np.float32) * np.float32(0.0371) * np.float32(0.5)
    nodes = qdq('X', 'Y', 'a') + qdq('X2', 'Y2', 'b')
    inits = qparams('a', 0.5, -3) + qparams('b', 0.0371, 128, np.uint8)
    yield ('Q->DQ alone', nodes, [('X', x), ('X2', x2)], ['Y', 'Y2'], inits, (2, 2),
           [fake_quant(x, 0.5, -3, -128, 127), fake_quant(x2, 0.0371, 128, 0, 255)])
    # 2. Two DequantizeLinear readers, one a rescale (its own scale).
    nodes = qdq('X', None, 'a', readers=[('Y', 'a'), ('Y2', 'c')])
    inits = qparams('a', 0.25, 5) + [('s_c', np.array(0.75, np.float32))]
    yield ('Q with two DQ readers', nodes, [('X', x)], ['Y', 'Y2'], inits, (2, 2),
           [fake_quant(x, 0.25, 5, -128, 127), fake_quant(x, 0.25, 5, -128, 127, 0.75)])
    # 3-6. Conv (+Add) (+Relu) -> Q -> DQ; integer weights and quarter inputs make exact sums with ties.
    xc = (rng.integers(-40, 40, size=(2, 8, 12, 12)) / 4).astype(np.float32)
    for label, group, ksize, add, relu, expect in [('Conv 3x3 + Relu + Q + DQ', 1, 3, False, True, (3, 1)),
                                                   ('Conv 1x1 + Add + Q + DQ', 1, 1, True, False, (3, 1)),
                                                   ('Conv 3x3 + Add + Relu + Q + DQ', 1, 3, True, True, (4, 1)),
                                                   ('depthwise Conv + Relu + Q + DQ', 8, 3, False, True, (3, 1))]:
        w = rng.integers(-3, 4, size=(8, 8 // group, ksize, ksize)).astype(np.float32)
        b = (rng.integers(-8, 8, size=8) / 4).astype(np.float32)
        pad = ksize // 2
        nodes = [helper.make_node('Conv', ['X', 'W', 'B'], ['C'], pads=[pad] * 4, group=group)]
        ref, last = conv_ref(xc, w, b, 1, pad, group).astype(np.float32), 'C'
        if add:
            nodes.append(helper.make_node('Add', ['X', 'C'], ['A']))
            ref, last = (ref + xc).astype(np.float32), 'A'
        if relu:
            nodes.append(helper.make_node('Relu', [last], ['R']))
            ref, last = np.maximum(ref, np.float32(0)), 'R'
        s = 0.5 if ksize == 3 else 0.125
        nodes += qdq(last, 'Y', 'a')
        inits = [('W', w), ('B', b)] + qparams('a', s, 2)
        yield (label, nodes, [('X', xc)], ['Y'], inits, expect, [fake_quant(ref, s, 2, -128, 127)])
    # 6b. Conv -> Q read by two DQs: the Conv runs unfused, the Q's two readers fused as in case 2
    # (planning it once wrote past a one-reader buffer; ASan caught it).
    w = rng.integers(-3, 4, size=(8, 8, 1, 1)).astype(np.float32)
    nodes = [helper.make_node('Conv', ['X', 'W'], ['C'])] + qdq('C', None, 'a', readers=[('Y', 'a'), ('Y2', 'c')])
    ref = conv_ref(xc, w, np.zeros(8, np.float32), 1, 0, 1).astype(np.float32)
    inits = [('W', w)] + qparams('a', 0.5, 2) + [('s_c', np.array(0.75, np.float32))]
    yield ('Conv + Q with two DQ readers', nodes, [('X', xc)], ['Y', 'Y2'], inits, (2, 2),
           [fake_quant(ref, 0.5, 2, -128, 127), fake_quant(ref, 0.5, 2, -128, 127, 0.75)])
    # 7. Add and a broadcasting Mul (an SE block's) -> Q -> DQ: the pair in the binary kernel's epilogue.
    xa = tie_input((2, 8, 12, 12), 0.25, rng)
    xb = (rng.integers(-40, 40, size=(2, 8, 12, 12)) / 4).astype(np.float32)
    gate = (rng.integers(1, 8, size=(1, 8, 1, 1)) / 4).astype(np.float32)
    nodes = ([helper.make_node('Add', ['XA', 'XB'], ['S']), helper.make_node('Mul', ['XB', 'G'], ['P'])] +
             qdq('S', 'Y', 'a') + qdq('P', 'Y2', 'b'))
    inits = [('G', gate)] + qparams('a', 0.25, -7) + qparams('b', 0.3, 0)
    yield ('Add, broadcasting Mul + Q + DQ', nodes, [('XA', xa), ('XB', xb)], ['Y', 'Y2'], inits, (4, 2),
           [fake_quant(xa + xb, 0.25, -7, -128, 127), fake_quant(xb * gate, 0.3, 0, -128, 127)])
    # 8. MatMul (batched against one B) and Sigmoid -> Q -> DQ: the GEMM's tile epilogue, the activation's pass.
    xm = (rng.integers(-20, 20, size=(2, 5, 33)) / 4).astype(np.float32)
    bm = rng.integers(-3, 4, size=(33, 21)).astype(np.float32)
    nodes = ([helper.make_node('MatMul', ['XM', 'BM'], ['M']), helper.make_node('Sigmoid', ['XM'], ['SG'])] +
             qdq('M', 'Y', 'a') + qdq('SG', 'Y2', 'b'))
    inits = [('BM', bm)] + qparams('a', 0.5, 1) + qparams('b', 1 / 255, -128)
    ref = (xm.astype(np.float64) @ bm.astype(np.float64)).astype(np.float32)
    yield ('MatMul, Sigmoid + Q + DQ', nodes, [('XM', xm)], ['Y', 'Y2'], inits, (4, 2),
           [fake_quant(ref, 0.5, 1, -128, 127), None])
    # 9. Per-channel Q/DQ (axis 1): not fused, still right.
    sc = np.array([0.5, 0.25, 0.125], np.float32)
    zc = np.array([0, 3, -2], np.int8)
    nodes = [helper.make_node('QuantizeLinear', ['X', 's_p', 'z_p'], ['Xq'], axis=1),
             helper.make_node('DequantizeLinear', ['Xq', 's_p', 'z_p'], ['Y'], axis=1)]
    ref = np.concatenate([fake_quant(x[:, c:c + 1], sc[c], zc[c], -128, 127) for c in range(3)], axis=1)
    yield ('per-channel Q->DQ (not fused)', nodes, [('X', x)], ['Y'], [('s_p', sc), ('z_p', zc)], (0, 0), [ref])
    # 10. The QuantizeLinear's output is a graph output: not fused, both outputs right.
    nodes = qdq('X', 'Y', 'a')
    ref_q = np.clip(np.round(np.where(np.isnan(x), 0, x / np.float32(0.5))) - 3, -128, 127).astype(np.int8)
    yield ('Q that is a graph output (not fused)', nodes, [('X', x)], ['X_q', 'Y'], qparams('a', 0.5, -3), (0, 0),
           [ref_q, fake_quant(x, 0.5, -3, -128, 127)])


def main():
    rng = np.random.default_rng(15)
    with T.tempdir('qc_fused_fq_') as tmp:
        for i, (label, nodes, inputs, outputs, inits, expect, refs) in enumerate(cases(rng)):
            path = os.path.join(tmp, f'case{i}.onnx')
            save(path, nodes, inputs, outputs, inits)
            files = []
            for name, a in inputs:
                f = os.path.join(tmp, f'case{i}_{name}.f32')
                a.astype(np.float32).tofile(f)
                files.append(f)
            prefix = os.path.join(tmp, f'case{i}_out')
            r = subprocess.run([RUNNER, path, prefix] + files, capture_output=True, text=True)
            T.check(r.returncode == 0, f'{label}: fused run equals the per-node run', r.stdout + r.stderr)
            counts = [int(t) for t in r.stdout.split()[1:4:2]] if r.stdout.startswith('absorbed') else None
            T.check(counts is not None and tuple(counts) == expect,
                    f'{label}: fused nodes (absorbed, fake-quant) = {expect}', f'got {counts}')
            for j, ref in enumerate(refs):
                if ref is None:  # the engine's own transcendental: the per-node run is the reference
                    continue
                f = f'{prefix}{j}.f32'
                got = np.fromfile(f, ref.dtype) if os.path.exists(f) else None
                same = got is not None and got.tobytes() == ref.tobytes()
                T.check(same, f'{label}: output {j} equals numpy',
                        '' if same or got is None or got.size != ref.size else
                        f'{int((got != ref.ravel()).sum())} of {ref.size} differ, first at {np.argmax(got != ref.ravel())}')
    T.finish('fused_fake_quant')


if __name__ == '__main__':
    main()
