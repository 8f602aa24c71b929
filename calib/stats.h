/* Per-tensor calibration statistics: everything every observer needs, from
 * one calibration pass, in constant memory per tensor.
 *
 * Feed one SAMPLE (one image's slice of the tensor) per qc_stats_update call,
 * in sample order. Per-thread objects may be combined with qc_stats_merge in
 * a fixed order. Counts, min/max and the histogram are exact integers/floats,
 * so they are bitwise identical however the samples were chunked; the EMA is
 * kept in an order-aware segment form and agrees to ~1e-15 relative.
 *
 * Histogram: bins aligned at 0 with width 2^exp. Bin k holds
 *   x >= 0: k = floor(x / 2^exp);   x < 0: k = -1 - floor(-x / 2^exp)
 * so negative bins mirror positive ones exactly (|x| folds bin k<0 onto
 * -1-k) and coarsening (exp+1) maps k to floor(k/2) on both sides. The state
 * is canonical: exp is the smallest value >= the floor below that puts
 * [min, max] inside QC_HIST_BINS bins, and bin `first` holds min. See
 * docs/observers.md. */
#ifndef QC_STATS_H
#define QC_STATS_H

#include <stddef.h>
#include <stdint.h>

#define QC_HIST_BINS 4096
#define QC_EMA_DEFAULT_CONSTANT 0.01
/* exp never goes below the float subnormal step: every float then has its own bin. */
#define QC_HIST_EXP_MIN (-149)
#define QC_HIST_EXP_MAX 200

/* One ordered run of samples for the EMA x_k = x_{k-1} + c (v_k - x_{k-1}), x_1 = v_1.
 * For samples v_1..v_n: weighted = sum_i c (1-c)^(n-i) v_i, and
 * value = weighted + (1-c)^n v_1. merge(A, B): n = nA + nB,
 * weighted = (1-c)^nB weighted_A + weighted_B, first = A.first. */
typedef struct qc_ema_seg {
  uint64_t n;
  double first;
  double weighted;
} qc_ema_seg;

typedef struct qc_hist {
  int32_t exp;   /* bin width 2^exp; meaningful when the owning stats has count > 0 */
  int64_t first; /* bin index of counts[0] (= bin of the tensor min) */
  uint64_t counts[QC_HIST_BINS];
} qc_hist;

typedef struct qc_stats {
  uint64_t count;     /* finite values seen */
  uint64_t nonfinite; /* NaN / +-Inf values seen (excluded from everything else) */
  uint64_t zeros;     /* values exactly +-0 (always representable; see mse) */
  uint64_t samples;   /* update calls with at least one finite value (EMA steps) */
  float min, max;     /* over finite values; +inf / -inf when count == 0 */
  double ema_constant;
  qc_ema_seg ema_min, ema_max;
  qc_hist hist;
} qc_stats;

/* Empty statistics with the default EMA constant 0.01. Never fails. */
void qc_stats_init(qc_stats *s);
/* Change the EMA constant (0 < c <= 1); only while s is empty. */
int qc_stats_set_ema_constant(qc_stats *s, double c);
/* Adds one sample of n values. A sample without finite values only bumps nonfinite. */
int qc_stats_update(qc_stats *s, const float *x, size_t n);
/* dst := dst followed by src (ordered for the EMA; exact for everything else).
 * Fails if the EMA constants differ. */
int qc_stats_merge(qc_stats *dst, const qc_stats *src);
/* For callers that carry the order-dependent EMA separately: merge everything
 * except the EMA (which stays dst's) ... */
int qc_stats_merge_unordered(qc_stats *dst, const qc_stats *src);
/* ... and append src's EMA segments after dst's, then clear them in src.
 * The calibration driver keeps per-thread histograms for the whole run and
 * hands over only each batch's EMA segments, in batch order. */
void qc_stats_take_ema(qc_stats *dst, qc_stats *src);
/* Nothing is heap-allocated today; kept so callers stay correct if that changes. */
void qc_stats_free(qc_stats *s);

/* Current EMA of per-sample minima / maxima (NaN when no samples). */
double qc_stats_ema_min(const qc_stats *s);
double qc_stats_ema_max(const qc_stats *s);
double qc_ema_seg_value(const qc_ema_seg *seg, double c);

/* Histogram helpers shared with the observers and the stats file. */
int64_t qc_hist_bin(double x, int32_t exp);
/* floor(k / 2^shift) for any sign, without relying on signed shifts. */
int64_t qc_hist_floor_shift(int64_t k, int shift);
/* Number of used bins: bin(max) - first + 1 (0 when empty). */
int qc_stats_hist_len(const qc_stats *s);
/* Smallest exponent >= lower_exp at which [min, max] fits QC_HIST_BINS bins. */
int32_t qc_hist_fit_exp(float min, float max, int32_t lower_exp);
/* Internal consistency check (used by the file loader): QC_EINVAL naming `what`. */
int qc_stats_validate(const qc_stats *s, const char *what);

/* Name -> stats map in insertion order. Entries are individually allocated,
 * so pointers returned by get/find stay valid until qc_stats_set_free. */
typedef struct qc_stats_set {
  size_t count, cap;
  char **names;
  qc_stats **stats;
} qc_stats_set;

void qc_stats_set_init(qc_stats_set *set);
void qc_stats_set_free(qc_stats_set *set);
/* Entry for name, created empty (appended) if missing. */
int qc_stats_set_get(qc_stats_set *set, const char *name, qc_stats **out);
/* Entry for name or NULL. Linear scan: callers keep the pointer per tensor. */
qc_stats *qc_stats_set_find(const qc_stats_set *set, const char *name);
/* For each entry of src (in src order): dst[name] = merge(dst[name], src[name]). */
int qc_stats_set_merge(qc_stats_set *dst, const qc_stats_set *src);

/* Stats file (format in docs/observers.md): versioned little-endian binary,
 * written atomically. fingerprint identifies the model (any caller string). */
int qc_stats_save(const char *path, const char *fingerprint, const qc_stats_set *set);
/* The bytes qc_stats_save writes (malloc'd); path only names the file in messages. */
int qc_stats_pack(const char *path, const char *fingerprint, const qc_stats_set *set, uint8_t **data, size_t *len);
/* Validates the whole file, then merges every record into set (set's data
 * first, the file's after). If expected_fingerprint is non-NULL it must match.
 * On error set is unchanged. */
int qc_stats_load(const char *path, const char *expected_fingerprint, qc_stats_set *set);

#endif
