#!/usr/bin/python3
"""End-to-end targets of the main job on every demo model (demo/*.onnx, Fashion-MNIST).

For each model: calibrate on 300 train PNGs with the defaults (`qconvert MODEL --calib DIR`),
then run FP32 and INT8 in onnxruntime on all 10,000 test images and check

  * accuracy: INT8 top-1 >= FP32 top-1 - 0.5 pt (both measured in ORT in this run);
  * parameter bytes (sum of initializer bytes, computed with onnx here, not taken from the
    report) shrink >= 3.8x, and so does the file (the report's fp32_bytes / quantized_bytes /
    size_ratio must match the files). An output channel of a quantized weight costs a fixed
    ~13 bytes in QDQ form (fp32 weight scale, int8 zero point, int32 bias, fp32 bias scale)
    and each Q/DQ node some protobuf bytes, so 3.8x needs layers with hundreds of inputs per
    output channel: the demo models are built that way (docs/demo.md). The QDQ floor
    FP32 bytes / (weight elements + 12 * output channels) is printed for reference;
  * onnx.checker.check_model(full_check=True) passes on the output;
  * the ORT-optimized INT8 graph (--optimized-model) has no float Conv/Gemm/MatMul left (they
    became QLinearConv/QGemm/QLinearMatMul/...); the op histogram is printed.

Needs onnxruntime-node in .deps/node (exit 77 otherwise) and the Fashion-MNIST dataset.
"""
import json
import os

import numpy as np
import onnx

import e2e_util as U
import qc_test as T

CALIB_COUNT = 300
MAX_TOP1_DROP = 0.005
MIN_RATIO = 3.8


def weight_floor_bytes(model):
    """Smallest QDQ parameter bytes: int8 weights + 12 B per output channel, per quantized op."""
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0
    for n in model.graph.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul", "ConvTranspose") or len(n.input) < 2:
            continue
        dims = inits.get(n.input[1])
        if dims is None:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Conv":
            cout = dims[0]
        elif n.op_type == "ConvTranspose":
            cout = dims[1] * attrs.get("group", 1)
        elif n.op_type == "Gemm":
            cout = dims[0] if attrs.get("transB", 0) else dims[-1]
        else:
            cout = dims[-1]
        total += int(np.prod(dims)) + 12 * cout
    return total


def main():
    U.require_fmnist()
    T.require_ort()
    with T.tempdir("qc_e2e_fmnist_") as tmp:
        calib = U.export_fmnist_pngs(os.path.join(tmp, "calib"), CALIB_COUNT, split="train")
        n_calib = len(os.listdir(calib))
        T.check(n_calib == CALIB_COUNT, f"exported {n_calib} calibration PNGs")
        x, labels = U.fmnist_test_npy(os.path.join(tmp, "test.npy"))
        rows = []
        for path in U.demo_models():
            name = os.path.splitext(os.path.basename(path))[0]
            out = os.path.join(tmp, name + ".int8.onnx")
            rep = os.path.join(tmp, name + ".json")
            r = T.qconvert(path, "--calib", calib, "-o", out, "--report", rep, "--quiet")
            if not T.check(r.returncode == 0 and os.path.isfile(out),
                           f"{name}: quantize rc {r.returncode} {r.stderr.strip()[:200]}"):
                continue
            ok, err = T.checker_ok(out)
            T.check(ok, f"{name}: onnx.checker full_check {err}")

            # Accuracy on the full test set, FP32 vs INT8, both in ORT.
            opt = os.path.join(tmp, name + ".ort_opt.onnx")
            try:
                (lf,), _ = T.ort_run(path, {"input": x}, os.path.join(tmp, name + "_fp32"),
                                     threads=2)
                (lq,), _ = T.ort_run(out, {"input": x}, os.path.join(tmp, name + "_int8"),
                                     threads=2, optimized_model=opt)
            except RuntimeError as e:
                T.check(False, f"{name}: {e}")
                continue
            acc_f = float((lf.argmax(1) == labels).mean())
            acc_q = float((lq.argmax(1) == labels).mean())
            agree = float((lf.argmax(1) == lq.argmax(1)).mean())
            meta = json.load(open(os.path.join(T.DEMO, name + ".json")))
            T.check(abs(acc_f - meta["test_accuracy"]) <= 0.005,
                    f"{name}: FP32 ORT top-1 {acc_f:.4f} vs recorded {meta['test_accuracy']:.4f}")
            T.check(acc_f - acc_q <= MAX_TOP1_DROP,
                    f"{name}: INT8 top-1 {acc_q:.4f} vs FP32 {acc_f:.4f} "
                    f"(drop {100 * (acc_f - acc_q):+.2f} pt, limit {100 * MAX_TOP1_DROP} pt; "
                    f"agreement {agree:.4f}, output SQNR {T.sqnr_db(lf, lq):.1f} dB)")

            # Parameter bytes, computed independently.
            mf, mq = onnx.load(path), onnx.load(out)
            pf, pq = U.param_bytes(mf), U.param_bytes(mq)
            floor = pf / weight_floor_bytes(mf)
            need = MIN_RATIO
            T.check(pf / pq >= need,
                    f"{name}: parameter bytes {pf} -> {pq} = {pf / pq:.3f}x "
                    f"(need >= {need:.3f}; QDQ floor {floor:.3f}x)")

            # File sizes: report vs files, and the ratio.
            sf, sq = os.path.getsize(path), os.path.getsize(out)
            try:
                j = json.load(open(rep))
                T.check(j["fp32_bytes"] == sf and j["quantized_bytes"] == sq
                        and abs(j["size_ratio"] - sf / sq) < 1e-3,
                        f"{name}: report sizes {j['fp32_bytes']}/{j['quantized_bytes']} "
                        f"ratio {j['size_ratio']:.4f} == files {sf}/{sq} {sf / sq:.4f}")
            except (OSError, ValueError, KeyError) as e:
                T.check(False, f"{name}: report {rep}: {e}")
            T.check(sf / sq >= MIN_RATIO, f"{name}: file-size ratio {sf / sq:.3f} >= {MIN_RATIO}")

            # ORT fused everything into integer kernels.
            if T.check(os.path.isfile(opt), f"{name}: ORT wrote the optimized model"):
                hist = U.op_histogram(opt)
                print(f"info {name}: ORT-optimized ops: "
                      + ", ".join(f"{k}={v}" for k, v in sorted(hist.items())))
                floats = {k: v for k, v in hist.items() if k.split(".")[-1] in U.FLOAT_COMPUTE_OPS}
                qlin = sum(v for k, v in hist.items()
                           if k.split(".")[-1] in ("QLinearConv", "QGemm", "QLinearMatMul",
                                                   "MatMulInteger", "ConvInteger"))
                T.check(not floats and qlin > 0,
                        f"{name}: optimized graph float compute ops {floats or 'none'}, "
                        f"{qlin} integer compute ops")
            rows.append((name, acc_f, acc_q, pf / pq, sf / sq))

        print(f"\n{'model':16} {'fp32 top1':>9} {'int8 top1':>9} {'param x':>8} {'file x':>7}")
        for name, a, b, pr, fr in rows:
            print(f"{name:16} {a:9.4f} {b:9.4f} {pr:8.3f} {fr:7.3f}")
    T.finish()


if __name__ == "__main__":
    main()
