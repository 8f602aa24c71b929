/* Reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare)
 * and ArgMax/ArgMin.
 *
 * `axes` is an attribute up to ReduceSum-11 / other Reduce*-13 and an
 * optional int64 input from ReduceSum-13 / Reduce*-18, where
 * noop_with_empty_axes also appears. Results accumulate in double. When the
 * reduced dims form one contiguous block (after merging neighbours and
 * dropping size-1 dims) the input is viewed as [outer, n, inner] and reduced
 * with contiguous loops; other axis patterns use a serial generic walk. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "kernels.h"
#include "pmath.h"

#define PARALLEL_MIN 65536

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQUARE };

static const struct {
  const char *op_type;
  int kind;
} reduce_kinds[] = {
    {"ReduceL1", R_L1},         {"ReduceL2", R_L2},     {"ReduceLogSum", R_LOGSUM},
    {"ReduceLogSumExp", R_LOGSUMEXP}, {"ReduceMax", R_MAX}, {"ReduceMean", R_MEAN},
    {"ReduceMin", R_MIN},       {"ReduceProd", R_PROD}, {"ReduceSum", R_SUM},
    {"ReduceSumSquare", R_SUMSQUARE},
};

typedef struct reduce_priv {
  int kind;
  int keepdims;
  int noop_with_empty_axes;
  int axes_from_input;
  int n_attr_axes;
  int64_t attr_axes[QC_MAX_DIMS];
  /* Decided by shape() for run(). */
  int noop;
  int reduce_dim[QC_MAX_DIMS];
} reduce_priv;

int qc_reduce_init(qc_kernel *k) {
  reduce_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  p->kind = -1;
  for (size_t i = 0; i < sizeof reduce_kinds / sizeof reduce_kinds[0]; i++)
    if (strcmp(reduce_kinds[i].op_type, k->op_type) == 0)
      p->kind = reduce_kinds[i].kind;
  if (p->kind < 0)
    return qc_fail(QC_EINTERNAL, "reduce kernel registered for unknown op %s", k->op_type);
  if (k->ninputs < 1 || k->ninputs > 2)
    return qc_fail(QC_EINVAL, "needs 1 or 2 inputs, got %d", k->ninputs);
  int64_t v;
  QC_TRY(qc_attr_int(&k->attrs, "keepdims", 1, &v));
  p->keepdims = v != 0;
  QC_TRY(qc_attr_int(&k->attrs, "noop_with_empty_axes", 0, &v));
  p->noop_with_empty_axes = v != 0;
  p->axes_from_input = p->kind == R_SUM ? k->opset >= 13 : k->opset >= 18;
  if (!p->axes_from_input) {
    const int64_t *axes;
    size_t n;
    QC_TRY(qc_attr_ints(&k->attrs, "axes", &axes, &n));
    if (n > QC_MAX_DIMS)
      return qc_fail(QC_EINVAL, "%zu axes exceed the maximum rank %d", n, QC_MAX_DIMS);
    if (n)
      memcpy(p->attr_axes, axes, n * sizeof *axes);
    p->n_attr_axes = (int)n;
  }
  return QC_OK;
}

/* Marks the reduced dims from an axes list; an empty list means all dims. */
static int mark_axes(int ndim, const int64_t *axes, int64_t n, int *reduce_dim) {
  for (int d = 0; d < ndim; d++)
    reduce_dim[d] = n == 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + ndim : axes[i];
    if (a < 0 || a >= ndim)
      return qc_fail(QC_EINVAL, "axis %lld is out of range for rank %d", (long long)axes[i], ndim);
    reduce_dim[a] = 1;
  }
  return QC_OK;
}

int qc_reduce_shape(qc_kernel *k) {
  reduce_priv *p = k->priv;
  QC_TRY(qc_require_io(k, 1));
  const qc_tensor *x = qc_in(k, 0);
  switch (x->dtype) {
  case QC_DT_FLOAT: case QC_DT_DOUBLE: case QC_DT_INT32: case QC_DT_INT64: case QC_DT_INT8: case QC_DT_UINT8:
    break;
  default:
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(x->dtype));
  }
  const int64_t *axes = p->attr_axes;
  int64_t n_axes = p->n_attr_axes;
  int64_t input_axes[QC_MAX_DIMS];
  const qc_tensor *t = qc_in(k, 1);
  if (p->axes_from_input && t) {
    if (t->dtype != QC_DT_INT64 || t->ndim > 1)
      return qc_fail(QC_EINVAL, "axes input must be a 1-D int64 tensor");
    if (t->numel > x->ndim)
      return qc_fail(QC_EINVAL, "%lld axes given for rank %d", (long long)t->numel, x->ndim);
    memcpy(input_axes, t->data, (size_t)t->numel * sizeof(int64_t));
    axes = input_axes;
    n_axes = t->numel;
  }
  p->noop = n_axes == 0 && p->axes_from_input && p->noop_with_empty_axes;
  if (p->noop)
    return qc_out_alloc(k, qc_out(k, 0), x->dtype, x->ndim, x->dims);
  QC_TRY(mark_axes(x->ndim, axes, n_axes, p->reduce_dim));
  int nd = 0;
  int64_t dims[QC_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) {
    if (!p->reduce_dim[d])
      dims[nd++] = x->dims[d];
    else if (p->keepdims)
      dims[nd++] = 1;
  }
  return qc_out_alloc(k, qc_out(k, 0), x->dtype, nd, dims);
}

static inline double acc_step(int kind, double acc, double x, double shift) {
  switch (kind) {
  case R_MAX: return (x > acc || x != x) ? x : acc;
  case R_MIN: return (x < acc || x != x) ? x : acc;
  case R_PROD: return acc * x;
  case R_L1: return acc + fabs(x);
  case R_L2: case R_SUMSQUARE: return acc + x * x;
  case R_LOGSUMEXP: return acc + qc_exp_d(x - shift);
  default: return acc + x;
  }
}

/* Merges two partial results of the same kind. */
static inline double acc_merge(int kind, double a, double b) {
  switch (kind) {
  case R_MAX: return (b > a || b != b) ? b : a;
  case R_MIN: return (b < a || b != b) ? b : a;
  case R_PROD: return a * b;
  default: return a + b;
  }
}

static double acc_identity(int kind) {
  switch (kind) {
  case R_MAX: return -INFINITY;
  case R_MIN: return INFINITY;
  case R_PROD: return 1.0;
  default: return 0.0;
  }
}

typedef struct reduce_geom {
  int fast; /* [outer, n, inner] view valid */
  int64_t outer, n, inner;
  /* Generic walk: collapsed dims, output strides (0 on reduced dims). */
  int ng;
  int64_t gdims[QC_MAX_DIMS], gostride[QC_MAX_DIMS];
} reduce_geom;

static void make_geom(const qc_tensor *x, const int *reduce_dim, reduce_geom *g) {
  int flags[QC_MAX_DIMS];
  g->ng = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (x->dims[d] == 1)
      continue;
    if (g->ng > 0 && flags[g->ng - 1] == reduce_dim[d]) {
      g->gdims[g->ng - 1] *= x->dims[d];
    } else {
      g->gdims[g->ng] = x->dims[d];
      flags[g->ng++] = reduce_dim[d];
    }
  }
  int64_t s = 1;
  for (int i = g->ng - 1; i >= 0; i--) {
    g->gostride[i] = flags[i] ? 0 : s;
    if (!flags[i])
      s *= g->gdims[i];
  }
  int nred = 0;
  for (int i = 0; i < g->ng; i++)
    nred += flags[i];
  g->fast = nred <= 1;
  g->outer = g->n = g->inner = 1;
  int seen = 0;
  for (int i = 0; i < g->ng; i++) {
    if (flags[i]) {
      g->n = g->gdims[i];
      seen = 1;
    } else if (seen) {
      g->inner *= g->gdims[i];
    } else {
      g->outer *= g->gdims[i];
    }
  }
}

/* reduce_line_T: one contiguous line of n values, with partial results over
 * chunks in parallel when long so a full reduction uses every core.
 * reduce_pass_T: res[out_numel] = reduction of x; shift is per output
 * (LogSumExp) or NULL. Generated for float and double inputs. */
#define KIND_CASE(K_, FN, ARGS) \
  case K_: {                      \
    enum { K = K_ };              \
    FN ARGS;                      \
  }
#define KIND_SWITCH(FN, ARGS)                                                                     \
  switch (kind) {                                                                                 \
    KIND_CASE(R_MAX, FN, ARGS) KIND_CASE(R_MIN, FN, ARGS) KIND_CASE(R_PROD, FN, ARGS)             \
    KIND_CASE(R_L1, FN, ARGS) KIND_CASE(R_L2, FN, ARGS) KIND_CASE(R_SUMSQUARE, FN, ARGS)          \
    KIND_CASE(R_LOGSUMEXP, FN, ARGS) default : {                                                   \
      enum { K = R_SUM };                                                                         \
      FN ARGS;                                                                                    \
    }                                                                                             \
  }

#define REDUCE_FUNCS(T, SUF)                                                                            \
  static inline __attribute__((always_inline)) double line_##SUF(const int kind, const T *x, int64_t n,  \
                                                                 double shift) {                       \
    /* Four independent accumulators hide the add latency. */                                          \
    double a0 = acc_identity(kind), a1 = a0, a2 = a0, a3 = a0;                                         \
    int64_t j = 0;                                                                                     \
    for (; j + 4 <= n; j += 4) {                                                                       \
      a0 = acc_step(kind, a0, x[j], shift);                                                            \
      a1 = acc_step(kind, a1, x[j + 1], shift);                                                        \
      a2 = acc_step(kind, a2, x[j + 2], shift);                                                        \
      a3 = acc_step(kind, a3, x[j + 3], shift);                                                        \
    }                                                                                                  \
    for (; j < n; j++)                                                                                 \
      a0 = acc_step(kind, a0, x[j], shift);                                                            \
    return acc_merge(kind, acc_merge(kind, a0, a1), acc_merge(kind, a2, a3));                          \
  }                                                                                                    \
  static inline __attribute__((always_inline)) void rows_##SUF(const int kind, const T *x, int64_t n,   \
                                                               int64_t inner, double *r,               \
                                                               const double *sh) {                     \
    for (int64_t j = 0; j < n; j++) {                                                                  \
      const T *row = x + j * inner;                                                                    \
      for (int64_t i = 0; i < inner; i++)                                                              \
        r[i] = acc_step(kind, r[i], row[i], sh ? sh[i] : 0);                                           \
    }                                                                                                  \
  }                                                                                                    \
  /* The switches make `kind` a constant inside each inlined loop. */                                  \
  static double dline_##SUF(int kind, const T *x, int64_t n, double shift) {                           \
    KIND_SWITCH(return line_##SUF, (K, x, n, shift))                                                   \
  }                                                                                                    \
  static void drows_##SUF(int kind, const T *x, int64_t n, int64_t inner, double *r, const double *sh) { \
    KIND_SWITCH(rows_##SUF, (K, x, n, inner, r, sh); return)                                          \
  }                                                                                                    \
  static double reduce_line_##SUF(int kind, const T *x, int64_t n, double shift, int parallel) {        \
    if (!parallel || n <= PARALLEL_MIN)                                                                \
      return dline_##SUF(kind, x, n, shift);                                                           \
    double acc = acc_identity(kind);                                                                   \
    enum { NPART = 64 };                                                                               \
    double part[NPART];                                                                                \
    int64_t len = (n + NPART - 1) / NPART;                                                             \
    _Pragma("omp parallel for schedule(static)") for (int c = 0; c < NPART; c++) {                      \
      int64_t begin = c * len < n ? c * len : n, end = (c + 1) * len < n ? (c + 1) * len : n;           \
      part[c] = dline_##SUF(kind, x + begin, end - begin, shift);                                      \
    }                                                                                                  \
    for (int c = 0; c < NPART; c++)                                                                    \
      acc = acc_merge(kind, acc, part[c]);                                                             \
    return acc;                                                                                        \
  }                                                                                                    \
  static void reduce_pass_##SUF(int kind, const T *x, int64_t numel, const reduce_geom *g, double *res, \
                                const double *shift, int64_t out_numel) {                              \
    for (int64_t o = 0; o < out_numel; o++)                                                            \
      res[o] = acc_identity(kind);                                                                     \
    if (g->fast && g->inner == 1) {                                                                    \
      if (g->outer == 1) {                                                                             \
        res[0] = reduce_line_##SUF(kind, x, g->n, shift ? shift[0] : 0, 1);                            \
        return;                                                                                        \
      }                                                                                                \
      _Pragma("omp parallel for schedule(static) if (numel > PARALLEL_MIN)") for (int64_t o = 0;        \
                                                                                  o < g->outer; o++)    \
        res[o] = reduce_line_##SUF(kind, x + o * g->n, g->n, shift ? shift[o] : 0, 0);                 \
    } else if (g->fast) {                                                                              \
      const int64_t n = g->n, inner = g->inner;                                                        \
      _Pragma("omp parallel for schedule(static) if (numel > PARALLEL_MIN && g->outer > 1)") for (      \
          int64_t o = 0; o < g->outer; o++) {                                                          \
        double *r = res + o * inner;                                                                   \
        drows_##SUF(kind, x + o * n * inner, n, inner, r, shift ? shift + o * inner : NULL);          \
      }                                                                                                \
    } else {                                                                                           \
      int64_t idx[QC_MAX_DIMS] = {0}, oi = 0;                                                          \
      for (int64_t e = 0; e < numel; e++) {                                                            \
        res[oi] = acc_step(kind, res[oi], x[e], shift ? shift[oi] : 0);                                \
        for (int d = g->ng - 1; d >= 0; d--) { /* odometer increment */                                \
          oi += g->gostride[d];                                                                        \
          if (++idx[d] < g->gdims[d])                                                                  \
            break;                                                                                     \
          oi -= g->gostride[d] * g->gdims[d];                                                          \
          idx[d] = 0;                                                                                  \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
  }
REDUCE_FUNCS(float, f32)
REDUCE_FUNCS(double, f64)

/* Dispatches on the input element type (float or double). */
static void reduce_pass(int kind, const void *x, int is_float, int64_t numel, const reduce_geom *g, double *res,
                        const double *shift, int64_t out_numel) {
  if (is_float)
    reduce_pass_f32(kind, x, numel, g, res, shift, out_numel);
  else
    reduce_pass_f64(kind, x, numel, g, res, shift, out_numel);
}

static void store_result(qc_tensor *out, int64_t i, double v) {
  switch (out->dtype) {
  case QC_DT_FLOAT: qc_f32(out)[i] = (float)v; return;
  case QC_DT_DOUBLE: ((double *)out->data)[i] = v; return;
  default: break;
  }
  /* Integer outputs: truncate toward zero, clamping out-of-range values
   * (e.g. the -inf identity of an empty ReduceMax). */
  int64_t r = v != v ? 0 : v >= 9.2233720368547758e18 ? INT64_MAX : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v;
  switch (out->dtype) {
  case QC_DT_INT32: qc_i32(out)[i] = r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : (int32_t)r; break;
  case QC_DT_INT8: qc_s8(out)[i] = r > INT8_MAX ? INT8_MAX : r < INT8_MIN ? INT8_MIN : (int8_t)r; break;
  case QC_DT_UINT8: qc_u8(out)[i] = r > UINT8_MAX ? UINT8_MAX : r < 0 ? 0 : (uint8_t)r; break;
  default: qc_i64(out)[i] = r; break;
  }
}

int qc_reduce_run(qc_kernel *k) {
  const reduce_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  qc_tensor *out = qc_out(k, 0);
  if (p->noop) {
    memcpy(out->data, x->data, x->nbytes);
    return QC_OK;
  }
  int64_t numel = x->numel, out_numel = out->numel;
  if (out_numel == 0)
    return QC_OK;
  reduce_geom g;
  make_geom(x, p->reduce_dim, &g);
  /* Float and double are reduced in place; integer inputs are widened to
   * double once (exact up to 2^53). */
  int is_float = x->dtype == QC_DT_FLOAT, widen = !is_float && x->dtype != QC_DT_DOUBLE;
  double *xd = NULL, *res = malloc((size_t)out_numel * sizeof(double) * 2);
  if (widen)
    xd = malloc((size_t)(numel ? numel : 1) * sizeof(double));
  if (!res || (widen && !xd)) {
    free(res);
    free(xd);
    return qc_fail(QC_ENOMEM, "out of memory reducing %lld elements", (long long)numel);
  }
  for (int64_t i = 0; widen && i < numel; i++)
    xd[i] = qc_tensor_get_f64(x, i);
  const void *xs = widen ? (const void *)xd : x->data;
  double *shift = res + out_numel;
  if (p->kind == R_LOGSUMEXP) {
    reduce_pass(R_MAX, xs, is_float, numel, &g, shift, NULL, out_numel);
    for (int64_t o = 0; o < out_numel; o++)
      if (!isfinite(shift[o]))
        shift[o] = 0; /* empty or all-infinite: exp(x - 0) still gives the right limit */
  }
  reduce_pass(p->kind, xs, is_float, numel, &g, res, p->kind == R_LOGSUMEXP ? shift : NULL, out_numel);
  double count = out_numel ? (double)numel / (double)out_numel : 0;
  for (int64_t o = 0; o < out_numel; o++) {
    double v = res[o];
    switch (p->kind) {
    case R_MEAN: v = count > 0 ? v / count : NAN; break;
    case R_L2: v = sqrt(v); break;
    case R_LOGSUM: v = qc_log_d(v); break;
    case R_LOGSUMEXP: v = qc_log_d(v) + shift[o]; break;
    default: break;
    }
    store_result(out, o, v);
  }
  free(res);
  free(xd);
  return QC_OK;
}

/* ---- ArgMax / ArgMin ---- */

typedef struct arg_priv {
  int is_max;
  int keepdims;
  int select_last;
  int64_t axis;
} arg_priv;

int qc_argreduce_init(qc_kernel *k) {
  if (k->ninputs != 1)
    return qc_fail(QC_EINVAL, "needs exactly one input, got %d", k->ninputs);
  arg_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  p->is_max = strcmp(k->op_type, "ArgMax") == 0;
  int64_t v;
  QC_TRY(qc_attr_int(&k->attrs, "axis", 0, &p->axis));
  QC_TRY(qc_attr_int(&k->attrs, "keepdims", 1, &v));
  p->keepdims = v != 0;
  QC_TRY(qc_attr_int(&k->attrs, "select_last_index", 0, &v));
  p->select_last = v != 0;
  return QC_OK;
}

int qc_argreduce_shape(qc_kernel *k) {
  const arg_priv *p = k->priv;
  QC_TRY(qc_require_io(k, 1));
  const qc_tensor *x = qc_in(k, 0);
  if (qc_dtype_size(x->dtype) == 0 || x->dtype == QC_DT_BOOL || x->dtype == QC_DT_FLOAT16 ||
      x->dtype == QC_DT_BFLOAT16 || x->dtype == QC_DT_COMPLEX64 || x->dtype == QC_DT_COMPLEX128 ||
      x->dtype >= QC_DT_FLOAT8E4M3FN)
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(x->dtype));
  int64_t axis = p->axis < 0 ? p->axis + x->ndim : p->axis;
  if (axis < 0 || axis >= x->ndim)
    return qc_fail(QC_EINVAL, "axis %lld is out of range for rank %d", (long long)p->axis, x->ndim);
  if (x->dims[axis] == 0)
    return qc_fail(QC_EINVAL, "cannot reduce over an empty axis");
  int nd = 0;
  int64_t dims[QC_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) {
    if (d != axis)
      dims[nd++] = x->dims[d];
    else if (p->keepdims)
      dims[nd++] = 1;
  }
  return qc_out_alloc(k, qc_out(k, 0), QC_DT_INT64, nd, dims);
}

/* Index of the max (or min) along a strided line; ties go to the first or
 * last occurrence as select_last_index asks. */
#define ARG_LINE(T, LOAD)                                                          \
  do {                                                                             \
    const T *line = (const T *)x->data + o * n * inner + i;                        \
    T best = LOAD(line[0]);                                                        \
    int64_t bi = 0;                                                                \
    for (int64_t j = 1; j < n; j++) {                                              \
      T v = LOAD(line[j * inner]);                                                 \
      int better = p->is_max ? (v > best || (p->select_last && v == best))         \
                             : (v < best || (p->select_last && v == best));        \
      if (better) {                                                                \
        best = v;                                                                  \
        bi = j;                                                                    \
      }                                                                            \
    }                                                                              \
    res[o * inner + i] = bi;                                                       \
  } while (0)
#define AS_IS(v) (v)

int qc_argreduce_run(qc_kernel *k) {
  const arg_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  int axis = (int)(p->axis < 0 ? p->axis + x->ndim : p->axis);
  int64_t outer = 1, n = x->dims[axis], inner = 1;
  for (int d = 0; d < axis; d++)
    outer *= x->dims[d];
  for (int d = axis + 1; d < x->ndim; d++)
    inner *= x->dims[d];
  int64_t *res = qc_i64(qc_out(k, 0));
  int64_t lines = outer * inner;
#pragma omp parallel for schedule(static) if (x->numel > PARALLEL_MIN)
  for (int64_t l = 0; l < lines; l++) {
    int64_t o = l / inner, i = l % inner;
    switch (x->dtype) {
    case QC_DT_FLOAT: ARG_LINE(float, AS_IS); break;
    case QC_DT_DOUBLE: ARG_LINE(double, AS_IS); break;
    case QC_DT_INT8: ARG_LINE(int8_t, AS_IS); break;
    case QC_DT_UINT8: ARG_LINE(uint8_t, AS_IS); break;
    case QC_DT_INT16: ARG_LINE(int16_t, AS_IS); break;
    case QC_DT_UINT16: ARG_LINE(uint16_t, AS_IS); break;
    case QC_DT_INT32: ARG_LINE(int32_t, AS_IS); break;
    case QC_DT_UINT32: ARG_LINE(uint32_t, AS_IS); break;
    case QC_DT_UINT64: ARG_LINE(uint64_t, AS_IS); break;
    default: ARG_LINE(int64_t, AS_IS); break;
    }
  }
  return QC_OK;
}
