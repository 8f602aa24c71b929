"""The one Python test harness (tests/lib): checks and the summary, temp dirs,
data paths, the qconvert and onnxruntime runners and the numeric helpers every
suite shares. meson puts tests/lib on PYTHONPATH (tests/meson.build); a test
imports it as `import qc_test as T`. Domain helpers stay next to their suite
(e2e_util.py, eval/common.py, ...) and import this module; none repeats it.

The references are independent of qconvert: onnx/numpy in Debian's
/usr/bin/python3 and onnxruntime-node (tools/ort_run.mjs).
Exit codes: 0 pass, 1 fail, 77 skip (meson's skip code).
"""
import atexit
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

# ---- data paths --------------------------------------------------------------

SRC = os.environ.get("QC_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("QC_BUILD_ROOT") or os.path.join(SRC, "build")
QCONVERT = os.environ.get("QCONVERT") or os.path.join(BUILD, "qconvert")
DEMO = os.path.join(SRC, "demo")
DEPS = os.path.join(SRC, ".deps")
MODELS = os.path.join(DEPS, "models")
NODE_DIR = os.environ.get("QC_ORT_NODE_DIR") or os.path.join(DEPS, "node")
ORT_RUN = os.path.join(SRC, "tools", "ort_run.mjs")
FMNIST = "/usr/share/datasets/fashion-mnist"
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
ONNX_TESTDATA = "/usr/share/libonnx-testdata/data"
SKIP = 77

# ---- checks ------------------------------------------------------------------

passed = 0
failures = []


def check(cond, msg, detail=""):
    """Records one check and prints it ("ok   msg" / "FAIL msg", then detail); returns cond."""
    global passed
    cond = bool(cond)
    line = ("ok   " if cond else "FAIL ") + msg
    print(line + (" " + str(detail) if detail else ""), flush=True)
    if cond:
        passed += 1
    else:
        failures.append(msg)
    return cond


def finish(name=None):
    """Prints "[name: ]N passed, N failed" (and the failed checks); exits 1 on any failure."""
    prefix = f"{name}: " if name else ""
    if failures:
        print(f"\n{prefix}{len(failures)} check(s) failed:")
        for f in failures:
            print("  - " + f)
    print(f"{prefix}{passed} passed, {len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)


# ---- temp dirs (under $TMPDIR, always removed) -------------------------------

def tempdir(prefix):
    """A TemporaryDirectory for `with`: removed when the block ends."""
    return tempfile.TemporaryDirectory(prefix=prefix)


def mkdtemp(prefix):
    """A temp dir removed when the test exits; QC_KEEP_TMP=1 keeps it to look at."""
    d = tempfile.mkdtemp(prefix=prefix)
    if os.environ.get("QC_KEEP_TMP"):
        print("temp files kept in", d)
    else:
        atexit.register(shutil.rmtree, d, True)
    return d


# ---- processes ---------------------------------------------------------------

def run(tool, *args):
    """Runs a helper tool; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run([tool, *map(str, args)], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def qconvert(*args, check_rc=True, timeout=600):
    """Runs the qconvert binary; prints the command and stderr when check_rc and it fails."""
    cmd = [QCONVERT] + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        print(f"command failed (rc {r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return r


# ---- onnxruntime-node (tools/ort_run.mjs) ------------------------------------

def ort_missing():
    """Why onnxruntime-node cannot run, or None."""
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "onnxruntime-node")):
        return f"{NODE_DIR} has no onnxruntime-node (run tools/fetch_deps.sh)"
    return None


def require_ort():
    why = ort_missing()
    if why:
        skip(why)


def _ort_node(model, args, outdir):
    """Runs ort_run.mjs; returns its JSON info line or raises RuntimeError."""
    os.makedirs(outdir, exist_ok=True)
    r = subprocess.run(["node", ORT_RUN, model, "--output-dir", outdir] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ort_run {os.path.basename(model)} failed: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def ort_run(model, inputs, outdir, threads=1, optimized_model=None, repeat=1, warmup=0):
    """Runs onnxruntime-node on {input name: .npy path}; returns (output arrays, info dict)."""
    args = ["--threads", str(threads), "--repeat", str(repeat), "--warmup", str(warmup)]
    for name, path in inputs.items():
        args += ["--input", f"{name}={path}"]
    if optimized_model:
        args += ["--optimized-model", optimized_model]
    info = _ort_node(model, args, outdir)
    outs = [np.load(os.path.join(outdir, f"output_{i}.npy")) for i in range(len(info["outputs"]))]
    return outs, info


def ort_run_batch(model, samples, workdir, threads=2, optimized_model=None):
    """Runs every sample ({input name: array}) in one onnxruntime-node process
    (ort_run.mjs --inputs-list); returns each output concatenated over the samples
    along axis 0, and the info dict. Inputs and outputs live under `workdir`."""
    os.makedirs(workdir, exist_ok=True)
    lines = []
    for k, feeds in enumerate(samples):
        items = []
        for j, (name, x) in enumerate(feeds.items()):
            path = os.path.join(workdir, f"in{k}_{j}.npy")
            np.save(path, x)
            items.append(f"{name}={path}")
        lines.append("\t".join(items))
    listing = os.path.join(workdir, "inputs.txt")
    with open(listing, "w") as f:
        f.write("\n".join(lines) + "\n")
    outdir = os.path.join(workdir, "out")
    args = ["--inputs-list", listing, "--threads", str(threads)]
    if optimized_model:
        args += ["--optimized-model", optimized_model]
    info = _ort_node(model, args, outdir)
    outs = [np.concatenate([np.load(os.path.join(outdir, str(k), f"output_{i}.npy"))
                            for k in range(len(samples))])
            for i in range(len(info["outputs"]))]
    return outs, info


# ---- data --------------------------------------------------------------------

def read_idx(path):
    """An idx(.gz) file (Fashion-MNIST) as a numpy array."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, int(np.prod(dims)), 4 + 4 * ndim).reshape(dims)


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def load_json(path):
    with open(path) as f:
        return json.load(f)


# ---- numeric and model checks ------------------------------------------------

def sqnr_db(ref, test):
    """10 log10(|ref|^2 / |ref - test|^2) in float64; inf when equal."""
    ref = np.asarray(ref, np.float64)
    err = ref - np.asarray(test, np.float64)
    num, den = float((ref ** 2).sum()), float((err ** 2).sum())
    if den == 0.0:
        return float("inf")
    if num == 0.0:
        return float("-inf")
    return 10.0 * np.log10(num / den)


def cosine(a, b):
    """Cosine similarity of two arrays, flattened, in float64."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def checker_ok(model):
    """onnx.checker.check_model(full_check=True) on a path or a ModelProto:
    (True, "") or (False, the first line of the error)."""
    import onnx
    try:
        onnx.checker.check_model(model if isinstance(model, onnx.ModelProto) else onnx.load(model),
                                 full_check=True)
        return True, ""
    except Exception as e:  # noqa: BLE001 - any checker error is a failure
        return False, str(e).strip().splitlines()[0][:300]
