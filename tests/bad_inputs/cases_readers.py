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

from catalogue import (conv_model, demo_fixture, expect_error, expect_success, is_warning, pngs, report, run,
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

def two_input_model(path, second_name):
    """y = Relu(a + <second_name>), both [1, 4]: its calibration data lives in DIR/a and DIR/<name>."""
    return save_model(path, [helper.make_node("Add", ["a", second_name], ["s"], name="add"),
                             helper.make_node("Relu", ["s"], ["y"], name="relu")],
                      [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4]),
                       helper.make_tensor_value_info(second_name, TensorProto.FLOAT, [1, 4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])


def npys(d, n, value=0.5):
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        np.save(os.path.join(d, "s%d.npy" % i), np.full((1, 4), value, np.float32))
    return d

def cases(top):
    calib, model = demo_fixture(top, 4)
    out = os.path.join(top, "out.onnx")
    runs = os.path.join(top, "run-out")

    # -- 9. readers refuse non-regular files up front, without blocking
    for name in ("fifo.npy", "fifo.pb"):
        fifo = os.path.join(top, name)
        os.mkfifo(fifo)
        expect_cli_error("reader: run --input, a FIFO " + name[len("fifo"):],
                         ["run", model, "--input", fifo, "--output-dir", runs], [name, "FIFO"], timeout=10)
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

    # -- 7. evaluation data where nothing decodes is an error, with a warning per file (also
    # with --quiet), for the main job, compare and eval
    bad_eval = os.path.join(top, "eval-undecodable")
    os.makedirs(bad_eval)
    good = open(os.path.join(calib, "img0000.png"), "rb").read()
    open(os.path.join(bad_eval, "half.png"), "wb").write(good[: len(good) // 2])
    open(os.path.join(bad_eval, "short.png"), "wb").write(good[:40])
    open(os.path.join(bad_eval, "text.png"), "wb").write(b"not a png\n")
    files = ["half.png", "short.png", "text.png"]
    need = ["no usable evaluation samples", "eval-undecodable"]
    # The main job's "no output left" belongs to defect 6: here the error and the warnings.
    expect_cli_error("eval: --eval DIR where nothing decodes (main job)",
                     [model, "--calib", calib, "--eval", bad_eval, "-o", os.path.join(top, "ev.int8.onnx"),
                      "--quiet", "--threads", "1"], need, files, timeout=120)
    expect_cli_error("eval: compare --eval DIR where nothing decodes",
                     ["compare", model, "--calib", calib, "--eval", bad_eval, "--quiet", "--threads", "1"],
                     need, files, timeout=120)
    expect_cli_error("eval: eval --data DIR where nothing decodes",
                     ["eval", model, model, "--data", bad_eval, "--quiet", "--threads", "1"], need, files)
    labeled = os.path.join(top, "eval-labeled-undecodable")
    for cls in ("0", "1"):
        os.makedirs(os.path.join(labeled, cls))
        open(os.path.join(labeled, cls, "half%s.png" % cls), "wb").write(good[: len(good) // 2])
    expect_cli_error("eval: eval --data DIR, class folders where nothing decodes",
                     ["eval", model, "--data", labeled, "--quiet"], need[:1], ["half0.png", "half1.png"])
    mixed = pngs(os.path.join(top, "eval-mixed"), 3)
    shutil.copy(os.path.join(bad_eval, "half.png"), mixed)
    shutil.copy(os.path.join(bad_eval, "text.png"), mixed)
    expect_success("eval: --eval DIR with undecodable files among good ones (each warned once, --quiet)",
                   model, calib, os.path.join(top, "mixed.int8.onnx"), ["--eval", mixed, "--quiet"],
                   check=lambda r: warned_once(r, ["half.png", "text.png"]) +
                   ([] if "evaluation on 3 samples" in r.stdout else ["summary does not say 3 samples"]))

    # Per-layer SQNR for a report reads the calibration data again: a LIST.txt must work there too
    # (it was refused as "no such directory" after the model had been written).
    cal_list = os.path.join(top, "calib-list.txt")
    with open(cal_list, "w") as f:
        f.write("calib/img0000.png\ncalib/img0001.png\n")
    expect_success("eval: --calib LIST.txt with --report (per-layer SQNR over the list)", model, cal_list,
                   os.path.join(top, "list.int8.onnx"), ["--report", os.path.join(top, "list.json")])

    # -- 11. input names never lead outside the calibration root. "../outside" holds valid
    # samples: before the fix the run read them and succeeded.
    root = os.path.join(top, "multi", "calib")
    npys(os.path.join(root, "a"), 3)
    npys(os.path.join(top, "multi", "outside"), 3, value=1e6)
    for i, (bad, label) in enumerate((("../outside", "'../outside'"), ("..", "'..'"), ("sub/dir", "'sub/dir'"),
                                      ("back\\slash", "a backslash"))):
        if not bad.startswith(".."):
            npys(os.path.join(root, bad), 3)  # present: only the name rule refuses it
        m = two_input_model(os.path.join(top, "multi", "two-%d.onnx" % i), bad)
        expect_error("input name %s (never leaves --calib DIR)" % label, m, root, out, [bad, ".txt list"])
    ok = two_input_model(os.path.join(top, "multi", "two-ok.onnx"), "b")
    npys(os.path.join(root, "b"), 3)
    expect_success("input names: plain names a/ and b/ (multi-input layout)", ok, root,
                   os.path.join(top, "multi", "two-ok.int8.onnx"))

    # -- S4. .npy header: the dict, space padding and a newline, nothing else
    d = os.path.join(top, "calib-npy-junk")
    os.makedirs(d)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), } junk"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(os.path.join(d, "a.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() +
                np.zeros(28 * 28, np.float32).tobytes())
    expect_error("npy: junk after the header dict", model, d, out, ["a.npy", "after the dict"])

    # -- S3. opsets: above what the engine knows is refused before calibration (a missing calib
    # dir proves the order); unused imports of other domains are fine.
    def opset_model(name, imports):
        m = conv_model(os.path.join(top, name), 1, dims=[1, 1, 28, 28])
        mp = onnx.load(m)
        del mp.opset_import[:]
        mp.opset_import.extend([helper.make_opsetid(dom, v) for dom, v in imports])
        onnx.save(mp, m)
        return m
    nowhere = os.path.join(top, "no-such-calib")
    expect_error("opset: ai.onnx 99", opset_model("opset99.onnx", [("", 99)]), nowhere, out, ["99", "up to 21"])
    expect_error("opset: ai.onnx 22", opset_model("opset22.onnx", [("", 22)]), nowhere, out, ["22", "up to 21"])
    expect_error("opset: no ai.onnx import", opset_model("opset-none.onnx", []), nowhere, out, ["opset"])
    expect_error("opset: ai.onnx imported twice (13 and 99)",
                 opset_model("opset-twice.onnx", [("", 13), ("ai.onnx", 99)]), nowhere, out, ["99"])
    expect_success("opset: 21 with an unused com.example import",
                   opset_model("opset21.onnx", [("", 21), ("com.example", 1)]), calib,
                   os.path.join(top, "opset21.int8.onnx"))

    # -- S1. CSV report cells: formulas and control characters from tensor names defused
    names = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(1)", "esc\x1b[31mred", "cr\rname"]
    rng = np.random.default_rng(1)
    nodes, inits, src = [], [], "x"
    for i, n in enumerate(names):
        inits.append(numpy_helper.from_array(rng.standard_normal((1, 1, 3, 3)).astype(np.float32), "w%d" % i))
        nodes.append(helper.make_node("Conv", [src, "w%d" % i], [n], name=n, pads=[1, 1, 1, 1]))
        src = n
    csv_model = save_model(os.path.join(top, "csv-names.onnx"), nodes,
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
                           [helper.make_tensor_value_info(src, TensorProto.FLOAT, None)], inits)
    rep = os.path.join(top, "names.csv")

    def defused(r):
        raw = open(rep, "rb").read().decode("utf-8")
        probs = []
        if any(ord(c) < 0x20 and c not in "\r\n" for c in raw) or raw.replace("\r\n", "").count("\r") or \
                raw.replace("\r\n", "").count("\n"):
            probs.append("raw control characters in the CSV")
        rows = list(csv.reader(raw.splitlines(), strict=True))
        cells = [c for row in rows[1:] for c in (row[0], row[5])]
        probs += ["cell starts like a formula: %r" % c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        for want in ("'=cmd|' /C calc'!A0", "'+1", "'-2", "'@SUM(1)", "esc\\x1B[31mred", "cr\\rname"):
            if want not in [row[0] for row in rows[1:]]:
                probs.append("no cell %r" % want)
        for row in rows[1:]:
            try:
                [float(v) for v in row[1:4]]
            except ValueError:
                probs.append("numeric cells not numbers: %r" % row)
        if not any(float(row[1]) < 0 for row in rows[1:]):
            probs.append("no negative rmin to show that numbers stay numbers")
        return probs
    expect_success("csv report: formula and control-character names defused", csv_model, calib,
                   os.path.join(top, "csv-names.int8.onnx"), ["--report", rep], check=defused)
