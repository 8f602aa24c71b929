/* The quantization job shared by `qconvert MODEL --calib DIR` and
 * `qconvert compare`: options, calibration, per-observer quantization,
 * evaluation and report assembly. */
#ifndef QC_JOB_H
#define QC_JOB_H

#include "../eval/eval.h"
#include "../ir/graph.h"
#include "../quant/calibrate.h"
#include "../quant/qdq.h"
#include "../report/report.h"
#include "observer.h"
#include "preprocess.h"

#define JOB_MAX_LIST 256

typedef enum { JOB_QUANTIZE, JOB_COMPARE, JOB_EVAL } job_mode;

typedef struct job_args {
  job_mode mode;
  const char *model, *calib, *output, *eval_dir;
  const char *model2; /* eval: the quantized model */
  const char *reports[JOB_MAX_LIST];
  int n_reports;
  const char *load_stats[JOB_MAX_LIST];
  int n_load_stats;
  const char *save_stats;
  const char *input_shapes[JOB_MAX_LIST];
  int n_input_shapes;
  long calib_count, batch, threads;
  int quiet;
  qc_preprocess_opts pre;
  qc_quant_opts q;                   /* q.observer is set per observer */
  qc_observer_kind observers[QC_OBS_COUNT];
  int n_observers;                   /* 1 for the main job */
  double percentile;
  double min_sqnr; /* --min-sqnr: FP32 fallback target in dB; 0 = off */
  char *exclude_buf, *op_types_buf, *observers_buf;
  const char *exclude[JOB_MAX_LIST], *op_types[JOB_MAX_LIST];
} job_args;

/* Returns 0 to run, 1 after --help, a negative status (message set), or
 * JOB_USAGE_PRINTED - exit_code when a usage message was already printed. */
#define JOB_USAGE_PRINTED (-1000)
int job_parse(int argc, char **argv, job_mode mode, job_args *a);
void job_args_free(job_args *a);

/* Model input specs with --input-shape applied and batch dim 1. */
int job_input_specs(const job_args *a, const qc_graph *g, qc_input_spec *specs);
/* Calibrates m (or merges --load-stats) into stats; saves with --save-stats. */
int job_collect_stats(const job_args *a, struct qc_model *m, qc_stats_set *stats, qc_calib_result *res);
/* Observer config for kind with the job's scheme and percentile. */
void job_observer_cfg(const job_args *a, qc_observer_kind kind, qc_observer_cfg *cfg);
/* Data for evaluation and per-layer error: --eval DIR, or up to 64
 * calibration samples when there is no --eval. */
int job_open_eval_data(const job_args *a, const struct qc_model *m, int use_calib, qc_eval_data **out);
/* Histogram views of the n worst tensors with every observer's range. */
int job_hist_views(const job_args *a, const qc_stats_set *stats, const qc_layer_error *layers, int n_layers, int n,
                   qc_hist_view **out, int *n_out);
void job_hist_views_free(qc_hist_view *h, int n);
/* The main job on parsed arguments; prints the summary to `summary` if non-NULL. */
int job_quantize(const job_args *a, const char *output, FILE *summary);
/* "dir/model.onnx" -> "dir/model.int8.onnx" (malloc'd). */
char *job_default_output_path(const char *model);
/* What the FP32 fallback needs: the simplified FP32 model (bytes and a
 * loaded copy), the statistics and the evaluation data. */
typedef struct job_fallback_ctx {
  const unsigned char *base;
  size_t base_len;
  const char *dir;
  struct qc_model *fp32;
  const qc_stats_set *stats;
  qc_eval_data *data;
} job_fallback_ctx;
/* --min-sqnr: keeps the most sensitive nodes in FP32 until the output SQNR
 * reaches the target; replaces *m and *summary (job_fallback.c). */
int job_fallback(const job_args *a, const job_fallback_ctx *c, struct qc_model **m, qc_quant_summary *summary);
/* Fails early if path's directory cannot take a new file. */
int job_check_output_dir(const char *opt, const char *path);
double job_now(void);
double job_file_size(const char *path);

#endif
