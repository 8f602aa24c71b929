#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "stats_kernels.h"

void qc_stats_init(qc_stats *s) {
  memset(s, 0, sizeof *s);
  s->min = INFINITY;
  s->max = -INFINITY;
  s->ema_constant = QC_EMA_DEFAULT_CONSTANT;
  s->hist.exp = QC_HIST_EXP_MIN;
}

void qc_stats_free(qc_stats *s) { (void)s; }

int qc_stats_set_ema_constant(qc_stats *s, double c) {
  if (!(c > 0.0 && c <= 1.0))
    return qc_fail(QC_EUSAGE, "EMA constant %g must be in (0, 1]", c);
  if (s->count || s->nonfinite)
    return qc_fail(QC_EINTERNAL, "EMA constant changed after statistics were collected");
  s->ema_constant = c;
  return QC_OK;
}

/* ---- EMA segments ---- */

double qc_ema_seg_value(const qc_ema_seg *seg, double c) {
  if (seg->n == 0)
    return NAN;
  if (seg->n == 1)
    return seg->first;
  return seg->weighted + pow(1.0 - c, (double)seg->n) * seg->first;
}

double qc_stats_ema_min(const qc_stats *s) { return qc_ema_seg_value(&s->ema_min, s->ema_constant); }
double qc_stats_ema_max(const qc_stats *s) { return qc_ema_seg_value(&s->ema_max, s->ema_constant); }

/* a := a followed by b. */
static void ema_seg_append(qc_ema_seg *a, const qc_ema_seg *b, double c) {
  if (b->n == 0)
    return;
  if (a->n == 0) {
    *a = *b;
    return;
  }
  double decay = b->n == 1 ? 1.0 - c : pow(1.0 - c, (double)b->n);
  a->weighted = decay * a->weighted + b->weighted;
  a->n += b->n;
}

/* ---- histogram geometry ---- */

int64_t qc_hist_bin(double x, int32_t exp) {
  /* x * 2^-exp is exact in double for any float x and exp in range. */
  double scaled = ldexp(x < 0 ? -x : x, -exp);
  int64_t k = (int64_t)floor(scaled);
  return x < 0 ? -1 - k : k;
}

int64_t qc_hist_floor_shift(int64_t k, int shift) {
  if (shift <= 0)
    return k;
  if (shift >= 63)
    return k < 0 ? -1 : 0;
  /* floor(k/2^s) = -1 - floor((-1-k)/2^s) for negative k. */
  return k >= 0 ? (int64_t)((uint64_t)k >> shift) : -1 - (int64_t)((uint64_t)(-1 - k) >> shift);
}

/* Keeps |x| / 2^exp below 2^61 so bin indices fit int64 with margin. */
static int32_t exp_floor(float min, float max) {
  float maxabs = fmaxf(fabsf(min), fabsf(max));
  if (maxabs == 0.0f)
    return QC_HIST_EXP_MIN;
  int e = ilogbf(maxabs) - 60;
  return e > QC_HIST_EXP_MIN ? e : QC_HIST_EXP_MIN;
}

static int fits(float min, float max, int32_t exp) {
  return qc_hist_bin(max, exp) - qc_hist_bin(min, exp) < QC_HIST_BINS;
}

int32_t qc_hist_fit_exp(float min, float max, int32_t lower_exp) {
  int32_t e = exp_floor(min, max);
  if (e < lower_exp)
    e = lower_exp;
  double span = (double)max - (double)min;
  /* At ilogb(span) - 13 the span covers >= 8192 bins, so the answer is above. */
  if (span > 0) {
    int start = ilogb(span) - 13;
    if (start > e)
      e = start;
  }
  while (!fits(min, max, e))
    e++;
  return e;
}

int qc_stats_hist_len(const qc_stats *s) {
  if (s->count == 0)
    return 0;
  return (int)(qc_hist_bin(s->max, s->hist.exp) - s->hist.first + 1);
}

/* dst_counts (bins from dst_first at dst_exp) += src's bins coarsened to dst_exp. */
static void add_rebinned(uint64_t *dst_counts, int64_t dst_first, int32_t dst_exp,
                         const qc_hist *src, int src_len) {
  int shift = dst_exp - src->exp;
  for (int i = 0; i < src_len; i++) {
    if (!src->counts[i])
      continue;
    int64_t k = qc_hist_floor_shift(src->first + i, shift);
    dst_counts[k - dst_first] += src->counts[i];
  }
}

/* Moves s's histogram to (exp, first); the data must fit there. */
static void rebin(qc_stats *s, int32_t exp, int64_t first) {
  if (exp == s->hist.exp && first == s->hist.first)
    return;
  uint64_t tmp[QC_HIST_BINS];
  memset(tmp, 0, sizeof tmp);
  add_rebinned(tmp, first, exp, &s->hist, qc_stats_hist_len(s));
  memcpy(s->hist.counts, tmp, sizeof tmp);
  s->hist.exp = exp;
  s->hist.first = first;
}

/* ---- update / merge ---- */

/* The int32 float-multiply binning of qc_hist_add_fast applies (see stats_kernels.h). */
static int fast_binning_ok(float min, float max, int32_t exp) {
  if (exp < -126 || exp > 126)
    return 0;
  double limit = ldexp((double)QC_HIST_FAST_INDEX_MAX, exp);
  return fabs((double)min) < limit && fabs((double)max) < limit;
}

int qc_stats_update(qc_stats *s, const float *x, size_t n) {
  qc_sample_scan scan;
  qc_stats_scan(x, n, &scan);
  s->nonfinite += scan.nonfinite;
  if (scan.finite == 0)
    return QC_OK;
  float mn = scan.min, mx = scan.max;
  uint64_t finite = scan.finite, zeros = scan.zeros;

  float new_min = s->count ? fminf(s->min, mn) : mn;
  float new_max = s->count ? fmaxf(s->max, mx) : mx;
  int32_t exp = qc_hist_fit_exp(new_min, new_max, s->count ? s->hist.exp : QC_HIST_EXP_MIN);
  int64_t first = qc_hist_bin(new_min, exp);
  if (s->count == 0) {
    memset(s->hist.counts, 0, sizeof s->hist.counts);
    s->hist.exp = exp;
    s->hist.first = first;
  } else {
    rebin(s, exp, first);
  }
  uint64_t *counts = s->hist.counts;
  if (scan.nonfinite == 0 && fast_binning_ok(new_min, new_max, exp)) {
    int len = (int)(qc_hist_bin(new_max, exp) - first + 1);
    qc_hist_add_fast(counts, len, x, n, ldexpf(1.0f, -exp), (int32_t)first);
  } else {
    double inv_width = ldexp(1.0, -exp);
    for (size_t i = 0; i < n; i++) {
      float v = x[i];
      if (!isfinite(v))
        continue;
      double scaled = (double)v * inv_width;
      /* Truncation is floor here: both operands are >= 0. */
      int64_t k = scaled >= 0 ? (int64_t)scaled : -1 - (int64_t)-scaled;
      counts[k - first]++;
    }
  }
  s->count += finite;
  s->zeros += zeros;
  s->min = new_min;
  s->max = new_max;
  s->samples++;
  double c = s->ema_constant;
  qc_ema_seg seg_min = {1, mn, c * mn}, seg_max = {1, mx, c * mx};
  ema_seg_append(&s->ema_min, &seg_min, c);
  ema_seg_append(&s->ema_max, &seg_max, c);
  return QC_OK;
}

int qc_stats_merge(qc_stats *dst, const qc_stats *src) {
  if (dst == src)
    return qc_fail(QC_EINTERNAL, "statistics merged into themselves");
  if (dst->ema_constant != src->ema_constant)
    return qc_fail(QC_EINVAL, "cannot merge statistics with EMA constants %g and %g",
                   dst->ema_constant, src->ema_constant);
  dst->nonfinite += src->nonfinite;
  if (src->count == 0)
    return QC_OK;
  if (dst->count == 0) {
    uint64_t nonfinite = dst->nonfinite;
    *dst = *src;
    dst->nonfinite = nonfinite;
    return QC_OK;
  }
  float new_min = fminf(dst->min, src->min), new_max = fmaxf(dst->max, src->max);
  int32_t exp = qc_hist_fit_exp(new_min, new_max,
                                dst->hist.exp > src->hist.exp ? dst->hist.exp : src->hist.exp);
  int64_t first = qc_hist_bin(new_min, exp);
  rebin(dst, exp, first);
  add_rebinned(dst->hist.counts, first, exp, &src->hist, qc_stats_hist_len(src));
  dst->count += src->count;
  dst->zeros += src->zeros;
  dst->samples += src->samples;
  dst->min = new_min;
  dst->max = new_max;
  ema_seg_append(&dst->ema_min, &src->ema_min, dst->ema_constant);
  ema_seg_append(&dst->ema_max, &src->ema_max, dst->ema_constant);
  return QC_OK;
}

int qc_stats_merge_unordered(qc_stats *dst, const qc_stats *src) {
  qc_ema_seg ema_min = dst->ema_min, ema_max = dst->ema_max;
  int rc = qc_stats_merge(dst, src);
  dst->ema_min = ema_min;
  dst->ema_max = ema_max;
  return rc;
}

void qc_stats_take_ema(qc_stats *dst, qc_stats *src) {
  ema_seg_append(&dst->ema_min, &src->ema_min, dst->ema_constant);
  ema_seg_append(&dst->ema_max, &src->ema_max, dst->ema_constant);
  memset(&src->ema_min, 0, sizeof src->ema_min);
  memset(&src->ema_max, 0, sizeof src->ema_max);
}

/* ---- validation (for loaded files) ---- */

static int ema_seg_ok(const qc_ema_seg *seg, uint64_t samples, float min, float max) {
  if (seg->n != samples)
    return 0;
  if (samples == 0)
    return seg->first == 0.0 && seg->weighted == 0.0;
  return isfinite(seg->first) && isfinite(seg->weighted) && seg->first >= min && seg->first <= max;
}

int qc_stats_validate(const qc_stats *s, const char *what) {
  if (!(s->ema_constant > 0.0 && s->ema_constant <= 1.0))
    return qc_fail(QC_EINVAL, "%s: EMA constant %g out of range", what, s->ema_constant);
  if (s->count == 0) {
    int clean = s->zeros == 0 && s->samples == 0 && s->ema_min.n == 0 && s->ema_max.n == 0;
    for (int i = 0; clean && i < QC_HIST_BINS; i++)
      clean = s->hist.counts[i] == 0;
    if (!clean)
      return qc_fail(QC_EINVAL, "%s: empty statistics carry data", what);
    return QC_OK;
  }
  if (!isfinite(s->min) || !isfinite(s->max) || s->min > s->max)
    return qc_fail(QC_EINVAL, "%s: invalid range [%g, %g]", what, s->min, s->max);
  if (s->zeros > s->count || (s->zeros && (s->min > 0 || s->max < 0)))
    return qc_fail(QC_EINVAL, "%s: zero count inconsistent with range", what);
  if (s->samples == 0 || s->samples > s->count)
    return qc_fail(QC_EINVAL, "%s: sample count %llu inconsistent with value count %llu", what,
                   (unsigned long long)s->samples, (unsigned long long)s->count);
  if (!ema_seg_ok(&s->ema_min, s->samples, s->min, s->max) ||
      !ema_seg_ok(&s->ema_max, s->samples, s->min, s->max))
    return qc_fail(QC_EINVAL, "%s: invalid EMA state", what);
  if (s->hist.exp != qc_hist_fit_exp(s->min, s->max, QC_HIST_EXP_MIN) ||
      s->hist.first != qc_hist_bin(s->min, s->hist.exp))
    return qc_fail(QC_EINVAL, "%s: histogram geometry does not match range", what);
  int len = qc_stats_hist_len(s);
  uint64_t total = 0;
  for (int i = 0; i < QC_HIST_BINS; i++) {
    if (i >= len && s->hist.counts[i])
      return qc_fail(QC_EINVAL, "%s: histogram counts beyond max", what);
    if (s->hist.counts[i] > s->count - total)
      return qc_fail(QC_EINVAL, "%s: histogram counts exceed value count", what);
    total += s->hist.counts[i];
  }
  if (total != s->count || !s->hist.counts[0] || !s->hist.counts[len - 1])
    return qc_fail(QC_EINVAL, "%s: histogram counts do not match value count / range", what);
  return QC_OK;
}

/* ---- name -> stats map ---- */

void qc_stats_set_init(qc_stats_set *set) { memset(set, 0, sizeof *set); }

void qc_stats_set_free(qc_stats_set *set) {
  for (size_t i = 0; i < set->count; i++) {
    free(set->names[i]);
    qc_stats_free(set->stats[i]);
    free(set->stats[i]);
  }
  free(set->names);
  free(set->stats);
  memset(set, 0, sizeof *set);
}

qc_stats *qc_stats_set_find(const qc_stats_set *set, const char *name) {
  for (size_t i = 0; i < set->count; i++)
    if (strcmp(set->names[i], name) == 0)
      return set->stats[i];
  return NULL;
}

int qc_stats_set_get(qc_stats_set *set, const char *name, qc_stats **out) {
  *out = qc_stats_set_find(set, name);
  if (*out)
    return QC_OK;
  if (set->count == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 16;
    char **names = realloc(set->names, cap * sizeof *names);
    if (!names)
      return qc_fail(QC_ENOMEM, "out of memory growing statistics for tensor '%s'", name);
    set->names = names;
    qc_stats **stats = realloc(set->stats, cap * sizeof *stats);
    if (!stats)
      return qc_fail(QC_ENOMEM, "out of memory growing statistics for tensor '%s'", name);
    set->stats = stats;
    set->cap = cap;
  }
  char *copy = strdup(name);
  qc_stats *s = malloc(sizeof *s);
  if (!copy || !s) {
    free(copy);
    free(s);
    return qc_fail(QC_ENOMEM, "out of memory allocating statistics for tensor '%s'", name);
  }
  qc_stats_init(s);
  set->names[set->count] = copy;
  set->stats[set->count] = s;
  set->count++;
  *out = s;
  return QC_OK;
}

int qc_stats_set_merge(qc_stats_set *dst, const qc_stats_set *src) {
  for (size_t i = 0; i < src->count; i++) {
    qc_stats *d;
    QC_TRY(qc_stats_set_get(dst, src->names[i], &d));
    int rc = qc_stats_merge(d, src->stats[i]);
    if (rc < 0)
      return qc_fail_context(rc, "tensor '%s'", src->names[i]);
  }
  return QC_OK;
}
