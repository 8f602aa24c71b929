/* Conv (float32).
 *
 * General case: per image and group, im2col then one sgemm
 *   Y_g (M/g x out) = W_g (M/g x C/g*k) * col (C/g*k x out).
 * 1x1 stride-1 unpadded convs skip im2col (X_g already is the column
 * matrix). Depthwise convs (one input channel per group) of rank <= 2
 * use a direct kernel: row-wise axpys that vectorise and skip padding. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "kernels.h"

typedef struct conv_priv {
  qc_window_attrs attrs;
  int64_t group;
} conv_priv; /* read-only after init: the engine may run one node on several threads */

int qc_conv_init(qc_kernel *k) {
  conv_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  QC_TRY(qc_window_attrs_read(k, 1, &p->attrs));
  QC_TRY(qc_attr_int(k, "group", 1, &p->group));
  if (p->group < 1)
    return qc_fail(QC_EINVAL, "group must be >= 1, got %lld", (long long)p->group);
  return QC_OK;
}

/* Validates the inputs and resolves the window geometry. */
static int conv_resolve(const qc_kernel *k, qc_window_geom *g) {
  const conv_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0), *w = qc_in(k, 1), *b = qc_in(k, 2);
  if (!x || !w || !qc_out(k, 0))
    return qc_fail(QC_EINVAL, "Conv needs inputs X, W and output Y");
  QC_TRY(qc_check_spatial_input(x, "input X"));
  if (w->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "weight W has type %s; only float is supported", qc_dtype_name(w->dtype));
  if (w->ndim != x->ndim)
    return qc_fail(QC_EINVAL, "weight W has rank %d but X has rank %d", w->ndim, x->ndim);
  const int nsp = x->ndim - 2;
  const int64_t C = x->dims[1], M = w->dims[0], G = p->group;
  if (w->dims[1] * G != C)
    return qc_fail(QC_EINVAL, "X has %lld channels but W expects %lld x group %lld", (long long)C,
                   (long long)w->dims[1], (long long)G);
  if (M % G != 0)
    return qc_fail(QC_EINVAL, "W has %lld output channels, not divisible by group %lld", (long long)M,
                   (long long)G);
  for (int j = 0; j < p->attrs.n_kernel && j < nsp; j++)
    if (p->attrs.kernel[j] != w->dims[2 + j])
      return qc_fail(QC_EINVAL, "kernel_shape[%d] = %lld does not match W dim %lld", j,
                     (long long)p->attrs.kernel[j], (long long)w->dims[2 + j]);
  if (b && (b->dtype != QC_DT_FLOAT || b->ndim != 1 || b->dims[0] != M))
    return qc_fail(QC_EINVAL, "bias B must be a float vector of %lld elements", (long long)M);
  return qc_window_resolve(&p->attrs, nsp, x->dims + 2, w->dims + 2, 0, g);
}

int qc_conv_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0), *w = qc_in(k, 1);
  qc_window_geom g;
  QC_TRY(conv_resolve(k, &g));
  const int nsp = x->ndim - 2;
  int64_t dims[QC_MAX_DIMS] = {x->dims[0], w->dims[0]};
  for (int j = 0; j < nsp; j++)
    dims[2 + j] = g.out[QC_WIN_SP - nsp + j];
  return qc_tensor_alloc(qc_out(k, 0), QC_DT_FLOAT, x->ndim, dims);
}

/* Depthwise conv of rank <= 2 (geometry depth is 1): each output channel
 * m reads input channel m / mult. */
static void conv_depthwise(const float *x, const float *w, const float *b, float *y, int64_t N, int64_t C,
                           int64_t M, const qc_window_geom *g) {
  const int64_t mult = M / C;
  const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
  const int64_t KH = g->kernel[1], KW = g->kernel[2];
  const int64_t sh = g->stride[1], sw = g->stride[2], dh = g->dil[1], dw = g->dil[2];
  const int64_t ph = g->pad_begin[1], pw = g->pad_begin[2];
#pragma omp parallel for schedule(static)
  for (int64_t nm = 0; nm < N * M; nm++) {
    const int64_t n = nm / M, m = nm % M, c = m / mult;
    const float *xc = x + (n * C + c) * IH * IW;
    const float *wk = w + m * KH * KW;
    float *yc = y + nm * OH * OW;
    const float bias = b ? b[m] : 0.0f;
    for (int64_t oh = 0; oh < OH; oh++) {
      float *yrow = yc + oh * OW;
      for (int64_t ow = 0; ow < OW; ow++)
        yrow[ow] = bias;
      const int64_t ih0 = oh * sh - ph;
      int64_t kh_lo, kh_hi;
      qc_valid_range(ih0, dh, IH, KH, &kh_lo, &kh_hi);
      for (int64_t kh = kh_lo; kh < kh_hi; kh++) {
        const float *xrow = xc + (ih0 + kh * dh) * IW;
        for (int64_t kw = 0; kw < KW; kw++) {
          const int64_t offw = kw * dw - pw;
          const float wv = wk[kh * KW + kw];
          int64_t lo, hi;
          qc_valid_range(offw, sw, IW, OW, &lo, &hi);
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ow++)
              yrow[ow] += wv * xrow[ow + offw];
          } else {
            for (int64_t ow = lo; ow < hi; ow++)
              yrow[ow] += wv * xrow[ow * sw + offw];
          }
        }
      }
    }
  }
}

static void fill_bias(float *y, const float *b, int64_t N, int64_t M, int64_t osize) {
#pragma omp parallel for schedule(static)
  for (int64_t nm = 0; nm < N * M; nm++) {
    float *row = y + nm * osize;
    const float v = b[nm % M];
    for (int64_t i = 0; i < osize; i++)
      row[i] = v;
  }
}

int qc_conv_run(qc_kernel *k) {
  const conv_priv *p = k->priv;
  qc_window_geom geom;
  QC_TRY(conv_resolve(k, &geom));
  const qc_window_geom *g = &geom;
  const qc_tensor *xt = qc_in(k, 0), *wt = qc_in(k, 1), *bt = qc_in(k, 2);
  qc_tensor *yt = qc_out(k, 0);
  const float *x = qc_f32(xt), *w = qc_f32(wt), *b = bt ? qc_f32(bt) : NULL;
  float *y = qc_f32(yt);
  const int64_t N = xt->dims[0], C = xt->dims[1], M = wt->dims[0], G = p->group;
  const int64_t Cg = C / G, Mg = M / G;
  const int64_t ksize = qc_geom_kernel_size(g), isize = qc_geom_in_size(g), osize = qc_geom_out_size(g);
  const int64_t K = Cg * ksize;
  if (N == 0 || M == 0 || osize == 0)
    return QC_OK;
  if (Cg == 1 && g->nsp <= 2) {
    conv_depthwise(x, w, b, y, N, C, M, g);
    return QC_OK;
  }
  if (b)
    fill_bias(y, b, N, M, osize);
  if (K == 0)
    return QC_OK; /* no input channels: Y is the bias (or zero) */
  if (Mg > INT_MAX || osize > INT_MAX || K > INT_MAX)
    return qc_fail(QC_EUNSUPPORTED, "convolution too large for BLAS (%lld x %lld x %lld)", (long long)Mg,
                   (long long)osize, (long long)K);
  int pointwise = 1;
  for (int i = 0; i < QC_WIN_SP; i++)
    if (g->kernel[i] != 1 || g->stride[i] != 1 || g->pad_begin[i] != 0 || g->pad_end[i] != 0)
      pointwise = 0;
  float *col = NULL;
  if (!pointwise) {
    const int64_t col_dims[2] = {K, osize};
    size_t nbytes;
    QC_TRY(qc_shape_bytes(QC_DT_FLOAT, 2, col_dims, &nbytes));
    col = malloc(nbytes);
    if (!col)
      return qc_fail(QC_ENOMEM, "out of memory for a %zu-byte im2col buffer", nbytes);
  }
  const float beta = b ? 1.0f : 0.0f;
  for (int64_t n = 0; n < N; n++) {
    for (int64_t gi = 0; gi < G; gi++) {
      const float *xg = x + (n * C + gi * Cg) * isize;
      const float *src = xg;
      if (!pointwise) {
        qc_im2col(xg, Cg, g, col);
        src = col;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Mg, (int)osize, (int)K, 1.0f, w + gi * Mg * K,
                  (int)K, src, (int)osize, beta, y + (n * M + gi * Mg) * osize, (int)osize);
    }
  }
  free(col);
  return QC_OK;
}
