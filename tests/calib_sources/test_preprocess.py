"""Preprocessing against an independent PIL + numpy pipeline on real photos:
Image.convert + Image.resize(BILINEAR) + paste/crop + numpy normalisation.
Resizing is meant to be bit-exact with PIL, so the tolerance is float32
rounding only; the max abs diff (in pixel units) is printed for every case."""
import os
import warnings

import numpy as np
from PIL import Image

from calib_util import PREPROCESS_TOOL, write_png
from qc_test import SKIMAGE_DATA, check, finish, mkdtemp, run

warnings.simplefilter("ignore")
d = mkdtemp("qc_calib_")
TOL_PIXELS = 1e-3  # float32 rounding of values ~1; PIL-exact resampling otherwise


def round_half_up(a, b, c):
    return (2 * a * b + c) // (2 * c)


def pil_resize(im, size):
    if im.mode == "RGBA":  # PIL premultiplies RGBA; qconvert resizes channels independently
        return Image.merge("RGBA", [b.resize(size, Image.BILINEAR) for b in im.split()])
    return im.resize(size, Image.BILINEAR)


def reference(path, H, W, resize="stretch", color="rgb", layout="nchw", mean=(0,), std=(1,), scale=1 / 255,
              pad=114, batch=True):
    im = Image.open(path)
    im = im.convert({"gray": "L", "rgb": "RGB", "bgr": "RGB", "rgba": "RGBA"}[color])
    w, h = im.size
    if resize == "stretch":
        out = pil_resize(im, (W, H))
    elif resize == "letterbox":
        if W * h <= H * w:
            nw, nh = W, min(H, max(1, round_half_up(h, W, w)))
        else:
            nw, nh = min(W, max(1, round_half_up(w, H, h))), H
        canvas = Image.new(im.mode, (W, H), (pad,) * len(im.getbands()) if im.mode != "L" else pad)
        canvas.paste(pil_resize(im, (nw, nh)), ((W - nw) // 2, (H - nh) // 2))
        out = canvas
    else:  # crop: shorter side to target, centre crop
        if W * h >= H * w:
            nw, nh = W, max(H, round_half_up(h, W, w))
        else:
            nw, nh = max(W, round_half_up(w, H, h)), H
        left, top = (nw - W) // 2, (nh - H) // 2
        out = pil_resize(im, (nw, nh)).crop((left, top, left + W, top + H))
    a = np.asarray(out).astype(np.float64).reshape(H, W, -1)
    if color == "bgr":
        a = a[..., ::-1]
    a = (a * scale - np.asarray(mean, dtype=np.float64)) / np.asarray(std, dtype=np.float64)
    if layout == "nchw":
        a = a.transpose(2, 0, 1)
    return a[None] if batch else a


def tool(path, shape, dtype="float", *opts):
    out = os.path.join(d, "out.npy")
    if os.path.exists(out):
        os.remove(out)
    rc, so, err = run(PREPROCESS_TOOL, "image", path, out, ",".join(map(str, shape)), dtype, *opts)
    return rc, (np.load(out) if rc == 0 else None), so.strip(), err.strip()


def compare(name, path, shape, opts, ref_kwargs, dtype="float", scale_px=255.0):
    rc, got, desc, err = tool(path, shape, dtype, *opts)
    if rc != 0:
        check(False, f"{name}: tool failed: {err}")
        return
    ref = reference(path, **ref_kwargs)
    if got.shape != ref.shape:
        check(False, f"{name}: shape {got.shape} vs {ref.shape}")
        return
    diff = np.abs(got.astype(np.float64) - ref).max()
    s = ref_kwargs.get("scale", 1 / 255)
    std = min(ref_kwargs.get("std", (1,)))
    diff_px = diff * std / s  # back to pixel units
    print(f"  {name}: max abs diff {diff_px:.2g} px  [{desc}]")
    check(diff_px <= TOL_PIXELS, f"{name}: max abs diff {diff_px} px")


P = {n: os.path.join(SKIMAGE_DATA, n + ".png") for n in ("astronaut", "coffee", "chelsea", "camera")}
IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
imn = ["mean=0.485,0.456,0.406", "std=0.229,0.224,0.225"]

# Stretch: integer-multiple downscale, non-integer down/up scale, per axis.
compare("stretch 512->256 rgb nchw", P["astronaut"], (1, 3, 256, 256), [], dict(H=256, W=256))
compare("stretch 512->128 imagenet", P["astronaut"], (1, 3, 128, 128), imn, dict(H=128, W=128, **IMAGENET))
compare("stretch 400x600->224x224", P["coffee"], (1, 3, 224, 224), [], dict(H=224, W=224))
compare("stretch upscale 300x451->700x500", P["chelsea"], (1, 3, 700, 500), [], dict(H=700, W=500))
compare("stretch only width", P["chelsea"], (1, 3, 300, 200), [], dict(H=300, W=200))
compare("stretch bgr nhwc", P["coffee"], (1, 160, 240, 3), ["color=bgr"], dict(H=160, W=240, color="bgr",
                                                                                  layout="nhwc"))
compare("stretch gray from rgb (PIL L)", P["astronaut"], (1, 1, 100, 100), [], dict(H=100, W=100, color="gray"))
compare("stretch rgb from gray", P["camera"], (1, 3, 96, 128), [], dict(H=96, W=128))
compare("stretch rgba from rgb", P["coffee"], (1, 4, 64, 64), [], dict(H=64, W=64, color="rgba"))
compare("scale 1, mean per channel", P["astronaut"], (1, 3, 64, 64), ["scale=1", "mean=123.675,116.28,103.53",
        "std=58.395,57.12,57.375"], dict(H=64, W=64, scale=1.0, mean=(123.675, 116.28, 103.53),
                                         std=(58.395, 57.12, 57.375)))
compare("3-D CHW input", P["chelsea"], (3, 50, 70), ["scale=1/127.5", "mean=1"],
        dict(H=50, W=70, scale=1 / 127.5, mean=(1,), batch=False))
compare("3-D HWC input", P["chelsea"], (50, 70, 3), [], dict(H=50, W=70, layout="nhwc", batch=False))

# Letterbox (portrait and landscape targets) and crop.
compare("letterbox 400x600 -> 640x640", P["coffee"], (1, 3, 640, 640), ["resize=letterbox"],
        dict(H=640, W=640, resize="letterbox"))
compare("letterbox 300x451 -> 320x200 pad 0", P["chelsea"], (1, 3, 320, 200), ["resize=letterbox", "pad=0"],
        dict(H=320, W=200, resize="letterbox", pad=0))
compare("letterbox gray bgr nhwc", P["camera"], (1, 200, 300, 3), ["resize=letterbox", "color=bgr"],
        dict(H=200, W=300, resize="letterbox", color="bgr", layout="nhwc"))
compare("crop 400x600 -> 224x224", P["coffee"], (1, 3, 224, 224), ["resize=crop"] + imn,
        dict(H=224, W=224, resize="crop", **IMAGENET))
compare("crop 300x451 -> 100x300", P["chelsea"], (1, 3, 100, 300), ["resize=crop"],
        dict(H=100, W=300, resize="crop"))
compare("crop upscale 512 -> 601x777 gray", P["camera"], (1, 1, 601, 777), ["resize=crop"],
        dict(H=601, W=777, resize="crop", color="gray"))

# Letterbox geometry written out by hand: 400x600 into 640x640 -> 640x427 at top 106.
rc, got, _, _ = tool(P["coffee"], (1, 3, 640, 640), "float", "resize=letterbox", "scale=1")
check(rc == 0 and np.all(got[0, :, :106] == 114) and np.all(got[0, :, 533:] == 114)
      and not np.all(got[0, :, 106] == 114), "letterbox pad rows 0..105 and 533..639")

# uint8 and float16 inputs.
rc, got, _, _ = tool(P["astronaut"], (1, 224, 224, 3), "uint8")
ref = reference(P["astronaut"], 224, 224, layout="nhwc", scale=1)
check(rc == 0 and got.dtype == np.uint8 and np.array_equal(got, ref.astype(np.uint8)), "uint8 input gets raw pixels")
rc, got, _, _ = tool(P["astronaut"], (1, 3, 32, 32), "float16", *imn)
ref = reference(P["astronaut"], 32, 32, **IMAGENET)
check(rc == 0 and got.dtype == np.float16 and np.abs(got - ref).max() < 5e-3, "float16 input")

# A small synthetic image with exact expected values: 2x2 -> 4x4 upscale, PIL triangle weights.
p = os.path.join(d, "tiny.png")
write_png(p, np.array([[0, 255], [255, 0]]), 0, 8)
compare("tiny 2x2 -> 4x4 gray", p, (1, 1, 4, 4), [], dict(H=4, W=4, color="gray"))

# Inference and usage errors.
def expect_error(name, shape, opts, needle, dtype="float"):
    rc, _, _, err = tool(P["coffee"], shape, dtype, *opts)
    check(rc == 2 and needle in err, f"{name}: rc={rc} err={err!r}")
    print(f"  {name}: {err}")

expect_error("dynamic H/W", (-1, 3, -1, -1), [], "--input-shape")
expect_error("fixed batch 8", (8, 3, 32, 32), [], "batch")
expect_error("size mismatch", (1, 3, 32, 32), ["size=64x64"], "does not match")
expect_error("color vs channels", (1, 3, 32, 32), ["color=gray"], "channels")
expect_error("no channel dim", (1, 5, 32, 32), [], "layout")
expect_error("int64 input", (1, 3, 32, 32), [], "images can only feed", dtype="int64")
expect_error("bad option", (1, 3, 32, 32), ["colour=rgb"], "unknown preprocessing option")
expect_error("bad mean count", (1, 3, 32, 32), ["mean=1,2"], "mean has 2 values")
expect_error("bad std", (1, 3, 32, 32), ["std=0"], "non-zero")
rc, got, _, _ = tool(P["coffee"], (-1, 3, -1, -1), "float", "size=48x40")
check(rc == 0 and got.shape == (1, 3, 48, 40), "dynamic H/W with size=48x40")
rc, got, _, _ = tool(P["coffee"], (1, -1, -1, 1), "float", "size=20x30")
check(rc == 0 and got.shape == (1, 20, 30, 1), "NHWC gray inferred from last dim 1")

finish("test_preprocess")
