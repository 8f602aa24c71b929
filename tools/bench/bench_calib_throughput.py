#!/usr/bin/python3
"""The whole quantization job against onnxruntime's FP32 inference on the same inputs.

    /usr/bin/python3 tools/bench/bench_calib_throughput.py [--models mlsd_large,ppocr_det]
        [--images 60] [--rounds 3] [--threads 2] [--min-sqnr DB] [--fallback-images N]
        [--fallback-budget S] [--qconvert PATH] [--json FILE]

Per model (tests/e2e/accuracy.py's specs and preprocessing options), N calibration samples
from tests/e2e/realdata.py are written as PNGs once. Each round then runs, interleaved:
  * `qconvert MODEL --calib DIR <options> --threads T` (the plain job: loading, calibration
    with the default observer, passes, writing), timed end to end;
  * onnxruntime-node on the same N inputs in one session (tools/ort_run.mjs --inputs-list,
    threads T): its FP32 inference time is the sum of the per-sample times, session creation
    excluded (reported as median_ms x N);
  * with --min-sqnr, the same job with `--min-sqnr DB` over --fallback-images samples, against
    the plain job on those samples (issue 15's goal: PP-OCRv4 det, 90 images, 20 dB, <= 5x).
--fallback-budget passes qconvert's own --fallback-budget S, to bound a slow search (the ratio
then shows the budget, and the warning says how far the search got). Medians over the rounds; the ratios are per-round ratios' medians. Goals (issue 15): job / ORT
<= 1.5 on M-LSD large with 60 photos; --min-sqnr / plain <= 5. "calib s" is the job's own
"calibration N samples in S s" (engine + observers), the rest of the job is loading, passes and writing.
"job CPU s" is the job's user + system time (all threads): on a machine shared with other work it
moves much less than the wall times, so compare builds by it too.
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import qc_models as qm  # noqa: E402


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd):
    """(wall seconds, peak RSS MiB or None, CompletedProcess, CPU seconds of the command)."""
    t0, c0 = time.perf_counter(), children_cpu_s()
    r, rss = qm.run_measured(cmd)
    dt, cpu = time.perf_counter() - t0, children_cpu_s() - c0
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return dt, rss, r, cpu


def job(qc, spec, model, calib, out, threads, extra=()):
    """The job as a user runs it (no --report: reports add a per-layer error pass)."""
    cmd = [qc, model, "--calib", calib, *spec.args, "--threads", str(threads), "-o", out, *extra]
    dt, rss, r, cpu = timed(cmd)
    m = re.search(r"calibration\s+\d+ samples in (?:(\d+)m )?([0-9.]+) ?(ms|s)\b", r.stdout)
    calib_s = None
    if m:
        calib_s = float(m.group(1) or 0) * 60 + float(m.group(2)) / (1000.0 if m.group(3) == "ms" else 1.0)
    os.remove(out)
    notes = [ln.strip()[2:] for ln in r.stdout.splitlines() if ln.strip().startswith(("- --min-sqnr", "- --fallback"))]
    return {"wall_s": dt, "cpu_s": cpu, "rss_mib": rss, "calib_s": calib_s, "stderr": r.stderr, "notes": notes}


def ort_inference(model, listing, outdir, threads):
    dt, rss, r, _ = timed(["node", qm.ORT_RUN, model, "--inputs-list", listing, "--output-dir", outdir,
                        "--threads", str(threads), "--warmup", "1"])
    info = json.loads(r.stdout.strip().splitlines()[-1])
    return {"wall_s": dt, "rss_mib": rss, "infer_s": info["median_ms"] * info["samples"] / 1000.0}


def write_inputs(spec, samples, d):
    import numpy as np
    import accuracy as A
    os.makedirs(d, exist_ok=True)
    lines = []
    for k, feeds in enumerate(A.inputs(spec, samples)):
        path = os.path.join(d, f"in{k}.npy")
        np.save(path, feeds[spec.input])
        lines.append(f"{spec.input}={path}")
    listing = os.path.join(d, "inputs.txt")
    with open(listing, "w") as f:
        f.write("\n".join(lines) + "\n")
    return listing


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mlsd_large,ppocr_det")
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-sqnr", type=float, help="also time --min-sqnr DB against the plain job")
    ap.add_argument("--fallback-images", type=int, default=90)
    ap.add_argument("--fallback-budget", type=float)
    ap.add_argument("--qconvert")
    ap.add_argument("--json")
    a = ap.parse_args()
    why = qm.deps_missing()
    if why:
        print(f"bench_calib_throughput: {why}", file=sys.stderr)
        return 2
    import accuracy as A
    import realdata as R
    if R.missing():
        print(f"bench_calib_throughput: {R.missing()}", file=sys.stderr)
        return 2
    qc = a.qconvert or qm.find_qconvert()
    results = []
    with tempfile.TemporaryDirectory(prefix="qc_bench_calib_") as tmp:
        for key in a.models.split(","):
            spec = A.SPECS[key]
            model = A.model_path(spec)
            d = os.path.join(tmp, key)
            samples = A.make_samples(spec, R.CALIB, a.images)
            calib = os.path.join(d, "calib")
            R.save_pngs(samples, calib)
            listing = write_inputs(spec, samples, os.path.join(d, "npy"))
            fb_calib = None
            if a.min_sqnr is not None:
                fb_calib = os.path.join(d, "fb_calib")
                R.save_pngs(A.make_samples(spec, R.CALIB, a.fallback_images), fb_calib)
            rows = []
            for r in range(a.rounds):
                row = {}
                order = ("qc", "ort") if r % 2 == 0 else ("ort", "qc")
                for side in order:
                    if side == "qc":
                        row["job"] = job(qc, spec, model, calib, os.path.join(d, "out.onnx"), a.threads)
                    else:
                        row["ort"] = ort_inference(model, listing, os.path.join(d, "ort_out"), a.threads)
                if fb_calib:
                    row["plain"] = job(qc, spec, model, fb_calib, os.path.join(d, "plain.onnx"), a.threads)
                    row["fallback"] = job(qc, spec, model, fb_calib, os.path.join(d, "fb.onnx"), a.threads,
                                          ["--min-sqnr", str(a.min_sqnr)]
                                          + (["--fallback-budget", str(a.fallback_budget)]
                                             if a.fallback_budget else []))
                rows.append(row)
                print(f"{key}: round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)
            res = {"model": key, "images": a.images,
                   "job_s": med([x["job"] for x in rows], "wall_s"),
                   "calib_s": med([x["job"] for x in rows], "calib_s"),
                   "job_cpu_s": med([x["job"] for x in rows], "cpu_s"),
                   "job_rss_mib": med([x["job"] for x in rows], "rss_mib"),
                   "ort_infer_s": med([x["ort"] for x in rows], "infer_s"),
                   "ort_wall_s": med([x["ort"] for x in rows], "wall_s"),
                   "ort_rss_mib": med([x["ort"] for x in rows], "rss_mib"),
                   "ratio": statistics.median(x["job"]["wall_s"] / x["ort"]["infer_s"] for x in rows),
                   "calib_ratio": statistics.median(x["job"]["calib_s"] / x["ort"]["infer_s"] for x in rows
                                                    if x["job"]["calib_s"] is not None)}
            if fb_calib:
                res.update({"fallback_images": a.fallback_images, "min_sqnr": a.min_sqnr,
                            "plain_s": med([x["plain"] for x in rows], "wall_s"),
                            "fallback_s": med([x["fallback"] for x in rows], "wall_s"),
                            "plain_cpu_s": med([x["plain"] for x in rows], "cpu_s"),
                            "fallback_cpu_s": med([x["fallback"] for x in rows], "cpu_s"),
                            "fallback_notes": rows[-1]["fallback"]["notes"],
                            "fallback_ratio": statistics.median(x["fallback"]["wall_s"] / x["plain"]["wall_s"]
                                                                for x in rows),
                            "fallback_warnings": sorted({ln for x in rows for ln in x["fallback"]["stderr"].splitlines()
                                                         if "warning" in ln})})
            results.append(res)
    print(f"threads={a.threads} rounds={a.rounds}; ratio = whole job / ORT FP32 inference on the same inputs")
    hdr = (f'{"model":<11} {"images":>6} {"job s":>8} {"calib s":>8} {"ORT s":>7} {"ratio":>6} {"calib ratio":>11}'
           f'  goal  {"job RSS MiB":>11} {"ORT RSS MiB":>11} {"job CPU s":>9}')
    print(hdr)
    print("-" * len(hdr))
    fmt = lambda v, p=2: f"{v:.{p}f}" if v is not None else "-"
    for x in results:
        print(f'{x["model"]:<11} {x["images"]:>6} {fmt(x["job_s"]):>8} {fmt(x["calib_s"]):>8} {fmt(x["ort_infer_s"]):>7} '
              f'{fmt(x["ratio"]):>6} {fmt(x["calib_ratio"]):>11}  {"ok  " if x["ratio"] <= 1.5 else "SLOW"}'
              f'  {fmt(x["job_rss_mib"], 1):>11} {fmt(x["ort_rss_mib"], 1):>11} {fmt(x["job_cpu_s"]):>9}')
    if a.min_sqnr is not None:
        print(f"\n--min-sqnr {a.min_sqnr:g} against the plain job on the same samples (goal <= 5x)")
        for x in results:
            print(f'{x["model"]:<11} {x["fallback_images"]:>6} images: plain {x["plain_s"]:.1f} s, '
                  f'--min-sqnr {x["fallback_s"]:.1f} s, ratio {x["fallback_ratio"]:.2f} '
                  f'{"ok" if x["fallback_ratio"] <= 5 else "SLOW"} (CPU s: plain {x["plain_cpu_s"]:.1f}, '
                  f'--min-sqnr {x["fallback_cpu_s"]:.1f})')
            for n in x["fallback_notes"]:  # the last round's: what it kept, on how many samples
                print(f"    {n[:200]}")
            for w in x["fallback_warnings"]:
                print(f"    {w}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": a.threads, "rounds": a.rounds, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
