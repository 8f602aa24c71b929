#!/usr/bin/env python3
"""The shared library exports the public API of qconvert.h and nothing else:
`nm -D --defined-only libqconvert.so` lists only qconvert_* symbols, and every
function the header declares is among them. Exit 77 (skip) without nm."""
import os
import re
import shutil
import subprocess
import sys

lib = sys.argv[1]
header = os.path.join(os.environ["QC_SOURCE_ROOT"], "src", "qconvert.h")
nm = shutil.which("nm")
if not nm:
    print("skip: nm not found")
    sys.exit(77)
out = subprocess.run([nm, "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
exported = sorted({line.split()[-1] for line in out.splitlines() if line.strip()})
declared = sorted(set(re.findall(r"\b(qconvert_[a-z_]+)\s*\(", open(header).read())))
others = [s for s in exported if not s.startswith("qconvert_")]
missing = [s for s in declared if s not in exported]
print("%d exported symbols, %d declared in qconvert.h" % (len(exported), len(declared)))
for s in others[:20]:
    print("FAIL exported but not public: %s" % s)
if len(others) > 20:
    print("FAIL ... and %d more" % (len(others) - 20))
for s in missing:
    print("FAIL declared in qconvert.h but not exported: %s" % s)
print("ok   exports: %s" % ", ".join(exported) if not others and not missing else "")
sys.exit(1 if others or missing else 0)
