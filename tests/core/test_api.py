#!/usr/bin/env python3
"""The public C API (qconvert.h) quantizes like the CLI (byte-identical
output), reports errors with exit code 2, and the installed library builds a
consumer with pkg-config."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

QC = os.environ["QCONVERT"]
ROOT = os.environ["QC_SOURCE_ROOT"]
BUILD = os.environ["QC_BUILD_ROOT"]
TOOL = os.path.join(BUILD, "tests", "core", "api_tool")
MODEL = os.path.join(ROOT, "demo", "fmnist_cnn.onnx")
failures = []


def check(name, cond, detail=""):
    print("%s %s %s" % ("ok  " if cond else "FAIL", name, detail))
    if not cond:
        failures.append(name)


with tempfile.TemporaryDirectory() as d:
    calib = os.path.join(d, "calib")
    os.mkdir(calib)
    rng = np.random.default_rng(0)
    for i in range(16):  # smooth random images: enough to exercise calibration
        img = (rng.random((7, 7)) * 255).astype(np.uint8)
        Image.fromarray(img).resize((28, 28), Image.BILINEAR).save(os.path.join(calib, "%02d.png" % i))
    a, b = os.path.join(d, "api.onnx"), os.path.join(d, "cli.onnx")
    r = subprocess.run([TOOL, MODEL, a, calib], capture_output=True, text=True)
    check("api quantizes", r.returncode == 0 and os.path.exists(a), r.stderr.strip())
    r = subprocess.run([QC, MODEL, "--calib", calib, "-o", b, "--quiet"], capture_output=True, text=True)
    check("cli quantizes", r.returncode == 0, r.stderr.strip())
    if os.path.exists(a) and os.path.exists(b):
        check("api output == cli output", open(a, "rb").read() == open(b, "rb").read())
    r = subprocess.run([TOOL, MODEL, os.path.join(d, "x.onnx"), calib, "nosuch"], capture_output=True, text=True)
    check("bad observer -> exit 2", r.returncode == 2 and "nosuch" in r.stderr, r.stderr.strip())
    r = subprocess.run([TOOL, os.path.join(d, "missing.onnx"), os.path.join(d, "y.onnx"), calib],
                       capture_output=True, text=True)
    check("missing model -> exit 2", r.returncode == 2, r.stderr.strip())

    # meson install into a staging dir, then compile a consumer with pkg-config.
    dest = os.path.join(d, "stage")
    r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", dest, "--no-rebuild", "--quiet"],
                       capture_output=True, text=True)
    check("meson install", r.returncode == 0, r.stderr.strip()[-300:])
    pcs = glob.glob(os.path.join(dest, "**", "qconvert.pc"), recursive=True)
    hdrs = glob.glob(os.path.join(dest, "**", "qconvert.h"), recursive=True)
    libs = glob.glob(os.path.join(dest, "**", "libqconvert.so"), recursive=True)
    check("installs qconvert.pc, qconvert.h, libqconvert.so", pcs and hdrs and libs, str((pcs, hdrs, libs)))
    if pcs and hdrs and libs:
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=dest)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "qconvert"], capture_output=True, text=True,
                               env=env).stdout.split()
        src = os.path.join(ROOT, "tests", "core", "api_tool.c")
        exe = os.path.join(d, "consumer")
        r = subprocess.run(["cc", src, "-o", exe] + flags, capture_output=True, text=True)
        check("consumer compiles against the installed header via pkg-config", r.returncode == 0, r.stderr[-300:])
        if r.returncode == 0:
            lib_dir = os.path.dirname(libs[0])
            r = subprocess.run([exe, MODEL, os.path.join(d, "consumer.onnx"), calib], capture_output=True, text=True,
                               env=dict(os.environ, LD_LIBRARY_PATH=lib_dir))
            check("consumer runs", r.returncode == 0 and open(os.path.join(d, "consumer.onnx"), "rb").read()
                  == open(b, "rb").read(), r.stderr.strip())

print("%d failed" % len(failures))
sys.exit(1 if failures else 0)
