#!/usr/bin/env python3
"""CLI contract: help/version, unknown options named, bad models exit 2 with one line."""
import os
import subprocess

from qc_test import check, finish, tempdir

QC = os.environ["QCONVERT"]
ROOT = os.environ["QC_SOURCE_ROOT"]
DEMO = os.path.join(ROOT, "demo", "fmnist_cnn.onnx")


def run(*args):
    return subprocess.run([QC] + list(args), capture_output=True, text=True, timeout=60)


def expect(name, r, code, stderr_has=None, one_line=True):
    ok = r.returncode == code
    if stderr_has is not None:
        ok = ok and stderr_has in r.stderr
    if one_line and code != 0:
        ok = ok and len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("qconvert: error: ")
    if r.returncode < 0:
        ok = False  # killed by a signal: a crash
    check(ok, name, "(exit %d) %s" % (r.returncode, r.stderr.strip()[:160]))


with tempdir("qc_cli_") as d:
    empty = os.path.join(d, "empty.onnx")
    open(empty, "wb").close()
    rnd = os.path.join(d, "random.onnx")
    with open(rnd, "wb") as f:
        f.write(os.urandom(4096))
    trunc = os.path.join(d, "truncated.onnx")
    with open(DEMO, "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 3])
    missing = os.path.join(d, "missing.onnx")

    r = run("--help")
    expect("--help", r, 0, one_line=False)
    check("usage" in r.stdout, "--help prints usage")
    r = run("--version")
    expect("--version", r, 0, one_line=False)
    check(r.stdout.startswith("qconvert "), "--version output")
    for sub in ["inspect", "run"]:
        r = run(sub, "--help")
        expect(sub + " --help", r, 0, one_line=False)
        check("usage: qconvert " + sub in r.stdout, sub + " --help text")
    expect("no arguments", run(), 2, one_line=False)

    for cmd in (["inspect"], ["run", "--output-dir", d, "--input", "x.npy"], ["--calib", d]):
        tag = cmd[0]
        expect(tag + " missing model", run(*cmd, missing), 2, "missing.onnx")
        expect(tag + " empty model", run(*cmd, empty), 2, "empty.onnx")
        expect(tag + " random bytes", run(*cmd, rnd), 2, "random.onnx")
        expect(tag + " truncated model", run(*cmd, trunc), 2, "truncated.onnx")
        expect(tag + " directory as model", run(*cmd, d), 2, d)

    expect("unknown option named", run("inspect", "--bogus", DEMO), 2, "'--bogus'")
    expect("misspelled main option named", run(DEMO, "--calbi", d), 2, "'--calbi'")
    expect("option missing value", run(DEMO, "--calib"), 2, "'--calib'")
    expect("main job without --calib", run(DEMO), 2, "--calib")
    expect("output equal to input", run(DEMO, "--calib", d, "-o", DEMO), 2, "refusing to overwrite")
    r = run("inspect", DEMO)
    expect("inspect demo", r, 0, one_line=False)
    for needle in ["producer:", "ir_version:", "opsets:", "ai.onnx 13", "input", "[N, 1, 28, 28]",
                   "BatchNormalization", "parameters:", "external data: no"]:
        check(needle in r.stdout, "inspect output has %r" % needle)
    # no stray temp files in the directory after failures
    leftovers = [f for f in os.listdir(d) if ".tmp" in f]
    check(not leftovers, "no temp files left: %s" % leftovers)

finish("cli_errors")
