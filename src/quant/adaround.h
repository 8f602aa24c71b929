/* AdaRound (--rounding adaround): learned up/down rounding of the int8
 * weights of Conv, Gemm and MatMul, layer by layer, minimising the layer's
 * output error || W x - W~ x ||^2 over its FP32 calibration inputs x instead
 * of each weight's own rounding error (Nagel et al. 2020, "Up or Down?
 * Adaptive Rounding for Post-Training Quantization"). The objective, the
 * schedule and the defaults: docs/quantization.md. */
#ifndef QC_ADAROUND_H
#define QC_ADAROUND_H

#include <stdint.h>

#include "../../calib/source.h"

struct qc_model;

/* The learned int8 values of one weight initializer, for the scales the QDQ
 * pass computes (qdq_weight_scales); a channel whose scale the pass changes
 * afterwards (int32 bias overflow) rounds to nearest. */
typedef struct qc_rounded_weight {
  char *name;   /* the weight initializer */
  int axis;     /* channel axis of the scales; -1 per tensor */
  int n_scales;
  float *scale;
  int64_t numel;
  uint64_t fingerprint; /* of the float weight learned from (qc_weight_fingerprint) */
  int8_t *q; /* in the weight's own layout */
} qc_rounded_weight;

typedef struct qc_weight_rounding {
  qc_rounded_weight *weights;
  int n;
} qc_weight_rounding;
void qc_weight_rounding_free(qc_weight_rounding *r);
/* FNV-1a of a tensor's bytes: the QDQ pass uses a learned rounding only for
 * the very weight values it was learned from. */
uint64_t qc_weight_fingerprint(const qc_tensor *w);

typedef struct qc_adaround_opts {
  int per_tensor;              /* as the QDQ pass's option */
  const char *const *exclude;  /* nodes kept FP32: not learned */
  int n_exclude;
  const char *const *op_types; /* NULL: every op type */
  int n_op_types;
  int max_samples;  /* calibration samples run through the model (16) */
  int patches;      /* input rows (im2col rows for Conv) sampled per layer (2048) */
  int iterations;   /* Adam steps per layer (1000) */
  float lr;         /* Adam step size (0.01) */
  float reg;        /* lambda, weight of the rounding regulariser (0.01) */
  float beta_start, beta_end; /* annealing of the regulariser's exponent (20 -> 2) */
  float warm_start; /* share of the iterations without the regulariser (0.2) */
  int nthreads;     /* layers learned in parallel */
} qc_adaround_opts;
void qc_adaround_opts_default(qc_adaround_opts *o);

typedef struct qc_adaround_stats {
  int layers;       /* weights learned */
  int skipped;      /* weighted nodes that round to nearest (ConvTranspose, shared or batched weights,
                       inputs that do not fit the weight, a Gram matrix over 512 MB) */
  int samples;      /* calibration samples run */
  double err_ratio; /* mean over layers of reconstruction error learned / nearest, on the learning rows */
} qc_adaround_stats;

/* Runs the FP32 model m over up to o->max_samples samples of src (evenly
 * spaced), samples each weighted node's input rows with a fixed-seed
 * generator, and learns the rounding of every Conv, Gemm and MatMul weight
 * that the QDQ pass would quantize. Deterministic at any thread count. */
int qc_adaround(struct qc_model *m, qc_calib_source *src, const qc_adaround_opts *o, qc_weight_rounding *out,
                qc_adaround_stats *st);

/* One layer: w [rows, k] row-major (a row per output channel), scale[r] the
 * row's int8 scale, gram [k, k] = X^T X / n over n input rows X. Writes the
 * learned int8 values to q (rows * k); err_nearest and err_learned (either
 * may be NULL) get tr(D G D^T), D = s q - w, for round-to-nearest and for q. */
int qc_adaround_layer(const float *w, int rows, int k, const float *scale, const float *gram,
                      const qc_adaround_opts *o, int8_t *q, double *err_nearest, double *err_learned);

#endif
