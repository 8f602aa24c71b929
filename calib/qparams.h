/* Scale / zero point from a real range, and scalar quantization.
 *
 * Follows onnxruntime quant_utils.compute_scale_zp (see docs/observers.md):
 * the range is widened to include 0, symmetric schemes use max|r| on both
 * sides, scale = (rmax - rmin) / (qmax - qmin) computed in double and stored
 * as float, zp = rne(qmin - rmin / scale). A range narrower than FLT_MIN
 * (e.g. an all-zero tensor) gives scale 1.0, zp 0, as onnxruntime does. */
#ifndef QC_QPARAMS_H
#define QC_QPARAMS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum qc_qscheme {
  QC_QS_UINT8_AFFINE = 0, /* [0,255], zp from the range (ORT activations default) */
  QC_QS_INT8_SYMMETRIC,   /* [-127,127], zp 0 (ORT weights default) */
  QC_QS_INT8_AFFINE,      /* [-128,127], zp from the range */
  QC_QS_COUNT
} qc_qscheme;

typedef struct qc_qparams {
  float scale;
  int32_t zero_point;
  int32_t qmin, qmax;
  bool symmetric;
} qc_qparams;

/* "uint8", "int8sym", "int8" and back; parse fails with QC_EUSAGE. */
const char *qc_qscheme_name(qc_qscheme scheme);
int qc_qscheme_parse(const char *name, qc_qscheme *scheme);
/* Integer range and symmetry of a scheme. */
void qc_qscheme_limits(qc_qscheme scheme, int32_t *qmin, int32_t *qmax, bool *symmetric);

/* General form: any qmin <= 0 <= qmax. NaN/Inf range or bad limits: QC_EINVAL. */
int qc_qparams_from_range(float rmin, float rmax, int32_t qmin, int32_t qmax, bool symmetric,
                          qc_qparams *out);
/* Same for one of the fixed schemes. */
int qc_qparams_compute(qc_qscheme scheme, float rmin, float rmax, qc_qparams *out);

/* clamp(rne(x / scale) + zp, qmin, qmax); x / scale in float as ONNX QuantizeLinear.
 * NaN maps to zp (documented choice; ONNX leaves it unspecified for integers). */
int32_t qc_quantize_value(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax);
/* (q - zp) * scale, as ONNX DequantizeLinear. */
float qc_dequantize_value(int32_t q, float scale, int32_t zp);

#endif
