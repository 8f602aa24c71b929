"""The real-model accuracy measurement shared by tests/e2e/test_real_models.py and
tools/bench/bench_accuracy.py (docs/accuracy.md): model specs, task metrics, the
input-rounding floor, and the table.

For each model: quantize with qconvert's defaults on calibration PNGs made by realdata.py, run
FP32 and INT8 in onnxruntime on held-out samples, and compare INT8 against FP32 (pooled SQNR
per output, and a task metric). The floor is the same comparison for FP32 itself when every
input pixel moves by uniform noise in [-0.5, 0.5] (before normalisation): an INT8 figure near
its floor is as close to FP32 as rounding the input image to 8 bits is.
"""
import collections
import os
import sys

import numpy as np

import qc_test as T
import realdata as R

MODELS_DIR = os.path.join(T.DEPS, "models")
FLOOR_SEED = 20240601


# ---- preprocessing (mirrors qconvert's: value = (pixel * scale - mean[c]) / std[c]) ----

def _nchw(x):
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def paddle_bgr(mean, std):
    """PaddleOCR feeds OpenCV's BGR order; mean/std are per output channel."""
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    return lambda px: _nchw(((px[..., ::-1] / 255.0 - mean) / std).astype(np.float32))


def blazeface_input(px):
    return ((px - 127.5) / 127.5).astype(np.float32)[None]


def mlsd_input(px):
    """RGBA 0-255 with an opaque alpha channel, as qconvert's --color rgba gives for RGB PNGs."""
    alpha = np.full(px.shape[:2] + (1,), 255.0)
    return np.concatenate([px, alpha], axis=2).astype(np.float32)[None]


# ---- task metrics: each maps (reference outputs, test outputs, samples) to [(name, value)] --
# Outputs are concatenated over the samples along axis 0 (every model here runs at batch 1).

def text_map_iou(ref, test, samples, threshold=0.3):
    """PP-OCR det: IoU of the binarised probability maps (p > 0.3), pooled over all pixels."""
    a, b = ref[0] > threshold, test[0] > threshold
    union = int((a | b).sum())
    return [("text-map IoU", float((a & b).sum()) / union if union else 1.0)]


def ctc_greedy(probs):
    """Greedy CTC: per time step argmax, repeats collapsed, blank (index 0) removed."""
    best = probs.argmax(-1)
    keep = np.ones_like(best, bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(i) for i in best[keep & (best != 0)]]


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[len(b)]


def ctc_agreement(ref, test, samples):
    """PP-OCR rec: the decoded index sequences; exact-match rate and mean normalised edit
    distance (distance / longer length)."""
    exact, ned = [], []
    for r, t in zip(ref[0], test[0]):
        a, b = ctc_greedy(r), ctc_greedy(t)
        exact.append(a == b)
        ned.append(edit_distance(a, b) / max(len(a), len(b), 1))
    return [("CTC exact", float(np.mean(exact))), ("CTC NED", float(np.mean(ned)))]


def top1_agreement(ref, test, samples):
    return [("top-1 agreement", float((ref[0].argmax(-1) == test[0].argmax(-1)).mean()))]


def blazeface_anchors():
    """MediaPipe's front-camera SSD anchors: 16x16 cells x 2 and 8x8 cells x 6, centres at
    (i + 0.5) / grid, unit size (fixed_anchor_size); order: the 512 of the fine grid first."""
    out = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                out += [((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell
    return np.array(out)


ANCHORS = blazeface_anchors()


def blazeface_detect(outs, size=128):
    """Per sample: (best score, best box x0, y0, x1, y1 in pixels). Scores are
    sigmoid(clip(logit, -100, 100)); regressors x, y, w, h are in pixels of the 128 input,
    relative to the anchor centre."""
    logits = np.concatenate([outs[0][..., 0], outs[1][..., 0]], axis=1)
    regs = np.concatenate([outs[2], outs[3]], axis=1)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
    best = scores.argmax(1)
    res = []
    for k, i in enumerate(best):
        cx = ANCHORS[i, 0] * size + regs[k, i, 0]
        cy = ANCHORS[i, 1] * size + regs[k, i, 1]
        w, h = regs[k, i, 2], regs[k, i, 3]
        res.append((scores[k, i], (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
    return res


def box_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


FACE_SCORE = 0.5


def face_agreement(ref, test, samples):
    """BlazeFace: the face/no-face decision (best score > 0.5), and the IoU of the best boxes
    where the reference finds a face."""
    r, t = blazeface_detect(ref), blazeface_detect(test)
    same = [(a[0] > FACE_SCORE) == (b[0] > FACE_SCORE) for a, b in zip(r, t)]
    ious = [box_iou(a[1], b[1]) for a, b in zip(r, t) if a[0] > FACE_SCORE]
    return [("face decision", float(np.mean(same))), ("box IoU", float(np.mean(ious)) if ious else 1.0)]


MLSD_THRESHOLD = 0.1  # the package's default (LineSegmentDetector.ProcessImage)


def peaks(scores, threshold=MLSD_THRESHOLD):
    return np.argwhere(scores[..., 0] > threshold)


def matched_peaks(p, q, radius=1):
    """One-to-one matches between two peak sets within `radius` pixels (Chebyshev), greedy in
    scan order of p over q's free peaks."""
    free = {tuple(x) for x in q}
    matches = 0
    for y, x in p:
        for dy in range(-radius, radius + 1):
            hit = next(((y + dy, x + dx) for dx in range(-radius, radius + 1)
                        if (y + dy, x + dx) in free), None)
            if hit:
                free.discard(hit)
                matches += 1
                break
    return matches


def peak_f1(ref, test, samples):
    """M-LSD: `scores` is already peak-picked (sigmoid * (x == maxpool3x3(x))); F1 of the
    peaks above 0.1 matched within 1 pixel, pooled over the samples."""
    idx = 1  # outputs: offsets, scores
    m = n = 0
    for r, t in zip(ref[idx], test[idx]):
        p, q = peaks(r), peaks(t)
        m += matched_peaks(p, q)
        n += len(p) + len(q)
    return [("peak F1", 2.0 * m / n if n else 1.0)]


# ---- FP32 on the data: is the evaluation data what the model is made for? ----------------
# Each maps (FP32 outputs, samples) to [(what, value, minimum)]; tests/e2e checks the minimum.

REC_KEYS = os.path.join(MODELS_DIR, "ocr-models-pkg", "package", "assets", "ppocr_keys_v1.txt")


def det_finds_text(fp32, samples):
    with_text = [o for o, s in zip(fp32[0], samples) if s.label > 0]
    found = np.mean([(o > 0.3).mean() > 0.005 for o in with_text])
    return [("text scenes with > 0.5% of the map above 0.3", float(found), 0.9)]


def rec_reads_text(fp32, samples):
    """Decodes with PP-OCR's dictionary (index 0 blank, 1..6623 the key file, 6624 space)."""
    if not os.path.isfile(REC_KEYS):
        return []
    with open(REC_KEYS, encoding="utf-8") as f:
        chars = [""] + f.read().split("\n")[:6623] + [" "]
    read = [" ".join("".join(chars[i] for i in ctc_greedy(o)).split()) == s.label
            for o, s in zip(fp32[0], samples)]
    return [("lines read exactly", float(np.mean(read)), 0.6)]


def cls_orientation(fp32, samples):
    right = fp32[0].argmax(-1) == np.array([s.label for s in samples])
    return [("orientation right", float(right.mean()), 0.7)]


def mlsd_finds_lines(fp32, samples):
    return [("peaks above 0.1 per image", float(np.mean([len(peaks(o)) for o in fp32[1]])), 10.0)]


def blazeface_finds_faces(fp32, samples):
    hits = [sc > FACE_SCORE and box_iou(box, s.label) >= 0.5
            for (sc, box), s in zip(blazeface_detect(fp32), samples) if s.label]
    return [("faces found, best box IoU >= 0.5 with the face", float(np.mean(hits)), 0.9)]


# ---- the six models ----------------------------------------------------------------

Spec = collections.namedtuple("Spec", "key file input hw args to_input samples metric sanity")
SPECS = collections.OrderedDict((s.key, s) for s in [
    Spec("ppocr_det", "ppocr_det.onnx", "x", (320, 320),
         ["--input-shape", "1x3x320x320", "--color", "bgr", "--mean", "0.485,0.456,0.406",
          "--std", "0.229,0.224,0.225"],
         paddle_bgr([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), R.text_scenes, text_map_iou, det_finds_text),
    Spec("ppocr_rec", "ppocr_rec.onnx", "x", (48, 320),
         ["--input-shape", "1x3x48x320", "--color", "bgr", "--mean", "0.5", "--std", "0.5"],
         paddle_bgr(0.5, 0.5), R.text_lines, ctc_agreement, rec_reads_text),
    Spec("ppocr_cls", "ppocr_cls.onnx", "x", (48, 192),
         ["--input-shape", "1x3x48x192", "--color", "bgr", "--mean", "0.5", "--std", "0.5"],
         paddle_bgr(0.5, 0.5), R.oriented_lines, top1_agreement, cls_orientation),
    Spec("mlsd_tiny", "mlsd_tiny.onnx", "input_image_with_alpha:0", (512, 512),
         ["--scale", "1"], mlsd_input, R.photo_scenes, peak_f1, mlsd_finds_lines),
    Spec("mlsd_large", "mlsd_large.onnx", "input_image_with_alpha:0", (512, 512),
         ["--scale", "1"], mlsd_input, R.photo_scenes, peak_f1, mlsd_finds_lines),
    Spec("blazeface", "blazeface.onnx", "input:0", (128, 128),
         ["--scale", "1", "--mean", "127.5", "--std", "127.5"], blazeface_input, R.face_scenes,
         face_agreement, blazeface_finds_faces),
])


def model_path(spec):
    return os.path.join(MODELS_DIR, spec.file)


def bench_keys(models, tool):
    """The model keys of a bench's --models list; exits with one line (naming `tool`) when a key is
    unknown or onnxruntime, the image data or a model file is missing."""
    keys = [k.strip() for k in models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SPECS]
    if unknown:
        sys.exit(f"{tool}: unknown model(s) {unknown}; choose from {list(SPECS)}")
    why = T.ort_missing() or R.missing() or next(
        (f"{model_path(SPECS[k])} is missing (run tools/fetch_deps.sh)" for k in keys
         if not os.path.isfile(model_path(SPECS[k]))), None)
    if why:
        sys.exit(f"{tool}: {why}")
    return keys


def make_samples(spec, split, n, seed=1):
    return spec.samples(split, n, spec.hw[0], spec.hw[1], seed)


def inputs(spec, samples, noise_seed=None):
    """Model inputs for the samples; with noise_seed, every pixel first moves by U(-0.5, 0.5)."""
    rng = np.random.default_rng(noise_seed) if noise_seed is not None else None
    out = []
    for s in samples:
        px = s.pixels.astype(np.float64)
        if rng is not None:
            px = px + rng.uniform(-0.5, 0.5, px.shape)
        out.append({spec.input: spec.to_input(px)})
    return out


# ---- measurement -----------------------------------------------------------------

Row = collections.namedtuple("Row", "model output sqnr floor_sqnr")
Result = collections.namedtuple("Result", "key rows metrics floor_metrics sanity fp32 int8 samples")


def quantize(spec, calib_dir, out, extra_args=(), report=None):
    """`qconvert MODEL --calib DIR` with the model's preprocessing options and nothing else
    (plus extra_args); returns the CompletedProcess."""
    args = [model_path(spec), "--calib", calib_dir, *spec.args, *extra_args, "-o", out, "--quiet"]
    if report:
        args += ["--report", report]
    return T.qconvert(*args, check_rc=False, timeout=7200)


def evaluate(spec, quantized, samples, workdir, threads=2, optimized_model=None):
    """FP32, FP32 on noisy input, and the quantized model in onnxruntime over the samples
    (optimized_model: where ORT saves the quantized model's optimized graph)."""
    xs = inputs(spec, samples)
    fp32, info = T.ort_run_batch(model_path(spec), xs, os.path.join(workdir, "fp32"), threads)
    noisy, _ = T.ort_run_batch(model_path(spec), inputs(spec, samples, FLOOR_SEED),
                               os.path.join(workdir, "floor"), threads)
    int8, _ = T.ort_run_batch(quantized, xs, os.path.join(workdir, "int8"), threads,
                              optimized_model=optimized_model)
    rows = [Row(spec.key, name, T.sqnr_db(a, b), T.sqnr_db(a, c))
            for name, a, b, c in zip(info["outputs"], fp32, int8, noisy)]
    return Result(spec.key, rows, spec.metric(fp32, int8, samples), spec.metric(fp32, noisy, samples),
                  spec.sanity(fp32, samples), fp32, int8, samples)


def table(results):
    """The accuracy table: one line per output, each model's worst output starred, the model's
    task metrics on its first line."""
    lines = [f"{'model':<11} {'output':<18} {'SQNR INT8':>9} {'floor':>7}  task metric: INT8 (floor)",
             "-" * 96]
    for res in results:
        worst = min(range(len(res.rows)), key=lambda i: res.rows[i].sqnr)
        task = ", ".join(f"{n} {v:.3f} ({f:.3f})"
                         for (n, v), (_, f) in zip(res.metrics, res.floor_metrics))
        for i, r in enumerate(res.rows):
            lines.append(f"{r.model if i == 0 else '':<11} {r.output[:18]:<18} {r.sqnr:>8.2f}"
                         f"{'*' if i == worst else ' '} {r.floor_sqnr:>7.2f}  {task if i == 0 else ''}".rstrip())
    lines.append("(dB; * the model's worst output; floor: FP32 against FP32 on input + U(-0.5, 0.5) "
                 "pixel noise)")
    return "\n".join(lines)
