#include "qparams.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/status.h"

static const char *const scheme_names[QC_QS_COUNT] = {"uint8", "int8sym", "int8"};

const char *qc_qscheme_name(qc_qscheme scheme) {
  return (unsigned)scheme < QC_QS_COUNT ? scheme_names[scheme] : "?";
}

int qc_qscheme_parse(const char *name, qc_qscheme *scheme) {
  for (int i = 0; i < QC_QS_COUNT; i++)
    if (strcmp(name, scheme_names[i]) == 0) {
      *scheme = (qc_qscheme)i;
      return QC_OK;
    }
  return qc_fail(QC_EUSAGE, "unknown quantization scheme '%s' (uint8, int8sym, int8)", name);
}

void qc_qscheme_limits(qc_qscheme scheme, int32_t *qmin, int32_t *qmax, bool *symmetric) {
  switch (scheme) {
  case QC_QS_INT8_SYMMETRIC:
    *qmin = -127, *qmax = 127, *symmetric = true;
    break;
  case QC_QS_INT8_AFFINE:
    *qmin = -128, *qmax = 127, *symmetric = false;
    break;
  case QC_QS_UINT8_AFFINE:
  default:
    *qmin = 0, *qmax = 255, *symmetric = false;
    break;
  }
}

int qc_qparams_from_range(float rmin, float rmax, int32_t qmin, int32_t qmax, bool symmetric,
                          qc_qparams *out) {
  if (!isfinite(rmin) || !isfinite(rmax))
    return qc_fail(QC_EINVAL, "quantization range (%g, %g) is not finite", rmin, rmax);
  if (rmin > rmax)
    return qc_fail(QC_EINVAL, "quantization range (%g, %g) has min > max", rmin, rmax);
  if (qmin > 0 || qmax < 0 || qmin >= qmax)
    return qc_fail(QC_EINVAL, "integer range [%d, %d] must satisfy qmin <= 0 <= qmax, qmin < qmax",
                   (int)qmin, (int)qmax);
  /* The range must contain 0 so that zero (padding, ReLU) is exact. */
  rmin = fminf(rmin, 0.0f);
  rmax = fmaxf(rmax, 0.0f);
  if (symmetric) {
    float a = fmaxf(fabsf(rmin), fabsf(rmax));
    rmin = -a;
    rmax = a;
  }
  /* As onnxruntime: the width is a float32 difference, the division is double. */
  float width = rmax - rmin;
  double scale = (double)width / ((double)qmax - (double)qmin);
  out->qmin = qmin;
  out->qmax = qmax;
  out->symmetric = symmetric;
  if (scale < FLT_MIN) {
    out->scale = 1.0f;
    out->zero_point = 0;
    return QC_OK;
  }
  double zp = symmetric ? nearbyint(((double)qmin + (double)qmax) / 2.0)
                        : nearbyint((double)qmin - (double)rmin / scale);
  if (zp < qmin)
    zp = qmin;
  if (zp > qmax)
    zp = qmax;
  out->scale = (float)scale;
  out->zero_point = (int32_t)zp;
  if (!isfinite(out->scale))
    return qc_fail(QC_EINVAL, "quantization range (%g, %g) overflows the float scale", rmin, rmax);
  return QC_OK;
}

int qc_qparams_compute(qc_qscheme scheme, float rmin, float rmax, qc_qparams *out) {
  int32_t qmin, qmax;
  bool symmetric;
  if ((unsigned)scheme >= QC_QS_COUNT)
    return qc_fail(QC_EINVAL, "invalid quantization scheme %d", (int)scheme);
  qc_qscheme_limits(scheme, &qmin, &qmax, &symmetric);
  return qc_qparams_from_range(rmin, rmax, qmin, qmax, symmetric, out);
}

int32_t qc_quantize_value(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  float r = x / scale;
  if (isnan(r))
    return zp < qmin ? qmin : zp > qmax ? qmax : zp;
  /* rintf uses the default round-to-nearest-even mode. Clamp in double so
   * huge values and infinities saturate without integer overflow. */
  double q = (double)rintf(r) + (double)zp;
  if (q < qmin)
    return qmin;
  if (q > qmax)
    return qmax;
  return (int32_t)q;
}

float qc_dequantize_value(int32_t q, float scale, int32_t zp) {
  return (float)(q - zp) * scale;
}
