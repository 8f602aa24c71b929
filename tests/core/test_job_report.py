#!/usr/bin/env python3
"""The JSON report of the main job, of --min-sqnr and of `compare` describes
the files the run read and wrote, with one meaning everywhere (the reference is
the files themselves, read with python3-onnx and numpy):

  fp32_bytes / quantized_bytes   the input and output file sizes;
  nodes_total / nodes_quantized  the output model's compute nodes (neither
                                 QuantizeLinear nor DequantizeLinear) and those
                                 reading a dequantized input;
  ops                            parameter bytes per op type, which add up to
                                 the input's and the output's initializer bytes.
"""
import json
import os
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper
from PIL import Image

from qc_test import check, finish

QC = os.environ["QCONVERT"]
ROOT = os.environ["QC_SOURCE_ROOT"]


def model_facts(path):
    """(initializer bytes, compute nodes, compute nodes reading a DequantizeLinear output)."""
    m = onnx.load(path)
    init = sum(numpy_helper.to_array(t).nbytes for t in m.graph.initializer)
    producer = {o: n.op_type for n in m.graph.node for o in n.output}
    compute = [n for n in m.graph.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")]
    quantized = [n for n in compute if any(producer.get(i) == "DequantizeLinear" for i in n.input)]
    return init, len(compute), len(quantized)


def check_report(name, model, out, report):
    j = json.load(open(report))
    in_init = model_facts(model)[0]
    out_init, total, quantized = model_facts(out)
    check(j["fp32_bytes"] == os.path.getsize(model), name + ": fp32_bytes is the input file's size",
          "%s vs %d" % (j["fp32_bytes"], os.path.getsize(model)))
    check(j["quantized_bytes"] == os.path.getsize(out), name + ": quantized_bytes is the output file's size",
          "%s vs %d" % (j["quantized_bytes"], os.path.getsize(out)))
    check((j["nodes_total"], j["nodes_quantized"]) == (total, quantized),
          name + ": node counts are the output's compute nodes",
          "%s vs %s" % ((j["nodes_total"], j["nodes_quantized"]), (total, quantized)))
    check(j["ops"] and sum(o["fp32_bytes"] for o in j["ops"]) == in_init
          and sum(o["quantized_bytes"] for o in j["ops"]) == out_init,
          name + ": ops add up to the input's and output's parameter bytes",
          "%d ops" % len(j["ops"]))
    check(sum(o["nodes"] for o in j["ops"]) == j["nodes_total"]
          and sum(o["nodes_quantized"] for o in j["ops"]) == j["nodes_quantized"],
          name + ": ops add up to the node counts")


def run(args):
    r = subprocess.run([QC] + args + ["--quiet"], capture_output=True, text=True)
    check(r.returncode == 0, "qconvert " + " ".join(args[:2]) + " ... runs", r.stderr.strip())
    return r.returncode == 0


with tempfile.TemporaryDirectory() as d:
    calib = os.path.join(d, "calib")
    os.mkdir(calib)
    rng = np.random.default_rng(1)
    for i in range(16):  # smooth random images: enough to exercise calibration
        img = (rng.random((7, 7)) * 255).astype(np.uint8)
        Image.fromarray(img).resize((28, 28), Image.BILINEAR).save(os.path.join(calib, "%02d.png" % i))
    for stem in ("fmnist_cnn", "fmnist_dwnet"):
        model = os.path.join(ROOT, "demo", stem + ".onnx")
        cases = [("main job", []), ("--min-sqnr", ["--min-sqnr", "80"]), ("compare", None)]
        for name, extra in cases:
            out, rep = os.path.join(d, "%s.%d.onnx" % (stem, len(name))), os.path.join(d, "%s.%d.json" % (stem, len(name)))
            args = ([model] + extra) if extra is not None else ["compare", model, "--observers", "minmax,mse"]
            if run(args + ["--calib", calib, "-o", out, "--report", rep]):
                check_report("%s %s" % (stem, name), model, out, rep)

    # --fallback-budget: a budget that cannot run out changes nothing; one that is spent after the
    # first trial keeps nothing in FP32 (the main job's model) and says so.
    model = os.path.join(ROOT, "demo", "fmnist_cnn.onnx")
    outs = {}
    for tag, extra in (("plain", []), ("sqnr", ["--min-sqnr", "80"]),
                       ("roomy", ["--min-sqnr", "80", "--fallback-budget", "1e6"]),
                       ("spent", ["--min-sqnr", "80", "--fallback-budget", "1e-6"])):
        out, rep = os.path.join(d, "budget_%s.onnx" % tag), os.path.join(d, "budget_%s.json" % tag)
        if run([model] + extra + ["--calib", calib, "-o", out, "--report", rep]):
            outs[tag] = (open(out, "rb").read(), json.load(open(rep))["warnings"])
    if len(outs) == 4:
        kept = [w for w in outs["sqnr"][1] if w.startswith("--min-sqnr") and " kept " in w]
        check(kept and " kept 0 " not in kept[0], "--min-sqnr 80 keeps nodes in FP32 on fmnist_cnn", str(kept))
        check(outs["roomy"][0] == outs["sqnr"][0], "--fallback-budget 1e6 gives the model of no budget")
        spent = [w for w in outs["spent"][1] if w.startswith("--fallback-budget")]
        check(len(spent) == 1 and "ran out after 1 trial " in spent[0] and "nothing kept" in spent[0],
              "--fallback-budget 1e-6 warns that it ran out before ranking", str(spent))
        check(outs["spent"][0] == outs["plain"][0], "--fallback-budget 1e-6 gives the main job's model")

finish("job_report")
