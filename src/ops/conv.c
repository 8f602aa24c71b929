/* Conv (float32).
 *
 * General case: per image and group, im2col then sgemm
 *   Y_g (M/g x out) = W_g (M/g x C/g*k) * col (C/g*k x out),
 * in blocks of output columns so each col block stays in cache.
 * 1x1 stride-1 unpadded convs skip im2col (X_g already is the column
 * matrix). Depthwise convs (one input channel per group) of rank <= 2
 * use a direct kernel on a zero-padded copy of each input plane. */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
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

/* ---- Depthwise conv (one input channel per group), rank <= 2 ---- */

typedef struct dw_plane {
  int64_t OH, OW, KH, KW, sh, sw, dh, dw;
  int64_t row; /* input row length (padded plane width) */
} dw_plane;

/* Square K x K kernel, column stride S, no dilation: with K and S
 * constant after inlining, the taps unroll and the ow loop vectorises. */
static inline __attribute__((always_inline)) void dw_fixed(const float *restrict xp, const float *restrict w,
                                                           float bias, float *restrict y, const dw_plane *d,
                                                           const int K, const int S) {
  const int64_t row = d->row;
  for (int64_t oh = 0; oh < d->OH; oh++) {
    const float *x0 = xp + oh * d->sh * row;
    float *yr = y + oh * d->OW;
    for (int64_t ow = 0; ow < d->OW; ow++) {
      float acc = bias;
      for (int kh = 0; kh < K; kh++)
        for (int kw = 0; kw < K; kw++)
          acc += w[kh * K + kw] * x0[kh * row + ow * S + kw];
      yr[ow] = acc;
    }
  }
}

/* Any kernel, stride and dilation: one axpy over the output row per tap. */
static inline void dw_generic(const float *restrict xp, const float *restrict w, float bias, float *restrict y,
                              const dw_plane *d) {
  for (int64_t oh = 0; oh < d->OH; oh++) {
    float *yr = y + oh * d->OW;
    for (int64_t ow = 0; ow < d->OW; ow++)
      yr[ow] = bias;
    for (int64_t kh = 0; kh < d->KH; kh++) {
      for (int64_t kw = 0; kw < d->KW; kw++) {
        const float wv = w[kh * d->KW + kw];
        const float *src = xp + (oh * d->sh + kh * d->dh) * d->row + kw * d->dw;
        if (d->sw == 1)
          for (int64_t ow = 0; ow < d->OW; ow++)
            yr[ow] += wv * src[ow];
        else
          for (int64_t ow = 0; ow < d->OW; ow++)
            yr[ow] += wv * src[ow * d->sw];
      }
    }
  }
}

/* One output channel from an input plane that already holds the padding. */
QC_MULTIVERSION static void dw_channel(const float *restrict xp, const float *restrict w, float bias,
                                       float *restrict y, const dw_plane *d) {
  const int fixed = d->dh == 1 && d->dw == 1 && d->KH == d->KW && (d->sw == 1 || d->sw == 2);
  if (fixed && d->KH == 3 && d->sw == 1)
    dw_fixed(xp, w, bias, y, d, 3, 1);
  else if (fixed && d->KH == 3)
    dw_fixed(xp, w, bias, y, d, 3, 2);
  else if (fixed && d->KH == 5 && d->sw == 1)
    dw_fixed(xp, w, bias, y, d, 5, 1);
  else if (fixed && d->KH == 5)
    dw_fixed(xp, w, bias, y, d, 5, 2);
  else if (fixed && d->KH == 7 && d->sw == 1)
    dw_fixed(xp, w, bias, y, d, 7, 1);
  else
    dw_generic(xp, w, bias, y, d);
}

/* Output channel m reads input channel m / mult. Padded inputs are first
 * copied into a per-thread zero-bordered plane so the loops need no
 * bounds checks. */
static int conv_depthwise(const float *x, const float *w, const float *b, float *y, int64_t N, int64_t C,
                          int64_t M, const qc_window_geom *g) {
  const int64_t mult = M / C, IH = g->in[1], IW = g->in[2];
  const int64_t pt = g->pad_begin[1], pl = g->pad_begin[2];
  const int padded = pt || pl || g->pad_end[1] || g->pad_end[2];
  const int64_t IHp = IH + pt + g->pad_end[1], IWp = IW + pl + g->pad_end[2];
  const dw_plane d = {g->out[1], g->out[2], g->kernel[1], g->kernel[2], g->stride[1],
                      g->stride[2], g->dil[1],  g->dil[2],    IWp};
  const int64_t OHW = d.OH * d.OW, KHW = d.KH * d.KW;
  float *scratch = NULL;
  const int nthreads = omp_get_max_threads();
  if (padded) {
    const int64_t dims[2] = {nthreads, IHp * IWp};
    size_t nbytes;
    QC_TRY(qc_shape_bytes(QC_DT_FLOAT, 2, dims, &nbytes));
    scratch = calloc(1, nbytes);
    if (!scratch)
      return qc_fail(QC_ENOMEM, "out of memory for a %zu-byte padding buffer", nbytes);
  }
#pragma omp parallel num_threads(nthreads) if (N * M * OHW * KHW > 65536)
  {
    /* Only the interior is ever written, so the zero border persists. */
    float *plane = padded ? scratch + (int64_t)omp_get_thread_num() * IHp * IWp : NULL;
#pragma omp for schedule(static)
    for (int64_t nm = 0; nm < N * M; nm++) {
      const int64_t n = nm / M, m = nm % M;
      const float *xc = x + (n * C + m / mult) * IH * IW;
      if (padded) {
        for (int64_t ih = 0; ih < IH; ih++)
          memcpy(plane + (ih + pt) * IWp + pl, xc + ih * IW, sizeof(float) * (size_t)IW);
        xc = plane;
      }
      dw_channel(xc, w + m * KHW, b ? b[m] : 0.0f, y + nm * OHW, &d);
    }
  }
  free(scratch);
  return QC_OK;
}

/* Columns per im2col block: the block (K x cols) is sized to stay in L2
 * between im2col writing it and sgemm packing it. */
#define IM2COL_BLOCK_FLOATS ((int64_t)1 << 18)

static void fill_bias(float *y, const float *b, int64_t N, int64_t M, int64_t osize) {
  const int side_threads = qc_blas_side_threads(); /* runs next to sgemm */
#pragma omp parallel for schedule(static) num_threads(side_threads) if (side_threads > 1)
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
  if (Cg == 1 && g->nsp <= 2)
    return conv_depthwise(x, w, b, y, N, C, M, g);
  if (K == 0 || Mg > INT_MAX || osize > INT_MAX || K > INT_MAX) {
    if (K != 0)
      return qc_fail(QC_EUNSUPPORTED, "convolution too large for BLAS (%lld x %lld x %lld)", (long long)Mg,
                     (long long)osize, (long long)K);
    if (b)
      fill_bias(y, b, N, M, osize); /* no input channels: Y is the bias */
    return QC_OK;
  }
  int pointwise = 1;
  for (int i = 0; i < QC_WIN_SP; i++)
    if (g->kernel[i] != 1 || g->stride[i] != 1 || g->pad_begin[i] != 0 || g->pad_end[i] != 0)
      pointwise = 0;
  const float beta = b ? 1.0f : 0.0f;
  if (pointwise) { /* X_g already is the column matrix */
    if (b)
      fill_bias(y, b, N, M, osize);
    for (int64_t n = 0; n < N; n++)
      for (int64_t gi = 0; gi < G; gi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Mg, (int)osize, (int)K, 1.0f, w + gi * Mg * K,
                    (int)K, x + (n * C + gi * Cg) * isize, (int)osize, beta, y + (n * M + gi * Mg) * osize,
                    (int)osize);
    return QC_OK;
  }
  int64_t block = IM2COL_BLOCK_FLOATS / K;
  block = block < 256 ? 256 : block & ~(int64_t)15;
  if (block > osize)
    block = osize;
  const int64_t col_dims[2] = {K, block};
  size_t nbytes;
  QC_TRY(qc_shape_bytes(QC_DT_FLOAT, 2, col_dims, &nbytes));
  int failed = 0;
  /* Several images: one per thread, each with its own im2col buffer; the
   * OpenMP build of OpenBLAS runs single-threaded inside the region. One
   * image: BLAS parallelises the product itself. */
#pragma omp parallel if (N > 1)
  {
    float *col = malloc(nbytes);
    if (!col) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; n++) {
      if (!col)
        continue;
      for (int64_t gi = 0; gi < G; gi++) {
        const float *xg = x + (n * C + gi * Cg) * isize;
        float *yg = y + (n * M + gi * Mg) * osize;
        for (int64_t p0 = 0; p0 < osize; p0 += block) {
          const int64_t np = osize - p0 < block ? osize - p0 : block;
          qc_im2col_block(xg, Cg, g, p0, np, col);
          if (b)
            for (int64_t m = 0; m < Mg; m++)
              for (int64_t i = 0; i < np; i++)
                yg[m * osize + p0 + i] = b[gi * Mg + m];
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Mg, (int)np, (int)K, 1.0f, w + gi * Mg * K,
                      (int)K, col, (int)np, beta, yg + p0, (int)osize);
        }
      }
    }
    free(col);
  }
  if (failed)
    return qc_fail(QC_ENOMEM, "out of memory for a %zu-byte im2col buffer", nbytes);
  return QC_OK;
}
