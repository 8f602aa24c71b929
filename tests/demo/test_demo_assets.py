#!/usr/bin/python3
"""Checks for the committed demo assets and the demo tools.

    test_demo_assets.py models  IDX2PNG   # ONNX validity + idx2png PNG round trip
    test_demo_assets.py ort               # ORT accuracy vs demo/*.json (needs .deps/node)

Exit 0 = pass, 1 = fail, 77 = skipped (meson's skip code).
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx

import qc_test as T
from qc_test import DEMO, check, read_idx

DATA = T.FMNIST
MODELS = ["fmnist_cnn", "fmnist_resnet", "fmnist_dwnet"]


def load_meta(name):
    with open(os.path.join(DEMO, name + ".json")) as f:
        return json.load(f)


def test_models():
    for name in MODELS:
        path = os.path.join(DEMO, name + ".onnx")
        m = onnx.load(path)
        ok, err = T.checker_ok(m)
        check(ok, f"{name}: onnx.checker full_check", err)
        ops = {n.op_type for n in m.graph.node}
        opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
        meta = load_meta(name)
        check("BatchNormalization" in ops, f"{name}: keeps BatchNormalization")
        check(opset in (13, 14) and opset == meta["opset"],
              f"{name}: opset {opset} (json says {meta['opset']})")
        check(os.path.getsize(path) < 2_000_000, f"{name}: under 2 MB")
        inp = m.graph.input[0]
        dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
        check(inp.name == "input" and dims == ["N", 1, 28, 28], f"{name}: input {inp.name} {dims}")
        check(m.graph.output[0].name == "logits", f"{name}: output logits")
        check(meta["test_accuracy"] > 0.85, f"{name}: recorded accuracy {meta['test_accuracy']}")
    check("Add" in {n.op_type for n in onnx.load(os.path.join(DEMO, "fmnist_resnet.onnx")).graph.node},
          "fmnist_resnet: has residual Add")
    check("HardSwish" in {n.op_type for n in onnx.load(os.path.join(DEMO, "fmnist_dwnet.onnx")).graph.node},
          "fmnist_dwnet: has HardSwish")


def test_idx2png(exe):
    from PIL import Image

    imgs = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    labels = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    with T.tempdir("qc_demo_") as tmp:
        out = os.path.join(tmp, "flat", "sub")  # parents are created
        r = subprocess.run([exe, f"{DATA}/t10k-images-idx3-ubyte.gz", out,
                            "--count", "20", "--start", "9990"], capture_output=True, text=True)
        check(r.returncode == 0, f"idx2png flat: rc {r.returncode} {r.stderr.strip()}")
        files = sorted(os.listdir(out)) if os.path.isdir(out) else []
        check(files == [f"{i:06d}.png" for i in range(9990, 10000)],
              f"idx2png flat: clamped to 10 files ({len(files)})")
        ok = all(np.array_equal(np.asarray(Image.open(os.path.join(out, f))), imgs[int(f[:6])])
                 and Image.open(os.path.join(out, f)).mode == "L" for f in files)
        check(ok and files, "idx2png flat: PNG pixels == IDX pixels (8-bit gray)")

        out = os.path.join(tmp, "cls")
        r = subprocess.run([exe, f"{DATA}/t10k-images-idx3-ubyte.gz",
                            f"{DATA}/t10k-labels-idx1-ubyte.gz", out, "--count", "100", "--by-class"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"idx2png by-class: rc {r.returncode} {r.stderr.strip()}")
        seen, ok = 0, True
        for lab in sorted(os.listdir(out)) if os.path.isdir(out) else []:
            for f in os.listdir(os.path.join(out, lab)):
                i = int(f[:6])
                px = np.asarray(Image.open(os.path.join(out, lab, f)))
                ok &= int(lab) == labels[i] and np.array_equal(px, imgs[i])
                seen += 1
        check(ok and seen == 100, f"idx2png by-class: {seen} PNGs in label folders, pixels exact")

        # Robust errors: one line on stderr, exit 2.
        bad = os.path.join(tmp, "bad.idx")
        with open(bad, "wb") as f:
            f.write(b"\x12\x34\x08\x03" + b"\0" * 64)
        trunc = os.path.join(tmp, "trunc.idx")
        with open(trunc, "wb") as f:
            f.write(b"\0\0\x08\x03" + (100).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
                    + b"\0" * 1000)
        truncgz = os.path.join(tmp, "trunc.gz")
        with open(f"{DATA}/t10k-images-idx3-ubyte.gz", "rb") as f, open(truncgz, "wb") as g:
            g.write(f.read(5000))
        for label, args in [("bad magic", [bad, tmp + "/e"]),
                            ("truncated data", [trunc, tmp + "/e"]),
                            ("truncated gzip", [truncgz, tmp + "/e"]),
                            ("missing file", [tmp + "/nope", tmp + "/e"]),
                            ("label/image mismatch", [f"{DATA}/t10k-images-idx3-ubyte.gz",
                                                      f"{DATA}/train-labels-idx1-ubyte.gz", tmp + "/e"])]:
            r = subprocess.run([exe] + args, capture_output=True, text=True)
            check(r.returncode == 2 and r.stderr.count("\n") == 1,
                  f"idx2png {label}: exit {r.returncode}, {r.stderr.strip()!r}")


def test_ort():
    T.require_ort()
    imgs = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    labels = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    with T.tempdir("qc_demo_") as tmp:
        for name in MODELS:
            meta = load_meta(name)
            n = meta["subset"]
            x = os.path.join(tmp, "x.npy")
            # Same preprocessing as training: pixel/255, NCHW.
            np.save(x, (imgs[:n].astype(np.float32) / 255.0)[:, None])
            out = os.path.join(tmp, name)
            try:
                outs, info = T.ort_run(os.path.join(DEMO, name + ".onnx"), {"input": x}, out)
            except RuntimeError as e:
                check(False, f"{name}: {e}")
                continue
            logits = outs[0]
            acc = float((logits.argmax(1) == labels[:n]).mean())
            check(info["outputs"] == ["logits"] and logits.shape == (n, 10),
                  f"{name}: ORT output {info['outputs']} {logits.shape}")
            check(abs(acc - meta["subset_accuracy"]) <= 0.02,
                  f"{name}: ORT top-1 {acc:.4f} on first {n}, torch {meta['subset_accuracy']:.4f}")


def main():
    part = sys.argv[1] if len(sys.argv) > 1 else ""
    if part == "models" and len(sys.argv) == 3:
        test_models()
        test_idx2png(sys.argv[2])
    elif part == "ort":
        test_ort()
    else:
        sys.exit(__doc__)
    T.finish("demo_" + part)


if __name__ == "__main__":
    main()
