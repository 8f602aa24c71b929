/* Empirical bias correction (docs/quantization.md, "Bias correction").
 *
 * Rounding the weights and the activations shifts the mean of each weighted
 * layer's output. For every Conv, ConvTranspose, Gemm and MatMul whose weight
 * the QDQ pass quantized (an int8 initializer behind DequantizeLinear), the
 * FP32 model runs on calibration samples and, at each such layer, the tap
 * sums of its FP32 input x are added up (tap_sums.h), as is and through the
 * layer's input Q -> DQ. The layers are linear in x, so per output channel c
 * of the layer's own output (before any QuantizeLinear) the sums give, without
 * evaluating the layer:
 *     delta[c] = mean(y_q)[c] - mean(y_fp)[c],   b[c] <- b[c] - delta[c],
 * y_q with the int8 weight and the bias dequantized, y_fp the FP32 layer's.
 * Each layer corrects its own shift, so corrections do not add up along the
 * graph (NNCF's FastBiasCorrection; measuring in the quantized model instead,
 * every layer also corrects what its upstream layers already correct).
 * The corrected bias is written back in the form it has: an int32 bias
 * behind DequantizeLinear (scale s_x * s_w[c]) is requantized, a float bias
 * is changed, and a quantized Conv/ConvTranspose/Gemm without a bias gets
 * one. A MatMul is corrected through the constant of the Add that follows it
 * alone.
 *
 * The layers are matched by node id: the quantized model must be the QDQ
 * pass's rewrite of the FP32 model in memory (node ids are stable through
 * rewrites). Sums are in double in a fixed order per input channel, so the
 * result does not depend on the thread count. */
#ifndef QC_BIAS_CORRECTION_H
#define QC_BIAS_CORRECTION_H

#include <stdint.h>

#include "../../calib/source.h"

struct qc_model;

#define QC_BIAS_CORRECTION_SAMPLES 32

typedef struct qc_bias_correction_opts {
  int max_samples; /* calibration samples used, evenly spaced (<= 0: QC_BIAS_CORRECTION_SAMPLES) */
  int nthreads;    /* engine threads (0: all cores) */
} qc_bias_correction_opts;

typedef struct qc_bias_correction_result {
  int corrected;   /* layers whose bias was changed */
  int skipped;     /* quantized weighted layers left alone (no place for a bias: MatMul without a constant Add, ...) */
  int added;       /* of corrected: biases that did not exist before */
  int samples;     /* samples measured */
  double max_delta;     /* largest |delta[c]| */
  char max_node[256];   /* its layer's label */
  char first_skipped[256]; /* a skipped layer's label, for the note */
} qc_bias_correction_result;

/* Corrects the biases of `quant` (the QDQ rewrite of `fp32`) from the samples
 * of src; both models run in qconvert's engine. No quantized weighted layer:
 * nothing is run and result->corrected is 0. */
int qc_bias_correct(struct qc_model *fp32, struct qc_model *quant, qc_calib_source *src,
                    const qc_bias_correction_opts *opts, qc_bias_correction_result *result);

#endif
