/* Shared by qdq.c (placement, activations) and qdq_weights.c (weights, bias). */
#ifndef QC_QDQ_INTERNAL_H
#define QC_QDQ_INTERNAL_H

#include "../ir/graph.h"
#include "qdq.h"

/* Op kinds of the QDQ pass (placement rules: qdq.c). */
enum { K_NONE, K_WEIGHTED, K_FUSED, K_SHARED, K_REMOVABLE, K_RESCALE };
/* The kind of an op type from the table; K_NONE if it is never quantized. */
int qdq_op_kind(const char *op);
/* The kind of a node: the table's, or K_RESCALE for Mul(x, c) with c a
 * positive scalar float initializer in [2^-20, 2^20] that does not raise x's
 * rank (y is x's int8 tensor read with scale c * s_x). act_slot and factor
 * (either may be NULL) get a rescale's x slot and c, else 0 and 1. */
int qdq_node_kind(const qc_graph *g, int node, int *act_slot, float *factor);
/* A non-initializer value that is float or of unknown type (the dtype of an
 * undeclared value is followed through Shape, Cast and data movement). */
int qdq_is_float_activation(const qc_graph *g, int v);
int qdq_is_float_initializer(const qc_graph *g, int v);
/* Weighted nodes need a constant float weight and a float activation. */
int qdq_weighted_ok(const qc_graph *g, int node);
/* The constant bounds of a Relu ([0, inf)) or Clip (min/max attributes or
 * scalar initializer inputs; an absent bound is -inf / inf). 0 when a bound
 * is known only at run time. */
int qdq_clip_bounds(const qc_graph *g, int node, float *lo, float *hi);
/* All zeros: a float initializer, or a tensor calibration saw only as exact
 * zeros (a generated channel padding). */
int qdq_all_zero(const qc_graph *g, const qc_stats_set *stats, int v);

/* Discrete post-processing kept float (qdq_regions.c): value_region[v] and
 * node_region[node] (zeroed, sized for every value / node) get the number of
 * the region, from 1; node_region also marks the weighted, fused and rescale
 * ops that read a region tensor. Each region is appended to out->regions. */
int qdq_float_regions(const qc_graph *g, const qc_stats_set *stats, const int *order, int n, int *value_region,
                      int *node_region, qc_quant_summary *out);
void qdq_float_region_free(qc_float_region *r);

/* Saturating consumers (docs/quantization.md): for `node` reading x at input
 * 0, the range of x beyond which its output moves by at most half of the
 * output quantum q, on an output grid [ylo, yhi] (+-inf: the function's own
 * limits). Sigmoid and Tanh invert at ylo + q/2 and yhi - q/2; HardSigmoid
 * gives where alpha * x + beta reaches 0 and 1. 0 when
 * node is no saturating op or the bounds are degenerate. */
int qdq_saturation_range(const qc_graph *g, int node, double ylo, double yhi, double q, double *lo, double *hi);

/* The base of the names generated for the next quantized tensor: "qc<N>", N
 * counting up in rewrite order. Short on purpose: exporters' tensor names run
 * to 70+ bytes and each generated name is stored 2-3 times, which cost
 * BlazeFace a third of its quantized file. The report maps tensors to qparams. */
void qdq_base_name(qc_graph *g, char *buf, size_t n);

/* Adds initializers "<base>_scale" / "<base>_zp" (unique names) and a
 * DequantizeLinear(q_name, scale, zp) -> out_name placed before node `before`.
 * scale/zp have n entries (n == 1: scalars); axis applies when n > 1.
 * zp_type is QC_DT_UINT8, QC_DT_INT8 or QC_DT_INT32 (int32: no zp input). */
int qdq_add_dequantize(qc_graph *g, const char *base, const char *q_name, const float *scale, const int32_t *zp,
                       int n, int axis, qc_dtype zp_type, const char *out_name, int before);
/* Writes float scale(s)/zero point(s) initializers; names returned in bufs. */
int qdq_add_qparams(qc_graph *g, const char *base, const float *scale, const int32_t *zp, int n, qc_dtype zp_type,
                    char *scale_name, char *zp_name, size_t name_len);

/* How the QDQ pass quantizes the weight w (input 1) of a weighted node: the
 * channel axis of its scales (-1: per tensor), and Gemm's alpha (folded into
 * the weight before its scales are computed) and beta (1 elsewhere). */
int qdq_weight_form(const qc_graph *g, int node, const qc_tensor *w, int per_tensor, int *axis, float *alpha,
                    float *beta);
/* Symmetric int8 weight scales: max|w| / 127 per channel along axis (n
 * entries), or per tensor (axis -1, n 1). */
int qdq_weight_scales(const qc_tensor *w, int axis, float *scale, int n);
/* Quantizes the weight (and bias) inputs of a Conv/ConvTranspose/Gemm/MatMul
 * node in place: int8 initializer + DequantizeLinear. x_scale > 0 enables the
 * int32 bias (scale x_scale * w_scale); otherwise the bias stays float. */
int qdq_quantize_weights(qc_graph *g, int node, const qc_quant_opts *opts, float x_scale);
/* Quantizes a float initializer input of a fused op (e.g. Add's constant)
 * per tensor with the activation scheme. */
int qdq_quantize_constant_input(qc_graph *g, int node, int slot, qc_qscheme scheme);

#endif
