#!/usr/bin/python3
"""Per-layer SQNR of the main job (`--report r.json --eval DIR`): the JSON
`layers` list is sorted worst first, names the calibrated tensors, and each
value equals an independent recomputation: the FP32 activation from
onnxruntime (the tensor added as an extra graph output), fake-quantized in
numpy with the JSON `tensors` scale/zero_point, SQNR over the same eval data.

Runs uint8 (default, mse observer) and int8 symmetric (minmax observer).
Exit 0 pass, 1 fail, 77 skip (no ORT)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

from common import CNN, export_flat, export_labeled, load_dir, ort_outputs, qc
from qc_test import check, finish, load_json, require_ort, tempdir

TOL_DB = 0.2


def fake_quant(x, scale, zp, qtype):
    lo, hi = (0, 255) if qtype == "uint8" else (-128, 127)
    s = np.float32(scale)
    q = np.clip(np.rint(x.astype(np.float32) / s) + zp, lo, hi)
    return ((q - zp) * s).astype(np.float32)


def sqnr_db(x, xh):
    x = x.astype(np.float64)
    err = ((x - xh.astype(np.float64)) ** 2).sum()
    return float(10 * np.log10((x * x).sum() / err)) if err > 0 else float("inf")


def fp32_activations(work, names, x):
    """Runs the FP32 model in ORT with `names` added as graph outputs."""
    m = onnx.load(CNN)
    have = {o.name for o in m.graph.output}
    extra = [n for n in names if n not in have and n not in {i.name for i in m.graph.input}]
    for n in extra:
        m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    path = os.path.join(work, "cnn_taps.onnx")
    onnx.save(m, path)
    outs = ort_outputs(path, x, os.path.join(work, "ort_taps"))
    got = {o.name: outs[i] for i, o in enumerate(m.graph.output)}
    for i in m.graph.input:
        got[i.name] = x
    return got


def check_run(work, tag, cal, evald, x, extra_args):
    rep = os.path.join(work, f"{tag}.json")
    out = os.path.join(work, f"{tag}.onnx")
    p = qc(CNN, "--calib", cal, "-o", out, "--report", rep, "--eval", evald, "--quiet", *extra_args,
           what=f"{tag}: main job with --eval")
    if p.returncode != 0:
        return
    r = load_json(rep)
    layers, tensors = r.get("layers"), r.get("tensors") or []
    if not check(isinstance(layers, list) and len(layers) > 0, f"{tag}: report has a non-empty `layers` list"):
        return
    check(all(set(l.keys()) == {"name", "sqnr_db"} for l in layers), f"{tag}: layer entries have name, sqnr_db")
    vals = [l["sqnr_db"] for l in layers]
    check(all(v is not None for v in vals) and vals == sorted(vals),
          f"{tag}: layers sorted ascending (worst first): {[round(v, 2) for v in vals]}")
    tmap = {t["name"]: t for t in tensors}
    lnames = [l["name"] for l in layers]
    check(len(set(lnames)) == len(lnames) and set(lnames) == set(tmap),
          f"{tag}: one layer entry per calibrated tensor ({len(lnames)} layers, {len(tmap)} tensors)")
    check(r.get("eval", {}).get("samples") == x.shape[0], f"{tag}: eval over {x.shape[0]} samples")

    acts = fp32_activations(work, list(tmap), x)
    ref = {}
    for name, t in tmap.items():
        a = acts[name]
        ref[name] = sqnr_db(a, fake_quant(a, t["scale"], t["zero_point"], t["qtype"]))
    print(f"{tag}: numpy/ORT per-tensor SQNR: " + ", ".join(f"{n.split('/')[-1]}={v:.2f}" for n, v in ref.items()))
    for l in layers:
        n, v = l["name"], l["sqnr_db"]
        if n not in ref:
            continue
        if ref[n] > 100:  # pure float rounding (e.g. the input at scale 1/255): only the order of magnitude
            check(v is not None and v > 100, f"{tag}: {n}: {v} dB and numpy {ref[n]:.1f} dB both > 100 dB")
            continue
        check(v is not None and abs(v - ref[n]) <= TOL_DB,
              f"{tag}: {n}: qconvert {v:.4f} dB vs numpy/ORT {ref[n]:.4f} dB (tol {TOL_DB})")
    worst = min(ref.values())
    check(abs(vals[0] - worst) <= TOL_DB, f"{tag}: first entry is the worst ({vals[0]:.3f} vs numpy min {worst:.3f})")


def main():
    require_ort()
    with tempdir("qc-layer-sqnr-") as work:
        cal = export_flat(os.path.join(work, "cal"), 200, "train")
        evald = export_labeled(os.path.join(work, "eval"), 300, "t10k")
        x, _, _ = load_dir(evald, labeled=True)
        check_run(work, "uint8_mse", cal, evald, x, [])
        check_run(work, "int8_minmax", cal, evald, x, ["--activation-type", "int8", "--observer", "minmax"])


if __name__ == "__main__":
    main()
    finish()
