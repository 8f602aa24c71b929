#!/usr/bin/python3
"""Where the INT8 error of the real models comes from: weights, activation clipping or activation rounding.

    /usr/bin/python3 tools/bench/bench_loss_sources.py [--models ppocr_det,ppocr_rec,...]
        [--calib N] [--eval N] [--seed S] [--threads N] [--qconvert PATH] [--json FILE]

Per model (the data and metrics of bench_accuracy.py, docs/accuracy.md), four models are run in
onnxruntime against FP32 on the same held-out samples:

  default       `qconvert MODEL --calib DIR` (the model's preprocessing options only);
  no rounding   the default model with every activation QuantizeLinear -> DequantizeLinear
                pair replaced by a Clip to the pair's representable range,
                [(qmin - zp)·s, (qmax - zp)·s], times s_dq / s_q where the DequantizeLinear
                carries a folded rescale (docs/quantization.md, "rescale"): the activations
                keep the default's clipping (and the Relu/Clip the zero points perform) but are
                not rounded; weights and biases are the default's int8 and int32 values;
  weight-only   `qconvert ... --weight-only`: int8 weights (bias-corrected against float
                inputs), float activations;
  floor         FP32 on input + U(-0.5, 0.5) pixel noise (the input's own rounding).

The gap default -> no rounding is what rounding the activations costs; no rounding -> weight-only
is the activations' clipping plus the weights' (and the bias correction's) interaction with it.
Prints the worst output SQNR (dB) and the task metric of each.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import onnx  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="ppocr_det,ppocr_rec,ppocr_cls,blazeface,mlsd_tiny")
    p.add_argument("--calib", type=int, default=24, help="calibration samples per model (default 24)")
    p.add_argument("--eval", type=int, default=48, help="evaluation samples per model (default 48)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default 2)")
    p.add_argument("--qconvert", help="qconvert binary (default build/qconvert)")
    p.add_argument("--json", help="also write the results as JSON")
    return p.parse_args()


def without_activation_rounding(src, dst):
    """Writes src with each activation Q -> DQ pair as a Clip (and a Mul for a rescale); returns the count."""
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    nodes, added, count = [], [], 0
    for n in g.node:
        q = producer.get(n.input[0]) if n.op_type == "DequantizeLinear" else None
        if q is None or q.op_type != "QuantizeLinear" or q.input[0] in inits or q.input[1] not in inits:
            nodes.append(n)
            continue
        s_q = inits[q.input[1]].astype(np.float64)
        zp = inits[q.input[2]] if len(q.input) > 2 and q.input[2] else np.zeros((), np.uint8)
        lo, hi = (0, 255) if zp.dtype == np.uint8 else (-128, 127)
        ratio = float(inits[n.input[1]]) / float(s_q)
        count += 1
        base = f"qc_norounding{count}"
        added += [numpy_helper.from_array(np.array((lo - float(zp)) * s_q, np.float32), base + "_lo"),
                  numpy_helper.from_array(np.array((hi - float(zp)) * s_q, np.float32), base + "_hi")]
        if ratio == 1.0:
            nodes.append(helper.make_node("Clip", [q.input[0], base + "_lo", base + "_hi"], [n.output[0]]))
        else:
            added.append(numpy_helper.from_array(np.array(ratio, np.float32), base + "_ratio"))
            nodes += [helper.make_node("Clip", [q.input[0], base + "_lo", base + "_hi"], [base + "_clipped"]),
                      helper.make_node("Mul", [base + "_clipped", base + "_ratio"], [n.output[0]])]
    read = {i for n in nodes for i in n.input} | {o.name for o in g.output}
    nodes = [n for n in nodes if n.op_type != "QuantizeLinear" or n.output[0] in read]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(added)
    onnx.save(m, dst)
    return count


def worst(res):
    row = min(res.rows, key=lambda r: r.sqnr)
    return dict(sqnr_db=round(row.sqnr, 2), floor_db=round(row.floor_sqnr, 2), output=row.output,
                metrics={k: round(v, 3) for k, v in res.metrics}, floor_metrics={k: round(v, 3) for k, v in res.floor_metrics})


def main():
    args = parse_args()
    if args.qconvert:
        os.environ["QCONVERT"] = os.path.abspath(args.qconvert)
    import accuracy as A
    import qc_test as T
    import realdata as R

    keys = A.bench_keys(args.models, "bench_loss_sources")
    if not os.path.isfile(T.QCONVERT):
        sys.exit(f"bench_loss_sources: {T.QCONVERT} not found (build first, or pass --qconvert)")
    print(f"calibration {args.calib}, evaluation {args.eval} samples per model, seed {args.seed}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="qc_bench_loss_") as tmp:
        for key in keys:
            spec = A.SPECS[key]
            calib = R.save_pngs(A.make_samples(spec, R.CALIB, args.calib, args.seed), os.path.join(tmp, key + "_calib"))
            samples = A.make_samples(spec, R.EVAL, args.eval, args.seed)
            paths = {"default": os.path.join(tmp, key + ".int8.onnx"), "weight-only": os.path.join(tmp, key + ".wo.onnx"),
                     "no rounding": os.path.join(tmp, key + ".noround.onnx")}
            failed = None
            for tag, extra in (("default", []), ("weight-only", ["--weight-only"])):
                r = A.quantize(spec, calib, paths[tag], extra)
                if r.returncode != 0:
                    failed = f"{tag}: qconvert failed (rc {r.returncode}): {r.stderr.strip()}"
            if failed:
                print(f"{key}: {failed}", flush=True)
                continue
            pairs = without_activation_rounding(paths["default"], paths["no rounding"])
            results[key] = {"activation pairs": pairs}
            for tag in ("default", "no rounding", "weight-only"):
                res = A.evaluate(spec, paths[tag], samples, os.path.join(tmp, key + "_" + tag.replace(" ", "_")), args.threads)
                results[key][tag] = worst(res)
            print(f"{key}: done", flush=True)
    print()
    print(f"{'model':<12}{'pairs':>6}  {'default':>9}{'no rounding':>13}{'weight-only':>13}{'floor':>8}  task metric: default / no rounding / weight-only (floor)")
    for key, r in results.items():
        metric = next(iter(r["default"]["metrics"]))
        tm = " / ".join(f"{r[t]['metrics'][metric]:.3f}" for t in ("default", "no rounding", "weight-only"))
        print(f"{key:<12}{r['activation pairs']:>6}  {r['default']['sqnr_db']:>9.2f}{r['no rounding']['sqnr_db']:>13.2f}"
              f"{r['weight-only']['sqnr_db']:>13.2f}{r['default']['floor_db']:>8.2f}  {metric} {tm} "
              f"({r['default']['floor_metrics'][metric]:.3f})")
    print("(worst output SQNR in dB; pairs: activation Q -> DQ pairs in the default model)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(calib=args.calib, eval=args.eval, seed=args.seed, models=results), f, indent=1)


if __name__ == "__main__":
    main()
