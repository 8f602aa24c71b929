#!/usr/bin/python3
"""`qconvert eval FP32 [QUANT] --data DIR`: the JSON `eval` object against numpy
metrics computed from onnxruntime outputs of both models on the same pixels/255.

Covers: integer class folders, non-contiguous integer folders, named class
folders (sorted order), an unlabeled flat dir, a single FP32 model, and the
usage error for a missing --data. Exit 0 pass, 1 fail, 77 skip (no ORT)."""
import math
import os
import shutil

import numpy as np

from common import (CNN, close_count, export_flat, export_labeled, load_dir, ort_outputs, qc,
                    reference_metrics)
from qc_test import check, finish, load_json, require_ort, tempdir

EVAL_KEYS = ["samples", "labeled", "classes", "fp32_top1", "quant_top1", "fp32_top5", "quant_top5", "agreement",
             "output_sqnr_db", "cosine", "fp32_ms", "quant_ms"]
# Fashion-MNIST class names by index.
NAMES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"]


def run_eval(work, tag, models, data):
    rep = os.path.join(work, f"{tag}.json")
    p = qc("eval", *models, "--data", data, "--report", rep, "--quiet", what=f"{tag}: qconvert eval")
    if p.returncode != 0:
        return None
    ev = load_json(rep).get("eval")
    check(ev is not None and list(ev.keys()) == EVAL_KEYS, f"{tag}: eval keys {list(ev.keys()) if ev else None}")
    return ev


def compare_top_k(tag, ev, ref, model, n, n_classes, labeled):
    """<model>_top1/top5 of the eval JSON (model: fp32 or quant) against the reference counts:
    null without labels, top-5 null with fewer than 5 classes."""
    top1, top5 = ev[f"{model}_top1"], ev[f"{model}_top5"]
    if not labeled:
        check(top1 is None and top5 is None, f"{tag}: unlabeled -> {model}_top1/top5 null (got {top1}, {top5})")
        return
    close_count(f"{tag}: {model}_top1", top1, ref[f"{model}_top1_count"], n)
    if n_classes >= 5:
        close_count(f"{tag}: {model}_top5", top5, ref[f"{model}_top5_count"], n)
    else:
        check(top5 is None, f"{tag}: {model}_top5 null with {n_classes} classes (got {top5})")


def compare_eval(tag, ev, ref, n_classes, labeled, quant):
    n = ref["samples"]
    check(ev["samples"] == n, f"{tag}: samples {ev['samples']} == {n}")
    check(ev["labeled"] is labeled, f"{tag}: labeled {ev['labeled']} == {labeled}")
    check(ev["classes"] == (n_classes if labeled else 0), f"{tag}: classes {ev['classes']} == {n_classes if labeled else 0}")
    compare_top_k(tag, ev, ref, "fp32", n, n_classes, labeled)
    if not quant:
        check(ev["quant_top1"] is None and ev["quant_top5"] is None and ev["agreement"] is None,
              f"{tag}: FP32 only -> quant_top1/top5/agreement null (got {ev['quant_top1']}, {ev['quant_top5']}, "
              f"{ev['agreement']})")
        # There is no second model: a number here (0 dB, cosine 0) reads as "terrible".
        check(ev["output_sqnr_db"] is None and ev["cosine"] is None and ev["quant_ms"] is None,
              f"{tag}: FP32 only -> output_sqnr_db/cosine/quant_ms null (got {ev['output_sqnr_db']}, "
              f"{ev['cosine']}, {ev['quant_ms']})")
        check(isinstance(ev["fp32_ms"], (int, float)) and ev["fp32_ms"] > 0, f"{tag}: fp32_ms {ev['fp32_ms']} > 0")
        return
    compare_top_k(tag, ev, ref, "quant", n, n_classes, labeled)
    close_count(f"{tag}: agreement", ev["agreement"], ref["agree_count"], n)
    s = ev["output_sqnr_db"]
    check(s is not None and abs(s - ref["output_sqnr_db"]) <= 0.5,
          f"{tag}: output_sqnr_db {s} vs numpy/ORT {ref['output_sqnr_db']:.4f} (tol 0.5 dB)")
    c = ev["cosine"]
    check(c is not None and abs(c - ref["cosine"]) <= 1e-4, f"{tag}: cosine {c} vs numpy/ORT {ref['cosine']:.7f} (tol 1e-4)")
    check(all(isinstance(ev[k], (int, float)) and ev[k] > 0 for k in ("fp32_ms", "quant_ms")),
          f"{tag}: fp32_ms {ev['fp32_ms']}, quant_ms {ev['quant_ms']} > 0")


def check_two_classes(work, tag, d, classes, ref_f, ref_q, y, q8):
    """`qconvert eval` on d, two class folders holding the images of `classes` (labels y of
    the full set): the reference is the full set's ORT outputs restricted to those images.
    Returns the labels the reference reads from d."""
    _, labels, _ = load_dir(d, labeled=True)
    idx = np.concatenate([np.flatnonzero(y == c) for c in classes])
    r = reference_metrics([o[idx] for o in ref_f], [o[idx] for o in ref_q], labels, 2)
    check(r["fp32_top1_count"] > 0.8 * len(idx), f"{tag}: reference top-1 high under the folder mapping")
    ev = run_eval(work, tag, [CNN, q8], d)
    if ev:
        compare_eval(tag, ev, r, 2, True, True)
    return labels


def main():
    require_ort()
    with tempdir("qc-eval-metrics-") as work:
        cal = export_flat(os.path.join(work, "cal"), 200, "train")
        lab = export_labeled(os.path.join(work, "lab"), 300, "t10k")
        q8 = os.path.join(work, "cnn.int8.onnx")
        qc(CNN, "--calib", cal, "-o", q8, "--quiet", what="quantize demo cnn")
        if not os.path.exists(q8):
            return

        # 1. Integer class folders 0..9.
        x, y, names = load_dir(lab, labeled=True)
        check(len(names) == 10 and x.shape[0] == 300, f"test data: {x.shape[0]} images in {len(names)} classes")
        ref_f = ort_outputs(CNN, x, os.path.join(work, "ort_f"))
        ref_q = ort_outputs(q8, x, os.path.join(work, "ort_q"))
        ref = reference_metrics(ref_f, ref_q, y, 10)
        print(f"reference: fp32 top-1 {ref['fp32_top1_count']}/300, int8 top-1 {ref['quant_top1_count']}/300, "
              f"agreement {ref['agree_count']}/300, SQNR {ref['output_sqnr_db']:.2f} dB")
        check(ref["fp32_top1_count"] > 240, "reference fp32 top-1 is plausible (> 80%)")
        ev = run_eval(work, "int_classes", [CNN, q8], lab)
        if ev:
            compare_eval("int_classes", ev, ref, 10, True, True)

        # 2. Non-contiguous integer folders "2" and "7": the integer is the class index.
        sub = os.path.join(work, "int27")
        os.makedirs(sub)
        for c in ("2", "7"):
            shutil.copytree(os.path.join(lab, c), os.path.join(sub, c))
        y2 = check_two_classes(work, "int27", sub, (2, 7), ref_f, ref_q, y, q8)
        check(set(y2.tolist()) == {2, 7}, "int27: reference labels are 2 and 7 (not 0/1)")

        # 3. Named folders: class k's images go into the k-th name in sorted order, so
        #    a sorted mapping scores like case 1 and any other mapping scores ~10%.
        named = os.path.join(work, "named")
        os.makedirs(named)
        sorted_names = sorted(NAMES)
        for k in range(10):
            shutil.copytree(os.path.join(lab, str(k)), os.path.join(named, sorted_names[k]))
        x3, y3, n3 = load_dir(named, labeled=True)
        check(n3 == sorted_names, "named: reference sees sorted names")
        r3 = reference_metrics(ort_outputs(CNN, x3, os.path.join(work, "ort_f3")),
                               ort_outputs(q8, x3, os.path.join(work, "ort_q3")), y3, 10)
        check(r3["fp32_top1_count"] == ref["fp32_top1_count"], "named: reference top-1 matches the integer layout")
        ev = run_eval(work, "named", [CNN, q8], named)
        if ev:
            compare_eval("named", ev, r3, 10, True, True)

        # 3b. Two named classes "bag" and "coat": bag=0, coat=1 in sorted order.
        #     T-shirt images (class 0) go into "bag", trouser images (class 1) into "coat".
        two = os.path.join(work, "two")
        os.makedirs(two)
        shutil.copytree(os.path.join(lab, "0"), os.path.join(two, "bag"))
        shutil.copytree(os.path.join(lab, "1"), os.path.join(two, "coat"))
        check_two_classes(work, "bag_coat", two, (0, 1), ref_f, ref_q, y, q8)

        # 4. Unlabeled flat dir: agreement, SQNR, cosine; null top-1/top-5.
        flat = os.path.join(work, "flat")
        os.makedirs(flat)
        for c in sorted(os.listdir(lab)):
            for f in sorted(os.listdir(os.path.join(lab, c))):
                shutil.copy(os.path.join(lab, c, f), os.path.join(flat, f"{c}_{f}"))
        x5, _, _ = load_dir(flat, labeled=False)
        r5 = reference_metrics(ort_outputs(CNN, x5, os.path.join(work, "ort_f5")),
                               ort_outputs(q8, x5, os.path.join(work, "ort_q5")), None, 0)
        ev = run_eval(work, "flat", [CNN, q8], flat)
        if ev:
            compare_eval("flat", ev, r5, 0, False, True)

        # 5. One FP32 model: FP32 top-1 (and top-5) only.
        r6 = reference_metrics(ref_f, None, y, 10)
        ev = run_eval(work, "fp32_only", [CNN], lab)
        if ev:
            compare_eval("fp32_only", ev, r6, 10, True, False)

        # 6. Usage errors: exit code 2 with a one-line message.
        p = qc("eval", CNN, q8, expect=2, what="eval without --data")
        check(p.returncode == 2 and p.stderr.strip() != "", f"eval without --data: exit {p.returncode}, "
              f"stderr {p.stderr.strip()[:200]!r}")
        p = qc("eval", CNN, q8, "--data", os.path.join(work, "missing"), expect=2, what="eval --data MISSING")
        check(p.returncode == 2, f"eval --data on a missing dir: exit {p.returncode}")
        check(math.isfinite(ref["output_sqnr_db"]), "reference SQNR finite")


if __name__ == "__main__":
    main()
    finish()
