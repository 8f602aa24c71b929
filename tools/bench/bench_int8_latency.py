#!/usr/bin/python3
"""INT8 (qconvert output) vs FP32 latency in onnxruntime, and what ORT did not fuse.

    /usr/bin/python3 tools/bench/bench_int8_latency.py [--threads N] [--rounds R] [--repeat K]
        [--models cnn,resnet,dwnet,blazeface,ppocr] [--batches 1,32] [--qconvert PATH] [--json FILE]

Each model is quantized once with defaults (`qconvert MODEL --calib DIR`; Fashion-MNIST: 300
train PNGs, BlazeFace / PP-OCR cls: 12 scikit-image photos with the models' preprocessing).
Then, per model and batch, R interleaved rounds run `node tools/ort_run.mjs --repeat K
--warmup 3` on the FP32 and the INT8 model with the same thread count and the same real-data
input; a process's per-run median is one sample. The table shows the median of the R samples
per side and the median of the R per-round ratios FP32/INT8 (> 1: INT8 is faster).
BlazeFace has a fixed batch of 1, so it runs at batch 1 only.

The INT8 model's ORT-optimized graph (`--optimized-model`, level all) is dumped and every node
that did not become an integer kernel is listed: leftover QuantizeLinear/DequantizeLinear and
float compute between them. Layout/shape nodes (Transpose, Reshape, Flatten, ...) are listed
as such; they are cheap but show where int8 tensors leave the fused path.
Timings are not asserted anywhere; numbers in docs/benchmarks.md.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qc_models as qm  # noqa: E402

FUSED = {"QLinearConv", "QGemm", "QLinearMatMul", "MatMulIntegerToFloat", "QLinearAdd", "QLinearMul",
         "QLinearConcat", "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearSigmoid",
         "QLinearSoftmax", "QLinearLeakyRelu", "NhwcMaxPool", "QLinearReduceMean", "ConvInteger",
         "MatMulInteger", "DynamicQuantizeLinear", "QLinearWhere"}
LAYOUT = {"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Gather", "Slice",
          "Concat", "Cast", "ConstantOfShape", "Identity"}
CALIB_PHOTOS = ["astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png",
                "grass.png", "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png",
                "retina.jpg"]


def prepare_calib(tmp):
    from PIL import Image
    fm = os.path.join(tmp, "calib_fmnist")
    exe = os.path.join(os.path.dirname(qm.find_qconvert()), "tools", "idx2png")
    train = qm.FMNIST_IMAGES.replace("t10k", "train")
    if os.path.isfile(exe):
        subprocess.run([exe, train, fm, "--count", "300"], check=True, capture_output=True)
    else:  # idx2png not built: decode the IDX file here
        import gzip
        with gzip.open(train, "rb") as f:
            px = np.frombuffer(f.read(), np.uint8, 300 * 784, 16).reshape(300, 28, 28)
        os.makedirs(fm)
        for i, img in enumerate(px):
            Image.fromarray(img).save(os.path.join(fm, f"{i:06d}.png"))
    ph = os.path.join(tmp, "calib_photos")
    os.makedirs(ph)
    for f in CALIB_PHOTOS:
        Image.open(os.path.join(qm.SKIMAGE_DATA, f)).convert("RGB").save(
            os.path.join(ph, os.path.splitext(f)[0] + ".png"))
    return fm, ph


def model_specs(keys, fm, ph):
    out = []
    for key in keys:
        if key in ("cnn", "resnet", "dwnet"):
            out.append((key, os.path.join(qm.SOURCE_ROOT, "demo", f"fmnist_{key}.onnx"), fm, [],
                        qm.fmnist_images, True))
        elif key == "blazeface":
            out.append((key, qm.BLAZEFACE, ph, ["--scale", "1", "--mean", "127.5", "--std", "127.5"],
                        qm.blazeface_images, False))
        elif key == "ppocr":
            out.append((key, qm.PPOCR_CLS, ph, ["--input-shape", "1x3x48x192", "--mean", "0.5",
                                                "--std", "0.5"], qm.ppocr_images, True))
        else:
            raise SystemExit(f"unknown model key {key}")
    return out


def unfused(opt_path):
    """(op histogram of the optimized graph, list of (op, name) that are not integer kernels)."""
    m = onnx.load(opt_path)
    hist = collections.Counter()
    left = []
    prod = {o: n for n in m.graph.node for o in n.output}
    for n in m.graph.node:
        hist[n.op_type] += 1
        src = prod.get(n.input[0]) if n.input else None
        # ORT drops DQ/Q around MaxPool and runs it on uint8 in NCHW when NhwcMaxPool does not apply.
        on_int8 = n.op_type == "MaxPool" and src is not None and src.op_type in FUSED
        if n.op_type not in FUSED and not on_int8:
            left.append((n.op_type, n.name or "(unnamed)"))
    return hist, left


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--models", default="cnn,resnet,dwnet,blazeface,ppocr")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--qconvert", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    why = qm.deps_missing()
    if why:
        print(f"bench_int8_latency: {why}", file=sys.stderr)
        return 2
    qc = a.qconvert or qm.find_qconvert()
    batches = [int(b) for b in a.batches.split(",")]
    rows, fusion = [], {}
    with tempfile.TemporaryDirectory(prefix="qc_bench_int8_") as tmp:
        fm, ph = prepare_calib(tmp)
        cfgs = []
        for key, model, calib, pre, images, dyn in model_specs(a.models.split(","), fm, ph):
            q = os.path.join(tmp, key + ".int8.onnx")
            r = subprocess.run([qc, model, "--calib", calib, *pre, "-o", q, "--quiet"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{key}: qconvert failed: {r.stderr.strip()}", file=sys.stderr)
                continue
            name = qm.input_name(model)
            for n in batches:
                if n != 1 and not dyn:
                    continue
                npy = os.path.join(tmp, f"{key}_b{n}.npy")
                np.save(npy, images(n))
                cfgs.append({"label": f"{key} N={n}", "key": key, "fp32": model, "int8": q,
                             "name": name, "npy": npy})
        samples = {c["label"]: ([], []) for c in cfgs}
        for rnd in range(a.rounds):
            for c in cfgs:
                order = ("fp32", "int8") if rnd % 2 == 0 else ("int8", "fp32")
                for side in order:
                    _, ms = qm.run_ort(c[side], c["name"], c["npy"], os.path.join(tmp, "out"),
                                       threads=a.threads, repeat=a.repeat, warmup=3)
                    samples[c["label"]][0 if side == "fp32" else 1].append(ms)
            print(f"round {rnd + 1}/{a.rounds} done", file=sys.stderr, flush=True)
        for c in cfgs:
            f, i = samples[c["label"]]
            ratios = [x / y for x, y in zip(f, i)]
            rows.append({"config": c["label"], "fp32_ms": statistics.median(f),
                         "int8_ms": statistics.median(i), "speedup": statistics.median(ratios),
                         "speedup_min": min(ratios), "speedup_max": max(ratios),
                         "fp32_samples": f, "int8_samples": i})
            if c["key"] not in fusion:
                opt = os.path.join(tmp, c["key"] + ".int8.ort_opt.onnx")
                cmd = ["node", qm.ORT_RUN, c["int8"], "--input", f"{c['name']}={c['npy']}",
                       "--output-dir", os.path.join(tmp, "out"), "--threads", str(a.threads),
                       "--optimized-model", opt]
                subprocess.run(cmd, check=True, capture_output=True)
                fusion[c["key"]] = unfused(opt)
    print(f"onnxruntime-node 1.30.0, threads={a.threads} rounds={a.rounds} repeat={a.repeat}")
    hdr = f'{"config":<16} {"FP32 ms":>9} {"INT8 ms":>9} {"FP32/INT8":>9}  {"range":>13}'
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f'{r["config"]:<16} {r["fp32_ms"]:>9.3f} {r["int8_ms"]:>9.3f} {r["speedup"]:>9.2f}  '
              f'{r["speedup_min"]:>5.2f} - {r["speedup_max"]:<5.2f}')
    print("\nORT-optimized INT8 graphs: nodes that are not integer kernels")
    for key, (hist, left) in fusion.items():
        kernels = sum(v for k, v in hist.items() if k in FUSED or k == "MaxPool") - sum(
            1 for op, _ in left if op == "MaxPool")
        print(f"  {key}: {sum(hist.values())} nodes, {kernels} integer kernels; "
              + ", ".join(f"{k}={v}" for k, v in sorted(hist.items())))
        groups = collections.defaultdict(list)
        for op, name in left:
            groups[op].append(name)
        for op, names in sorted(groups.items()):
            kind = "layout" if op in LAYOUT else ("q/dq" if op.endswith("QuantizeLinear") else "FLOAT")
            shown = ", ".join(names[:4]) + (f", ... ({len(names)})" if len(names) > 4 else "")
            print(f"    {kind:<6} {op:<18} {shown}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": a.threads, "rounds": a.rounds, "repeat": a.repeat, "rows": rows,
                       "unfused": {k: v[1] for k, v in fusion.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
