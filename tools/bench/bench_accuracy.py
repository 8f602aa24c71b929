#!/usr/bin/python3
"""INT8 against FP32 on the six real models, in onnxruntime, with the input-rounding floor.

    /usr/bin/python3 tools/bench/bench_accuracy.py [--models ppocr_det,ppocr_rec,...]
        [--calib N] [--eval N] [--seed S] [--observer NAME] [--threads N] [--qconvert PATH]
        [--keep DIR] [--json FILE] [-- EXTRA QCONVERT ARGS...]

The measurement of tests/e2e/test_real_models.py (docs/accuracy.md) on more data: per model,
N calibration and N evaluation samples from tests/e2e/realdata.py (photos, LFW faces and
rendered text, calibration and evaluation split by source image, words and fonts), quantized
with `qconvert MODEL --calib DIR` and the model's preprocessing options only, plus --observer
and anything after `--` (e.g. `-- --activation-type int8`, `-- --min-sqnr 30`). FP32, FP32 on
input + U(-0.5, 0.5) pixel noise (the floor) and INT8 run in onnxruntime-node (one process
each, tools/ort_run.mjs --inputs-list). Prints the table: pooled SQNR per output, the worst
output starred, and each model's task metric for INT8 with the floor in parentheses.

--seed picks other crops, texts and faces from the same splits (seed 1 is the test's).
Time: quantizing runs qconvert's FP32 engine over every calibration image; M-LSD large at
512x512 is the slow one (several seconds per image).
"""
import argparse
import json
import os
import sys
import tempfile
import time

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))


def parse_args():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="ppocr_det,ppocr_rec,ppocr_cls,mlsd_tiny,mlsd_large,blazeface")
    p.add_argument("--calib", type=int, default=48, help="calibration samples per model (default 48)")
    p.add_argument("--eval", type=int, default=96, help="evaluation samples per model (default 96)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--observer", help="passed to qconvert as --observer")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default 2)")
    p.add_argument("--qconvert", help="qconvert binary (default build/qconvert)")
    p.add_argument("--keep", help="write the calibration PNGs and quantized models here")
    p.add_argument("--json", help="also write the results as JSON")
    args = p.parse_args(argv)
    args.extra = extra + (["--observer", args.observer] if args.observer else [])
    return args


def main():
    args = parse_args()
    if args.qconvert:
        os.environ["QCONVERT"] = os.path.abspath(args.qconvert)
    import accuracy as A
    import qc_test as T
    import realdata as R

    keys = A.bench_keys(args.models, "bench_accuracy")
    if args.keep and os.path.isdir(args.keep) and os.listdir(args.keep):
        sys.exit(f"bench_accuracy: --keep {args.keep} is not empty")
    if not os.path.isfile(T.QCONVERT):
        sys.exit(f"bench_accuracy: {T.QCONVERT} not found (build first, or pass --qconvert)")
    print(f"calibration {args.calib}, evaluation {args.eval} samples per model, seed {args.seed}; "
          f"qconvert extra args: {' '.join(args.extra) or 'none'}", flush=True)

    results, timing = [], {}
    with tempfile.TemporaryDirectory(prefix="qc_bench_acc_") as tmp:
        keep = os.path.abspath(args.keep) if args.keep else tmp
        for key in keys:
            spec = A.SPECS[key]
            t0 = time.monotonic()
            calib = R.save_pngs(A.make_samples(spec, R.CALIB, args.calib, args.seed),
                                os.path.join(keep, key + "_calib"))
            out = os.path.join(keep, key + ".int8.onnx")
            t1 = time.monotonic()
            r = A.quantize(spec, calib, out, args.extra)
            if r.returncode != 0:
                print(f"{key}: qconvert failed (rc {r.returncode}): {r.stderr.strip()}", flush=True)
                continue
            t2 = time.monotonic()
            samples = A.make_samples(spec, R.EVAL, args.eval, args.seed)
            res = A.evaluate(spec, out, samples, os.path.join(tmp, key + "_ort"), args.threads)
            t3 = time.monotonic()
            timing[key] = dict(data_s=round(t1 - t0, 1), quantize_s=round(t2 - t1, 1),
                               evaluate_s=round(t3 - t2, 1))
            print(f"{key}: data {t1 - t0:.0f} s, quantize {t2 - t1:.0f} s, evaluate {t3 - t2:.0f} s", flush=True)
            results.append(res)
    print()
    print(A.table(results))
    print("FP32 on the evaluation data:")
    for res in results:
        print(f"  {res.key}: " + "; ".join(f"{what} {value:.3f}" for what, value, _ in res.sanity))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(calib=args.calib, eval=args.eval, seed=args.seed, extra_args=args.extra,
                           models={r.key: dict(outputs={row.output: dict(sqnr_db=row.sqnr, floor_db=row.floor_sqnr)
                                                        for row in r.rows},
                                               metrics=dict(r.metrics), floor_metrics=dict(r.floor_metrics),
                                               fp32_sanity={w: v for w, v, _ in r.sanity},
                                               **timing[r.key])
                                   for r in results}), f, indent=1)


if __name__ == "__main__":
    main()
