#include "observer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static const char *const kind_names[QC_OBS_COUNT] = {"minmax", "ema", "percentile", "entropy",
                                                     "mse"};

const char *qc_observer_name(qc_observer_kind kind) {
  return (unsigned)kind < QC_OBS_COUNT ? kind_names[kind] : "?";
}

int qc_observer_parse(const char *name, qc_observer_kind *kind) {
  for (int i = 0; i < QC_OBS_COUNT; i++)
    if (strcmp(name, kind_names[i]) == 0) {
      *kind = (qc_observer_kind)i;
      return QC_OK;
    }
  return qc_fail(QC_EUSAGE, "unknown observer '%s' (minmax, ema, percentile, entropy, mse)", name);
}

void qc_observer_cfg_default(qc_observer_cfg *cfg, qc_observer_kind kind, qc_qscheme scheme) {
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = kind;
  cfg->percentile = QC_PERCENTILE_DEFAULT;
  qc_qscheme_limits(scheme, &cfg->qmin, &cfg->qmax, &cfg->symmetric);
}

/* ---- exact coarse views of the histogram ---- */

/* Bins of width 2^exp; bin i covers [(first+i) w, (first+i+1) w). A folded view
 * is the |x| histogram (first = 0). */
typedef struct hist_view {
  int n;
  int32_t exp;
  int64_t first;
  double width;
  uint64_t *counts;
  int64_t zero_bin; /* view index holding exact zeros, -1 if none */
} hist_view;

static int64_t fold(int64_t k) { return k >= 0 ? k : -1 - k; }

/* Smallest extra coarsening putting bins [lo, hi] into at most max_bins. */
static int coarsen_shift(int64_t lo, int64_t hi, int max_bins) {
  int d = 0;
  while (qc_hist_floor_shift(hi, d) - qc_hist_floor_shift(lo, d) + 1 > max_bins)
    d++;
  return d;
}

static int view_build(const qc_stats *s, bool folded, int max_bins, hist_view *v) {
  int len = qc_stats_hist_len(s);
  int64_t first = s->hist.first, last = first + len - 1;
  int64_t lo = folded ? 0 : first;
  int64_t hi = folded ? (fold(first) > fold(last) ? fold(first) : fold(last)) : last;
  int d = coarsen_shift(lo, hi, max_bins);
  v->exp = s->hist.exp + d;
  v->width = ldexp(1.0, v->exp);
  v->first = qc_hist_floor_shift(lo, d);
  v->n = (int)(qc_hist_floor_shift(hi, d) - v->first + 1);
  v->counts = calloc((size_t)v->n, sizeof *v->counts);
  if (!v->counts)
    return qc_fail(QC_ENOMEM, "out of memory for a %d-bin histogram view", v->n);
  for (int i = 0; i < len; i++) {
    int64_t k = first + i;
    if (folded)
      k = fold(k);
    v->counts[qc_hist_floor_shift(k, d) - v->first] += s->hist.counts[i];
  }
  int64_t z = -v->first; /* bin 0 coarsens to bin 0 */
  v->zero_bin = (s->zeros && z >= 0 && z < v->n) ? z : -1;
  return QC_OK;
}

static double view_edge(const hist_view *v, int64_t i) { return (double)(v->first + i) * v->width; }

/* ---- percentile ---- */

/* First bin whose cumulative count reaches target. */
static int crossing_bin(const hist_view *v, double target) {
  uint64_t cum = 0;
  for (int i = 0; i < v->n; i++) {
    cum += v->counts[i];
    if ((double)cum >= target)
      return i;
  }
  return v->n - 1;
}

static int range_percentile(const qc_observer_cfg *cfg, const qc_stats *s, double *lo,
                            double *hi) {
  hist_view v;
  QC_TRY(view_build(s, cfg->symmetric, QC_HIST_BINS, &v));
  double total = (double)s->count;
  if (cfg->symmetric) {
    double t = view_edge(&v, crossing_bin(&v, cfg->percentile / 100.0 * total));
    *lo = -t, *hi = t;
  } else {
    double cut = (100.0 - cfg->percentile) / 200.0;
    *lo = view_edge(&v, crossing_bin(&v, cut * total));
    *hi = view_edge(&v, crossing_bin(&v, (1.0 - cut) * total));
  }
  free(v.counts);
  return QC_OK;
}

/* ---- entropy (TensorRT / pytorch-quantization KL search) ---- */

static int levels_for(const qc_observer_cfg *cfg, bool signed_range) {
  int64_t size = (int64_t)cfg->qmax - cfg->qmin + 1;
  int64_t levels = 1;
  while (levels < size)
    levels *= 2;
  if (signed_range)
    levels /= 2;
  return levels < 2 ? 2 : levels > (1 << 20) ? (1 << 20) : (int)levels;
}

/* KL(P || Q) for candidate i (bins [0, i) kept, outliers folded into bin i-1). */
static double kl_candidate(const double *h, int i, int levels, double total, double outliers,
                           double *group_sum, int *group_nnz) {
  for (int g = 0; g < levels; g++)
    group_sum[g] = 0.0, group_nnz[g] = 0;
  for (int j = 0; j < i; j++) {
    int g = (int)((int64_t)j * levels / i);
    group_sum[g] += h[j];
    group_nnz[g] += h[j] != 0.0;
  }
  double kept = total - outliers;
  if (kept <= 0.0)
    return INFINITY;
  double kl = 0.0;
  for (int j = 0; j < i; j++) {
    double p = h[j] + (j == i - 1 ? outliers : 0.0);
    if (p == 0.0)
      continue;
    if (h[j] == 0.0)
      return INFINITY; /* Q is 0 where P is not */
    int g = (int)((int64_t)j * levels / i);
    double q = group_sum[g] / group_nnz[g] / kept;
    p /= total;
    kl += p * log(p / q);
  }
  return kl;
}

static int range_entropy(const qc_observer_cfg *cfg, const qc_stats *s, double *lo, double *hi) {
  double maxabs = fmax(fabs((double)s->min), fabs((double)s->max));
  hist_view v;
  QC_TRY(view_build(s, true, QC_SEARCH_BINS, &v));
  int levels = levels_for(cfg, cfg->symmetric || s->min < 0);
  double threshold = maxabs;
  if (v.n > levels) {
    double *h = malloc((size_t)v.n * sizeof *h);
    double *suffix = malloc(((size_t)v.n + 1) * sizeof *suffix);
    double *group_sum = malloc((size_t)levels * sizeof *group_sum);
    int *group_nnz = malloc((size_t)levels * sizeof *group_nnz);
    if (!h || !suffix || !group_sum || !group_nnz) {
      free(h), free(suffix), free(group_sum), free(group_nnz), free(v.counts);
      return qc_fail(QC_ENOMEM, "out of memory in the entropy search");
    }
    for (int j = 0; j < v.n; j++)
      h[j] = (double)v.counts[j];
    h[0] = h[1]; /* pytorch-quantization: bin 0 (zeros/noise) takes bin 1's count */
    suffix[v.n] = 0.0;
    for (int j = v.n - 1; j >= 0; j--)
      suffix[j] = suffix[j + 1] + h[j];
    double total = suffix[0], best = INFINITY;
    int best_i = -1;
    for (int i = levels; i <= v.n; i++) {
      double d = kl_candidate(h, i, levels, total, suffix[i], group_sum, group_nnz);
      if (isfinite(d) && d <= best) /* last argmin, as pytorch-quantization */
        best = d, best_i = i;
    }
    if (best_i > 0)
      threshold = fmin(view_edge(&v, best_i), maxabs);
    free(h), free(suffix), free(group_sum), free(group_nnz);
  }
  free(v.counts);
  *lo = -threshold, *hi = threshold;
  return QC_OK;
}

/* ---- mse ---- */

/* The nonzero bins of a view as (centre, count) pairs, in bin order: the mse
 * search scores every candidate range over them, so empty bins are dropped once
 * instead of once per candidate. */
typedef struct mass_points {
  double *centre, *count;
  int n;
} mass_points;

static int mass_points_of(const hist_view *v, mass_points *m) {
  m->n = 0;
  m->centre = malloc(((size_t)v->n + 1) * sizeof *m->centre);
  m->count = malloc(((size_t)v->n + 1) * sizeof *m->count);
  if (!m->centre || !m->count) {
    free(m->centre), free(m->count);
    return qc_fail(QC_ENOMEM, "out of memory in the mse search");
  }
  for (int j = 0; j < v->n; j++)
    if (v->counts[j]) {
      m->centre[m->n] = ((double)(v->first + j) + 0.5) * v->width;
      m->count[m->n++] = (double)v->counts[j];
    }
  return QC_OK;
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* AVX2 / AVX-512 clones picked at load time; the build forbids FMA contraction,
 * so every clone computes the same IEEE operations. */
#define QC_OBS_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define QC_OBS_MULTIVERSION
#endif

/* term[j] = count[j] * e * e, e = fakequant(centre[j]) - centre[j]. nearbyint
 * in the default rounding mode (ties to even) is inline: adding and subtracting
 * 1.5 * 2^52 rounds any |x| < 2^51; larger doubles are integers. The loop has
 * no branches (the choices are selects between computed values), so it vectorises. */
QC_OBS_MULTIVERSION
static void mse_terms(const double *centre, const double *count, int n, double scale, double zp, double qmin,
                      double qmax, double *term) {
  const double magic = 6755399441055744.0;
  for (int j = 0; j < n; j++) {
    double x = centre[j] / scale;
    double r = (x + magic) - magic;
    double q = (fabs(x) < 2251799813685248.0 ? r : x) + zp;
    q = q < qmin ? qmin : q;
    q = q > qmax ? qmax : q;
    double e = (q - zp) * scale - centre[j];
    term[j] = count[j] * e * e;
  }
}

/* Sum over the mass points of count * (fakequant(centre) - centre)^2 for the
 * qparams of (lo, hi). Exact zeros are always representable and contribute nothing.
 * The search only asks whether the sum is below `bound` (the best so far): the
 * terms are >= 0 and rounded addition is monotone, so once a partial sum
 * reaches the bound the full sum would too, and the loop stops there (the
 * partial sum is returned). Sums below the bound are the full sums, in order. */
static int quant_error(const qc_observer_cfg *cfg, const mass_points *m, double lo, double hi,
                       double bound, double *err) {
  qc_qparams qp;
  QC_TRY(qc_qparams_from_range((float)lo, (float)hi, cfg->qmin, cfg->qmax, cfg->symmetric, &qp));
  /* The terms of a block are independent (vectorised); only the sum is serial, in point order. */
  double sum = 0.0, term[64];
  for (int start = 0; start < m->n && !(sum >= bound); start += 64) {
    int len = m->n - start < 64 ? m->n - start : 64;
    mse_terms(m->centre + start, m->count + start, len, qp.scale, qp.zero_point, cfg->qmin, cfg->qmax, term);
    for (int j = 0; j < len; j++)
      sum += term[j];
  }
  *err = sum;
  return QC_OK;
}

static int range_mse(const qc_observer_cfg *cfg, const qc_stats *s, double *lo, double *hi) {
  hist_view v;
  QC_TRY(view_build(s, cfg->symmetric, QC_SEARCH_BINS, &v));
  if (v.zero_bin >= 0)
    v.counts[v.zero_bin] -= s->zeros;
  mass_points m;
  int rc = mass_points_of(&v, &m);
  if (rc != QC_OK) {
    free(v.counts);
    return rc;
  }
  double best = INFINITY, err;
  if (cfg->symmetric) {
    double maxabs = fmax(fabs((double)s->min), fabs((double)s->max)), best_a = maxabs;
    for (int i = 0; i <= v.n && rc == QC_OK; i++) {
      /* Candidates: every bin centre, then max|x| itself. */
      double a = i < v.n ? fmin(((double)i + 0.5) * v.width, maxabs) : maxabs;
      rc = quant_error(cfg, &m, -a, a, best, &err);
      if (rc == QC_OK && err < best)
        best = err, best_a = a;
    }
    *lo = -best_a, *hi = best_a;
  } else {
    /* Greedy shrink as PyTorch's _non_linear_param_search: repeatedly drop the
     * end bin holding fewer values (ties: the one farther from 0), scoring
     * every window; the first window is exactly (min, max). */
    int a = 0, b = v.n - 1;
    double best_lo = s->min, best_hi = s->max;
    while (rc == QC_OK) {
      double wlo = fmax(view_edge(&v, a), s->min), whi = fmin(view_edge(&v, b + 1), s->max);
      rc = quant_error(cfg, &m, wlo, whi, best, &err);
      if (rc == QC_OK && err < best)
        best = err, best_lo = wlo, best_hi = whi;
      if (a >= b)
        break;
      uint64_t ca = v.counts[a], cb = v.counts[b];
      if (ca < cb || (ca == cb && fabs(view_edge(&v, a)) > fabs(view_edge(&v, b + 1))))
        a++;
      else
        b--;
    }
    *lo = best_lo, *hi = best_hi;
  }
  free(m.centre), free(m.count);
  free(v.counts);
  return rc;
}

/* ---- per-channel weights ---- */

typedef struct channel_layout {
  int64_t outer, channels, inner;
} channel_layout;

static int channel_layout_of(const qc_tensor *w, int axis, channel_layout *l) {
  if (w->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "per-channel range of a %s tensor (float only)",
                   qc_dtype_name(w->dtype));
  if (axis < 0)
    axis += w->ndim;
  if (axis < 0 || axis >= w->ndim)
    return qc_fail(QC_EINVAL, "channel axis out of range for a rank-%d tensor", w->ndim);
  l->outer = 1, l->inner = 1, l->channels = w->dims[axis];
  for (int d = 0; d < axis; d++)
    l->outer *= w->dims[d];
  for (int d = axis + 1; d < w->ndim; d++)
    l->inner *= w->dims[d];
  return QC_OK;
}

int qc_channel_minmax(const qc_tensor *w, int axis, float *mins, float *maxs) {
  channel_layout l;
  QC_TRY(channel_layout_of(w, axis, &l));
  const float *x = qc_f32(w);
  for (int64_t c = 0; c < l.channels; c++) {
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t o = 0; o < l.outer; o++) {
      const float *row = x + (o * l.channels + c) * l.inner;
      for (int64_t i = 0; i < l.inner; i++) {
        if (!isfinite(row[i]))
          return qc_fail(QC_EINVAL, "non-finite weight value in channel %lld", (long long)c);
        mn = fminf(mn, row[i]);
        mx = fmaxf(mx, row[i]);
      }
    }
    mins[c] = mn <= mx ? mn : 0.0f;
    maxs[c] = mn <= mx ? mx : 0.0f;
  }
  return QC_OK;
}

int qc_channel_mse_range(const qc_tensor *w, int axis, qc_qscheme scheme, float *mins,
                         float *maxs) {
  channel_layout l;
  QC_TRY(channel_layout_of(w, axis, &l));
  size_t per_channel = (size_t)(l.outer * l.inner);
  float *buf = malloc((per_channel ? per_channel : 1) * sizeof *buf);
  qc_stats *st = malloc(sizeof *st);
  if (!buf || !st) {
    free(buf), free(st);
    return qc_fail(QC_ENOMEM, "out of memory for per-channel MSE ranges");
  }
  qc_observer_cfg cfg;
  qc_observer_cfg_default(&cfg, QC_OBS_MSE, scheme);
  const float *x = qc_f32(w);
  int rc = QC_OK;
  for (int64_t c = 0; c < l.channels && rc == QC_OK; c++) {
    size_t n = 0;
    for (int64_t o = 0; o < l.outer; o++)
      for (int64_t i = 0; i < l.inner; i++)
        buf[n++] = x[(o * l.channels + c) * l.inner + i];
    qc_stats_init(st);
    rc = qc_stats_update(st, buf, n);
    if (rc == QC_OK && st->nonfinite)
      rc = qc_fail(QC_EINVAL, "non-finite weight value in channel %lld", (long long)c);
    if (rc == QC_OK)
      rc = qc_observer_range(&cfg, st, &mins[c], &maxs[c]);
  }
  free(buf), free(st);
  return rc;
}

/* ---- entry points ---- */

static int check_cfg(const qc_observer_cfg *cfg) {
  if ((unsigned)cfg->kind >= QC_OBS_COUNT)
    return qc_fail(QC_EUSAGE, "invalid observer kind %d", (int)cfg->kind);
  if (!(cfg->percentile > 0.0 && cfg->percentile <= 100.0))
    return qc_fail(QC_EUSAGE, "percentile %g must be in (0, 100]", cfg->percentile);
  if (cfg->qmin > 0 || cfg->qmax < 0 || cfg->qmin >= cfg->qmax)
    return qc_fail(QC_EUSAGE, "target integer range [%d, %d] must contain 0", (int)cfg->qmin,
                   (int)cfg->qmax);
  return QC_OK;
}

int qc_observer_range(const qc_observer_cfg *cfg, const qc_stats *s, float *rmin, float *rmax) {
  QC_TRY(check_cfg(cfg));
  *rmin = *rmax = 0.0f;
  if (s->count == 0)
    return QC_OK;
  double lo = s->min, hi = s->max;
  switch (cfg->kind) {
  case QC_OBS_MINMAX:
    break;
  case QC_OBS_EMA:
    lo = qc_stats_ema_min(s), hi = qc_stats_ema_max(s);
    break;
  case QC_OBS_PERCENTILE:
    QC_TRY(range_percentile(cfg, s, &lo, &hi));
    break;
  case QC_OBS_ENTROPY:
    QC_TRY(range_entropy(cfg, s, &lo, &hi));
    break;
  case QC_OBS_MSE:
    QC_TRY(range_mse(cfg, s, &lo, &hi));
    break;
  default:
    break;
  }
  /* Histogram edges can lie outside the data: clamp both ends into [min, max]
   * (a symmetric cut below a positive tensor's min gives (min, min)). */
  if (cfg->kind != QC_OBS_EMA) {
    lo = fmin(fmax(lo, s->min), s->max);
    hi = fmax(fmin(hi, s->max), s->min);
  }
  *rmin = (float)lo;
  *rmax = (float)hi;
  return QC_OK;
}
