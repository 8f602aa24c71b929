"""Domain helpers for the report_visual tests: runs report_visual_tool into a
temp dir (QC_KEEP_TMP=1 keeps it to look at the files). The harness is
tests/lib/qc_test.py."""
import os
import subprocess
import sys

import qc_test as T


def write_reports(tool):
    """Runs `tool OUTDIR`; returns OUTDIR (quant, compare, unlabeled .html/.png)."""
    out = T.mkdtemp("qc_report_visual_")
    p = subprocess.run([tool, out], capture_output=True, text=True)
    if p.returncode != 0:
        print("report_visual_tool failed:", p.returncode, p.stderr)
        sys.exit(1)
    return out


def check_rerun_identical(tool, outdir, ext):
    """Deterministic: a second run of the tool writes the same bytes for every report."""
    again = write_reports(tool)
    for stem in ["quant", "compare", "unlabeled"]:
        same = T.file_bytes(path(outdir, stem, ext)) == T.file_bytes(path(again, stem, ext))
        T.check(same, f"{stem}{ext}: identical across runs")


def path(outdir, stem, ext):
    return os.path.join(outdir, stem + ext)
