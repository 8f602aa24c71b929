/* Elementwise unary math and activations, Clip and PRelu.
 *
 * One table-driven kernel (qc_unary_*) serves every single-input op: the
 * table row for k->op_type gives a float row function, optionally an integer
 * one, and the attribute defaults it reads (alpha/beta/gamma...). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "kernels.h"

/* Without FP-exception semantics gcc can if-convert the selects in the row
 * loops and vmath.h, so they vectorise. Nothing here reads FP flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "pmath.h"
#include "postop.h"
#include "simd.h"

#define PARALLEL_MIN 65536
#define CHUNK 16384

typedef struct unary_params {
  float alpha, beta, gamma;
} unary_params;

typedef void (*f32_row_fn)(const float *in, float *out, int64_t n, const unary_params *p);
typedef void (*f64_row_fn)(const double *in, double *out, int64_t n, const unary_params *p);
/* Integer rows work on int64 values of any signed/unsigned width via a switch. */
typedef int64_t (*int_elem_fn)(int64_t x);

/* The expression sees x (of the row type T) and p (params); a, b, g are shorthands.
 * Transcendental functions come from vmath.h/pmath.h, never libm (whose
 * results depend on the CPU, see pmath.h). */

#define TYPED_ROW(NAME, SUFFIX, T, ...)                                                \
  static void NAME##_##SUFFIX(const T *in, T *out, int64_t n, const unary_params *p) { \
    const T a = p->alpha, b = p->beta, g = p->gamma;                                   \
    (void)a, (void)b, (void)g;                                                         \
    for (int64_t j = 0; j < n; j++) {                                                  \
      const T x = in[j];                                                               \
      out[j] = (__VA_ARGS__);                                                          \
    }                                                                                  \
  }
#define F32_ROW(NAME, ...) TYPED_ROW(NAME, f32, float, __VA_ARGS__)
#define F64_ROW(NAME, ...) TYPED_ROW(NAME, f64, double, __VA_ARGS__)

static inline float softplusf(float x) {
  const double d = x;
  return (float)((d > 0 ? d : 0.0) + qc_log1p_d(qc_exp_d(-fabs(d))));
}
static inline float signf(float x) { return (float)((x > 0) - (x < 0)); }

F32_ROW(sqrt, sqrtf(x))
F32_ROW(exp, (float)qc_exp_d(x))
F32_ROW(log, (float)qc_log_d(x))
F32_ROW(neg, -x)
F32_ROW(abs, fabsf(x))
F32_ROW(reciprocal, 1.0f / x)
F32_ROW(erf, qc_verff(x))
F32_ROW(floor, floorf(x))
F32_ROW(ceil, ceilf(x))
F32_ROW(round, nearbyintf(x)) /* default rounding mode: half to even, as ONNX wants */
F32_ROW(relu, qc_relu1(x))
F32_ROW(leaky_relu, qc_leaky_relu1(x, a))
F32_ROW(thresholded_relu, x > a ? x : 0.0f)
F32_ROW(sigmoid, qc_vsigmoidf(x))
F32_ROW(hard_sigmoid, qc_hard_sigmoid1(x, a, b))
F32_ROW(hard_swish, qc_hard_swish1(x))
F32_ROW(tanh, qc_vtanhf(x))
F32_ROW(elu, x >= 0 ? x : a * (qc_vexpf(x) - 1.0f))
F32_ROW(celu, (x > 0.0f ? x : 0.0f) + (x < 0.0f ? a * (qc_vexpf(x / a) - 1.0f) : 0.0f))
F32_ROW(selu, x > 0 ? g * x : g * (a * (qc_vexpf(x) - 1.0f)))
F32_ROW(softplus, softplusf(x))
F32_ROW(softsign, x / (1.0f + fabsf(x)))
F32_ROW(mish, x * qc_vtanhf(softplusf(x)))
F32_ROW(gelu, 0.5f * x * (1.0f + qc_verff(x * 0.70710678118654752f)))
F32_ROW(gelu_tanh, 0.5f * x * (1.0f + qc_vtanhf(0.79788456080286536f * (x + 0.044715f * x * x * x))))
F32_ROW(shrink, x < -a ? x + b : x > a ? x - b : 0.0f)
F32_ROW(sign, signf(x))
F32_ROW(sin, qc_sin_f(x))
F32_ROW(cos, qc_cos_f(x))
F32_ROW(tan, qc_tan_f(x))
F32_ROW(asin, qc_asin_f(x))
F32_ROW(acos, qc_acos_f(x))
F32_ROW(atan, (float)qc_atan_d(x))
F32_ROW(sinh, qc_sinh_f(x))
F32_ROW(cosh, qc_cosh_f(x))
F32_ROW(asinh, qc_asinh_f(x))
F32_ROW(acosh, qc_acosh_f(x))
F32_ROW(atanh, qc_atanh_f(x))

/* Double versions for the ops that shape/post-processing graphs use on double. */
F64_ROW(sqrt, sqrt(x))
F64_ROW(exp, qc_exp_d(x))
F64_ROW(log, qc_log_d(x))
F64_ROW(neg, -x)
F64_ROW(abs, fabs(x))
F64_ROW(reciprocal, 1.0 / x)
F64_ROW(floor, floor(x))
F64_ROW(ceil, ceil(x))
F64_ROW(round, nearbyint(x))
F64_ROW(relu, x > 0 ? x : 0.0)
F64_ROW(sign, (double)((x > 0) - (x < 0)))
F64_ROW(tanh, qc_tanh_d(x))
F64_ROW(sigmoid, 1.0 / (1.0 + qc_exp_d(-x)))

static int64_t neg_int(int64_t x) { return (int64_t)(0u - (uint64_t)x); }
static int64_t abs_int(int64_t x) { return x < 0 ? neg_int(x) : x; }
static int64_t relu_int(int64_t x) { return x > 0 ? x : 0; }
static int64_t sign_int(int64_t x) { return (x > 0) - (x < 0); }
static int64_t identity_int(int64_t x) { return x; }
static int64_t nonzero_int(int64_t x) { return x != 0; }

enum { P_NONE, P_ALPHA, P_ALPHA_BETA, P_SELU, P_SHRINK, P_GELU };

typedef struct unary_kind {
  const char *op_type;
  f32_row_fn f32;
  f64_row_fn f64;   /* may be NULL */
  int_elem_fn ints; /* may be NULL: integer inputs unsupported */
  int params;       /* which attributes to read */
  float alpha, beta; /* attribute defaults */
} unary_kind;

static const unary_kind unary_kinds[] = {
    {"Abs", abs_f32, abs_f64, abs_int, P_NONE, 0, 0},
    {"Acos", acos_f32, NULL, NULL, P_NONE, 0, 0},
    {"Acosh", acosh_f32, NULL, NULL, P_NONE, 0, 0},
    {"Asin", asin_f32, NULL, NULL, P_NONE, 0, 0},
    {"Asinh", asinh_f32, NULL, NULL, P_NONE, 0, 0},
    {"Atan", atan_f32, NULL, NULL, P_NONE, 0, 0},
    {"Atanh", atanh_f32, NULL, NULL, P_NONE, 0, 0},
    {"Ceil", ceil_f32, ceil_f64, identity_int, P_NONE, 0, 0},
    {"Celu", celu_f32, NULL, NULL, P_ALPHA, 1.0f, 0},
    {"Cos", cos_f32, NULL, NULL, P_NONE, 0, 0},
    {"Cosh", cosh_f32, NULL, NULL, P_NONE, 0, 0},
    {"Elu", elu_f32, NULL, NULL, P_ALPHA, 1.0f, 0},
    {"Erf", erf_f32, NULL, NULL, P_NONE, 0, 0},
    {"Exp", exp_f32, exp_f64, NULL, P_NONE, 0, 0},
    {"Floor", floor_f32, floor_f64, identity_int, P_NONE, 0, 0},
    {"Gelu", gelu_f32, NULL, NULL, P_GELU, 0, 0},
    {"HardSigmoid", hard_sigmoid_f32, NULL, NULL, P_ALPHA_BETA, 0.2f, 0.5f},
    {"HardSwish", hard_swish_f32, NULL, NULL, P_NONE, 0, 0},
    {"LeakyRelu", leaky_relu_f32, NULL, NULL, P_ALPHA, 0.01f, 0},
    {"Log", log_f32, log_f64, NULL, P_NONE, 0, 0},
    {"Mish", mish_f32, NULL, NULL, P_NONE, 0, 0},
    {"Neg", neg_f32, neg_f64, neg_int, P_NONE, 0, 0},
    {"Reciprocal", reciprocal_f32, reciprocal_f64, NULL, P_NONE, 0, 0},
    {"Relu", relu_f32, relu_f64, relu_int, P_NONE, 0, 0},
    {"Round", round_f32, round_f64, identity_int, P_NONE, 0, 0},
    {"Selu", selu_f32, NULL, NULL, P_SELU, 1.67326319217681884765625f, 0},
    {"Shrink", shrink_f32, NULL, NULL, P_SHRINK, 0.5f, 0.0f},
    {"Sigmoid", sigmoid_f32, sigmoid_f64, NULL, P_NONE, 0, 0},
    {"Sign", sign_f32, sign_f64, sign_int, P_NONE, 0, 0},
    {"Sin", sin_f32, NULL, NULL, P_NONE, 0, 0},
    {"Sinh", sinh_f32, NULL, NULL, P_NONE, 0, 0},
    {"Softplus", softplus_f32, NULL, NULL, P_NONE, 0, 0},
    {"Softsign", softsign_f32, NULL, NULL, P_NONE, 0, 0},
    {"Sqrt", sqrt_f32, sqrt_f64, NULL, P_NONE, 0, 0},
    {"Tan", tan_f32, NULL, NULL, P_NONE, 0, 0},
    {"Tanh", tanh_f32, tanh_f64, NULL, P_NONE, 0, 0},
    {"ThresholdedRelu", thresholded_relu_f32, NULL, NULL, P_ALPHA, 1.0f, 0},
};

typedef struct unary_priv {
  const unary_kind *kind;
  f32_row_fn f32; /* kind->f32 unless an attribute picks a variant */
  unary_params params;
  /* The activations a Conv epilogue can apply run on float rows through the
   * active SIMD path's post_row: the same qc_*1 functions (same bits),
   * vectorised for the CPU (this file is built for the x86-64 baseline). */
  qc_act act;
} unary_priv;

int qc_unary_init(qc_kernel *k) {
  const unary_kind *kind = NULL;
  for (size_t i = 0; i < sizeof unary_kinds / sizeof unary_kinds[0]; i++)
    if (strcmp(unary_kinds[i].op_type, k->op_type) == 0)
      kind = &unary_kinds[i];
  if (!kind)
    return qc_fail(QC_EINTERNAL, "unary kernel registered for unknown op %s", k->op_type);
  if (k->ninputs != 1)
    return qc_fail(QC_EINVAL, "needs exactly one input, got %d", k->ninputs);
  unary_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  p->kind = kind;
  p->f32 = kind->f32;
  switch (kind->params) {
  case P_ALPHA:
    QC_TRY(qc_attr_float(&k->attrs, "alpha", kind->alpha, &p->params.alpha));
    break;
  case P_ALPHA_BETA:
    QC_TRY(qc_attr_float(&k->attrs, "alpha", kind->alpha, &p->params.alpha));
    QC_TRY(qc_attr_float(&k->attrs, "beta", kind->beta, &p->params.beta));
    break;
  case P_SELU:
    QC_TRY(qc_attr_float(&k->attrs, "alpha", kind->alpha, &p->params.alpha));
    QC_TRY(qc_attr_float(&k->attrs, "gamma", 1.05070102214813232421875f, &p->params.gamma));
    break;
  case P_SHRINK:
    QC_TRY(qc_attr_float(&k->attrs, "lambd", kind->alpha, &p->params.alpha));
    QC_TRY(qc_attr_float(&k->attrs, "bias", kind->beta, &p->params.beta));
    break;
  case P_GELU: {
    char approx[16];
    QC_TRY(qc_attr_string(&k->attrs, "approximate", "none", approx, sizeof approx));
    if (strcmp(approx, "tanh") == 0)
      p->f32 = gelu_tanh_f32;
    else if (strcmp(approx, "none") != 0)
      return qc_fail(QC_EINVAL, "approximate must be 'none' or 'tanh', got '%s'", approx);
    break;
  }
  }
  static const struct {
    const char *op_type;
    qc_act_kind act;
  } simd_acts[] = {{"Relu", QC_ACT_RELU},
                   {"LeakyRelu", QC_ACT_LEAKY_RELU},
                   {"HardSigmoid", QC_ACT_HARD_SIGMOID},
                   {"HardSwish", QC_ACT_HARD_SWISH},
                   {"Sigmoid", QC_ACT_SIGMOID}};
  for (size_t i = 0; i < sizeof simd_acts / sizeof simd_acts[0]; i++)
    if (strcmp(simd_acts[i].op_type, kind->op_type) == 0)
      p->act = (qc_act){.kind = simd_acts[i].act, .a = p->params.alpha, .b = p->params.beta};
  if (kind->params == P_ALPHA && strcmp(kind->op_type, "Celu") == 0 && p->params.alpha == 0)
    return qc_fail(QC_EINVAL, "alpha must be nonzero");
  return QC_OK;
}

static int is_int_type(qc_dtype dt) {
  switch (dt) {
  case QC_DT_INT8: case QC_DT_INT16: case QC_DT_INT32: case QC_DT_INT64:
  case QC_DT_UINT8: case QC_DT_UINT16: case QC_DT_UINT32: case QC_DT_UINT64:
    return 1;
  default:
    return 0;
  }
}

int qc_unary_shape(qc_kernel *k) {
  const unary_priv *p = k->priv;
  QC_TRY(qc_require_io(k, 1));
  const qc_tensor *x = qc_in(k, 0);
  int ok = x->dtype == QC_DT_FLOAT || (x->dtype == QC_DT_DOUBLE && p->kind->f64) ||
           (is_int_type(x->dtype) && p->kind->ints);
  if (!ok)
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(x->dtype));
  return qc_out_alloc(k, qc_out(k, 0), x->dtype, x->ndim, x->dims);
}

/* Writes an int64 value back into an integer tensor of any width (wrapping). */
static void store_int(qc_tensor *t, int64_t i, int64_t v) {
  switch (t->dtype) {
  case QC_DT_INT8: case QC_DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
  case QC_DT_INT16: case QC_DT_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)v; break;
  case QC_DT_INT32: case QC_DT_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
  default: ((uint64_t *)t->data)[i] = (uint64_t)v; break;
  }
}

int qc_postop_run(qc_kernel *k, const qc_act *post) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x || x->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EINTERNAL, "a fused element-wise epilogue needs a float input");
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, QC_DT_FLOAT, x->ndim, x->dims));
  const float *in = qc_f32(x);
  float *out = qc_f32(y);
  const int64_t n = x->numel, nchunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
  for (int64_t c = 0; c < nchunks; c++) {
    const int64_t s = c * CHUNK, len = n - s < CHUNK ? n - s : CHUNK;
    qc_simd()->post_row(in + s, NULL, out + s, len, post);
  }
  return QC_OK;
}

int qc_unary_run(qc_kernel *k) {
  const unary_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  qc_tensor *y = qc_out(k, 0);
  int64_t n = x->numel, nchunks = (n + CHUNK - 1) / CHUNK;
  if (x->dtype == QC_DT_FLOAT) {
    const float *in = qc_f32(x);
    float *out = qc_f32(y);
#pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
    for (int64_t c = 0; c < nchunks; c++) {
      int64_t s = c * CHUNK, len = n - s < CHUNK ? n - s : CHUNK;
      if (p->act.kind != QC_ACT_NONE)
        qc_simd()->post_row(in + s, NULL, out + s, len, &p->act);
      else
        p->f32(in + s, out + s, len, &p->params);
    }
  } else if (x->dtype == QC_DT_DOUBLE) {
    p->kind->f64(x->data, y->data, n, &p->params);
  } else {
    int is_unsigned = x->dtype == QC_DT_UINT8 || x->dtype == QC_DT_UINT16 || x->dtype == QC_DT_UINT32 ||
                      x->dtype == QC_DT_UINT64;
    int_elem_fn fn = p->kind->ints;
    /* Unsigned values read back as int64 may look negative (uint64 above
     * INT64_MAX), so only wrapping Neg applies as is; the others are
     * identity, or 0/1 for Sign. */
    if (is_unsigned && fn != neg_int)
      fn = fn == sign_int ? nonzero_int : identity_int;
    for (int64_t i = 0; i < n; i++)
      store_int(y, i, fn(qc_tensor_get_i64(x, i)));
  }
  return QC_OK;
}

/* ---- Clip: attributes min/max before opset 11, optional inputs after ---- */

typedef struct clip_priv {
  float attr_min, attr_max;
} clip_priv;

int qc_clip_init(qc_kernel *k) {
  if (k->ninputs < 1 || k->ninputs > 3)
    return qc_fail(QC_EINVAL, "needs 1 to 3 inputs, got %d", k->ninputs);
  clip_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  if (k->opset < 11) {
    QC_TRY(qc_attr_float(&k->attrs, "min", -FLT_MAX, &p->attr_min));
    QC_TRY(qc_attr_float(&k->attrs, "max", FLT_MAX, &p->attr_max));
  }
  return QC_OK;
}

int qc_clip_shape(qc_kernel *k) {
  QC_TRY(qc_require_io(k, 1));
  const qc_tensor *x = qc_in(k, 0);
  if (x->dtype != QC_DT_FLOAT && x->dtype != QC_DT_DOUBLE && !is_int_type(x->dtype))
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(x->dtype));
  for (int i = 1; i <= 2 && k->opset >= 11; i++) {
    const qc_tensor *b = qc_in(k, i);
    if (b && b->numel != 1)
      return qc_fail(QC_EINVAL, "%s must be a scalar, got %lld elements", i == 1 ? "min" : "max",
                     (long long)b->numel);
    if (b && b->dtype != x->dtype)
      return qc_fail(QC_EINVAL, "%s is %s but the input is %s", i == 1 ? "min" : "max",
                     qc_dtype_name(b->dtype), qc_dtype_name(x->dtype));
  }
  return qc_out_alloc(k, qc_out(k, 0), x->dtype, x->ndim, x->dims);
}

int qc_clip_run(qc_kernel *k) {
  const clip_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0), *tmin = qc_in(k, 1), *tmax = qc_in(k, 2);
  qc_tensor *y = qc_out(k, 0);
  int64_t n = x->numel;
  if (k->opset < 11) {
    tmin = tmax = NULL;
  }
  if (x->dtype == QC_DT_FLOAT) {
    float lo = k->opset < 11 ? p->attr_min : tmin ? qc_f32(tmin)[0] : -INFINITY;
    float hi = k->opset < 11 ? p->attr_max : tmax ? qc_f32(tmax)[0] : INFINITY;
    const float *in = qc_f32(x);
    float *out = qc_f32(y);
    /* min(max(x, lo), hi) (qc_clip1; lo > hi gives hi everywhere, per spec)
     * on the SIMD path's post_row, as for the activations above. */
    const qc_act act = {.kind = QC_ACT_CLIP, .a = lo, .b = hi};
    const int64_t nchunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (n > PARALLEL_MIN)
    for (int64_t c = 0; c < nchunks; c++) {
      const int64_t s = c * CHUNK, len = n - s < CHUNK ? n - s : CHUNK;
      qc_simd()->post_row(in + s, NULL, out + s, len, &act);
    }
  } else if (x->dtype == QC_DT_DOUBLE) {
    double lo = tmin ? qc_tensor_get_f64(tmin, 0) : k->opset < 11 ? p->attr_min : -INFINITY;
    double hi = tmax ? qc_tensor_get_f64(tmax, 0) : k->opset < 11 ? p->attr_max : INFINITY;
    const double *in = x->data;
    double *out = y->data;
    for (int64_t i = 0; i < n; i++) {
      double v = in[i] < lo ? lo : in[i];
      out[i] = v > hi ? hi : v;
    }
  } else {
    int is_u64 = x->dtype == QC_DT_UINT64;
    if (is_u64) { /* compare as unsigned so values above INT64_MAX order correctly */
      const uint64_t *in = x->data;
      uint64_t *out = y->data;
      uint64_t lo = tmin ? ((const uint64_t *)tmin->data)[0] : 0;
      uint64_t hi = tmax ? ((const uint64_t *)tmax->data)[0] : UINT64_MAX;
      for (int64_t i = 0; i < n; i++) {
        uint64_t v = in[i] < lo ? lo : in[i];
        out[i] = v > hi ? hi : v;
      }
      return QC_OK;
    }
    int64_t lo = tmin ? qc_tensor_get_i64(tmin, 0) : INT64_MIN;
    int64_t hi = tmax ? qc_tensor_get_i64(tmax, 0) : INT64_MAX;
    for (int64_t i = 0; i < n; i++) {
      int64_t v = qc_tensor_get_i64(x, i);
      v = v < lo ? lo : v;
      store_int(y, i, v > hi ? hi : v);
    }
  }
  return QC_OK;
}

/* ---- PRelu: slope broadcasts unidirectionally to X ---- */

static void prelu_f32(const void *a_, const void *b_, void *o_, int64_t n, int as, int bs) {
  const float *x = a_, *s = b_;
  float *o = o_;
  (void)as; /* X always has the full shape */
  if (bs) {
    for (int64_t j = 0; j < n; j++)
      o[j] = x[j] < 0 ? x[j] * s[j] : x[j];
  } else {
    const float slope = s[0];
    for (int64_t j = 0; j < n; j++)
      o[j] = x[j] < 0 ? x[j] * slope : x[j];
  }
}

#define PRELU_INT(T, SUF)                                                                     \
  static void prelu_##SUF(const void *a_, const void *b_, void *o_, int64_t n, int as, int bs) { \
    const T *x = a_, *s = b_;                                                                 \
    T *o = o_;                                                                                \
    (void)as;                                                                                 \
    for (int64_t j = 0; j < n; j++)                                                           \
      o[j] = x[j] < 0 ? (T)(x[j] * s[j * bs]) : x[j];                                         \
  }
PRELU_INT(int32_t, i32)
PRELU_INT(int64_t, i64)
PRELU_INT(double, f64)

int qc_prelu_init(qc_kernel *k) {
  if (k->ninputs != 2)
    return qc_fail(QC_EINVAL, "needs 2 inputs (X, slope), got %d", k->ninputs);
  return QC_OK;
}

/* The slope as the kernel sees it. Before opset 7 a 1-D slope of length C
 * is per channel (axis 1), so it is viewed as [C, 1, ..., 1]. */
static const qc_tensor *prelu_slope(const qc_kernel *k, qc_tensor *view) {
  const qc_tensor *x = qc_in(k, 0), *s = qc_in(k, 1);
  if (k->opset >= 7 || s->ndim != 1 || s->numel == 1 || x->ndim < 2 || s->dims[0] != x->dims[1])
    return s;
  int64_t dims[QC_MAX_DIMS];
  dims[0] = s->dims[0];
  for (int d = 1; d < x->ndim - 1; d++)
    dims[d] = 1;
  qc_tensor_wrap(view, s->dtype, x->ndim - 1, dims, s->data);
  return view;
}

int qc_prelu_shape(qc_kernel *k) {
  QC_TRY(qc_require_io(k, 2));
  qc_tensor view = {0};
  const qc_tensor *x = qc_in(k, 0), *s = prelu_slope(k, &view);
  if (x->dtype != s->dtype)
    return qc_fail(QC_EINVAL, "slope is %s but X is %s", qc_dtype_name(s->dtype), qc_dtype_name(x->dtype));
  if (x->dtype != QC_DT_FLOAT && x->dtype != QC_DT_DOUBLE && x->dtype != QC_DT_INT32 && x->dtype != QC_DT_INT64)
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(x->dtype));
  if (!qc_bcast_is_unidirectional(s, x->ndim, x->dims)) {
    char s1[128], s2[128];
    return qc_fail(QC_EINVAL, "slope of shape %s does not broadcast to X of shape %s",
                   qc_shape_str(s->ndim, s->dims, s1, sizeof s1), qc_shape_str(x->ndim, x->dims, s2, sizeof s2));
  }
  return qc_out_alloc(k, qc_out(k, 0), x->dtype, x->ndim, x->dims);
}

int qc_prelu_run(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  qc_binary_row_fn fn = x->dtype == QC_DT_FLOAT    ? prelu_f32
                        : x->dtype == QC_DT_DOUBLE ? prelu_f64
                        : x->dtype == QC_DT_INT32  ? prelu_i32
                                                   : prelu_i64;
  qc_tensor view = {0};
  return qc_bcast_binary(x, prelu_slope(k, &view), qc_out(k, 0), fn);
}

/* ---- IsNaN / IsInf: float classification to bool ---- */

typedef struct classify_priv {
  int is_inf;
  int detect_negative, detect_positive;
} classify_priv;

int qc_classify_init(qc_kernel *k) {
  if (k->ninputs != 1)
    return qc_fail(QC_EINVAL, "needs exactly one input, got %d", k->ninputs);
  classify_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  p->is_inf = strcmp(k->op_type, "IsInf") == 0;
  int64_t v;
  QC_TRY(qc_attr_int(&k->attrs, "detect_negative", 1, &v));
  p->detect_negative = v != 0;
  QC_TRY(qc_attr_int(&k->attrs, "detect_positive", 1, &v));
  p->detect_positive = v != 0;
  return QC_OK;
}

int qc_classify_shape(qc_kernel *k) {
  QC_TRY(qc_require_io(k, 1));
  const qc_tensor *x = qc_in(k, 0);
  if (x->dtype != QC_DT_FLOAT && x->dtype != QC_DT_DOUBLE)
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(x->dtype));
  return qc_out_alloc(k, qc_out(k, 0), QC_DT_BOOL, x->ndim, x->dims);
}

int qc_classify_run(qc_kernel *k) {
  const classify_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  uint8_t *out = qc_u8(qc_out(k, 0));
  for (int64_t i = 0; i < x->numel; i++) {
    double v = x->dtype == QC_DT_FLOAT ? qc_f32(x)[i] : ((const double *)x->data)[i];
    out[i] = p->is_inf ? (isinf(v) && (v > 0 ? p->detect_positive : p->detect_negative)) : isnan(v) != 0;
  }
  return QC_OK;
}
