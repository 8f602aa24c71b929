/* Broadcasting binary/variadic elementwise ops: arithmetic (Add Sub Mul Div
 * Pow Mod Min Max Sum Mean), comparisons, logical ops, Not and Where.
 *
 * One kernel (qc_binary_*) serves every two-input op; the op is resolved from
 * k->op_type in init. Row functions are generated per dtype by X-macros. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "conv_util.h" /* QC_MULTIVERSION */
#include "kernels.h"
#include "pmath.h"

#define PARALLEL_MIN 65536

/* (dtype enum, C type, suffix, extra...) lists; the trailing arguments are
 * passed through so each X can take an op name and an expression. */
#define FLOAT_TYPES(X, ...) X(QC_DT_FLOAT, float, f32, __VA_ARGS__) X(QC_DT_DOUBLE, double, f64, __VA_ARGS__)
#define SINT_TYPES(X, ...)                                                                       \
  X(QC_DT_INT8, int8_t, i8, __VA_ARGS__) X(QC_DT_INT16, int16_t, i16, __VA_ARGS__)              \
  X(QC_DT_INT32, int32_t, i32, __VA_ARGS__) X(QC_DT_INT64, int64_t, i64, __VA_ARGS__)
#define UINT_TYPES(X, ...)                                                                       \
  X(QC_DT_UINT8, uint8_t, u8, __VA_ARGS__) X(QC_DT_UINT16, uint16_t, u16, __VA_ARGS__)          \
  X(QC_DT_UINT32, uint32_t, u32, __VA_ARGS__) X(QC_DT_UINT64, uint64_t, u64, __VA_ARGS__)
#define BOOL_TYPE(X, ...) X(QC_DT_BOOL, uint8_t, b8, __VA_ARGS__)

/* Row function: out[j] = EXPR(x = a[j*as], y = b[j*bs]); steps are 0 or 1,
 * specialised so the common cases vectorise. */
#define ROW_FN(NAME, TI, TO, ...) ROW_FN_ATTR(, NAME, TI, TO, __VA_ARGS__)
#define ROW_FN_ATTR(ATTR, NAME, TI, TO, ...)                                            \
  ATTR static void NAME(const void *a_, const void *b_, void *o_, int64_t n, int as, int bs) { \
    const TI *a = a_, *b = b_;                                                          \
    TO *o = o_;                                                                         \
    if (as && bs) {                                                                     \
      for (int64_t j = 0; j < n; j++) {                                                 \
        TI x = a[j], y = b[j];                                                          \
        o[j] = (TO)(__VA_ARGS__);                                                       \
      }                                                                                 \
    } else if (as) {                                                                    \
      const TI y = b[0];                                                                \
      for (int64_t j = 0; j < n; j++) {                                                 \
        TI x = a[j];                                                                    \
        o[j] = (TO)(__VA_ARGS__);                                                       \
      }                                                                                 \
    } else if (bs) {                                                                    \
      const TI x = a[0];                                                                \
      for (int64_t j = 0; j < n; j++) {                                                 \
        TI y = b[j];                                                                    \
        o[j] = (TO)(__VA_ARGS__);                                                       \
      }                                                                                 \
    } else {                                                                            \
      const TI x = a[0], y = b[0];                                                      \
      const TO v = (TO)(__VA_ARGS__);                                                   \
      for (int64_t j = 0; j < n; j++)                                                   \
        o[j] = v;                                                                       \
    }                                                                                   \
  }

/* Same-type arithmetic rows are also built for AVX2 and AVX-512 (picked per CPU
 * at load): the Add/Mul/Div/Clip chains of PP-OCR cls's HardSwish were a
 * third of its batch-1 run on 4-wide SSE2 rows. + - * / are exact IEEE
 * operations and contraction is off, so every version gives the same bits. */
#define DEF_SAME(DT, T, SUF, NAME, ...) ROW_FN_ATTR(QC_MULTIVERSION, NAME##_##SUF, T, T, __VA_ARGS__)
#define DEF_BOOL(DT, T, SUF, NAME, ...) ROW_FN(NAME##_##SUF, T, uint8_t, __VA_ARGS__)
#define CASE_FN(DT, T, SUF, NAME, ...) \
  case DT:                             \
    return NAME##_##SUF;

/* ---- arithmetic ---- */
#define ALL_NUMERIC(X, ...) FLOAT_TYPES(X, __VA_ARGS__) SINT_TYPES(X, __VA_ARGS__) UINT_TYPES(X, __VA_ARGS__)

ALL_NUMERIC(DEF_SAME, add, x + y)
ALL_NUMERIC(DEF_SAME, sub, x - y)
ALL_NUMERIC(DEF_SAME, mul, x * y)
FLOAT_TYPES(DEF_SAME, div, x / y)
/* Integer division truncates toward zero; x/0 gives 0 and MIN/-1 wraps
 * instead of trapping. */
SINT_TYPES(DEF_SAME, div, y == 0 ? 0 : y == -1 ? 0u - (uint64_t)x : (uint64_t)(x / y))
UINT_TYPES(DEF_SAME, div, y == 0 ? 0 : x / y)
/* x != x keeps NaN from either side, as numpy's minimum/maximum do. */
ALL_NUMERIC(DEF_SAME, min, (x < y || x != x) ? x : y)
ALL_NUMERIC(DEF_SAME, max, (x > y || x != x) ? x : y)
/* Mod with fmod=1: truncated remainder (sign of dividend). */
FLOAT_TYPES(DEF_SAME, fmod, fmod(x, y))
SINT_TYPES(DEF_SAME, fmod, (y == 0 || y == -1) ? 0 : x % y)
UINT_TYPES(DEF_SAME, fmod, y == 0 ? 0 : x % y)
/* Mod with fmod=0: floored remainder (sign of divisor), like Python's %. */
static inline double floor_mod_f(double x, double y) {
  double r = fmod(x, y);
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
static inline int64_t floor_mod_i(int64_t x, int64_t y) {
  if (y == 0 || y == -1)
    return 0;
  int64_t r = x % y;
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
FLOAT_TYPES(DEF_SAME, mod, floor_mod_f(x, y))
SINT_TYPES(DEF_SAME, mod, floor_mod_i(x, y))
UINT_TYPES(DEF_SAME, mod, y == 0 ? 0 : x % y)
/* Pow on float: squares and square roots are common and much cheaper. */
static void pow_f32(const void *a_, const void *b_, void *o_, int64_t n, int as, int bs) {
  const float *a = a_, *b = b_;
  float *o = o_;
  if (as && !bs && b[0] == 2.0f) {
    for (int64_t j = 0; j < n; j++)
      o[j] = a[j] * a[j];
  } else if (as && !bs && b[0] == 0.5f) {
    for (int64_t j = 0; j < n; j++)
      o[j] = sqrtf(a[j]);
  } else {
    for (int64_t j = 0; j < n; j++)
      o[j] = (float)qc_pow_d(a[j * as], b[j * bs]);
  }
}
ROW_FN(pow_f64, double, double, qc_pow_d(x, y))

/* BitShift: shifting by the type width or more gives 0 rather than UB. */
UINT_TYPES(DEF_SAME, shl, y >= sizeof(x) * 8 ? 0 : (uint64_t)x << y)
UINT_TYPES(DEF_SAME, shr, y >= sizeof(x) * 8 ? 0 : x >> y)

/* ---- comparisons and logic ---- */
#define ALL_COMPARABLE(X, ...) ALL_NUMERIC(X, __VA_ARGS__) BOOL_TYPE(X, __VA_ARGS__)
ALL_COMPARABLE(DEF_BOOL, eq, x == y)
ALL_COMPARABLE(DEF_BOOL, lt, x < y)
ALL_COMPARABLE(DEF_BOOL, gt, x > y)
ALL_COMPARABLE(DEF_BOOL, le, x <= y)
ALL_COMPARABLE(DEF_BOOL, ge, x >= y)
BOOL_TYPE(DEF_BOOL, and, x && y)
BOOL_TYPE(DEF_BOOL, or, x || y)
BOOL_TYPE(DEF_BOOL, xor, (x != 0) != (y != 0))

#define LOOKUP(NAME, LIST)                          \
  static qc_binary_row_fn NAME##_lookup(qc_dtype dt) { \
    switch (dt) {                                   \
      LIST(CASE_FN, NAME, unused)                   \
    default:                                        \
      return NULL;                                  \
    }                                               \
  }
#define JUST_FLOATS FLOAT_TYPES
LOOKUP(add, ALL_NUMERIC)
LOOKUP(sub, ALL_NUMERIC)
LOOKUP(mul, ALL_NUMERIC)
LOOKUP(div, ALL_NUMERIC)
LOOKUP(min, ALL_NUMERIC)
LOOKUP(max, ALL_NUMERIC)
LOOKUP(fmod, ALL_NUMERIC)
LOOKUP(mod, ALL_NUMERIC)
LOOKUP(pow, JUST_FLOATS)
LOOKUP(shl, UINT_TYPES)
LOOKUP(shr, UINT_TYPES)
LOOKUP(eq, ALL_COMPARABLE)
LOOKUP(lt, ALL_COMPARABLE)
LOOKUP(gt, ALL_COMPARABLE)
LOOKUP(le, ALL_COMPARABLE)
LOOKUP(ge, ALL_COMPARABLE)
LOOKUP(and, BOOL_TYPE)
LOOKUP(or, BOOL_TYPE)
LOOKUP(xor, BOOL_TYPE)

typedef struct binary_kind {
  const char *op_type;
  qc_binary_row_fn (*lookup)(qc_dtype);
  int bool_output;
} binary_kind;

static const binary_kind binary_kinds[] = {
    {"Add", add_lookup, 0},   {"Sub", sub_lookup, 0},           {"Mul", mul_lookup, 0},
    {"Div", div_lookup, 0},   {"Pow", pow_lookup, 0},           {"Mod", mod_lookup, 0},
    {"Equal", eq_lookup, 1},  {"Less", lt_lookup, 1},           {"Greater", gt_lookup, 1},
    {"LessOrEqual", le_lookup, 1}, {"GreaterOrEqual", ge_lookup, 1}, {"And", and_lookup, 1},
    {"Or", or_lookup, 1},     {"Xor", xor_lookup, 1},           {"BitShift", shl_lookup, 0},
    /* Variadic ops reuse the binary row functions pairwise. */
    {"Sum", add_lookup, 0},   {"Mean", add_lookup, 0},          {"Min", min_lookup, 0},
    {"Max", max_lookup, 0},
};

typedef struct binary_priv {
  const binary_kind *kind;
  qc_binary_row_fn (*lookup)(qc_dtype); /* kind->lookup, or fmod_lookup for Mod fmod=1 */
  int is_pow, is_mean, is_logical;
  /* Opset < 7 Add/Sub/Mul/Div/Pow: B broadcasts to A only if broadcast=1,
   * aligned at `axis` when given (else at the trailing dims). */
  int legacy, legacy_broadcast;
  int64_t legacy_axis; /* -1 when absent */
} binary_priv;

static int binary_setup(qc_kernel *k) {
  const binary_kind *kind = NULL;
  for (size_t i = 0; i < sizeof binary_kinds / sizeof binary_kinds[0]; i++)
    if (strcmp(binary_kinds[i].op_type, k->op_type) == 0)
      kind = &binary_kinds[i];
  if (!kind)
    return qc_fail(QC_EINTERNAL, "elementwise kernel registered for unknown op %s", k->op_type);
  binary_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  p->kind = kind;
  p->lookup = kind->lookup;
  p->is_pow = strcmp(k->op_type, "Pow") == 0;
  p->is_mean = strcmp(k->op_type, "Mean") == 0;
  p->is_logical = kind->lookup == and_lookup || kind->lookup == or_lookup || kind->lookup == xor_lookup;
  if (k->opset < 7 && !kind->bool_output && kind->lookup != min_lookup && kind->lookup != max_lookup &&
      strcmp(k->op_type, "Sum") != 0 && strcmp(k->op_type, "Mean") != 0) {
    int64_t v;
    p->legacy = 1;
    QC_TRY(qc_attr_int(&k->attrs, "broadcast", 0, &v));
    p->legacy_broadcast = v != 0;
    QC_TRY(qc_attr_int(&k->attrs, "axis", -1, &p->legacy_axis));
  }
  if (strcmp(k->op_type, "BitShift") == 0) {
    char dir[16];
    QC_TRY(qc_attr_string(&k->attrs, "direction", "", dir, sizeof dir));
    if (strcmp(dir, "RIGHT") == 0)
      p->lookup = shr_lookup;
    else if (strcmp(dir, "LEFT") != 0)
      return qc_fail(QC_EINVAL, "direction must be LEFT or RIGHT, got '%s'", dir);
  }
  if (strcmp(k->op_type, "Mod") == 0) {
    int64_t fmod_attr;
    QC_TRY(qc_attr_int(&k->attrs, "fmod", 0, &fmod_attr));
    if (fmod_attr != 0 && fmod_attr != 1)
      return qc_fail(QC_EINVAL, "attribute fmod must be 0 or 1, got %lld", (long long)fmod_attr);
    if (fmod_attr)
      p->lookup = fmod_lookup;
  }
  return QC_OK;
}

int qc_binary_init(qc_kernel *k) {
  if (k->ninputs != 2)
    return qc_fail(QC_EINVAL, "needs exactly 2 inputs, got %d", k->ninputs);
  return binary_setup(k);
}

static int check_dtype(const binary_priv *p, qc_dtype dt) {
  if (!p->lookup(dt))
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(dt));
  return QC_OK;
}

/* Input B as the binary kernels see it: itself, or for legacy (opset < 7)
 * broadcasting a borrowed view padded with trailing 1s so it aligns with A
 * at `axis`. */
static int legacy_b(const qc_kernel *k, qc_tensor *view, const qc_tensor **b_out) {
  const binary_priv *p = k->priv;
  const qc_tensor *a = qc_in(k, 0), *b = qc_in(k, 1);
  *b_out = b;
  if (!p->legacy)
    return QC_OK;
  char s1[128], s2[128];
  if (!p->legacy_broadcast) {
    if (a->ndim != b->ndim || memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof(int64_t)) != 0)
      return qc_fail(QC_EINVAL, "inputs of shapes %s and %s differ and broadcast=0 (opset %d)",
                     qc_shape_str(a->ndim, a->dims, s1, sizeof s1), qc_shape_str(b->ndim, b->dims, s2, sizeof s2),
                     k->opset);
    return QC_OK;
  }
  int64_t axis = !qc_attr_has(&k->attrs, "axis") ? a->ndim - b->ndim
                 : p->legacy_axis < 0    ? p->legacy_axis + a->ndim
                                         : p->legacy_axis;
  int64_t dims[QC_MAX_DIMS];
  int nd = (int)(a->ndim - axis);
  if (axis < 0 || b->ndim > nd) /* a scalar-like B of size 1 is always fine */
    return b->numel == 1 ? QC_OK
                         : qc_fail(QC_EINVAL, "cannot broadcast %s to %s at axis %lld",
                                   qc_shape_str(b->ndim, b->dims, s1, sizeof s1),
                                   qc_shape_str(a->ndim, a->dims, s2, sizeof s2), (long long)p->legacy_axis);
  for (int d = 0; d < nd; d++)
    dims[d] = d < b->ndim ? b->dims[d] : 1;
  qc_tensor_wrap(view, b->dtype, nd, dims, b->data);
  if (!qc_bcast_is_unidirectional(view, a->ndim, a->dims))
    return qc_fail(QC_EINVAL, "cannot broadcast %s to %s at axis %lld",
                   qc_shape_str(b->ndim, b->dims, s1, sizeof s1), qc_shape_str(a->ndim, a->dims, s2, sizeof s2),
                   (long long)axis);
  *b_out = view;
  return QC_OK;
}

int qc_binary_shape(qc_kernel *k) {
  const binary_priv *p = k->priv;
  QC_TRY(qc_require_io(k, 2));
  const qc_tensor *a = qc_in(k, 0), *b;
  qc_tensor b_view = {0};
  QC_TRY(legacy_b(k, &b_view, &b));
  if (!p->is_pow && a->dtype != b->dtype)
    return qc_fail(QC_EINVAL, "inputs have different types (%s and %s)", qc_dtype_name(a->dtype),
                   qc_dtype_name(b->dtype));
  if (!p->is_pow)
    QC_TRY(check_dtype(p, a->dtype));
  else if (!(a->dtype == QC_DT_FLOAT || a->dtype == QC_DT_DOUBLE || a->dtype == QC_DT_INT32 ||
             a->dtype == QC_DT_INT64) ||
           qc_dtype_size(b->dtype) == 0 || b->dtype == QC_DT_BOOL)
    return qc_fail(QC_EUNSUPPORTED, "Pow of %s by %s is not supported", qc_dtype_name(a->dtype),
                   qc_dtype_name(b->dtype));
  const qc_tensor *ins[2] = {a, b};
  int nd;
  int64_t dims[QC_MAX_DIMS];
  QC_TRY(qc_bcast_shape(2, ins, &nd, dims));
  return qc_out_alloc(k, qc_out(k, 0), p->kind->bool_output ? QC_DT_BOOL : a->dtype, nd, dims);
}

/* Converts any numeric tensor to a new double tensor of the same shape. */
static int to_double(const qc_tensor *src, qc_tensor *dst) {
  QC_TRY(qc_tensor_alloc(dst, QC_DT_DOUBLE, src->ndim, src->dims));
  double *d = dst->data;
  for (int64_t i = 0; i < src->numel; i++)
    d[i] = qc_tensor_get_f64(src, i);
  return QC_OK;
}

/* Mixed-type or integer Pow: computed in double, then cast to the base type
 * (truncating toward zero for integer bases, as numpy's astype does). */
static int pow_generic(const qc_tensor *a, const qc_tensor *b, qc_tensor *out) {
  qc_tensor da = {0}, db = {0}, dout = {0};
  int rc = to_double(a, &da);
  if (rc == QC_OK)
    rc = to_double(b, &db);
  if (rc == QC_OK)
    rc = qc_tensor_alloc(&dout, QC_DT_DOUBLE, out->ndim, out->dims);
  if (rc == QC_OK)
    rc = qc_bcast_binary(&da, &db, &dout, pow_f64);
  if (rc == QC_OK) {
    const double *r = dout.data;
    for (int64_t i = 0; i < out->numel; i++) {
      switch (out->dtype) {
      case QC_DT_FLOAT: qc_f32(out)[i] = (float)r[i]; break;
      case QC_DT_DOUBLE: ((double *)out->data)[i] = r[i]; break;
      case QC_DT_INT32: qc_i32(out)[i] = isfinite(r[i]) && fabs(r[i]) < 2147483648.0 ? (int32_t)r[i] : INT32_MIN; break;
      default: qc_i64(out)[i] = isfinite(r[i]) && fabs(r[i]) < 9.2e18 ? (int64_t)r[i] : INT64_MIN; break;
      }
    }
  }
  qc_tensor_release(&da);
  qc_tensor_release(&db);
  qc_tensor_release(&dout);
  return rc;
}

int qc_binary_run_post(qc_kernel *k, const qc_act *post) {
  const binary_priv *p = k->priv;
  const qc_tensor *a = qc_in(k, 0), *b;
  qc_tensor b_view = {0};
  QC_TRY(legacy_b(k, &b_view, &b));
  if (post && (p->is_pow || p->kind->bool_output || qc_out(k, 0)->dtype != QC_DT_FLOAT))
    return qc_fail(QC_EINTERNAL, "%s has no fused epilogue for %s outputs", k->op_type,
                   qc_dtype_name(qc_out(k, 0)->dtype));
  if (p->is_pow && !(a->dtype == b->dtype && p->lookup(a->dtype)))
    return pow_generic(a, b, qc_out(k, 0));
  return qc_bcast_binary_post(a, b, qc_out(k, 0), p->lookup(a->dtype), post);
}

int qc_binary_run(qc_kernel *k) { return qc_binary_run_post(k, NULL); }

/* ---- variadic Sum / Mean / Min / Max ---- */

int qc_variadic_init(qc_kernel *k) {
  if (k->ninputs < 1)
    return qc_fail(QC_EINVAL, "needs at least one input");
  return binary_setup(k);
}

int qc_variadic_shape(qc_kernel *k) {
  const binary_priv *p = k->priv;
  QC_TRY(qc_require_io(k, k->ninputs));
  qc_dtype dt = qc_in(k, 0)->dtype;
  for (int i = 1; i < k->ninputs; i++)
    if (qc_in(k, i)->dtype != dt)
      return qc_fail(QC_EINVAL, "input %d is %s but input 0 is %s", i,
                     qc_dtype_name(qc_in(k, i)->dtype), qc_dtype_name(dt));
  QC_TRY(check_dtype(p, dt));
  if (p->is_mean && dt != QC_DT_FLOAT && dt != QC_DT_DOUBLE)
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(dt));
  int nd;
  int64_t dims[QC_MAX_DIMS];
  QC_TRY(qc_bcast_shape(k->ninputs, (const qc_tensor *const *)k->inputs, &nd, dims));
  return qc_out_alloc(k, qc_out(k, 0), dt, nd, dims);
}

int qc_variadic_run(qc_kernel *k) {
  const binary_priv *p = k->priv;
  qc_tensor *out = qc_out(k, 0);
  qc_binary_row_fn fn = p->lookup(out->dtype);
  if (k->ninputs == 1) {
    /* One input: the result is the input itself (min/max of one value). */
    const qc_tensor *in = qc_in(k, 0);
    return qc_bcast_binary(in, in, out, min_lookup(out->dtype));
  }
  QC_TRY(qc_bcast_binary(qc_in(k, 0), qc_in(k, 1), out, fn));
  for (int i = 2; i < k->ninputs; i++)
    QC_TRY(qc_bcast_binary(out, qc_in(k, i), out, fn)); /* out has the full shape: safe in place */
  if (p->is_mean) {
    int64_t n = out->numel;
    if (out->dtype == QC_DT_FLOAT) {
      float *o = qc_f32(out), inv = 1.0f / (float)k->ninputs;
#pragma omp parallel for if (n > PARALLEL_MIN)
      for (int64_t i = 0; i < n; i++)
        o[i] *= inv;
    } else {
      double *o = out->data;
      for (int64_t i = 0; i < n; i++)
        o[i] /= k->ninputs;
    }
  }
  return QC_OK;
}

/* ---- Not ---- */

int qc_not_init(qc_kernel *k) {
  if (k->ninputs != 1)
    return qc_fail(QC_EINVAL, "needs exactly one input, got %d", k->ninputs);
  return QC_OK;
}

int qc_not_shape(qc_kernel *k) {
  QC_TRY(qc_require_io(k, 1));
  const qc_tensor *x = qc_in(k, 0);
  if (x->dtype != QC_DT_BOOL)
    return qc_fail(QC_EINVAL, "input must be bool, got %s", qc_dtype_name(x->dtype));
  QC_TRY(qc_out_alloc(k, qc_out(k, 0), QC_DT_BOOL, x->ndim, x->dims));
  const uint8_t *in = qc_u8(x);
  uint8_t *o = qc_u8(qc_out(k, 0));
  for (int64_t i = 0; i < x->numel; i++)
    o[i] = !in[i];
  return QC_OK;
}

/* ---- Where ---- */

int qc_where_init(qc_kernel *k) {
  if (k->ninputs != 3)
    return qc_fail(QC_EINVAL, "needs 3 inputs (condition, X, Y), got %d", k->ninputs);
  return QC_OK;
}

int qc_where_shape(qc_kernel *k) {
  QC_TRY(qc_require_io(k, 3));
  const qc_tensor *c = qc_in(k, 0), *x = qc_in(k, 1), *y = qc_in(k, 2);
  if (c->dtype != QC_DT_BOOL)
    return qc_fail(QC_EINVAL, "condition must be bool, got %s", qc_dtype_name(c->dtype));
  if (x->dtype != y->dtype)
    return qc_fail(QC_EINVAL, "X and Y have different types (%s and %s)", qc_dtype_name(x->dtype),
                   qc_dtype_name(y->dtype));
  if (qc_dtype_size(x->dtype) == 0)
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(x->dtype));
  const qc_tensor *ins[3] = {c, x, y};
  int nd;
  int64_t dims[QC_MAX_DIMS];
  QC_TRY(qc_bcast_shape(3, ins, &nd, dims));
  return qc_out_alloc(k, qc_out(k, 0), x->dtype, nd, dims);
}

typedef struct where_ctx {
  const uint8_t *cond;
  const char *x, *y;
  char *out;
  size_t es;
} where_ctx;

#define WHERE_LOOP(T)                                                                  \
  do {                                                                                 \
    const T *xs = (const T *)(c->x + offs[1] * es), *ys = (const T *)(c->y + offs[2] * es); \
    T *o = (T *)(c->out + out_offset * es);                                            \
    for (int64_t j = 0; j < n; j++)                                                    \
      o[j] = cond[j * cs] ? xs[j * xst] : ys[j * yst];                                 \
  } while (0)

static void where_chunk(void *vctx, const qc_bcast *p, const int64_t *offs, int64_t out_offset, int64_t n) {
  const where_ctx *c = vctx;
  const size_t es = c->es;
  const uint8_t *cond = c->cond + offs[0];
  const int cs = qc_bcast_step(p, 0), xst = qc_bcast_step(p, 1), yst = qc_bcast_step(p, 2);
  switch (es) {
  case 1: WHERE_LOOP(uint8_t); break;
  case 2: WHERE_LOOP(uint16_t); break;
  case 4: WHERE_LOOP(uint32_t); break;
  case 8: WHERE_LOOP(uint64_t); break;
  default:
    for (int64_t j = 0; j < n; j++)
      memcpy(c->out + (out_offset + j) * es,
             cond[j * cs] ? c->x + (offs[1] + j * xst) * es : c->y + (offs[2] + j * yst) * es, es);
  }
}

int qc_where_run(qc_kernel *k) {
  const qc_tensor *ins[3] = {qc_in(k, 0), qc_in(k, 1), qc_in(k, 2)};
  qc_tensor *out = qc_out(k, 0);
  qc_bcast plan;
  QC_TRY(qc_bcast_plan(&plan, 3, ins, out->ndim, out->dims));
  where_ctx c = {ins[0]->data, ins[1]->data, ins[2]->data, out->data, qc_dtype_size(out->dtype)};
  qc_bcast_for_each(&plan, where_chunk, &c, PARALLEL_MIN);
  return QC_OK;
}
