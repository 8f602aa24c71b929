/* Cast, CastLike, Constant, ConstantOfShape, Identity, Dropout, Range, NonZero, EyeLike. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* dims argument for rank-0 allocations (memcpy must not get NULL, even for 0 bytes) */
static const int64_t no_dims[1] = {0};

/* ---- element conversion (Cast semantics) ---- */

typedef enum { VAL_FLOAT, VAL_SIGNED, VAL_UNSIGNED } val_kind;
typedef struct {
  val_kind kind;
  double f;
  int64_t i;
  uint64_t u;
} scalar_val;

static int castable(qc_dtype dt) {
  switch (dt) {
  case QC_DT_FLOAT: case QC_DT_DOUBLE: case QC_DT_FLOAT16: case QC_DT_BFLOAT16:
  case QC_DT_INT8: case QC_DT_INT16: case QC_DT_INT32: case QC_DT_INT64:
  case QC_DT_UINT8: case QC_DT_UINT16: case QC_DT_UINT32: case QC_DT_UINT64: case QC_DT_BOOL:
    return 1;
  default:
    return 0;
  }
}

static scalar_val load_val(qc_dtype dt, const void *p, int64_t i) {
  scalar_val v = {VAL_FLOAT, 0, 0, 0};
  switch (dt) {
  case QC_DT_FLOAT: v.f = ((const float *)p)[i]; break;
  case QC_DT_DOUBLE: v.f = ((const double *)p)[i]; break;
  case QC_DT_FLOAT16: v.f = qc_half_to_float(((const uint16_t *)p)[i]); break;
  case QC_DT_BFLOAT16: v.f = qc_bfloat16_to_float(((const uint16_t *)p)[i]); break;
  case QC_DT_INT8: v.kind = VAL_SIGNED; v.i = ((const int8_t *)p)[i]; break;
  case QC_DT_INT16: v.kind = VAL_SIGNED; v.i = ((const int16_t *)p)[i]; break;
  case QC_DT_INT32: v.kind = VAL_SIGNED; v.i = ((const int32_t *)p)[i]; break;
  case QC_DT_INT64: v.kind = VAL_SIGNED; v.i = ((const int64_t *)p)[i]; break;
  case QC_DT_UINT8: case QC_DT_BOOL: v.kind = VAL_UNSIGNED; v.u = ((const uint8_t *)p)[i]; break;
  case QC_DT_UINT16: v.kind = VAL_UNSIGNED; v.u = ((const uint16_t *)p)[i]; break;
  case QC_DT_UINT32: v.kind = VAL_UNSIGNED; v.u = ((const uint32_t *)p)[i]; break;
  case QC_DT_UINT64: v.kind = VAL_UNSIGNED; v.u = ((const uint64_t *)p)[i]; break;
  default: break;
  }
  return v;
}

/* Float to integer: truncate toward zero, NaN -> 0, saturate at the type's range
 * (a plain C cast of an out-of-range float is undefined behaviour). */
static int64_t float_to_signed(double f, double lo, double hi) {
  if (isnan(f))
    return 0;
  if (f <= lo)
    return (int64_t)lo;
  if (f >= hi)
    return f >= 9223372036854775807.0 ? INT64_MAX : (int64_t)hi;
  return (int64_t)f;
}
static uint64_t float_to_unsigned(double f, double hi) {
  if (isnan(f) || f <= 0)
    return 0;
  if (f >= hi)
    return f >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)hi;
  return (uint64_t)f;
}

static void store_val(qc_dtype dt, void *p, int64_t i, scalar_val v) {
  double f = v.kind == VAL_FLOAT ? v.f : v.kind == VAL_SIGNED ? (double)v.i : (double)v.u;
  /* Integer sources convert between integer types with two's-complement wrap, like a C cast. */
  uint64_t bits = v.kind == VAL_SIGNED ? (uint64_t)v.i : v.u;
  int is_float = v.kind == VAL_FLOAT;
  switch (dt) {
  case QC_DT_FLOAT: ((float *)p)[i] = (float)f; break;
  case QC_DT_DOUBLE: ((double *)p)[i] = f; break;
  case QC_DT_FLOAT16: ((uint16_t *)p)[i] = qc_float_to_half((float)f); break;
  case QC_DT_BFLOAT16: ((uint16_t *)p)[i] = qc_float_to_bfloat16((float)f); break;
  case QC_DT_BOOL: ((uint8_t *)p)[i] = is_float ? (f != 0 || isnan(f)) : bits != 0; break;
  case QC_DT_INT8: ((int8_t *)p)[i] = is_float ? (int8_t)float_to_signed(f, -128, 127) : (int8_t)bits; break;
  case QC_DT_INT16: ((int16_t *)p)[i] = is_float ? (int16_t)float_to_signed(f, -32768, 32767) : (int16_t)bits; break;
  case QC_DT_INT32:
    ((int32_t *)p)[i] = is_float ? (int32_t)float_to_signed(f, -2147483648.0, 2147483647.0) : (int32_t)bits;
    break;
  case QC_DT_INT64:
    ((int64_t *)p)[i] = is_float ? float_to_signed(f, -9223372036854775808.0, 9223372036854775807.0) : (int64_t)bits;
    break;
  case QC_DT_UINT8: ((uint8_t *)p)[i] = is_float ? (uint8_t)float_to_unsigned(f, 255) : (uint8_t)bits; break;
  case QC_DT_UINT16: ((uint16_t *)p)[i] = is_float ? (uint16_t)float_to_unsigned(f, 65535) : (uint16_t)bits; break;
  case QC_DT_UINT32: ((uint32_t *)p)[i] = is_float ? (uint32_t)float_to_unsigned(f, 4294967295.0) : (uint32_t)bits; break;
  case QC_DT_UINT64: ((uint64_t *)p)[i] = is_float ? float_to_unsigned(f, 18446744073709551615.0) : bits; break;
  default: break;
  }
}

int qc_sl_store_f64(qc_dtype dt, double v, void *dst) {
  if (!castable(dt))
    return qc_fail(QC_EUNSUPPORTED, "conversion to %s is not supported", qc_dtype_name(dt));
  scalar_val s = {VAL_FLOAT, v, 0, 0};
  store_val(dt, dst, 0, s);
  return QC_OK;
}

int qc_sl_convert(const qc_tensor *src, qc_tensor *dst) {
  if (!castable(src->dtype) || !castable(dst->dtype))
    return qc_fail(QC_EUNSUPPORTED, "cast from %s to %s is not supported", qc_dtype_name(src->dtype),
                   qc_dtype_name(dst->dtype));
  if (dst->numel != src->numel)
    return qc_fail(QC_EINTERNAL, "convert: element count mismatch");
  if (src->dtype == dst->dtype) {
    memcpy(dst->data, src->data, src->nbytes);
    return QC_OK;
  }
  const int64_t n = src->numel;
  const qc_dtype sd = src->dtype, dd = dst->dtype;
  if (sd == QC_DT_FLOAT && dd != QC_DT_FLOAT16 && dd != QC_DT_BFLOAT16 && dd != QC_DT_BOOL) {
    /* Common case kept simple for the compiler: float source. */
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
      scalar_val v = {VAL_FLOAT, ((const float *)src->data)[i], 0, 0};
      store_val(dd, dst->data, i, v);
    }
    return QC_OK;
  }
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++)
    store_val(dd, dst->data, i, load_val(sd, src->data, i));
  return QC_OK;
}

/* ---- Cast / CastLike ---- */

/* Before opset 19 the ONNX reference (and its test data) converts to bfloat16 by
 * truncating the low 16 bits; from 19 on it rounds to nearest even. */
static int convert_for_opset(const qc_kernel *k, const qc_tensor *x, qc_tensor *y) {
  if (y->dtype != QC_DT_BFLOAT16 || x->dtype == QC_DT_BFLOAT16 || k->opset >= 19)
    return qc_sl_convert(x, y);
  for (int64_t i = 0; i < x->numel; i++) {
    scalar_val v = load_val(x->dtype, x->data, i);
    float f = (float)(v.kind == VAL_FLOAT ? v.f : v.kind == VAL_SIGNED ? (double)v.i : (double)v.u);
    uint32_t bits;
    memcpy(&bits, &f, 4);
    ((uint16_t *)y->data)[i] = isnan(f) ? qc_float_to_bfloat16(f) : (uint16_t)(bits >> 16);
  }
  return QC_OK;
}

int qc_cast_shape(qc_kernel *k) {
  int64_t to;
  QC_TRY(qc_attr_int(&k->attrs, "to", 0, &to));
  if (!qc_attr_has(&k->attrs, "to"))
    return qc_fail(QC_EINVAL, "missing attribute 'to'");
  if (!qc_dtype_is_valid((int)to) || to != (int)to)
    return qc_fail(QC_EINVAL, "invalid target type %lld", (long long)to);
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input");
  if (!castable(x->dtype) || !castable((qc_dtype)to))
    return qc_fail(QC_EUNSUPPORTED, "cast from %s to %s is not supported", qc_dtype_name(x->dtype),
                   qc_dtype_name((qc_dtype)to));
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, (qc_dtype)to, x->ndim, x->dims));
  return convert_for_opset(k, x, y);
}

int qc_cast_like_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0), *like = qc_in(k, 1);
  if (!x || !like)
    return qc_fail(QC_EINVAL, "CastLike needs 2 inputs");
  if (!castable(x->dtype) || !castable(like->dtype))
    return qc_fail(QC_EUNSUPPORTED, "cast from %s to %s is not supported", qc_dtype_name(x->dtype),
                   qc_dtype_name(like->dtype));
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, like->dtype, x->ndim, x->dims));
  return convert_for_opset(k, x, y);
}

/* ---- Constant ---- */

/* priv for Constant: header followed by the value's bytes. */
typedef struct {
  qc_dtype dtype;
  int ndim;
  int64_t dims[QC_MAX_DIMS];
  size_t nbytes;
  unsigned char data[];
} const_value;

static int make_const_priv(qc_kernel *k, const qc_tensor *t) {
  const_value *c = malloc(sizeof *c + t->nbytes);
  if (!c)
    return qc_fail(QC_ENOMEM, "out of memory");
  c->dtype = t->dtype;
  c->ndim = t->ndim;
  memcpy(c->dims, t->dims, sizeof c->dims);
  c->nbytes = t->nbytes;
  if (t->nbytes)
    memcpy(c->data, t->data, t->nbytes);
  k->priv = c;
  return QC_OK;
}

int qc_constant_init(qc_kernel *k) {
  static const char *unsupported[] = {"sparse_value", "value_string", "value_strings"};
  for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
    if (qc_attr_has(&k->attrs, unsupported[i]))
      return qc_fail(QC_EUNSUPPORTED, "Constant with attribute '%s' is not supported", unsupported[i]);
  qc_tensor t = {0};
  int rc;
  if (qc_attr_has(&k->attrs, "value")) {
    QC_TRY(qc_attr_tensor(&k->attrs, "value", &t));
  } else if (qc_attr_has(&k->attrs, "value_float")) {
    float f;
    QC_TRY(qc_attr_float(&k->attrs, "value_float", 0, &f));
    QC_TRY(qc_tensor_alloc(&t, QC_DT_FLOAT, 0, no_dims));
    qc_f32(&t)[0] = f;
  } else if (qc_attr_has(&k->attrs, "value_int")) {
    int64_t v;
    QC_TRY(qc_attr_int(&k->attrs, "value_int", 0, &v));
    QC_TRY(qc_tensor_alloc(&t, QC_DT_INT64, 0, no_dims));
    qc_i64(&t)[0] = v;
  } else if (qc_attr_has(&k->attrs, "value_floats")) {
    const float *v;
    size_t n;
    QC_TRY(qc_attr_floats(&k->attrs, "value_floats", &v, &n));
    int64_t d = (int64_t)n;
    QC_TRY(qc_tensor_alloc(&t, QC_DT_FLOAT, 1, &d));
    if (n)
      memcpy(t.data, v, n * sizeof *v);
  } else if (qc_attr_has(&k->attrs, "value_ints")) {
    const int64_t *v;
    size_t n;
    QC_TRY(qc_attr_ints(&k->attrs, "value_ints", &v, &n));
    int64_t d = (int64_t)n;
    QC_TRY(qc_tensor_alloc(&t, QC_DT_INT64, 1, &d));
    if (n)
      memcpy(t.data, v, n * sizeof *v);
  } else {
    return qc_fail(QC_EINVAL, "Constant has no value attribute");
  }
  rc = make_const_priv(k, &t);
  qc_tensor_release(&t);
  return rc;
}

int qc_constant_shape(qc_kernel *k) {
  const const_value *c = k->priv;
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, c->dtype, c->ndim, c->dims));
  if (c->nbytes)
    memcpy(y->data, c->data, c->nbytes);
  return QC_OK;
}

/* ---- ConstantOfShape ---- */

int qc_constant_of_shape_init(qc_kernel *k) {
  qc_tensor t = {0};
  if (qc_attr_has(&k->attrs, "value")) {
    QC_TRY(qc_attr_tensor(&k->attrs, "value", &t));
    if (t.numel != 1) {
      qc_tensor_release(&t);
      return qc_fail(QC_EINVAL, "ConstantOfShape 'value' must hold exactly one element");
    }
  } else {
    QC_TRY(qc_tensor_alloc(&t, QC_DT_FLOAT, 0, no_dims));
  }
  int rc = make_const_priv(k, &t);
  qc_tensor_release(&t);
  return rc;
}

int qc_constant_of_shape_shape(qc_kernel *k) {
  const const_value *c = k->priv;
  const qc_tensor *s = qc_in(k, 0);
  if (!s)
    return qc_fail(QC_EINVAL, "missing shape input");
  int64_t dims[QC_MAX_DIMS];
  int n;
  QC_TRY(qc_sl_read_ints(s, "shape", dims, QC_MAX_DIMS, &n));
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc_zeroed(k, y, c->dtype, n, dims)); /* a zero value skips the fill below */
  const size_t es = c->nbytes;
  unsigned char *p = y->data;
  int all_zero = 1;
  for (size_t b = 0; b < es; b++)
    all_zero &= c->data[b] == 0;
  if (!all_zero)
    for (int64_t i = 0; i < y->numel; i++)
      memcpy(p + (size_t)i * es, c->data, es);
  return QC_OK;
}

/* ---- Identity / Dropout ---- */

static int copy_input(qc_kernel *k, const qc_tensor *x) {
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, x->dtype, x->ndim, x->dims));
  if (x->nbytes)
    memcpy(y->data, x->data, x->nbytes);
  return QC_OK;
}

int qc_identity_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input");
  return copy_input(k, x);
}

int qc_dropout_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input");
  if (k->opset >= 12) {
    const qc_tensor *ratio = qc_in(k, 1), *training = qc_in(k, 2);
    double r = (ratio && ratio->numel > 0) ? qc_tensor_get_f64(ratio, 0) : 0.5;
    if (training && training->numel > 0 && qc_tensor_get_i64(training, 0) != 0 && r != 0)
      return qc_fail(QC_EUNSUPPORTED, "training-mode Dropout (random masking) is not supported");
  } else if (k->opset < 7) {
    int64_t is_test;
    QC_TRY(qc_attr_int(&k->attrs, "is_test", 0, &is_test));
    float r;
    QC_TRY(qc_attr_float(&k->attrs, "ratio", 0.5f, &r));
    if (!is_test && r != 0)
      return qc_fail(QC_EUNSUPPORTED, "training-mode Dropout (is_test=0) is not supported");
  }
  QC_TRY(copy_input(k, x));
  qc_tensor *mask = qc_out(k, 1);
  if (mask) {
    /* Before opset 10 the mask has the input's type. */
    qc_dtype mdt = k->opset >= 10 ? QC_DT_BOOL : x->dtype;
    QC_TRY(qc_out_alloc(k, mask, mdt, x->ndim, x->dims));
    for (int64_t i = 0; i < mask->numel; i++)
      QC_TRY(qc_sl_store_f64(mdt, 1.0, (char *)mask->data + (size_t)i * qc_dtype_size(mdt)));
  }
  return QC_OK;
}

/* ---- Range ---- */

int qc_range_shape(qc_kernel *k) {
  const qc_tensor *ts = qc_in(k, 0), *tl = qc_in(k, 1), *td = qc_in(k, 2);
  if (!ts || !tl || !td)
    return qc_fail(QC_EINVAL, "Range needs start, limit and delta");
  if (ts->numel != 1 || tl->numel != 1 || td->numel != 1)
    return qc_fail(QC_EINVAL, "Range inputs must be scalars");
  if (tl->dtype != ts->dtype || td->dtype != ts->dtype)
    return qc_fail(QC_EINVAL, "Range inputs must share one type");
  const qc_dtype dt = ts->dtype;
  qc_tensor *y = qc_out(k, 0);
  if (dt == QC_DT_FLOAT || dt == QC_DT_DOUBLE) {
    double s = qc_tensor_get_f64(ts, 0), l = qc_tensor_get_f64(tl, 0), d = qc_tensor_get_f64(td, 0);
    if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
      return qc_fail(QC_EINVAL, "Range needs finite inputs and a nonzero delta");
    double cnt = ceil((l - s) / d);
    if (cnt < 0)
      cnt = 0;
    if (cnt > 9e15)
      return qc_fail(QC_ELIMIT, "Range output too large");
    int64_t n = (int64_t)cnt;
    QC_TRY(qc_out_alloc(k, y, dt, 1, &n));
    for (int64_t i = 0; i < n; i++) {
      if (dt == QC_DT_FLOAT)
        qc_f32(y)[i] = (float)(qc_f32(ts)[0] + (float)i * qc_f32(td)[0]);
      else
        ((double *)y->data)[i] = s + (double)i * d;
    }
    return QC_OK;
  }
  if (dt != QC_DT_INT16 && dt != QC_DT_INT32 && dt != QC_DT_INT64)
    return qc_fail(QC_EUNSUPPORTED, "Range of type %s is not supported", qc_dtype_name(dt));
  int64_t s = qc_tensor_get_i64(ts, 0), l = qc_tensor_get_i64(tl, 0), d = qc_tensor_get_i64(td, 0);
  if (d == 0)
    return qc_fail(QC_EINVAL, "Range delta must be nonzero");
  /* ceil((l - s) / d) in 128-bit-free arithmetic: inputs of int64 may overflow l - s. */
  long double span = (long double)l - (long double)s;
  long double cnt = ceill(span / (long double)d);
  if (cnt < 0)
    cnt = 0;
  if (cnt > 9e15L)
    return qc_fail(QC_ELIMIT, "Range output too large");
  int64_t n = (int64_t)cnt;
  QC_TRY(qc_out_alloc(k, y, dt, 1, &n));
  for (int64_t i = 0; i < n; i++) {
    /* unsigned arithmetic: wraps instead of signed overflow at the int64 extremes */
    scalar_val v = {VAL_SIGNED, 0, (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d), 0};
    store_val(dt, y->data, i, v);
  }
  return QC_OK;
}

/* ---- NonZero ---- */

static int is_nonzero(const qc_tensor *t, int64_t i) {
  scalar_val v = load_val(t->dtype, t->data, i);
  return v.kind == VAL_FLOAT ? v.f != 0 : v.kind == VAL_SIGNED ? v.i != 0 : v.u != 0;
}

int qc_nonzero_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input");
  if (!castable(x->dtype))
    return qc_fail(QC_EUNSUPPORTED, "NonZero of type %s is not supported", qc_dtype_name(x->dtype));
  int64_t nnz = 0;
  for (int64_t i = 0; i < x->numel; i++)
    nnz += is_nonzero(x, i);
  /* A scalar is treated as a 1-element 1-D tensor, as onnxruntime does. */
  int rank = x->ndim ? x->ndim : 1;
  int64_t dims[2] = {rank, nnz};
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, QC_DT_INT64, 2, dims));
  int64_t col = 0;
  for (int64_t i = 0; i < x->numel; i++) {
    if (!is_nonzero(x, i))
      continue;
    int64_t rem = i;
    for (int d = rank - 1; d >= 0; d--) {
      int64_t dim = x->ndim ? x->dims[d] : 1;
      qc_i64(y)[d * nnz + col] = rem % dim;
      rem /= dim;
    }
    col++;
  }
  return QC_OK;
}

/* ---- EyeLike ---- */

int qc_eye_like_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input");
  if (x->ndim != 2)
    return qc_fail(QC_EINVAL, "EyeLike needs a 2-D input, got rank %d", x->ndim);
  int64_t dtype, diag;
  QC_TRY(qc_attr_int(&k->attrs, "dtype", x->dtype, &dtype));
  QC_TRY(qc_attr_int(&k->attrs, "k", 0, &diag));
  if (!qc_dtype_is_valid((int)dtype) || !castable((qc_dtype)dtype))
    return qc_fail(QC_EUNSUPPORTED, "EyeLike output type %lld is not supported", (long long)dtype);
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc_zeroed(k, y, (qc_dtype)dtype, 2, x->dims)); /* only the diagonal is written */
  size_t es = qc_dtype_size(y->dtype);
  for (int64_t r = 0; r < x->dims[0]; r++) {
    if (diag > x->dims[1] || diag < -x->dims[0])
      break;
    int64_t c = r + diag;
    if (c >= 0 && c < x->dims[1])
      QC_TRY(qc_sl_store_f64(y->dtype, 1.0, (char *)y->data + (size_t)(r * x->dims[1] + c) * es));
  }
  return QC_OK;
}
