#!/usr/bin/python3
"""Determinism of the main job and of the split-and-merge calibration workflow.

On the demo CNN (dynamic batch dim) with 300 Fashion-MNIST train PNGs:
  * `--threads 1`, `--threads 2` and a second `--threads 2` run give byte-identical models
    and byte-identical `--save-stats` files;
  * `--batch 1` vs `--batch 8`: the observers are batch-size independent (one update per
    sample), but the FP32 engine is not bitwise: OpenBLAS picks other kernels for an 8-row
    product than for a 1-row one, so activations differ in the last bits. So here the stats
    files (format of docs/observers.md section 6) must agree closely: equal value counts,
    min/max within 1e-5 of the tensor's span, histograms differing in at most 1e-4 of the
    values (samples that moved across a bin edge), EMA within 1e-6 of the span; and the
    models' scales within 1e-5 relative, zero points within 1;
  * `--calib DIR` and `--calib LIST.txt` naming the same files give identical bytes;
  * split and merge (demo CNN and ResNet): the first and second half of the samples are
    calibrated separately (as two LIST.txt files and as two directories) with `--save-stats`,
    then `--load-stats a --load-stats b` must give exactly the model of one run over all
    samples for the histogram observers (mse, minmax, percentile, entropy), also in the order
    b, a (histogram merge is commutative). For `ema` (ordered, double precision) the models
    are parsed with onnx: every scale within 1e-6 relative, zero points equal.
"""
import os
import shutil

import numpy as np

import e2e_util as U
import qc_test as T

N_CALIB = 300
HIST_OBSERVERS = ["mse", "minmax", "percentile", "entropy"]
# The engine's float results may differ in the last bits between batch sizes (GEMM blocking),
# which moves per-sample EMA inputs; histograms, min and max must still be identical.
EMA_RTOL = 1e-9


def quantize(model, out, *args):
    r = T.qconvert(model, "-o", out, "--quiet", *args)
    ok = r.returncode == 0 and os.path.isfile(out)
    if not ok:  # successes are implied by the comparisons that follow
        T.check(False, f"qconvert {os.path.basename(model)} {' '.join(map(str, args))}: "
                f"rc {r.returncode} {r.stderr.strip()[:200]}")
    return ok


def same_bytes(a, b, what):
    ok = os.path.isfile(a) and os.path.isfile(b) and T.file_bytes(a) == T.file_bytes(b)
    T.check(ok, f"{what}: byte-identical ({os.path.basename(a)} vs {os.path.basename(b)})")
    return ok


def ema_value(st, seg):
    """EMA value of a segment (docs/observers.md section 3): weighted + (1-c)^n * first."""
    n, first, weighted = st[seg]
    return weighted + (1.0 - st["ema_constant"]) ** n * first


def read_stats_pair(a, b, what):
    """Both stats files, parsed and checked to hold the same tensors; None if one does not parse."""
    try:
        sa, sb = U.read_stats(a), U.read_stats(b)
    except (OSError, ValueError) as e:
        T.check(False, f"{what}: stats parse: {e}")
        return None
    T.check(sa.keys() == sb.keys(), f"{what}: same tensors ({len(sa) - 2})")
    return sa, sb


def compare_stats(a, b, what):
    pair = read_stats_pair(a, b, what)
    if pair is None:
        return
    sa, sb = pair
    exact_keys = ("count", "nonfinite", "zeros", "samples", "min", "max", "ema_constant",
                  "hist_exp", "hist_first", "counts")
    bad_exact, worst_ema = [], 0.0
    for name in sa.keys() & sb.keys():
        if name.startswith("__"):
            continue
        x, y = sa[name], sb[name]
        bad_exact += [f"{name}.{k}" for k in exact_keys if x[k] != y[k]]
        span = max(abs(x["min"]), abs(x["max"]), 1e-30)
        for seg in ("ema_min", "ema_max"):
            if x[seg][0] != y[seg][0]:
                bad_exact.append(f"{name}.{seg}.n")
            worst_ema = max(worst_ema, abs(ema_value(x, seg) - ema_value(y, seg)) / span)
    T.check(not bad_exact, f"{what}: counts/min/max/histograms identical "
            f"{bad_exact[:4] if bad_exact else ''}")
    T.check(worst_ema <= EMA_RTOL, f"{what}: EMA values agree within {EMA_RTOL:g} of the "
            f"tensor's span (worst {worst_ema:.2e})")


def compare_stats_close(a, b, what):
    """Batch-size comparison: the engine's last bits may differ, the observers may not."""
    pair = read_stats_pair(a, b, what)
    if pair is None:
        return
    sa, sb = pair
    bad = []
    for name in sa.keys() & sb.keys():
        if name.startswith("__"):
            continue
        x, y = sa[name], sb[name]
        span = max(abs(x["min"]), abs(x["max"]), 1e-30)
        if x["count"] != y["count"] or x["samples"] != y["samples"]:
            bad.append(f"{name}.count")
        if abs(x["min"] - y["min"]) > 1e-5 * span or abs(x["max"] - y["max"]) > 1e-5 * span:
            bad.append(f"{name}.minmax")
        if x["hist_exp"] == y["hist_exp"] and x["hist_first"] == y["hist_first"]:
            moved = sum(abs(p - q) for p, q in zip(x["counts"], y["counts"])) / 2
            if moved > 1e-4 * max(x["count"], 1):
                bad.append(f"{name}.counts ({moved} moved)")
        for seg in ("ema_min", "ema_max"):
            if abs(ema_value(x, seg) - ema_value(y, seg)) > 1e-6 * span:
                bad.append(f"{name}.{seg}")
    T.check(not bad, f"{what}: counts equal, min/max/histograms/EMA within tolerance {bad[:4] if bad else ''}")


def qparams(model):
    inits = U.initializers(model)
    scales = {k: v for k, v in inits.items() if k.endswith("_scale")}
    zps = {k: v for k, v in inits.items() if k.endswith("_zp")}
    return scales, zps


def close_models(a, b, what, rtol=1e-6, zp_tol=0):
    sa, za = qparams(a)
    sb, zb = qparams(b)
    ok = sa.keys() == sb.keys() and za.keys() == zb.keys() and len(sa) > 0
    worst = 0.0
    zp_diff = []
    if ok:
        for k in sa:
            d = np.abs(sa[k].astype(np.float64) - sb[k]) / np.maximum(np.abs(sa[k]), 1e-30)
            worst = max(worst, float(d.max(initial=0)))
        zp_diff = [k for k in za
                   if np.abs(za[k].astype(np.int64) - zb[k].astype(np.int64)).max(initial=0) > zp_tol]
    T.check(ok and worst <= rtol and not zp_diff,
            f"{what}: {len(sa)} scales within {rtol:g} relative (worst {worst:.2e}), "
            f"zero points within {zp_tol} {zp_diff[:3] if zp_diff else ''}")


def main():
    U.require_fmnist()
    cnn = os.path.join(T.DEMO, "fmnist_cnn.onnx")
    resnet = os.path.join(T.DEMO, "fmnist_resnet.onnx")
    with T.tempdir("qc_e2e_det_") as tmp:
        calib = U.export_fmnist_pngs(os.path.join(tmp, "calib"), N_CALIB, split="train")
        files = sorted(os.path.join(calib, f) for f in os.listdir(calib))
        half = len(files) // 2
        lists = {}
        for key, sel in (("all", files), ("a", files[:half]), ("b", files[half:])):
            lists[key] = os.path.join(tmp, f"list_{key}.txt")
            with open(lists[key], "w") as f:
                f.write("".join(p + "\n" for p in sel))
        dirs = {"a": os.path.join(tmp, "dir_a"), "b": os.path.join(tmp, "dir_b")}
        for key, sel in (("a", files[:half]), ("b", files[half:])):
            os.makedirs(dirs[key])
            for p in sel:
                shutil.copy(p, dirs[key])

        def t(name):
            return os.path.join(tmp, name)

        # Threads and reruns.
        quantize(cnn, t("t1.onnx"), "--calib", calib, "--threads", "1", "--save-stats", t("t1.stats"))
        quantize(cnn, t("t2.onnx"), "--calib", calib, "--threads", "2", "--save-stats", t("t2.stats"))
        quantize(cnn, t("t2b.onnx"), "--calib", calib, "--threads", "2", "--save-stats", t("t2b.stats"))
        same_bytes(t("t1.onnx"), t("t2.onnx"), "model, --threads 1 vs 2")
        same_bytes(t("t2.onnx"), t("t2b.onnx"), "model, second run")
        same_bytes(t("t1.stats"), t("t2.stats"), "stats, --threads 1 vs 2")
        same_bytes(t("t2.stats"), t("t2b.stats"), "stats, second run")

        # Batch size.
        quantize(cnn, t("b1.onnx"), "--calib", calib, "--batch", "1", "--save-stats", t("b1.stats"))
        quantize(cnn, t("b8.onnx"), "--calib", calib, "--batch", "8", "--save-stats", t("b8.stats"))
        close_models(t("b1.onnx"), t("b8.onnx"), "model, --batch 1 vs 8", rtol=1e-5, zp_tol=1)
        compare_stats_close(t("b1.stats"), t("b8.stats"), "stats, --batch 1 vs 8")

        # DIR vs LIST.txt.
        quantize(cnn, t("list.onnx"), "--calib", lists["all"])
        same_bytes(t("t2.onnx"), t("list.onnx"), "model, --calib DIR vs LIST.txt")

        # Split and merge.
        for model in (cnn, resnet):
            mname = os.path.splitext(os.path.basename(model))[0]
            for obs in HIST_OBSERVERS + ["ema"]:
                p = f"{mname}_{obs}_"
                single = t(p + "single.onnx")
                quantize(model, single, "--calib", calib, "--observer", obs)
                for src in ("list", "dir"):
                    sa, sb = t(p + src + "_a.stats"), t(p + src + "_b.stats")
                    ca = lists["a"] if src == "list" else dirs["a"]
                    cb = lists["b"] if src == "list" else dirs["b"]
                    quantize(model, t(p + "half_a.onnx"), "--calib", ca, "--observer", obs,
                             "--save-stats", sa)
                    quantize(model, t(p + "half_b.onnx"), "--calib", cb, "--observer", obs,
                             "--save-stats", sb)
                    merged = t(p + src + "_merged.onnx")
                    if not quantize(model, merged, "--load-stats", sa, "--load-stats", sb,
                                    "--observer", obs):
                        continue
                    what = f"{mname} {obs}: merge of two halves ({src}) vs one run"
                    if obs == "ema":
                        close_models(single, merged, what)
                    else:
                        same_bytes(single, merged, what)
                        if src == "list":
                            rev = t(p + "rev.onnx")
                            if quantize(model, rev, "--load-stats", sb, "--load-stats", sa,
                                        "--observer", obs):
                                same_bytes(single, rev, f"{mname} {obs}: merge in order b, a")
            # The halves differ from the whole: the merge really used both files.
            a_only = t(mname + "_a_only.onnx")
            quantize(model, a_only, "--load-stats", t(f"{mname}_mse_list_a.stats"),
                     "--observer", "mse")
            T.check(os.path.isfile(a_only) and T.file_bytes(a_only) !=
                    T.file_bytes(t(f"{mname}_mse_single.onnx")),
                    f"{mname}: one half alone gives a different model (the merge is not vacuous)")
    T.finish()


if __name__ == "__main__":
    main()
