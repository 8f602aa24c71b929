"""The .html report renders in headless Chromium: the screenshot is not blank
(many colours, mostly but not all white/grey) and shows the chart colours
(layer SQNR red/amber/green bars, FP32/INT8 size bars, best-observer green).
Skipped (exit 77) without Chromium. argv[1]: report_visual_tool."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

from common import path, write_reports
from qc_test import check, finish

TOOL = sys.argv[1]
# Colours from report_html*.c.
SIZE_FP32, SIZE_INT8 = (0x8d, 0xa0, 0xb8), (0xe0, 0x7b, 0x39)
LAYER_RED, LAYER_AMBER, LAYER_GREEN = (0xd6, 0x45, 0x45), (0xe0, 0xa0, 0x30), (0x3b, 0x9b, 0x58)
BEST = (0x2e, 0x9e, 0x57)


def find_chromium():
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def screenshot(chromium, html, png, height):
    profile = tempfile.mkdtemp(prefix="qc_chromium_")
    try:
        p = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--screenshot={png}", f"--window-size=1200,{height}", "file://" + html],
            capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if not os.path.exists(png):
        print("chromium wrote no screenshot:", p.returncode, p.stderr[-2000:])
        return None
    return np.asarray(Image.open(png).convert("RGB"))


def colour_histogram(px):
    """Distinct colours (n x 3, int) and how many pixels have each."""
    flat = px.reshape(-1, 3).astype(np.uint32)
    keys, counts = np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2], return_counts=True)
    rgb = np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1).astype(int)
    return rgb, counts


def pixels_near(hist, color, tol=6):
    rgb, counts = hist
    return int(counts[np.abs(rgb - np.array(color)).max(axis=1) <= tol].sum())


def main():
    chromium = find_chromium()
    if not chromium:
        print("SKIP: chromium not installed")
        sys.exit(77)
    out = write_reports(TOOL)
    expected = {
        "quant": [SIZE_FP32, SIZE_INT8, LAYER_RED, LAYER_AMBER, LAYER_GREEN],
        "compare": [SIZE_FP32, SIZE_INT8, LAYER_RED, BEST],
        "unlabeled": [SIZE_FP32, SIZE_INT8],
    }
    for stem, colours in expected.items():
        px = screenshot(chromium, path(out, stem, ".html"), path(out, stem, ".shot.png"), 5000)
        if not check(px is not None, f"{stem}.html: chromium screenshot"):
            continue
        hist = colour_histogram(px)
        rgb, counts = hist
        light = counts[rgb.min(axis=1) >= 235].sum() / counts.sum()
        check(len(counts) > 200, f"{stem}.html: rendered page has many colours ({len(counts)})")
        check(0.4 < light < 0.98, f"{stem}.html: mostly light background, not blank ({light:.2f})")
        check(counts[rgb.max(axis=1) < 80].sum() > 5000, f"{stem}.html: dark text rendered")
        for c in colours:
            n = pixels_near(hist, c)
            check(n > 300, f"{stem}.html: chart colour #{c[0]:02x}{c[1]:02x}{c[2]:02x} rendered ({n} px)")
    finish("test_report_html_render")


main()
