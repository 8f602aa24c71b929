#!/usr/bin/env python3
"""Builds the seed corpora for the fuzz harnesses into OUTDIR/<harness>/.

    build_corpus.py OUTDIR [--max-models N] [--qconvert BINARY]

model:        demo/*.onnx and N (default 300) model.onnx files from
              /usr/share/libonnx-testdata (every k-th, sorted, under 256 KiB)
tensor_proto: input_*.pb / output_*.pb from the same test data (same sampling)
png:          small skimage data PNGs and generated ones (every colour type,
              bit depth, palette+tRNS, interlaced, 1x1, odd sizes, truncated)
npy:          generated arrays of every supported dtype/version, plus variants
options:      key=value lines for every preprocessing option
stats:        statistics files without their trailing checksum (the harness
              appends it): hand-built ones, and with --qconvert real ones saved
              by `qconvert --save-stats` for each observer
Needs python3 with numpy and PIL (Debian python3-numpy, python3-pil)."""
import glob
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTDATA = "/usr/share/libonnx-testdata"
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"


def put(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def sample(paths, n, max_bytes):
    paths = sorted(p for p in paths if os.path.getsize(p) <= max_bytes)
    if len(paths) <= n:
        return paths
    step = len(paths) / n
    return [paths[int(i * step)] for i in range(n)]


def models(out, n):
    d = os.path.join(out, "model")
    for p in sorted(glob.glob(os.path.join(ROOT, "demo", "*.onnx"))):
        put(d, "demo_" + os.path.basename(p), open(p, "rb").read())
    for p in sample(glob.glob(os.path.join(TESTDATA, "**", "model.onnx"), recursive=True), n, 256 << 10):
        put(d, os.path.relpath(p, TESTDATA).replace("/", "_"), open(p, "rb").read())


def tensors(out, n):
    d = os.path.join(out, "tensor_proto")
    pbs = glob.glob(os.path.join(TESTDATA, "**", "*put_*.pb"), recursive=True)
    for p in sample(pbs, n, 64 << 10):
        put(d, os.path.relpath(p, TESTDATA).replace("/", "_"), open(p, "rb").read())


def png_bytes(img, **kw):
    b = io.BytesIO()
    img.save(b, format="PNG", **kw)
    return b.getvalue()


def raw_png(w, h, color_type, depth, rows, interlace=0, extra=b""):
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def pngs(out):
    d = os.path.join(out, "png")
    for p in sorted(glob.glob(os.path.join(SKIMAGE, "*.png"))):
        if os.path.getsize(p) <= 48 << 10:
            put(d, "skimage_" + os.path.basename(p), open(p, "rb").read())
    rng = np.random.default_rng(0)
    for w, h in [(1, 1), (7, 5), (32, 32), (33, 17), (3, 100)]:
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        g = rng.integers(0, 256, (h, w), dtype=np.uint8)
        tag = "%dx%d" % (w, h)
        put(d, "rgb_%s.png" % tag, png_bytes(Image.fromarray(rgb)))
        put(d, "rgba_%s.png" % tag, png_bytes(Image.fromarray(rgba)))
        put(d, "gray_%s.png" % tag, png_bytes(Image.fromarray(g)))
        put(d, "la_%s.png" % tag, png_bytes(Image.fromarray(rgba[:, :, :2].copy(), "LA")))
        put(d, "gray16_%s.png" % tag, png_bytes(Image.fromarray(g.astype(np.uint16) * 257)))
        put(d, "bilevel_%s.png" % tag, png_bytes(Image.fromarray(g).convert("1")))
        pal = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16)
        put(d, "pal_%s.png" % tag, png_bytes(pal))
        put(d, "pal_trns_%s.png" % tag, png_bytes(pal, transparency=0))
        put(d, "rgb_trns_%s.png" % tag, png_bytes(Image.fromarray(rgb), transparency=(1, 2, 3)))
        put(d, "raw_rgb_%s.png" % tag, raw_png(w, h, 2, 8, b"".join(b"\0" + rgb[y].tobytes() for y in range(h))))
    # raw: 16-bit RGB(A), 2/4-bit gray, Adam7 interlaced
    w, h = 9, 6
    rows16 = b"".join(b"\0" + rng.integers(0, 65536, w * 3, dtype=np.uint16).astype(">u2").tobytes() for _ in range(h))
    put(d, "rgb16_raw.png", raw_png(w, h, 2, 16, rows16))
    rows2 = b"".join(b"\0" + bytes(rng.integers(0, 256, (w * 2 + 7) // 8, dtype=np.uint8)) for _ in range(h))
    put(d, "gray2_raw.png", raw_png(w, h, 0, 2, rows2))
    rows4 = b"".join(b"\0" + bytes(rng.integers(0, 256, (w * 4 + 7) // 8, dtype=np.uint8)) for _ in range(h))
    put(d, "gray4_raw.png", raw_png(w, h, 0, 4, rows4))
    # Adam7: 7 passes of a 8x8 gray image, each row filter 0
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    data = b""
    for x0, y0, dx, dy in passes:
        pw, ph = len(range(x0, 8, dx)), len(range(y0, 8, dy))
        data += b"".join(b"\0" + bytes(range(pw)) for _ in range(ph))
    put(d, "adam7_raw.png", raw_png(8, 8, 0, 8, data, interlace=1))
    full = open(os.path.join(d, "rgb_33x17.png"), "rb").read()
    put(d, "truncated.png", full[: len(full) // 2])
    put(d, "no_iend.png", full[:-12])


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version:
        np.lib.format.write_array(b, a, version=version)
    else:
        np.save(b, a)
    return b.getvalue()


def npys(out):
    d = os.path.join(out, "npy")
    rng = np.random.default_rng(1)
    for dt in ["<f4", "<f8", "<f2", "<i8", "<i4", "|u1", "|i1", "|b1"]:
        a = (rng.standard_normal((1, 3, 4, 4)) * 10).astype(dt)
        put(d, "a_%s.npy" % dt.replace("<", "le").replace("|", "na"), npy_bytes(a))
    put(d, "scalar.npy", npy_bytes(np.float32(3.5)))
    put(d, "empty.npy", npy_bytes(np.zeros((0, 3), np.float32)))
    put(d, "v2.npy", npy_bytes(np.ones((2, 2), np.float32), version=(2, 0)))
    put(d, "v3.npy", npy_bytes(np.ones((2, 2), np.float32), version=(3, 0)))
    put(d, "fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 3), np.float32))))
    put(d, "bigendian.npy", npy_bytes(np.ones((2,), ">f4")))
    put(d, "rank8.npy", npy_bytes(np.ones((1,) * 8, np.float32)))
    good = npy_bytes(np.ones((2, 3), np.float32))
    put(d, "truncated.npy", good[:-5])


def options(out):
    d = os.path.join(out, "options")
    seeds = [
        "mean=0.485,0.456,0.406\nstd=0.229,0.224,0.225\nscale=1/255",
        "scale=0.0039215686", "mean=127.5\nstd=127.5\nscale=1", "size=224x224", "size=32,32",
        "pad=114\nresize=letterbox\nsize=20x40", "resize=crop\nsize=64x16", "color=gray", "color=bgr\nlayout=nhwc",
        "color=rgba\nmean=0,0,0,0", "layout=nchw\nresize=stretch", "std=1e-3", "mean=-1e3,2e3,0",
    ]
    for i, s in enumerate(seeds):
        put(d, "opt_%02d.txt" % i, s.encode())


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def stats(out, qconvert):
    d = os.path.join(out, "stats")
    def body(fp, records):
        b = b"QCSTATS\0" + struct.pack("<III", 1, 4096, len(fp)) + fp + struct.pack("<I", len(records))
        for name in records:
            b += struct.pack("<I", len(name)) + name + struct.pack("<QQQQ", 0, 0, 0, 0)
            b += struct.pack("<ffd", 0, 0, 0.01) + struct.pack("<Qdd", 0, 0, 0) * 2 + struct.pack("<iqI", 0, 0, 0)
        return b
    put(d, "empty_set", body(b"fp", []))
    put(d, "two_empty", body(b"model:abc", [b"x", b"conv_out"]))
    if not qconvert:
        return
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as t:
        calib = os.path.join(t, "calib")
        os.makedirs(calib)
        rng = np.random.default_rng(3)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8), "L").save(os.path.join(calib, "%d.png" % i))
        for obs in ["minmax", "ema", "percentile"]:
            path = os.path.join(t, obs + ".stats")
            r = subprocess.run([qconvert, os.path.join(ROOT, "demo", "fmnist_cnn.onnx"), "--calib", calib, "-o",
                                os.path.join(t, "q.onnx"), "--observer", obs, "--save-stats", path, "--quiet",
                                "--threads", "1"], capture_output=True)
            if r.returncode == 0 and os.path.isfile(path):
                data = open(path, "rb").read()
                if struct.unpack("<Q", data[-8:])[0] == fnv1a64(data[:-8]):
                    put(d, "demo_" + obs, data[:-8])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    n = int(sys.argv[sys.argv.index("--max-models") + 1]) if "--max-models" in sys.argv else 300
    qconvert = sys.argv[sys.argv.index("--qconvert") + 1] if "--qconvert" in sys.argv else None
    models(out, n)
    tensors(out, n)
    pngs(out)
    npys(out)
    options(out)
    stats(out, qconvert)
    for h in sorted(os.listdir(out)):
        print("%-14s %4d seeds" % (h, len(os.listdir(os.path.join(out, h)))))


if __name__ == "__main__":
    main()
