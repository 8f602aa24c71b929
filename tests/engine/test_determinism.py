#!/usr/bin/python3
"""Bit-for-bit determinism of qconvert's FP32 engine.

Runs every model through `qconvert run` at --threads 1, 2 and 3 and with each
instruction-set path the CPU has forced (QC_ISA=default|avx2|avx512, see
src/ops/simd.h; the default run also hides AVX2/FMA/AVX-512 from glibc so
libm picks its baseline variants, as on an older machine), and requires
byte-identical output files for every configuration.

Models:
  - demo/*.onnx on Fashion-MNIST test images, N=1 and N=8;
  - single-op and small models in the style of the ONNX backend tests, with
    random data and sizes that cross the kernels' tiling and threading
    thresholds (odd M/N, K blocking, groups, dilation, depthwise, 3-D,
    ConvTranspose, Gemm with alpha/beta, batched MatMul, long reductions,
    softmax, norms, pooling, transcendental element-wise ops);
  - the real models in .deps/models when present (BlazeFace N=1 and N=8,
    PP-OCR cls/det/rec, M-LSD tiny/large) on real photos.

    --only TEXT   run only the models whose label contains TEXT

Exit 0 = pass, 1 = fail, 77 = nothing to run (no qconvert binary).
"""
import hashlib
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'bench'))
import qc_models as qm  # noqa: E402
import qc_test as T  # noqa: E402

ONLY = sys.argv[sys.argv.index('--only') + 1] if '--only' in sys.argv[:-1] else None
# glibc's libm selects expf/logf/sinf... variants by CPU features; this hides
# the newer ones so the default run also exercises libm's baseline code.
GLIBC_BASELINE = 'glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F,-AVX512BW,-AVX512VL,-AVX512DQ,-AVX'


def cpu_isas():
    flags = set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    flags = set(line.split(':', 1)[1].split())
                    break
    except OSError:
        pass
    isas = ['default']
    if {'avx2', 'fma'} <= flags:
        isas.append('avx2')
    if {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'fma'} <= flags:
        isas.append('avx512')
    return isas


def run_configs():
    """(label, threads, env overrides): threads 1/2/3 on the auto path, then
    each forced path at 2 threads."""
    out = [(f'threads={t}', t, {}) for t in (1, 2, 3)]
    for isa in cpu_isas():
        env = {'QC_ISA': isa}
        if isa == 'default':
            env['GLIBC_TUNABLES'] = GLIBC_BASELINE
        out.append((f'QC_ISA={isa}', 2, env))
    return out


def digest_outputs(out_dir):
    files = sorted(f for f in os.listdir(out_dir) if f.startswith('output_') and f.endswith('.pb'))
    h = hashlib.sha256()
    for f in files:
        with open(os.path.join(out_dir, f), 'rb') as fh:
            h.update(f.encode() + b'\0' + fh.read())
        os.unlink(os.path.join(out_dir, f))
    return h.hexdigest()[:16], len(files)


def check_model(label, model, inputs, tmp, qconvert):
    """inputs: list of (name, array)."""
    if ONLY and ONLY not in label:
        return
    args = []
    for i, (name, x) in enumerate(inputs):
        npy = os.path.join(tmp, f'in{i}.npy')
        np.save(npy, x)
        args += ['--input', f'{name}={npy}']
    seen = {}
    for cfg, threads, extra in run_configs():
        out_dir = os.path.join(tmp, 'out')
        os.makedirs(out_dir, exist_ok=True)
        env = dict(os.environ)
        env.update(extra)
        r = subprocess.run([qconvert, 'run', model, *args, '--output-dir', out_dir, '--threads', str(threads)],
                           capture_output=True, text=True, env=env)
        if not T.check(r.returncode == 0, f'{label} {cfg}: exit {r.returncode}', r.stderr.strip()):
            return
        seen[cfg] = digest_outputs(out_dir)
    distinct = set(seen.values())
    ok = len(distinct) == 1 and next(iter(distinct))[1] > 0
    T.check(ok, f'{label}: ' + ', '.join(f'{c} {d[0]}' for c, d in seen.items()))


# ---- conformance-style models ---------------------------------------------

def make_model(path, nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, 'g', inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version = 8
    onnx.save(m, path)


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def synthetic_models(tmp):
    """Yields (label, model path, [(input name, array)])."""
    rng = np.random.default_rng(1234)

    def rnd(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    convs = [
        # (label, X shape, W shape, attrs, bias)
        ('conv 3x3 pad', (2, 13, 33, 35), (37, 13, 3, 3), dict(pads=[1, 1, 1, 1]), True),
        ('conv 3x3 stride2 dil2', (1, 8, 40, 41), (19, 8, 3, 3), dict(strides=[2, 2], dilations=[2, 2],
                                                                     pads=[2, 1, 2, 1]), True),
        ('conv 1x1 K=300', (3, 300, 9, 11), (45, 300, 1, 1), {}, True),
        ('conv 5x5 K>256 nobias', (1, 24, 20, 20), (33, 24, 5, 5), dict(pads=[2, 2, 2, 2]), False),
        ('conv groups', (2, 12, 17, 17), (18, 4, 3, 3), dict(group=3, pads=[1, 1, 1, 1]), True),
        ('conv depthwise 3x3 s2', (2, 16, 31, 29), (16, 1, 3, 3), dict(group=16, strides=[2, 2],
                                                                       pads=[1, 1, 1, 1]), True),
        ('conv depthwise x2 5x5 dil', (1, 8, 24, 24), (16, 1, 5, 5), dict(group=8, dilations=[2, 1],
                                                                          pads=[4, 2, 4, 2]), True),
        ('conv 1d', (2, 7, 301), (11, 7, 5), dict(pads=[2, 2]), True),
        ('conv 3d', (1, 5, 6, 9, 10), (7, 5, 3, 3, 3), dict(pads=[1, 1, 1, 1, 1, 1]), True),
    ]
    for label, xs, ws, attrs, bias in convs:
        path = os.path.join(tmp, label.replace(' ', '_') + '.onnx')
        inits = {'W': rnd(*ws, scale=0.3)}
        names = ['X', 'W']
        if bias:
            inits['B'] = rnd(ws[0])
            names.append('B')
        make_model(path, [helper.make_node('Conv', names, ['Y'], **attrs)], [vi('X', list(xs))], [vi('Y', None)], inits)
        yield label, path, [('X', rnd(*xs))]

    path = os.path.join(tmp, 'convtranspose.onnx')
    make_model(path, [helper.make_node('ConvTranspose', ['X', 'W', 'B'], ['Y'], strides=[2, 2], pads=[1, 1, 1, 1],
                                       output_padding=[1, 1], group=2)],
               [vi('X', [2, 10, 15, 14])], [vi('Y', None)], {'W': rnd(10, 7, 3, 3, scale=0.3), 'B': rnd(14)})
    yield 'convtranspose', path, [('X', rnd(2, 10, 15, 14))]

    gemms = [('gemm transB bias', dict(transB=1), (67, 300), (45, 300), (45,)),
             ('gemm transA alpha beta', dict(transA=1, alpha=0.5, beta=2.0), (129, 33), (129, 70), (33, 70)),
             ('gemm col bias', {}, (5, 600), (600, 97), (5, 1))]
    for label, attrs, sa, sb, sc in gemms:
        path = os.path.join(tmp, label.replace(' ', '_') + '.onnx')
        make_model(path, [helper.make_node('Gemm', ['A', 'B', 'C'], ['Y'], **attrs)], [vi('A', list(sa))],
                   [vi('Y', None)], {'B': rnd(*sb, scale=0.2), 'C': rnd(*sc)})
        yield label, path, [('A', rnd(*sa))]

    path = os.path.join(tmp, 'matmul_batched.onnx')
    make_model(path, [helper.make_node('MatMul', ['A', 'B'], ['Y'])], [vi('A', [3, 1, 37, 200]), vi('B', [4, 200, 53])],
               [vi('Y', None)], {})
    yield 'matmul broadcast', path, [('A', rnd(3, 1, 37, 200)), ('B', rnd(4, 200, 53))]

    path = os.path.join(tmp, 'matmul_vec.onnx')
    make_model(path, [helper.make_node('MatMul', ['A', 'B'], ['Y'])], [vi('A', [2, 75, 1000])], [vi('Y', None)],
               {'B': rnd(1000, scale=0.1)})
    yield 'matmul vector', path, [('A', rnd(2, 75, 1000))]

    # Reductions and normalisations over long lines (parallel partial sums).
    red = [helper.make_node('ReduceMean', ['X'], ['m'], keepdims=0),
           helper.make_node('ReduceSum', ['X'], ['s'], axes=[1, 2], keepdims=1),
           helper.make_node('ReduceL2', ['X'], ['l2'], axes=[0], keepdims=0),
           helper.make_node('ReduceLogSumExp', ['X'], ['lse'], axes=[3], keepdims=0),
           helper.make_node('Softmax', ['X'], ['sm'], axis=3),
           helper.make_node('LogSoftmax', ['X'], ['lsm'], axis=1),
           helper.make_node('GlobalAveragePool', ['X'], ['gap']),
           helper.make_node('AveragePool', ['X'], ['ap'], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
           helper.make_node('InstanceNormalization', ['X', 'sc', 'bi'], ['in']),
           helper.make_node('LayerNormalization', ['X', 'ln_s', 'ln_b'], ['ln'], axis=-1),
           helper.make_node('BatchNormalization', ['X', 'sc', 'bi', 'mu', 'var'], ['bn'])]
    path = os.path.join(tmp, 'reductions.onnx')
    outs = ['m', 's', 'l2', 'lse', 'sm', 'lsm', 'gap', 'ap', 'in', 'ln', 'bn']
    make_model(path, red, [vi('X', [2, 6, 150, 301])], [vi(o, None) for o in outs],
               {'sc': rnd(6), 'bi': rnd(6), 'mu': rnd(6), 'var': np.abs(rnd(6)) + 0.1,
                'ln_s': rnd(301), 'ln_b': rnd(301)})
    yield 'reductions and norms', path, [('X', rnd(2, 6, 150, 301, scale=3.0))]

    unary = ['Exp', 'Log', 'Sqrt', 'Tanh', 'Sigmoid', 'Erf', 'Sin', 'Cos', 'Tan', 'Atan', 'Asin', 'Acos', 'Sinh',
             'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Softplus', 'Mish', 'Elu', 'Selu', 'Celu', 'Gelu', 'HardSwish',
             'HardSigmoid', 'Softsign', 'Reciprocal']
    nodes, outs = [], []
    for op in unary:
        src = {'Log': 'Xpos', 'Sqrt': 'Xpos', 'Acosh': 'Xge1', 'Asin': 'Xunit', 'Acos': 'Xunit', 'Atanh': 'Xunit'}.get(op, 'X')
        nodes.append(helper.make_node(op, [src], [op.lower()]))
        outs.append(op.lower())
    nodes += [helper.make_node('Abs', ['X'], ['ax']), helper.make_node('Add', ['ax', 'one'], ['Xpos']),
              helper.make_node('Add', ['Xpos', 'one'], ['Xge1']), helper.make_node('Tanh', ['X'], ['Xunit']),
              helper.make_node('Pow', ['Xpos', 'X'], ['pow']), helper.make_node('Pow', ['X', 'two'], ['sq']),
              helper.make_node('Div', ['X', 'Xpos'], ['div'])]
    outs += ['pow', 'sq', 'div']
    path = os.path.join(tmp, 'unary.onnx')
    make_model(path, nodes, [vi('X', [3, 100003])], [vi(o, None) for o in outs],
               {'one': np.array(1.0, np.float32), 'two': np.array(2.0, np.float32)}, opset=20)  # Gelu
    x = np.concatenate([rnd(3, 100000, scale=4.0), np.array([[0.0, 1e-30, -60.0]] * 3, np.float32)], axis=1)
    yield 'transcendental element-wise', path, [('X', x)]


def real_models(tmp):
    if os.path.isfile(qm.BLAZEFACE):
        yield 'blazeface N=1', qm.BLAZEFACE, qm.blazeface_images(1)
        yield 'blazeface N=8', qm.blazeface_batch(os.path.join(tmp, 'blazeface_b8.onnx'), 8), qm.blazeface_images(8)
    if os.path.isfile(qm.PPOCR_CLS):
        yield 'ppocr cls N=4', qm.PPOCR_CLS, qm.ppocr_images(4)
    if os.path.isfile(qm.PPOCR_DET):
        yield 'ppocr det 320', qm.PPOCR_DET, qm.ppocr_det_images(1)
    if os.path.isfile(qm.PPOCR_REC):
        yield 'ppocr rec 48x320', qm.PPOCR_REC, qm.ppocr_rec_images(1)
    if os.path.isfile(qm.MLSD_TINY):
        yield 'mlsd tiny 512', qm.MLSD_TINY, qm.mlsd_images(1)
    if os.path.isfile(qm.MLSD_LARGE):
        yield 'mlsd large 512', qm.MLSD_LARGE, qm.mlsd_images(1)


def main():
    try:
        qconvert = qm.find_qconvert()
    except SystemExit as e:
        T.skip(str(e))
    print('configurations: ' + ', '.join(c[0] for c in run_configs()), flush=True)
    with T.tempdir('qc_determinism_') as tmp:
        for model in qm.demo_models():
            name = qm.input_name(model)
            for n in (1, 8):
                check_model(f'{os.path.basename(model)} N={n}', model, [(name, qm.fmnist_images(n, start=7))], tmp,
                            qconvert)
        for label, path, inputs in synthetic_models(tmp):
            check_model(label, path, inputs, tmp, qconvert)
        for label, path, x in real_models(tmp):
            check_model(label, path, [(qm.input_name(path), x)], tmp, qconvert)
    T.finish('determinism')


if __name__ == '__main__':
    main()
