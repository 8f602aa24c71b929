#!/usr/bin/python3
"""Peak RSS of calibration with few vs many samples: it should be flat.

    /usr/bin/python3 tools/bench/bench_calib_memory.py [--model demo|KEY] [--counts 50,5000]
        [--batches 1,32] [--runs 3] [--threads 2] [--qconvert PATH] [--json FILE]

--model demo (the default) exports the first max(counts) Fashion-MNIST train images as PNGs
once and quantizes demo/fmnist_cnn.onnx; --model KEY takes a real model of
tests/e2e/accuracy.py (mlsd_large, ppocr_det, ...) with its preprocessing options and
max(counts) calibration samples from tests/e2e/realdata.py (e.g. --model mlsd_large
--counts 8,64 --batches 1,8: M-LSD large costs about a second per image). For each count and
batch it runs `qconvert MODEL --calib DIR --calib-count N -o OUT --quiet` under
`/usr/bin/time -v` and reads its "Maximum resident set size" and the wall time; median of
--runs.
Statistics are constant-size per tensor (docs/observers.md), so peak RSS should not grow
with the number of samples; the table prints the ratio of each row to the smallest count.
Calibration runs up to --threads batches at once, so a count with fewer batches than threads
(e.g. 8 samples at batch 8) holds fewer batches' activations: compare counts that give at least
--threads batches each (the script warns otherwise).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TRAIN = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
TIME = "/usr/bin/time"


def run_child(cmd):
    """(peak RSS MiB, wall s) of cmd. Uses /usr/bin/time -v: ru_maxrss of a child forked from
    this Python process would include the forked interpreter's pages (Linux keeps the
    high-water mark across execve), which here is ~40 MiB of numpy/onnx."""
    t0 = time.perf_counter()
    if os.path.exists(TIME):
        r = subprocess.run([TIME, "-v"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
        kib = next(int(l.split(":")[1]) for l in r.stderr.splitlines()
                   if "Maximum resident set size" in l)
        return kib / 1024.0, dt
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err.decode(errors='replace')}")
    print("warning: /usr/bin/time missing; ru_maxrss includes the forked interpreter", file=sys.stderr)
    return ru.ru_maxrss / 1024.0, dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="demo")
    ap.add_argument("--counts", default="50,5000")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--qconvert", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    import qc_models as qm
    qc = a.qconvert or qm.find_qconvert()
    idx2png = os.path.join(os.path.dirname(qc), "tools", "idx2png")
    counts = [int(c) for c in a.counts.split(",")]
    batches = [int(b) for b in a.batches.split(",")]
    for b in batches:
        for n in counts:
            if -(-n // b) < a.threads:
                print(f"warning: {n} samples at batch {b} are fewer batches than --threads {a.threads}: "
                      f"fewer batches run at once, so this row needs less memory by construction",
                      file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="qc_bench_mem_") as tmp:
        calib = os.path.join(tmp, "calib")
        if a.model == "demo":
            subprocess.run([idx2png, TRAIN, calib, "--count", str(max(counts))], check=True,
                           capture_output=True)
            model, model_args = os.path.join(ROOT, "demo", "fmnist_cnn.onnx"), []
        else:
            sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
            sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
            import accuracy as A
            import realdata as R
            spec = A.SPECS[a.model]
            R.save_pngs(A.make_samples(spec, R.CALIB, max(counts)), calib)
            model, model_args = A.model_path(spec), list(spec.args)
        out = os.path.join(tmp, "out.onnx")
        for b in batches:
            for n in counts:
                cmd = [qc, model, "--calib", calib, *model_args,
                       "--calib-count", str(n), "--batch", str(b), "--threads", str(a.threads),
                       "-o", out, "--quiet"]
                res = [run_child(cmd) for _ in range(a.runs)]
                rows.append({"samples": n, "batch": b, "peak_rss_mib": statistics.median(r[0] for r in res),
                             "wall_s": statistics.median(r[1] for r in res),
                             "rss_runs": [r[0] for r in res]})
                print(f"samples {n} batch {b}: {rows[-1]['peak_rss_mib']:.1f} MiB", file=sys.stderr)
    print(f"{a.model}, {a.threads} threads, median of {a.runs} runs; peak RSS from /usr/bin/time -v")
    print(f'{"samples":>8} {"batch":>6} {"peak RSS MiB":>13} {"vs fewest":>10} {"wall s":>8}')
    for b in batches:
        base = next(r for r in rows if r["batch"] == b and r["samples"] == min(counts))
        for r in (r for r in rows if r["batch"] == b):
            print(f'{r["samples"]:>8} {r["batch"]:>6} {r["peak_rss_mib"]:>13.1f} '
                  f'{r["peak_rss_mib"] / base["peak_rss_mib"]:>9.2f}x {r["wall_s"]:>8.2f}')
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": a.model, "threads": a.threads, "runs": a.runs, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
