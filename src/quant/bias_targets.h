/* Where a bias correction goes, and writing it there (bias_targets.c); used
 * by bias_correction.c only. Node and value ids are those of the quantized graph. */
#ifndef QC_BIAS_TARGETS_H
#define QC_BIAS_TARGETS_H

#include "../ir/graph.h"

/* Where a layer's correction goes. */
typedef enum {
  T_NONE,
  T_INT32,     /* int32 bias behind DequantizeLinear: requantized */
  T_FLOAT,     /* float bias initializer */
  T_NEW_INT32, /* no bias, int8 activation input: a new int32 bias + DequantizeLinear */
  T_NEW_FLOAT, /* no bias, float activation input (weight-only): a new float bias */
  T_ADD_FLOAT, /* MatMul: the float constant of the Add that alone reads its output */
  T_ADD_QUANT, /* MatMul: that constant, quantized per tensor behind DequantizeLinear */
} target_kind;

typedef struct target {
  target_kind kind;
  int value;       /* T_INT32, T_ADD_QUANT: the quantized initializer; T_FLOAT, T_ADD_FLOAT: the float one */
  int scale, zp;   /* its DequantizeLinear's scale and zero-point initializers (zp -1: none) */
  float beta;      /* Gemm: the bias is added times beta */
  float x_scale;   /* T_NEW_INT32: the activation input's scale */
  int w_scale;     /* T_NEW_INT32: the weight's scale initializer */
} target;

int bc_is_op(const qc_graph *g, int node, const char *op);
/* v's producer node, or -1 (also for v < 0). */
int bc_producer(const qc_graph *g, int v);
/* Input `slot` of node, or -1. */
int bc_input(const qc_graph *g, int node, int slot);
/* v is an initializer of this dtype. */
int bc_is_init(const qc_graph *g, int v, qc_dtype dtype);
/* node is a Conv, ConvTranspose, Gemm or MatMul with an int8 weight behind DequantizeLinear. */
int bc_weight_quantized(const qc_graph *g, int node);
/* Where the correction of node (channels outputs) goes; 0 when nowhere. */
int bc_find_target(const qc_graph *g, int node, int channels, target *t);
/* Writes b - delta into target t of node (a new bias input for T_NEW_*). */
int bc_apply(qc_graph *g, int node, const target *t, const double *delta, int channels);

#endif
