/* The options of a job (the main job, `compare`, `eval`): one struct that the
 * command line (src/cli) and the public API (src/api.c) fill, with the
 * defaults of qc_job_options_default. Lists are pointer + count and are
 * borrowed, as are all strings: they must outlive the job call. */
#ifndef QC_JOB_OPTIONS_H
#define QC_JOB_OPTIONS_H

#include <stdint.h>

#include "../../calib/observer.h"
#include "../../calib/preprocess.h"
#include "../quant/qdq.h"

#define QC_JOB_MAX_BATCH 4096
#define QC_JOB_MAX_THREADS 1024
/* Evaluation and per-layer error of a quantize or compare run use this many
 * calibration samples when there is no --eval DIR. */
#define QC_JOB_CALIB_EVAL_SAMPLES 64

/* How weights are rounded to int8 (--rounding). */
enum { QC_ROUNDING_NEAREST, QC_ROUNDING_ADAROUND };

typedef struct qc_job_options {
  /* What to read. */
  const char *model;  /* the FP32 model */
  const char *model2; /* eval: the quantized model (NULL: the FP32 model's accuracy only) */
  const char *calib;  /* calibration DIR or LIST.txt (quantize, compare) */
  long calib_count;   /* 0: every sample; else this many, evenly spaced */
  const char *const *input_shapes; /* "[NAME=]DIMS", e.g. "1x3x224x224" */
  int n_input_shapes;
  qc_preprocess_opts pre; /* image preprocessing of every input */
  const char *const *load_stats; /* saved statistics used instead of calibrating (merged) */
  int n_load_stats;
  const char *eval_dir; /* quantize, compare: --eval DIR; eval: --data DIR */

  /* How to quantize. */
  const qc_observer_kind *observers; /* quantize: the first; compare: each; none: mse / all five */
  int n_observers;
  double percentile;      /* percentile observer, in (0, 100] */
  qc_qscheme act_scheme;  /* QC_QS_UINT8_AFFINE or QC_QS_INT8_SYMMETRIC */
  int per_tensor;         /* per-tensor weight scales instead of per channel */
  int weight_only;        /* int8 weights behind DequantizeLinear, float activations */
  int no_equalize;        /* skip cross-layer equalization */
  int no_saturation_clip; /* keep observer ranges before saturating readers */
  int refine;             /* output-driven range refinement (refine.c), opt-in */
  const char *const *exclude; /* node names kept in FP32 */
  int n_exclude;
  const char *const *op_types; /* op types to quantize (none: every supported one) */
  int n_op_types;
  double min_sqnr; /* quantize: keep sensitive nodes in FP32 until this output SQNR (dB); 0: off */
  double fallback_budget; /* quantize: wall-clock seconds the min_sqnr search may take; 0: no limit */
  int rounding;           /* quantize: QC_ROUNDING_NEAREST or QC_ROUNDING_ADAROUND (learned, src/quant/adaround.h) */
  int no_bias_correction; /* quantize: keep the biases as quantized (no empirical bias correction) */

  /* What to write. */
  const char *output; /* quantize: NULL = MODEL.int8.onnx; compare: the best model, NULL = none */
  const char *const *reports; /* report files, format by extension */
  int n_reports;
  const char *save_stats; /* the statistics used (collected or merged); NULL = none */

  /* How to run. */
  long batch;   /* samples per inference; eval: 1 means its default of 32 */
  long threads; /* 0: every core */
  int quiet;    /* no preprocessing echo or compare progress on stderr (warnings still show) */
  int progress; /* a progress bar on stderr while calibrating */
} qc_job_options;

/* Every field at its default: batch 1, percentile 99.999, uint8 activations,
 * the default observer(s), nothing else set. */
void qc_job_options_default(qc_job_options *o);

/* Checks of option values that need no model, shared by the command line
 * (which checks each value as it parses it) and qc_job_options_check. `given`
 * is the value as the user wrote it, for the message. QC_EUSAGE when bad. */
int qc_job_check_percentile(double percentile, const char *given);
int qc_job_check_min_sqnr(double db, const char *given);
int qc_job_check_fallback_budget(double seconds, const char *given);
int qc_job_check_op_type(const char *op_type);
/* "nearest" or "adaround" into *rounding. */
int qc_job_parse_rounding(const char *s, int *rounding);
/* "1x3x224x224": positive decimal dimensions joined by single 'x's. */
int qc_job_parse_dims(const char *s, int64_t *dims, int *ndim);
/* "[NAME=]DIMS": the DIMS part parses. */
int qc_job_check_input_shape(const char *arg);

/* Every value check above and the ranges of the numbers (batch, threads,
 * calib_count, observers), before a job does any work. */
int qc_job_options_check(const qc_job_options *o);

#endif
