"""The .png report: decodes with PIL as a 900x600 RGB image that is not
blank; the size chart has an FP32 and an INT8 bar whose heights are in the
ratio of the model sizes; the compare chart has one bar per observer (the
best in its own colour, heights in the ratio of top-1) and a dashed FP32
line; bytes are identical across runs. argv[1]: report_visual_tool."""
import struct
import sys

import numpy as np
from PIL import Image

from common import check_rerun_identical, path, write_reports
from qc_test import check, finish

TOOL = sys.argv[1]
# Colours from src/report/report_png.c.
FP32_BAR, INT8_BAR = (141, 160, 184), (224, 123, 57)
OBS_BAR, BEST_BAR, INK = (109, 143, 191), (46, 158, 87), (29, 36, 48)
PLOT_TOP = 110  # legend swatches sit above this row


def load(file):
    im = Image.open(file)
    im.load()
    return im


def mask(px, color):
    return np.all(px == np.array(color, dtype=np.uint8), axis=2)


def bars(px, color):
    """Column runs of `color` below the legend: [(x0, x1, top, bottom)]."""
    m = mask(px, color)
    m[:PLOT_TOP] = False
    cols = np.where(m.sum(axis=0) > 0)[0]
    runs = []
    for x in cols:
        if runs and x == runs[-1][1] + 1:
            runs[-1][1] = x
        else:
            runs.append([x, x])
    out = []
    for x0, x1 in runs:
        ys = np.where(m[:, x0:x1 + 1].any(axis=1))[0]
        out.append((x0, x1, ys.min(), ys.max()))
    return [b for b in out if b[1] - b[0] >= 20]  # ignore stray pixels


def chunk_types(file):
    data = open(file, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{file}: PNG signature")
    pos, types = 8, []
    while pos + 8 <= len(data):
        n, t = struct.unpack(">I4s", data[pos:pos + 8])
        types.append(t.decode("latin-1"))
        pos += 12 + n
    return types


def check_common(file):
    im = load(file)
    check(im.size == (900, 600), f"{file}: 900x600 ({im.size})")
    check(im.mode == "RGB", f"{file}: mode RGB ({im.mode})")
    px = np.asarray(im.convert("RGB"))
    colours = len(np.unique(px.reshape(-1, 3), axis=0))
    white = mask(px, (255, 255, 255)).mean()
    check(colours >= 6, f"{file}: several colours ({colours})")
    check(0.3 < white < 0.97, f"{file}: not blank, not solid ({white:.2f} white)")
    check(mask(px, INK).sum() > 2000, f"{file}: has text (ink pixels {mask(px, INK).sum()})")
    types = chunk_types(file)
    check("tIME" not in types and types[-1] == "IEND", f"{file}: no time chunk, ends with IEND")
    return px


def height(b, bottom):
    return bottom - b[2]


def main():
    out = write_reports(TOOL)
    for stem in ["quant", "unlabeled"]:
        px = check_common(path(out, stem, ".png"))
        fp32, int8 = bars(px, FP32_BAR), bars(px, INT8_BAR)
        if check(len(fp32) == 1 and len(int8) == 1, f"{stem}.png: one FP32 and one INT8 bar"):
            bottom = max(fp32[0][3], int8[0][3]) + 1
            check(fp32[0][3] == int8[0][3], f"{stem}.png: bars share a baseline")
            ratio = height(fp32[0], bottom) / height(int8[0], bottom)
            check(abs(ratio - 14025000 / 3523072) < 0.08,
                  f"{stem}.png: bar heights in the size ratio ({ratio:.3f} vs 3.981)")
            check(fp32[0][1] < int8[0][0], f"{stem}.png: FP32 bar left of INT8")
        check(not bars(px, BEST_BAR), f"{stem}.png: no compare bars without compare entries")

    px = check_common(path(out, "compare", ".png"))
    obs, best = bars(px, OBS_BAR), bars(px, BEST_BAR)
    check(len(obs) == 4 and len(best) == 1, f"compare.png: 4 observer bars + 1 best ({len(obs)}, {len(best)})")
    if len(obs) == 4 and len(best) == 1:
        allbars = sorted(obs + best)
        check(allbars[2] == best[0], "compare.png: the best (percentile) is the middle bar")
        bottom = allbars[0][3] + 1
        top1 = [87.4, 88.9, 90.8, 90.3, 90.5]
        per_pct = [height(b, bottom) / v for b, v in zip(allbars, top1)]
        check(max(per_pct) - min(per_pct) < 0.05 * max(per_pct),
              f"compare.png: heights proportional to top-1 ({[round(p, 3) for p in per_pct]})")
        # Dashed FP32 line (91.6%) just above the tallest bar: a row of ink with gaps.
        y_line = bottom - round(91.6 * sum(per_pct) / len(per_pct))
        rows = [mask(px, INK)[y, allbars[0][0]:allbars[-1][1]] for y in range(y_line - 4, y_line + 4)]
        dashed = [r for r in rows if 0.3 < r.mean() < 0.7]
        check(dashed, f"compare.png: dashed FP32 line near y={y_line}")

    check_rerun_identical(TOOL, out, ".png")
    finish("test_report_png")


main()
