/* MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
 *
 * Windowed pools precompute, per spatial dim and output position, the
 * range of kernel taps that land inside the input, so the inner loops
 * have no bounds checks. MaxPool also accepts int8/uint8 (opset 12). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "kernels.h"

/* Below this many input elements a parallel region costs more than it saves
 * (waking sleeping workers takes tens of microseconds). */
#define QC_POOL_PARALLEL_MIN 65536

typedef struct pool_priv {
  qc_window_attrs attrs;
  int64_t ceil_mode, count_include_pad, storage_order;
} pool_priv; /* read-only after init: the engine may run one node on several threads */

/* Per output position of one dim: valid taps [lo, hi) and, for
 * count_include_pad, the number of taps inside the padded input. */
typedef struct tap_range {
  int64_t lo, hi, padded;
} tap_range;

static int pool_init_common(qc_kernel *k, int is_max) {
  pool_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  QC_TRY(qc_window_attrs_read(k, 1, &p->attrs));
  if (p->attrs.n_kernel == 0)
    return qc_fail(QC_EINVAL, "missing required attribute 'kernel_shape'");
  QC_TRY(qc_attr_int(&k->attrs, "ceil_mode", 0, &p->ceil_mode));
  if (is_max) {
    QC_TRY(qc_attr_int(&k->attrs, "storage_order", 0, &p->storage_order));
    if (p->storage_order != 0 && p->storage_order != 1)
      return qc_fail(QC_EINVAL, "storage_order must be 0 or 1, got %lld", (long long)p->storage_order);
  } else {
    QC_TRY(qc_attr_int(&k->attrs, "count_include_pad", 0, &p->count_include_pad));
  }
  return QC_OK;
}

int qc_maxpool_init(qc_kernel *k) { return pool_init_common(k, 1); }
int qc_averagepool_init(qc_kernel *k) { return pool_init_common(k, 0); }

/* Validates X and resolves the window geometry. */
static int pool_resolve(const qc_kernel *k, int is_max, qc_window_geom *g) {
  const pool_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  if (!x || !qc_out(k, 0))
    return qc_fail(QC_EINVAL, "pooling needs input X and output Y");
  const int int8ok = is_max && (x->dtype == QC_DT_UINT8 || x->dtype == QC_DT_INT8);
  if (!int8ok) {
    QC_TRY(qc_check_spatial_input(x, "input X"));
  } else if (x->ndim < 3 || x->ndim > 2 + QC_WIN_SP) {
    return qc_fail(QC_EUNSUPPORTED, "input X must have 1 to %d spatial dims, got rank %d", QC_WIN_SP, x->ndim);
  }
  const int nsp = x->ndim - 2;
  if (p->attrs.n_kernel != nsp)
    return qc_fail(QC_EINVAL, "kernel_shape has %d values but the input has %d spatial dims", p->attrs.n_kernel,
                   nsp);
  return qc_window_resolve(&p->attrs, nsp, x->dims + 2, p->attrs.kernel, (int)p->ceil_mode, g);
}

static int pool_shape_common(qc_kernel *k, int is_max) {
  const qc_tensor *x = qc_in(k, 0);
  qc_tensor *y = qc_out(k, 0), *ind = qc_out(k, 1);
  qc_window_geom g;
  QC_TRY(pool_resolve(k, is_max, &g));
  const int nsp = x->ndim - 2;
  int64_t dims[QC_MAX_DIMS] = {x->dims[0], x->dims[1]};
  for (int j = 0; j < nsp; j++)
    dims[2 + j] = g.out[QC_WIN_SP - nsp + j];
  QC_TRY(qc_out_alloc(k, y, x->dtype, x->ndim, dims));
  if (is_max && ind)
    QC_TRY(qc_out_alloc(k, ind, QC_DT_INT64, x->ndim, dims));
  return QC_OK;
}

int qc_maxpool_shape(qc_kernel *k) { return pool_shape_common(k, 1); }
int qc_averagepool_shape(qc_kernel *k) { return pool_shape_common(k, 0); }

/* Builds the tap ranges of the three dims into one array; per-dim starts
 * are returned in r[0..2]. Caller frees r[0]. */
static int build_taps(const qc_window_geom *g, tap_range *r[QC_WIN_SP]) {
  const int64_t total = g->out[0] + g->out[1] + g->out[2];
  tap_range *buf = malloc(sizeof(tap_range) * (size_t)(total ? total : 1));
  if (!buf)
    return qc_fail(QC_ENOMEM, "out of memory");
  tap_range *cur = buf;
  for (int i = 0; i < QC_WIN_SP; i++) {
    r[i] = cur;
    for (int64_t o = 0; o < g->out[i]; o++) {
      const int64_t start = o * g->stride[i] - g->pad_begin[i];
      int64_t lo, hi, plo, phi;
      qc_valid_range(start, g->dil[i], g->in[i], g->kernel[i], &lo, &hi);
      qc_valid_range(start + g->pad_begin[i], g->dil[i], g->in[i] + g->pad_begin[i] + g->pad_end[i], g->kernel[i],
                     &plo, &phi);
      cur[o].lo = lo;
      cur[o].hi = hi;
      cur[o].padded = phi - plo;
    }
    cur += g->out[i];
  }
  return QC_OK;
}

/* Max pooling for one element type; indices (may be NULL) get the
 * flattened input position, row-major or column-major per storage_order. */
#define DEFINE_MAXPOOL(NAME, T, LOWEST)                                                                             \
  static void NAME(const T *x, T *y, int64_t *ind, int64_t nc_count, const qc_window_geom *g,                    \
                   tap_range *const r[QC_WIN_SP], int col_major) {                                              \
    const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2], OD = g->out[0], OH = g->out[1], OW = g->out[2];    \
    const int64_t isize = ID * IH * IW, osize = OD * OH * OW;                                                    \
    _Pragma("omp parallel for schedule(static)") for (int64_t nc = 0; nc < nc_count; nc++) {                     \
      const T *xc = x + nc * isize;                                                                              \
      int64_t o = nc * osize;                                                                                    \
      for (int64_t od = 0; od < OD; od++) {                                                                      \
        const int64_t d0 = od * g->stride[0] - g->pad_begin[0];                                                  \
        for (int64_t oh = 0; oh < OH; oh++) {                                                                    \
          const int64_t h0 = oh * g->stride[1] - g->pad_begin[1];                                                \
          for (int64_t ow = 0; ow < OW; ow++, o++) {                                                             \
            const int64_t w0 = ow * g->stride[2] - g->pad_begin[2];                                              \
            T best = LOWEST;                                                                                     \
            int64_t best_pos = -1;                                                                               \
            for (int64_t kd = r[0][od].lo; kd < r[0][od].hi; kd++) {                                             \
              const int64_t id = d0 + kd * g->dil[0];                                                            \
              for (int64_t kh = r[1][oh].lo; kh < r[1][oh].hi; kh++) {                                           \
                const int64_t ih = h0 + kh * g->dil[1];                                                          \
                const T *xrow = xc + (id * IH + ih) * IW;                                                        \
                for (int64_t kw = r[2][ow].lo; kw < r[2][ow].hi; kw++) {                                         \
                  const int64_t iw = w0 + kw * g->dil[2];                                                        \
                  if (xrow[iw] > best || best_pos < 0) {                                                         \
                    best = xrow[iw];                                                                             \
                    best_pos = col_major ? id + ID * (ih + IH * iw) : (id * IH + ih) * IW + iw;                  \
                  }                                                                                              \
                }                                                                                                \
              }                                                                                                  \
            }                                                                                                    \
            y[o] = best;                                                                                         \
            if (ind)                                                                                             \
              ind[o] = best_pos < 0 ? -1 : nc * isize + best_pos;                                                \
          }                                                                                                      \
        }                                                                                                        \
      }                                                                                                          \
    }                                                                                                            \
  }

DEFINE_MAXPOOL(maxpool_f32, float, -INFINITY)
DEFINE_MAXPOOL(maxpool_u8, uint8_t, 0)
DEFINE_MAXPOOL(maxpool_s8, int8_t, INT8_MIN)

/* Float max pooling without indices, one (n, c) plane: per output row,
 * one vectorisable max pass per kernel tap over the valid columns. */
QC_MULTIVERSION static void maxpool_plane_f32(const float *restrict xc, float *restrict yc,
                                              const qc_window_geom *gp, tap_range *const r[QC_WIN_SP]) {
  const qc_window_geom g = *gp;
  const int64_t IH = g.in[1], IW = g.in[2], OH = g.out[1], OW = g.out[2], sw = g.stride[2];
  if (g.out[0] == 1 && g.kernel[0] == 1 && g.kernel[1] == 2 && g.kernel[2] == 2 && g.stride[1] == 2 && sw == 2 &&
      g.dil[1] == 1 && g.dil[2] == 1 && g.pad_begin[1] == 0 && g.pad_begin[2] == 0 && 2 * OH <= IH && 2 * OW <= IW) {
    /* 2x2 stride 2 with every window inside the plane (the common
     * downsampling): the same four compares per output in the same tap order
     * as below, in one pass instead of four strided passes per row. */
    for (int64_t oh = 0; oh < OH; oh++) {
      const float *r0 = xc + 2 * oh * IW, *r1 = r0 + IW;
      float *yrow = yc + oh * OW;
      for (int64_t ow = 0; ow < OW; ow++) {
        float m = -INFINITY, v = r0[2 * ow];
        m = v > m ? v : m;
        v = r0[2 * ow + 1];
        m = v > m ? v : m;
        v = r1[2 * ow];
        m = v > m ? v : m;
        v = r1[2 * ow + 1];
        yrow[ow] = v > m ? v : m;
      }
    }
    return;
  }
  for (int64_t od = 0; od < g.out[0]; od++) {
    const int64_t d0 = od * g.stride[0] - g.pad_begin[0];
    for (int64_t oh = 0; oh < OH; oh++) {
      const int64_t h0 = oh * g.stride[1] - g.pad_begin[1];
      float *yrow = yc + (od * OH + oh) * OW;
      for (int64_t ow = 0; ow < OW; ow++)
        yrow[ow] = -INFINITY;
      for (int64_t kd = r[0][od].lo; kd < r[0][od].hi; kd++) {
        for (int64_t kh = r[1][oh].lo; kh < r[1][oh].hi; kh++) {
          const float *xrow = xc + ((d0 + kd * g.dil[0]) * IH + h0 + kh * g.dil[1]) * IW;
          for (int64_t kw = 0; kw < g.kernel[2]; kw++) {
            const int64_t off = kw * g.dil[2] - g.pad_begin[2];
            int64_t lo, hi;
            qc_valid_range(off, sw, IW, OW, &lo, &hi);
            if (sw == 1) {
              for (int64_t ow = lo; ow < hi; ow++) {
                const float v = xrow[ow + off];
                yrow[ow] = v > yrow[ow] ? v : yrow[ow];
              }
            } else {
              for (int64_t ow = lo; ow < hi; ow++) {
                const float v = xrow[ow * sw + off];
                yrow[ow] = v > yrow[ow] ? v : yrow[ow];
              }
            }
          }
        }
      }
    }
  }
}

int qc_maxpool_run(qc_kernel *k) {
  const pool_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  qc_tensor *y = qc_out(k, 0), *ind = qc_out(k, 1);
  int64_t *iv = ind ? qc_i64(ind) : NULL;
  qc_window_geom g;
  QC_TRY(pool_resolve(k, 1, &g));
  tap_range *r[QC_WIN_SP];
  QC_TRY(build_taps(&g, r));
  const int64_t nc = x->dims[0] * x->dims[1];
  const int col_major = p->storage_order == 1;
  if (x->dtype == QC_DT_UINT8)
    maxpool_u8(qc_u8(x), qc_u8(y), iv, nc, &g, r, col_major);
  else if (x->dtype == QC_DT_INT8)
    maxpool_s8(qc_s8(x), qc_s8(y), iv, nc, &g, r, col_major);
  else if (iv)
    maxpool_f32(qc_f32(x), qc_f32(y), iv, nc, &g, r, col_major);
  else {
    const float *xv = qc_f32(x);
    float *yv = qc_f32(y);
    const int64_t isize = qc_geom_in_size(&g), osize = qc_geom_out_size(&g);
#pragma omp parallel for schedule(static) if (nc * isize > QC_POOL_PARALLEL_MIN)
    for (int64_t i = 0; i < nc; i++)
      maxpool_plane_f32(xv + i * isize, yv + i * osize, &g, r);
  }
  free(r[0]);
  return QC_OK;
}

/* Float average pooling of one (n, c) plane: per output row, one
 * vectorisable add pass per kernel tap, then one divide pass. */
QC_MULTIVERSION static void avgpool_plane_f32(const float *restrict xc, float *restrict yc,
                                              const qc_window_geom *gp, tap_range *const r[QC_WIN_SP],
                                              int include_pad) {
  const qc_window_geom g = *gp;
  const int64_t IH = g.in[1], IW = g.in[2], OH = g.out[1], OW = g.out[2], sw = g.stride[2];
  for (int64_t od = 0; od < g.out[0]; od++) {
    const int64_t d0 = od * g.stride[0] - g.pad_begin[0];
    const tap_range *rd = &r[0][od];
    for (int64_t oh = 0; oh < OH; oh++) {
      const int64_t h0 = oh * g.stride[1] - g.pad_begin[1];
      const tap_range *rh = &r[1][oh];
      float *yrow = yc + (od * OH + oh) * OW;
      for (int64_t ow = 0; ow < OW; ow++)
        yrow[ow] = 0.0f;
      for (int64_t kd = rd->lo; kd < rd->hi; kd++) {
        for (int64_t kh = rh->lo; kh < rh->hi; kh++) {
          const float *xrow = xc + ((d0 + kd * g.dil[0]) * IH + h0 + kh * g.dil[1]) * IW;
          for (int64_t kw = 0; kw < g.kernel[2]; kw++) {
            const int64_t off = kw * g.dil[2] - g.pad_begin[2];
            int64_t lo, hi;
            qc_valid_range(off, sw, IW, OW, &lo, &hi);
            if (sw == 1)
              for (int64_t ow = lo; ow < hi; ow++)
                yrow[ow] += xrow[ow + off];
            else
              for (int64_t ow = lo; ow < hi; ow++)
                yrow[ow] += xrow[ow * sw + off];
          }
        }
      }
      const int64_t count_dh = include_pad ? rd->padded * rh->padded : (rd->hi - rd->lo) * (rh->hi - rh->lo);
      for (int64_t ow = 0; ow < OW; ow++) {
        const tap_range *rw = &r[2][ow];
        const int64_t count = count_dh * (include_pad ? rw->padded : rw->hi - rw->lo);
        yrow[ow] = count > 0 ? yrow[ow] / (float)count : 0.0f;
      }
    }
  }
}

int qc_averagepool_run(qc_kernel *k) {
  const pool_priv *p = k->priv;
  qc_window_geom g;
  QC_TRY(pool_resolve(k, 0, &g));
  const qc_tensor *xt = qc_in(k, 0);
  const float *x = qc_f32(xt);
  float *y = qc_f32(qc_out(k, 0));
  tap_range *r[QC_WIN_SP];
  QC_TRY(build_taps(&g, r));
  const int64_t isize = qc_geom_in_size(&g), osize = qc_geom_out_size(&g), nc_count = xt->dims[0] * xt->dims[1];
  const int include_pad = p->count_include_pad != 0;
#pragma omp parallel for schedule(static) if (nc_count * isize > QC_POOL_PARALLEL_MIN)
  for (int64_t nc = 0; nc < nc_count; nc++)
    avgpool_plane_f32(x + nc * isize, y + nc * osize, &g, r, include_pad);
  free(r[0]);
  return QC_OK;
}

/* ---- Global pools: one value per (n, c) ---- */

static int global_pool_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  qc_tensor *y = qc_out(k, 0);
  if (!x || !y)
    return qc_fail(QC_EINVAL, "pooling needs input X and output Y");
  if (x->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "input X has type %s; only float is supported", qc_dtype_name(x->dtype));
  if (x->ndim < 3)
    return qc_fail(QC_EINVAL, "input X must have rank >= 3 (N, C, spatial...), got rank %d", x->ndim);
  int64_t dims[QC_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++)
    dims[i] = i < 2 ? x->dims[i] : 1;
  return qc_out_alloc(k, y, QC_DT_FLOAT, x->ndim, dims);
}

static float plane_mean(const float *xc, int64_t size) {
  double sum = 0.0;
  for (int64_t i = 0; i < size; i++)
    sum += xc[i];
  return size ? (float)(sum / (double)size) : NAN;
}

static float plane_max(const float *xc, int64_t size) {
  float best = -INFINITY;
  for (int64_t i = 0; i < size; i++)
    best = xc[i] > best ? xc[i] : best;
  return best;
}

/* y[n, c] = reduce(x[n, c, all spatial positions]). */
static int global_pool_run(qc_kernel *k, float (*reduce)(const float *xc, int64_t size)) {
  const qc_tensor *xt = qc_in(k, 0);
  const float *x = qc_f32(xt);
  float *y = qc_f32(qc_out(k, 0));
  const int64_t nc_count = xt->dims[0] * xt->dims[1];
  const int64_t size = nc_count ? xt->numel / nc_count : 0;
#pragma omp parallel for schedule(static) if (xt->numel > QC_POOL_PARALLEL_MIN)
  for (int64_t nc = 0; nc < nc_count; nc++)
    y[nc] = reduce(x + nc * size, size);
  return QC_OK;
}

int qc_globalaveragepool_shape(qc_kernel *k) { return global_pool_shape(k); }

enum { MEAN_LANES = 8 };

/* Means of MEAN_LANES planes at once: each plane's double sum still adds its
 * elements one by one in order (plane_mean's bits), but the eight chains
 * overlap instead of waiting on one add's latency each step. perf: plane_mean
 * was 8 % of PP-OCR cls at batch 1 (its squeeze-excite blocks). */
static void plane_means(const float *x, int64_t size, float *y) {
  double sum[MEAN_LANES] = {0};
  for (int64_t i = 0; i < size; i++)
    for (int j = 0; j < MEAN_LANES; j++)
      sum[j] += x[j * size + i];
  for (int j = 0; j < MEAN_LANES; j++)
    y[j] = size ? (float)(sum[j] / (double)size) : NAN;
}

int qc_globalaveragepool_run(qc_kernel *k) {
  const qc_tensor *xt = qc_in(k, 0);
  const float *x = qc_f32(xt);
  float *y = qc_f32(qc_out(k, 0));
  const int64_t nc_count = xt->dims[0] * xt->dims[1];
  const int64_t size = nc_count ? xt->numel / nc_count : 0, groups = nc_count / MEAN_LANES;
#pragma omp parallel for schedule(static) if (xt->numel > QC_POOL_PARALLEL_MIN)
  for (int64_t gi = 0; gi < groups; gi++)
    plane_means(x + gi * MEAN_LANES * size, size, y + gi * MEAN_LANES);
  for (int64_t nc = groups * MEAN_LANES; nc < nc_count; nc++)
    y[nc] = plane_mean(x + nc * size, size);
  return QC_OK;
}

int qc_globalmaxpool_shape(qc_kernel *k) { return global_pool_shape(k); }
int qc_globalmaxpool_run(qc_kernel *k) { return global_pool_run(k, plane_max); }
