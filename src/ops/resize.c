/* Resize (opsets 10-19) and Upsample (7/9).
 *
 * Every supported mode is separable, so an N-d resize is one 1-D pass per
 * resized axis. Each pass uses a per-axis plan: for every output index a list
 * of (input index, weight) taps, computed exactly as the ONNX reference does
 * (coordinate transform -> neighbours -> coefficients). Nearest mode moves
 * bytes and works for every dtype; linear/cubic interpolate in float. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "scratch.h"

typedef enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } interp_mode;
typedef enum {
  CT_HALF_PIXEL,
  CT_HALF_PIXEL_SYMMETRIC,
  CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS,
  CT_ASYMMETRIC,
  CT_TF_HALF_PIXEL_FOR_NN,
  CT_TF_CROP_AND_RESIZE
} coord_mode;
/* NM_SIMPLE: onnxruntime's opset-10 rule (ceil when downsampling, else floor). */
typedef enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE } nearest_mode;

typedef struct {
  interp_mode mode;
  coord_mode coord;
  nearest_mode nearest;
  float cubic_a;
  int exclude_outside;
  int antialias;
  float extrapolation;
} resize_params;

/* One axis: out_len output positions, ntaps taps each. */
typedef struct {
  int64_t in_len, out_len;
  int ntaps;
  int64_t *idx;   /* [out_len * ntaps] */
  float *w;       /* [out_len * ntaps]; unused for nearest */
  uint8_t *extra; /* [out_len]: 1 = extrapolated (tf_crop_and_resize) */
} axis_plan;

static void plan_free(axis_plan *p) {
  free(p->idx);
  free(p->w);
  free(p->extra);
  memset(p, 0, sizeof *p);
}

static double original_coord(const resize_params *rp, int64_t o, int64_t in_len, int64_t out_len, double scale,
                             double roi_start, double roi_end) {
  const double x = (double)o, exact_len = scale * (double)in_len;
  switch (rp->coord) {
  case CT_HALF_PIXEL: return (x + 0.5) / scale - 0.5;
  case CT_HALF_PIXEL_SYMMETRIC: {
    double adjustment = (double)out_len / (scale * (double)in_len);
    double offset = (double)in_len / 2 * (1 - adjustment);
    return offset + (x + 0.5) / scale - 0.5;
  }
  case CT_PYTORCH_HALF_PIXEL: return exact_len != 1 ? (x + 0.5) / scale - 0.5 : -0.5;
  /* Like the ONNX reference, align_corners, pytorch_half_pixel and tf_crop_and_resize use the
   * unrounded output length scale * in_len (it differs from out_len when scales are given). */
  case CT_ALIGN_CORNERS: return exact_len != 1 ? x * (double)(in_len - 1) / (exact_len - 1) : 0.0;
  case CT_ASYMMETRIC: return x / scale;
  case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / scale;
  case CT_TF_CROP_AND_RESIZE:
    if (exact_len != 1)
      return roi_start * (double)(in_len - 1) + x * (roi_end - roi_start) * (double)(in_len - 1) / (exact_len - 1);
    return 0.5 * (roi_start + roi_end) * (double)(in_len - 1);
  }
  return 0;
}

static int64_t nearest_index(nearest_mode m, double x, double scale) {
  double fl = floor(x), frac = x - fl;
  switch (m) {
  case NM_ROUND_PREFER_FLOOR: return (int64_t)(frac <= 0.5 ? fl : fl + 1);
  case NM_ROUND_PREFER_CEIL: return (int64_t)(frac < 0.5 ? fl : fl + 1);
  case NM_FLOOR: return (int64_t)fl;
  case NM_CEIL: return (int64_t)ceil(x);
  case NM_SIMPLE: return scale < 1 ? (int64_t)ceil(x) : (int64_t)fl;
  }
  return (int64_t)fl;
}

static double cubic_weight(double t, double a) {
  t = fabs(t);
  if (t <= 1)
    return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2)
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

static int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

static int build_plan(const resize_params *rp, int64_t in_len, int64_t out_len, double scale, double roi_start,
                      double roi_end, axis_plan *p) {
  memset(p, 0, sizeof *p);
  p->in_len = in_len;
  p->out_len = out_len;
  if (out_len > 0 && in_len == 0)
    return qc_fail(QC_EINVAL, "cannot resize an empty axis to %lld", (long long)out_len);
  /* Taps and their offsets relative to base = the input index left of the coordinate. */
  double support = rp->mode == MODE_CUBIC ? 2.0 : 1.0;
  double filter_scale = (rp->antialias && rp->mode != MODE_NEAREST && scale < 1) ? scale : 1.0;
  int64_t start = rp->mode == MODE_NEAREST ? 0 : (int64_t)floor(-support / filter_scale) + 1;
  int64_t ntaps = rp->mode == MODE_NEAREST ? 1 : 2 - 2 * start;
  if (ntaps > 4096)
    return qc_fail(QC_EUNSUPPORTED, "antialias filter of %lld taps is too large", (long long)ntaps);
  p->ntaps = (int)ntaps;
  size_t n = (size_t)(out_len ? out_len : 1) * (size_t)ntaps;
  p->idx = malloc(n * sizeof *p->idx);
  p->w = malloc(n * sizeof *p->w);
  p->extra = calloc((size_t)(out_len ? out_len : 1), 1);
  if (!p->idx || !p->w || !p->extra) {
    plan_free(p);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  for (int64_t o = 0; o < out_len; o++) {
    double x = original_coord(rp, o, in_len, out_len, scale, roi_start, roi_end);
    int64_t *idx = p->idx + o * ntaps;
    float *w = p->w + o * ntaps;
    if (rp->coord == CT_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(in_len - 1))) {
      p->extra[o] = 1;
      for (int64_t t = 0; t < ntaps; t++) {
        idx[t] = 0;
        w[t] = 0;
      }
      continue;
    }
    if (rp->mode == MODE_NEAREST) {
      idx[0] = clamp_index(nearest_index(rp->nearest, x, scale), in_len);
      w[0] = 1;
      continue;
    }
    /* Prefer the pixel on the left: an integral x gives base = x - 1, ratio = 1. */
    double base = floor(x), ratio = x - base;
    if (ratio == 0) {
      base -= 1;
      ratio = 1;
    }
    double wsum = 0;
    for (int64_t t = 0; t < ntaps; t++) {
      double arg = filter_scale * ((double)(start + t) - ratio);
      double wt = rp->mode == MODE_CUBIC ? cubic_weight(arg, rp->cubic_a) : fmax(0.0, 1.0 - fabs(arg));
      int64_t src = (int64_t)base + start + t;
      if (rp->exclude_outside && (src < 0 || src >= in_len))
        wt = 0;
      idx[t] = clamp_index(src, in_len);
      w[t] = (float)wt;
      wsum += wt;
    }
    if ((rp->exclude_outside || filter_scale < 1) && wsum != 0)
      for (int64_t t = 0; t < ntaps; t++)
        w[t] = (float)(w[t] / wsum);
  }
  return QC_OK;
}

/* Whether the plan maps every output index to the same input index unchanged. */
static int plan_is_identity(const axis_plan *p) {
  if (p->in_len != p->out_len)
    return 0;
  for (int64_t o = 0; o < p->out_len; o++) {
    if (p->extra[o])
      return 0;
    for (int t = 0; t < p->ntaps; t++) {
      const int64_t i = o * p->ntaps + t;
      if (p->ntaps == 1 ? p->idx[i] != o : (p->w[i] != 0 && (p->idx[i] != o || p->w[i] != 1)))
        return 0;
    }
  }
  return 1;
}

/* Nearest pass on bytes: [outer, in_len, inner] -> [outer, out_len, inner]. */
static void pass_nearest(const char *src, char *dst, int64_t outer, int64_t inner, size_t es, const axis_plan *p,
                         const unsigned char *extra_value) {
  const size_t row = (size_t)inner * es;
#pragma omp parallel for schedule(static) if (outer * p->out_len * inner > 65536 && outer > 1)
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < p->out_len; j++) {
      char *d = dst + (size_t)(o * p->out_len + j) * row;
      if (p->extra[j]) {
        for (int64_t i = 0; i < inner; i++)
          memcpy(d + (size_t)i * es, extra_value, es);
      } else {
        memcpy(d, src + (size_t)(o * p->in_len + p->idx[j]) * row, row);
      }
    }
}

/* Output row oj = (o, j) of one interpolating pass (see pass_interp). */
static void interp_row(const float *src, float *d, int64_t o, int64_t j, int64_t inner, const axis_plan *p,
                       float extra) {
  const int nt = p->ntaps;
  if (p->extra[j]) {
    for (int64_t i = 0; i < inner; i++)
      d[i] = extra;
    return;
  }
  const int64_t *idx = p->idx + j * nt;
  const float *w = p->w + j * nt;
  if (inner == 1) {
    const float *s = src + o * p->in_len;
    float acc = 0;
    for (int t = 0; t < nt; t++)
      acc += w[t] * s[idx[t]];
    d[0] = acc;
    return;
  }
  for (int64_t i = 0; i < inner; i++)
    d[i] = 0;
  for (int t = 0; t < nt; t++) {
    if (w[t] == 0)
      continue;
    const float *s = src + (o * p->in_len + idx[t]) * inner;
    const float wt = w[t];
    for (int64_t i = 0; i < inner; i++)
      d[i] += wt * s[i];
  }
}

static void pass_interp(const float *src, float *dst, int64_t outer, int64_t inner, const axis_plan *p, float extra) {
#pragma omp parallel for schedule(static) if (outer * p->out_len * inner * p->ntaps > 65536)
  for (int64_t oj = 0; oj < outer * p->out_len; oj++)
    interp_row(src, dst + oj * inner, oj / p->out_len, oj % p->out_len, inner, p, extra);
}

/* Whether a resize touches only the last two axes (and one of them): then
 * *planes is the product of the others and do_h / do_w say which it scales. */
static int plane_resize(int r, const int64_t *in_dims, const axis_plan *plans, int64_t *planes, int *do_h,
                        int *do_w) {
  if (r < 2)
    return 0;
  *planes = 1;
  for (int d = 0; d < r - 2; d++) {
    if (!plan_is_identity(&plans[d]))
      return 0;
    *planes *= in_dims[d];
  }
  *do_h = !plan_is_identity(&plans[r - 2]), *do_w = !plan_is_identity(&plans[r - 1]);
  return *do_h || *do_w;
}

/* Float interpolation that resizes only the last two axes (the image
 * planes of NCHW), one plane at a time: the H pass into a per-thread
 * buffer, the W pass straight into y. The same rows as pass_interp over the
 * whole tensor, so the same bits, but no tensor-sized intermediates (at
 * batch 8 on M-LSD those were 130 MB mallocs and copies per Resize) and
 * every plane stays in cache between its passes. Returns 0 when it does not
 * apply (the caller then runs the general passes). */
static int resize_planes_f32(const float *x, float *y, int r, const int64_t *in_dims, const axis_plan *plans,
                             float extra) {
  int64_t planes;
  int do_h, do_w;
  if (!plane_resize(r, in_dims, plans, &planes, &do_h, &do_w))
    return 0;
  const axis_plan *ph = &plans[r - 2], *pw = &plans[r - 1];
  const int64_t IH = in_dims[r - 2], IW = in_dims[r - 1], OH = ph->out_len, OW = pw->out_len;
  const size_t tmp_bytes = sizeof(float) * (size_t)(OH * IW > 0 ? OH * IW : 1);
  int failed = 0;
#pragma omp parallel for schedule(static) if (planes > 1 && planes * OH * (IW + OW) > 65536)
  for (int64_t pl = 0; pl < planes; pl++) {
    const float *xp = x + pl * IH * IW;
    float *yp = y + pl * OH * OW;
    /* The H pass goes to y when it is the only one, else to the buffer. */
    float *hdst = do_h && do_w ? qc_scratch(QC_SCRATCH_PLANE, tmp_bytes) : yp;
    if (do_h && !hdst) {
#pragma omp atomic write
      failed = 1;
      continue;
    }
    if (do_h)
      for (int64_t j = 0; j < OH; j++)
        interp_row(xp, hdst + j * IW, 0, j, IW, ph, extra);
    const float *wsrc = do_h ? hdst : xp;
    if (do_w)
      for (int64_t oj = 0; oj < OH * OW; oj++)
        interp_row(wsrc, yp + oj, oj / OW, oj % OW, 1, pw, extra);
  }
  return failed ? -1 : 1;
}

/* Nearest Resize of the last two axes, any dtype, one plane at a time
 * straight into y: element (j, ow) of a plane is x's (idx_h[j], idx_w[ow]),
 * or the extrapolation value where either axis extrapolates, which is what
 * the two byte passes give, without their tensor-sized intermediates.
 * Returns 0 when it does not apply. */
static int resize_planes_nearest(const char *x, char *y, size_t es, int r, const int64_t *in_dims,
                                 const axis_plan *plans, const unsigned char *extra_value) {
  int64_t planes;
  int do_h, do_w;
  if (!plane_resize(r, in_dims, plans, &planes, &do_h, &do_w))
    return 0;
  const axis_plan *ph = &plans[r - 2], *pw = &plans[r - 1];
  const int64_t IH = in_dims[r - 2], IW = in_dims[r - 1], OH = ph->out_len, OW = pw->out_len;
#pragma omp parallel for schedule(static) if (planes * OH > 1 && planes * OH * OW > 65536)
  for (int64_t pj = 0; pj < planes * OH; pj++) {
    const int64_t pl = pj / OH, j = pj % OH;
    char *d = y + (size_t)pj * (size_t)OW * es;
    const int extra_row = do_h && ph->extra[j];
    const char *s = x + ((size_t)(pl * IH + (do_h ? ph->idx[j] : j)) * (size_t)IW) * es;
    if (!extra_row && !do_w) {
      memcpy(d, s, (size_t)OW * es);
    } else if (!extra_row && es == 4) {
      for (int64_t ow = 0; ow < OW; ow++)
        memcpy(d + ow * 4, pw->extra[ow] ? (const char *)extra_value : s + pw->idx[ow] * 4, 4);
    } else {
      for (int64_t ow = 0; ow < OW; ow++) {
        const int ext = extra_row || (do_w && pw->extra[ow]);
        memcpy(d + (size_t)ow * es, ext ? (const char *)extra_value : s + (size_t)(do_w ? pw->idx[ow] : ow) * es,
               es);
      }
    }
  }
  return 1;
}

/* Resizes x into y (allocated here) with per-axis output sizes/scales/roi. */
static int resize_nd(qc_kernel *k, const resize_params *rp, const qc_tensor *x, const int64_t *out_dims, const double *scales,
                     const double *roi, qc_tensor *y) {
  const int r = x->ndim;
  const size_t es = qc_dtype_size(x->dtype);
  if (es == 0)
    return qc_fail(QC_EUNSUPPORTED, "Resize of type %s is not supported", qc_dtype_name(x->dtype));
  if (rp->mode != MODE_NEAREST && x->dtype == QC_DT_BOOL)
    return qc_fail(QC_EUNSUPPORTED, "interpolating Resize of bool tensors is not supported");
  QC_TRY(qc_out_alloc(k, y, x->dtype, r, out_dims));
  axis_plan plans[QC_MAX_DIMS];
  memset(plans, 0, sizeof plans);
  int rc = QC_OK;
  for (int d = 0; d < r && rc == QC_OK; d++)
    rc = build_plan(rp, x->dims[d], out_dims[d], scales[d], roi[d], roi[d + r], &plans[d]);
  int64_t cur_dims[QC_MAX_DIMS];
  memcpy(cur_dims, x->dims, sizeof(int64_t) * (size_t)r);
  const int interp = rp->mode != MODE_NEAREST;
  qc_tensor fx = {0}; /* float view of the input for interpolation */
  const void *cur = x->data;
  void *owned = NULL;
  unsigned char extra_value[16] = {0};
  if (rc == QC_OK && !interp)
    rc = qc_sl_store_f64(x->dtype, rp->extrapolation, extra_value);
  if (rc == QC_OK && interp && x->dtype != QC_DT_FLOAT) {
    if ((rc = qc_tensor_alloc(&fx, QC_DT_FLOAT, r, x->dims)) == QC_OK)
      rc = qc_sl_convert(x, &fx);
    cur = fx.data;
  }
  const size_t work_es = interp ? sizeof(float) : es;
  if (rc == QC_OK && (!interp || x->dtype == QC_DT_FLOAT)) {
    const int done = interp ? resize_planes_f32(cur, y->data, r, x->dims, plans, rp->extrapolation)
                            : resize_planes_nearest(cur, y->data, es, r, x->dims, plans, extra_value);
    if (done < 0)
      rc = qc_fail(QC_ENOMEM, "out of memory");
    if (done != 0) {
      for (int d = 0; d < r; d++)
        plan_free(&plans[d]);
      return rc;
    }
  }
  for (int d = 0; d < r && rc == QC_OK; d++) {
    if (plan_is_identity(&plans[d]))
      continue;
    int64_t outer = 1, inner = 1;
    for (int e = 0; e < d; e++)
      outer *= cur_dims[e];
    for (int e = d + 1; e < r; e++)
      inner *= cur_dims[e];
    cur_dims[d] = out_dims[d];
    size_t nbytes;
    if ((rc = qc_shape_bytes(interp ? QC_DT_FLOAT : x->dtype, r, cur_dims, &nbytes)) < 0)
      break;
    void *next = malloc(nbytes ? nbytes : 1);
    if (!next) {
      rc = qc_fail(QC_ENOMEM, "out of memory");
      break;
    }
    if (interp)
      pass_interp(cur, next, outer, inner, &plans[d], rp->extrapolation);
    else
      pass_nearest(cur, next, outer, inner, es, &plans[d], extra_value);
    free(owned);
    owned = next;
    cur = next;
  }
  if (rc == QC_OK) {
    if (!interp || x->dtype == QC_DT_FLOAT) {
      memcpy(y->data, cur, (size_t)y->numel * work_es);
    } else {
      const float *f = cur;
      /* Integer outputs truncate (with saturation), as the ONNX reference's astype does. */
      for (int64_t i = 0; i < y->numel && rc == QC_OK; i++)
        rc = qc_sl_store_f64(x->dtype, f[i], (char *)y->data + (size_t)i * es);
    }
  }
  free(owned);
  qc_tensor_release(&fx);
  for (int d = 0; d < r; d++)
    plan_free(&plans[d]);
  return rc;
}

static int parse_mode(const char *s, int allow_cubic, interp_mode *m) {
  if (strcmp(s, "nearest") == 0)
    *m = MODE_NEAREST;
  else if (strcmp(s, "linear") == 0 || strcmp(s, "bilinear") == 0)
    *m = MODE_LINEAR;
  else if (allow_cubic && strcmp(s, "cubic") == 0)
    *m = MODE_CUBIC;
  else
    return qc_fail(QC_EUNSUPPORTED, "unsupported resize mode '%s'", s);
  return QC_OK;
}

static int output_size(int64_t in_len, double scale, int64_t *out) {
  if (!(scale > 0) || !isfinite(scale))
    return qc_fail(QC_EINVAL, "resize scale %g must be positive and finite", scale);
  double v = floor((double)in_len * scale);
  if (v > 9e15)
    return qc_fail(QC_ELIMIT, "resized dimension is too large");
  *out = (int64_t)v;
  return QC_OK;
}

int qc_resize_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input");
  const int r = x->ndim;
  resize_params rp = {MODE_NEAREST, CT_HALF_PIXEL, NM_ROUND_PREFER_FLOOR, -0.75f, 0, 0, 0.0f};
  char buf[64];
  QC_TRY(qc_attr_string(&k->attrs, "mode", "nearest", buf, sizeof buf));
  QC_TRY(parse_mode(buf, k->opset >= 11, &rp.mode));
  const qc_tensor *roi_t = NULL, *scales_t, *sizes_t = NULL;
  int64_t axes[QC_MAX_DIMS];
  int naxes = r;
  for (int d = 0; d < r; d++)
    axes[d] = d;
  if (k->opset < 11) {
    rp.coord = CT_ASYMMETRIC;
    rp.nearest = NM_SIMPLE;
    scales_t = qc_in(k, 1);
  } else {
    static const char *coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                   "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    QC_TRY(qc_attr_string(&k->attrs, "coordinate_transformation_mode", "half_pixel", buf, sizeof buf));
    int found = 0;
    for (int i = 0; i < 7 && !found; i++)
      if (strcmp(buf, coords[i]) == 0) {
        rp.coord = (coord_mode)i;
        found = 1;
      }
    if (!found)
      return qc_fail(QC_EUNSUPPORTED, "unsupported coordinate_transformation_mode '%s'", buf);
    QC_TRY(qc_attr_string(&k->attrs, "nearest_mode", "round_prefer_floor", buf, sizeof buf));
    found = 0;
    for (int i = 0; i < 4 && !found; i++)
      if (strcmp(buf, nearests[i]) == 0) {
        rp.nearest = (nearest_mode)i;
        found = 1;
      }
    if (!found)
      return qc_fail(QC_EUNSUPPORTED, "unsupported nearest_mode '%s'", buf);
    int64_t excl, aa = 0;
    QC_TRY(qc_attr_float(&k->attrs, "cubic_coeff_a", -0.75f, &rp.cubic_a));
    QC_TRY(qc_attr_int(&k->attrs, "exclude_outside", 0, &excl));
    QC_TRY(qc_attr_float(&k->attrs, "extrapolation_value", 0.0f, &rp.extrapolation));
    if (k->opset >= 18) {
      QC_TRY(qc_attr_int(&k->attrs, "antialias", 0, &aa));
      const int64_t *av;
      size_t na;
      QC_TRY(qc_attr_ints(&k->attrs, "axes", &av, &na));
      if (av) {
        if (na > (size_t)r)
          return qc_fail(QC_EINVAL, "Resize axes has %zu entries for rank %d", na, r);
        int seen[QC_MAX_DIMS] = {0};
        for (size_t i = 0; i < na; i++) {
          int a;
          QC_TRY(qc_sl_axis(av[i], r, 0, &a));
          if (seen[a])
            return qc_fail(QC_EINVAL, "axis %d appears twice in Resize axes", a);
          seen[a] = 1;
          axes[i] = a;
        }
        naxes = (int)na;
      }
    }
    rp.exclude_outside = excl != 0;
    rp.antialias = aa != 0;
    roi_t = qc_in(k, 1);
    scales_t = qc_in(k, 2);
    sizes_t = qc_in(k, 3);
  }
  if (scales_t && scales_t->numel == 0)
    scales_t = NULL;
  if (sizes_t && sizes_t->numel == 0)
    sizes_t = NULL;
  if (!!scales_t == !!sizes_t)
    return qc_fail(QC_EINVAL, "exactly one of scales and sizes must be given");
  double scales[QC_MAX_DIMS], roi[2 * QC_MAX_DIMS];
  int64_t out_dims[QC_MAX_DIMS];
  for (int d = 0; d < r; d++) {
    scales[d] = 1;
    out_dims[d] = x->dims[d];
    roi[d] = 0;
    roi[d + r] = 1;
  }
  if (rp.coord == CT_TF_CROP_AND_RESIZE && roi_t && roi_t->numel > 0) {
    if (roi_t->numel != 2 * naxes)
      return qc_fail(QC_EINVAL, "roi has %lld values, expected %d", (long long)roi_t->numel, 2 * naxes);
    for (int i = 0; i < naxes; i++) {
      roi[axes[i]] = qc_tensor_get_f64(roi_t, i);
      roi[axes[i] + r] = qc_tensor_get_f64(roi_t, i + naxes);
    }
  }
  if (scales_t) {
    if (scales_t->numel != naxes)
      return qc_fail(QC_EINVAL, "scales has %lld values for %d axes", (long long)scales_t->numel, naxes);
    for (int i = 0; i < naxes; i++) {
      int a = (int)axes[i];
      scales[a] = qc_tensor_get_f64(scales_t, i);
      QC_TRY(output_size(x->dims[a], scales[a], &out_dims[a]));
    }
  } else {
    if (sizes_t->numel != naxes)
      return qc_fail(QC_EINVAL, "sizes has %lld values for %d axes", (long long)sizes_t->numel, naxes);
    if (sizes_t->dtype != QC_DT_INT64)
      return qc_fail(QC_EINVAL, "sizes must be int64");
    char policy[32] = "stretch";
    if (k->opset >= 18)
      QC_TRY(qc_attr_string(&k->attrs, "keep_aspect_ratio_policy", "stretch", policy, sizeof policy));
    int not_larger = strcmp(policy, "not_larger") == 0, not_smaller = strcmp(policy, "not_smaller") == 0;
    if (!not_larger && !not_smaller && strcmp(policy, "stretch") != 0)
      return qc_fail(QC_EUNSUPPORTED, "unsupported keep_aspect_ratio_policy '%s'", policy);
    double common = not_larger ? INFINITY : 0;
    for (int i = 0; i < naxes; i++) {
      int a = (int)axes[i];
      int64_t s = qc_i64(sizes_t)[i];
      if (s < 0)
        return qc_fail(QC_EINVAL, "sizes[%d] = %lld is negative", i, (long long)s);
      if (x->dims[a] == 0)
        return qc_fail(QC_EINVAL, "cannot resize empty axis %d", a);
      out_dims[a] = s;
      scales[a] = (double)s / (double)x->dims[a];
      common = not_larger ? fmin(common, scales[a]) : fmax(common, scales[a]);
    }
    if (not_larger || not_smaller)
      for (int i = 0; i < naxes; i++) {
        int a = (int)axes[i];
        scales[a] = common;
        out_dims[a] = (int64_t)floor(common * (double)x->dims[a] + 0.5); /* round half up */
      }
  }
  return resize_nd(k, &rp, x, out_dims, scales, roi, qc_out(k, 0));
}

int qc_upsample_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input");
  const int r = x->ndim;
  resize_params rp = {MODE_NEAREST, CT_ASYMMETRIC, NM_FLOOR, -0.75f, 0, 0, 0.0f};
  char buf[32];
  QC_TRY(qc_attr_string(&k->attrs, "mode", "nearest", buf, sizeof buf));
  QC_TRY(parse_mode(buf, 0, &rp.mode));
  double scales[QC_MAX_DIMS], roi[2 * QC_MAX_DIMS];
  int64_t out_dims[QC_MAX_DIMS];
  if (k->opset >= 9) {
    const qc_tensor *s = qc_in(k, 1);
    if (!s || s->numel != r)
      return qc_fail(QC_EINVAL, "scales input must hold %d values", r);
    for (int d = 0; d < r; d++)
      scales[d] = qc_tensor_get_f64(s, d);
  } else {
    const float *sv;
    size_t n;
    QC_TRY(qc_attr_floats(&k->attrs, "scales", &sv, &n));
    if (!sv || (int)n != r)
      return qc_fail(QC_EINVAL, "'scales' attribute must hold %d values", r);
    for (int d = 0; d < r; d++)
      scales[d] = sv[d];
  }
  for (int d = 0; d < r; d++) {
    QC_TRY(output_size(x->dims[d], scales[d], &out_dims[d]));
    roi[d] = 0;
    roi[d + r] = 1;
  }
  return resize_nd(k, &rp, x, out_dims, scales, roi, qc_out(k, 0));
}
