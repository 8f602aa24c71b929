/* libqconvert: offline post-training quantization of ONNX models.
 *
 *   qconvert_options o;
 *   qconvert_options_init(&o);
 *   o.calib = "images/";
 *   if (qconvert_quantize("model.onnx", "model.int8.onnx", &o) != 0)
 *     fprintf(stderr, "%s\n", qconvert_last_error());
 *
 * Every function returns 0 on success or a negative status; the message of
 * the last failure on the calling thread is qconvert_last_error(). */
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

typedef struct qconvert_options {
  const char *calib;          /* calibration DIR or LIST.txt (required unless load_stats) */
  const char *observer;       /* "minmax", "ema", "percentile", "entropy", "mse" (default) */
  double percentile;          /* percentile observer; 0 = default 99.999 */
  int activation_int8;        /* int8 symmetric activations instead of uint8 affine */
  int per_tensor;             /* per-tensor weight scales */
  int weight_only;            /* int8 weights only, float activations */
  long calib_count;           /* 0 = every sample */
  int batch;                  /* samples per inference; 0 = 1 */
  int threads;                /* 0 = all cores */
  const char *input_shape;    /* e.g. "1x3x224x224" or "NAME=1x3x224x224"; NULL = from the model */
  const char *eval_dir;       /* evaluate FP32 vs INT8 on this dir; NULL = skip */
  const char *report;         /* report path (.json/.csv/.txt/.html/.png); NULL = none */
  const char *save_stats, *load_stats; /* statistics files; NULL = none */
  FILE *summary;              /* where to print the human summary; NULL = nowhere */
  int no_equalize;            /* skip cross-layer equalization of Conv -> [Relu] -> Conv pairs */
} qconvert_options;

QCONVERT_API const char *qconvert_version(void);
QCONVERT_API void qconvert_options_init(qconvert_options *o);
/* Quantizes model_path into output_path (NULL: model_path with .int8.onnx).
 * Every destination (output, report, save_stats) is checked before any work;
 * all are written together once the run succeeded, or none; none may be a
 * file the run reads (docs/security.md). A character device or FIFO is written
 * through. No signal handlers are installed: with a FIFO destination, ignore
 * SIGPIPE (and SIGXFSZ under a file-size limit) to get errors instead. */
QCONVERT_API int qconvert_quantize(const char *model_path, const char *output_path, const qconvert_options *o);
/* Message of the last failure on this thread. */
QCONVERT_API const char *qconvert_last_error(void);
/* The process exit code qconvert uses for a status (0, 1 internal, 2 user error). */
QCONVERT_API int qconvert_exit_code(int status);

#ifdef __cplusplus
}
#endif
#endif
