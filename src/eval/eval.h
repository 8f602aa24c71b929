/* Evaluation: FP32 vs quantized model on labeled or unlabeled data, both run
 * in qconvert's engine, and per-layer quantization error.
 *
 * Labeled data: DIR holds class subfolders. If every subfolder name is an
 * integer it is the class index; otherwise classes are numbered in sorted
 * name order. A DIR with files only is unlabeled: agreement and SQNR only. */
#ifndef QC_EVAL_H
#define QC_EVAL_H

#include <stdint.h>

#include "../../calib/preprocess.h"
#include "../../calib/qparams.h"
#include "../../calib/source.h"

struct qc_model;
typedef struct qc_eval_data qc_eval_data;

/* FP32 vs quantized on evaluation data (both run in qconvert's engine). */
typedef struct qc_eval_result {
  int labeled;              /* class subfolders gave labels */
  int n_classes;
  int64_t samples;
  double fp32_top1, quant_top1; /* fractions; -1 when unlabeled */
  double fp32_top5, quant_top5; /* -1 when unlabeled or fewer than 5 classes */
  double agreement;         /* fraction of samples whose top-1 class agrees */
  double output_sqnr_db;    /* min over outputs of 10 log10(sum ref^2 / sum (ref - q)^2) */
  double cosine;            /* cosine similarity of all outputs, flattened */
  double fp32_ms, quant_ms; /* mean milliseconds per sample */
} qc_eval_result;

/* Per-layer error: the SQNR of one quantized activation, fake-quantized with
 * its chosen qparams, against its FP32 value. */
typedef struct qc_layer_error {
  char *name;
  double sqnr_db;
} qc_layer_error;

typedef struct qc_eval_opts {
  int batch;
  int nthreads;
  int quiet;
} qc_eval_opts;

/* Lists the evaluation samples of dir (or of a LIST.txt, unlabeled) for a
 * model with these inputs; count > 0 keeps that many evenly spaced samples per
 * class. quiet: no warnings about skipped files. */
int qc_eval_open(const char *dir, const qc_preprocess_opts *pre, const qc_input_spec *inputs, int ninputs,
                 int quiet, int64_t count, qc_eval_data **out);
void qc_eval_close(qc_eval_data *d);
int64_t qc_eval_count(const qc_eval_data *d);
/* From now on only the samples whose index (within their class) has this
 * parity (0 or 1) are read: two disjoint halves of one listing. */
void qc_eval_keep_parity(qc_eval_data *d, int parity);
/* Path of input `input`'s file for sample `index` (0 <= index < qc_eval_count). */
const char *qc_eval_sample_path(const qc_eval_data *d, int64_t index, int input);

/* Runs fp32 and quant (may be NULL: FP32 accuracy only) over the data. When
 * no sample could be used (all skipped) it is QC_EUSAGE "no usable evaluation
 * samples in DIR", never a result over zero samples. */
int qc_evaluate(struct qc_model *fp32, struct qc_model *quant, qc_eval_data *d, const qc_eval_opts *o,
                qc_eval_result *res);

/* The FP32 side of an evaluation, computed once for trials that compare many
 * quantized models against the same FP32 model and data (the --min-sqnr
 * fallback, range refinement): the FP32 outputs of every sample, at most
 * max_bytes of them (later batches are run again by each trial). Borrows
 * fp32 and d. */
typedef struct qc_eval_reference qc_eval_reference;
int qc_eval_reference_open(struct qc_model *fp32, qc_eval_data *d, const qc_eval_opts *o, size_t max_bytes,
                           qc_eval_reference **out);
/* The same over `count` evenly spaced samples of d only: the rows
 * floor(i * total / count), i = 0 .. count-1, of the listing (classes in
 * order), as qc_eval_open(..., count) picks them from one directory; every
 * sample when count <= 0 or count >= total. A search ranks on such a subset
 * and confirms on the whole. */
int qc_eval_reference_spread(struct qc_model *fp32, qc_eval_data *d, const qc_eval_opts *o, size_t max_bytes,
                             int64_t count, qc_eval_reference **out);
/* qc_evaluate(fp32, quant, d, o) against the kept FP32 outputs: the same
 * numbers, bit for bit (same sums in the same order), without the FP32 runs. */
int qc_evaluate_cached(qc_eval_reference *r, struct qc_model *quant, qc_eval_result *res);
/* Bytes of FP32 outputs kept. */
size_t qc_eval_reference_bytes(const qc_eval_reference *r);
void qc_eval_reference_free(qc_eval_reference *r);

/* Output-driven range refinement (src/pipeline/refine.c, docs/quantization.md):
 * one activation range it changed. */
typedef struct qc_range_change {
  char *tensor;
  const char *candidate;          /* "minmax", "percentile", ... or "x0.5": the range scaled */
  float from_lo, from_hi;         /* the observer's range before */
  float to_lo, to_hi;             /* the range kept */
  double sqnr_db;                 /* worst-output SQNR on the held-back samples once kept */
} qc_range_change;

typedef struct qc_refine_result {
  int ran;                /* 1 when the search ran */
  const char *skipped;    /* when it did not run although on: why (static text) */
  int64_t samples;        /* held-back calibration samples */
  int tensors, trials;    /* tensors searched, quantize-and-evaluate trials */
  double before_db, after_db; /* worst-output SQNR on the held-back samples */
  int64_t confirm_samples;    /* the confirmation set (0: nothing to confirm) */
  double confirm_before_db, confirm_after_db;
  int undone;                 /* the confirmation set did not gain: every change undone */
  qc_range_change *changes;
  int n_changes;
  double seconds;         /* wall time (not deterministic) */
} qc_refine_result;
void qc_refine_result_free(qc_refine_result *r);

/* Where the output error enters (src/pipeline/error_entry.c): the output
 * SQNR with only a prefix of the compute nodes (graph order) quantized. */
typedef struct qc_error_checkpoint {
  char *tensor;   /* output of the prefix's last compute node */
  int nodes;      /* compute nodes quantized */
  double sqnr_db; /* worst-output SQNR */
} qc_error_checkpoint;

/* One compute node whose quantization adds the most output error. */
typedef struct qc_error_step {
  char *node;                 /* "Conv 'name'" */
  char *tensor;               /* its output */
  int index;                  /* 1-based among the compute nodes */
  double before_db, after_db; /* output SQNR with the prefix before it, and with it */
  double added_noise;         /* noise-to-signal power it adds (10^(-after/10) - 10^(-before/10)) */
} qc_error_step;

typedef struct qc_error_entry {
  int ran;
  const char *skipped;   /* why not, when a report asked for it */
  int64_t samples;
  int trials, n_compute;
  qc_error_checkpoint *checkpoints;
  int n_checkpoints;
  qc_error_step *steps;  /* largest added noise first */
  int n_steps;
  qc_layer_error *tensors; /* SQNR of each quantized activation in the fully quantized model, worst first */
  int n_tensors;
} qc_error_entry;
void qc_error_entry_free(qc_error_entry *e);

/* One quantized activation: its name and the qparams of its QuantizeLinear. */
typedef struct qc_layer_qparams {
  const char *name;
  qc_qparams qp;
} qc_layer_qparams;

/* Per-layer error: runs the FP32 model over the data and, for every tensor
 * in `tensors`, accumulates the SQNR of its fake-quantized value. *out is
 * sorted worst first; free with qc_layer_errors_free.
 * Zero usable samples is the same error as for qc_evaluate. */
int qc_layer_errors(struct qc_model *fp32, const qc_layer_qparams *tensors, int n_tensors, qc_eval_data *d,
                    const qc_eval_opts *o, qc_layer_error **out, int *n_out);
void qc_layer_errors_free(qc_layer_error *e, int n);

/* Per-tensor error in the fully quantized model: one paired run of fp32 and
 * quant over the data, one sample at a time; for each name in `tensors` (an
 * FP32 activation), the SQNR of its value in quant (the DequantizeLinear
 * output that stands for it, else the tensor of that name) against FP32.
 * The FP32 values of one sample are kept meanwhile, at most max_bytes of
 * them (later tensors are left out). *out is sorted worst first; free with
 * qc_layer_errors_free. */
int qc_paired_errors(struct qc_model *fp32, struct qc_model *quant, const char *const *tensors, int n_tensors,
                     qc_eval_data *d, const qc_eval_opts *o, size_t max_bytes, qc_layer_error **out, int *n_out);

#endif
