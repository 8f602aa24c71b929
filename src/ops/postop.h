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

/* QuantizeLinear -> DequantizeLinear (8-bit, per tensor) of a float, the
 * int8/uint8 value never stored: y = (q - zero_point) * dq_scale with
 * q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax). */
typedef struct qc_fake_quant {
  int on;
  float scale, zero_point, qmin, qmax; /* the QuantizeLinear's */
  float dq_scale;                      /* the DequantizeLinear's (a rescale may differ) */
} qc_fake_quant;

typedef struct qc_act {
  qc_act_kind kind;
  float a, b;
  qc_fake_quant fq; /* applied after the activation when fq.on */
} qc_act;

/* QuantizeLinear's 8-bit value of x, as an integral float, in a form the
 * compiler vectorises (the kernel in quantize.c and every fused epilogue
 * use this one function, so they give the same bits): x / s is clamped to
 * one step beyond the representable range (NaN becomes 0, i.e. the zero
 * point), where adding and subtracting 1.5 * 2^23 rounds half to even as
 * nearbyintf does. */
static inline float qc_quantize8f(float x, float s, float z, float lo, float hi) {
  const float vlo = lo - z - 1.0f, vhi = hi - z + 1.0f, magic = 12582912.0f;
  float v = x / s;
  v = v == v ? v : 0.0f;
  v = v < vlo ? vlo : v;
  v = v > vhi ? vhi : v;
  float q = ((v + magic) - magic) + z;
  q = q < lo ? lo : q;
  return q > hi ? hi : q;
}

/* DequantizeLinear of qc_quantize8f's value: q and z are small integers, so
 * q - z is the exact integer difference the standalone kernel converts. */
static inline float qc_fake_quant1(const qc_fake_quant *f, float x) {
  return (qc_quantize8f(x, f->scale, f->zero_point, f->qmin, f->qmax) - f->zero_point) * f->dq_scale;
}

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
