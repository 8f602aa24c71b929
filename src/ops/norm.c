/* BatchNormalization (inference only), InstanceNormalization and
 * LayerNormalization. Float tensors; statistics accumulate in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "kernels.h"

#define PARALLEL_MIN 16384
/* BatchNormalization is one multiply-add per element (not a per-line
 * reduction like the others): below this many elements it stays on one
 * thread, which is faster than waking the workers (docs/engine.md). */
#define BN_PARALLEL_MIN 131072

static int check_float(const qc_tensor *t, const char *what) {
  if (t->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "%s of type %s is not supported (float only)", what,
                   qc_dtype_name(t->dtype));
  return QC_OK;
}

/* ---- BatchNormalization ---- */

typedef struct batchnorm_priv {
  float epsilon;
  int spatial;
} batchnorm_priv;

int qc_batchnorm_init(qc_kernel *k) {
  if (k->ninputs != 5)
    return qc_fail(QC_EINVAL, "needs 5 inputs (X, scale, B, mean, var), got %d", k->ninputs);
  batchnorm_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  int64_t v;
  QC_TRY(qc_attr_float(&k->attrs, "epsilon", 1e-5f, &p->epsilon));
  QC_TRY(qc_attr_int(&k->attrs, "training_mode", 0, &v));
  if (v != 0)
    return qc_fail(QC_EUNSUPPORTED, "training_mode=1 is not supported (inference only)");
  /* spatial=0 (opsets 7-8) means per-activation statistics: the parameters
   * then cover every non-batch element rather than one value per channel. */
  QC_TRY(qc_attr_int(&k->attrs, "spatial", 1, &v));
  p->spatial = k->opset < 9 ? v != 0 : 1;
  return QC_OK;
}

int qc_batchnorm_shape(qc_kernel *k) {
  const batchnorm_priv *p = k->priv;
  QC_TRY(qc_require_io(k, 5));
  for (int i = 1; i < k->noutputs; i++)
    if (qc_out(k, i))
      return qc_fail(QC_EUNSUPPORTED,
                     "running-statistics outputs (mean, var) are not supported (inference only)");
  const qc_tensor *x = qc_in(k, 0);
  QC_TRY(check_float(x, "input"));
  if (x->ndim < 2)
    return qc_fail(QC_EINVAL, "input must have rank >= 2, got %d", x->ndim);
  int64_t features = x->dims[1];
  if (!p->spatial)
    features = x->dims[0] ? x->numel / x->dims[0] : 0;
  static const char *names[5] = {"X", "scale", "B", "mean", "var"};
  for (int i = 1; i < 5; i++) {
    const qc_tensor *t = qc_in(k, i);
    QC_TRY(check_float(t, names[i]));
    if (t->numel != features)
      return qc_fail(QC_EINVAL, "%s has %lld elements, expected %lld", names[i],
                     (long long)t->numel, (long long)features);
  }
  return qc_out_alloc(k, qc_out(k, 0), x->dtype, x->ndim, x->dims);
}

int qc_batchnorm_run(qc_kernel *k) {
  const batchnorm_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  const float *scale = qc_f32(qc_in(k, 1)), *bias = qc_f32(qc_in(k, 2));
  const float *mean = qc_f32(qc_in(k, 3)), *var = qc_f32(qc_in(k, 4));
  int64_t batch = x->dims[0], features = qc_in(k, 1)->numel;
  int64_t inner = (batch > 0 && features > 0) ? x->numel / (batch * features) : 0;
  if (x->numel == 0)
    return QC_OK;
  /* y = x * a + b with a = scale / sqrt(var + eps), b = B - mean * a. */
  float *ab = malloc((size_t)features * 2 * sizeof(float));
  if (!ab)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int64_t c = 0; c < features; c++) {
    double a = scale[c] / sqrt((double)var[c] + p->epsilon);
    ab[2 * c] = (float)a;
    ab[2 * c + 1] = (float)(bias[c] - mean[c] * a);
  }
  const float *in = qc_f32(x);
  float *out = qc_f32(qc_out(k, 0));
  int64_t planes = batch * features;
#pragma omp parallel for schedule(static) if (x->numel > BN_PARALLEL_MIN)
  for (int64_t pl = 0; pl < planes; pl++) {
    int64_t c = pl % features;
    const float a = ab[2 * c], b = ab[2 * c + 1];
    const float *xs = in + pl * inner;
    float *ys = out + pl * inner;
    for (int64_t i = 0; i < inner; i++)
      ys[i] = xs[i] * a + b;
  }
  free(ab);
  return QC_OK;
}

/* ---- InstanceNormalization ---- */

typedef struct eps_priv {
  float epsilon;
  int64_t axis;
} eps_priv;

int qc_instancenorm_init(qc_kernel *k) {
  if (k->ninputs != 3)
    return qc_fail(QC_EINVAL, "needs 3 inputs (input, scale, B), got %d", k->ninputs);
  eps_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  return qc_attr_float(&k->attrs, "epsilon", 1e-5f, &p->epsilon);
}

int qc_instancenorm_shape(qc_kernel *k) {
  QC_TRY(qc_require_io(k, 3));
  const qc_tensor *x = qc_in(k, 0);
  QC_TRY(check_float(x, "input"));
  if (x->ndim < 2)
    return qc_fail(QC_EINVAL, "input must have rank >= 2, got %d", x->ndim);
  for (int i = 1; i <= 2; i++) {
    const qc_tensor *t = qc_in(k, i);
    QC_TRY(check_float(t, i == 1 ? "scale" : "B"));
    if (t->numel != x->dims[1])
      return qc_fail(QC_EINVAL, "%s has %lld elements for %lld channels", i == 1 ? "scale" : "B",
                     (long long)t->numel, (long long)x->dims[1]);
  }
  return qc_out_alloc(k, qc_out(k, 0), x->dtype, x->ndim, x->dims);
}

/* Mean and 1/sqrt(var + eps) of n contiguous floats (two-pass for accuracy). */
static void line_stats(const float *x, int64_t n, float eps, double *mean, double *inv_std) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += x[i];
  double m = n ? s / (double)n : 0;
  double v = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = x[i] - m;
    v += d * d;
  }
  *mean = m;
  *inv_std = 1.0 / sqrt((n ? v / (double)n : 0) + eps);
}

int qc_instancenorm_run(qc_kernel *k) {
  const eps_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  const float *scale = qc_f32(qc_in(k, 1)), *bias = qc_f32(qc_in(k, 2));
  int64_t channels = x->dims[1], planes = x->dims[0] * channels;
  int64_t inner = planes ? x->numel / planes : 0;
  const float *in = qc_f32(x);
  float *out = qc_f32(qc_out(k, 0));
#pragma omp parallel for schedule(static) if (x->numel > PARALLEL_MIN)
  for (int64_t pl = 0; pl < planes; pl++) {
    double m, is;
    line_stats(in + pl * inner, inner, p->epsilon, &m, &is);
    int64_t c = pl % channels;
    float a = (float)(scale[c] * is), b = (float)(bias[c] - m * scale[c] * is);
    const float *xs = in + pl * inner;
    float *ys = out + pl * inner;
    for (int64_t i = 0; i < inner; i++)
      ys[i] = xs[i] * a + b;
  }
  return QC_OK;
}

/* ---- LayerNormalization (opset 17) ---- */

int qc_layernorm_init(qc_kernel *k) {
  if (k->ninputs < 2 || k->ninputs > 3)
    return qc_fail(QC_EINVAL, "needs 2 or 3 inputs (X, Scale, B), got %d", k->ninputs);
  eps_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  int64_t stash;
  QC_TRY(qc_attr_float(&k->attrs, "epsilon", 1e-5f, &p->epsilon));
  QC_TRY(qc_attr_int(&k->attrs, "axis", -1, &p->axis));
  QC_TRY(qc_attr_int(&k->attrs, "stash_type", 1, &stash));
  if (stash != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "stash_type %lld is not supported (float only)",
                   (long long)stash);
  return QC_OK;
}

/* Whether t broadcasts to the trailing block dims[axis:] (what Scale/B must do). */
static int fits_normalized_shape(const qc_tensor *t, const qc_tensor *x, int axis) {
  if (t->ndim > x->ndim - axis)
    return 0;
  int off = x->ndim - t->ndim;
  for (int d = 0; d < t->ndim; d++)
    if (t->dims[d] != 1 && t->dims[d] != x->dims[d + off])
      return 0;
  return 1;
}

int qc_layernorm_shape(qc_kernel *k) {
  const eps_priv *p = k->priv;
  QC_TRY(qc_require_io(k, 2));
  const qc_tensor *x = qc_in(k, 0);
  QC_TRY(check_float(x, "input"));
  int64_t axis = p->axis < 0 ? p->axis + x->ndim : p->axis;
  if (axis < 0 || axis >= x->ndim)
    return qc_fail(QC_EINVAL, "axis %lld is out of range for rank %d", (long long)p->axis, x->ndim);
  for (int i = 1; i <= 2; i++) {
    const qc_tensor *t = qc_in(k, i);
    if (!t)
      continue;
    QC_TRY(check_float(t, i == 1 ? "Scale" : "B"));
    if (!fits_normalized_shape(t, x, (int)axis)) {
      char s1[128], s2[128];
      return qc_fail(QC_EINVAL, "%s of shape %s does not broadcast to X of shape %s from axis %lld",
                     i == 1 ? "Scale" : "B", qc_shape_str(t->ndim, t->dims, s1, sizeof s1),
                     qc_shape_str(x->ndim, x->dims, s2, sizeof s2), (long long)axis);
    }
  }
  QC_TRY(qc_out_alloc(k, qc_out(k, 0), x->dtype, x->ndim, x->dims));
  /* Mean / InvStdDev keep X's rank with 1s from axis on. */
  int64_t sdims[QC_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++)
    sdims[d] = d < axis ? x->dims[d] : 1;
  for (int i = 1; i <= 2; i++)
    if (qc_out(k, i))
      QC_TRY(qc_out_alloc(k, qc_out(k, i), QC_DT_FLOAT, x->ndim, sdims));
  return QC_OK;
}

/* Expands a Scale/B tensor to n values covering dims[axis:] of x. */
static void expand_param(const qc_tensor *t, const qc_tensor *x, int axis, int64_t n, float *dst) {
  if (t->numel == n) {
    memcpy(dst, t->data, (size_t)n * sizeof(float));
    return;
  }
  const float *src = qc_f32(t);
  int off = x->ndim - t->ndim;
  for (int64_t e = 0; e < n; e++) {
    int64_t rem = e, si = 0, stride = 1;
    for (int d = x->ndim - 1; d >= axis; d--) {
      int64_t idx = rem % x->dims[d];
      rem /= x->dims[d];
      int td = d - off;
      if (td >= 0) {
        if (t->dims[td] != 1)
          si += idx * stride;
        stride *= t->dims[td];
      }
    }
    dst[e] = src[si];
  }
}

int qc_layernorm_run(qc_kernel *k) {
  const eps_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0), *ts = qc_in(k, 1), *tb = qc_in(k, 2);
  int axis = (int)(p->axis < 0 ? p->axis + x->ndim : p->axis);
  int64_t outer = 1, n = 1;
  for (int d = 0; d < axis; d++)
    outer *= x->dims[d];
  for (int d = axis; d < x->ndim; d++)
    n *= x->dims[d];
  if (x->numel == 0)
    return QC_OK;
  float *params = malloc((size_t)n * 2 * sizeof(float));
  if (!params)
    return qc_fail(QC_ENOMEM, "out of memory");
  float *scale = params, *bias = params + n;
  expand_param(ts, x, axis, n, scale);
  if (tb)
    expand_param(tb, x, axis, n, bias);
  else
    memset(bias, 0, (size_t)n * sizeof(float));
  const float *in = qc_f32(x);
  float *out = qc_f32(qc_out(k, 0));
  float *mean_out = qc_out(k, 1) ? qc_f32(qc_out(k, 1)) : NULL;
  float *istd_out = qc_out(k, 2) ? qc_f32(qc_out(k, 2)) : NULL;
#pragma omp parallel for schedule(static) if (x->numel > PARALLEL_MIN)
  for (int64_t o = 0; o < outer; o++) {
    double m, is;
    line_stats(in + o * n, n, p->epsilon, &m, &is);
    if (mean_out)
      mean_out[o] = (float)m;
    if (istd_out)
      istd_out[o] = (float)is;
    const float mf = (float)m, isf = (float)is;
    const float *xs = in + o * n;
    float *ys = out + o * n;
    for (int64_t i = 0; i < n; i++)
      ys[i] = (xs[i] - mf) * isf * scale[i] + bias[i];
  }
  free(params);
  return QC_OK;
}
