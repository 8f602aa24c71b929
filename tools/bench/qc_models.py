"""Shared helpers for the engine cross-check (tests/engine) and the benchmark
(tools/bench/bench_engine.py): the models, real-data inputs, and runners for
`qconvert run` and onnxruntime-node (tools/ort_run.mjs).

Needs Debian's python3 (/usr/bin/python3) with numpy, onnx and PIL.
"""
import gzip
import json
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

SOURCE_ROOT = os.environ.get('QC_SOURCE_ROOT') or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DEPS = os.path.join(SOURCE_ROOT, '.deps')
ORT_RUN = os.path.join(SOURCE_ROOT, 'tools', 'ort_run.mjs')
FMNIST_IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'
SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data'

BLAZEFACE = os.path.join(DEPS, 'models', 'blazeface.onnx')
PPOCR_CLS = os.path.join(DEPS, 'models', 'ppocr_cls.onnx')
PPOCR_DET = os.path.join(DEPS, 'models', 'ppocr_det.onnx')
PPOCR_REC = os.path.join(DEPS, 'models', 'ppocr_rec.onnx')
MLSD_TINY = os.path.join(DEPS, 'models', 'mlsd_tiny.onnx')
MLSD_LARGE = os.path.join(DEPS, 'models', 'mlsd_large.onnx')


def find_qconvert():
    q = os.environ.get('QCONVERT')
    if q:
        return q
    for cand in (os.path.join(os.environ.get('QC_BUILD_ROOT', ''), 'qconvert'),
                 os.path.join(SOURCE_ROOT, 'build', 'qconvert')):
        if os.path.isfile(cand):
            return cand
    raise SystemExit('qconvert binary not found: set QCONVERT or QC_BUILD_ROOT')


def deps_missing():
    """A reason string when onnxruntime-node or the real models are absent, else None."""
    if not os.path.isdir(os.path.join(DEPS, 'node', 'node_modules', 'onnxruntime-node')):
        return f'{DEPS}/node has no onnxruntime-node (run tools/fetch_deps.sh)'
    for m in (BLAZEFACE, PPOCR_CLS):
        if not os.path.isfile(m):
            return f'{m} is missing (run tools/fetch_deps.sh)'
    try:
        subprocess.run(['node', '--version'], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return 'node is not installed'
    return None


def demo_models():
    d = os.path.join(SOURCE_ROOT, 'demo')
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith('.onnx'))


# ---- inputs -----------------------------------------------------------------

def fmnist_images(n, start=0):
    """n Fashion-MNIST test images as float32 (n, 1, 28, 28) in [0, 1]."""
    with gzip.open(FMNIST_IMAGES, 'rb') as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data[:16], '>u4')
    assert magic == 2051 and rows == 28 and cols == 28, FMNIST_IMAGES
    px = np.frombuffer(data[16:], np.uint8).reshape(count, 1, rows, cols)
    return (px[start:start + n].astype(np.float32) / 255.0)


def _photo(name, size_wh, gray_ok=False):
    from PIL import Image
    img = Image.open(os.path.join(SKIMAGE_DATA, name)).convert('RGB')
    return np.asarray(img.resize(size_wh, Image.BILINEAR), dtype=np.float32)


PHOTOS = ['astronaut.png', 'chelsea.png', 'coffee.png', 'motorcycle_left.png', 'rocket.jpg',
          'hubble_deep_field.jpg', 'camera.png', 'coins.png']


def blazeface_images(n):
    """n real photos, 128x128 RGB, /127.5 - 1, NHWC float32 (n, 128, 128, 3)."""
    names = [p for p in PHOTOS if os.path.isfile(os.path.join(SKIMAGE_DATA, p))]
    out = [_photo(names[i % len(names)], (128, 128)) / 127.5 - 1.0 for i in range(n)]
    return np.stack(out).astype(np.float32)


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def ppocr_det_images(n, size=320):
    """n photos, size x size RGB, ImageNet mean/std normalised, NCHW (n, 3, size, size)."""
    names = [p for p in PHOTOS if os.path.isfile(os.path.join(SKIMAGE_DATA, p))]
    out = [((_photo(names[i % len(names)], (size, size)) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
           for i in range(n)]
    return np.stack(out).astype(np.float32)


def ppocr_rec_images(n, width=320):
    """n text strips, 48 x width, (x/255 - 0.5)/0.5, NCHW (n, 3, 48, width)."""
    return ppocr_images(n, (width, 48))


def mlsd_images(n, size=512):
    """n photos, size x size RGBA in 0-255 with alpha 255, NHWC float32 (n, size, size, 4)."""
    names = [p for p in PHOTOS if os.path.isfile(os.path.join(SKIMAGE_DATA, p))]
    out = []
    for i in range(n):
        rgb = _photo(names[(i + 2) % len(names)], (size, size))
        out.append(np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255.0, np.float32)], axis=2))
    return np.stack(out).astype(np.float32)


def ppocr_images(n, size_wh=(192, 48)):
    """n text-like crops (skimage text.png strips), 48x192 by default, (x/255 - 0.5)/0.5, NCHW."""
    from PIL import Image
    img = Image.open(os.path.join(SKIMAGE_DATA, 'text.png')).convert('RGB')
    w, h = img.size
    out = []
    for i in range(n):
        # Horizontal strips with a 4:1 aspect ratio at different offsets.
        ch = max(16, h // 3)
        cw = min(w, ch * 4)
        top = (i * (h - ch) // max(1, n - 1)) if n > 1 else (h - ch) // 2
        left = (i * 37) % max(1, w - cw + 1)
        crop = img.crop((left, top, left + cw, top + ch)).resize(size_wh, Image.BILINEAR)
        a = np.asarray(crop, dtype=np.float32) / 255.0
        out.append(((a - 0.5) / 0.5).transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


# ---- models -----------------------------------------------------------------

def fixed_batch(src, path_out, batch):
    """A copy of a model published at batch 1 with every batch-1 constant
    (input dim, ConstantOfShape shapes, Reshape targets) rewritten to `batch`."""
    m = onnx.load(src)
    g = m.graph
    shape_inits = set()
    for n in g.node:
        if n.op_type == 'ConstantOfShape':
            shape_inits.add(n.input[0])
        elif n.op_type == 'Reshape':
            shape_inits.add(n.input[1])
    for init in g.initializer:
        if init.name in shape_inits:
            a = numpy_helper.to_array(init).copy()
            assert a.ndim == 1 and a[0] == 1, (init.name, a)
            a[0] = batch
            init.CopyFrom(numpy_helper.from_array(a.astype(np.int64), init.name))
    for vi in list(g.input) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims):
            dims[0].ClearField('dim_param')
            dims[0].dim_value = batch
    del g.value_info[:]
    onnx.save(m, path_out)
    return path_out


def real_model(key, n, tmp):
    """(model path, input batch) for the real detection/OCR models at batch n, as
    docs/accuracy.md feeds them: M-LSD 512 (fixed batch 1, rewritten to n), PP-OCRv4 det at
    320x320 and rec at 48x320 (dynamic batch)."""
    if key in ('mlsd_tiny', 'mlsd_large'):
        src = MLSD_TINY if key == 'mlsd_tiny' else MLSD_LARGE
        model = src if n == 1 else fixed_batch(src, os.path.join(tmp, f'{key}_b{n}.onnx'), n)
        return model, mlsd_images(n)
    if key == 'ppocr_det':
        return PPOCR_DET, ppocr_det_images(n)
    if key == 'ppocr_rec':
        return PPOCR_REC, ppocr_rec_images(n)
    raise KeyError(key)


def blazeface_batch(path_out, batch):
    """BlazeFace (published at batch 1) at batch `batch`."""
    return fixed_batch(BLAZEFACE, path_out, batch)


def input_name(model_path):
    m = onnx.load(model_path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    assert len(names) == 1, names
    return names[0]


# ---- runners ----------------------------------------------------------------

TIME = '/usr/bin/time'
# Peak RSS (MiB) of the last run_qconvert / run_ort process, or None without /usr/bin/time.
LAST_PEAK_RSS_MIB = {'qconvert': None, 'ort': None}


def run_measured(cmd, env=None):
    """subprocess.run(cmd) capturing text output, plus the process's own peak RSS in MiB
    (from /usr/bin/time, so the forking interpreter's pages are not counted), or None."""
    if not os.path.exists(TIME):
        return subprocess.run(cmd, capture_output=True, text=True, env=env), None
    r = subprocess.run([TIME, '-f', 'QC_PEAK_RSS_KIB %M'] + cmd, capture_output=True, text=True, env=env)
    rss = None
    lines = r.stderr.splitlines()
    if lines and lines[-1].startswith('QC_PEAK_RSS_KIB '):
        rss = int(lines[-1].split()[1]) / 1024.0
        r.stderr = '\n'.join(lines[:-1])
    return r, rss


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, 'rb') as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def _outputs(d, ext, reader):
    files = sorted((f for f in os.listdir(d) if re.fullmatch(r'output_\d+\.' + ext, f)),
                   key=lambda f: int(f.split('_')[1].split('.')[0]))
    return [reader(os.path.join(d, f)) for f in files]


def run_qconvert(model, name, npy, out_dir, threads=2, repeat=0, qconvert=None, env=None):
    """Returns (outputs, median_ms or None)."""
    cmd = [qconvert or find_qconvert(), 'run', model, '--input', f'{name}={npy}', '--output-dir', out_dir,
           '--threads', str(threads)]
    if repeat:
        cmd += ['--repeat', str(repeat)]
    r, rss = run_measured(cmd, env=env)
    if r.returncode != 0:
        raise RuntimeError(f'qconvert run failed ({r.returncode}): {" ".join(cmd)}\n{r.stderr}')
    ms = None
    mt = re.search(r'median ([0-9.]+) ms', r.stdout)
    if mt:
        ms = float(mt.group(1))
    LAST_PEAK_RSS_MIB['qconvert'] = rss
    return _outputs(out_dir, 'pb', read_pb), ms


def run_ort(model, name, npy, out_dir, threads=2, repeat=1, warmup=0, optimize=True):
    cmd = ['node', ORT_RUN, model, '--input', f'{name}={npy}', '--output-dir', out_dir, '--threads', str(threads),
           '--repeat', str(repeat), '--warmup', str(warmup)]
    if not optimize:
        cmd.append('--no-optimize')
    r, rss = run_measured(cmd)
    if r.returncode != 0:
        raise RuntimeError(f'ort_run failed ({r.returncode}): {" ".join(cmd)}\n{r.stderr}')
    LAST_PEAK_RSS_MIB['ort'] = rss
    info = json.loads(r.stdout.strip().splitlines()[-1])
    return _outputs(out_dir, 'npy', np.load), info['median_ms']


if __name__ == '__main__':
    print(deps_missing() or 'deps ok', file=sys.stderr)
