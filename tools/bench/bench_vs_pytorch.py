#!/usr/bin/python3
"""Whole-process time of qconvert's main job vs PyTorch FX post-training quantization.

    /usr/bin/python3 tools/bench/bench_vs_pytorch.py [--count 500] [--runs 3] [--threads 2]
        [--batch 1] [--qconvert PATH] [--json FILE]

Both sides do the same job on the same 500 Fashion-MNIST train PNGs with the demo CNN:
  qconvert: `qconvert demo/fmnist_cnn.onnx --calib DIR_500 -o OUT --batch B --threads T --quiet`
  PyTorch:  this script re-run as `--torch-worker DIR_500 OUT`: rebuild the CNN from
            tools/train_fmnist.py (imported), load the ONNX initializers into it, eval(),
            prepare_fx with a QConfig of HistogramObserver activations (quint8, affine) and
            per-channel symmetric MinMax int8 weights (first available engine of
            x86, fbgemm, onednn, qnnpack: Debian's torch 1.13 has onednn), decode the PNGs (PIL, /255),
            calibrate in batches of B, convert_fx, torch.save the quantized state_dict.
Each side is timed as a whole process (subprocess, wall clock, interpreter / library start-up
included), interleaved, median of --runs. The ratio is torch / qconvert. One extra untimed
run of each checks that the two quantized models agree with FP32 on 1000 test images (top-1).
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FMNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path, n=None):
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    a = np.frombuffer(data, np.uint8, int(np.prod(dims)), 4 + 4 * ndim).reshape(dims)
    return a[:n] if n else a


def build_torch_cnn():
    import onnx
    import torch
    from onnx import numpy_helper
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import train_fmnist  # noqa: E402  (the demo models' definitions)
    model = train_fmnist.CNN()
    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
             for t in onnx.load(os.path.join(ROOT, "demo", "fmnist_cnn.onnx")).graph.initializer}
    sd = model.state_dict()
    missing = [k for k in sd if k not in inits and not k.endswith("num_batches_tracked")]
    shape = [k for k in sd if k in inits and tuple(inits[k].shape) != tuple(sd[k].shape)]
    if missing or shape:
        raise SystemExit(f"demo/fmnist_cnn.onnx does not match tools/train_fmnist.py's CNN "
                         f"(missing {missing}, other shapes {shape[:3]}): re-export the demo model")
    model.load_state_dict({k: inits.get(k, v) for k, v in sd.items()})
    return model.eval()


def torch_worker(calib_dir, out, batch, threads, eval_n):
    import numpy as np
    import torch
    from PIL import Image
    from torch.ao.quantization import QConfig, QConfigMapping
    from torch.ao.quantization.observer import HistogramObserver, PerChannelMinMaxObserver
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.set_num_threads(threads)
    engine = next(e for e in ("x86", "fbgemm", "onednn", "qnnpack")
                  if e in torch.backends.quantized.supported_engines)
    torch.backends.quantized.engine = engine
    model = build_torch_cnn()
    qconfig = QConfig(activation=HistogramObserver.with_args(dtype=torch.quint8,
                                                             qscheme=torch.per_tensor_affine),
                      weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                                qscheme=torch.per_channel_symmetric))
    example = (torch.zeros(1, 1, 28, 28),)
    prepared = prepare_fx(model, QConfigMapping().set_global(qconfig), example)
    files = sorted(os.path.join(calib_dir, f) for f in os.listdir(calib_dir) if f.endswith(".png"))
    with torch.no_grad():
        for i in range(0, len(files), batch):
            x = np.stack([np.asarray(Image.open(f).convert("L"), np.float32) / 255.0
                          for f in files[i:i + batch]])[:, None]
            prepared(torch.from_numpy(x))
    quantized = convert_fx(prepared)
    torch.save(quantized.state_dict(), out)
    if eval_n:
        imgs = read_idx(f"{FMNIST}/t10k-images-idx3-ubyte.gz", eval_n)
        labels = read_idx(f"{FMNIST}/t10k-labels-idx1-ubyte.gz", eval_n)
        x = torch.from_numpy(imgs.astype(np.float32)[:, None] / 255.0)
        with torch.no_grad():
            pf = model(x).argmax(1).numpy()
            pq = quantized(x).argmax(1).numpy()
        print(json.dumps({"fp32_top1": float((pf == labels).mean()),
                          "int8_top1": float((pq == labels).mean()),
                          "agreement": float((pf == pq).mean()), "samples": len(files),
                          "engine": engine}))


def timed(cmd, env=None):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return dt, r.stdout


def qconvert_accuracy(model, n, tmp):
    import numpy as np
    sys.path.insert(0, HERE)
    import qc_models as qm
    if qm.deps_missing():
        return None
    imgs = read_idx(f"{FMNIST}/t10k-images-idx3-ubyte.gz", n)
    labels = read_idx(f"{FMNIST}/t10k-labels-idx1-ubyte.gz", n)
    npy = os.path.join(tmp, "eval.npy")
    np.save(npy, imgs.astype(np.float32)[:, None] / 255.0)
    (lf,), _ = qm.run_ort(os.path.join(ROOT, "demo", "fmnist_cnn.onnx"), "input", npy,
                          os.path.join(tmp, "of"))
    (lq,), _ = qm.run_ort(model, "input", npy, os.path.join(tmp, "oq"))
    return {"fp32_top1": float((lf.argmax(1) == labels).mean()),
            "int8_top1": float((lq.argmax(1) == labels).mean()),
            "agreement": float((lf.argmax(1) == lq.argmax(1)).mean())}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--torch-worker":
        calib, out, batch, threads, eval_n = sys.argv[2:7]
        torch_worker(calib, out, int(batch), int(threads), int(eval_n))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1, help="calibration batch, both sides (default 1)")
    ap.add_argument("--qconvert", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    import qc_models as qm
    qc = a.qconvert or qm.find_qconvert()
    idx2png = os.path.join(os.path.dirname(qc), "tools", "idx2png")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    with tempfile.TemporaryDirectory(prefix="qc_bench_torch_") as tmp:
        calib = os.path.join(tmp, f"calib_{a.count}")
        subprocess.run([idx2png, f"{FMNIST}/train-images-idx3-ubyte.gz", calib, "--count", str(a.count)],
                       check=True, capture_output=True)
        out_q = os.path.join(tmp, "cnn.int8.onnx")
        out_t = os.path.join(tmp, "cnn_fx_int8.pt")
        qcmd = [qc, os.path.join(ROOT, "demo", "fmnist_cnn.onnx"), "--calib", calib, "-o", out_q,
                "--batch", str(a.batch), "--threads", str(a.threads), "--quiet"]
        tcmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", calib, out_t, str(a.batch),
                str(a.threads)]
        # Warm the page cache for both (binaries, torch's .so files, the PNGs).
        timed(qcmd, env)
        _, tinfo = timed(tcmd + ["1000"], env)
        tq, tt = [], []
        for r in range(a.runs):
            for side in (("q", "t") if r % 2 == 0 else ("t", "q")):
                if side == "q":
                    tq.append(timed(qcmd, env)[0])
                else:
                    tt.append(timed(tcmd + ["0"], env)[0])
            print(f"run {r + 1}/{a.runs}: qconvert {tq[-1]:.3f} s, torch {tt[-1]:.3f} s", file=sys.stderr)
        qacc = qconvert_accuracy(out_q, 1000, tmp)
        tacc = json.loads(tinfo.strip().splitlines()[-1])
    mq, mt = statistics.median(tq), statistics.median(tt)
    print(f"demo CNN, {a.count} calibration PNGs, batch {a.batch}, {a.threads} threads, "
          f"median of {a.runs} whole-process runs")
    print(f'{"side":<34} {"wall s":>8}   runs')
    print(f'{"qconvert (mse observer default)":<34} {mq:>8.3f}   ' + " ".join(f"{x:.3f}" for x in tq))
    print(f'{"PyTorch FX (Histogram/PerChMinMax)":<34} {mt:>8.3f}   ' + " ".join(f"{x:.3f}" for x in tt))
    print(f"ratio torch / qconvert: {mt / mq:.1f}x")
    if qacc:
        print(f"check, 1000 test images: qconvert INT8 (ORT) top-1 {qacc['int8_top1']:.4f}, "
              f"FP32 {qacc['fp32_top1']:.4f}, agreement {qacc['agreement']:.4f}")
    print(f"check, 1000 test images: torch FX INT8 ({tacc['engine']}) top-1 {tacc['int8_top1']:.4f}, "
          f"FP32 {tacc['fp32_top1']:.4f}, agreement {tacc['agreement']:.4f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"count": a.count, "batch": a.batch, "threads": a.threads, "qconvert_s": tq,
                       "torch_s": tt, "ratio": mt / mq, "qconvert_check": qacc, "torch_check": tacc}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
