"""Deterministic image data for the real-model accuracy suite (docs/accuracy.md).

Every sample is an 8-bit RGB image at the model's input size, built from:
  * scikit-image's sample photos, split by source image into CALIB and EVAL (a photo that is a
    background or crop source in calibration never appears in evaluation; the stereo pair
    motorcycle_left/right counts as one source);
  * the faces of scikit-image's LFW subset (images 0-99, 25x25 grey), split by index;
  * text rendered with ImageMagick (`convert ... label:TEXT`, DejaVu fonts), with disjoint
    words, fonts and point sizes per split, on plain colours and on photo crops of the split.
Random choices come from numpy generators with fixed seeds; lists are sorted. The same call
gives the same pixels on any machine with the same ImageMagick and FreeType.
"""
import collections
import io
import os
import subprocess
import zlib

import numpy as np
from PIL import Image

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
LFW = "lfw_subset.npy"  # images 0-99 are faces, 100-199 are not

Split = collections.namedtuple("Split", "name photos faces words fonts pointsizes")
# One sample: `pixels` HxWx3 uint8; `label` depends on the generator (text, orientation, face box).
Sample = collections.namedtuple("Sample", "name pixels label")

# The word lists share no word; the %, @ and backslash characters are left out because
# ImageMagick's label: interprets them.
_WORDS_CALIB = sorted("""
    account address after again answer apple basket battery before bridge button camera
    candle carpet castle center chapter circle coffee copper corner cotton daily dinner
    doctor double engine evening factory family fever flower forest garden glass golden
    harbor hidden honey island jacket kitchen ladder letter market meadow metal mirror
    morning motor number orange paper pencil pepper picture planet pocket river rocket
    school silver simple spring station stone street summer sunday table ticket tower
    travel valley window winter yellow 2019 3.14 42 No.7 A-12 07:30 +49 1200
    """.split())
_WORDS_EVAL = sorted("""
    anchor autumn balcony banana blanket border bottle breakfast bucket cabinet canyon
    captain cereal chimney cinema clover column cousin crystal curtain dentist desert
    dragon elbow ferry festival fountain galaxy giraffe gravel hammer helmet horizon
    iceberg journal kettle lantern lemon library lizard magnet marble meteor napkin
    needle oyster parcel pilot puzzle quarter rabbit saddle sailor shadow singer socket
    spider statue thunder timber tunnel umbrella velvet violin walnut wizard 1987 0.5
    88 B-4 19:45 $12 (3) 2024-06-01 x7
    """.split())

# scikit-image photos (the binary, synthetic and tiny images are left out).
CALIB = Split("calib",
              photos=["astronaut.png", "brick.png", "camera.png", "chelsea.png", "coins.png",
                      "grass.png", "hubble_deep_field.jpg", "moon.png", "page.png", "retina.jpg"],
              faces=range(0, 40), words=_WORDS_CALIB,
              fonts=["DejaVu-Sans", "DejaVu-Sans-Condensed-Oblique", "DejaVu-Sans-Mono-Bold",
                     "DejaVu-Serif"],
              pointsizes=[22, 30, 40])
EVAL = Split("eval",
             photos=["cell.png", "clock_motion.png", "coffee.png", "gravel.png", "ihc.png",
                     "motorcycle_left.png", "motorcycle_right.png", "rocket.jpg", "text.png"],
             faces=range(50, 100), words=_WORDS_EVAL,
             fonts=["DejaVu-Sans-Bold", "DejaVu-Sans-Mono", "DejaVu-Serif-Condensed",
                    "DejaVu-Serif-Italic"],
             pointsizes=[26, 34, 46])
assert not set(CALIB.photos) & set(EVAL.photos) and not set(CALIB.words) & set(EVAL.words)
assert not set(CALIB.fonts) & set(EVAL.fonts) and not set(CALIB.faces) & set(EVAL.faces)


def missing():
    """What the generators need and this machine lacks, or None."""
    files = CALIB.photos + EVAL.photos + [LFW]
    lost = [f for f in files if not os.path.isfile(os.path.join(SKIMAGE_DATA, f))]
    if lost:
        return f"scikit-image sample data missing: {lost}"
    try:
        subprocess.run(["convert", "-version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "ImageMagick's convert is not installed (package imagemagick)"
    return None


def rng_for(*key):
    """A generator seeded by a stable hash of `key` (Python's hash() is salted per process)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ---- sources ----------------------------------------------------------------------

_photo_cache = {}
_faces = None
_text_cache = {}


def photo(name):
    """A scikit-image photo as RGB uint8 (grey photos replicated)."""
    if name not in _photo_cache:
        with Image.open(os.path.join(SKIMAGE_DATA, name)) as im:
            _photo_cache[name] = np.asarray(im.convert("RGB"))
    return _photo_cache[name]


def face(index):
    """LFW subset image `index` (0-99 are faces) as 25x25 grey uint8."""
    global _faces
    if _faces is None:
        _faces = np.round(np.load(os.path.join(SKIMAGE_DATA, LFW)) * 255).astype(np.uint8)
    return _faces[index]


def text_mask(text, font, pointsize):
    """Coverage of `text` rendered by ImageMagick: uint8, 255 where the glyphs are."""
    key = (text, font, pointsize)
    if key not in _text_cache:
        r = subprocess.run(["convert", "-background", "black", "-fill", "white", "-font", font,
                            "-pointsize", str(pointsize), "label:" + text, "png:-"],
                           capture_output=True, check=True)
        with Image.open(io.BytesIO(r.stdout)) as im:
            _text_cache[key] = np.asarray(im.convert("L"))
    return _text_cache[key]


def resize(pixels, h, w):
    """Bilinear resize to h x w (PIL, which qconvert's preprocessing reproduces exactly); a
    writable copy."""
    if pixels.shape[:2] == (h, w):
        return pixels.copy()
    return np.array(Image.fromarray(pixels).resize((w, h), Image.BILINEAR))


def photo_crop(rng, split, h, w, min_frac=0.35):
    """A random window of a random photo of `split` with the aspect ratio h:w, resized to h x w."""
    name = split.photos[rng.integers(len(split.photos))]
    src = photo(name)
    sh, sw = src.shape[:2]
    full_h = min(sh, sw * h / w)  # the largest window of this aspect ratio
    ch = int(round(full_h * rng.uniform(min_frac, 1.0)))
    cw = min(sw, max(1, int(round(ch * w / h))))
    top, left = rng.integers(sh - ch + 1), rng.integers(sw - cw + 1)
    return name, resize(np.ascontiguousarray(src[top:top + ch, left:left + cw]), h, w)


def plain(rng, h, w):
    return np.broadcast_to(rng.integers(0, 256, 3).astype(np.uint8), (h, w, 3)).copy()


def background(rng, split, h, w):
    """Half plain colour, half a photo crop; returns (source tag, pixels)."""
    if rng.random() < 0.5:
        return "plain", plain(rng, h, w)
    return photo_crop(rng, split, h, w)


def contrasting(rng, region):
    """A text colour that stands out from the mean of `region` (dark on light, light on dark)."""
    luma = float(region.reshape(-1, 3).mean(0) @ [0.299, 0.587, 0.114])
    base = rng.integers(0, 70, 3) if luma > 128 else rng.integers(185, 256, 3)
    return base.astype(np.float64)


def paint(canvas, mask, top, left, colour):
    """Alpha-blends `colour` into `canvas` through `mask` (uint8 coverage) at (top, left)."""
    h, w = mask.shape
    region = canvas[top:top + h, left:left + w].astype(np.float64)
    a = mask[..., None] / 255.0
    canvas[top:top + h, left:left + w] = np.round(region * (1 - a) + colour * a).astype(np.uint8)


def phrase(rng, split, words):
    return " ".join(split.words[i] for i in rng.integers(len(split.words), size=words))


def fitted_text(rng, split, max_h, max_w, words):
    """A phrase rendered in a random font of `split`, scaled to at most max_h x max_w."""
    text = phrase(rng, split, words)
    font = split.fonts[rng.integers(len(split.fonts))]
    mask = text_mask(text, font, split.pointsizes[rng.integers(len(split.pointsizes))])
    f = min(max_h / mask.shape[0], max_w / mask.shape[1])
    mh, mw = max(1, int(mask.shape[0] * f)), max(1, int(mask.shape[1] * f))
    return text, resize(mask, mh, mw)


# ---- generators: each returns n Samples at the model's input size -------------------------

def text_lines(split, n, h, w, seed):
    """Cropped text lines as a text recognizer sees them: the glyphs fill 60-90% of the height,
    left-aligned; label = the text."""
    rng = rng_for("lines", split.name, seed)
    out = []
    for i in range(n):
        src, img = background(rng, split, h, w)
        th = int(h * rng.uniform(0.6, 0.9))
        text, mask = fitted_text(rng, split, th, w - 4, int(rng.integers(1, 4)))
        top = (h - mask.shape[0]) // 2 + int(rng.integers(-2, 3))
        top = min(max(top, 0), h - mask.shape[0])
        left = int(rng.integers(0, min(8, w - mask.shape[1]) + 1))
        paint(img, mask, top, left, contrasting(rng, img))
        out.append(Sample(f"line{i:03d}_{src}", img, text))
    return out


def oriented_lines(split, n, h, w, seed):
    """Text lines, every other one turned by 180 degrees; label = 1 when turned (PP-OCR cls's
    class order: 0 upright, 1 rotated)."""
    out = []
    for i, s in enumerate(text_lines(split, n, h, w, seed)):
        turned = i % 2 == 1
        px = np.ascontiguousarray(s.pixels[::-1, ::-1]) if turned else s.pixels
        out.append(Sample(s.name + ("_180" if turned else ""), px, int(turned)))
    return out


def text_scenes(split, n, h, w, seed, text_fraction=0.75):
    """Pages for a text detector: 2-6 lines of text at random places, sizes and colours on a
    background; the other samples are photo crops without added text. label = line count."""
    rng = rng_for("scenes", split.name, seed, h, w)
    out = []
    for i in range(n):
        if rng.random() >= text_fraction:
            src, img = photo_crop(rng, split, h, w)
            out.append(Sample(f"scene{i:03d}_{src}", img, 0))
            continue
        src, img = background(rng, split, h, w)
        lines, top = int(rng.integers(2, 7)), int(rng.integers(2, h // 8))
        drawn = 0
        for _ in range(lines):
            lh = int(rng.integers(max(10, h // 24), max(11, h // 8)))
            if top + lh > h - 2:
                break
            _, mask = fitted_text(rng, split, lh, int(w * rng.uniform(0.4, 0.95)), int(rng.integers(1, 5)))
            left = int(rng.integers(0, w - mask.shape[1] + 1))
            paint(img, mask, top, left, contrasting(rng, img[top:top + mask.shape[0], left:left + mask.shape[1]]))
            top += mask.shape[0] + int(rng.integers(2, max(3, h // 16)))
            drawn += 1
        out.append(Sample(f"scene{i:03d}_{src}", img, drawn))
    return out


def face_scenes(split, n, h, w, seed):
    """For a face detector: a third full-frame LFW faces, a third a face pasted into a photo crop
    (30-70% of the width), a third photo crops without a pasted face. label = the face's box
    (x0, y0, x1, y1) in pixels, or None."""
    rng = rng_for("faces", split.name, seed, h, w)
    faces = list(split.faces)
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            k = faces[rng.integers(len(faces))]
            img = np.repeat(resize(face(k), h, w)[..., None], 3, axis=2)
            out.append(Sample(f"face{i:03d}_lfw{k}", img, (0, 0, w, h)))
            continue
        src, img = photo_crop(rng, split, h, w)
        if kind == 2:
            out.append(Sample(f"face{i:03d}_{src}", img, None))
            continue
        k = faces[rng.integers(len(faces))]
        size = int(w * rng.uniform(0.3, 0.7))
        top, left = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        img[top:top + size, left:left + size] = resize(face(k), size, size)[..., None]
        out.append(Sample(f"face{i:03d}_lfw{k}_{src}", img, (left, top, left + size, top + size)))
    return out


def photo_scenes(split, n, h, w, seed):
    """Photo crops (lines, edges, texture) with text scenes mixed in, for a line detector."""
    rng = rng_for("photos", split.name, seed, h, w)
    out = []
    scenes = iter(text_scenes(split, n, h, w, seed + 1, text_fraction=1.0))
    for i in range(n):
        if i % 4 == 3:
            s = next(scenes)
            out.append(Sample(f"photo{i:03d}_{s.name}", s.pixels, None))
        else:
            src, img = photo_crop(rng, split, h, w, min_frac=0.6)
            out.append(Sample(f"photo{i:03d}_{src}", img, None))
    return out


def save_pngs(samples, directory):
    """Writes the samples as PNGs (sorted by their names, as qconvert reads a directory)."""
    os.makedirs(directory, exist_ok=True)
    for s in samples:
        Image.fromarray(s.pixels).save(os.path.join(directory, s.name + ".png"))
    return directory
