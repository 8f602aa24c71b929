"""Shared by the report_visual tests: runs report_visual_tool into a temp dir
and collects failures."""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def write_reports(tool):
    """Runs `tool OUTDIR`; returns OUTDIR (quant, compare, unlabeled .html/.png)."""
    out = tempfile.mkdtemp(prefix="qc_report_visual_")
    if not os.environ.get("QC_KEEP_REPORTS"):  # set it to look at the files
        atexit.register(shutil.rmtree, out, True)
    else:
        print("reports in", out)
    p = subprocess.run([tool, out], capture_output=True, text=True)
    if p.returncode != 0:
        print("report_visual_tool failed:", p.returncode, p.stderr)
        sys.exit(1)
    return out


def finish(name):
    if failures:
        print(f"{name}: {len(failures)} failure(s)")
        sys.exit(1)
    print(f"{name}: ok")


def path(outdir, stem, ext):
    return os.path.join(outdir, stem + ext)
