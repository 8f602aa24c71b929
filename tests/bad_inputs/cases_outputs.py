"""Catalogue cases: options, destinations and the write phase (issue 12)."""
import os
import shutil

from catalogue import DEMO, expect_error, pngs


def cases(top):
    calib = pngs(os.path.join(top, "calib"), 8)
    model = os.path.join(top, "model.onnx")
    shutil.copy(DEMO, model)
    out = os.path.join(top, "out.onnx")
    input_shapes(model, calib, out)


def input_shapes(model, calib, out):
    # S2: malformed --input-shape values are refused.
    for shape in ("1x1x28x28x", "1x1x+28x28", "1xx1x28x28", "1x1x28x 28"):
        expect_error("options: --input-shape %r" % shape, model, calib, out, ["--input-shape", shape],
                     extra=["--input-shape", shape])
