"""Shared helpers for the observer tests: run obs_tool, and numpy reference
implementations of the documented formulas (docs/observers.md), computed from
the raw data independently of the C histogram."""
import json
import os
import subprocess
import sys

import numpy as np

NBINS = 4096
SEARCH_BINS = 2048
EXP_MIN = -149
SCHEMES = {"uint8": (0, 255, False), "int8sym": (-127, 127, True), "int8": (-128, 127, False)}
OBSERVERS = ["minmax", "ema", "percentile", "entropy", "mse"]


def tool():
    """obs_tool path: first command-line argument, else $QC_OBS_TOOL."""
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("QC_OBS_TOOL")
    if not path:
        raise SystemExit("usage: test_*.py PATH/TO/obs_tool (meson test passes it)")
    return path


def write_npy(dirname, name, arr):
    path = os.path.join(dirname, name + ".npy")
    np.save(path, np.ascontiguousarray(arr, dtype="<f4"))
    return path


F32_KEYS = {"min", "max", "rmin", "rmax", "scale"}


def _as_f32(obj):
    """obs_tool prints floats with 9 digits: round them back to the float32 value."""
    if isinstance(obj, dict):
        return {k: (float(np.float32(v)) if k in F32_KEYS else _as_f32(v)) for k, v in obj.items()}
    return obj


def run_tool(*args):
    out = subprocess.run([tool(), *map(str, args)], check=True, capture_output=True, text=True)
    return _as_f32(json.loads(out.stdout))


def ilogb32(v):
    _, e = np.frexp(np.float32(v))
    return int(e) - 1


def bins_of(x, e):
    """Signed bin index: floor(x/2^e) for x>=0, -1-floor(-x/2^e) for x<0."""
    a = np.floor(np.abs(x.astype(np.float64)) * 2.0 ** -e).astype(np.int64)
    return np.where(x < 0, -1 - a, a)


def canonical_exp(mn, mx):
    maxabs = max(abs(float(mn)), abs(float(mx)))
    e = EXP_MIN if maxabs == 0 else max(EXP_MIN, ilogb32(maxabs) - 60)
    arr = np.array([mn, mx], dtype=np.float32)
    while True:
        b = bins_of(arr, e)
        if b[1] - b[0] < NBINS:
            return e
        e += 1


def coarsen_shift(lo, hi, max_bins):
    d = 0
    while (hi >> d) - (lo >> d) + 1 > max_bins:
        d += 1
    return d


def view(x, e, folded, max_bins):
    """Exact coarse histogram computed from the data: (counts, first, width)."""
    k = bins_of(x, e)
    if folded:
        k = np.where(k < 0, -1 - k, k)
        lo, hi = 0, int(k.max())
    else:
        lo, hi = int(k.min()), int(k.max())
    d = coarsen_shift(lo, hi, max_bins)
    kk = k >> d
    first = lo >> d
    counts = np.bincount(kk - first, minlength=(hi >> d) - first + 1).astype(np.float64)
    return counts, first, 2.0 ** (e + d)


def ort_qparams(rmin, rmax, qmin, qmax, symmetric):
    """onnxruntime quant_utils.compute_scale_zp (float32 range, float64 scale)."""
    rmin = np.minimum(np.float32(rmin), np.float32(0))
    rmax = np.maximum(np.float32(rmax), np.float32(0))
    if symmetric:
        a = np.maximum(np.abs(rmin), np.abs(rmax))
        rmin, rmax = -a, a
    scale = np.float64(np.float32(rmax - rmin)) / (np.float64(qmax) - np.float64(qmin))
    if scale < np.finfo(np.float32).tiny:
        return 1.0, 0
    if symmetric:
        zp = np.round((qmin + qmax) / 2.0)
    else:
        zp = np.round(qmin - np.float64(rmin) / scale)
    return float(np.float32(scale)), int(np.clip(zp, qmin, qmax))


def fake_quant(x, scale, zp, qmin, qmax):
    x = x.astype(np.float32)
    q = np.clip(np.rint(x / np.float32(scale)) + zp, qmin, qmax)
    return ((q - zp).astype(np.float32) * np.float32(scale)).astype(np.float32)


def quant_mse(x, rng, scheme):
    qmin, qmax, sym = SCHEMES[scheme]
    scale, zp = ort_qparams(rng[0], rng[1], qmin, qmax, sym)
    d = fake_quant(x, scale, zp, qmin, qmax).astype(np.float64) - x.astype(np.float64)
    return float(np.mean(d * d))


# ---- observers from the data (numpy reference) ----

def ema(samples):
    em = eM = None
    for s in samples:
        s = s[np.isfinite(s)]
        if s.size == 0:
            continue
        mn, mx = float(s.min()), float(s.max())
        if em is None:
            em, eM = mn, mx
        else:
            em += 0.01 * (mn - em)
            eM += 0.01 * (mx - eM)
    return em, eM


def crossing(counts, target):
    cum = np.cumsum(counts)
    idx = np.nonzero(cum >= target)[0]
    return int(idx[0]) if idx.size else len(counts) - 1


def percentile_range(x, e, sym, p):
    total = x.size
    if sym:
        c, first, w = view(x, e, True, NBINS)
        t = (first + crossing(c, p / 100.0 * total)) * w
        return -t, t
    c, first, w = view(x, e, False, NBINS)
    cut = (100.0 - p) / 200.0
    return (first + crossing(c, cut * total)) * w, (first + crossing(c, (1 - cut) * total)) * w


def levels_for(qmin, qmax, signed):
    size = qmax - qmin + 1
    lv = 1
    while lv < size:
        lv *= 2
    return lv // 2 if signed else lv


def entropy_divergences(h, levels):
    """KL(P||Q) per candidate i (pytorch-quantization _compute_amax_entropy)."""
    h = h.copy()
    h[0] = h[1]
    total = h.sum()
    out = {}
    for i in range(levels, len(h) + 1):
        kept = h[:i]
        outl = h[i:].sum()
        if total - outl <= 0:
            out[i] = np.inf
            continue
        g = (np.arange(i, dtype=np.int64) * levels) // i
        gsum = np.bincount(g, weights=kept, minlength=levels)
        gnnz = np.bincount(g, weights=(kept != 0).astype(np.float64), minlength=levels)
        p = kept.copy()
        p[-1] += outl
        q = np.where(kept != 0, gsum[g] / np.maximum(gnnz[g], 1), 0.0) / (total - outl)
        p = p / total
        if np.any((p > 0) & (q == 0)):
            out[i] = np.inf
            continue
        m = p > 0
        out[i] = float(np.sum(p[m] * np.log(p[m] / q[m])))
    return out


def entropy_candidates(x, e, scheme):
    qmin, qmax, sym = SCHEMES[scheme]
    mn, mx = float(x.min()), float(x.max())
    maxabs = max(abs(mn), abs(mx))
    c, first, w = view(x, e, True, SEARCH_BINS)
    levels = levels_for(qmin, qmax, sym or mn < 0)
    if len(c) <= levels:
        return {None: 0.0}, w, maxabs
    return entropy_divergences(c, levels), w, maxabs


def sq_error(c, centres, lo, hi, qmin, qmax, sym):
    scale, zp = ort_qparams(lo, hi, qmin, qmax, sym)
    q = np.clip(np.rint(centres / scale) + zp, qmin, qmax)
    d = (q - zp) * scale - centres
    return float(np.sum(c * d * d))


def mse_candidates(x, e, scheme):
    """List of (range, error) in search order, as docs/observers.md."""
    qmin, qmax, sym = SCHEMES[scheme]
    mn, mx = float(x.min()), float(x.max())
    c, first, w = view(x, e, sym, SEARCH_BINS)
    zeros = int(np.sum(x == 0))
    if zeros:
        c[-first] -= zeros
    centres = (first + np.arange(len(c)) + 0.5) * w
    nz = c != 0
    c, cen = c[nz], centres[nz]
    out = []
    if sym:
        maxabs = max(abs(mn), abs(mx))
        for i in range(len(centres) + 1):
            a = min((i + 0.5) * w, maxabs) if i < len(centres) else maxabs
            out.append(((-a, a), sq_error(c, cen, -a, a, qmin, qmax, True)))
        return out
    full, _, _ = view(x, e, False, SEARCH_BINS)
    if zeros:
        full[-first] -= zeros
    a, b = 0, len(full) - 1
    while True:
        lo = max((first + a) * w, mn)
        hi = min((first + b + 1) * w, mx)
        out.append(((lo, hi), sq_error(c, cen, lo, hi, qmin, qmax, False)))
        if a >= b:
            break
        ca, cb = full[a], full[b]
        if ca < cb or (ca == cb and abs((first + a) * w) > abs((first + b + 1) * w)):
            a += 1
        else:
            b -= 1
    return out


def clamp_range(lo, hi, mn, mx):
    lo = min(max(lo, mn), mx)
    hi = max(min(hi, mx), mn)
    return float(np.float32(lo)), float(np.float32(hi))
