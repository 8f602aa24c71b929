"""Catalogue cases: models, calibration data, output paths, NaN/Inf activations and SIGINT."""
import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from catalogue import (DEMO, QC, conv_model, demo_fixture, expect_error, expect_success, pngs, report,
                       save_model, sha, signal_and_wait, tmp_leftovers, wanted)


def cases(top):
    calib, model = demo_fixture(top)
    out = os.path.join(top, "out.onnx")

    # -- models
    expect_error("model: missing", os.path.join(top, "nope.onnx"), calib, out, ["nope.onnx"])
    empty = os.path.join(top, "empty.onnx")
    open(empty, "wb").close()
    expect_error("model: empty", empty, calib, out, ["empty.onnx"])
    data = open(DEMO, "rb").read()
    trunc = os.path.join(top, "truncated.onnx")
    open(trunc, "wb").write(data[: len(data) // 2])
    expect_error("model: truncated", trunc, calib, out, ["truncated.onnx"])
    rnd = os.path.join(top, "random.onnx")
    open(rnd, "wb").write(np.random.default_rng(7).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    expect_error("model: random bytes", rnd, calib, out, ["random.onnx"])

    # -- unsupported op: named with opset and node, refused before calibration
    # (a calibration dir that would itself fail proves the order).
    unsup = os.path.join(top, "unsupported.onnx")
    save_model(unsup, [helper.make_node("LRN", ["x"], ["y"], name="my_lrn", size=3)],
               [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    expect_error("op: unsupported (before calibration)", unsup, os.path.join(top, "no-such-calib"), out,
                 ["LRN", "13", "my_lrn"])

    # -- dynamic dims without --input-shape
    dyn = conv_model(os.path.join(top, "dynamic.onnx"), 1, dims=[1, 1, "H", "W"])
    expect_error("shape: dynamic H/W without --input-shape", dyn, calib, out, ["--input-shape"])
    expect_success("shape: dynamic H/W with --input-shape", dyn, calib, os.path.join(top, "dyn.int8.onnx"),
                   ["--input-shape", "1x1x28x28"])

    # -- calibration directory
    expect_error("calib: missing dir", model, os.path.join(top, "no-such-dir"), out, ["no-such-dir"])
    emptyd = os.path.join(top, "calib-empty")
    os.makedirs(emptyd)
    expect_error("calib: empty dir", model, emptyd, out, ["calib-empty"])
    junk = os.path.join(top, "calib-junk")
    os.makedirs(junk)
    for n in ["readme.txt", "labels.csv", "image.jpg", ".hidden.png"]:
        open(os.path.join(junk, n), "w").write("not an image\n")
    expect_error("calib: only junk files", model, junk, out, ["calib-junk"])

    # -- channel counts: RGB images for a 1-channel model are converted; a 2-channel input is an error
    rgb = pngs(os.path.join(top, "calib-rgb"), 4, mode="RGB")
    expect_success("channels: RGB images, 1-channel model (converted)", model, rgb, os.path.join(top, "rgb.int8.onnx"))
    two = conv_model(os.path.join(top, "two_channels.onnx"), 2)
    expect_error("channels: 2-channel model input with images", two, rgb, out, ["1x2x8x8", "channels"])

    # -- a corrupt PNG among good ones: skipped with a warning naming it
    mixed = pngs(os.path.join(top, "calib-mixed"), 6)
    good = open(os.path.join(mixed, "img0000.png"), "rb").read()
    open(os.path.join(mixed, "img0003.png"), "wb").write(good[: len(good) // 2])  # truncated
    open(os.path.join(mixed, "zz_garbage.png"), "wb").write(b"\x89PNG\r\n\x1a\n" + bytes(200))

    def warned(r):
        return [] if "img0003.png" in r.stderr and "zz_garbage.png" in r.stderr else ["no warning naming both corrupt PNGs"]
    expect_success("calib: corrupt PNGs among good ones (warned, skipped)", model, mixed,
                   os.path.join(top, "mixed.int8.onnx"), check=warned)
    expect_success("calib: corrupt PNGs among good ones, --quiet still warns", model, mixed,
                   os.path.join(top, "mixed-q.int8.onnx"), ["--quiet"], check=warned)

    # -- .npy calibration tensors with the wrong shape / dtype
    npyd = os.path.join(top, "calib-npy-shape")
    os.makedirs(npyd)
    np.save(os.path.join(npyd, "a.npy"), np.zeros((1, 1, 14, 14), np.float32))
    expect_error("npy: wrong shape", model, npyd, out, ["a.npy", "14"])
    npyt = os.path.join(top, "calib-npy-dtype")
    os.makedirs(npyt)
    np.save(os.path.join(npyt, "a.npy"), np.zeros((1, 1, 28, 28), np.complex64))
    expect_error("npy: wrong dtype (complex64)", model, npyt, out, ["a.npy", "<c8"])
    npyf = os.path.join(top, "calib-npy-float-for-int")
    os.makedirs(npyf)
    np.save(os.path.join(npyf, "a.npy"), np.full((1, 4), 0.5, np.float32))
    intm = os.path.join(top, "int_input.onnx")
    save_model(intm, [helper.make_node("Cast", ["x"], ["xf"], name="cast", to=TensorProto.FLOAT),
                      helper.make_node("Relu", ["xf"], ["y"], name="relu")],
               [helper.make_tensor_value_info("x", TensorProto.INT64, [1, 4])],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    expect_error("npy: float data for an int64 input", intm, npyf, out, ["a.npy", "int64"])
    npyi = os.path.join(top, "calib-npy-int")
    os.makedirs(npyi)
    np.save(os.path.join(npyi, "a.npy"), np.zeros((1, 1, 28, 28), np.int64))
    expect_success("npy: int64 data for a float input (converted)", model, npyi, os.path.join(top, "npyi.int8.onnx"))
    npyx = os.path.join(top, "calib-npy-trunc")
    os.makedirs(npyx)
    np.save(os.path.join(npyx, "a.npy"), np.zeros((1, 1, 28, 28), np.float32))
    raw = open(os.path.join(npyx, "a.npy"), "rb").read()
    open(os.path.join(npyx, "a.npy"), "wb").write(raw[:-100])
    expect_error("npy: truncated data", model, npyx, out, ["a.npy"])

    # -- output paths
    expect_error("output: missing directory", model, calib, os.path.join(top, "no", "such", "dir", "o.onnx"),
                 ["no/such/dir"], out_dir_check=top)
    ro = os.path.join(top, "readonly")
    os.makedirs(ro)
    os.chmod(ro, 0o555)
    if os.geteuid() == 0:
        if shutil.which("setpriv"):
            # root ignores permissions: run as nobody (world-readable copies of the inputs).
            os.chmod(model, 0o644)
            expect_error("output: unwritable directory (as uid 65534)", model, calib, os.path.join(ro, "o.onnx"),
                         ["readonly"], run_as=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        else:
            print("skip output: unwritable directory (running as root and setpriv is missing)")
    else:
        expect_error("output: unwritable directory", model, calib, os.path.join(ro, "o.onnx"), ["readonly"])
    expect_error("output: equal to input", model, calib, model, ["model.onnx"])
    link = os.path.join(top, "alias.onnx")
    os.symlink(model, link)
    expect_error("output: a symlink to the input", model, calib, link, ["alias.onnx"])

    # -- NaN/Inf activations: Log(0) = -inf on black pixels, Log(x<0) would be NaN.
    logm = conv_model(os.path.join(top, "log.onnx"), 1, dims=[1, 1, 28, 28], op_before="Log")
    black = pngs(os.path.join(top, "calib-black"), 4)
    Image.fromarray(np.zeros((28, 28), np.uint8), "L").save(os.path.join(black, "black.png"))
    rep = os.path.join(top, "log-report.json")

    def finite_scales(r):
        probs = []
        q = onnx.load(os.path.join(top, "log.int8.onnx"))
        scales = [numpy_helper.to_array(t) for t in q.graph.initializer if "scale" in t.name.lower()]
        if not scales:
            probs.append("no scale initializers found")
        for s in scales:
            if not np.all(np.isfinite(s)) or np.any(s <= 0):
                probs.append("non-finite or non-positive scale %r" % s)
        if "nan/inf" not in (r.stderr + r.stdout).lower():
            probs.append("the summary does not mention NaN/Inf values")
        tensors = {t["name"]: t for t in json.load(open(rep))["tensors"]}
        if tensors.get("pre", {}).get("nonfinite", 0) <= 0:
            probs.append("report: tensor 'pre' has no nonfinite count: %r" % tensors.get("pre"))
        for t in tensors.values():
            if t.get("scale") is None or not np.isfinite(t["scale"]):
                probs.append("report: non-finite scale %r" % t)
        return probs
    expect_success("calib: NaN/Inf activations (Log of 0)", logm, black, os.path.join(top, "log.int8.onnx"),
                   ["--report", rep], check=finite_scales)

    # -- SIGINT during a long calibration: exit 130, no output, no temp file. Each sample is a
    # 1024x1024 noise PNG (decoding and resizing it takes milliseconds whatever the engine's
    # speed; 3000 of them last tens of seconds), so the signal always lands mid-calibration.
    if wanted("signal: SIGINT during calibration"):
        big = os.path.join(top, "calib-big")
        os.makedirs(big)
        src = os.path.join(top, "big-noise.png")
        Image.fromarray(np.random.default_rng(7).integers(0, 256, (1024, 1024), dtype=np.uint8)).save(src)
        for i in range(3000):
            os.link(src, os.path.join(big, "s%05d.png" % i))
        sig_out = os.path.join(top, "sig.int8.onnx")
        before = sha(model)
        p = subprocess.Popen([QC, model, "--calib", big, "-o", sig_out, "--threads", "1", "--observer", "entropy"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
        time.sleep(1.0)
        r = signal_and_wait(p, signal.SIGINT)
        problems = []
        if p.returncode != 130:
            problems.append("exit %d, want 130 (finished before the signal?)" % p.returncode)
        if os.path.exists(sig_out):
            problems.append("output written")
        if tmp_leftovers(top):
            problems.append("temp files left: %r" % tmp_leftovers(top))
        if sha(model) != before:
            problems.append("input model changed")
        if len([l for l in r.stderr.splitlines() if l.startswith("qconvert: error:")]) != 1:
            problems.append("want one 'qconvert: error:' line")
        report("signal: SIGINT during calibration", problems, r, "exit 130, one error line, nothing written")
