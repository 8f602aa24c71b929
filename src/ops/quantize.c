/* QuantizeLinear, DequantizeLinear (opsets 10-21, per-tensor and per-axis) and
 * DynamicQuantizeLinear.
 *
 * Quantize: y = saturate(round_half_even(x / scale) + zero_point)
 * Dequantize: y = (x - zero_point) * scale
 * Arithmetic is in float, matching onnxruntime, so the quantizer's evaluation
 * of its own QDQ graphs agrees bit-for-bit with the usual runtime. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h" /* QC_MULTIVERSION */
#include "kernels.h"

/* dims argument for rank-0 allocations (memcpy must not get NULL, even for 0 bytes) */
static const int64_t no_dims[1] = {0};

/* The tensor viewed as [outer, axis_len, inner]; axis_len == 1 for per-tensor. */
typedef struct {
  int64_t outer, axis_len, inner;
} qparams_layout;

static int is_float_type(qc_dtype dt) {
  return dt == QC_DT_FLOAT || dt == QC_DT_FLOAT16 || dt == QC_DT_BFLOAT16 || dt == QC_DT_DOUBLE;
}

static int quant_range(qc_dtype dt, float *lo, float *hi) {
  switch (dt) {
  case QC_DT_UINT8: *lo = 0; *hi = 255; return QC_OK;
  case QC_DT_INT8: *lo = -128; *hi = 127; return QC_OK;
  case QC_DT_UINT16: *lo = 0; *hi = 65535; return QC_OK;
  case QC_DT_INT16: *lo = -32768; *hi = 32767; return QC_OK;
  default:
    return qc_fail(QC_EUNSUPPORTED, "quantized type %s is not supported (uint8, int8, uint16, int16)",
                   qc_dtype_name(dt));
  }
}

static int check_no_blocks(const qc_kernel *k) {
  int64_t block_size;
  QC_TRY(qc_attr_int(&k->attrs, "block_size", 0, &block_size));
  if (block_size != 0)
    return qc_fail(QC_EUNSUPPORTED, "blocked quantization (block_size=%lld) is not supported", (long long)block_size);
  return QC_OK;
}

/* Validates scale/zero-point shapes against x and the axis attribute. */
static int resolve_layout(const qc_kernel *k, const qc_tensor *x, const qc_tensor *scale, const qc_tensor *zp,
                          qparams_layout *lay) {
  if (!is_float_type(scale->dtype))
    return qc_fail(QC_EINVAL, "scale must be a floating-point tensor, got %s", qc_dtype_name(scale->dtype));
  if (zp && zp->numel != scale->numel)
    return qc_fail(QC_EINVAL, "zero point has %lld elements but scale has %lld", (long long)zp->numel,
                   (long long)scale->numel);
  lay->outer = 1;
  lay->axis_len = 1;
  lay->inner = x->numel;
  if (scale->numel == 1 && scale->ndim <= 1)
    return QC_OK;
  if (k->opset < 13)
    return qc_fail(QC_EINVAL, "scale must be a scalar before opset 13, got %lld elements", (long long)scale->numel);
  if (scale->ndim != 1)
    return qc_fail(QC_EINVAL, "per-axis scale must be 1-D, got rank %d", scale->ndim);
  int64_t axis_attr;
  int axis;
  QC_TRY(qc_attr_int(&k->attrs, "axis", 1, &axis_attr));
  QC_TRY(qc_sl_axis(axis_attr, x->ndim, 0, &axis));
  if (x->dims[axis] != scale->numel)
    return qc_fail(QC_EINVAL, "per-axis scale has %lld elements but input dimension %d is %lld",
                   (long long)scale->numel, axis, (long long)x->dims[axis]);
  lay->axis_len = x->dims[axis];
  lay->outer = 1;
  for (int d = 0; d < axis; d++)
    lay->outer *= x->dims[d];
  lay->inner = 1;
  for (int d = axis + 1; d < x->ndim; d++)
    lay->inner *= x->dims[d];
  return QC_OK;
}

/* Scale and zero point as float arrays (small: one per channel). */
static int load_params(const qc_tensor *scale, const qc_tensor *zp, float **s_out, float **z_out) {
  int64_t n = scale->numel;
  float *s = malloc(sizeof(float) * (size_t)n * 2);
  if (!s)
    return qc_fail(QC_ENOMEM, "out of memory");
  float *z = s + n;
  for (int64_t i = 0; i < n; i++) {
    s[i] = (float)qc_tensor_get_f64(scale, i);
    z[i] = zp ? (float)qc_tensor_get_i64(zp, i) : 0.0f;
  }
  *s_out = s;
  *z_out = z;
  return QC_OK;
}

static inline void store_q(qc_dtype dt, void *y, int64_t i, float v) {
  switch (dt) {
  case QC_DT_UINT8: ((uint8_t *)y)[i] = (uint8_t)v; break;
  case QC_DT_INT8: ((int8_t *)y)[i] = (int8_t)v; break;
  case QC_DT_UINT16: ((uint16_t *)y)[i] = (uint16_t)v; break;
  case QC_DT_INT16: ((int16_t *)y)[i] = (int16_t)v; break;
  default: break;
  }
}

static inline float quantize_one(float x, float s, float z, float lo, float hi) {
  float v = nearbyintf(x / s) + z;
  /* NaN compares false both ways; it maps to the zero point. */
  if (!(v >= lo))
    v = isnan(v) ? z : lo;
  if (v > hi)
    v = hi;
  return v;
}

/* One row of float QuantizeLinear to 8 bits (qc_quantize8f, vectorised). */
#define QUANTIZE_ROW_8BIT(NAME, T)                                                                     \
  QC_MULTIVERSION static void NAME(const float *restrict x, T *restrict y, int64_t n, float s, float z, \
                                   float lo, float hi) {                                              \
    for (int64_t j = 0; j < n; j++)                                                                   \
      y[j] = (T)(int32_t)qc_quantize8f(x[j], s, z, lo, hi);                                           \
  }
/* Elements per work item of QuantizeLinear. */
#define Q_PIECE 16384

QUANTIZE_ROW_8BIT(quantize_row_u8, uint8_t)
QUANTIZE_ROW_8BIT(quantize_row_s8, int8_t)

int qc_quantize_linear_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0), *scale = qc_in(k, 1), *zp = qc_in(k, 2);
  if (!x || !scale)
    return qc_fail(QC_EINVAL, "QuantizeLinear needs x and y_scale");
  QC_TRY(check_no_blocks(k));
  if (!is_float_type(x->dtype) && x->dtype != QC_DT_INT32)
    return qc_fail(QC_EUNSUPPORTED, "QuantizeLinear input of type %s is not supported", qc_dtype_name(x->dtype));
  qc_dtype out_dt = QC_DT_UINT8;
  if (zp) {
    out_dt = zp->dtype;
  } else if (k->opset >= 21) {
    int64_t odt;
    QC_TRY(qc_attr_int(&k->attrs, "output_dtype", 0, &odt));
    if (odt != 0)
      out_dt = (qc_dtype)odt;
  }
  float lo, hi;
  QC_TRY(quant_range(out_dt, &lo, &hi));
  qparams_layout lay;
  QC_TRY(resolve_layout(k, x, scale, zp, &lay));
  float *s, *z;
  QC_TRY(load_params(scale, zp, &s, &z));
  for (int64_t c = 0; c < scale->numel; c++)
    if (!(s[c] != 0) || !isfinite(s[c])) {
      const double bad = s[c];
      free(s);
      return qc_fail(QC_EINVAL, "scale[%lld] = %g is not a nonzero finite value", (long long)c, bad);
    }
  qc_tensor *y = qc_out(k, 0);
  int rc = qc_out_alloc(k, y, out_dt, x->ndim, x->dims);
  if (rc < 0) {
    free(s);
    return rc;
  }
  /* Work items are pieces of rows, so a per-tensor (one-row) input splits too. */
  const int64_t rows = lay.outer * lay.axis_len, inner = lay.inner;
  const int64_t pieces = inner > Q_PIECE ? (inner + Q_PIECE - 1) / Q_PIECE : 1;
  const int fast = x->dtype == QC_DT_FLOAT;
#pragma omp parallel for schedule(static) if (x->numel > 65536)
  for (int64_t item = 0; item < rows * pieces; item++) {
    const int64_t r = item / pieces, c = r % lay.axis_len;
    const float sc = s[c], zc = z[c];
    const int64_t base = r * inner + (item % pieces) * Q_PIECE;
    const int64_t len = pieces == 1 ? inner : (r + 1) * inner - base < Q_PIECE ? (r + 1) * inner - base : Q_PIECE;
    if (fast && out_dt == QC_DT_UINT8) {
      quantize_row_u8(qc_f32(x) + base, qc_u8(y) + base, len, sc, zc, lo, hi);
    } else if (fast && out_dt == QC_DT_INT8) {
      quantize_row_s8(qc_f32(x) + base, qc_s8(y) + base, len, sc, zc, lo, hi);
    } else if (fast) {
      const float *xp = qc_f32(x) + base;
      for (int64_t j = 0; j < len; j++)
        store_q(out_dt, y->data, base + j, quantize_one(xp[j], sc, zc, lo, hi));
    } else {
      for (int64_t j = 0; j < len; j++)
        store_q(out_dt, y->data, base + j, quantize_one((float)qc_tensor_get_f64(x, base + j), sc, zc, lo, hi));
    }
  }
  free(s);
  return QC_OK;
}

int qc_dequantize_linear_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0), *scale = qc_in(k, 1), *zp = qc_in(k, 2);
  if (!x || !scale)
    return qc_fail(QC_EINVAL, "DequantizeLinear needs x and x_scale");
  QC_TRY(check_no_blocks(k));
  switch (x->dtype) {
  case QC_DT_UINT8: case QC_DT_INT8: case QC_DT_UINT16: case QC_DT_INT16: case QC_DT_INT32: break;
  default:
    return qc_fail(QC_EUNSUPPORTED, "DequantizeLinear input of type %s is not supported", qc_dtype_name(x->dtype));
  }
  if (zp && zp->dtype != x->dtype)
    return qc_fail(QC_EINVAL, "zero point type %s differs from input type %s", qc_dtype_name(zp->dtype),
                   qc_dtype_name(x->dtype));
  qparams_layout lay;
  QC_TRY(resolve_layout(k, x, scale, zp, &lay));
  float *s, *z;
  QC_TRY(load_params(scale, zp, &s, &z));
  qc_tensor *y = qc_out(k, 0);
  /* The output takes the scale's type (float16/bfloat16 allowed from opset 19). */
  qc_dtype out_dt = scale->dtype == QC_DT_DOUBLE ? QC_DT_FLOAT : scale->dtype;
  int rc = qc_out_alloc(k, y, out_dt, x->ndim, x->dims);
  if (rc < 0) {
    free(s);
    return rc;
  }
  const int64_t rows = lay.outer * lay.axis_len, inner = lay.inner;
#pragma omp parallel for schedule(static) if (x->numel > 65536)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t c = r % lay.axis_len;
    const float sc = s[c];
    const int64_t zc = (int64_t)z[c], base = r * inner;
    if (out_dt == QC_DT_FLOAT && x->dtype == QC_DT_UINT8) {
      const uint8_t *xp = qc_u8(x) + base;
      for (int64_t j = 0; j < inner; j++)
        qc_f32(y)[base + j] = (float)((int32_t)xp[j] - (int32_t)zc) * sc;
    } else if (out_dt == QC_DT_FLOAT && x->dtype == QC_DT_INT8) {
      const int8_t *xp = qc_s8(x) + base;
      for (int64_t j = 0; j < inner; j++)
        qc_f32(y)[base + j] = (float)((int32_t)xp[j] - (int32_t)zc) * sc;
    } else {
      for (int64_t j = 0; j < inner; j++) {
        float v = (float)(qc_tensor_get_i64(x, base + j) - zc) * sc;
        if (out_dt == QC_DT_FLOAT)
          qc_f32(y)[base + j] = v;
        else if (out_dt == QC_DT_FLOAT16)
          ((uint16_t *)y->data)[base + j] = qc_float_to_half(v);
        else
          ((uint16_t *)y->data)[base + j] = qc_float_to_bfloat16(v);
      }
    }
  }
  free(s);
  return QC_OK;
}

int qc_dynamic_quantize_linear_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input");
  if (x->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "DynamicQuantizeLinear input must be float, got %s", qc_dtype_name(x->dtype));
  const float *xp = qc_f32(x);
  /* The range always includes 0 so that 0 is exactly representable. */
  float mn = 0, mx = 0;
  for (int64_t i = 0; i < x->numel; i++) {
    if (isnan(xp[i]))
      return qc_fail(QC_EINVAL, "DynamicQuantizeLinear input contains NaN");
    mn = xp[i] < mn ? xp[i] : mn;
    mx = xp[i] > mx ? xp[i] : mx;
  }
  float scale = mx == mn ? 1.0f : (mx - mn) / 255.0f;
  float zp = nearbyintf(0.0f - mn / scale);
  zp = zp < 0 ? 0 : zp > 255 ? 255 : zp;
  qc_tensor *y = qc_out(k, 0), *ys = qc_out(k, 1), *yz = qc_out(k, 2);
  QC_TRY(qc_out_alloc(k, y, QC_DT_UINT8, x->ndim, x->dims));
  for (int64_t i = 0; i < x->numel; i++)
    qc_u8(y)[i] = (uint8_t)quantize_one(xp[i], scale, zp, 0, 255);
  if (ys) {
    QC_TRY(qc_out_alloc(k, ys, QC_DT_FLOAT, 0, no_dims));
    qc_f32(ys)[0] = scale;
  }
  if (yz) {
    QC_TRY(qc_out_alloc(k, yz, QC_DT_UINT8, 0, no_dims));
    qc_u8(yz)[0] = (uint8_t)zp;
  }
  return QC_OK;
}
