#!/usr/bin/python3
"""--min-sqnr on a real model: the FP32 fallback meets its target, generalises, and is a function of
its inputs only (meson: e2e_real_models_minsqnr).

BlazeFace front (.deps/models) with `--min-sqnr 25 --eval VAL`. Calibration: 10 of scikit-image's
19 photos (every other one) and LFW faces 0-19. Tuning (VAL): LFW faces 30-49. Evaluation: LFW
faces 50-79 for the SQNR, the same faces plus the other 9 photos for the face/no-face decisions.
The SQNR is tuned and checked on one kind of image, faces. Tuning on faces and checking the SQNR
on photos as well was the knife edge behind issue 12: on a photo without a face every score logit
is far below zero, the pooled SQNR is dominated by errors in logits that decide nothing, and the
kept set fitted to faces fell 6 dB short there (and no kept set of at most half the nodes reaches
25 dB on such photos: measured 19.98 dB with 32 of 64 kept).

Checks:
  * the report's evaluation on the tuning data meets the target, and the fallback says it did
    (a fallback that keeps nothing, or stops early, fails here: plain INT8 is ~9 dB short);
  * the nodes are ranked on 8 of the 20 tuning faces and the kept set confirmed on all 20 (the
    report's warning says so), and the SQNR above is the whole set's;
  * `--threads 1` and `--threads 2` give a byte-identical model (the kept set is a function of the
    model, data and options; the FP32 engine is deterministic, docs/engine.md);
  * onnxruntime on faces the fallback never saw: every output's pooled SQNR >= MIN_EVAL_SQNR_DB,
    5 dB under the target (the margin is for unseen faces and for onnxruntime's integer kernels
    against qconvert's simulation, not for machines: the model is the same bytes everywhere); the
    face/no-face decisions of INT8 equal FP32's on every face and on all but MAX_DECISION_FLIPS
    of the unseen photos;
  * onnx.checker(full_check), BatchNormalization folded, no float Conv beyond the kept nodes.
Needs .deps (onnxruntime-node, the model) and scikit-image data; exits 77 otherwise.

First, without .deps, the search's group testing on a synthetic chain of CHAIN 1x1 Convs in which
one pair is very sensitive (the first adds 40x channel 0 to every channel, the second takes it
away again: int8 loses the rest of the signal under that range) and every other Conv alone is
near-harmless: the fallback meets --min-sqnr 20 keeping the pair in FP32 and nothing farther than
2 nodes from it (the neighbours' quantized outputs and inputs carry the pair's range too), ranks the chain in
fewer trials than it has nodes (windows of 8, node by node in those within 6 dB of the target: 20 of 32),
and `--threads 1` and `--threads 2` write the same bytes.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

import accuracy as A
import e2e_util as U
import qc_test as T
import realdata as R

PHOTOS = sorted(["astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png",
                 "clock_motion.png", "coffee.png", "coins.png", "grass.png", "gravel.png",
                 "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png",
                 "motorcycle_right.png", "page.png", "retina.jpg", "rocket.jpg", "text.png"])
FACES = dict(calib=range(0, 20), val=range(30, 50), eval=range(50, 80))
TARGET_DB = 25.0
MIN_EVAL_SQNR_DB = 20.0
MAX_DECISION_FLIPS = 1  # photos only; faces must all agree
INPUT = "input:0"
CHAIN, PAIR = 32, (12, 13)  # PAIR: the sensitive Convs' positions in the chain


def sensitive_chain(path):
    """CHAIN 1x1 Convs on 4 channels, each near the identity, but the PAIR's first adds 40x
    channel 0 to every channel and the second (its exact inverse, Sherman-Morrison) removes it."""
    rng = np.random.default_rng(3)
    spike = np.eye(4, dtype=np.float64) + 40.0 * np.outer(np.ones(4), np.eye(4)[0])
    nodes, inits, x = [], [], "x"
    for i in range(CHAIN):
        w = np.eye(4) + rng.normal(0, 0.05, (4, 4))
        if i == PAIR[0]:
            w = spike
        elif i == PAIR[1]:
            w = np.linalg.inv(spike)
        inits.append(numpy_helper.from_array(w.astype(np.float32)[:, :, None, None], f"w{i}"))
        y = "y" if i == CHAIN - 1 else f"t{i}"
        nodes.append(helper.make_node("Conv", [x, f"w{i}"], [y], name=f"conv{i}"))
        x = y
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, path)
    calib = os.path.join(os.path.dirname(path), "chain_calib")
    os.makedirs(calib)
    for i in range(16):
        np.save(os.path.join(calib, f"{i:02d}.npy"), rng.normal(0, 1, (1, 4, 16, 16)).astype(np.float32))
    return calib


def check_group_testing(tmp):
    name, path = "chain", os.path.join(tmp, "chain.onnx")
    calib = sensitive_chain(path)
    outs, notes = [], []
    for threads in (1, 2):
        out, rep = os.path.join(tmp, f"chain.t{threads}.onnx"), os.path.join(tmp, f"chain.t{threads}.json")
        r = T.qconvert(path, "--calib", calib, "--min-sqnr", "20", "--threads", str(threads), "-o", out,
                       "--report", rep, "--quiet", check_rc=False)
        if not T.check(r.returncode == 0, f"{name}: --min-sqnr 20 --threads {threads}: rc {r.returncode}",
                       r.stderr.strip()[-300:]):
            return
        with open(rep) as f:
            notes.append([w for w in json.load(f)["warnings"] if w.startswith("--min-sqnr")])
        with open(out, "rb") as f:
            outs.append(f.read())
    T.check(outs[0] == outs[1], f"{name}: --threads 1 and 2 give byte-identical models")
    kept_note = next((w for w in notes[0] if " kept " in w), "")
    rank_note = next((w for w in notes[0] if " compute nodes in " in w), "")
    print(f"info {name}: {kept_note}\ninfo {name}: {rank_note}")
    kept = {f"conv{i}" for i in range(CHAIN) if f" conv{i} (" in kept_note}
    pair = {f"conv{i}" for i in PAIR}
    near = {f"conv{i}" for i in range(PAIR[0] - 2, PAIR[1] + 3)}
    T.check(kept_note and "target not reached" not in kept_note and pair <= kept <= near,
            f"{name}: meets --min-sqnr 20 keeping the sensitive pair {sorted(pair)} in FP32 and nothing farther "
            f"than 2 nodes from it (kept {sorted(kept)})")
    trials = int(rank_note.split(" compute nodes in ")[1].split()[0]) if rank_note else CHAIN
    T.check(f"ranked {CHAIN} compute nodes" in rank_note and trials < CHAIN,
            f"{name}: the {CHAIN} Convs are ranked in fewer trials than nodes ({trials})")


def image(name):
    """A scikit-image photo, or "lfw:I": LFW image I (grey, 25x25), as RGB."""
    if name.startswith("lfw:"):
        return Image.fromarray(R.face(int(name[4:]))).convert("RGB")
    return Image.fromarray(R.photo(name))


def write_pngs(names, d):
    os.makedirs(d)
    for f in names:
        image(f).save(os.path.join(d, os.path.splitext(f.replace(":", "_"))[0] + ".png"))
    return d


def split():
    faces = {k: [f"lfw:{i}" for i in v] for k, v in FACES.items()}
    return dict(calib=PHOTOS[0::2] + faces["calib"], val=faces["val"], eval=faces["eval"],
                photos=PHOTOS[1::2])


def quantize(tmp, tag, calib, val, threads):
    out, rep = os.path.join(tmp, tag + ".int8.onnx"), os.path.join(tmp, tag + ".json")
    r = T.qconvert(U.BLAZEFACE, "--calib", calib, "--scale", "1", "--mean", "127.5", "--std", "127.5",
                   "--min-sqnr", str(TARGET_DB), "--eval", val, "--threads", str(threads), "-o", out,
                   "--report", rep, "--quiet", check_rc=False)
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    if not T.check(r.returncode == 0 and os.path.isfile(out) and os.path.isfile(rep),
                   f"{tag}: quantize with --min-sqnr {TARGET_DB}: rc {r.returncode} {last}"):
        return None, None
    with open(rep) as f:
        return out, json.load(f)


def fallback_note(report):
    """The fallback's warning: "--min-sqnr 25.0: kept N most sensitive nodes in FP32 (...)"."""
    notes = [w for w in report["warnings"] if w.startswith("--min-sqnr") and " kept " in w]
    return notes[0] if notes else ""


def main():
    with T.tempdir("qc_e2e_minsqnr_chain_") as tmp:
        check_group_testing(tmp)
    if not os.path.isfile(U.BLAZEFACE):
        T.skip(f"{U.BLAZEFACE} is missing (run tools/fetch_deps.sh)")
    T.require_ort()
    why = R.missing()
    if why:
        T.skip(why)
    with T.tempdir("qc_e2e_minsqnr_") as tmp:
        check(tmp)
    T.finish()


def check(tmp):
    name, data = "blazeface_minsqnr", split()
    calib = write_pngs(data["calib"], os.path.join(tmp, "calib"))
    val = write_pngs(data["val"], os.path.join(tmp, "val"))
    out, rep = quantize(tmp, "t1", calib, val, threads=1)
    out2, _ = quantize(tmp, "t2", calib, val, threads=2)
    if not out or not out2:
        return
    with open(out, "rb") as f1, open(out2, "rb") as f2:
        T.check(f1.read() == f2.read(), f"{name}: --threads 1 and 2 give byte-identical models")

    note = fallback_note(rep)
    kept = int(note.split(" kept ")[1].split()[0]) if note else 0
    print(f"info {name}: {note or 'no fallback note'}")
    tuned = rep.get("eval", {}).get("output_sqnr_db")
    T.check(note and "target not reached" not in note and tuned is not None and tuned >= TARGET_DB,
            f"{name}: output SQNR on the tuning data {tuned} dB meets --min-sqnr {TARGET_DB} "
            f"with {kept} nodes kept in FP32")
    subset = [w for w in rep["warnings"] if w.startswith("--min-sqnr") and " ranked on " in w]
    T.check(subset and f"ranked on 8 of {len(data['val'])} evaluation samples" in subset[0],
            f"{name}: the ranking ran on 8 of the {len(data['val'])} tuning samples and was confirmed on all "
            f"({subset or 'no note'})")
    T.check(rep["calibration_samples"] == len(data["calib"]),
            f"{name}: report counts {rep['calibration_samples']} of {len(data['calib'])} calibration samples")
    stale = [w for w in rep["warnings"] if "no usable calibration statistics" in w]
    T.check(not stale, f"{name}: every float tensor to quantize was calibrated {stale}")
    ok, err = T.checker_ok(out)
    T.check(ok, f"{name}: onnx.checker full_check {err}")
    T.check(U.op_histogram(out).get("BatchNormalization", 0) == 0, f"{name}: BatchNormalization folded")
    print(f"info {name}: file {os.path.getsize(U.BLAZEFACE)} -> {os.path.getsize(out)} bytes")
    check_unseen(tmp, name, out, kept, data["eval"] + data["photos"])


def check_unseen(tmp, name, out, kept, names):
    xs = [{INPUT: A.blazeface_input(np.asarray(image(f).resize((128, 128), Image.BILINEAR), np.float64))}
          for f in names]
    opt = os.path.join(tmp, "int8.ort_opt.onnx")
    try:
        ref, _ = T.ort_run_batch(U.BLAZEFACE, xs, os.path.join(tmp, "ort_fp32"))
        got, _ = T.ort_run_batch(out, xs, os.path.join(tmp, "ort_int8"), optimized_model=opt)
    except RuntimeError as e:
        T.check(False, f"{name}: {e}")
        return
    hist = U.op_histogram(opt)
    floats = {k: v for k, v in hist.items() if k.split(".")[-1] in U.FLOAT_COMPUTE_OPS | {"BatchNormalization"}}
    T.check(sum(floats.values()) <= kept, f"{name}: ORT-optimized INT8 graph has no float "
            f"Conv/Gemm/MatMul/BatchNormalization beyond the {kept} kept nodes ({floats or 'none'})")
    is_face = np.array([f.startswith("lfw:") for f in names])
    for k, (a, b) in enumerate(zip(ref, got)):
        a, b = a[is_face], b[is_face]
        s = T.sqnr_db(a, b)
        worst = min(T.sqnr_db(a[i], b[i]) for i in range(len(a)))
        T.check(a.shape == b.shape and s >= MIN_EVAL_SQNR_DB,
                f"{name}: output {k} {list(a.shape)} SQNR {s:.2f} dB on {len(a)} unseen faces "
                f"(worst face {worst:.2f} dB; need >= {MIN_EVAL_SQNR_DB})")
        photo_db = T.sqnr_db(ref[k][~is_face], got[k][~is_face])
        print(f"info {name}: output {k} SQNR {photo_db:.2f} dB on {int((~is_face).sum())} unseen photos")

    def decide(outs):  # outputs 0 and 1 are the score logits of the two anchor grids
        n = len(xs)
        return np.concatenate([outs[0].reshape(n, -1), outs[1].reshape(n, -1)], axis=1).max(1) > 0
    fp32, int8 = decide(ref), decide(got)
    T.check(fp32[is_face].mean() >= 0.9, f"{name}: FP32 finds a face in {fp32[is_face].sum()} of "
            f"{is_face.sum()} LFW faces (the evaluation data is not what it should be)")
    flips = [f for f, a, b in zip(names, fp32, int8) if a != b]
    print(f"info {name}: face found in {int(fp32.sum())} (FP32) / {int(int8.sum())} (INT8) of "
          f"{len(xs)} images; decisions differ on {flips or 'none'}")
    face_flips = [f for f in flips if f.startswith("lfw:")]
    T.check(not face_flips and len(flips) <= MAX_DECISION_FLIPS,
            f"{name}: INT8 face/no-face decisions equal FP32's on every face and all but "
            f"{MAX_DECISION_FLIPS} photos (differ on {flips})")


if __name__ == "__main__":
    main()
