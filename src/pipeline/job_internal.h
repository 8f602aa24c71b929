/* What the jobs of src/pipeline share: the state of one run and its stages. */
#ifndef QC_JOB_INTERNAL_H
#define QC_JOB_INTERNAL_H

#include <stdio.h>

#include "../core/fileio.h"
#include "../eval/eval.h"
#include "../ir/graph.h"
#include "../ir/model.h"
#include "../passes/pass.h"
#include "../quant/adaround.h"
#include "../quant/calibrate.h"
#include "../quant/qdq.h"
#include "job.h"

typedef enum { JOB_QUANTIZE, JOB_COMPARE, JOB_EVAL } job_kind;

/* Every file a job reads and every file it writes (files.c): the
 * destinations are checked and reserved by job_files_open, before any work,
 * and checked again against each batch of inputs the job learns of. */
typedef struct job_files {
  qc_file_set inputs;
  qc_outputs *outputs;
  int model_out, stats_out; /* output ids, -1 when absent */
  int *report_out;          /* one per options.reports */
} job_files;

/* One run, from the options to the result; everything in it is freed by
 * job_state_free (a failed run's reserved outputs are removed then). */
typedef struct job_state {
  const qc_job_options *o;
  job_kind kind;
  double t0;
  qc_quant_opts q;  /* the options' quantization settings, first observer */
  char *output;     /* the model's destination; NULL for none */
  job_files files;
  qc_model *m;      /* the model: as loaded, prepared, then the quantized result */
  size_t input_bytes; /* size of the model file read */
  unsigned char *base; /* the prepared FP32 model: every trial quantizes a copy */
  size_t base_len;
  qc_model *fp32;   /* a copy of base: the reference for evaluation */
  qc_model *model2; /* eval: the quantized model */
  qc_calib_source *src;
  qc_stats_set stats;
  qc_calib_result cres;
  qc_weight_rounding rounding; /* --rounding adaround: learned weights (s->q.rounding points here) */
  char *rounding_note;         /* its line for the summary's warnings */
  qc_eval_data *data;
  /* The result. */
  const char *observer;   /* the observer the result was quantized with */
  qc_quant_summary summary;
  qc_pass_log prepare_log;  /* what each prepare pass did */
  qc_pass_log quantize_log; /* what each quantize pass did to the result's copy */
  qc_pass_log passes;       /* both, in run order, for the report (job_finish) */
  unsigned char *packed;  /* the result's bytes (compare: the best model's) */
  size_t packed_len;
  qc_op_bytes *ops;       /* parameter bytes per op type, before and after */
  int n_ops, nodes_total, nodes_quantized;
  qc_eval_result eval;
  int evaluated;          /* eval holds a result */
  qc_range_memo ranges;   /* activation ranges, refined (refine.c); the fallback starts from them */
  qc_refine_result refine;
  qc_error_entry error_entry;
  qc_layer_error *layers;
  int n_layers;
  qc_hist_view *hists;
  int n_hists;
  qc_compare_entry entries[QC_OBS_COUNT];
  int n_entries;
} job_state;

/* ---- state and stages (stages.c) ---- */
int job_state_new(const qc_job_options *o, job_kind kind, job_state **out);
void job_state_free(job_state *s);
int job_threads(const qc_job_options *o);
/* Evaluation settings of quantize, compare and the fallback. */
qc_eval_opts job_eval_opts(const qc_job_options *o);
/* Observer `kind` with the options' scheme and percentile. */
void job_observer_cfg(const qc_job_options *o, qc_observer_kind kind, qc_observer_cfg *cfg);
/* The options' quantization settings with observer `kind`. */
void job_quant_opts(const qc_job_options *o, qc_observer_kind kind, qc_quant_opts *q);
/* Everything that can be refused is refused here, before any calibration:
 * every destination, the model and its ops, the calibration samples and, with
 * open_eval, the evaluation samples (--eval, else calibration samples); no
 * destination may be one of the files read. */
int job_open_inputs(job_state *s, int open_eval);
/* The prepare passes; the prepared model's bytes become s->base. The input's
 * parameter bytes are counted first. */
int job_prepare(job_state *s);
/* The two pass stages, each called from here only. */
int job_run_prepare_passes(qc_model *m, const qc_quant_opts *q, qc_pass_log *log);
int job_run_quantize_passes(qc_model *m, const qc_stats_set *stats, const qc_quant_opts *q, qc_quant_summary *sum,
                            qc_pass_log *log);
/* A fresh copy of s->base quantized with q; *log (may be NULL) gets the
 * quantize passes' records. */
int job_quantize_copy(job_state *s, const qc_quant_opts *q, qc_model **out, qc_quant_summary *sum, qc_pass_log *log);
/* The evaluation data and the FP32 reference (s->fp32), each opened once. */
int job_open_reference(job_state *s);
/* Parameter bytes and node counts of the result s->m. */
int job_measure_result(job_state *s);
/* Renders and writes every report, commits all outputs, and hands the state
 * over to res (which then owns it). */
int job_finish(job_state *s, qc_job_result *res);

/* ---- data (data.c) ---- */
/* Model input specs with --input-shape applied and batch dim 1. */
int job_input_specs(const qc_job_options *o, const qc_graph *g, qc_input_spec *specs);
/* Lists the calibration samples (prints the preprocessing unless quiet) and
 * adds them to the inputs; s->src stays NULL with load_stats. */
int job_open_calib(job_state *s);
/* Calibrates s->m over s->src, or merges the load_stats files, into s->stats;
 * save_stats writes the result, merged statistics included. */
int job_collect_stats(job_state *s);
/* The evaluation samples: eval_dir, or up to QC_JOB_CALIB_EVAL_SAMPLES
 * calibration samples with use_calib; their files join the inputs. */
int job_open_eval_data(job_state *s, int use_calib);

/* ---- evaluation (evaluate.c) ---- */
/* Per-layer error of the activations a QDQ pass quantized (sum->tensors). */
int job_layer_errors(job_state *s, const qc_quant_summary *sum, qc_layer_error **out, int *n_out);

/* ---- output-driven range refinement (refine.c) ---- */
/* With --refine: refines activation ranges for the worst-output SQNR on
 * held-back calibration samples; replaces s->m, s->summary and
 * s->quantize_log when a range changed, and leaves the ranges in s->ranges
 * (s->q.range_memo) for the fallback. */
int job_refine(job_state *s);
/* Samples and cost bound of the trials of refinement and the error-entry
 * report: trials x samples x operations per sample <= JOB_TRIAL_BUDGET_OPS. */
#define JOB_HELDBACK_SAMPLES 8
#define JOB_TRIAL_BUDGET_OPS 8.0e10
/* count calibration samples, evenly spaced (rows floor(i * total / count)). */
int job_open_heldback(job_state *s, int64_t count, qc_eval_data **out);
/* Estimated operations per sample of g: MACs of Conv, ConvTranspose, Gemm and
 * MatMul with constant weights, one per output element elsewhere, from the
 * calibration statistics (st over `samples` samples). */
double job_model_ops(const qc_graph *g, const qc_stats_set *st, int64_t samples);

/* ---- where the output error enters (error_entry.c) ---- */
/* With a report: the per-tensor SQNR in the fully quantized model and the
 * output SQNR of quantized prefixes, into s->error_entry. */
int job_error_entry(job_state *s);

/* ---- FP32 fallback (fallback.c) ---- */
/* The FP32 outputs the trials of --min-sqnr and refinement keep in memory:
 * beyond this, later batches' FP32 outputs are computed again by each trial. */
#define JOB_REFERENCE_MAX_BYTES ((size_t)512 << 20)
/* Keeps the most sensitive nodes in FP32 until the output SQNR reaches
 * options.min_sqnr; replaces s->m and s->summary. */
int job_fallback(job_state *s);

/* ---- AdaRound (adaround.c) ---- */
/* --rounding adaround: learns the weight rounding from the calibration
 * samples into s->rounding and points s->q (hence every later QDQ pass, the
 * fallback's trials included) at it. */
int job_adaround(job_state *s);
/* Adds its time and effect to the result's summary warnings. */
int job_adaround_note(job_state *s);
/* ---- bias correction (bias_correct.c) ---- */
/* Corrects the biases of quant (a QDQ rewrite of s->base) from up to 32
 * calibration samples, unless options.no_bias_correction; the note goes to
 * s->summary. Without calibration samples (--load-stats) only a note. */
int job_bias_correct(job_state *s, qc_model *quant);

/* ---- files (files.c) ---- */
/* Destinations: output (the model; NULL for none), every report and
 * save_stats. Inputs: the model(s), a calibration LIST.txt, load_stats files. */
int job_files_open(const qc_job_options *o, const char *output, job_files *f);
/* The model file and its external-data files. */
int job_files_add_model(job_files *f, const qc_model *m);
/* The listed calibration or evaluation samples (src / d may be NULL). */
int job_files_add_source(job_files *f, const qc_calib_source *src, int ninputs);
int job_files_add_eval(job_files *f, const qc_eval_data *d, int ninputs);
/* Renders every report from r into its output. */
int job_files_write_reports(const qc_job_options *o, job_files *f, const qc_quant_report *r);
/* Removes every temp file that was not committed. */
void job_files_close(job_files *f);

/* ---- the report (report_build.c) ---- */
/* The one place a qc_quant_report is filled, for every job kind. */
void job_report_build(const job_state *s, qc_quant_report *r);
/* Histogram views of the n worst layers with every observer's range. */
int job_hist_views(job_state *s, int n);
void job_hist_views_free(qc_hist_view *h, int n);

#endif
