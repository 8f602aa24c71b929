/* Calibration pass: run the FP32 model over the calibration samples and
 * collect per-tensor statistics (calib/stats.h) for every float activation.
 *
 * Batches are spread across threads; each thread updates its own stats,
 * one sample at a time, and the batches' stats are merged into the result
 * in batch order. Results therefore do not depend on the thread count, and
 * memory does not grow with the number of samples. */
#ifndef QC_CALIBRATE_H
#define QC_CALIBRATE_H

#include <stdint.h>

#include "../../calib/source.h"
#include "../../calib/stats.h"

struct qc_model;
struct qc_engine;

typedef struct qc_calib_opts {
  int batch;    /* samples per inference (>= 1) */
  int nthreads; /* worker threads (>= 1) */
  int progress; /* draw a progress bar on stderr */
} qc_calib_opts;

typedef struct qc_calib_result {
  int64_t samples; /* samples observed */
  int64_t skipped; /* unusable samples (corrupt images) */
  double seconds;
} qc_calib_result;

/* Names of the tensors calibration observes: float graph inputs and float
 * node outputs (not constants). Added to `stats` (empty) in graph order. */
int qc_calib_register_tensors(const struct qc_model *m, qc_stats_set *stats);

/* Runs the engine over every sample of src and merges the statistics of the
 * tensors registered in `stats`. */
int qc_calibrate(struct qc_model *m, struct qc_engine *e, qc_calib_source *src, const qc_calib_opts *opts,
                 qc_stats_set *stats, qc_calib_result *result);

/* A string identifying the model's graph (for stats files): tensor names and
 * op types hashed. */
void qc_model_fingerprint(const struct qc_model *m, char *buf, size_t n);

#endif
