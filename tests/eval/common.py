"""Domain helpers for the tests/eval suite (evaluation, per-layer SQNR, compare);
the harness is tests/lib/qc_test.py.

The reference side is independent of qconvert: images are read back with PIL,
divided by 255 in numpy and run in onnxruntime (tools/ort_run.mjs); metrics are
computed with numpy from those outputs.
"""
import os
import shutil
import subprocess
import sys

import numpy as np

import qc_test as T

# meson passes the idx2png path as the first argument.
IDX2PNG = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("QC_IDX2PNG", os.path.join(T.BUILD, "tools", "idx2png"))
CNN = os.path.join(T.DEMO, "fmnist_cnn.onnx")


def qc(*args, expect=0, what=None):
    """Runs qconvert; returns the CompletedProcess. Checks the exit code when expect is not None."""
    p = T.qconvert(*args, check_rc=False, timeout=None)
    if expect is not None:
        ok = p.returncode == expect
        T.check(ok, f"{what or ' '.join(map(str, p.args))}: exit {p.returncode} (expected {expect})" +
                ("" if ok else f"\nstdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}"))
    return p


def export_labeled(outdir, count, split="t10k"):
    """Exports `count` Fashion-MNIST images into outdir/<class>/ with idx2png --by-class."""
    subprocess.run([IDX2PNG, f"{T.FMNIST}/{split}-images-idx3-ubyte.gz", f"{T.FMNIST}/{split}-labels-idx1-ubyte.gz",
                    outdir, "--by-class", "--count", str(count)], check=True, capture_output=True)
    return outdir


def export_flat(outdir, count, split="train"):
    subprocess.run([IDX2PNG, f"{T.FMNIST}/{split}-images-idx3-ubyte.gz", outdir, "--count", str(count)],
                   check=True, capture_output=True)
    return outdir


def load_png(path):
    from PIL import Image
    with Image.open(path) as im:
        a = np.asarray(im.convert("L"), dtype=np.float32)
    return (a / np.float32(255.0))[None, :, :]


def _files(d):
    return sorted(f for f in os.listdir(d) if not f.startswith(".") and os.path.isfile(os.path.join(d, f)))


def load_dir(d, labeled):
    """Returns (x [N,1,28,28] float32, labels [N] or None, class names).

    Labeled: sorted class subfolders; an all-integer set of names gives the
    integer as the label, otherwise the sorted position. Our own rule, written
    from the documented layout, not from qconvert's code."""
    if not labeled:
        files = _files(d)
        return np.stack([load_png(os.path.join(d, f)) for f in files]), None, []
    names = sorted(n for n in os.listdir(d) if not n.startswith(".") and os.path.isdir(os.path.join(d, n)))
    all_int = all(n.isdigit() for n in names)
    xs, ys = [], []
    for pos, n in enumerate(names):
        label = int(n) if all_int else pos
        for f in _files(os.path.join(d, n)):
            xs.append(load_png(os.path.join(d, n, f)))
            ys.append(label)
    return np.stack(xs), np.array(ys), names


def save_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr))
    return path


def ort_outputs(model, x, workdir, input_name="input"):
    """Runs model in onnxruntime on x (one batch, 2 threads); returns the list of outputs."""
    os.makedirs(workdir, exist_ok=True)
    inp = save_npy(os.path.join(workdir, "in.npy"), x.astype(np.float32))
    out = os.path.join(workdir, "out")
    shutil.rmtree(out, ignore_errors=True)
    return T.ort_run(model, {input_name: inp}, out, threads=2)[0]


def topk(logits, k):
    """Indices of the k largest per row; ties go to the lower index."""
    return np.argsort(-logits, axis=1, kind="stable")[:, :k]


def reference_metrics(ref_outs, q_outs, labels, n_classes):
    """Numpy metrics from ORT outputs (lists of arrays, output 0 = logits)."""
    r = {}
    lf = ref_outs[0].reshape(ref_outs[0].shape[0], -1)
    n = lf.shape[0]
    r["samples"] = n
    tf = topk(lf, 5)
    if q_outs is not None:
        lq = q_outs[0].reshape(n, -1)
        tq = topk(lq, 5)
        r["agree_count"] = int((tf[:, 0] == tq[:, 0]).sum())
        a = np.concatenate([o.astype(np.float64).ravel() for o in ref_outs])
        b = np.concatenate([o.astype(np.float64).ravel() for o in q_outs])
        r["output_sqnr_db"] = float(T.sqnr_db(a, b))
        r["cosine"] = T.cosine(a, b)
    if labels is not None:
        r["fp32_top1_count"] = int((tf[:, 0] == labels).sum())
        if n_classes >= 5:
            r["fp32_top5_count"] = int((tf == labels[:, None]).any(axis=1).sum())
        if q_outs is not None:
            r["quant_top1_count"] = int((tq[:, 0] == labels).sum())
            if n_classes >= 5:
                r["quant_top5_count"] = int((tq == labels[:, None]).any(axis=1).sum())
    return r


def close_count(what, got_fraction, ref_count, n, max_diff=None):
    """A fraction from qconvert vs an integer count from the reference: equal, or off
    by at most max(1 sample, 0.5%) (the engine and ORT may flip a near-tie)."""
    if got_fraction is None:
        return T.check(False, f"{what}: qconvert gave null, reference {ref_count}/{n}")
    got = got_fraction * n
    if max_diff is None:
        max_diff = max(1, int(0.005 * n))
    diff = abs(got - ref_count)
    note = "" if diff < 1e-6 else f"  (differs by {diff:.2f} samples" + \
        (": engine vs ORT near-tie, tolerated)" if diff <= max_diff + 1e-6 else ")")
    return T.check(abs(round(got) - got) < 1e-4 * n and diff <= max_diff + 1e-6,
                 f"{what}: qconvert {got_fraction:.6f} ({got:.2f}/{n}) vs numpy/ORT {ref_count}/{n}{note}")
