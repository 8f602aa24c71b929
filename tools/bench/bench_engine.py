#!/usr/bin/python3
"""Benchmark qconvert's FP32 engine against onnxruntime-node.

    /usr/bin/python3 tools/bench/bench_engine.py [--threads N] [--rounds R] [--repeat K]
        [--models cnn,resnet,blazeface,ppocr,mlsd_large,ppocr_det,ppocr_rec] [--batches 1,8]
        [--qconvert PATH]
        [--qc-env KEY=VAL ...] [--ort-noopt] [--json FILE]

For every model and batch, R interleaved rounds each run `qconvert run
--repeat K` (one warm-up run inside) and `node tools/ort_run.mjs --repeat K
--warmup 2` with the same thread count on the same real-data input; a
process's per-run median is one sample, and the table shows the median of
the R samples per side and the median of the R per-round ratios
qconvert/ORT (robust to load shifting between rounds on a shared machine).
Goal: ratio <= 1.2. Session creation and model loading are not timed.
The peak RSS columns are each process's own high-water mark (/usr/bin/time,
median over rounds): model, session and one batch's activations.

Models: the demo's Fashion-MNIST nets (cnn, resnet, dwnet), BlazeFace front
128, PP-OCR cls (ppocr), and M-LSD 512 tiny/large (mlsd_tiny, mlsd_large; NHWC
RGBA 0-255), PP-OCRv4 det at 320x320 and rec at 48x320 (ppocr_det, ppocr_rec),
fed photos and text as docs/accuracy.md does.

--ort-noopt also times ORT with graph optimizations disabled (no Conv+BN/Relu
fusion, no constant folding): the gap between the two ORT columns is what
graph rewriting buys; the rest is kernel speed.

--qc-env sets environment variables for the qconvert processes only (e.g.
OMP_WAIT_POLICY=passive) to try runtime settings without rebuilding.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qc_models as qm  # noqa: E402


def configs(tmp, models, batches):
    out = []
    for key in models:
        for n in batches:
            if key in ('cnn', 'resnet', 'dwnet'):
                model = os.path.join(qm.SOURCE_ROOT, 'demo', f'fmnist_{key}.onnx')
                if not os.path.isfile(model):
                    continue
                x = qm.fmnist_images(n)
            elif key == 'blazeface':
                model = qm.BLAZEFACE if n == 1 else qm.blazeface_batch(os.path.join(tmp, f'blazeface_b{n}.onnx'), n)
                x = qm.blazeface_images(n)
            elif key == 'ppocr':
                model = qm.PPOCR_CLS
                x = qm.ppocr_images(n)
            elif key in ('mlsd_tiny', 'mlsd_large', 'ppocr_det', 'ppocr_rec'):
                model, x = qm.real_model(key, n, tmp)
            else:
                raise SystemExit(f'unknown model key {key}')
            npy = os.path.join(tmp, f'{key}_b{n}.npy')
            np.save(npy, x)
            out.append({'label': f'{key} N={n}', 'model': model, 'name': qm.input_name(model), 'npy': npy,
                        'shape': 'x'.join(map(str, x.shape))})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=5, help='interleaved process pairs per config (default 5)')
    ap.add_argument('--repeat', type=int, default=20, help='timed runs per process (default 20)')
    ap.add_argument('--models', default='cnn,resnet,blazeface,ppocr,mlsd_large,ppocr_det,ppocr_rec')
    ap.add_argument('--batches', default='1,8')
    ap.add_argument('--qconvert', default=None)
    ap.add_argument('--qc-env', action='append', default=[], metavar='KEY=VAL')
    ap.add_argument('--ort-noopt', action='store_true', help='also time ORT without graph optimizations')
    ap.add_argument('--json', default=None, help='also write the results as JSON')
    a = ap.parse_args()
    why = qm.deps_missing()
    if why:
        print(f'bench_engine: {why}', file=sys.stderr)
        return 2
    qc = a.qconvert or qm.find_qconvert()
    env = dict(os.environ)
    for kv in a.qc_env:
        k, _, v = kv.partition('=')
        env[k] = v
    rows = []
    with tempfile.TemporaryDirectory(prefix='qc_bench_') as tmp:
        cfgs = configs(tmp, a.models.split(','), [int(b) for b in a.batches.split(',')])
        samples = {c['label']: ([], [], []) for c in cfgs}
        rss = {c['label']: ([], []) for c in cfgs}
        for r in range(a.rounds):
            for c in cfgs:
                # Alternate which side goes first so neither always follows the other.
                order = ('qc', 'ort') if r % 2 == 0 else ('ort', 'qc')
                if a.ort_noopt:
                    order += ('noopt',)
                for side in order:
                    if side == 'qc':
                        _, ms = qm.run_qconvert(c['model'], c['name'], c['npy'], os.path.join(tmp, 'qc'),
                                                threads=a.threads, repeat=a.repeat, qconvert=qc, env=env)
                        samples[c['label']][0].append(ms)
                        rss[c['label']][0].append(qm.LAST_PEAK_RSS_MIB['qconvert'])
                    else:
                        _, ms = qm.run_ort(c['model'], c['name'], c['npy'], os.path.join(tmp, 'ort'),
                                           threads=a.threads, repeat=a.repeat, warmup=2, optimize=side == 'ort')
                        samples[c['label']][1 if side == 'ort' else 2].append(ms)
                        if side == 'ort':
                            rss[c['label']][1].append(qm.LAST_PEAK_RSS_MIB['ort'])
            print(f'round {r + 1}/{a.rounds} done', file=sys.stderr, flush=True)
        for c in cfgs:
            q, o, no = samples[c['label']]
            ratios = [x / y for x, y in zip(q, o)]
            row = {'config': c['label'], 'input': c['shape'], 'qconvert_ms': statistics.median(q),
                   'ort_ms': statistics.median(o), 'ratio': statistics.median(ratios),
                   'ratio_min': min(ratios), 'ratio_max': max(ratios), 'qconvert_samples': q, 'ort_samples': o}
            for side, vals in zip(('qconvert', 'ort'), rss[c['label']]):
                vals = [v for v in vals if v is not None]
                row[f'{side}_peak_rss_mib'] = statistics.median(vals) if vals else None
            if no:
                row['ort_noopt_ms'] = statistics.median(no)
                row['ratio_noopt'] = statistics.median([x / y for x, y in zip(q, no)])
                row['ort_noopt_samples'] = no
            rows.append(row)
    print(f'threads={a.threads} rounds={a.rounds} repeat={a.repeat}'
          + (f' qc-env={" ".join(a.qc_env)}' if a.qc_env else ''))
    hdr = (f'{"config":<16} {"input":<16} {"qconvert ms":>12} {"ORT ms":>9} {"ratio":>7}  {"ratio range":>15}  goal'
           f'  {"qc RSS MiB":>10} {"ORT RSS MiB":>11}')
    if a.ort_noopt:
        hdr += f'  {"ORT-noopt ms":>12} {"ratio":>6}'
    print(hdr)
    print('-' * len(hdr))
    for r in rows:
        mib = lambda v: f'{v:.1f}' if v is not None else '-'
        line = (f'{r["config"]:<16} {r["input"]:<16} {r["qconvert_ms"]:>12.3f} {r["ort_ms"]:>9.3f} {r["ratio"]:>7.2f}  '
                f'{r["ratio_min"]:>6.2f} - {r["ratio_max"]:<6.2f}  {"ok  " if r["ratio"] <= 1.2 else "SLOW"}'
                f'  {mib(r["qconvert_peak_rss_mib"]):>10} {mib(r["ort_peak_rss_mib"]):>11}')
        if 'ort_noopt_ms' in r:
            line += f'  {r["ort_noopt_ms"]:>12.3f} {r["ratio_noopt"]:>6.2f}'
        print(line)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'threads': a.threads, 'rounds': a.rounds, 'repeat': a.repeat, 'qc_env': a.qc_env,
                       'rows': rows}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
