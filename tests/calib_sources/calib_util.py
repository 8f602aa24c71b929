"""Domain helpers for the calib_sources tests: the helper tools meson passes
(argv[1], argv[2]) and a tiny PNG writer (zlib + struct) that covers every
colour type and bit depth. The harness is tests/lib/qc_test.py."""
import os
import struct
import sys
import zlib

import numpy as np

PREPROCESS_TOOL = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PREPROCESS_TOOL")
SOURCE_TOOL = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("SOURCE_TOOL")


def _chunk(tag, data):
    c = struct.pack(">I", len(data)) + tag + data
    return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _pack_rows(samples, bit_depth):
    """samples: HxWxC (or HxW) integer array -> filtered scanlines (filter 0)."""
    s = samples.reshape(samples.shape[0], -1)
    rows = []
    for row in s:
        if bit_depth == 16:
            data = row.astype(">u2").tobytes()
        elif bit_depth == 8:
            data = row.astype(np.uint8).tobytes()
        else:
            per = 8 // bit_depth
            padded = np.zeros(((len(row) + per - 1) // per) * per, dtype=np.uint8)
            padded[: len(row)] = row
            g = padded.reshape(-1, per)
            b = np.zeros(len(g), dtype=np.uint16)
            for i in range(per):
                b = (b << bit_depth) | g[:, i]
            data = b.astype(np.uint8).tobytes()
        rows.append(b"\x00" + data)
    return b"".join(rows)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, samples, color_type, bit_depth, palette=None, trns=None, interlace=False):
    """samples: HxW (gray/palette) or HxWxC raw sample values at bit_depth."""
    samples = np.asarray(samples)
    h, w = samples.shape[:2]
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += _pack_rows(sub, bit_depth)
    else:
        raw = _pack_rows(samples, bit_depth)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    if palette is not None:
        out += _chunk(b"PLTE", np.asarray(palette, dtype=np.uint8).tobytes())
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    out += _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)
    return out
