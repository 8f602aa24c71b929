/* libqconvert: offline post-training quantization of ONNX models.
 *
 *   qconvert_options o;
 *   qconvert_options_init(&o);
 *   o.calib = "images/";
 *   if (qconvert_quantize("model.onnx", "model.int8.onnx", &o) != 0)
 *     fprintf(stderr, "%s\n", qconvert_last_error());
 *
 * Every function returns 0 on success or a negative status; the message of
 * the last failure on the calling thread is qconvert_last_error(). The
 * options are those of the command line (`qconvert --help-quantize`), with
 * the same meaning and defaults: the library runs the same job. */
#ifndef QCONVERT_H
#define QCONVERT_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QCONVERT_VERSION "0.1.0"

/* Marks the library's exported functions; it is built with hidden visibility. */
#if defined(__GNUC__) || defined(__clang__)
#define QCONVERT_API __attribute__((visibility("default")))
#else
#define QCONVERT_API
#endif

/* Zero (qconvert_options_init) means the default everywhere. Lists are a
 * pointer and a count. Strings and lists are only read during the call. */
typedef struct qconvert_options {
  /* Calibration data */
  const char *calib;          /* --calib: DIR or LIST.txt (required unless load_stats) */
  long calib_count;           /* --calib-count: 0 = every sample */
  const char *const *input_shapes; /* --input-shape: "DIMS" or "NAME=DIMS", e.g. "1x3x224x224" */
  int n_input_shapes;

  /* Image preprocessing, written as on the command line; NULL = default.
   * value = (pixel * scale - mean) / std */
  const char *scale;          /* --scale: "1/255" (default), "1", ... */
  const char *mean, *std;     /* --mean, --std: "0.5" or one value per channel "0.485,0.456,0.406" */
  const char *color;          /* --color: "gray", "rgb", "bgr", "rgba" (default: from the model) */
  const char *layout;         /* --layout: "nchw", "nhwc" (default: from the model) */
  const char *resize_mode;    /* --resize-mode: "stretch" (default), "letterbox", "crop" */
  const char *pad_value;      /* --pad-value: letterbox fill, "114" by default */

  /* Quantization */
  const char *observer;       /* --observer: "minmax", "ema", "percentile", "entropy", "mse" (default) */
  const char *const *observers; /* qconvert_compare: the observers to compare (default all five) */
  int n_observers;
  double percentile;          /* --percentile: 0 = default 99.999 */
  int activation_int8;        /* --activation-type int8: int8 symmetric instead of uint8 affine */
  int per_tensor;             /* --per-tensor: per-tensor weight scales */
  int weight_only;            /* --weight-only: int8 weights only, float activations */
  int no_equalize;            /* --no-equalize: skip cross-layer equalization */
  int no_saturation_clip;     /* --no-saturation-clip: keep observer ranges before Sigmoid/Tanh/HardSigmoid */
  int refine;                 /* --refine: output-driven range refinement (opt-in) */
  const char *const *exclude; /* --exclude: node names kept in FP32 */
  int n_exclude;
  const char *const *op_types; /* --op-types: quantize only these op types */
  int n_op_types;
  double min_sqnr;            /* --min-sqnr (qconvert_quantize): FP32 fallback target in dB; 0 = off */
  double fallback_budget;     /* --fallback-budget: seconds the --min-sqnr search may take; 0 = no limit */
  const char *rounding;       /* --rounding (qconvert_quantize): "nearest" (default) or "adaround" */
  int no_bias_correction;     /* --no-bias-correction (qconvert_quantize): keep the biases as quantized */

  /* Statistics */
  const char *save_stats;     /* --save-stats: NULL = none */
  const char *const *load_stats; /* --load-stats: use (merged) saved statistics instead of calibrating */
  int n_load_stats;

  /* Evaluation and reports */
  const char *eval_dir;       /* --eval: evaluate FP32 vs INT8 on this dir; NULL = skip */
  const char *const *reports; /* --report: .json/.csv/.txt/.html/.png, format by extension */
  int n_reports;
  FILE *summary;              /* where to print what the command prints; NULL = nowhere */

  /* Running */
  int batch;                  /* --batch: samples per inference; 0 = 1 */
  int threads;                /* --threads: 0 = all cores */
  int verbose;                /* echo the preprocessing (and compare's progress) on stderr */
  int progress;               /* draw a progress bar on stderr while calibrating */
} qconvert_options;

QCONVERT_API const char *qconvert_version(void);
QCONVERT_API void qconvert_options_init(qconvert_options *o);
/* Quantizes model_path into output_path (NULL: model_path with .int8.onnx).
 * Every destination (output, reports, save_stats) is checked before any work;
 * all are written together once the run succeeded, or none; none may be a
 * file the run reads (docs/security.md). A character device or FIFO is written
 * through. No signal handlers are installed: with a FIFO destination, ignore
 * SIGPIPE (and SIGXFSZ under a file-size limit) to get errors instead. */
QCONVERT_API int qconvert_quantize(const char *model_path, const char *output_path, const qconvert_options *o);
/* `qconvert compare`: one calibration pass, one quantized model per observer
 * (options.observers), each evaluated against FP32 (on eval_dir, else 64
 * calibration samples); the best one is written to best_output_path unless
 * it is NULL. The summary is the comparison table. Destinations as above. */
QCONVERT_API int qconvert_compare(const char *model_path, const char *best_output_path, const qconvert_options *o);
/* Message of the last failure on this thread. */
QCONVERT_API const char *qconvert_last_error(void);
/* The process exit code qconvert uses for a status (0, 1 internal, 2 user error). */
QCONVERT_API int qconvert_exit_code(int status);

#ifdef __cplusplus
}
#endif
#endif
