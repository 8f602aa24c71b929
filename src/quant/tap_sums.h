/* A weighted layer's output mean from sums of its input (bias correction).
 *
 * Conv, ConvTranspose, Gemm and MatMul are linear in their input x, so the
 * mean of output channel m over a batch and all output positions is
 *     mean_y[m] = sum_{c,k} W[m, c, k] * T[c, k] / P  +  mean of the bias,
 * where T[c, k] is the sum of the input values that weight tap k of input
 * channel c multiplies into an in-range output (zero padding adds nothing)
 * and P the number of output positions per channel. For a Conv, T sums
 * x[c] over the strided window each tap reads; for a ConvTranspose, the
 * x[c] positions whose tap-k target lands inside the output; for Gemm and
 * MatMul (one tap), column c of x over all rows. Accumulating T and P over
 * samples gives the mean over all of them in one dot product per channel,
 * instead of evaluating the layer (docs/quantization.md, "Bias correction").
 * Each row of a plane is summed in float with four partial sums, rows,
 * samples and taps are added up in double, per channel in a fixed order:
 * the result does not depend on the thread count. */
#ifndef QC_TAP_SUMS_H
#define QC_TAP_SUMS_H

#include <stdint.h>

#include "../../calib/qparams.h"
#include "../ir/attr.h"
#include "../core/tensor.h"

typedef enum { TAP_CONV, TAP_CONV_TRANSPOSE, TAP_GEMM, TAP_MATMUL } tap_layer_kind;

typedef struct qc_tap_sums {
  tap_layer_kind kind;
  qc_attrs attrs;       /* the node's (borrowed from the graph) */
  int64_t channels;     /* input channels (Conv, ConvTranspose) or K (Gemm, MatMul) */
  int64_t taps;         /* weight taps per input channel (1 for Gemm, MatMul) */
  int64_t group;        /* Conv, ConvTranspose */
  int64_t w_dims[8];    /* the weight's shape, fixed by the first sample */
  int w_ndim;
  double *sum_fp, *sum_q; /* channels * taps: T of x, and of x through Q -> DQ */
  double positions;       /* P summed over the samples */
  int trans_a;            /* Gemm */
} qc_tap_sums;

/* Prepares sums for node op `op` ("Conv", "ConvTranspose", "Gemm", "MatMul")
 * with attributes attrs and FP32 weight w. QC_EUNSUPPORTED (no message) for
 * a layer this form does not cover (a MatMul weight of rank != 2, ...). */
int qc_tap_sums_init(qc_tap_sums *t, const char *op, const qc_attrs *attrs, const qc_tensor *w);
void qc_tap_sums_free(qc_tap_sums *t);

/* Adds one batch of the layer's input x: into sum_fp as is, and into sum_q
 * through Q -> DQ with qp (qp NULL: the layer reads x unquantized). */
int qc_tap_sums_add(qc_tap_sums *t, const qc_tensor *x, const qc_qparams *qp);

/* The layer's output mean per channel, mean[m] for m < channels_out, from
 * weight w and optional bias b (float), on the FP32 (quantized = 0) or the
 * quantized input sums. */
int qc_tap_sums_mean(const qc_tap_sums *t, int quantized, const qc_tensor *w, const qc_tensor *b, double *mean,
                     int64_t *channels_out);

#endif
