/* Conv (float32).
 *
 * Every output element is bias, then one fmaf per (input channel, kd, kh,
 * kw) in row-major order, then the optional fused epilogue (residual add,
 * activation): the order of gemm.h, whichever path computes it.
 *
 * General case: per image and group one deterministic GEMM
 *   Y_g (M/g x out) = W_g (M/g x C/g*k) * col (C/g*k x out)
 * whose B operand is read through im2col while packing (no column matrix);
 * 1x1 stride-1 unpadded convs read X_g directly. Depthwise convs (one input
 * channel per group) of rank <= 2 use a direct kernel on a zero-padded copy
 * of each input plane. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "gemm.h"
#include "kernels.h"
#include "scratch.h"
#include "simd.h"

typedef struct conv_priv {
  qc_window_attrs attrs;
  int64_t group;
  /* With a constant W (qc_conv_prepack): W_g of every group in the GEMM's
   * packed-A layout, group_floats apart, made from the data at packed_from.
   * Runs whose W is that data skip packing W on every tile. */
  const float *packed_from;
  size_t group_floats;
  float packed[];
} conv_priv; /* read-only after init and prepack: the engine may run one node on several threads */

int qc_conv_init(qc_kernel *k) {
  conv_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  QC_TRY(qc_conv_attrs_read(k, &p->attrs, &p->group));
  return QC_OK;
}

int qc_conv_prepack(qc_kernel *k) {
  const conv_priv *p = k->priv;
  const qc_tensor *w = qc_in(k, 1);
  if (!w || w->dtype != QC_DT_FLOAT || w->ndim < 3 || p->group < 1 || w->dims[0] < 1 || w->dims[0] % p->group)
    return QC_OK;
  const int64_t M = w->dims[0], G = p->group, Mg = M / G, K = w->numel / M;
  if (w->dims[1] == 1 && w->ndim <= 4) /* depthwise: a direct kernel, no GEMM */
    return QC_OK;
  const size_t group_floats = qc_gemm_packed_a_bytes(Mg, K) / sizeof(float);
  conv_priv *np = realloc(k->priv, sizeof *np + sizeof(float) * group_floats * (size_t)G);
  if (!np)
    return qc_fail(QC_ENOMEM, "out of memory for the packed weights");
  k->priv = np;
  const float *wd = qc_f32(w);
  for (int64_t gi = 0; gi < G; gi++)
    qc_gemm_pack_a(wd + gi * Mg * K, K, 0, Mg, K, np->packed + (size_t)gi * group_floats);
  np->group_floats = group_floats;
  np->packed_from = wd;
  return QC_OK;
}

/* Validates the inputs and resolves the window geometry. */
static int conv_resolve(const qc_kernel *k, qc_window_geom *g) {
  const conv_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0), *w = qc_in(k, 1), *b = qc_in(k, 2);
  QC_TRY(qc_conv_check_xw(k, "Conv"));
  const int nsp = x->ndim - 2;
  const int64_t C = x->dims[1], M = w->dims[0], G = p->group;
  if (w->dims[1] * G != C)
    return qc_fail(QC_EINVAL, "X has %lld channels but W expects %lld x group %lld", (long long)C,
                   (long long)w->dims[1], (long long)G);
  if (M % G != 0)
    return qc_fail(QC_EINVAL, "W has %lld output channels, not divisible by group %lld", (long long)M,
                   (long long)G);
  QC_TRY(qc_conv_check_kernel(&p->attrs, nsp, w));
  QC_TRY(qc_conv_check_bias(b, M));
  return qc_window_resolve(&p->attrs, nsp, x->dims + 2, w->dims + 2, 0, g);
}

int qc_conv_geometry(const qc_attrs *attrs, const qc_tensor *x, const qc_tensor *w, qc_window_geom *g,
                     int64_t *group) {
  QC_TRY(qc_attr_int(attrs, "group", 1, group));
  return qc_conv_family_geometry("Conv", qc_conv_init, conv_resolve, attrs, x, w, g);
}

int qc_conv_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0), *w = qc_in(k, 1);
  qc_window_geom g;
  QC_TRY(conv_resolve(k, &g));
  const int nsp = x->ndim - 2;
  int64_t dims[QC_MAX_DIMS] = {x->dims[0], w->dims[0]};
  for (int j = 0; j < nsp; j++)
    dims[2 + j] = g.out[QC_WIN_SP - nsp + j];
  return qc_out_alloc(k, qc_out(k, 0), QC_DT_FLOAT, x->ndim, dims);
}

/* ---- Depthwise conv (one input channel per group), rank <= 2 ---- */

/* Below this many multiply-adds a depthwise conv stays on one thread (the
 * cost of a parallel region: see PARALLEL_MIN_MACS in gemm.c). */
#define DW_PARALLEL_MIN ((int64_t)1 << 19)

/* Output channel m reads input channel m / mult. Padded inputs are first
 * copied into a per-thread zero-bordered plane so the row kernels need no
 * bounds checks. */
static int conv_depthwise(const float *x, const float *w, const float *b, float *y, int64_t N, int64_t C,
                          int64_t M, const qc_window_geom *g, const qc_conv_post *post) {
  const qc_simd_ops *ops = qc_simd();
  const int64_t mult = M / C, IH = g->in[1], IW = g->in[2];
  const int64_t pt = g->pad_begin[1], pl = g->pad_begin[2];
  const int padded = pt || pl || g->pad_end[1] || g->pad_end[2];
  const int64_t IHp = IH + pt + g->pad_end[1], IWp = IW + pl + g->pad_end[2];
  const int64_t OH = g->out[1], OW = g->out[2], KH = g->kernel[1], KW = g->kernel[2];
  const int64_t OHW = OH * OW, KHW = KH * KW;
  const int fused = post && (post->res || post->act.kind != QC_ACT_NONE || post->act.fq.on);
  size_t plane_bytes = 0;
  if (padded) {
    const int64_t dims[1] = {IHp * IWp};
    QC_TRY(qc_shape_bytes(QC_DT_FLOAT, 1, dims, &plane_bytes));
  }
  int failed = 0;
#pragma omp parallel for schedule(static) if (N * M * OHW * KHW > DW_PARALLEL_MIN)
  for (int64_t nm = 0; nm < N * M; nm++) {
    const int64_t n = nm / M, m = nm % M;
    const float *xc = x + (n * C + m / mult) * IH * IW;
    if (padded) {
      float *plane = qc_scratch(QC_SCRATCH_PLANE, plane_bytes);
      if (!plane) {
#pragma omp atomic write
        failed = 1;
        continue;
      }
      /* Border rows and columns are zeroed, the interior copied. */
      memset(plane, 0, sizeof(float) * (size_t)(pt * IWp));
      for (int64_t ih = 0; ih < IH; ih++) {
        float *row = plane + (ih + pt) * IWp;
        memset(row, 0, sizeof(float) * (size_t)pl);
        memcpy(row + pl, xc + ih * IW, sizeof(float) * (size_t)IW);
        memset(row + pl + IW, 0, sizeof(float) * (size_t)(IWp - pl - IW));
      }
      memset(plane + (pt + IH) * IWp, 0, sizeof(float) * (size_t)((IHp - pt - IH) * IWp));
      xc = plane;
    }
    float *yc = y + nm * OHW;
    const float bias = b ? b[m] : 0.0f;
    for (int64_t oh = 0; oh < OH; oh++) {
      float *yr = yc + oh * OW;
      for (int64_t ow = 0; ow < OW; ow++)
        yr[ow] = bias;
      ops->dw_row(xc + oh * g->stride[1] * IWp, IWp, w + m * KHW, KH, KW, g->stride[2], g->dil[1], g->dil[2], yr, OW);
    }
    if (fused)
      ops->post_row(yc, post->res ? post->res + nm * OHW : NULL, yc, OHW, &post->act);
  }
  if (failed)
    return qc_fail(QC_ENOMEM, "out of memory for a %zu-byte padding buffer", plane_bytes);
  return QC_OK;
}

/* ---- General conv: one GEMM per image and group ---- */

typedef struct conv_gemm_ctx {
  const float *x, *w, *b, *res;
  const float *packed; /* W packed per group (conv_priv), or NULL */
  size_t group_floats;
  float *y;
  int64_t G, C, M, Cg, Mg, K, isize, osize;
} conv_gemm_ctx;

static void conv_gemm_setup(const void *vctx, int64_t t, qc_gemm_desc *d) {
  const conv_gemm_ctx *c = vctx;
  const int64_t n = t / c->G, gi = t % c->G;
  const int64_t yoff = (n * c->M + gi * c->Mg) * c->osize;
  d->a = c->w + gi * c->Mg * c->K;
  d->a_packed = c->packed ? c->packed + (size_t)gi * c->group_floats : NULL;
  d->b = c->x + (n * c->C + gi * c->Cg) * c->isize;
  d->c = d->y = c->y + yoff;
  d->res = c->res ? c->res + yoff : NULL;
  d->init = c->b ? c->b + gi * c->Mg : NULL;
}

int qc_conv_run_post(qc_kernel *k, const qc_conv_post *post) {
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
  if (N == 0 || M == 0 || osize == 0)
    return QC_OK;
  if (Cg == 1 && g->nsp <= 2 && ksize > 0)
    return conv_depthwise(x, w, b, y, N, C, M, g, post);
  int pointwise = 1;
  for (int i = 0; i < QC_WIN_SP; i++)
    if (g->kernel[i] != 1 || g->stride[i] != 1 || g->pad_begin[i] != 0 || g->pad_end[i] != 0)
      pointwise = 0;
  const float *packed = p->packed_from && p->packed_from == w ? p->packed : NULL;
  const conv_gemm_ctx ctx = {x, w, b, post ? post->res : NULL, packed, p->group_floats,
                             y, G, C, M, Cg, Mg, Cg * ksize, isize, osize};
  qc_gemm_desc d = {.M = Mg, .N = osize, .K = Cg * ksize, .lda = Cg * ksize};
  d.b_kind = pointwise ? QC_BSRC_MATRIX : QC_BSRC_IM2COL;
  d.ldb = osize;
  d.geom = g;
  d.ldc = osize;
  d.init_rs = 1;
  d.init_cs = 0;
  if (post)
    d.act = post->act;
  return qc_gemm_exec(&d, N * G, conv_gemm_setup, &ctx);
}

int qc_conv_run(qc_kernel *k) { return qc_conv_run_post(k, NULL); }
