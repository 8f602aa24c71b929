"""The bad-input catalogue's contract and fixtures (tests/bad_inputs/test_catalogue.py runs it).

Every failing case must: exit 2 (130 for SIGINT), print exactly one stderr line starting
"qconvert: error:" (other lines may only be warnings), write no output file, leave no temp file
(".tmp-") in the output directory, and leave the input model unchanged. The cases that must
succeed say so. Each case is recorded as a row (case, expected, observed) for the final table."""

import hashlib
import re
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

import qc_test as T

QC = os.environ["QCONVERT"]
ROOT = os.environ["QC_SOURCE_ROOT"]
DEMO = os.path.join(ROOT, "demo", "fmnist_cnn.onnx")
ONLY = sys.argv[1:]  # optional case-name substrings, for debugging
rows = []  # (case, expected, observed, ok) for the final table


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(args, timeout=120, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([QC] + args, capture_output=True, text=True, timeout=timeout, env=env, **kw)


def signal_and_wait(p, sig, send=True):
    """Sends sig to the running qconvert p (when send) and waits up to 60 s; one that hangs is
    killed and says so on stderr. Returns its CompletedProcess."""
    if send:
        p.send_signal(sig)
    try:
        so, se = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
        se += "\n(hung after %s)" % sig.name
    return subprocess.CompletedProcess(p.args, p.returncode, so, se)


def is_warning(line):
    return line.startswith("warning:") or line.startswith("qconvert: warning:")


def tmp_leftovers(d):
    return [f for f in os.listdir(d) if ".tmp-" in f] if os.path.isdir(d) else []


def observed(r):
    """One short phrase for what a run did: its exit code and error line."""
    if r is None:
        return "-"
    err = [l for l in r.stderr.splitlines() if l.startswith("qconvert: error:")]
    msg = re.sub(r"[^\s']*/qc-bad-inputs-[^/]+/[^/]+/", "", err[0][len("qconvert: error: "):]) if err else ""
    return "exit %d%s" % (r.returncode, (": " + msg[:70]) if msg else "")


def report(name, problems, r, expected=None):
    """Records a case: ok when problems is empty. expected defaults from the exit code wanted."""
    expected = expected or ("exit 0, output written" if r is not None and not problems and r.returncode == 0
                            else "exit 2, one error line, nothing written")
    rows.append((name, expected, observed(r) if not problems else "; ".join(problems)[:90], not problems))
    if problems:
        T.check(False, name, ": %s\n     exit %s, stderr: %s" % ("; ".join(problems), r.returncode if r else "-",
                                                              (r.stderr.strip()[:600] if r else "")))
    else:
        err = [l for l in r.stderr.splitlines() if l.startswith("qconvert: error:")] if r else []
        T.check(True, name, ("  [" + err[0][:150] + "]") if err else "")


def wanted(name):
    return not ONLY or any(o in name for o in ONLY)


def expect_error(name, model, calib, out, needles=(), extra=(), code=2, run_as=None, out_dir_check=None):
    """Runs the main job and checks the failure contract."""
    if not wanted(name):
        return
    before = sha(model) if os.path.isfile(model) else None
    if os.path.isfile(out) and not os.path.islink(out) and os.path.realpath(out) != os.path.realpath(model):
        os.remove(out)  # left by an earlier case that (wrongly) succeeded
    args = [model, "--calib", calib, "-o", out, "--quiet", "--threads", "1"] + list(extra)
    r = run(args) if run_as is None else subprocess.run(run_as + [QC] + args, capture_output=True, text=True,
                                                        timeout=120)
    problems = []
    if r.returncode != code:
        problems.append("exit %d, want %d" % (r.returncode, code))
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    errs = [l for l in lines if l.startswith("qconvert: error:")]
    others = [l for l in lines if not l.startswith("qconvert: error:") and not is_warning(l)]
    if len(errs) != 1:
        problems.append("%d 'qconvert: error:' lines, want 1" % len(errs))
    if others:
        problems.append("unexpected stderr lines %r" % others[:3])
    for n in needles:
        if not errs or n.lower() not in errs[0].lower():
            problems.append("error line lacks %r" % n)
    if os.path.exists(out) and os.path.realpath(out) != os.path.realpath(model):
        problems.append("output file %s was written" % out)
    d = out_dir_check or os.path.dirname(os.path.abspath(out))
    if tmp_leftovers(d):
        problems.append("temp files left: %r" % tmp_leftovers(d))
    if before is not None and sha(model) != before:
        problems.append("input model changed")
    report(name, problems, r, "exit %d, one error line, nothing written" % code)
    return r


def expect_success(name, model, calib, out, extra=(), check=None):
    if not wanted(name):
        return None
    before = sha(model)
    r = run([model, "--calib", calib, "-o", out, "--threads", "1"] + list(extra))
    problems = []
    if r.returncode != 0:
        problems.append("exit %d, want 0" % r.returncode)
    if [l for l in r.stderr.splitlines() if l.startswith("qconvert: error")]:
        problems.append("error printed on success")
    if r.returncode == 0 and not os.path.isfile(out):
        problems.append("no output file")
    if tmp_leftovers(os.path.dirname(os.path.abspath(out))):
        problems.append("temp files left")
    if sha(model) != before:
        problems.append("input model changed")
    if check and r.returncode == 0 and os.path.isfile(out):
        problems += check(r)
    report(name, problems, r, "exit 0, output written")
    return r


# ---- fixtures -------------------------------------------------------------

def save_model(path, nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="bad_inputs")
    m.ir_version = 7
    onnx.save(m, path)
    return path


def conv_model(path, channels, dims=None, op_before=None, opset=13):
    """x[1,C,8,8] -> (op_before) -> Conv 3x3 -> Relu -> y."""
    rng = np.random.default_rng(0)
    dims = dims or [1, channels, 8, 8]
    w = numpy_helper.from_array(rng.standard_normal((4, channels, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    nodes, src = [], "x"
    if op_before:
        nodes.append(helper.make_node(op_before, ["x"], ["pre"], name="pre_op"))
        src = "pre"
    nodes += [helper.make_node("Conv", [src, "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return save_model(path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b], opset)


def pngs(d, n, size=(28, 28), mode="L", seed=0):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(os.path.join(d, "img%04d.png" % i))
    return d


def demo_fixture(top, n_calib=8):
    """A module's starting point: n_calib random PNGs in top/calib and a copy of the demo model
    as top/model.onnx (the cases may modify it). Returns (calib dir, model path)."""
    model = os.path.join(top, "model.onnx")
    shutil.copy(DEMO, model)
    return pngs(os.path.join(top, "calib"), n_calib), model


def print_table():
    """The catalogue as a table: case, expected outcome, observed outcome."""
    w = max([len(r[0]) for r in rows] + [4])
    print("\n%-*s  %-42s  %s" % (w, "case", "expected", "observed"))
    for name, exp, obs, ok in rows:
        print("%-*s  %-42s  %s%s" % (w, name, exp[:42], "" if ok else "FAIL: ", obs))
    print("%d cases, %d handled as expected, %d not" % (len(rows), T.passed, len(T.failures)))


def world_traversable(path):
    """Whether other users (the uid-65534 cases) can reach path: every directory from / down
    to it lets them through. A TMPDIR from `mktemp -d` (mode 0700) does not."""
    p = os.path.abspath(path)
    while True:
        if not os.stat(p).st_mode & 0o001:
            return False
        if p == os.path.dirname(p):
            return True
        p = os.path.dirname(p)


def run_catalogue(modules):
    """Runs each module's cases(top) in one fresh directory, prints the table and the totals.
    The directory is made under TMPDIR, or under /tmp when other users cannot reach TMPDIR."""
    parent = tempfile.gettempdir()
    if not world_traversable(parent) and world_traversable("/tmp"):
        parent = "/tmp"
    top = tempfile.mkdtemp(prefix="qc-bad-inputs-", dir=parent)
    os.chmod(top, 0o755)
    try:
        for mod in modules:
            sub = os.path.join(top, mod.__name__)
            os.makedirs(sub)
            mod.cases(sub)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print_table()
    T.finish()
