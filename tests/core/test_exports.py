#!/usr/bin/env python3
"""The shared library exports the public API of qconvert.h and nothing else:
`nm -D --defined-only libqconvert.so` lists only qconvert_* symbols, and every
function the header declares is among them. Exit 77 (skip) without nm."""
import os
import re
import shutil
import subprocess
import sys

from qc_test import check, finish, skip

lib = sys.argv[1]
header = os.path.join(os.environ["QC_SOURCE_ROOT"], "src", "qconvert.h")
nm = shutil.which("nm")
if not nm:
    skip("nm not found")
out = subprocess.run([nm, "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
exported = sorted({line.split()[-1] for line in out.splitlines() if line.strip()})
declared = sorted(set(re.findall(r"\b(qconvert_[a-z_]+)\s*\(", open(header).read())))
others = [s for s in exported if not s.startswith("qconvert_")]
print("%d exported symbols, %d declared in qconvert.h" % (len(exported), len(declared)))
check(not others, "only qconvert_* symbols are exported",
      ", ".join(others[:20]) + (" ... and %d more" % (len(others) - 20) if len(others) > 20 else ""))
for s in declared:
    check(s in exported, "declared in qconvert.h and exported: %s" % s)
finish("exports")
