#!/usr/bin/python3
"""Simulated INT8 runs in qconvert's engine against its FP32 runs (issue 15: at most 1.3x).

    /usr/bin/python3 tools/bench/bench_fake_quant.py [--threads N] [--rounds R] [--repeat K]
        [--models blazeface,ppocr,ppocr_det,ppocr_rec,mlsd_tiny,mlsd_large] [--batches 1,8]
        [--qconvert PATH] [--json FILE]

Evaluation (`--eval`, the reports' per-layer errors) and the `--min-sqnr` fallback run the
quantized QDQ model in qconvert's engine: every QuantizeLinear -> DequantizeLinear pair is
computed in float, so an INT8 model costs its FP32 graph plus the fake-quant passes. Per model
and batch (the inputs and models of bench_engine.py), the model is quantized once with the
default job on its own benchmark input (`qconvert MODEL --calib DIR` with one .npy per sample of the batch;
a fixed-batch model is quantized at batch 1 and rewritten to batch N as bench_engine.py does), then R
interleaved rounds each run `qconvert run FP32 --repeat K` and `qconvert run INT8 --repeat K`
on the same input; a process's per-run median is one sample. The table shows the median of
each side and the median of the per-round ratios INT8 / FP32. Goal: ratio <= 1.3.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qc_models as qm  # noqa: E402
from bench_engine import configs  # noqa: E402

GOAL = 1.3


# Models published at batch 1 that bench_engine.py rewrites to a fixed batch N.
FIXED_BATCH_SOURCES = {'blazeface': qm.BLAZEFACE, 'mlsd_tiny': qm.MLSD_TINY, 'mlsd_large': qm.MLSD_LARGE}


def quantize(qc, model, npy, tmp, label, threads):
    """The default job on the config's input samples (one .npy each). A fixed-batch rewrite
    of a batch-1 model is quantized at batch 1 and given the same rewrite."""
    tag = label.replace(' ', '_').replace('=', '')
    calib = os.path.join(tmp, 'calib_' + tag)
    os.makedirs(calib, exist_ok=True)
    x = np.load(npy)
    for i in range(x.shape[0]):
        np.save(os.path.join(calib, f'{i:03d}.npy'), x[i:i + 1])
    key, batch = label.split()[0], x.shape[0]
    src = FIXED_BATCH_SOURCES.get(key) if batch > 1 else None
    out = os.path.join(tmp, f'int8_{tag}.onnx')
    r = subprocess.run([qc, src or model, '--calib', calib, '--threads', str(threads), '-o', out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f'quantizing {label} failed ({r.returncode}):\n{r.stderr}')
    return qm.fixed_batch(out, os.path.join(tmp, f'int8_{tag}_b{batch}.onnx'), batch) if src else out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=3, help='interleaved process pairs per config (default 3)')
    ap.add_argument('--repeat', type=int, default=5, help='timed runs per process (default 5)')
    ap.add_argument('--models', default='blazeface,ppocr,ppocr_det,ppocr_rec,mlsd_tiny,mlsd_large')
    ap.add_argument('--batches', default='1,8')
    ap.add_argument('--qconvert', default=None)
    ap.add_argument('--json', default=None, help='also write the results as JSON')
    a = ap.parse_args()
    why = qm.deps_missing()
    if why:
        print(f'bench_fake_quant: {why}', file=sys.stderr)
        return 2
    qc = a.qconvert or qm.find_qconvert()
    rows = []
    with tempfile.TemporaryDirectory(prefix='qc_bench_fq_') as tmp:
        cfgs = configs(tmp, a.models.split(','), [int(b) for b in a.batches.split(',')])
        for c in cfgs:
            c['int8'] = quantize(qc, c['model'], c['npy'], tmp, c['label'], a.threads)
        samples = {c['label']: ([], []) for c in cfgs}
        for r in range(a.rounds):
            for c in cfgs:
                order = ('fp32', 'int8') if r % 2 == 0 else ('int8', 'fp32')
                for side in order:
                    _, ms = qm.run_qconvert(c['model'] if side == 'fp32' else c['int8'], c['name'], c['npy'],
                                            os.path.join(tmp, 'out'), threads=a.threads, repeat=a.repeat,
                                            qconvert=qc)
                    samples[c['label']][0 if side == 'fp32' else 1].append(ms)
            print(f'round {r + 1}/{a.rounds} done', file=sys.stderr, flush=True)
        for c in cfgs:
            f, q = samples[c['label']]
            ratios = [y / x for x, y in zip(f, q)]
            rows.append({'config': c['label'], 'input': c['shape'], 'fp32_ms': statistics.median(f),
                         'int8_ms': statistics.median(q), 'ratio': statistics.median(ratios),
                         'ratio_min': min(ratios), 'ratio_max': max(ratios), 'fp32_samples': f, 'int8_samples': q})
    print(f'threads={a.threads} rounds={a.rounds} repeat={a.repeat}')
    hdr = f'{"config":<16} {"input":<16} {"FP32 ms":>10} {"INT8 ms":>10} {"ratio":>7}  {"ratio range":>15}  goal'
    print(hdr)
    print('-' * len(hdr))
    for r in rows:
        print(f'{r["config"]:<16} {r["input"]:<16} {r["fp32_ms"]:>10.3f} {r["int8_ms"]:>10.3f} {r["ratio"]:>7.2f}  '
              f'{r["ratio_min"]:>6.2f} - {r["ratio_max"]:<6.2f}  {"ok  " if r["ratio"] <= GOAL else "SLOW"}')
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'threads': a.threads, 'rounds': a.rounds, 'repeat': a.repeat, 'rows': rows}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
