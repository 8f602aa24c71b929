#!/usr/bin/python3
"""tools/ort_run.mjs batch mode (--inputs-list), which the real-model accuracy suite uses to run
many samples in one onnxruntime process.

  * the demo CNN on 4 inputs listed with a comment, a blank line, relative and absolute paths:
    DIR/<k>/output_0.npy equals, bit for bit, a separate `--input` run per sample, and the JSON
    line says "samples": 4;
  * a two-input Add model built here: tab-separated inputs per line, outputs equal numpy's a + b;
  * errors: --input with --inputs-list, a line without NAME=, an input the model lacks (the
    message names the sample), a list with no samples; usage errors exit 2 before any output.
"""
import json
import os
import shutil
import subprocess

import numpy as np
import onnx
from onnx import TensorProto, helper

import qc_test as T


def run(*args):
    return subprocess.run(["node", T.ORT_RUN, *map(str, args)], capture_output=True, text=True)


def main():
    T.require_ort()
    cnn = os.path.join(T.DEMO, "fmnist_cnn.onnx")
    rng = np.random.default_rng(7)
    with T.tempdir("qc_e2e_ortbatch_") as tmp:
        xs = [rng.random((1, 1, 28, 28), dtype=np.float32) for _ in range(4)]
        for k, x in enumerate(xs):
            np.save(os.path.join(tmp, f"x{k}.npy"), x)
        listing = os.path.join(tmp, "list.txt")
        with open(listing, "w") as f:  # relative (to the list's directory) and absolute paths
            f.write("# samples\ninput=x0.npy\n\ninput=" + os.path.join(tmp, "x1.npy") +
                    "\ninput=x2.npy\ninput=x3.npy\n")
        r = run(cnn, "--inputs-list", listing, "--output-dir", os.path.join(tmp, "batch"))
        if not T.check(r.returncode == 0, f"batch run of the demo CNN: rc {r.returncode} {r.stderr.strip()}"):
            T.finish()
        info = json.loads(r.stdout.strip().splitlines()[-1])
        T.check(info.get("samples") == 4 and info["outputs"] == ["logits"], f"JSON line {info}")
        for k in range(4):
            one = os.path.join(tmp, f"one{k}")
            r1 = run(cnn, "--input", f"input={tmp}/x{k}.npy", "--output-dir", one)
            a = np.load(os.path.join(one, "output_0.npy")) if r1.returncode == 0 else None
            b = np.load(os.path.join(tmp, "batch", str(k), "output_0.npy"))
            T.check(a is not None and a.tobytes() == b.tobytes() and a.shape == b.shape,
                    f"sample {k}: batch output equals a run of its own")

        a, b = rng.random((2, 3), dtype=np.float32), rng.random((2, 3), dtype=np.float32)
        add = helper.make_model(helper.make_graph(
            [helper.make_node("Add", ["a", "b"], ["y"])], "add",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("a", "b")],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])]),
            opset_imports=[helper.make_opsetid("", 13)])
        add_path = os.path.join(tmp, "add.onnx")
        onnx.save(add, add_path)
        np.save(os.path.join(tmp, "a.npy"), a)
        np.save(os.path.join(tmp, "b.npy"), b)
        two = os.path.join(tmp, "two.txt")
        with open(two, "w") as f:
            f.write("b=b.npy\ta=a.npy\na=b.npy\tb=b.npy\n")
        r = run(add_path, "--inputs-list", two, "--output-dir", os.path.join(tmp, "add"))
        ok = r.returncode == 0
        T.check(ok and np.array_equal(np.load(os.path.join(tmp, "add", "0", "output_0.npy")), a + b)
                and np.array_equal(np.load(os.path.join(tmp, "add", "1", "output_0.npy")), b + b),
                f"two inputs per line, tab-separated: outputs are a + b and b + b ({r.stderr.strip()})")

        def bad(content, expect_rc, expect_text, *extra):
            path = os.path.join(tmp, "bad.txt")
            with open(path, "w") as f:
                f.write(content)
            out = os.path.join(tmp, "bad_out")
            shutil.rmtree(out, ignore_errors=True)
            r = run(cnn, "--inputs-list", path, "--output-dir", out, *extra)
            err = r.stderr.strip()
            T.check(r.returncode == expect_rc and expect_text in err and len(err.splitlines()) == 1
                    and not os.path.exists(out),
                    f"{content.strip()!r} {' '.join(extra)}: rc {r.returncode} (want {expect_rc}), "
                    f"one line naming {expect_text!r}, no output: {err!r}")

        bad("input=x0.npy\n", 2, "cannot be combined", "--input", f"input={tmp}/x0.npy")
        bad("input=x0.npy\nx1.npy\n", 2, "bad.txt:2: expected NAME=FILE.npy")
        bad("input=x0.npy\nimage=x1.npy\n", 1, "sample 1: model has no input 'image'")
        bad("# nothing\n\n", 2, "bad.txt: no samples")
    T.finish()


if __name__ == "__main__":
    main()
