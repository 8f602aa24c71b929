"""Calibration sample lists: directory walking order, hidden files, junk-file
warning, list files, calib_count selection, corrupt PNGs, multi-input
subdirectories, tensor files (.npy/.pb) and their shape/dtype checks. Samples
are loaded in parallel by the tool (OpenMP), as the driver does."""
import os
import shutil
import warnings

import numpy as np
from onnx import numpy_helper
from PIL import Image

from calib_util import SOURCE_TOOL
from qc_test import check, finish, mkdtemp, run

warnings.simplefilter("ignore")
rng = np.random.default_rng(3)
root = mkdtemp("qc_calib_")


def png(path, h=20, w=30):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


def npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, arr)


def touch(path, data=b"junk"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def source(path, count=0, out="-", inputs=("x:float:1,3,16,16",), extra=()):
    args = [path, count, out]
    for i in inputs:
        args += ["--input", i]
    rc, so, err = run(SOURCE_TOOL, *args, *extra)
    lines = so.splitlines()
    samples = [l.split(": ", 1)[1].split(" ") for l in lines if l.startswith("sample ")]
    warns = [l for l in lines if l.startswith("warning:")]
    return rc, samples, warns, err.strip(), lines


# 1. Walk order (strcmp on relative paths), hidden entries, junk count.
d = os.path.join(root, "walk")
for rel in ("a/b.png", "a.png", "a-b.png", "B.png", "a/0.png", "z/y/x.png", "Z.png"):
    png(os.path.join(d, rel))
for rel in (".hidden.png", ".hiddendir/x.png", "a/.h.png"):
    png(os.path.join(d, rel))
touch(os.path.join(d, "readme.txt"))
touch(os.path.join(d, "a/notes.jpg"))
touch(os.path.join(d, "z/data.bin"))
rc, samples, warns, err, _ = source(d)
want = sorted(["a/b.png", "a.png", "a-b.png", "B.png", "a/0.png", "z/y/x.png", "Z.png"])
got = [os.path.relpath(s[0], d) for s in samples]
check(rc == 0 and got == want, f"walk order: {got} vs {want} ({err})")
check(len(warns) == 1 and "skipped 3 files that are not .png/.npy/.pb" in warns[0], f"junk warning: {warns}")

# Loaded samples equal an independent PIL pipeline (stretch to 16x16).
out = os.path.join(root, "walk_out")
os.makedirs(out)
rc, samples, _, err, _ = source(d, 0, out, extra=["--quiet"])
for i, s in enumerate(samples):
    ref = np.asarray(Image.open(s[0]).convert("RGB").resize((16, 16), Image.BILINEAR), dtype=np.float64)
    ref = (ref / 255).transpose(2, 0, 1)[None]
    got = np.load(os.path.join(out, f"{i}_0.npy"))
    check(got.shape == (1, 3, 16, 16) and np.abs(got - ref).max() < 1e-6, f"sample {i} pixels")

# 2. calib_count picks floor(i*total/N).
d = os.path.join(root, "count")
for i in range(10):
    png(os.path.join(d, f"img{i:02d}.png"))
rc, samples, _, _, _ = source(d, 4)
got = [os.path.basename(s[0]) for s in samples]
check(got == ["img00.png", "img02.png", "img05.png", "img07.png"], f"calib_count 4 of 10: {got}")
rc, samples, _, _, _ = source(d, 3)
check([os.path.basename(s[0]) for s in samples] == ["img00.png", "img03.png", "img06.png"], "calib_count 3 of 10")
rc, samples, warns, _, _ = source(d, 25)
check(rc == 0 and len(samples) == 10 and any("exceeds" in w for w in warns), "calib_count > total uses all")

# 3. List files: relative to the list's dir, absolute paths, comments, CRLF, junk lines.
d = os.path.join(root, "lists")
png(os.path.join(d, "imgs/one.png"))
png(os.path.join(d, "imgs/two.png"))
npy(os.path.join(d, "t.npy"), rng.standard_normal((3, 16, 16)).astype(np.float32))
touch(os.path.join(d, "imgs/skip.jpg"))
absolute = os.path.join(root, "count", "img09.png")
lst = os.path.join(d, "calib.txt")
with open(lst, "w", newline="") as f:
    f.write("# calibration list\r\n\r\nimgs/two.png\r\n  imgs/one.png  \n" + absolute + "\n\n# t.npy\nt.npy\n"
            "imgs/skip.jpg\n")
rc, samples, warns, err, _ = source(lst, 0, os.path.join(root, "walk_out"))
got = [s[0] for s in samples]
want = [os.path.join(d, "imgs/two.png"), os.path.join(d, "imgs/one.png"), absolute, os.path.join(d, "t.npy")]
check(rc == 0 and [os.path.normpath(g) for g in got] == want, f"list file order: {got} ({err})")
check(len(warns) == 1 and "skipped 1 files" in warns[0], f"list junk warning: {warns}")
with open(lst, "a") as f:
    f.write("imgs/missing.png\n")
rc, _, _, err, _ = source(lst)
check(rc == 2 and "calib.txt:10" in err and "missing.png" in err, f"missing listed file: {err}")

# 4. Corrupt PNGs: bad header dropped at open, bad data skipped at load.
d = os.path.join(root, "corrupt")
for i in range(4):
    png(os.path.join(d, f"ok{i}.png"))
touch(os.path.join(d, "garbage.png"), b"not a png")
good = open(os.path.join(d, "ok0.png"), "rb").read()
touch(os.path.join(d, "truncated.png"), good[: len(good) // 2])
rc, samples, warns, err, lines = source(d)
check(rc == 0 and len(samples) == 5, f"corrupt: count after open {len(samples)} ({err})")
check(any("garbage.png" in w for w in warns) and any("truncated.png" in w for w in warns),
      f"corrupt: warnings name both files: {warns}")
check("skipped 1" in lines, f"corrupt: one skipped at load: {lines}")
d = os.path.join(root, "all_corrupt")
touch(os.path.join(d, "bad.png"), b"nope")
rc, _, _, err, _ = source(d)
check(rc == 2 and "no usable calibration samples in" in err and d in err, f"all corrupt (open): {err}")
d = os.path.join(root, "all_corrupt_data")
touch(os.path.join(d, "t1.png"), good[: len(good) // 2])
touch(os.path.join(d, "t2.png"), good[: len(good) // 3])
rc, _, _, err, _ = source(d)
check(rc == 2 and "no usable calibration samples in" in err, f"all corrupt (load): {err}")

# 5. Missing directory, empty directory, dynamic H/W with images.
rc, _, _, err, _ = source(os.path.join(root, "nope"))
check(rc == 2 and "nope" in err and "does not exist" in err, f"missing dir: {err}")
os.makedirs(os.path.join(root, "empty"))
rc, _, _, err, _ = source(os.path.join(root, "empty"))
check(rc == 2 and "no usable calibration samples" in err, f"empty dir: {err}")
rc, _, _, err, _ = source(os.path.join(root, "count"), inputs=("x:float:-1,3,-1,-1",))
check(rc == 2 and "--input-shape" in err, f"dynamic H/W: {err}")
rc, _, _, err, _ = source(os.path.join(root, "count"), inputs=("x:float:-1,3,-1,-1",), extra=["size=24x24"])
check(rc == 0, f"dynamic H/W with size: {err}")

# 6. Tensor files: .npy/.pb with or without the batch dim, dtype conversion, mismatches.
d = os.path.join(root, "tensors")
a0 = rng.standard_normal((3, 16, 16)).astype(np.float32)
a1 = rng.standard_normal((1, 3, 16, 16))  # float64 -> converted to float
a2 = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
npy(os.path.join(d, "0.npy"), a0)
npy(os.path.join(d, "1.npy"), a1)
touch(os.path.join(d, "2.pb"), numpy_helper.from_array(a2, "x").SerializeToString())
out = os.path.join(root, "tensors_out")
os.makedirs(out)
rc, samples, _, err, _ = source(d, 0, out)
check(rc == 0 and len(samples) == 3, f"tensor files: {err}")
for i, ref in enumerate((a0[None], a1.astype(np.float32), a2)):
    got = np.load(os.path.join(out, f"{i}_0.npy")) if rc == 0 else None
    check(got is not None and got.dtype == np.float32 and got.shape == (1, 3, 16, 16) and np.array_equal(got, ref),
          f"tensor sample {i}")
npy(os.path.join(d, "3.npy"), np.zeros((3, 15, 16), np.float32))
rc, _, _, err, _ = source(d)
check(rc == 2 and "3.npy" in err and "does not fit" in err, f"npy shape mismatch: {err}")
os.remove(os.path.join(d, "3.npy"))
rc, _, _, err, _ = source(d, inputs=("x:int64:1,3,16,16",))
check(rc == 2 and "0.npy" in err and "int64" in err, f"float npy into int64 input: {err}")
touch(os.path.join(d, "9.pb"), numpy_helper.from_array(np.zeros((2, 3), np.float32)).SerializeToString())
rc, _, _, err, _ = source(d)
check(rc == 2 and "9.pb" in err, f"pb shape mismatch: {err}")

# 7. Multi-input models: DIR/<input_name>/..., i-th file of each subdir.
d = os.path.join(root, "multi")
ids = []
for i in range(3):
    png(os.path.join(d, "image", f"{i}.png"))
    ids.append(rng.integers(0, 1000, (4,)).astype(np.int32))  # int32 -> int64
    npy(os.path.join(d, "ids", f"s{i}.npy"), ids[-1])
touch(os.path.join(d, "ids", "README"))
out = os.path.join(root, "multi_out")
os.makedirs(out)
two = ("image:float:1,3,8,8", "ids:int64:-1,4")
rc, samples, warns, err, _ = source(d, 0, out, inputs=two)
check(rc == 0 and len(samples) == 3 and all(len(s) == 2 for s in samples), f"multi-input: {err}")
check(all(s[0].endswith(f"image/{i}.png") and s[1].endswith(f"ids/s{i}.npy") for i, s in enumerate(samples)),
      f"multi-input pairing: {samples}")
check(len(warns) == 1 and "skipped 1 files" in warns[0], f"multi-input junk warning: {warns}")
for i in range(3 if rc == 0 else 0):
    got = np.load(os.path.join(out, f"{i}_1.npy"))
    check(got.dtype == np.int64 and got.shape == (1, 4) and np.array_equal(got[0], ids[i]), f"multi ids {i}")
    check(np.load(os.path.join(out, f"{i}_0.npy")).shape == (1, 3, 8, 8), f"multi image {i}")
npy(os.path.join(d, "ids", "s3.npy"), ids[0])
rc, _, _, err, _ = source(d, inputs=two)
check(rc == 2 and "ids" in err and "image" in err and "4" in err and "3" in err, f"multi count mismatch: {err}")
shutil.rmtree(os.path.join(d, "ids"))
rc, _, _, err, _ = source(d, inputs=two)
check(rc == 2 and "<input_name>" in err and "ids" in err, f"multi missing subdir: {err}")

# Multi-input list file: tab-separated paths per line.
lst = os.path.join(root, "multi_list.txt")
with open(lst, "w") as f:
    f.write(f"multi/image/0.png\t{os.path.join(root, 'tensors', '0.npy')}\n")
rc, samples, _, err, _ = source(lst, inputs=("image:float:1,3,8,8", "t:float:1,3,16,16"))
check(rc == 0 and len(samples) == 1 and len(samples[0]) == 2, f"multi list: {err}")
with open(lst, "w") as f:
    f.write("multi/image/0.png\n")
rc, _, _, err, _ = source(lst, inputs=("image:float:1,3,8,8", "t:float:1,3,16,16"))
check(rc == 2 and "tab-separated" in err, f"multi list wrong field count: {err}")

# 8. A FIFO (or device) with a sample extension is an error naming it, found while listing:
# reading it would block. Without a sample extension it is counted with the other junk.
d = os.path.join(root, "fifo")
png(os.path.join(d, "0.png"))
os.mkfifo(os.path.join(d, "1.png"))
rc, samples, _, err, _ = source(d)
check(rc == 2 and "1.png" in err and "FIFO" in err and samples == [], f"FIFO .png in the dir: rc={rc} {err!r}")
os.remove(os.path.join(d, "1.png"))
os.mkfifo(os.path.join(d, "1.npy"))
rc, _, _, err, _ = source(d)
check(rc == 2 and "1.npy" in err and "FIFO" in err, f"FIFO .npy in the dir: rc={rc} {err!r}")
os.remove(os.path.join(d, "1.npy"))
os.mkfifo(os.path.join(d, "notes"))
rc, samples, warns, err, _ = source(d)
check(rc == 0 and len(samples) == 1 and any("skipped 1 files" in w for w in warns),
      f"FIFO without a sample extension: rc={rc} {warns} {err!r}")
lst = os.path.join(root, "fifo_list.txt")
with open(lst, "w") as f:
    f.write("fifo/notes\n")
rc, _, _, err, _ = source(lst)
check(rc == 2 and "fifo_list.txt:1" in err and "notes" in err and "FIFO" in err, f"list naming a FIFO: {err!r}")

# 9. Input names come from the model: only a plain name may become DIR/<name>. A directory
# outside the root holding valid samples must never be read through a name like "../outside".
d = os.path.join(root, "names", "calib")
outside = os.path.join(root, "names", "outside")
for i in range(2):
    npy(os.path.join(d, "a", f"{i}.npy"), np.zeros((1, 4), np.float32))
    npy(os.path.join(outside, f"{i}.npy"), np.ones((1, 4), np.float32))
    npy(os.path.join(d, "sub", "dir", f"{i}.npy"), np.ones((1, 4), np.float32))
for bad, why in (("../outside", "'/'"), ("..", "'..'"), (".", "'.'"), ("sub/dir", "'/'"),
                 ("back\\slash", "'\\'")):
    rc, samples, _, err, _ = source(d, inputs=("a:float:1,4", bad + ":float:1,4"))
    check(rc == 2 and samples == [] and bad in err and why in err and ".txt list" in err,
          f"input name {bad!r}: rc={rc} {err!r}")
rc, samples, _, err, _ = source(d, inputs=("a:float:1,4", "sub:float:1,4"))
check(rc == 0 and len(samples) == 2 and all(p.startswith(d + "/") for row in samples for p in row),
      f"plain input names: rc={rc} {samples} {err!r}")

finish("test_source")
