#!/usr/bin/env python3
"""Weights packed once at engine creation give the bytes of weights packed per run.

The engine packs a Conv's or Gemm's constant weight in the GEMM's layout when
it is created (qc_kernel_prepack); a weight that arrives as a graph input is
packed on every run instead. Each case below runs the same node both ways
(weight as an initializer, then as an input) through `qconvert run` at 1 and
2 threads and requires byte-identical outputs, plus agreement with a numpy
float64 reference. The cases cross the packing edges: a batch-1 Gemm (one
real row in the micro-tile), K past the 256 block, partial column slivers,
groups, strides (im2col) and a product large enough to run on two threads.
The standalone activations that now run through the SIMD epilogue kernel
(Relu, LeakyRelu, HardSigmoid, HardSwish) are compared exactly with numpy's
float32 formulas (and Clip, Add, Mul, Div: per-ISA rows), the 2x2 stride-2 MaxPool loop with numpy's max and the
eight-plane GlobalAveragePool with numpy's float64 mean.
"""
import glob
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qc_test as T


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def save(path, node, inputs, inits):
    g = helper.make_graph([node], 'g', [vi(n, list(a.shape)) for n, a in inputs], [vi('Y', None)],
                          [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])
    m.ir_version = 8
    onnx.save(m, path)


def run(model, inputs, tmp, threads):
    args = []
    for name, a in inputs:
        npy = os.path.join(tmp, f'{name}.npy')
        np.save(npy, a)
        args += ['--input', f'{name}={npy}']
    out = os.path.join(tmp, 'out')
    for f in glob.glob(os.path.join(out, '*')):
        os.remove(f)
    r = T.qconvert('run', model, *args, '--output-dir', out, '--threads', threads)
    if r.returncode != 0:
        return None
    files = sorted(glob.glob(os.path.join(out, '*.pb')))
    return numpy_helper.to_array(onnx.load_tensor(files[0])) if files else None


def conv_ref(x, w, b, stride, pad, group):
    """Direct float64 convolution (NCHW, square stride and pads)."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, m, oh, ow))
    mg = m // group
    for gi in range(group):
        xs = xp[:, gi * cg:(gi + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                y[:, gi * mg:(gi + 1) * mg] += np.einsum('nchw,mc->nmhw', patch, w[gi * mg:(gi + 1) * mg, :, i, j])
    return y + b.astype(np.float64)[None, :, None, None]


def cases(rng):
    def rnd(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    gemms = [  # (label, M, K, N, transB)
        ('gemm batch-1 transB K>256', 1, 3136, 10, 1),
        ('gemm transB partial slivers', 3, 300, 70, 1),
        ('gemm rows past one micro-tile', 9, 40, 33, 0),
        ('gemm batch-1 two threads', 1, 700, 2000, 1),
        ('gemm two threads', 20, 300, 400, 0),
    ]
    for label, m, k, n, tb in gemms:
        a, bias = rnd(m, k), rnd(n)
        b = rnd(n, k, scale=0.05) if tb else rnd(k, n, scale=0.05)
        ref = a.astype(np.float64) @ (b.T if tb else b).astype(np.float64) + bias
        node = helper.make_node('Gemm', ['A', 'B', 'C'], ['Y'], transB=tb)
        yield label, node, [('A', a)], [('B', b), ('C', bias)], ref

    convs = [  # (label, X shape, W shape, stride, pad, group)
        ('conv 3x3 pad groups', (2, 12, 15, 13), (18, 6, 3, 3), 1, 1, 2),
        ('conv 3x3 stride 2', (1, 16, 28, 28), (32, 16, 3, 3), 2, 1, 1),
        ('conv 1x1', (2, 40, 7, 9), (24, 40, 1, 1), 1, 0, 1),
        ('conv 3x3 K>256 two threads', (2, 32, 28, 28), (64, 32, 3, 3), 1, 1, 1),
    ]
    for label, xs, ws, stride, pad, group in convs:
        x, w, bias = rnd(*xs), rnd(*ws, scale=0.2), rnd(ws[0])
        node = helper.make_node('Conv', ['X', 'W', 'B'], ['Y'], strides=[stride, stride], pads=[pad] * 4,
                                group=group)
        yield label, node, [('X', x)], [('W', w), ('B', bias)], conv_ref(x, w, bias, stride, pad, group)


def activations(rng):
    x = (rng.standard_normal(70001) * 4).astype(np.float32)
    x[:4] = [0.0, -0.0, 3.0, -3.0]
    f = np.float32
    sixth = f(1.0) / f(6.0)
    yield 'Relu', {}, x, np.where(x > 0, x, f(0))
    yield 'LeakyRelu', {'alpha': 0.3}, x, np.where(x >= 0, x, f(0.3) * x)
    yield 'HardSigmoid', {'alpha': 0.25, 'beta': 0.4}, x, np.clip(f(0.25) * x + f(0.4), f(0), f(1))
    yield 'HardSwish', {}, x, x * np.clip(x * sixth + f(0.5), f(0), f(1))


def arithmetic(rng):
    """Clip (SIMD epilogue kernel) and the float Add/Mul/Div rows (built per ISA) against numpy float32."""
    x = (rng.standard_normal((3, 7, 1001)) * 4).astype(np.float32)
    y = (rng.standard_normal((3, 7, 1001)) + 3).astype(np.float32)
    lo, hi = np.float32(-1.5), np.float32(6.0)
    yield 'Clip', ['X', 'lo', 'hi'], [('lo', np.array(lo)), ('hi', np.array(hi))], x, np.minimum(np.maximum(x, lo), hi)
    for op, fn in (('Add', np.add), ('Mul', np.multiply), ('Div', np.divide)):
        yield f'{op} tensor', ['X', 'Yt'], [('Yt', y)], x, fn(x, y)
        yield f'{op} scalar', ['X', 'c'], [('c', np.array(np.float32(3.0)))], x, fn(x, np.float32(3.0))


def maxpools(rng):
    """2x2 stride-2 MaxPool (its own loop in pool.c) against numpy, odd and even planes."""
    for shape in ((2, 3, 9, 11), (1, 4, 28, 28), (1, 1, 2, 2)):
        x = rng.standard_normal(shape).astype(np.float32)
        oh, ow = shape[2] // 2, shape[3] // 2
        ref = x[:, :, :2 * oh, :2 * ow].reshape(shape[0], shape[1], oh, 2, ow, 2).max(axis=(3, 5))
        yield f'maxpool 2x2 s2 {"x".join(map(str, shape))}', x, ref


def main():
    rng = np.random.default_rng(7)
    with T.tempdir('qc_prepack_') as tmp:
        for label, node, inputs, weights, ref in cases(rng):
            const_model = os.path.join(tmp, 'const.onnx')
            input_model = os.path.join(tmp, 'input.onnx')
            save(const_model, node, inputs, weights)
            save(input_model, node, inputs + weights, [])
            outs = {}
            for threads in (1, 2):
                outs[f'const t{threads}'] = run(const_model, inputs, tmp, threads)
                outs[f'input t{threads}'] = run(input_model, inputs + weights, tmp, threads)
            if not T.check(all(v is not None for v in outs.values()), f'{label}: qconvert run succeeds'):
                continue
            base = outs['input t1']
            same = [k for k, v in outs.items() if v.shape == base.shape and v.tobytes() == base.tobytes()]
            T.check(len(same) == len(outs), f'{label}: prepacked and per-run packed bytes equal',
                    f'equal to "input t1": {same}')
            err = np.abs(base.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30)
            T.check(base.shape == ref.shape and err < 1e-5, f'{label}: matches numpy (rel {err:.2e})')

        for label, names, consts, x, ref in arithmetic(rng):
            path = os.path.join(tmp, 'arith.onnx')
            save(path, helper.make_node(label.split()[0], names, ['Y']), [('X', x)], consts)
            for threads in (1, 2):
                y = run(path, [('X', x)], tmp, threads)
                T.check(y is not None and y.shape == ref.shape and y.tobytes() == ref.astype(np.float32).tobytes(),
                        f'{label} t{threads}: bit-exact with numpy float32')

        for op, attrs, x, ref in activations(rng):
            path = os.path.join(tmp, f'{op}.onnx')
            save(path, helper.make_node(op, ['X'], ['Y'], **attrs), [('X', x)], [])
            for threads in (1, 2):
                y = run(path, [('X', x)], tmp, threads)
                ok = y is not None and y.tobytes() == ref.astype(np.float32).tobytes()
                bad = 0 if y is None else int(np.sum(y.view(np.uint32) != ref.astype(np.float32).view(np.uint32)))
                T.check(ok, f'{op} t{threads}: bit-exact with numpy float32', f'{bad} elements differ')
        for label, x, ref in maxpools(rng):
            path = os.path.join(tmp, 'maxpool.onnx')
            save(path, helper.make_node('MaxPool', ['X'], ['Y'], kernel_shape=[2, 2], strides=[2, 2]), [('X', x)], [])
            y = run(path, [('X', x)], tmp, 1)
            T.check(y is not None and y.shape == ref.shape and y.tobytes() == ref.tobytes(), f'{label}: equals numpy')

        # GlobalAveragePool sums 8 planes at a time (pool.c); 13 channels cover a group and the rest.
        x = rng.standard_normal((2, 13, 7, 9)).astype(np.float32)
        ref = (x.astype(np.float64).sum(axis=(2, 3), keepdims=True) / 63).astype(np.float32)
        path = os.path.join(tmp, 'gap.onnx')
        save(path, helper.make_node('GlobalAveragePool', ['X'], ['Y']), [('X', x)], [])
        for threads in (1, 2):
            y = run(path, [('X', x)], tmp, threads)
            T.check(y is not None and y.shape == ref.shape and y.tobytes() == ref.tobytes(),
                    f'GlobalAveragePool t{threads}: equals numpy float64 mean rounded to float32')
    T.finish('prepacked_weights')


if __name__ == '__main__':
    main()
