/* Range selection from collected statistics: minmax, ema, percentile,
 * entropy (KL), mse. All read a qc_stats (see stats.h); none re-reads data.
 * Formulas, defaults and sources: docs/observers.md. */
#ifndef QC_OBSERVER_H
#define QC_OBSERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/tensor.h"
#include "qparams.h"
#include "stats.h"

typedef enum qc_observer_kind {
  QC_OBS_MINMAX = 0,
  QC_OBS_EMA,
  QC_OBS_PERCENTILE,
  QC_OBS_ENTROPY,
  QC_OBS_MSE,
  QC_OBS_COUNT
} qc_observer_kind;

#define QC_PERCENTILE_DEFAULT 99.999
/* Bins the entropy and mse searches work on (|x| or signed, coarsened exactly). */
#define QC_SEARCH_BINS 2048

typedef struct qc_observer_cfg {
  qc_observer_kind kind;
  bool symmetric;    /* target is symmetric around 0 (int8 symmetric) */
  double percentile; /* percentile observer, in (0, 100]; default 99.999 */
  int32_t qmin, qmax; /* target integer range (mse error model, entropy levels) */
} qc_observer_cfg;

/* Defaults for kind and target scheme (symmetric/qmin/qmax from the scheme). */
void qc_observer_cfg_default(qc_observer_cfg *cfg, qc_observer_kind kind, qc_qscheme scheme);
const char *qc_observer_name(qc_observer_kind kind);
int qc_observer_parse(const char *name, qc_observer_kind *kind);

/* (rmin, rmax) for s. Empty statistics (no finite value) give (0, 0); the
 * caller reports that. Invalid cfg is QC_EUSAGE. The range is not widened to
 * include 0 here; qparams does that. */
int qc_observer_range(const qc_observer_cfg *cfg, const qc_stats *s, float *rmin, float *rmax);

/* Per-channel min/max of a float weight tensor along axis (negative counts
 * from the end). mins/maxs hold dims[axis] values. NaN/Inf is QC_EINVAL. */
int qc_channel_minmax(const qc_tensor *w, int axis, float *mins, float *maxs);
/* Per-channel MSE-optimal ranges (each channel's values observed as one sample). */
int qc_channel_mse_range(const qc_tensor *w, int axis, qc_qscheme scheme, float *mins,
                         float *maxs);

#endif
