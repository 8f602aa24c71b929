/* The quantization job shared by `qconvert MODEL --calib DIR` and
 * `qconvert compare`: options, calibration, per-observer quantization,
 * evaluation and report assembly. */
#ifndef QC_JOB_H
#define QC_JOB_H

#include "../core/fileio.h"
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

/* Every file a job reads and every file it writes (job_files.c): the
 * destinations are checked and reserved by job_files_open, before any work,
 * and checked again against each batch of inputs the job learns of. */
typedef struct job_files {
  qc_file_set inputs;
  qc_outputs *outputs;
  int model_out, stats_out; /* output ids, -1 when absent */
  int report_out[JOB_MAX_LIST];
} job_files;
/* Destinations: output (the model; NULL for none), every --report and
 * --save-stats. Inputs: the model(s), --calib LIST.txt, --load-stats files. */
int job_files_open(const job_args *a, const char *output, job_files *f);
/* The model file and its external-data files. */
int job_files_add_model(job_files *f, const struct qc_model *m);
/* The listed calibration or evaluation samples (src / d may be NULL). */
int job_files_add_source(job_files *f, const qc_calib_source *src, int ninputs);
int job_files_add_eval(job_files *f, const qc_eval_data *d, int ninputs);
/* Renders every --report from r into its output. */
int job_files_write_reports(const job_args *a, job_files *f, const qc_quant_report *r);
/* Removes every temp file that was not committed. */
void job_files_close(job_files *f);

/* Model input specs with --input-shape applied and batch dim 1. */
int job_input_specs(const job_args *a, const qc_graph *g, qc_input_spec *specs);
/* Lists the --calib samples for m's inputs (prints the preprocessing unless
 * --quiet) and adds them to f's inputs; *src stays NULL with --load-stats. */
int job_open_calib(const job_args *a, const struct qc_model *m, job_files *f, qc_calib_source **src);
/* Calibrates m over src (or merges --load-stats) into stats; --save-stats
 * writes the result, merged statistics included, into f. */
int job_collect_stats(const job_args *a, struct qc_model *m, qc_calib_source *src, job_files *f,
                      qc_stats_set *stats, qc_calib_result *res);
/* Observer config for kind with the job's scheme and percentile. */
void job_observer_cfg(const job_args *a, qc_observer_kind kind, qc_observer_cfg *cfg);
/* Data for evaluation and per-layer error: --eval DIR, or up to 64
 * calibration samples when there is no --eval; its files join f's inputs. */
int job_open_eval_data(const job_args *a, const struct qc_model *m, int use_calib, job_files *f,
                       qc_eval_data **out);
/* Per-layer error of the activations the QDQ pass quantized (summary->tensors). */
int job_layer_errors(struct qc_model *fp32, const qc_quant_summary *summary, qc_eval_data *data,
                     const qc_eval_opts *eo, qc_layer_error **out, int *n_out);
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
double job_now(void);

#endif
