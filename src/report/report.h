/* The quantization report: what the main job prints on stdout and writes
 * with --report FILE (format by extension: .json, .csv, .txt).
 * The pipeline fills a qc_quant_report (src/pipeline/report_build.c); the
 * writers only format it. Its parts are the producers' own result types:
 * qc_tensor_report (quant/qdq.h), qc_op_bytes (quant/param_bytes.h),
 * qc_eval_result and qc_layer_error (eval/eval.h). */
#ifndef QC_REPORT_H
#define QC_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "../eval/eval.h"
#include "../passes/pass.h"
#include "../quant/param_bytes.h"
#include "../quant/qdq.h"

/* An activation histogram for the HTML report, with each observer's range. */
typedef struct qc_hist_view {
  char *tensor;
  double lo, hi;   /* value range covered by counts */
  int nbins;
  double *counts;
  int n_ranges;
  struct {
    const char *observer;
    float rmin, rmax;
  } ranges[8];
} qc_hist_view;

/* One observer's result in `qconvert compare`. */
typedef struct qc_compare_entry {
  const char *observer;
  double size_bytes;
  qc_eval_result eval;
  char worst_layer[256];
  double worst_sqnr_db;
  int best;
} qc_compare_entry;

typedef struct qc_quant_report {
  const char *model_path, *output_path;
  double fp32_bytes;       /* input model file size (bytes read) */
  double quantized_bytes;  /* output model size (bytes this run wrote) */
  qc_op_bytes *ops;        /* sorted by fp32_bytes, largest first */
  int n_ops;
  int nodes_total, nodes_quantized;
  const char *observer;    /* activation observer name */
  const char *activation_type, *weight_type; /* "uint8"/"int8", "int8" */
  int per_channel, weight_only;
  double percentile;
  int64_t calibration_samples;
  double calibration_seconds;
  double total_seconds;
  int threads;
  qc_tensor_report *tensors; /* in graph order */
  int n_tensors;
  const char **warnings;     /* one-line notes (skipped nodes, NaN seen, ...) */
  int n_warnings;
  const qc_float_region *regions;   /* float by design (decision regions) */
  int n_regions;
  const qc_saturation_clip *clips;  /* ranges clipped before saturating readers */
  int n_clips;
  /* Optional parts (NULL / 0 when absent). */
  const qc_eval_result *eval;     /* --eval */
  const qc_layer_error *layers;   /* per-layer SQNR, worst first */
  int n_layers;
  const qc_compare_entry *compare; /* `qconvert compare`: one entry per observer */
  int n_compare;
  const qc_hist_view *hists;      /* worst tensors' histograms with observer ranges */
  int n_hists;
  const qc_refine_result *refine; /* output-driven range refinement, when on */
  const qc_error_entry *error_entry; /* where the output error enters (main job with a report) */
  const qc_pass_record *passes;   /* each graph pass run: count and wall time (ms, not deterministic) */
  int n_passes;
} qc_quant_report;

/* "416.8 KiB", "1.6 MiB", "35 B" ("?" for negative/non-finite), into out. */
void qc_format_bytes(double bytes, char *out, size_t n);

/* Human summary on stdout (size table, counts, observer, samples, seconds). */
void qc_report_print(FILE *f, const qc_quant_report *r);
/* `qconvert compare`'s table: one row per observer, the best marked, and
 * the model written. evaluated_on names the evaluation data. */
void qc_report_print_compare(FILE *f, const qc_quant_report *r, const char *evaluated_on);
/* Writes the report to path in the format named by its extension
 * (.json, .csv, .txt), atomically. Unknown extension: QC_EUSAGE. */
int qc_report_write(const char *path, const qc_quant_report *r);
/* The bytes qc_report_write would write, malloc'd (*data may be NULL when *len is 0). */
int qc_report_render(const char *path, const qc_quant_report *r, char **data, size_t *len);
/* Whether qc_report_write knows this file's extension (checked before work starts). */
int qc_report_format_supported(const char *path);

#endif
