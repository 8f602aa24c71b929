/* Window geometry, im2col and col2im shared by the conv and pool kernels. */
#include "conv_util.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Attribute values are bounded so that (kernel - 1) * dilation + pads
 * cannot overflow int64 arithmetic. */
#define ATTR_MAX ((int64_t)1 << 31)

static int read_list(const qc_kernel *k, const char *name, int64_t lo, int max_n, int64_t *dst, int *n) {
  const int64_t *vals;
  size_t count;
  QC_TRY(qc_attr_ints(&k->attrs, name, &vals, &count));
  if (count > (size_t)max_n)
    return qc_fail(QC_EUNSUPPORTED, "attribute '%s' has %zu values; at most %d spatial dims are supported", name,
                   count, max_n / (strcmp(name, "pads") == 0 ? 2 : 1));
  for (size_t i = 0; i < count; i++) {
    if (vals[i] < lo || vals[i] >= ATTR_MAX)
      return qc_fail(QC_EINVAL, "attribute '%s' value %lld is out of range [%lld, 2^31)", name,
                     (long long)vals[i], (long long)lo);
    dst[i] = vals[i];
  }
  *n = (int)count;
  return QC_OK;
}

int qc_window_attrs_read(const qc_kernel *k, int with_dilations, qc_window_attrs *a) {
  memset(a, 0, sizeof *a);
  char pad[32];
  QC_TRY(qc_attr_string(&k->attrs, "auto_pad", "NOTSET", pad, sizeof pad));
  if (strcmp(pad, "NOTSET") == 0 || pad[0] == 0)
    a->auto_pad = QC_AUTOPAD_NOTSET;
  else if (strcmp(pad, "SAME_UPPER") == 0)
    a->auto_pad = QC_AUTOPAD_SAME_UPPER;
  else if (strcmp(pad, "SAME_LOWER") == 0)
    a->auto_pad = QC_AUTOPAD_SAME_LOWER;
  else if (strcmp(pad, "VALID") == 0)
    a->auto_pad = QC_AUTOPAD_VALID;
  else
    return qc_fail(QC_EINVAL, "unknown auto_pad value '%s'", pad);
  QC_TRY(read_list(k, "kernel_shape", 1, QC_WIN_SP, a->kernel, &a->n_kernel));
  QC_TRY(read_list(k, "strides", 1, QC_WIN_SP, a->strides, &a->n_strides));
  QC_TRY(read_list(k, "pads", 0, 2 * QC_WIN_SP, a->pads, &a->n_pads));
  if (with_dilations)
    QC_TRY(read_list(k, "dilations", 1, QC_WIN_SP, a->dilations, &a->n_dilations));
  return QC_OK;
}

int qc_conv_attrs_read(const qc_kernel *k, qc_window_attrs *a, int64_t *group) {
  QC_TRY(qc_window_attrs_read(k, 1, a));
  QC_TRY(qc_attr_int(&k->attrs, "group", 1, group));
  if (*group < 1)
    return qc_fail(QC_EINVAL, "group must be >= 1, got %lld", (long long)*group);
  return QC_OK;
}

int qc_window_attrs_check(const qc_window_attrs *a, int nsp) {
  if (a->n_kernel && a->n_kernel != nsp)
    return qc_fail(QC_EINVAL, "kernel_shape has %d values but the input has %d spatial dims", a->n_kernel, nsp);
  if (a->n_strides && a->n_strides != nsp)
    return qc_fail(QC_EINVAL, "strides has %d values but the input has %d spatial dims", a->n_strides, nsp);
  if (a->n_dilations && a->n_dilations != nsp)
    return qc_fail(QC_EINVAL, "dilations has %d values but the input has %d spatial dims", a->n_dilations, nsp);
  if (a->n_pads && a->n_pads != 2 * nsp)
    return qc_fail(QC_EINVAL, "pads has %d values but the input needs %d (2 per spatial dim)", a->n_pads, 2 * nsp);
  return QC_OK;
}

int qc_check_spatial_input(const qc_tensor *x, const char *what) {
  if (x->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "%s has type %s; only float is supported", what, qc_dtype_name(x->dtype));
  if (x->ndim < 3)
    return qc_fail(QC_EINVAL, "%s must have rank >= 3 (N, C, spatial...), got rank %d", what, x->ndim);
  if (x->ndim > 2 + QC_WIN_SP)
    return qc_fail(QC_EUNSUPPORTED, "%s has %d spatial dims; at most %d are supported", what, x->ndim - 2,
                   QC_WIN_SP);
  return QC_OK;
}

int qc_conv_check_xw(const qc_kernel *k, const char *op_type) {
  const qc_tensor *x = qc_in(k, 0), *w = qc_in(k, 1);
  if (!x || !w || !qc_out(k, 0))
    return qc_fail(QC_EINVAL, "%s needs inputs X, W and output Y", op_type);
  QC_TRY(qc_check_spatial_input(x, "input X"));
  if (w->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "weight W has type %s; only float is supported", qc_dtype_name(w->dtype));
  if (w->ndim != x->ndim)
    return qc_fail(QC_EINVAL, "weight W has rank %d but X has rank %d", w->ndim, x->ndim);
  return QC_OK;
}

int qc_conv_check_kernel(const qc_window_attrs *a, int nsp, const qc_tensor *w) {
  for (int j = 0; j < a->n_kernel && j < nsp; j++)
    if (a->kernel[j] != w->dims[2 + j])
      return qc_fail(QC_EINVAL, "kernel_shape[%d] = %lld does not match W dim %lld", j, (long long)a->kernel[j],
                     (long long)w->dims[2 + j]);
  return QC_OK;
}

int qc_conv_check_bias(const qc_tensor *b, int64_t M) {
  if (b && (b->dtype != QC_DT_FLOAT || b->ndim != 1 || b->dims[0] != M))
    return qc_fail(QC_EINVAL, "bias B must be a float vector of %lld elements", (long long)M);
  return QC_OK;
}

int qc_window_resolve(const qc_window_attrs *a, int nsp, const int64_t *in_sp, const int64_t *kernel_sp,
                      int ceil_mode, qc_window_geom *g) {
  QC_TRY(qc_window_attrs_check(a, nsp));
  g->nsp = nsp;
  for (int p = 0; p < QC_WIN_SP; p++) {
    g->in[p] = g->out[p] = g->kernel[p] = g->stride[p] = g->dil[p] = 1;
    g->pad_begin[p] = g->pad_end[p] = 0;
  }
  for (int j = 0; j < nsp; j++) {
    int p = QC_WIN_SP - nsp + j;
    int64_t in = in_sp[j], kern = kernel_sp[j];
    int64_t s = a->n_strides ? a->strides[j] : 1, d = a->n_dilations ? a->dilations[j] : 1;
    if (kern < 1 || kern >= ATTR_MAX)
      return qc_fail(QC_EINVAL, "kernel size %lld along spatial dim %d is out of range", (long long)kern, j);
    int64_t ek = (kern - 1) * d + 1, pb = 0, pe = 0, out;
    if (a->auto_pad == QC_AUTOPAD_SAME_UPPER || a->auto_pad == QC_AUTOPAD_SAME_LOWER) {
      out = (in + s - 1) / s;
      int64_t total = (out - 1) * s + ek - in;
      if (total < 0)
        total = 0;
      pb = a->auto_pad == QC_AUTOPAD_SAME_UPPER ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      if (a->auto_pad == QC_AUTOPAD_NOTSET && a->n_pads) {
        pb = a->pads[j];
        pe = a->pads[j + nsp];
      }
      int64_t span = in + pb + pe - ek;
      if (span < 0)
        return qc_fail(QC_EINVAL,
                       "window of extent %lld does not fit spatial dim %d of size %lld with pads %lld+%lld",
                       (long long)ek, j, (long long)in, (long long)pb, (long long)pe);
      if (ceil_mode && a->auto_pad == QC_AUTOPAD_NOTSET) {
        out = (span + s - 1) / s + 1;
        /* A last window starting inside the end padding is dropped. */
        if ((out - 1) * s >= in + pb)
          out--;
      } else {
        out = span / s + 1;
      }
    }
    g->in[p] = in;
    g->out[p] = out;
    g->kernel[p] = kern;
    g->stride[p] = s;
    g->dil[p] = d;
    g->pad_begin[p] = pb;
    g->pad_end[p] = pe;
  }
  return QC_OK;
}

/* qc_im2col_row for a 1-D or 2-D window (one output plane): per output row
 * segment, zeros, the source run and zeros with inline loops. The generic
 * walk below calls memset/memcpy per segment; on the demo nets' 7-28 wide
 * rows those calls and the 3-D bookkeeping were most of im2col's time. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) QC_MULTIVERSION static void
im2col_row_plane(const float *restrict src, float *restrict dst, const qc_window_geom *g, int64_t kh, int64_t kw,
                 int64_t p0, int64_t np) {
  const int64_t IW = g->in[2], OW = g->out[2], sh = g->stride[1], sw = g->stride[2];
  const int64_t offh = kh * g->dil[1] - g->pad_begin[1];
  const int64_t offw = kw * g->dil[2] - g->pad_begin[2];
  int64_t h_lo, h_hi, w_lo, w_hi;
  qc_valid_range(offh, sh, g->in[1], g->out[1], &h_lo, &h_hi);
  qc_valid_range(offw, sw, IW, OW, &w_lo, &w_hi);
  if (sh == 1 && sw == 1 && OW == IW) {
    /* Stride 1 with output rows as wide as input rows ("same" padding): the
     * row is the plane shifted by offh * IW + offw. One copy of the span from
     * the first to the last valid position, zeros around it, then the
     * invalid columns inside it (1-2 per row for 3x3) zeroed. */
    const int64_t pend = p0 + np;
    int64_t cs = pend, ce = pend; /* the copied positions, within [p0, pend) */
    if (h_lo < h_hi && w_lo < w_hi) {
      const int64_t ps = h_lo * OW + w_lo, pe = (h_hi - 1) * OW + w_hi;
      cs = ps < p0 ? p0 : (ps > pend ? pend : ps);
      ce = pe < cs ? cs : (pe > pend ? pend : pe);
    }
    for (int64_t i = p0; i < cs; i++)
      dst[i - p0] = 0.0f;
    if (ce > cs)
      memcpy(dst + (cs - p0), src + cs + offh * IW + offw, sizeof(float) * (size_t)(ce - cs));
    for (int64_t i = ce; i < pend; i++)
      dst[i - p0] = 0.0f;
    if (ce > cs && (w_lo > 0 || w_hi < OW))
      for (int64_t oh = cs / OW; oh * OW < ce; oh++) {
        const int64_t rs = oh * OW;
        for (int64_t ow = 0; ow < w_lo; ow++)
          if (rs + ow >= cs && rs + ow < ce)
            dst[rs + ow - p0] = 0.0f;
        for (int64_t ow = w_hi; ow < OW; ow++)
          if (rs + ow >= cs && rs + ow < ce)
            dst[rs + ow - p0] = 0.0f;
      }
    return;
  }
  int64_t oh = p0 / OW, ow = p0 % OW;
  float *restrict d = dst;
  for (const float *dend = dst + np; d < dend; oh++, ow = 0) {
    const int64_t end = OW - ow < dend - d ? OW : ow + (dend - d);
    if (oh < h_lo || oh >= h_hi) {
      for (int64_t i = ow; i < end; i++)
        *d++ = 0.0f;
      continue;
    }
    const float *restrict s = src + (oh * sh + offh) * IW + offw;
    const int64_t a = w_lo < ow ? ow : (w_lo > end ? end : w_lo);
    const int64_t b = w_hi < a ? a : (w_hi > end ? end : w_hi);
    int64_t i = ow;
    for (; i < a; i++)
      *d++ = 0.0f;
    if (sw == 1)
      for (; i < b; i++)
        *d++ = s[i];
    else
      for (; i < b; i++)
        *d++ = s[i * sw];
    for (; i < end; i++)
      *d++ = 0.0f;
  }
}

/* One im2col row (one channel and kernel tap) for output positions
 * [p0, p0 + np): walks the output row segments, zeroing padding. */
QC_MULTIVERSION void qc_im2col_row(const float *restrict src, float *restrict dst, const qc_window_geom *g, int64_t kd,
                                   int64_t kh, int64_t kw, int64_t p0, int64_t np) {
  if (g->nsp <= 2) {
    im2col_row_plane(src, dst, g, kh, kw, p0, np);
    return;
  }
  const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
  const int64_t sd = g->stride[0], sh = g->stride[1], sw = g->stride[2];
  const int64_t offd = kd * g->dil[0] - g->pad_begin[0];
  const int64_t offh = kh * g->dil[1] - g->pad_begin[1];
  const int64_t offw = kw * g->dil[2] - g->pad_begin[2];
  int64_t d_lo, d_hi, h_lo, h_hi, w_lo, w_hi;
  qc_valid_range(offd, sd, g->in[0], g->out[0], &d_lo, &d_hi);
  qc_valid_range(offh, sh, IH, OH, &h_lo, &h_hi);
  qc_valid_range(offw, sw, IW, OW, &w_lo, &w_hi);
  int64_t od = p0 / (OH * OW), oh = (p0 / OW) % OH, ow = p0 % OW;
  for (int64_t done = 0; done < np;) {
    const int64_t len = OW - ow < np - done ? OW - ow : np - done, end = ow + len;
    float *drow = dst + done - ow; /* drow[ow] is this segment's first element */
    if (od < d_lo || od >= d_hi || oh < h_lo || oh >= h_hi) {
      memset(drow + ow, 0, sizeof(float) * (size_t)len);
    } else {
      const float *srow = src + ((od * sd + offd) * IH + oh * sh + offh) * IW + offw;
      const int64_t a = w_lo < ow ? ow : (w_lo > end ? end : w_lo);
      const int64_t b = w_hi < a ? a : (w_hi > end ? end : w_hi);
      for (int64_t i = ow; i < a; i++)
        drow[i] = 0.0f;
      if (sw == 1)
        memcpy(drow + a, srow + a, sizeof(float) * (size_t)(b - a));
      else
        for (int64_t i = a; i < b; i++)
          drow[i] = srow[i * sw];
      for (int64_t i = b; i < end; i++)
        drow[i] = 0.0f;
    }
    done += len;
    ow = 0;
    if (++oh == OH) {
      oh = 0;
      od++;
    }
  }
}

void qc_col2im_add(const float *col, int64_t channels, const qc_window_geom *g, float *img) {
  const int64_t KD = g->kernel[0], KH = g->kernel[1], KW = g->kernel[2];
  const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2];
  const int64_t OD = g->out[0], OH = g->out[1], OW = g->out[2];
  const int64_t ksize = KD * KH * KW, osize = OD * OH * OW, isize = ID * IH * IW;
  const int64_t sd = g->stride[0], sh = g->stride[1], sw = g->stride[2];
  /* Channels are independent; within one, taps add in a fixed order. */
#pragma omp parallel for schedule(static) if (channels * ksize * osize > 65536)
  for (int64_t c = 0; c < channels; c++) {
    float *dst = img + c * isize;
    for (int64_t kk = 0; kk < ksize; kk++) {
      const int64_t kd = kk / (KH * KW), kh = (kk / KW) % KH, kw = kk % KW;
      const int64_t offd = kd * g->dil[0] - g->pad_begin[0];
      const int64_t offh = kh * g->dil[1] - g->pad_begin[1];
      const int64_t offw = kw * g->dil[2] - g->pad_begin[2];
      int64_t d_lo, d_hi, h_lo, h_hi, w_lo, w_hi;
      qc_valid_range(offd, sd, ID, OD, &d_lo, &d_hi);
      qc_valid_range(offh, sh, IH, OH, &h_lo, &h_hi);
      qc_valid_range(offw, sw, IW, OW, &w_lo, &w_hi);
      const float *src = col + (c * ksize + kk) * osize;
      for (int64_t od = d_lo; od < d_hi; od++) {
        for (int64_t oh = h_lo; oh < h_hi; oh++) {
          float *drow = dst + ((od * sd + offd) * IH + oh * sh + offh) * IW;
          const float *srow = src + (od * OH + oh) * OW;
          if (sw == 1) {
            for (int64_t ow = w_lo; ow < w_hi; ow++)
              drow[ow + offw] += srow[ow];
          } else {
            for (int64_t ow = w_lo; ow < w_hi; ow++)
              drow[ow * sw + offw] += srow[ow];
          }
        }
      }
    }
  }
}

int qc_conv_family_geometry(const char *op_type, int (*init)(qc_kernel *),
                            int (*resolve)(const qc_kernel *, qc_window_geom *), const qc_attrs *attrs,
                            const qc_tensor *x, const qc_tensor *w, qc_window_geom *g) {
  qc_tensor *ins[2] = {(qc_tensor *)x, (qc_tensor *)w};
  qc_tensor y = {0}, *outs[1] = {&y};
  qc_kernel k = {.op_type = op_type, .node_name = "", .attrs = *attrs, .ninputs = 2, .inputs = ins, .noutputs = 1,
                 .outputs = outs};
  int rc = init(&k);
  if (rc == QC_OK)
    rc = resolve(&k, g);
  free(k.priv);
  return rc;
}
