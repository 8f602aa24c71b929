/* The pass interface: every graph pass has one signature and one row in the
 * stage table (registry.c); the pipeline runs a stage with qc_passes_run.
 * A new pass is one file with its run function plus one table row
 * (docs/passes.md). */
#ifndef QC_PASS_H
#define QC_PASS_H

#include "../ir/model.h"
#include "../quant/qdq.h"

/* What the passes of a stage may read and write besides the model. */
typedef struct qc_pass_ctx {
  const qc_quant_opts *opts;  /* both stages: the quantization options */
  const qc_stats_set *stats;  /* quantize: the calibration statistics */
  qc_quant_summary *summary;  /* quantize: the QDQ pass's record of the copy (filled by it) */
} qc_pass_ctx;

/* What one run of a pass changed: its one count for the report (nodes
 * removed, folded or rewritten; pairs equalized; ...; docs/passes.md). */
typedef struct qc_pass_counts {
  int changed;
} qc_pass_counts;

typedef struct qc_pass {
  const char *name;  /* snake_case, unique across stages */
  const char *stage; /* "prepare" or "quantize" */
  int (*run)(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);
} qc_pass;

/* One pass run, for the report. ms is wall time: never written into a model. */
typedef struct qc_pass_record {
  const char *pass, *stage; /* the table's strings (static) */
  int count;
  double ms;
} qc_pass_record;

/* The records of the passes run so far, in run order. */
typedef struct qc_pass_log {
  qc_pass_record *records;
  int n;
} qc_pass_log;

/* The stage table, in run order (registry.c); *n gets its length. */
const qc_pass *qc_passes_table(int *n);
/* The pass named `name`, or NULL. */
const qc_pass *qc_passes_find(const char *name);
/* Runs the passes of `stage` in table order on m. Each pass's count and time
 * are appended to *log (may be NULL). An unknown stage is QC_EINTERNAL; a
 * failing pass stops the stage with its own error (which names the node or
 * tensor), so messages are the same as when the passes were called directly. */
int qc_passes_run(const char *stage, qc_model *m, qc_pass_ctx *ctx, qc_pass_log *log);
/* Appends the records of src to *dst. */
int qc_pass_log_append(qc_pass_log *dst, const qc_pass_log *src);
void qc_pass_log_free(qc_pass_log *log);

#endif
