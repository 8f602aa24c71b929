#!/usr/bin/python3
"""Options of the main job, checked on the output models parsed with onnx (demo CNN, 300 PNGs).

  --per-tensor          every weight scale is a scalar
  --weight-only         no QuantizeLinear node; Conv/Gemm weights are int8 behind
                        DequantizeLinear; runs in onnxruntime with top-1 within 0.5 pt of FP32
  --activation-type int8  every activation zero point is int8 and 0; Relu is kept, with Q/DQ on
                        both sides (docs/quantization.md); runs in onnxruntime
  --exclude NODE        that node reads no DequantizeLinear output and keeps its float weight;
                        an unknown node name is an error (exit 2) or at least a warning
  --op-types Conv       Gemm stays float (float weights, no DQ inputs), Conv is quantized
  --observer X          each of minmax/ema/percentile/entropy/mse runs and passes the checker;
                        they do not all give the same model
  --report              .json has the documented keys with the documented types (docs/report.md),
                        .csv parses with a header and one row per tensor, .txt has the summary
  errors                -o into a missing directory: exit 2, nothing created; output == input:
                        exit 2, input untouched
  default output        MODEL.int8.onnx beside the input (model copied to a temp dir)
ORT checks are skipped (not failed) when .deps/node is missing.
"""
import csv
import json
import os
import shutil

import numpy as np
import onnx

import e2e_util as U
import qc_test as T

CNN = os.path.join(T.DEMO, "fmnist_cnn.onnx")
DWNET = os.path.join(T.DEMO, "fmnist_dwnet.onnx")
RESNET = os.path.join(T.DEMO, "fmnist_resnet.onnx")
N_EVAL = 2000
OBSERVERS = ["minmax", "ema", "percentile", "entropy", "mse"]


def producers(m):
    return {o: n for n in m.graph.node for o in n.output}


def consumers(m):
    c = {}
    for n in m.graph.node:
        for i in n.input:
            c.setdefault(i, []).append(n)
    return c


def weight_dq_inputs(m):
    """(node, DQ node, int8 initializer) for each weighted node whose weight comes from a DQ."""
    inits = U.initializers(m)
    prod = producers(m)
    out = []
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul", "ConvTranspose") and len(n.input) > 1:
            dq = prod.get(n.input[1])
            if dq is not None and dq.op_type == "DequantizeLinear":
                out.append((n, dq, inits.get(dq.input[0]), inits.get(dq.input[1])))
    return out


def run(tmp, name, *args, model=None):
    out = os.path.join(tmp, name + ".onnx")
    r = T.qconvert(model or CNN, "--calib", os.path.join(tmp, "calib"), "-o", out, "--quiet", *args)
    ok = r.returncode == 0 and os.path.isfile(out)
    T.check(ok, f"{name}: qconvert {' '.join(args)} rc {r.returncode} {r.stderr.strip()[:200]}")
    if ok:
        good, err = T.checker_ok(out)
        T.check(good, f"{name}: onnx.checker full_check {err}")
    return (onnx.load(out), out) if ok else (None, out)


def ort_top1(tmp, model, x, labels):
    (logits,), _ = T.ort_run(model, {"input": x}, os.path.join(tmp, "ort_" + os.path.basename(model)),
                             threads=2)
    return float((logits.argmax(1) == labels).mean())


def main():
    U.require_fmnist()
    have_ort = T.ort_missing() is None
    if not have_ort:
        print(f"note: onnxruntime checks skipped: {T.ort_missing()}")
    fp32 = onnx.load(CNN)
    with T.tempdir("qc_e2e_opts_") as tmp:
        U.export_fmnist_pngs(os.path.join(tmp, "calib"), 300, split="train")
        x, labels = U.fmnist_test_npy(os.path.join(tmp, "test.npy"), N_EVAL)
        acc_fp32 = ort_top1(tmp, CNN, x, labels) if have_ort else None

        # --per-tensor
        m, _ = run(tmp, "per_tensor", "--per-tensor")
        if m:
            w = weight_dq_inputs(m)
            T.check(len(w) == 4 and all(s is not None and s.size == 1 for _, _, _, s in w),
                    f"per-tensor: {len(w)} weight DQs, scale sizes {[s.size for *_, s in w]}")
            T.check(all(not any(a.name == "axis" for a in dq.attribute) or s.ndim == 0
                        for _, dq, _, s in w), "per-tensor: scalar scales (no per-axis DQ)")

        # --weight-only
        m, path = run(tmp, "weight_only", "--weight-only")
        if m:
            hist = U.op_histogram(m)
            w = weight_dq_inputs(m)
            T.check(hist.get("QuantizeLinear", 0) == 0, f"weight-only: no QuantizeLinear ({dict(hist)})")
            T.check(len(w) == 4 and all(q is not None and q.dtype == np.int8 for _, _, q, _ in w),
                    f"weight-only: {len(w)} weighted nodes read int8 weights through DQ")
            prod = producers(m)
            act_dq = [n.name for n in m.graph.node if n.op_type in ("Conv", "Gemm")
                      and n.input[0] in prod and prod[n.input[0]].op_type == "DequantizeLinear"]
            T.check(not act_dq, f"weight-only: activations float {act_dq}")
            if have_ort:
                acc = ort_top1(tmp, path, x, labels)
                T.check(acc_fp32 - acc <= 0.005,
                        f"weight-only: ORT top-1 {acc:.4f} vs FP32 {acc_fp32:.4f} on {N_EVAL}")

        # --activation-type int8
        m, path = run(tmp, "act_int8", "--activation-type", "int8")
        if m:
            inits = U.initializers(m)
            prod, cons = producers(m), consumers(m)
            zps = [inits[n.input[2]] for n in m.graph.node
                   if n.op_type == "QuantizeLinear" and len(n.input) > 2]
            T.check(zps and all(z.dtype == np.int8 and not z.any() for z in zps),
                    f"int8 activations: {len(zps)} zero points, all int8 and 0: "
                    f"{sorted({(str(z.dtype), int(z.ravel()[0])) for z in zps})}")
            n_relu = sum(n.op_type == "Relu" for n in fp32.graph.node)
            relus = [n for n in m.graph.node if n.op_type == "Relu"]
            T.check(len(relus) == n_relu, f"int8 activations: Relu kept ({len(relus)}/{n_relu})")
            for r in relus:
                before = prod.get(r.input[0])
                after = cons.get(r.output[0], [])
                T.check(before is not None and before.op_type == "DequantizeLinear"
                        and after and all(c.op_type == "QuantizeLinear" for c in after),
                        f"int8 activations: Relu {r.name} has DQ before "
                        f"({before.op_type if before else None}) and Q after "
                        f"({[c.op_type for c in after]})")
            if have_ort:
                acc = ort_top1(tmp, path, x, labels)
                T.check(acc_fp32 - acc <= 0.01,
                        f"int8 activations: ORT top-1 {acc:.4f} vs FP32 {acc_fp32:.4f}")

        # --exclude
        target = "/fc1/Gemm"
        m, _ = run(tmp, "exclude", "--exclude", target)
        if m:
            prod = producers(m)
            inits = U.initializers(m)
            node = next((n for n in m.graph.node if n.name == target), None)
            if T.check(node is not None, f"exclude: node {target} still present"):
                dq_in = [i for i in node.input if i in prod and prod[i].op_type == "DequantizeLinear"]
                T.check(not dq_in, f"exclude: {target} reads no DequantizeLinear output ({dq_in})")
                T.check(node.input[1] in inits and inits[node.input[1]].dtype == np.float32,
                        f"exclude: {target} keeps its float weight {node.input[1]}")
            other = weight_dq_inputs(m)
            T.check(len(other) == 3, f"exclude: the 3 other weighted nodes stay quantized ({len(other)})")
        r = T.qconvert(CNN, "--calib", os.path.join(tmp, "calib"), "-o", os.path.join(tmp, "nx.onnx"),
                       "--exclude", "no_such_node", "--report", os.path.join(tmp, "nx.json"),
                       "--quiet", check_rc=False)
        warned = False
        if r.returncode == 0 and os.path.isfile(os.path.join(tmp, "nx.json")):
            warned = any("no_such_node" in w for w in json.load(open(os.path.join(tmp, "nx.json")))["warnings"])
        T.check(r.returncode == 2 or "no_such_node" in r.stderr or warned,
                f"exclude: unknown node name is reported (rc {r.returncode}, "
                f"stderr {r.stderr.strip()[:120]!r}, warning in report: {warned})")

        # --op-types Conv
        m, _ = run(tmp, "op_types", "--op-types", "Conv")
        if m:
            prod = producers(m)
            inits = U.initializers(m)
            gemms = [n for n in m.graph.node if n.op_type == "Gemm"]
            float_gemm = all(n.input[1] in inits and inits[n.input[1]].dtype == np.float32
                             and not any(i in prod and prod[i].op_type == "DequantizeLinear"
                                         for i in n.input) for n in gemms)
            T.check(len(gemms) == 2 and float_gemm, "op-types Conv: both Gemm stay float")
            convs = [n for n, *_ in weight_dq_inputs(m)]
            T.check(len(convs) == 2 and all(n.op_type == "Conv" for n in convs),
                    f"op-types Conv: the 2 Conv are quantized ({[n.op_type for n in convs]})")

        # HardSwish is rewritten to Mul/Add/Clip for int8 kernels, except under --weight-only
        # and for --exclude'd nodes.
        dw = onnx.load(DWNET)
        hs = [n.name for n in dw.graph.node if n.op_type == "HardSwish"]
        T.check(len(hs) >= 2 and all(hs), f"dwnet has named HardSwish nodes ({hs})")
        for tag, args, left in (("hs_default", [], 0), ("hs_weight_only", ["--weight-only"], len(hs)),
                                ("hs_exclude", ["--exclude", hs[0]], 1)):
            m, _ = run(tmp, tag, *args, model=DWNET)
            if m:
                got = [n.name for n in m.graph.node if n.op_type == "HardSwish"]
                T.check(len(got) == left and (left != 1 or got == [hs[0]]),
                        f"{tag}: {len(got)} HardSwish left (want {left}) {got}")

        # Cross-layer equalization rescales the ResNet's Conv -> Relu -> Conv weights; --no-equalize
        # keeps them as exported (the int8 weights then differ).
        _, eq_path = run(tmp, "eq_default", model=RESNET)
        _, neq_path = run(tmp, "eq_off", "--no-equalize", model=RESNET)
        if os.path.isfile(eq_path) and os.path.isfile(neq_path):
            T.check(T.file_bytes(eq_path) != T.file_bytes(neq_path), "--no-equalize changes the ResNet's weights")

        # --observer
        blobs = {}
        for obs in OBSERVERS:
            m, path = run(tmp, "obs_" + obs, "--observer", obs)
            if m:
                blobs[obs] = T.file_bytes(path)
        T.check(len(set(blobs.values())) >= 3,
                f"observers give different models ({len(set(blobs.values()))} distinct of {len(blobs)})")

        # Reports.
        rep = {e: os.path.join(tmp, "rep." + e) for e in ("json", "csv", "txt")}
        m, path = run(tmp, "report", *sum((["--report", p] for p in rep.values()), []))
        if m:
            check_json(rep["json"], path)
            check_csv(rep["csv"], rep["json"])
            try:
                txt = open(rep["txt"], encoding="utf-8").read()
                T.check(txt.startswith("qconvert: ") and "calibrated tensors" in txt
                        and "observer      mse" in txt, f"txt report: summary and tensor table "
                        f"({len(txt)} chars)")
            except OSError as e:
                T.check(False, f"txt report: {e}")

        check_errors(tmp)
    T.finish()


def check_json(path, out):
    try:
        j = json.load(open(path))
    except (OSError, ValueError) as e:
        T.check(False, f"json report: {e}")
        return
    num = (int, float)
    spec = [("model", str), ("output", str), ("fp32_bytes", int), ("quantized_bytes", int),
            ("size_ratio", num), ("nodes_total", int), ("nodes_quantized", int), ("observer", str),
            ("percentile", type(None)), ("activation_type", str), ("weight_type", str),
            ("per_channel", bool), ("weight_only", bool), ("calibration_samples", int),
            ("calibration_seconds", num), ("total_seconds", num), ("threads", int),
            ("ops", list), ("tensors", list), ("warnings", list)]
    bad = [k for k, t in spec if k not in j or not isinstance(j[k], t)
           or (t is int and isinstance(j[k], bool))]
    T.check(not bad, f"json report: required keys with documented types (bad: {bad})")
    keys = [k for k, _ in spec]
    T.check([k for k in j if k in keys] == keys, "json report: keys in the documented order")
    if bad:
        return
    T.check(j["observer"] == "mse" and j["activation_type"] == "uint8" and j["weight_type"] == "int8"
            and j["per_channel"] is True and j["weight_only"] is False
            and j["calibration_samples"] == 300 and j["quantized_bytes"] == os.path.getsize(out)
            and j["nodes_quantized"] <= j["nodes_total"],
            f"json report: values ({j['observer']}, {j['activation_type']}, "
            f"{j['calibration_samples']} samples, {j['quantized_bytes']} B)")
    ops_ok = all(isinstance(o.get("op_type"), str) and all(isinstance(o.get(k), int) for k in
                 ("params", "fp32_bytes", "quantized_bytes", "nodes", "nodes_quantized")) for o in j["ops"])
    ten_ok = all(isinstance(t.get("name"), str) and isinstance(t.get("scale"), float)
                 and isinstance(t.get("zero_point"), int) and t.get("qtype") in ("uint8", "int8")
                 and isinstance(t.get("nonfinite"), int) and isinstance(t.get("rmin"), num)
                 and isinstance(t.get("rmax"), num) for t in j["tensors"])
    T.check(j["ops"] and ops_ok, f"json report: {len(j['ops'])} ops entries well-typed")
    T.check(j["tensors"] and ten_ok, f"json report: {len(j['tensors'])} tensor entries well-typed")
    # The tensor table agrees with the model's Q nodes.
    m = onnx.load(out)
    inits = U.initializers(m)
    qscale = {n.input[0]: float(inits[n.input[1]]) for n in m.graph.node
              if n.op_type == "QuantizeLinear" and n.input[1] in inits}
    mismatch = [t["name"] for t in j["tensors"] if t["name"] in qscale
                and abs(qscale[t["name"]] - t["scale"]) > 1e-7 * abs(t["scale"])]
    T.check(qscale and not mismatch, f"json report: scales match the model's Q nodes {mismatch[:3]}")


def check_csv(path, json_path):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        j = json.load(open(json_path))
    except (OSError, ValueError) as e:
        T.check(False, f"csv report: {e}")
        return
    T.check(rows and rows[0] == ["name", "rmin", "rmax", "scale", "zero_point", "qtype", "nonfinite"],
            f"csv report: header {rows[0] if rows else None}")
    names = [r[0] for r in rows[1:]]
    T.check(names == [t["name"] for t in j["tensors"]]
            and all(float(r[3]) == t["scale"] for r, t in zip(rows[1:], j["tensors"])),
            f"csv report: {len(names)} rows == json tensors")


def check_errors(tmp):
    calib = os.path.join(tmp, "calib")
    # -o into a missing directory.
    missing = os.path.join(tmp, "no_such_dir")
    r = T.qconvert(CNN, "--calib", calib, "-o", os.path.join(missing, "x.onnx"), "--quiet",
                   check_rc=False)
    T.check(r.returncode == 2 and not os.path.exists(missing) and r.stderr.count("\n") == 1,
            f"-o into a missing dir: rc {r.returncode}, nothing created, one line "
            f"{r.stderr.strip()!r}")
    # Output == input (also through another spelling of the path).
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    model = os.path.join(work, "m.onnx")
    shutil.copy(CNN, model)
    before = T.file_bytes(model)
    for spelled in (model, os.path.join(work, ".", "m.onnx")):
        r = T.qconvert(model, "--calib", calib, "-o", spelled, "--quiet", check_rc=False)
        T.check(r.returncode == 2 and T.file_bytes(model) == before,
                f"-o {spelled[len(tmp) + 1:]} == input: rc {r.returncode}, input untouched "
                f"{r.stderr.strip()!r}")
    # Default output path.
    r = T.qconvert(model, "--calib", calib, "--quiet", check_rc=False)
    default = os.path.join(work, "m.int8.onnx")
    T.check(r.returncode == 0 and os.path.isfile(default),
            f"default output: rc {r.returncode}, {sorted(os.listdir(work))}")
    T.check(sorted(os.listdir(work)) == ["m.int8.onnx", "m.onnx"],
            f"default output: no stray files ({sorted(os.listdir(work))})")


if __name__ == "__main__":
    main()
