#!/usr/bin/env python3
"""The public C API (qconvert.h) does what the CLI does with the same options:
byte-identical models and statistics files, the same reports and summaries
(timings masked), for the defaults, preprocessing, --exclude, --op-types,
--min-sqnr, several reports, statistics files and compare. Bad options are
exit code 2 with a message naming them. The installed library builds a
consumer with pkg-config."""
import glob
import json
import os
import re
import subprocess
import tempfile

import numpy as np
from PIL import Image

from qc_test import check, finish

QC = os.environ["QCONVERT"]
ROOT = os.environ["QC_SOURCE_ROOT"]
BUILD = os.environ["QC_BUILD_ROOT"]
TOOL = os.path.join(BUILD, "tests", "core", "api_tool")
MODEL = os.path.join(ROOT, "demo", "fmnist_cnn.onnx")


def masked(path):
    """A report or summary with its timings replaced (they differ run to run)."""
    text = open(path).read() if os.path.exists(path) else None
    if text is None:
        return None
    if path.endswith(".json"):
        doc = json.loads(text)
        for key in ("calibration_seconds", "total_seconds"):
            doc.pop(key, None)
        for part in [doc.get("eval")] + [c.get("eval") for c in doc.get("observers", [])]:
            for key in ("fp32_ms", "quant_ms"):
                (part or {}).pop(key, None)
        for p in doc.get("passes", []):
            p.pop("ms", None)
        return doc
    return re.sub(r"[0-9.]+ ?(ms|s)\b", "<t>", text)


def run(cmd, stdout_path=None):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if stdout_path:
        open(stdout_path, "w").write(r.stdout)
    return r


def same_as_cli(name, d, options, compare=False, outputs=("out.onnx",)):
    """Runs options through the API and the CLI into two directories; every
    output (paths relative to the run's directory) must match."""
    runs = {}
    for side in ("api", "cli"):
        top = os.path.join(d, name, side)
        os.makedirs(top)
        opts = [o.replace("@", top + "/") for o in options]
        out = os.path.join(top, "out.onnx")
        if side == "api":
            cmd = [TOOL] + (["compare"] if compare else []) + [MODEL, out] + opts + ["--summary"]
        else:
            cmd = [QC] + (["compare"] if compare else []) + [MODEL, "-o", out] + opts + ["--quiet"]
        r = run(cmd, os.path.join(top, "stdout"))
        runs[side] = top
        check(r.returncode == 0, "%s: %s runs" % (name, side), r.stderr.strip()[-300:])
    a, c = runs["api"], runs["cli"]
    for f in outputs:
        pa, pc = os.path.join(a, f), os.path.join(c, f)
        if f.endswith((".onnx", ".stats")):
            same = os.path.exists(pa) and os.path.exists(pc) and open(pa, "rb").read() == open(pc, "rb").read()
        else:
            ma, mc = masked(pa), masked(pc)
            if isinstance(ma, dict):  # the paths name each side's directory
                for doc in (ma, mc):
                    doc["output"] = os.path.basename(doc.get("output") or "")
            elif ma is not None:
                ma, mc = ma.replace(a, "DIR"), mc.replace(c, "DIR")
            same = ma is not None and ma == mc
        check(same, "%s: API %s == CLI %s" % (name, f, f))
    return a, c


with tempfile.TemporaryDirectory() as d:
    calib = os.path.join(d, "calib")
    evald = os.path.join(d, "eval")
    rng = np.random.default_rng(0)
    for top, n in ((calib, 16), (evald, 8)):
        os.mkdir(top)
        for i in range(n):  # smooth random images: enough to exercise calibration
            img = (rng.random((7, 7)) * 255).astype(np.uint8)
            Image.fromarray(img).resize((28, 28), Image.BILINEAR).save(os.path.join(top, "%02d.png" % i))

    same_as_cli("defaults", d, ["--calib", calib], outputs=("out.onnx", "stdout"))
    same_as_cli("preprocessing, exclude, op types, reports", d,
                ["--calib", calib, "--scale", "1/127.5", "--mean", "1", "--std", "0.5", "--color", "gray",
                 "--layout", "nchw", "--resize-mode", "letterbox", "--pad-value", "0",
                 "--input-shape", "1x1x28x28", "--exclude", "/fc2/Gemm,/features/features.0/features.0.0/Conv",
                 "--op-types", "Conv,Gemm,MaxPool", "--report", "@r.json", "--report", "@r.txt",
                 "--report", "@r.csv"],
                outputs=("out.onnx", "r.json", "r.txt", "r.csv", "stdout"))
    same_as_cli("min-sqnr with eval", d,
                ["--calib", calib, "--eval", evald, "--min-sqnr", "80", "--fallback-budget", "1e6",
                 "--report", "@r.json"],
                outputs=("out.onnx", "r.json", "stdout"))
    same_as_cli("int8, per-tensor, observer, counts", d,
                ["--calib", calib, "--activation-type", "int8", "--per-tensor", "--no-equalize",
                 "--no-saturation-clip", "--rounding", "nearest", "--no-bias-correction", "--refine",
                 "--observer", "percentile", "--percentile", "99.9", "--calib-count", "8", "--batch", "4",
                 "--threads", "1"],
                outputs=("out.onnx", "stdout"))
    same_as_cli("weight-only, save-stats", d, ["--calib", calib, "--weight-only", "--save-stats", "@s.stats"],
                outputs=("out.onnx", "s.stats"))
    stats = os.path.join(d, "weight-only, save-stats", "cli", "s.stats")
    same_as_cli("load-stats twice", d, ["--load-stats", stats, "--load-stats", stats, "--observer", "minmax"],
                outputs=("out.onnx", "stdout"))
    same_as_cli("compare", d, ["--calib", calib, "--observers", "minmax,mse", "--report", "@r.json"],
                compare=True, outputs=("out.onnx", "r.json", "stdout"))

    # The default output path is beside the model: copy it to a scratch dir first.
    local = os.path.join(d, "local.onnx")
    open(local, "wb").write(open(MODEL, "rb").read())
    r = run([TOOL, local, "-", "--calib", calib])
    check(r.returncode == 0 and os.path.exists(os.path.join(d, "local.int8.onnx")), "NULL output -> MODEL.int8.onnx",
          r.stderr.strip())

    def refused(name, args, words, compare=False):
        r = run([TOOL] + (["compare"] if compare else []) + args)
        check(r.returncode == 2 and all(w in r.stderr for w in words), name + " -> exit 2", r.stderr.strip())

    x = os.path.join(d, "x.onnx")
    refused("bad observer", [MODEL, x, "--calib", calib, "--observer", "nosuch"], ["nosuch"])
    refused("missing model", [os.path.join(d, "missing.onnx"), x, "--calib", calib], ["missing.onnx"])
    refused("no calibration data", [MODEL, x], ["options.calib"])
    refused("op type that cannot be quantized", [MODEL, x, "--calib", calib, "--op-types", "LSTM"],
            ["--op-types", "LSTM"])
    refused("bad preprocessing value", [MODEL, x, "--calib", calib, "--color", "purple"], ["color=purple"])
    refused("bad input shape", [MODEL, x, "--calib", calib, "--input-shape", "1x1xx28"], ["1x1xx28"])
    refused("min-sqnr out of range", [MODEL, x, "--calib", calib, "--min-sqnr", "300"], ["--min-sqnr", "300"])
    refused("fallback-budget without min-sqnr", [MODEL, x, "--calib", calib, "--fallback-budget", "10"],
            ["--fallback-budget", "--min-sqnr"])
    refused("fallback-budget not positive", [MODEL, x, "--calib", calib, "--min-sqnr", "30",
                                             "--fallback-budget", "-5"], ["--fallback-budget"])
    refused("bad rounding", [MODEL, x, "--calib", calib, "--rounding", "up"], ["--rounding", "'up'"])
    refused("compare with rounding", [MODEL, x, "--calib", calib, "--rounding", "adaround"], ["options.rounding"],
            compare=True)
    refused("compare with one observer", [MODEL, x, "--calib", calib, "--observer", "mse"], ["options.observer"],
            compare=True)
    refused("unknown report format", [MODEL, x, "--calib", calib, "--report", os.path.join(d, "r.xyz")], ["r.xyz"])
    check(not os.path.exists(x), "no output after a refused run")

    # meson install into a staging dir, then compile a consumer with pkg-config.
    dest = os.path.join(d, "stage")
    r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", dest, "--no-rebuild", "--quiet"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "meson install", r.stderr.strip()[-300:])
    pcs = glob.glob(os.path.join(dest, "**", "qconvert.pc"), recursive=True)
    hdrs = glob.glob(os.path.join(dest, "**", "qconvert.h"), recursive=True)
    libs = glob.glob(os.path.join(dest, "**", "libqconvert.so"), recursive=True)
    check(pcs and hdrs and libs, "installs qconvert.pc, qconvert.h, libqconvert.so", str((pcs, hdrs, libs)))
    check(not glob.glob(os.path.join(dest, "**", "*internal*"),
                                                                    recursive=True), "does not install the internal library")
    if pcs and hdrs and libs:
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=dest)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "qconvert"], capture_output=True, text=True,
                               env=env).stdout.split()
        src = os.path.join(ROOT, "tests", "core", "api_tool.c")
        exe = os.path.join(d, "consumer")
        r = subprocess.run(["cc", src, "-o", exe] + flags, capture_output=True, text=True)
        check(r.returncode == 0, "consumer compiles against the installed header via pkg-config", r.stderr[-300:])
        if r.returncode == 0:
            lib_dir = os.path.dirname(libs[0])
            out = os.path.join(d, "consumer.onnx")
            r = subprocess.run([exe, MODEL, out, "--calib", calib], capture_output=True, text=True,
                               env=dict(os.environ, LD_LIBRARY_PATH=lib_dir))
            cli = os.path.join(d, "defaults", "cli", "out.onnx")
            check(r.returncode == 0 and os.path.exists(out)
                  and open(out, "rb").read() == open(cli, "rb").read(), "consumer runs", r.stderr.strip())

finish("public_api")
