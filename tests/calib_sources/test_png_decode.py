"""PNG decoding: every colour type and bit depth, tRNS, interlacing, and
clean errors for corrupt files. References come from the raw sample values
(numpy), and from PIL for 8-bit files PIL writes itself."""
import os
import struct
import zlib

import warnings

import numpy as np
from PIL import Image

warnings.simplefilter("ignore")

from calib_util import PREPROCESS_TOOL, write_png
from qc_test import check, finish, mkdtemp, run

rng = np.random.default_rng(1)
d = mkdtemp("qc_calib_")
H, W = 13, 17  # odd sizes exercise partial bytes for 1/2/4-bit rows


def decode(path):
    out = path + ".npy"
    rc, _, err = run(PREPROCESS_TOOL, "decode", path, out)
    if rc != 0:
        return None, err
    return np.load(out), err


def scale16(v):
    return np.floor(v.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)


def expect_equal(name, got, want):
    if got is None:
        check(False, f"{name}: decode failed")
        return
    ok = got.shape == want.shape and np.array_equal(got, want)
    if not ok and got.shape == want.shape:
        print(f"  {name}: max diff {np.abs(got.astype(int) - want.astype(int)).max()}")
    check(ok, f"{name}: shape {got.shape} vs {want.shape}")


# Gray 1/2/4/8/16 bit: low depths scale by 255/(2^b-1), 16-bit rounds.
for bits in (1, 2, 4, 8, 16):
    v = rng.integers(0, 1 << bits, (H, W))
    p = os.path.join(d, f"gray{bits}.png")
    write_png(p, v, 0, bits)
    want = scale16(v) if bits == 16 else (v * (255 // ((1 << bits) - 1))).astype(np.uint8)
    got, _ = decode(p)
    expect_equal(f"gray {bits}-bit", got, want[..., None])

# Gray with tRNS gains an alpha channel: 0 where the sample equals the key.
for bits in (4, 8, 16):
    v = rng.integers(0, 1 << bits, (H, W))
    key = int(v[3, 5])
    p = os.path.join(d, f"gray_trns{bits}.png")
    write_png(p, v, 0, bits, trns=struct.pack(">H", key))
    g = scale16(v) if bits == 16 else (v * (255 // ((1 << bits) - 1))).astype(np.uint8)
    want = np.stack([g, np.where(v == key, 0, 255).astype(np.uint8)], -1)
    got, _ = decode(p)
    expect_equal(f"gray+tRNS {bits}-bit", got, want)

# Gray+alpha, RGB, RGBA at 8 and 16 bits.
for ct, ch in ((4, 2), (2, 3), (6, 4)):
    for bits in (8, 16):
        v = rng.integers(0, 1 << bits, (H, W, ch))
        v[0, 0] = 0
        v[0, 1] = (1 << bits) - 1
        p = os.path.join(d, f"ct{ct}_{bits}.png")
        write_png(p, v, ct, bits)
        want = scale16(v) if bits == 16 else v.astype(np.uint8)
        got, _ = decode(p)
        expect_equal(f"colour type {ct} {bits}-bit", got, want)

# Every 16-bit value must map to round(v*255/65535) (png_set_scale_16).
v = np.arange(65536).reshape(256, 256)
p = os.path.join(d, "gray16_all.png")
write_png(p, v, 0, 16)
got, _ = decode(p)
expect_equal("16-bit exhaustive scaling", got, scale16(v)[..., None])

# RGB with tRNS -> RGBA.
for bits in (8, 16):
    v = rng.integers(0, 4, (H, W, 3)) * ((1 << bits) - 1) // 3
    key = v[2, 2].copy()
    p = os.path.join(d, f"rgb_trns{bits}.png")
    write_png(p, v, 2, bits, trns=struct.pack(">HHH", *map(int, key)))
    rgb = scale16(v) if bits == 16 else v.astype(np.uint8)
    alpha = np.where((v == key).all(-1), 0, 255).astype(np.uint8)
    got, _ = decode(p)
    expect_equal(f"rgb+tRNS {bits}-bit", got, np.concatenate([rgb, alpha[..., None]], -1))

# Palette 1/2/4/8 bit, with and without tRNS (shorter than the palette).
for bits in (1, 2, 4, 8):
    n = 1 << bits
    pal = rng.integers(0, 256, (n, 3))
    idx = rng.integers(0, n, (H, W))
    p = os.path.join(d, f"pal{bits}.png")
    write_png(p, idx, 3, bits, palette=pal)
    got, _ = decode(p)
    expect_equal(f"palette {bits}-bit", got, pal[idx].astype(np.uint8))
    alpha = rng.integers(0, 256, max(1, n // 2))
    full_alpha = np.full(n, 255)
    full_alpha[: len(alpha)] = alpha
    p = os.path.join(d, f"pal{bits}_trns.png")
    write_png(p, idx, 3, bits, palette=pal, trns=alpha.astype(np.uint8).tobytes())
    got, _ = decode(p)
    want = np.concatenate([pal[idx], full_alpha[idx][..., None]], -1).astype(np.uint8)
    expect_equal(f"palette {bits}-bit + tRNS", got, want)

# Adam7 interlacing.
for ct, ch, bits in ((2, 3, 8), (0, 1, 2), (6, 4, 16)):
    v = rng.integers(0, 1 << bits, (H, W, ch) if ch > 1 else (H, W))
    p = os.path.join(d, f"interlaced_{ct}_{bits}.png")
    write_png(p, v, ct, bits, interlace=True)
    want = scale16(v) if bits == 16 else (v * (255 // ((1 << bits) - 1))).astype(np.uint8)
    got, _ = decode(p)
    expect_equal(f"interlaced type {ct} {bits}-bit", got, want.reshape(H, W, ch))

# 8-bit files written by PIL decode to exactly what PIL reads back.
src = np.asarray(Image.open("/usr/lib/python3/dist-packages/skimage/data/astronaut.png").convert("RGBA"))[:60, :50]
for mode in ("L", "LA", "RGB", "RGBA", "P"):
    im = Image.fromarray(src, "RGBA").convert(mode)
    p = os.path.join(d, f"pil_{mode}.png")
    im.save(p)
    back = Image.open(p)
    if mode == "P":  # palette -> RGB, or RGBA when PIL stored a tRNS chunk
        back = back.convert("RGBA" if "transparency" in back.info else "RGB")
    ref = np.asarray(back)
    got, _ = decode(p)
    expect_equal(f"PIL-written {mode}", got, ref.reshape(ref.shape[0], ref.shape[1], -1))

# Corrupt inputs: a clean error naming the file, exit code 2, no crash.
good = write_png(os.path.join(d, "good.png"), rng.integers(0, 256, (64, 64, 3)), 2, 8)
idat = good.index(b"IDAT")
cases = {
    "empty.png": b"",
    "garbage.png": b"this is not a png at all" * 10,
    "signature_only.png": good[:8],
    "truncated_header.png": good[:20],
    "truncated_idat.png": good[: idat + 40],
    "bad_crc.png": good[: idat + 10] + bytes([good[idat + 10] ^ 0xFF]) + good[idat + 11:],
    "bad_zlib.png": None,
    "huge.png": b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 40000, 10, 8, 2, 0, 0, 0)
    + struct.pack(">I", zlib.crc32(b"IHDR" + struct.pack(">IIBBBBB", 40000, 10, 8, 2, 0, 0, 0)))
    + good[33:],
}
bad = zlib.compress(b"\x00" * 10)[:-4] + b"\xff\xff\xff\xff\xff\xff"
body = struct.pack(">I", len(bad)) + b"IDAT" + bad
cases["bad_zlib.png"] = good[: idat - 4] + body + struct.pack(">I", zlib.crc32(b"IDAT" + bad)) + good[-12:]
for name, data in cases.items():
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    rc, _, err = run(PREPROCESS_TOOL, "decode", p, p + ".npy")
    check(rc == 2 and name in err and "error:" in err and len(err.strip().splitlines()) == 1,
          f"corrupt {name}: rc={rc} err={err.strip()!r}")
    print(f"  {name}: {err.strip()}")

finish("test_png_decode")
