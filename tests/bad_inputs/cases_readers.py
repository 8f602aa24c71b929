"""Catalogue cases: readers (FIFOs and other non-regular files), input names that would leave the
calibration root, .npy headers, model opsets, CSV report cells, and evaluation data that never
decodes (issue 12: defects 7, 9, 11, S1, S3, S4)."""
import csv
import os
import shutil
import subprocess

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from catalogue import (DEMO, conv_model, expect_error, expect_success, is_warning, pngs, report, run,
                       save_model, wanted)


def expect_cli_error(name, args, needles=(), warned=(), code=2, timeout=20):
    """Runs `qconvert ARGS` (any command) and checks the failure contract: exit `code` within
    `timeout` seconds (a reader that blocks fails here), one error line holding every needle,
    other stderr lines only warnings, and one warning line naming each file in `warned`."""
    if not wanted(name):
        return None
    try:
        r = run(args, timeout=timeout)
    except subprocess.TimeoutExpired:
        report(name, ["still running after %d s (blocked on a read?)" % timeout], None)
        return None
    problems = []
    if r.returncode != code:
        problems.append("exit %d, want %d" % (r.returncode, code))
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    errs = [l for l in lines if l.startswith("qconvert: error:")]
    if len(errs) != 1:
        problems.append("%d 'qconvert: error:' lines, want 1" % len(errs))
    others = [l for l in lines if not l.startswith("qconvert: error:") and not is_warning(l)]
    if others:
        problems.append("unexpected stderr lines %r" % others[:3])
    for n in needles:
        if not errs or n.lower() not in errs[0].lower():
            problems.append("error line lacks %r" % n)
    problems += warned_once(r, warned)
    report(name, problems, r, "exit %d, one error line%s" % (code, ", files warned" if warned else ""))
    return r


def warned_once(r, files):
    """Problems unless each file is named by exactly one warning line."""
    warnings = [l for l in r.stderr.splitlines() if is_warning(l)]
    problems = []
    for f in files:
        n = sum(1 for w in warnings if f in w)
        if n != 1:
            problems.append("%d warning lines name %s, want 1" % (n, f))
    return problems

def cases(top):
    calib = pngs(os.path.join(top, "calib"), 4)
    model = os.path.join(top, "model.onnx")
    shutil.copy(DEMO, model)
    out = os.path.join(top, "out.onnx")
    runs = os.path.join(top, "run-out")

    # -- 9. readers refuse non-regular files up front, without blocking
    fifo_npy = os.path.join(top, "fifo.npy")
    os.mkfifo(fifo_npy)
    expect_cli_error("reader: run --input, a FIFO .npy", ["run", model, "--input", fifo_npy, "--output-dir", runs],
                     ["fifo.npy", "FIFO"], timeout=10)
    fifo_pb = os.path.join(top, "fifo.pb")
    os.mkfifo(fifo_pb)
    expect_cli_error("reader: run --input, a FIFO .pb", ["run", model, "--input", fifo_pb, "--output-dir", runs],
                     ["fifo.pb", "FIFO"], timeout=10)
    dev = os.path.join(top, "zero.npy")
    os.symlink("/dev/zero", dev)
    expect_cli_error("reader: run --input, a character device (/dev/zero)",
                     ["run", model, "--input", dev, "--output-dir", runs], ["zero.npy", "character device"],
                     timeout=10)
    dirnpy = os.path.join(top, "dir.npy")
    os.makedirs(dirnpy)
    expect_cli_error("reader: run --input, a directory", ["run", model, "--input", dirnpy, "--output-dir", runs],
                     ["dir.npy", "directory"], timeout=10)
    fifo_model = os.path.join(top, "fifo.onnx")
    os.mkfifo(fifo_model)
    expect_error("reader: the model is a FIFO", fifo_model, calib, out, ["fifo.onnx", "FIFO"])
    for ext in ("png", "npy"):
        d = os.path.join(top, "calib-fifo-" + ext)
        shutil.copytree(calib, d)
        os.mkfifo(os.path.join(d, "zz." + ext))
        expect_error("reader: a FIFO .%s inside --calib DIR" % ext, model, d, out, ["zz." + ext, "FIFO"])
    fifo_stats = os.path.join(top, "fifo.qcstats")
    os.mkfifo(fifo_stats)
    expect_error("reader: --load-stats is a FIFO", model, calib, out, ["fifo.qcstats", "FIFO"],
                 extra=["--load-stats", fifo_stats])
    fifo_list = os.path.join(top, "list-fifo.txt")
    os.mkfifo(fifo_list)
    expect_error("reader: --calib LIST.txt is a FIFO", model, fifo_list, out, ["list-fifo.txt", "FIFO"])
    lst = os.path.join(top, "names-a-fifo.txt")
    with open(lst, "w") as f:
        f.write("calib/img0000.png\nfifo.npy\n")
    expect_error("reader: a LIST.txt line naming a FIFO", model, lst, out, ["names-a-fifo.txt:2", "FIFO"])
