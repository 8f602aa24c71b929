#!/usr/bin/python3
"""Cross-check of qconvert's FP32 engine against onnxruntime-node.

Runs every demo/*.onnx (batch 1 and 8, Fashion-MNIST test images and a
random input), BlazeFace (real photos, batch 1 and a batch-8 variant, plus a
random input) and PP-OCR cls (text crops at 1x3x48x192 and 8x3x48x192, plus
a random input) and a model of the Conv fusion patterns in `qconvert run`
and in tools/ort_run.mjs on the same .npy
inputs, and requires max |diff| <= 1e-3 * max |ref| for every output.

Also checks the unsupported-op early error: `qconvert run` on a model with
an op outside the registry exits 2 with a message naming op, opset and node,
before it reads any input file.

Exit 0 = pass, 1 = fail, 77 = skipped (.deps missing: run tools/fetch_deps.sh).
"""
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

SRC = os.environ.get('QC_SOURCE_ROOT',
                     os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'bench'))
import qc_models as qm  # noqa: E402
import qc_test as T  # noqa: E402
from qc_test import check  # noqa: E402

REL_TOL = 1e-3
THREADS = int(os.environ.get('QC_XCHECK_THREADS', '2'))
def compare(label, model, name, x, tmp):
    npy = os.path.join(tmp, 'in.npy')
    np.save(npy, np.ascontiguousarray(x, dtype=np.float32))
    try:
        got, _ = qm.run_qconvert(model, name, npy, os.path.join(tmp, 'qc'), threads=THREADS)
        ref, _ = qm.run_ort(model, name, npy, os.path.join(tmp, 'ort'), threads=THREADS)
    except RuntimeError as e:
        check(False, f'{label}: {e}')
        return
    finally:
        for d in ('qc', 'ort'):
            p = os.path.join(tmp, d)
            if os.path.isdir(p):
                for f in os.listdir(p):
                    os.unlink(os.path.join(p, f))
    if len(got) != len(ref):
        check(False, f'{label}: qconvert wrote {len(got)} outputs, onnxruntime {len(ref)}')
        return
    for i, (g, r) in enumerate(zip(got, ref)):
        if g.shape != r.shape or g.dtype != r.dtype:
            check(False, f'{label} output {i}: shape/dtype {g.shape} {g.dtype} vs ort {r.shape} {r.dtype}')
            continue
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        diff = float(np.max(np.abs(g.astype(np.float64) - r.astype(np.float64)))) if r.size else 0.0
        ok = np.all(np.isfinite(g)) and diff <= REL_TOL * scale
        check(ok, f'{label} output {i} {r.shape}: max|diff| {diff:.3g}, max|ref| {scale:.3g}, '
                  f'rel {diff / scale if scale else 0:.3g}')


def crosscheck(tmp):
    rng = np.random.default_rng(0)
    for model in qm.demo_models():
        base = os.path.basename(model)
        name = qm.input_name(model)
        for n in (1, 8):
            compare(f'{base} fmnist N={n}', model, name, qm.fmnist_images(n, start=100), tmp)
        compare(f'{base} random N=8', model, name, rng.random((8, 1, 28, 28), dtype=np.float32), tmp)

    bf1 = qm.BLAZEFACE
    bf8 = qm.blazeface_batch(os.path.join(tmp, 'blazeface_b8.onnx'), 8)
    name = qm.input_name(bf1)
    compare('blazeface photo N=1', bf1, name, qm.blazeface_images(1), tmp)
    compare('blazeface photos N=8', bf8, name, qm.blazeface_images(8), tmp)
    compare('blazeface random N=1', bf1, name, rng.uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32), tmp)

    name = qm.input_name(qm.PPOCR_CLS)
    compare('ppocr_cls text N=1', qm.PPOCR_CLS, name, qm.ppocr_images(1), tmp)
    compare('ppocr_cls text N=8', qm.PPOCR_CLS, name, qm.ppocr_images(8), tmp)
    compare('ppocr_cls random N=1', qm.PPOCR_CLS, name,
            rng.uniform(-1, 1, (1, 3, 48, 192)).astype(np.float32), tmp)


def fusion_patterns(tmp):
    """Conv followed by what the engine runs in the Conv's epilogue when no
    callback watches (src/engine/fusion.h): each activation, Conv+Add+Relu
    with a same-shape residual, and the cases it must leave unfused (a
    broadcasting Add, a Conv output that is also a graph output)."""
    rng = np.random.default_rng(1)
    C = 8
    inits, nodes = [], []

    def conv(src, i):
        w = helper.make_tensor(f'w{i}', TensorProto.FLOAT, [C, C, 3, 3],
                               (rng.standard_normal((C, C, 3, 3)) * 0.3).astype(np.float32).ravel())
        b = helper.make_tensor(f'b{i}', TensorProto.FLOAT, [C], rng.standard_normal(C).astype(np.float32))
        inits.extend([w, b])
        nodes.append(helper.make_node('Conv', [src, f'w{i}', f'b{i}'], [f'c{i}'], pads=[1, 1, 1, 1]))
        return f'c{i}'

    nodes.append(helper.make_node('Add', [conv('x', 1), 'x'], ['a1']))            # same-shape residual
    nodes.append(helper.make_node('Relu', ['a1'], ['r1']))
    inits.append(helper.make_tensor('bb', TensorProto.FLOAT, [1, C, 1, 1], rng.standard_normal(C).astype(np.float32)))
    nodes.append(helper.make_node('Add', ['bb', conv('r1', 2)], ['a2']))          # broadcasting: unfused
    nodes.append(helper.make_node('Relu', ['a2'], ['r2']))
    inits.append(helper.make_tensor('lo', TensorProto.FLOAT, [], [-0.5]))
    nodes.append(helper.make_node('Clip', [conv('r2', 3), 'lo'], ['r3']))
    nodes.append(helper.make_node('HardSigmoid', [conv('r3', 4)], ['r4'], alpha=0.3, beta=0.4))
    nodes.append(helper.make_node('LeakyRelu', [conv('r4', 5)], ['r5'], alpha=0.1))
    nodes.append(helper.make_node('HardSwish', [conv('r5', 6)], ['r6']))
    nodes.append(helper.make_node('Sigmoid', [conv('r6', 7)], ['r7']))
    nodes.append(helper.make_node('Relu', [conv('r7', 8)], ['r8']))               # c8 is a graph output too
    g = helper.make_graph(nodes, 'fusion', [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', C, 12, 12])],
                          [helper.make_tensor_value_info(v, TensorProto.FLOAT, None) for v in ('r8', 'c8', 'r2')],
                          inits)
    path = os.path.join(tmp, 'fusion.onnx')
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 14)]), path)
    for n in (1, 3):
        compare(f'conv fusion patterns N={n}', path, 'x', rng.standard_normal((n, C, 12, 12)).astype(np.float32), tmp)


def unsupported_op(tmp):
    """An op outside the registry fails `qconvert run` with exit 2 and a message
    naming op, opset and node, before reading inputs (the input files here
    do not exist, so reading them first would give a different error)."""
    cases = []
    g = helper.make_graph(
        [helper.make_node('Relu', ['boxes'], ['r'], name='relu_first'),
         helper.make_node('NonMaxSuppression', ['r', 'scores'], ['sel'], name='nms_node')],
        'nms', [helper.make_tensor_value_info('boxes', TensorProto.FLOAT, [1, 4, 4]),
                helper.make_tensor_value_info('scores', TensorProto.FLOAT, [1, 1, 4])],
        [helper.make_tensor_value_info('sel', TensorProto.INT64, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
    cases.append(('nms.onnx', m, ['NonMaxSuppression', 'nms_node'], 13, [(1, 4, 4), (1, 1, 4)]))
    g = helper.make_graph(
        [helper.make_node('FancyOp', ['x'], ['y'], name='custom_node', domain='com.example')],
        'custom', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid('com.example', 3)])
    cases.append(('custom.onnx', m, ['FancyOp', 'custom_node', 'com.example'], 3, [(1, 4)]))
    for fname, m, words, opset, shapes in cases:
        path = os.path.join(tmp, fname)
        onnx.save(m, path)
        base = [qm.find_qconvert(), 'run', path, '--output-dir', os.path.join(tmp, 'unsup')]
        good, missing_files = list(base), list(base)
        for i, shape in enumerate(shapes):
            npy = os.path.join(tmp, f'{fname}_in{i}.npy')
            np.save(npy, np.zeros(shape, np.float32))
            good += ['--input', npy]
            missing_files += ['--input', os.path.join(tmp, f'does_not_exist_{i}.npy')]
        # Valid inputs: the op error itself.
        r = subprocess.run(good, capture_output=True, text=True)
        err = r.stderr.strip()
        check(r.returncode == 2, f'{fname}: exit code {r.returncode} (want 2): {err}')
        absent = [w for w in words if w not in err]
        check(not absent, f'{fname}: message names {words} (missing {absent}): {err}')
        check(re.search(rf'opset\D{{0,3}}{opset}\b', err) is not None, f'{fname}: message names opset {opset}: {err}')
        # Missing input files: the op is still the error (checked before inputs are read).
        r = subprocess.run(missing_files, capture_output=True, text=True)
        err = r.stderr.strip()
        check(r.returncode == 2 and words[0] in err and 'does_not_exist' not in err,
              f'{fname}: fails on the op before reading inputs (exit {r.returncode}): {err}')


def main():
    why = qm.deps_missing()
    with T.tempdir('qc_xcheck_') as tmp:
        unsupported_op(tmp)
        if why and not T.failures:
            T.skip(f'ort cross-check: {why}')
        if why:
            print(f'SKIP ort cross-check: {why}')
        else:
            fusion_patterns(tmp)
            crosscheck(tmp)
    T.finish('ort_crosscheck')


if __name__ == '__main__':
    main()
