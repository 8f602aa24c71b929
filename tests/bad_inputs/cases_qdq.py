"""Catalogue cases: statistics that would leave the quantized model float (issue 12, defect 2).

A --load-stats file with a valid header and zero records used to remove every Relu while all
activations stayed float, with only a warning per tensor. Statistics that cover none of the
model's activations are an error; a file missing some tensors still works, with a warning each
(tests/e2e/test_relu_absorption.py checks that those Relus still clip)."""
import os
import struct

from catalogue import demo_fixture, expect_error, expect_success, run

HEADER = struct.Struct("<8sIII")  # magic, version, histogram bins, fingerprint length


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def with_records(saved, path, keep):
    """Writes `saved`'s header and its first `keep` records as a valid stats file (format:
    docs/observers.md; reader: tests/e2e/e2e_util.py read_stats)."""
    data = open(saved, "rb").read()
    _, _, _, fp_len = HEADER.unpack_from(data)
    off = HEADER.size + fp_len
    body = bytearray(data[:off]) + struct.pack("<I", keep)
    off += 4
    for _ in range(keep):
        (name_len,) = struct.unpack_from("<I", data, off)
        fixed = 4 + name_len + 4 * 8 + 4 + 4 + 8 + 2 * 24 + 4 + 8
        (hist_len,) = struct.unpack_from("<I", data, off + fixed)
        end = off + fixed + 4 + 8 * hist_len
        body += data[off:end]
        off = end
    body += struct.pack("<Q", fnv1a64(body))
    open(path, "wb").write(bytes(body))
    return path


def cases(top):
    calib, model = demo_fixture(top)
    saved = os.path.join(top, "demo.stats")
    r = run([model, "--calib", calib, "-o", os.path.join(top, "saved.onnx"), "--quiet", "--threads", "1",
             "--save-stats", saved])
    if r.returncode != 0 or not os.path.isfile(saved):
        raise RuntimeError("cases_qdq: --save-stats for the fixture failed: " + r.stderr.strip())

    empty = with_records(saved, os.path.join(top, "empty.stats"), 0)
    expect_error("stats: valid header, zero records", model, calib, os.path.join(top, "empty.int8.onnx"),
                 ["cover none", "activation tensors"], ["--load-stats", empty])
    one = with_records(saved, os.path.join(top, "one.stats"), 1)
    expect_success("stats: one record of the model's tensors (warnings)", model, calib,
                   os.path.join(top, "one.int8.onnx"), ["--load-stats", one],
                   check=lambda r: [] if "no usable calibration statistics" in r.stdout + r.stderr
                   else ["no warning about the tensors without statistics"])
