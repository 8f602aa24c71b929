#!/usr/bin/python3
"""qconvert's portable transcendental functions (src/ops/pmath.c, vmath.h)
against numpy in float64 rounded to float32.

One model applies every float element-wise math op to inputs that cover the
ranges that matter: ordinary values, tiny and huge magnitudes (sin/cos/tan
of arguments up to 1e38 need exact argument reduction), zeros, infinities
and NaN. Each output must be within MAX_ULP units in the last place of the
correctly rounded float32 result (NaN where numpy gives NaN), or within
FLT_MIN of it (below which ulps are subnormal steps: sigmoid(-1e12) may be
4e-39 instead of 0).

Exit 0 = pass, 1 = fail.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'bench'))
import qc_models as qm  # noqa: E402
import qc_test as T  # noqa: E402

MAX_ULP = {'default': 2, 'Exp': 3, 'Sigmoid': 8, 'Tanh': 8, 'Erf': 64}  # vmath.h float polynomials


def ulp_distance(a, b):
    """|a - b| in float32 ulps (both float32 arrays); inf where one is NaN."""
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)  # monotonic integer order
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    d = np.abs(ia - ib).astype(np.float64)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    d[nan_a & nan_b] = 0
    d[nan_a ^ nan_b] = np.inf
    return d


def inputs():
    rng = np.random.default_rng(5)
    parts = [rng.standard_normal(20000) * 3, rng.uniform(-1, 1, 20000),
             np.exp(rng.uniform(-80, 88, 20000)) * rng.choice([-1, 1], 20000),  # all scales
             rng.uniform(-1e6, 1e6, 5000), np.exp(rng.uniform(13, 87, 5000)),  # large trig arguments
             np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, 1e-30, -1e-30, 3.4e38, 1e-45,
                       np.pi / 2, np.pi, 1e22, 1.5e-8, 88.7, -87.5, 104.0, -104.0])]
    return np.concatenate(parts).astype(np.float32)


# op -> float64 reference on float64 inputs
REFS = {
    'Exp': np.exp, 'Log': np.log, 'Sin': np.sin, 'Cos': np.cos, 'Tan': np.tan, 'Asin': np.arcsin,
    'Acos': np.arccos, 'Atan': np.arctan, 'Sinh': np.sinh, 'Cosh': np.cosh, 'Asinh': np.arcsinh,
    'Acosh': np.arccosh, 'Atanh': np.arctanh, 'Softplus': lambda x: np.logaddexp(0.0, x),
    'Sigmoid': lambda x: 1.0 / (1.0 + np.exp(-x)), 'Tanh': np.tanh,
}


def main():
    qconvert = qm.find_qconvert()
    x = inputs()
    ops = sorted(REFS)
    nodes = [helper.make_node(op, ['X'], [op]) for op in ops]
    nodes += [helper.make_node('Pow', ['P', 'E'], ['Pow'])]
    graph = helper.make_graph(nodes, 'math', [helper.make_tensor_value_info('X', TensorProto.FLOAT, [x.size]),
                                               helper.make_tensor_value_info('P', TensorProto.FLOAT, [x.size]),
                                               helper.make_tensor_value_info('E', TensorProto.FLOAT, [x.size])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ops + ['Pow']])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    rng = np.random.default_rng(9)
    base = np.abs(x) + np.float32(1e-3)
    expo = rng.uniform(-6, 6, x.size).astype(np.float32)
    expo[::7] = np.round(expo[::7])  # integer exponents take the exact path
    base[1::11] = -base[1::11]  # negative bases: NaN unless the exponent is an integer
    with T.tempdir('qc_math_') as tmp:
        path = os.path.join(tmp, 'math.onnx')
        onnx.save(model, path)
        args = []
        for name, arr in (('X', x), ('P', base), ('E', expo)):
            np.save(os.path.join(tmp, name + '.npy'), arr)
            args += ['--input', f'{name}={os.path.join(tmp, name + ".npy")}']
        out = os.path.join(tmp, 'out')
        r = subprocess.run([qconvert, 'run', path, *args, '--output-dir', out], capture_output=True, text=True)
        if not T.check(r.returncode == 0, 'qconvert run of the math model', r.stderr):
            T.finish('elementwise_math')
        got = qm._outputs(out, 'pb', qm.read_pb)
    x64 = x.astype(np.float64)
    with np.errstate(all='ignore'):
        refs = [REFS[op](x64) for op in ops] + [np.power(base.astype(np.float64), expo.astype(np.float64))]
    for op, g, ref in zip(ops + ['Pow'], got, refs):
        with np.errstate(all='ignore'):
            want = ref.astype(np.float32)
            d = ulp_distance(g, want)
            d[np.abs(g.astype(np.float64) - want) <= np.finfo(np.float32).tiny] = 0
        worst = int(np.argmax(d))
        limit = MAX_ULP.get(op, MAX_ULP['default'])
        ok = d[worst] <= limit
        src = base[worst] if op == 'Pow' else x[worst]
        T.check(ok, f'{op:9s} max {d[worst]:.0f} ulp (limit {limit}) at x={src!r}: '
                f'got {g[worst]!r}, want {want[worst]!r}')
    T.finish('elementwise_math')


if __name__ == '__main__':
    main()
