"""obs_tool (C) against independent numpy references: statistics, canonical
histogram, EMA, percentile / entropy / mse ranges, qparams; and chunking
invariance (1 vs 4 vs 7 segments, save/load of halves)."""
import math
import os

import numpy as np

import common as C
from qc_test import check, finish, tempdir


def datasets(rng):
    g = lambda *s: rng.standard_normal(s).astype(np.float32)
    d = {}
    d["gauss"] = g(64, 1000)
    d["relu"] = np.maximum(g(64, 1000) + 0.3, 0)
    d["laplace"] = rng.laplace(0, 1, (50, 2000)).astype(np.float32)
    d["far_from_zero"] = (1000 + rng.random((40, 500))).astype(np.float32)
    d["subnormal"] = (g(30, 100) * np.float32(1e-39)).astype(np.float32)
    d["growing"] = (g(60, 300) * (1.25 ** np.arange(60, dtype=np.float32))[:, None]).astype(np.float32)
    neg = -np.exp(g(20, 400))
    d["all_negative"] = neg.astype(np.float32)
    d["zeros"] = np.zeros((5, 10), np.float32)
    x = g(32, 700)
    x[3, 5] = np.nan
    x[4, 6] = np.inf
    x[10, :] = np.nan  # a sample with no finite value
    d["nonfinite"] = x
    h = g(100, 1000)
    h.flat[rng.choice(h.size, 3, replace=False)] = [80, -120, 60]
    d["outliers"] = h
    d["small_int"] = rng.integers(-3, 4, (16, 64)).astype(np.float32)
    return d


def check_dataset(name, arr, out):
    samples = list(arr.reshape(arr.shape[0], -1))
    x = arr[np.isfinite(arr)].astype(np.float32)
    check(out["count"] == x.size, f"{name}: count")
    check(out["nonfinite"] == arr.size - x.size, f"{name}: nonfinite")
    if x.size == 0:
        return
    mn, mx = float(x.min()), float(x.max())
    check(out["zeros"] == int(np.sum(x == 0)), f"{name}: zeros")
    check(out["min"] == mn and out["max"] == mx, f"{name}: min/max {out['min']} {out['max']}")
    # Canonical histogram from the data.
    e = C.canonical_exp(np.float32(mn), np.float32(mx))
    h = out["hist"]
    check(h["exp"] == e, f"{name}: exp {h['exp']} != {e}")
    k = C.bins_of(x, e)
    ref = np.bincount(k - k.min())
    check(h["first"] == int(k.min()) and list(ref) == h["counts"], f"{name}: histogram counts")
    em, eM = C.ema(samples)
    check(math.isclose(out["ema_min"], em, rel_tol=1e-12, abs_tol=1e-300) and
          math.isclose(out["ema_max"], eM, rel_tol=1e-12, abs_tol=1e-300),
          f"{name}: ema {out['ema_min']} vs {em}, {out['ema_max']} vs {eM}")

    for scheme, (qmin, qmax, sym) in C.SCHEMES.items():
        res = out["results"][scheme]
        got = {o: (res[o]["rmin"], res[o]["rmax"]) for o in C.OBSERVERS}
        check(got["minmax"] == (mn, mx), f"{name}/{scheme}: minmax")
        check(got["ema"] == (float(np.float32(em)), float(np.float32(eM))), f"{name}/{scheme}: ema range")
        lo, hi = C.percentile_range(x, e, sym, 99.999)
        want = C.clamp_range(lo, hi, mn, mx)
        check(got["percentile"] == want, f"{name}/{scheme}: percentile {got['percentile']} != {want}")

        div, w, maxabs = C.entropy_candidates(x, e, scheme)
        finite = {i: d for i, d in div.items() if i is not None and np.isfinite(d)}
        if finite:
            best = min(finite.values())
            ok_ranges = {C.clamp_range(-min(i * w, maxabs), min(i * w, maxabs), mn, mx)
                         for i, d in finite.items() if d <= best * (1 + 1e-9) + 1e-15}
        else:
            ok_ranges = {C.clamp_range(-maxabs, maxabs, mn, mx)}
        check(got["entropy"] in ok_ranges, f"{name}/{scheme}: entropy {got['entropy']} not in {sorted(ok_ranges)[:3]}")

        cands = C.mse_candidates(x, e, scheme)
        best = min(err for _, err in cands)
        ok_ranges = {C.clamp_range(r[0], r[1], mn, mx) for r, err in cands
                     if err <= best * (1 + 1e-9) + 1e-300}
        check(got["mse"] in ok_ranges, f"{name}/{scheme}: mse {got['mse']} not in {sorted(ok_ranges)[:3]}")

        for o in C.OBSERVERS:
            scale, zp = C.ort_qparams(res[o]["rmin"], res[o]["rmax"], qmin, qmax, sym)
            check(math.isclose(res[o]["scale"], scale, rel_tol=1e-7) and res[o]["zp"] == zp,
                  f"{name}/{scheme}/{o}: qparams {res[o]['scale']},{res[o]['zp']} != {scale},{zp}")


def strip_ema(out):
    return {k: v for k, v in out.items() if not k.startswith("ema")}


def main():
    rng = np.random.default_rng(1234)
    with tempdir("qc_obs_") as tmp:
        for name, arr in datasets(rng).items():
            path = C.write_npy(tmp, name, arr)
            out = C.run_tool("--hist", path)
            check_dataset(name, arr, out)
            for k in (4, 7):
                seg = C.run_tool("--hist", "--segments", k, path)
                same = strip_ema(seg) == strip_ema(out)
                # Ranges from the EMA may differ only by double rounding.
                for key in ("ema_min", "ema_max"):
                    same &= math.isclose(seg[key], out[key], rel_tol=1e-12, abs_tol=1e-300)
                if not same:
                    # Only the float-rounded EMA range may differ; everything else is exact.
                    rs, ro = seg["results"], out["results"]
                    same = all(rs[s][o] == ro[s][o] for s in rs for o in rs[s] if o != "ema")
                    same &= all(seg[key] == out[key] for key in seg
                                if key not in ("results", "ema_min", "ema_max"))
                check(same, f"{name}: {k} segments differ from 1")
            # Save two halves, load both: identical to observing everything.
            half = arr.shape[0] // 2
            a = C.write_npy(tmp, name + "_a", arr[:half])
            b = C.write_npy(tmp, name + "_b", arr[half:])
            sa, sb = os.path.join(tmp, "a.qcs"), os.path.join(tmp, "b.qcs")
            C.run_tool("--save", sa, a)
            C.run_tool("--save", sb, b)
            loaded = C.run_tool("--hist", "--load", sa, "--load", sb)
            check(all(loaded["results"][s][o] == out["results"][s][o]
                      for s in out["results"] for o in out["results"][s] if o != "ema"),
                  f"{name}: load(a)+load(b) differs")
            check(math.isclose(loaded["ema_max"], out["ema_max"], rel_tol=1e-12, abs_tol=1e-300),
                  f"{name}: load(a)+load(b) EMA differs")
            check(loaded["hist"] == out["hist"] and loaded["count"] == out["count"],
                  f"{name}: loaded histogram differs")
            print(f"{name}: checked")
    finish("observer_reference")


if __name__ == "__main__":
    main()
