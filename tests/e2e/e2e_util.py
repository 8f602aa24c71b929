"""Domain helpers for the end-to-end tests of the main job (`qconvert MODEL --calib DIR`):
Fashion-MNIST and photo data, model inspection and stats files. The harness (checks,
paths, runners) is tests/lib/qc_test.py.
"""
import collections
import os
import subprocess

import numpy as np
import onnx
from onnx import numpy_helper

import qc_test as T

BLAZEFACE = os.path.join(T.MODELS, "blazeface.onnx")
PPOCR_CLS = os.path.join(T.MODELS, "ppocr_cls.onnx")

# Ops that must not survive as float compute in an ORT-optimized int8 model.
FLOAT_COMPUTE_OPS = {"Conv", "Gemm", "MatMul", "ConvTranspose", "FusedConv", "FusedGemm",
                     "FusedMatMul", "NhwcConv"}


def require_fmnist():
    for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
              "t10k-labels-idx1-ubyte.gz"):
        if not os.path.isfile(os.path.join(T.FMNIST, f)):
            T.skip(f"{T.FMNIST}/{f} is missing")


def demo_models():
    return sorted(os.path.join(T.DEMO, f) for f in os.listdir(T.DEMO) if f.endswith(".onnx"))


# ---- data ---------------------------------------------------------------------

def idx2png_exe():
    return os.path.join(T.BUILD, "tools", "idx2png")


def export_fmnist_pngs(outdir, count, start=0, split="train"):
    """`count` Fashion-MNIST images as 8-bit gray PNGs (idx2png, or PIL when not built)."""
    images = os.path.join(T.FMNIST, f"{split}-images-idx3-ubyte.gz")
    exe = idx2png_exe()
    if os.path.isfile(exe):
        r = subprocess.run([exe, images, outdir, "--count", str(count), "--start", str(start)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"idx2png failed: {r.stderr.strip()}")
    else:
        from PIL import Image
        os.makedirs(outdir, exist_ok=True)
        imgs = T.read_idx(images)
        for i in range(start, min(start + count, len(imgs))):
            Image.fromarray(imgs[i]).save(os.path.join(outdir, f"{i:06d}.png"))
    return outdir


def fmnist_test_npy(path, count=None):
    """The t10k images as float32 N x 1 x 28 x 28, pixel/255 (the demo preprocessing)."""
    imgs = T.read_idx(os.path.join(T.FMNIST, "t10k-images-idx3-ubyte.gz"))
    labels = T.read_idx(os.path.join(T.FMNIST, "t10k-labels-idx1-ubyte.gz"))
    if count:
        imgs, labels = imgs[:count], labels[:count]
    np.save(path, (imgs.astype(np.float32) / 255.0)[:, None])
    return path, labels.astype(np.int64)


def skimage_photos():
    """Real color photos shipped with scikit-image, sorted by name."""
    from PIL import Image
    out = []
    for f in sorted(os.listdir(T.SKIMAGE_DATA)):
        if not f.lower().endswith((".png", ".jpg", ".jpeg")):
            continue
        p = os.path.join(T.SKIMAGE_DATA, f)
        try:
            with Image.open(p) as im:
                if im.mode in ("RGB", "RGBA") and min(im.size) >= 64:
                    out.append(p)
        except OSError:
            pass
    return out


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


# ---- stats files (docs/observers.md section 6, version 1) --------------------------

def read_stats(path):
    """Parses a QCSTATS v1 file into {name: dict}; raises ValueError on a malformed file."""
    import struct
    data = T.file_bytes(path)
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
