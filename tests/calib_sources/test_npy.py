"""The .npy reader/writer: numpy-written files of every supported dtype and
header version round-trip exactly; malformed files give one clean error line
naming the file (exit code 2), never a crash."""
import io
import os
import struct

import numpy as np

from calib_util import PREPROCESS_TOOL
from qc_test import check, finish, mkdtemp, run

d = mkdtemp("qc_calib_")
rng = np.random.default_rng(2)


def roundtrip(name, arr, version=None):
    p = os.path.join(d, name + ".npy")
    with open(p, "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=False)
    out = p + ".out.npy"
    rc, so, err = run(PREPROCESS_TOOL, "npy", p, out)
    if rc != 0:
        check(False, f"{name}: {err.strip()}")
        return
    back = np.load(out)
    check(back.dtype == arr.dtype and back.shape == arr.shape and np.array_equal(back, arr),
          f"{name}: got {back.dtype} {back.shape}")


for dt in ("<f4", "<f8", "<f2", "<i8", "<i4", "|u1", "|i1"):
    a = (rng.standard_normal((2, 3, 4)) * 100).astype(dt)
    roundtrip("dtype_" + dt[1:], a)
roundtrip("bool", rng.integers(0, 2, (3, 5)).astype(bool))
roundtrip("scalar", np.array(3.5, dtype=np.float32))
roundtrip("empty", np.zeros((0, 4), dtype=np.float32))
roundtrip("one_dim", np.arange(7, dtype=np.int64))
roundtrip("eight_dims", np.ones((1, 2, 1, 2, 1, 2, 1, 2), dtype=np.uint8))
roundtrip("v2_header", rng.standard_normal((3, 3)).astype(np.float32), version=(2, 0))
roundtrip("v3_header", rng.standard_normal((3, 3)).astype(np.float32), version=(3, 0))

# Files written by the C writer load in numpy with the right header.
p = os.path.join(d, "dtype_f4.npy.out.npy")
with open(p, "rb") as f:
    head = f.read(128)
check(head[:8] == b"\x93NUMPY\x01\x00" and (10 + struct.unpack("<H", head[8:10])[0]) % 64 == 0,
      "writer: v1.0 header padded to 64 bytes")


def npy_bytes(descr, shape, data=b"", fortran=False, version=1, header=None, end=b"\n"):
    """A .npy file as numpy writes it: the dict, space padding, then `end` (a newline)."""
    if header is None:
        header = "{'descr': %r, 'fortran_order': %s, 'shape': %r, }" % (descr, fortran, tuple(shape))
    h = header.encode("latin1")
    pre = 10 if version == 1 else 12
    pad = (64 - (pre + len(h) + len(end)) % 64) % 64
    h = h + b" " * pad + end
    lenfield = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + lenfield + h + data


ok4 = np.arange(6, dtype="<f4").tobytes()
GOOD_DICT = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }"
bad = {
    "bad_magic": (b"\x93NUMPZ\x01\x00" + npy_bytes("<f4", (6,), ok4)[8:], "bad magic"),
    "empty_file": (b"", "bad magic"),
    "fortran_order": (npy_bytes("<f4", (2, 3), ok4, fortran=True), "Fortran order"),
    "truncated_data": (npy_bytes("<f4", (2, 3), ok4[:-3]), "truncated"),
    "extra_data": (npy_bytes("<f4", (2, 3), ok4 + b"xxxx"), "header declares"),
    "complex_dtype": (npy_bytes("<c8", (3,), ok4), "not supported"),
    "big_endian": (npy_bytes(">f4", (6,), ok4), "big-endian"),
    "unicode_dtype": (npy_bytes("<U3", (2,), ok4), "not supported"),
    "structured": (npy_bytes(None, (2,), ok4, header="{'descr': [('a', '<f4')], 'fortran_order': False, "
                             "'shape': (2,), }"), "structured"),
    "object_dtype": (npy_bytes("|O", (2,), ok4), "not supported"),
    "malformed_shape": (npy_bytes(None, (), ok4, header="{'descr': '<f4', 'fortran_order': False, "
                                  "'shape': (2, x), }"), "shape"),
    "negative_dim": (npy_bytes(None, (), ok4, header="{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (-2, 3), }"), "shape"),
    "missing_key": (npy_bytes(None, (), ok4, header="{'descr': '<f4', 'shape': (6,), }"), "lacks"),
    "not_a_dict": (npy_bytes(None, (), ok4, header="[1, 2, 3]"), "not a dict"),
    "huge_shape": (npy_bytes("<f4", (1 << 20, 1 << 20), ok4), "limit"),
    "overflow_shape": (npy_bytes("<f4", (1 << 62, 1 << 62, 1 << 62), ok4), ""),
    "too_many_dims": (npy_bytes("<f4", (1,) * 9, ok4), "dimensions"),
    "version_9": (npy_bytes("<f4", (6,), ok4)[:6] + b"\x09\x00" + npy_bytes("<f4", (6,), ok4)[8:], "version"),
    "header_past_eof": (b"\x93NUMPY\x01\x00\xff\x7f{'descr'", "truncated"),
    "unterminated_string": (npy_bytes(None, (), ok4, header="{'descr': '<f4"), "malformed"),
    # The header is exactly the dict, space padding and a final newline (numpy's format.py).
    "junk_after_dict": (npy_bytes(None, (), ok4, header=GOOD_DICT + " junk"), "after the dict"),
    "second_dict": (npy_bytes(None, (), ok4, header=GOOD_DICT + GOOD_DICT), "after the dict"),
    "nul_after_dict": (npy_bytes(None, (), ok4, header=GOOD_DICT + "\0"), "after the dict"),
    "comment_after_dict": (npy_bytes(None, (), ok4, header=GOOD_DICT + "#x"), "after the dict"),
    "no_final_newline": (npy_bytes(None, (), ok4, header=GOOD_DICT, end=b" "), "after the dict"),
    "v2_junk_after_dict": (npy_bytes(None, (), ok4, header=GOOD_DICT + " x", version=2), "after the dict"),
    "shape_not_a_tuple": (npy_bytes(None, (), ok4, header=GOOD_DICT.replace("(6,)", "(6)")), "shape"),
}
# numpy itself refuses these (the others it reads, but its writer never makes them).
for name in ("junk_after_dict", "second_dict", "nul_after_dict", "shape_not_a_tuple"):
    try:
        np.load(io.BytesIO(bad[name][0]))
        check(False, f"{name}: numpy loads it, so the case is not a bad file")
    except ValueError:
        pass
for name, (data, needle) in bad.items():
    p = os.path.join(d, name + ".npy")
    with open(p, "wb") as f:
        f.write(data)
    rc, _, err = run(PREPROCESS_TOOL, "npy", p, p + ".out.npy")
    err = err.strip()
    check(rc == 2 and name in err and needle.lower() in err.lower() and len(err.splitlines()) == 1,
          f"{name}: rc={rc} err={err!r}")
    print(f"  {name}: {err}")

# Valid headers: numpy's own v1/v2/v3 files (any dict spacing) and a shape tuple with and
# without the trailing comma.
for name, header in (("spaced_dict", "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 6 , ) }"),
                     ("no_trailing_comma", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
                     ("v2_plain", GOOD_DICT), ("v3_plain", GOOD_DICT)):
    version = 2 if name.startswith("v2") else 3 if name.startswith("v3") else 1
    p = os.path.join(d, name + ".npy")
    with open(p, "wb") as f:
        f.write(npy_bytes(None, (), ok4, header=header, version=version))
    want = np.load(p)
    rc, _, err = run(PREPROCESS_TOOL, "npy", p, p + ".out.npy")
    check(rc == 0 and np.array_equal(np.load(p + ".out.npy"), want), f"{name}: rc={rc} {err.strip()}")

rc, _, err = run(PREPROCESS_TOOL, "npy", os.path.join(d, "missing.npy"), os.path.join(d, "x.npy"))
check(rc == 2 and "missing.npy" in err, f"missing file: {err!r}")

finish("test_npy")
