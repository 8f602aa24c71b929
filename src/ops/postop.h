/* Element-wise activations that a Conv/Gemm epilogue can apply, written once
 * so the fused epilogue and the standalone Relu/Clip/... kernels give the
 * same bits (plain IEEE operations, no contraction, no libm). */
#ifndef QC_POSTOP_H
#define QC_POSTOP_H

#include "vmath.h"

typedef enum qc_act_kind {
  QC_ACT_NONE,
  QC_ACT_RELU,
  QC_ACT_CLIP,         /* a = min, b = max */
  QC_ACT_LEAKY_RELU,   /* a = alpha */
  QC_ACT_HARD_SIGMOID, /* a = alpha, b = beta */
  QC_ACT_HARD_SWISH,
  QC_ACT_SIGMOID,
} qc_act_kind;

typedef struct qc_act {
  qc_act_kind kind;
  float a, b;
} qc_act;

/* Clamp to [0, 1] with compares (fminf/fmaxf are library calls that block
 * vectorisation); NaN propagates as in numpy's clip. */
static inline float qc_clamp01f(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

static inline float qc_relu1(float x) { return x > 0 ? x : 0.0f; }
/* min(max(x, lo), hi): when lo > hi every value becomes hi, per spec. */
static inline float qc_clip1(float x, float lo, float hi) {
  const float v = x < lo ? lo : x;
  return v > hi ? hi : v;
}
static inline float qc_leaky_relu1(float x, float a) { return x >= 0 ? x : a * x; }
static inline float qc_hard_sigmoid1(float x, float a, float b) { return qc_clamp01f(a * x + b); }
static inline float qc_hard_swish1(float x) { return x * qc_clamp01f(x * (1.0f / 6.0f) + 0.5f); }

static inline float qc_act1(const qc_act *act, float x) {
  switch (act->kind) {
  case QC_ACT_RELU: return qc_relu1(x);
  case QC_ACT_CLIP: return qc_clip1(x, act->a, act->b);
  case QC_ACT_LEAKY_RELU: return qc_leaky_relu1(x, act->a);
  case QC_ACT_HARD_SIGMOID: return qc_hard_sigmoid1(x, act->a, act->b);
  case QC_ACT_HARD_SWISH: return qc_hard_swish1(x);
  case QC_ACT_SIGMOID: return qc_vsigmoidf(x);
  default: return x;
  }
}

#endif
