#!/usr/bin/env python3
"""Fails when a source file in src/ or calib/ includes a header of a higher
layer. Layers, lowest first (one line each; a line with several directories
is one layer, whose parts may include each other):

    core < io < ir < ops < engine < {calib, quant} < passes < eval < report
         < pipeline < {cli, api}

The generated onnx.pb-c.h belongs to io. System headers (<...>) are not
checked. An include that resolves to no known file is an error too, so a
renamed header cannot slip past the check.

    check_layers.py [SOURCE_ROOT]      (default: the repository holding this script)
"""
import os
import re
import sys

LAYERS = [
    ["src/core"],
    ["src/io"],
    ["src/ir"],
    ["src/ops"],
    ["src/engine"],
    ["calib", "src/quant"],
    ["src/passes"],
    ["src/eval"],
    ["src/report"],
    ["src/pipeline"],
    ["src/cli", "src/api.c", "src/qconvert.h"],
]
GENERATED = {"onnx.pb-c.h": "src/io"}  # made at build time from onnx.proto
INCLUDE_DIRS = ["src", "calib"]  # the project's include path (meson.build: inc)
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    """Rank of a repository-relative path, or None when it is in no layer."""
    for rank, parts in enumerate(LAYERS):
        for part in parts:
            if rel == part or rel.startswith(part + "/"):
                return rank
    return None


def resolve(root, src_rel, name):
    """The repository-relative path an include names, as the compiler finds it."""
    if name in GENERATED:
        return GENERATED[name] + "/" + name
    for base in [os.path.dirname(src_rel)] + INCLUDE_DIRS:
        rel = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, rel)):
            return rel
    return None


def sources(root):
    for top in ("src", "calib"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def check(root):
    """(problems, files checked)."""
    problems, n = [], 0
    for rel in sorted(sources(root)):
        n += 1
        own = layer_of(rel)
        if own is None:
            problems.append("%s: in no layer (add its directory to LAYERS in tools/check_layers.py)" % rel)
            continue
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        for m in INCLUDE_RE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            target = resolve(root, rel, m.group(1))
            if target is None:
                problems.append('%s:%d: #include "%s" resolves to no file' % (rel, line, m.group(1)))
                continue
            rank = layer_of(target)
            if rank is None:
                problems.append('%s:%d: #include "%s" is in no layer' % (rel, line, m.group(1)))
            elif rank > own:
                problems.append('%s:%d: #include "%s": %s (layer %d) must not include %s (layer %d)'
                                % (rel, line, m.group(1), "/".join(LAYERS[own]), own,
                                   "/".join(LAYERS[rank]), rank))
    return problems, n


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems, n = check(root)
    for p in problems:
        print(p)
    print("%d files checked, %d upward or unknown include%s" % (n, len(problems), "" if len(problems) == 1 else "s"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
