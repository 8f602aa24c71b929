#!/usr/bin/env python3
"""Resource bounds: declared sizes are validated before allocating, caps are
configurable, and deep nesting is refused instead of overflowing the stack.

Each case runs the qconvert binary and checks the exit code, the one-line
error and, where the point is "no allocation before validation", the child's
peak RSS. Prints one line per case and "N passed, N failed"."""
import os
import resource
import struct
import subprocess
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

import qc_test as T

QC = os.environ["QCONVERT"]
ROOT = os.environ["QC_SOURCE_ROOT"]
DEMO = os.path.join(ROOT, "demo", "fmnist_cnn.onnx")
RSS_CAP_MB = 400  # generous: the binary and its libraries need ~60 MB
# Address-space cap for the child, so that reserving gigabytes "lazily" (calloc
# before validating) fails loudly here too, as it would in a constrained
# container. Sanitizer builds reserve terabytes of shadow memory: no cap there.
SANITIZED = b"libasan" in subprocess.run(["ldd", QC], capture_output=True).stdout or \
    os.environ.get("QC_SANITIZED") == "1"
AS_CAP = 0 if SANITIZED else 1 << 30


def run(args, env=None, timeout=120):
    """Runs qconvert in a fresh child and returns (result, peak RSS in MB of that child)."""
    e = dict(os.environ, OMP_NUM_THREADS="1")
    e.update(env or {})
    # ru_maxrss of RUSAGE_CHILDREN is the max over all children so far, so measure in a
    # wrapper process of our own.
    code = ("import resource,subprocess,sys;cap=%d\n"
            "if cap: resource.setrlimit(resource.RLIMIT_AS,(cap,cap))\n"
            "r=subprocess.run(sys.argv[1:],capture_output=True);" % AS_CAP +
            "sys.stdout.buffer.write(r.stdout);sys.stderr.buffer.write(r.stderr);"
            "sys.stderr.write('\\nRSS_KB=%d\\n'%resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
            "sys.exit(r.returncode if r.returncode>=0 else 128-r.returncode)")
    r = subprocess.run([sys.executable, "-c", code, QC] + args, capture_output=True, text=True, env=e,
                       timeout=timeout)
    rss = 0
    lines = []
    for l in r.stderr.splitlines():
        if l.startswith("RSS_KB="):
            rss = int(l[7:]) // 1024
        elif l.strip():
            lines.append(l)
    r.stderr = "\n".join(lines)
    return r, rss


def expect(name, r, rss, code, needles=(), rss_cap=RSS_CAP_MB, one_error=True):
    problems = []
    if r.returncode != code:
        problems.append("exit %d, want %d" % (r.returncode, code))
    errs = [l for l in r.stderr.splitlines() if l.startswith("qconvert: error:")]
    if one_error and code != 0 and len(errs) != 1:
        problems.append("%d error lines, want 1" % len(errs))
    text = r.stderr.lower()
    for n in needles:
        if n.lower() not in text:
            problems.append("stderr lacks %r" % n)
    if rss > rss_cap:
        problems.append("peak RSS %d MB > %d MB" % (rss, rss_cap))
    if problems:
        T.check(False, name, ": %s\n     stderr: %s" % ("; ".join(problems), r.stderr.strip()[:400]))
    else:
        T.check(True, name, "(rss %d MB)  %s" % (rss, (errs[0][:140] if errs else "")))


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wt, payload):
    return varint((num << 3) | wt) + (varint(len(payload)) + payload if wt == 2 else payload)


def nested_if_model(depth):
    """ModelProto whose graph nests If.then_branch subgraphs `depth` deep, built
    at the wire level (no recursion in python or onnx)."""
    parts = []  # build inside-out without quadratic copying: record prefixes, then join
    g = field(2, 2, b"g")
    for i in range(depth):
        attr = field(1, 2, b"then_branch") + field(6, 2, g) + field(20, 0, varint(5))
        node = field(4, 2, b"If") + field(5, 2, attr) + field(1, 2, b"c")
        g = field(1, 2, node) + field(2, 2, b"g%d" % i)
    return field(1, 0, varint(8)) + field(8, 2, field(2, 0, varint(13))) + field(7, 2, g)


def main():
    with T.tempdir("qc-limits-") as d:
        cases(d)
    T.finish()


def cases(d):
    # 1. protobuf nesting: deep If-in-If is refused (it used to overflow the stack in protobuf-c).
    deep = os.path.join(d, "deep.onnx")
    open(deep, "wb").write(nested_if_model(3000))
    r, rss = run(["inspect", deep])
    expect("nesting: 3000 nested If subgraphs refused", r, rss, 2, ["nested more than"])
    shallow = os.path.join(d, "shallow.onnx")
    open(shallow, "wb").write(nested_if_model(20))
    r, rss = run(["inspect", shallow])
    expect("nesting: 20 nested If subgraphs load", r, rss, 0)

    # 2. a TensorProto declaring 1 GiB with 4 bytes of raw_data: error, nothing allocated
    x = np.zeros((1, 1, 28, 28), np.float32)
    big = onnx.TensorProto()
    big.data_type = TensorProto.FLOAT
    big.dims.extend([1 << 28])
    big.raw_data = b"\0\0\0\0"
    big.name = "input"
    pb = os.path.join(d, "big.pb")
    open(pb, "wb").write(big.SerializeToString())
    outdir = os.path.join(d, "run-out")
    os.makedirs(outdir)
    r, rss = run(["run", DEMO, "--input", pb, "--output-dir", outdir])
    expect("tensor .pb: 1 GiB shape, 4 bytes of data", r, rss, 2, ["big.pb", "raw_data"])
    big.dims[:] = [1 << 40]
    open(pb, "wb").write(big.SerializeToString())
    r, rss = run(["run", DEMO, "--input", pb, "--output-dir", outdir])
    expect("tensor .pb: 4 TiB shape refused by the byte cap", r, rss, 2, ["size limit"])
    big.dims[:] = [1 << 31, 1 << 31, 1 << 31]
    open(pb, "wb").write(big.SerializeToString())
    r, rss = run(["run", DEMO, "--input", pb, "--output-dir", outdir])
    expect("tensor .pb: element count overflowing int64", r, rss, 2, ["overflow"])

    # 3. model initializer: 1 GiB declared, external file of 16 bytes
    m = onnx.load(DEMO)
    ext = m.graph.initializer[0]
    ext.ClearField("raw_data")
    ext.ClearField("float_data")
    del ext.dims[:]
    ext.dims.extend([1 << 28])
    ext.data_location = TensorProto.EXTERNAL
    del ext.external_data[:]
    kv = ext.external_data.add()
    kv.key, kv.value = "location", "weights.bin"
    open(os.path.join(d, "weights.bin"), "wb").write(bytes(16))
    em = os.path.join(d, "ext.onnx")
    onnx.save(m, em)
    xnpy = os.path.join(d, "x.npy")
    np.save(xnpy, x)
    r, rss = run(["run", em, "--input", xnpy, "--output-dir", outdir])
    expect("external data: 1 GiB declared, 16-byte file", r, rss, 2, ["too short"])

    # a FIFO shipped as external data (tarballs can hold FIFOs): refused, not waited on
    fifo_dir = os.path.join(d, "fifo-model")
    os.makedirs(fifo_dir)
    os.mkfifo(os.path.join(fifo_dir, "weights.bin"))
    fm = os.path.join(fifo_dir, "ext.onnx")
    onnx.save(m, fm)
    try:
        r, rss = run(["run", fm, "--input", xnpy, "--output-dir", outdir], timeout=30)
        expect("external data: a FIFO", r, rss, 2, ["not a regular file"])
    except subprocess.TimeoutExpired:
        T.check(False, "external data: a FIFO", ": qconvert hung opening it")

    # 4. .npy header declaring a huge array over a tiny file
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }"
    hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
    npy = os.path.join(d, "huge.npy")
    open(npy, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + bytes(64))
    r, rss = run(["run", DEMO, "--input", npy, "--output-dir", outdir])
    expect(".npy: 1 GiB declared, 64 bytes present", r, rss, 2, ["huge.npy"])

    # 5. PNG declaring 30000x30000 RGB in 100 bytes: skipped with a warning, no 2.7 GB allocation
    calib = os.path.join(d, "calib")
    os.makedirs(calib)
    for i in range(3):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8), "L").save(os.path.join(calib, "ok%d.png" % i))

    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b""))
    open(os.path.join(calib, "bomb.png"), "wb").write(bomb)
    r, rss = run([DEMO, "--calib", calib, "-o", os.path.join(d, "q.onnx"), "--quiet", "--threads", "1"])
    expect("png: 30000x30000 declared in %d bytes (skipped, warned)" % len(bomb), r, rss, 0, ["bomb.png"])

    # 6. QCONVERT_MAX_TENSOR_BYTES caps tensors; a bad value is a warning
    for val in ["1K", "1024"]:
        r, rss = run(["run", DEMO, "--input", xnpy, "--output-dir", outdir], env={"QCONVERT_MAX_TENSOR_BYTES": val})
        expect("QCONVERT_MAX_TENSOR_BYTES=%s refuses a 3136-byte input" % val, r, rss, 2,
              ["QCONVERT_MAX_TENSOR_BYTES", "1024 bytes"])
    r, rss = run(["run", DEMO, "--input", xnpy, "--output-dir", outdir], env={"QCONVERT_MAX_TENSOR_BYTES": "8M"})
    expect("QCONVERT_MAX_TENSOR_BYTES=8M allows it (largest demo tensor: 1.6 MB of weights)", r, rss, 0)
    for bad in ["abc", "0", "-5", "1X", "99999999999999999999999"]:
        r, rss = run(["run", DEMO, "--input", xnpy, "--output-dir", outdir], env={"QCONVERT_MAX_TENSOR_BYTES": bad})
        expect("QCONVERT_MAX_TENSOR_BYTES=%s warns, default used" % bad, r, rss, 0,
              ["warning: ignoring QCONVERT_MAX_TENSOR_BYTES"])

    # 7. a stats file with more tensor records than the cap (each costs ~32 KiB in memory and the
    # set is searched linearly): refused up front, quickly.
    saved = os.path.join(d, "saved.stats")
    r, rss = run([DEMO, "--calib", calib, "-o", os.path.join(d, "s.onnx"), "--quiet", "--observer", "minmax",
                  "--save-stats", saved])
    if r.returncode == 0:
        data = open(saved, "rb").read()
        fp_len = struct.unpack_from("<I", data, 16)[0]
        fp = data[20:20 + fp_len]
        body = bytearray(data[:20 + fp_len] + struct.pack("<I", 20000))
        rec = (struct.pack("<QQQQ", 0, 0, 0, 0) + struct.pack("<ffd", 0, 0, 0.01) +
               struct.pack("<Qdd", 0, 0, 0) * 2 + struct.pack("<iqI", 0, 0, 0))
        for i in range(20000):
            name = b"t%07d" % i
            body += struct.pack("<I", len(name)) + name + rec
        h = 0xCBF29CE484222325
        for c in bytes(body):
            h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        many = os.path.join(d, "many.stats")
        open(many, "wb").write(bytes(body) + struct.pack("<Q", h))
        r, rss = run([DEMO, "--calib", calib, "-o", os.path.join(d, "s2.onnx"), "--quiet", "--load-stats", many],
                     timeout=60)
        expect("stats: 20000 tensor records refused", r, rss, 2, ["many.stats", "exceed the limit"])
        # the count field claiming more records than the bytes can hold
        body[20 + fp_len:24 + fp_len] = struct.pack("<I", 16000)
        body = body[:24 + fp_len + 1000]
        h = 0xCBF29CE484222325
        for c in bytes(body):
            h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        open(many, "wb").write(bytes(body) + struct.pack("<Q", h))
        r, rss = run([DEMO, "--calib", calib, "-o", os.path.join(d, "s3.onnx"), "--quiet", "--load-stats", many])
        expect("stats: record count larger than the file", r, rss, 2, ["many.stats", "truncated"])
    else:
        expect("stats: --save-stats for the fixture", r, rss, 0)

    # 8. preprocessing option values that used to be accepted wrongly
    opts_model = DEMO
    for args, needle in [(["--mean", "0." + "0" * 300 + "1"], "too long"),
                         (["--scale", "1e300"], "outside the float range"),
                         (["--std", "1e-300"], "outside the float range")]:
        r, rss = run([opts_model, "--calib", calib, "-o", os.path.join(d, "o.onnx"), "--quiet"] + args)
        expect("option %s %s..." % (args[0], args[1][:12]), r, rss, 2, [needle])


if __name__ == "__main__":
    main()
