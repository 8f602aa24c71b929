/* Per-tap input sums of a weighted layer. See tap_sums.h. */
#include "tap_sums.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ops/conv_util.h"

static int op_kind(const char *op, tap_layer_kind *kind) {
  static const struct {
    const char *op;
    tap_layer_kind kind;
  } ops[] = {{"Conv", TAP_CONV}, {"ConvTranspose", TAP_CONV_TRANSPOSE}, {"Gemm", TAP_GEMM}, {"MatMul", TAP_MATMUL}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(op, ops[i].op) == 0) {
      *kind = ops[i].kind;
      return 1;
    }
  return 0;
}

int qc_tap_sums_init(qc_tap_sums *t, const char *op, const qc_attrs *attrs, const qc_tensor *w) {
  memset(t, 0, sizeof *t);
  if (!op_kind(op, &t->kind) || w->dtype != QC_DT_FLOAT || w->ndim < 2 || w->ndim > 8)
    return QC_EUNSUPPORTED;
  if ((t->kind == TAP_GEMM || t->kind == TAP_MATMUL) && w->ndim != 2)
    return QC_EUNSUPPORTED;
  t->attrs = *attrs;
  t->w_ndim = w->ndim;
  memcpy(t->w_dims, w->dims, sizeof(int64_t) * (size_t)w->ndim);
  if (t->kind == TAP_GEMM) {
    int64_t ta;
    QC_TRY(qc_attr_int(attrs, "transA", 0, &ta));
    t->trans_a = ta != 0;
  }
  return QC_OK;
}

void qc_tap_sums_free(qc_tap_sums *t) {
  free(t->sum_fp);
  free(t->sum_q);
  t->sum_fp = t->sum_q = NULL;
}

/* Sizes the sums on the first batch; later batches must agree. */
static int size_sums(qc_tap_sums *t, int64_t channels, int64_t taps, int64_t group) {
  if (t->sum_fp)
    return t->channels == channels && t->taps == taps && t->group == group ? QC_OK : QC_EUNSUPPORTED;
  t->channels = channels;
  t->taps = taps;
  t->group = group;
  t->sum_fp = calloc((size_t)(channels * taps), sizeof(double));
  t->sum_q = calloc((size_t)(channels * taps), sizeof(double));
  return t->sum_fp && t->sum_q ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
}

/* n values p[0], p[stride], ... summed in float with four partial sums (a
 * row of a plane: short enough for float), in a fixed order. */
static double row_sum(const float *p, int64_t n, int64_t stride) {
  float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += p[i * stride];
    a1 += p[(i + 1) * stride];
    a2 += p[(i + 2) * stride];
    a3 += p[(i + 3) * stride];
  }
  for (; i < n; i++)
    a0 += p[i * stride];
  return (double)(a0 + a1) + (double)(a2 + a3);
}

/* One channel plane's tap sums (Conv: the image side, read through each
 * tap's strided window; ConvTranspose: the column side, over the positions
 * whose tap target lands in the image). */
static void plane_taps(const qc_window_geom *g, int transpose, const float *plane, double *sums) {
  int64_t tap = 0;
  for (int64_t kd = 0; kd < g->kernel[0]; kd++)
    for (int64_t kh = 0; kh < g->kernel[1]; kh++)
      for (int64_t kw = 0; kw < g->kernel[2]; kw++, tap++) {
        int64_t off[3] = {kd * g->dil[0] - g->pad_begin[0], kh * g->dil[1] - g->pad_begin[1],
                          kw * g->dil[2] - g->pad_begin[2]};
        int64_t lo[3], hi[3];
        for (int d = 0; d < 3; d++)
          qc_valid_range(off[d], g->stride[d], g->in[d], g->out[d], &lo[d], &hi[d]);
        double acc = 0;
        for (int64_t od = lo[0]; od < hi[0]; od++)
          for (int64_t oh = lo[1]; oh < hi[1]; oh++) {
            if (transpose)
              acc += row_sum(plane + (od * g->out[1] + oh) * g->out[2] + lo[2], hi[2] - lo[2], 1);
            else
              acc += row_sum(plane + ((od * g->stride[0] + off[0]) * g->in[1] + oh * g->stride[1] + off[1]) * g->in[2] +
                                 lo[2] * g->stride[2] + off[2],
                             hi[2] - lo[2], g->stride[2]);
          }
        sums[tap] += acc;
      }
}

/* x through Q -> DQ: qc_dequantize_value(qc_quantize_value(x)) inlined (a
 * hot loop here): rintf(x / s) + zp clamped in float is exact, since the
 * clamp bounds are small integers; NaN quantizes to the clamped zero point. */
static void fake_quant(const float *x, int64_t n, const qc_qparams *qp, float *out) {
  const float s = qp->scale, zp = (float)qp->zero_point, lo = (float)qp->qmin, hi = (float)qp->qmax;
  const float nan_q = zp < lo ? lo : zp > hi ? hi : zp;
  for (int64_t i = 0; i < n; i++) {
    float r = x[i] / s;
    float q = r != r ? nan_q : rintf(r) + zp;
    q = q < lo ? lo : q > hi ? hi : q;
    out[i] = (q - zp) * s;
  }
}

static int add_spatial(qc_tap_sums *t, const qc_tensor *x, const qc_qparams *qp) {
  qc_window_geom g;
  int64_t group;
  qc_tensor w = {.dtype = QC_DT_FLOAT, .ndim = t->w_ndim};
  memcpy(w.dims, t->w_dims, sizeof(int64_t) * (size_t)t->w_ndim);
  int transpose = t->kind == TAP_CONV_TRANSPOSE;
  if (x->ndim != t->w_ndim ||
      (transpose ? qc_conv_transpose_geometry : qc_conv_geometry)(&t->attrs, x, &w, &g, &group) != QC_OK) {
    qc_clear_error();
    return QC_EUNSUPPORTED;
  }
  int64_t channels = x->dims[1], taps = qc_geom_kernel_size(&g);
  QC_TRY(size_sums(t, channels, taps, group));
  /* The x plane's size: the image side for a Conv, the column side for a ConvTranspose. */
  int64_t plane = transpose ? qc_geom_out_size(&g) : qc_geom_in_size(&g);
  int64_t batch = x->dims[0];
  int failed = 0;
#pragma omp parallel
  {
    float *buf = qp ? malloc(sizeof(float) * (size_t)plane) : NULL;
    if (qp && !buf) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t c = 0; c < channels; c++) { /* one thread per channel: its sums in a fixed order */
      if (qp && !buf)
        continue;
      for (int64_t n = 0; n < batch; n++) {
        const float *src = qc_f32(x) + (n * channels + c) * plane;
        plane_taps(&g, transpose, src, t->sum_fp + c * taps);
        if (qp) {
          fake_quant(src, plane, qp, buf);
          plane_taps(&g, transpose, buf, t->sum_q + c * taps);
        }
      }
      if (!qp)
        memcpy(t->sum_q + c * taps, t->sum_fp + c * taps, sizeof(double) * (size_t)taps);
    }
    free(buf);
  }
  if (failed)
    return qc_fail(QC_ENOMEM, "out of memory");
  t->positions += (double)batch * (double)(transpose ? qc_geom_in_size(&g) : qc_geom_out_size(&g));
  return QC_OK;
}

/* Gemm's A (transA: its rows are the channels) or MatMul's x [..., K]: column sums. */
static int add_rows(qc_tap_sums *t, const qc_tensor *x, const qc_qparams *qp) {
  if (x->ndim < 2 || (t->kind == TAP_GEMM && x->ndim != 2))
    return QC_EUNSUPPORTED;
  int by_rows = t->kind == TAP_GEMM && t->trans_a; /* A is [K, M]: channel k is row k */
  int64_t k_n = by_rows ? x->dims[0] : x->dims[x->ndim - 1], rows = x->numel / (k_n ? k_n : 1);
  QC_TRY(size_sums(t, k_n, 1, 1));
  float *buf = NULL;
  const float *src = qc_f32(x);
  if (qp) {
    if (!(buf = malloc(sizeof(float) * (size_t)(x->numel + 1))))
      return qc_fail(QC_ENOMEM, "out of memory");
    fake_quant(src, x->numel, qp, buf);
  }
  for (int q = 0; q < 2; q++) {
    const float *p = q ? (qp ? buf : src) : src;
    double *sums = q ? t->sum_q : t->sum_fp;
    for (int64_t k = 0; k < k_n; k++)
      sums[k] += by_rows ? row_sum(p + k * rows, rows, 1) : row_sum(p + k, rows, k_n);
  }
  free(buf);
  t->positions += (double)rows;
  return QC_OK;
}

int qc_tap_sums_add(qc_tap_sums *t, const qc_tensor *x, const qc_qparams *qp) {
  if (x->dtype != QC_DT_FLOAT || x->numel == 0)
    return QC_EUNSUPPORTED;
  if (t->kind == TAP_CONV || t->kind == TAP_CONV_TRANSPOSE)
    return add_spatial(t, x, qp);
  return add_rows(t, x, qp);
}

/* Gemm's bias C (broadcast to [M, N]) averaged over the rows: mean_c[n]. */
static int gemm_bias_mean(const qc_tensor *c, int64_t n_out, double *mean_c) {
  int64_t cr = c->ndim == 2 ? c->dims[0] : 1, cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
  if (c->ndim > 2 || (cn != 1 && cn != n_out))
    return QC_EUNSUPPORTED;
  for (int64_t n = 0; n < n_out; n++) {
    double s = 0;
    for (int64_t r = 0; r < cr; r++)
      s += qc_f32(c)[r * cn + (cn == 1 ? 0 : n)];
    mean_c[n] = s / (double)cr;
  }
  return QC_OK;
}

int qc_tap_sums_mean(const qc_tap_sums *t, int quantized, const qc_tensor *w, const qc_tensor *b, double *mean,
                     int64_t *channels_out) {
  const double *T = quantized ? t->sum_q : t->sum_fp;
  if (!T || t->positions <= 0 || w->dtype != QC_DT_FLOAT || w->ndim != t->w_ndim ||
      memcmp(w->dims, t->w_dims, sizeof(int64_t) * (size_t)w->ndim) != 0 || (b && b->dtype != QC_DT_FLOAT))
    return QC_EUNSUPPORTED;
  const float *W = qc_f32(w);
  int64_t m_n;
  double alpha = 1, beta = 1;
  if (t->kind == TAP_CONV || t->kind == TAP_CONV_TRANSPOSE) {
    int transpose = t->kind == TAP_CONV_TRANSPOSE;
    int64_t c_g = t->channels / t->group; /* input channels per group */
    m_n = transpose ? w->dims[1] * t->group : w->dims[0];
    int64_t m_g = m_n / t->group;
    for (int64_t m = 0; m < m_n; m++) {
      int64_t g = m / m_g, ml = m % m_g;
      double s = 0;
      for (int64_t cl = 0; cl < c_g; cl++) {
        int64_t c = g * c_g + cl;
        const float *wk = transpose ? W + (c * m_g + ml) * t->taps : W + (m * c_g + cl) * t->taps;
        for (int64_t k = 0; k < t->taps; k++)
          s += (double)wk[k] * T[c * t->taps + k];
      }
      mean[m] = s / t->positions;
    }
  } else {
    int trans_b = 0;
    if (t->kind == TAP_GEMM) {
      int64_t tb;
      float a, be;
      QC_TRY(qc_attr_int(&t->attrs, "transB", 0, &tb));
      QC_TRY(qc_attr_float(&t->attrs, "alpha", 1.0f, &a));
      QC_TRY(qc_attr_float(&t->attrs, "beta", 1.0f, &be));
      trans_b = tb != 0;
      alpha = a;
      beta = be;
    }
    int64_t k_n = trans_b ? w->dims[1] : w->dims[0];
    m_n = trans_b ? w->dims[0] : w->dims[1];
    if (k_n != t->channels)
      return QC_EUNSUPPORTED;
    for (int64_t n = 0; n < m_n; n++) {
      double s = 0;
      for (int64_t k = 0; k < k_n; k++)
        s += (double)W[trans_b ? n * k_n + k : k * m_n + n] * T[k];
      mean[n] = alpha * s / t->positions;
    }
  }
  if (b) {
    if (t->kind == TAP_GEMM) {
      double *mean_c = malloc(sizeof(double) * (size_t)(m_n + 1));
      if (!mean_c)
        return qc_fail(QC_ENOMEM, "out of memory");
      int rc = gemm_bias_mean(b, m_n, mean_c);
      for (int64_t n = 0; rc == QC_OK && n < m_n; n++)
        mean[n] += beta * mean_c[n];
      free(mean_c);
      QC_TRY(rc);
    } else if (t->kind == TAP_MATMUL || b->numel != m_n) {
      return QC_EUNSUPPORTED;
    } else {
      for (int64_t m = 0; m < m_n; m++)
        mean[m] += qc_f32(b)[m];
    }
  }
  *channels_out = m_n;
  return QC_OK;
}
