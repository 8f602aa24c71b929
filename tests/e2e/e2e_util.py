"""Shared helpers for the end-to-end tests of the main job (`qconvert MODEL --calib DIR`).

The references are independent of qconvert: onnx/numpy in Debian's /usr/bin/python3 and
onnxruntime-node (tools/ort_run.mjs). Exit codes: 0 pass, 1 fail, 77 skip (meson).
"""
import collections
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

SRC = os.environ.get("QC_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("QC_BUILD_ROOT") or os.path.join(SRC, "build")
QCONVERT = os.environ.get("QCONVERT") or os.path.join(BUILD, "qconvert")
DEMO = os.path.join(SRC, "demo")
DEPS = os.path.join(SRC, ".deps")
ORT_RUN = os.path.join(SRC, "tools", "ort_run.mjs")
FMNIST = "/usr/share/datasets/fashion-mnist"
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
BLAZEFACE = os.path.join(DEPS, "models", "blazeface.onnx")
PPOCR_CLS = os.path.join(DEPS, "models", "ppocr_cls.onnx")
SKIP = 77

# Ops that must not survive as float compute in an ORT-optimized int8 model.
FLOAT_COMPUTE_OPS = {"Conv", "Gemm", "MatMul", "ConvTranspose", "FusedConv", "FusedGemm",
                     "FusedMatMul", "NhwcConv"}

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed:")
        for f in failures:
            print("  - " + f)
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(SKIP)


def ort_missing():
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.isdir(os.path.join(DEPS, "node", "node_modules", "onnxruntime-node")):
        return f"{DEPS}/node has no onnxruntime-node (run tools/fetch_deps.sh)"
    return None


def require_ort():
    r = ort_missing()
    if r:
        skip(r)


def require_fmnist():
    for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
              "t10k-labels-idx1-ubyte.gz"):
        if not os.path.isfile(os.path.join(FMNIST, f)):
            skip(f"{FMNIST}/{f} is missing")


def demo_models():
    return sorted(os.path.join(DEMO, f) for f in os.listdir(DEMO) if f.endswith(".onnx"))


# ---- data ---------------------------------------------------------------------

def read_idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, int(np.prod(dims)), 4 + 4 * ndim).reshape(dims)


def idx2png_exe():
    return os.path.join(BUILD, "tools", "idx2png")


def export_fmnist_pngs(outdir, count, start=0, split="train"):
    """`count` Fashion-MNIST images as 8-bit gray PNGs (idx2png, or PIL when not built)."""
    images = os.path.join(FMNIST, f"{split}-images-idx3-ubyte.gz")
    exe = idx2png_exe()
    if os.path.isfile(exe):
        r = subprocess.run([exe, images, outdir, "--count", str(count), "--start", str(start)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"idx2png failed: {r.stderr.strip()}")
    else:
        from PIL import Image
        os.makedirs(outdir, exist_ok=True)
        imgs = read_idx(images)
        for i in range(start, min(start + count, len(imgs))):
            Image.fromarray(imgs[i]).save(os.path.join(outdir, f"{i:06d}.png"))
    return outdir


def fmnist_test_npy(path, count=None):
    """The t10k images as float32 N x 1 x 28 x 28, pixel/255 (the demo preprocessing)."""
    imgs = read_idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"))
    if count:
        imgs, labels = imgs[:count], labels[:count]
    np.save(path, (imgs.astype(np.float32) / 255.0)[:, None])
    return path, labels.astype(np.int64)


def skimage_photos():
    """Real color photos shipped with scikit-image, sorted by name."""
    from PIL import Image
    out = []
    for f in sorted(os.listdir(SKIMAGE_DATA)):
        if not f.lower().endswith((".png", ".jpg", ".jpeg")):
            continue
        p = os.path.join(SKIMAGE_DATA, f)
        try:
            with Image.open(p) as im:
                if im.mode in ("RGB", "RGBA") and min(im.size) >= 64:
                    out.append(p)
        except OSError:
            pass
    return out


# ---- processes ----------------------------------------------------------------

def qconvert(*args, check_rc=True, timeout=600):
    cmd = [QCONVERT] + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        print(f"command failed (rc {r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return r


def ort_run(model, inputs, outdir, threads=1, optimized_model=None, repeat=1, warmup=0):
    """Runs onnxruntime-node; returns (list of output arrays, info dict) or raises."""
    cmd = ["node", ORT_RUN, model, "--output-dir", outdir, "--threads", str(threads),
           "--repeat", str(repeat), "--warmup", str(warmup)]
    for name, path in inputs.items():
        cmd += ["--input", f"{name}={path}"]
    if optimized_model:
        cmd += ["--optimized-model", optimized_model]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ort_run {os.path.basename(model)} failed: {r.stderr.strip()}")
    info = json.loads(r.stdout.strip().splitlines()[-1])
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
    cmd = ["node", ORT_RUN, model, "--inputs-list", listing, "--output-dir", outdir,
           "--threads", str(threads)]
    if optimized_model:
        cmd += ["--optimized-model", optimized_model]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ort_run {os.path.basename(model)} failed: {r.stderr.strip()}")
    info = json.loads(r.stdout.strip().splitlines()[-1])
    outs = [np.concatenate([np.load(os.path.join(outdir, str(k), f"output_{i}.npy"))
                            for k in range(len(samples))])
            for i in range(len(info["outputs"]))]
    return outs, info


# ---- model inspection ---------------------------------------------------------

def param_bytes(model):
    m = model if isinstance(model, onnx.ModelProto) else onnx.load(model)
    return sum(numpy_helper.to_array(t).nbytes for t in m.graph.initializer)


def op_histogram(model):
    m = model if isinstance(model, onnx.ModelProto) else onnx.load(model)
    return collections.Counter(
        (n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}")
        for n in m.graph.node)


def initializers(model):
    m = model if isinstance(model, onnx.ModelProto) else onnx.load(model)
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def value_elem_types(path):
    """{value name: TensorProto element type} of a model's inputs, outputs, initializers and
    the values onnx's shape inference can type."""
    m = onnx.shape_inference.infer_shapes(onnx.load(path))
    g = m.graph
    types = {v.name: v.type.tensor_type.elem_type for v in list(g.value_info) + list(g.input) + list(g.output)}
    types.update({t.name: t.data_type for t in g.initializer})
    return types


def checker_ok(path):
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        return True, ""
    except Exception as e:  # noqa: BLE001 - any checker error is a failure
        return False, str(e).strip().splitlines()[0][:300]


def sqnr_db(ref, test):
    ref = np.asarray(ref, np.float64)
    err = ref - np.asarray(test, np.float64)
    num, den = float((ref ** 2).sum()), float((err ** 2).sum())
    if den == 0.0:
        return float("inf")
    if num == 0.0:
        return float("-inf")
    return 10.0 * np.log10(num / den)


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def tempdir(prefix):
    return tempfile.TemporaryDirectory(prefix=prefix)


# ---- stats files (docs/observers.md section 6, version 1) --------------------------

def read_stats(path):
    """Parses a QCSTATS v1 file into {name: dict}; raises ValueError on a malformed file."""
    import struct
    data = file_bytes(path)
    off = 0

    def take(fmt):
        nonlocal off
        vals = struct.unpack_from("<" + fmt, data, off)
        off += struct.calcsize("<" + fmt)
        return vals

    if data[:8] != b"QCSTATS\0":
        raise ValueError(f"{path}: bad magic")
    off = 8
    version, bins, flen = take("III")
    if version != 1:
        raise ValueError(f"{path}: version {version}")
    fingerprint = data[off:off + flen].decode()
    off += flen
    (n,) = take("I")
    out = {"__fingerprint__": fingerprint, "__bins__": bins}
    for _ in range(n):
        (nlen,) = take("I")
        name = data[off:off + nlen].decode()
        off += nlen
        count, nonfinite, zeros, samples = take("QQQQ")
        vmin, vmax, ema_c = take("ffd")
        emin = take("Qdd")
        emax = take("Qdd")
        hexp, hfirst, hlen = take("iqI")
        counts = take(f"{hlen}Q")
        out[name] = dict(count=count, nonfinite=nonfinite, zeros=zeros, samples=samples,
                         min=vmin, max=vmax, ema_constant=ema_c, ema_min=emin, ema_max=emax,
                         hist_exp=hexp, hist_first=hfirst, counts=counts)
    (fnv,) = take("Q")
    h = 0xcbf29ce484222325
    for b in data[:off - 8]:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    if h != fnv or off != len(data):
        raise ValueError(f"{path}: checksum or trailing bytes")
    return out
