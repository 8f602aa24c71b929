#!/usr/bin/env python3
"""Every op the docs name as quantized is in the op registry (src/ops/registry.c):
the ops column of the placement table in docs/quantization.md (calibration runs
those ops in the engine, so each must have a kernel). docs/opset-upgrade.md is
not checked: it also rewrites ops the engine refuses afterwards. argv[1]:
test_registry, whose --list prints the registry rows."""
import os
import re
import subprocess
import sys

from qc_test import SRC, check, finish

OP_NAME = re.compile(r"\b[A-Z][A-Za-z]*\b")


def registered_ops(tool):
    out = subprocess.run([tool, "--list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def table_column(doc, header, column):
    """The cells of `column` in the markdown table whose header row starts with `header`."""
    cells, in_table = [], False
    with open(os.path.join(SRC, "docs", doc)) as f:
        for line in f:
            row = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("|") and row[0] == header:
                in_table = True
                continue
            if in_table and not line.startswith("|"):
                break
            if in_table and not set(row[0]) <= set("-: "):
                cells.append(row[column])
    return cells


def documented_ops(doc, header, column):
    """Op names (capitalised words) in one table column, with the cell they come from."""
    cells = table_column(doc, header, column)
    check(cells, f"{doc}: the table starting with '{header}' has rows")
    return [(name, cell) for cell in cells for name in OP_NAME.findall(cell)]


registry = registered_ops(sys.argv[1])
check(len(registry) > 100, f"the registry lists {len(registry)} ops")
for name, cell in documented_ops("quantization.md", "class", 1):
    check(name in registry, f"quantization.md: {name} is registered", f"(from '{cell[:60]}')")
finish("registry_docs")
