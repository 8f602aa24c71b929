#include "tensor.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static size_t byte_limit = (size_t)4 << 30;
static pthread_once_t byte_limit_once = PTHREAD_ONCE_INIT;

/* QCONVERT_MAX_TENSOR_BYTES: a positive byte count, optionally with a K, M,
 * G or T suffix (powers of 1024). A bad value is reported once on stderr and
 * the default kept. */
static void byte_limit_init(void) {
  const char *s = getenv("QCONVERT_MAX_TENSOR_BYTES");
  if (!s || !*s)
    return;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  int shift = 0;
  switch (*end) {
  case 'k': case 'K': shift = 10; end++; break;
  case 'm': case 'M': shift = 20; end++; break;
  case 'g': case 'G': shift = 30; end++; break;
  case 't': case 'T': shift = 40; end++; break;
  default: break;
  }
  if (errno || *s < '0' || *s > '9' || *end || v == 0 || v > (SIZE_MAX >> shift)) {
    fprintf(stderr, "qconvert: warning: ignoring QCONVERT_MAX_TENSOR_BYTES='%s' (expected a positive byte count "
                    "such as 1073741824 or 1G); using the default limit of %zu bytes\n", s, byte_limit);
    return;
  }
  byte_limit = (size_t)v << shift;
}

void qc_set_tensor_byte_limit(size_t bytes) {
  pthread_once(&byte_limit_once, byte_limit_init);
  byte_limit = bytes;
}
size_t qc_tensor_byte_limit(void) {
  pthread_once(&byte_limit_once, byte_limit_init);
  return byte_limit;
}

size_t qc_dtype_size(qc_dtype dt) {
  switch (dt) {
  case QC_DT_FLOAT: case QC_DT_INT32: case QC_DT_UINT32: return 4;
  case QC_DT_UINT8: case QC_DT_INT8: case QC_DT_BOOL: return 1;
  case QC_DT_FLOAT8E4M3FN: case QC_DT_FLOAT8E4M3FNUZ:
  case QC_DT_FLOAT8E5M2: case QC_DT_FLOAT8E5M2FNUZ: return 1;
  case QC_DT_UINT16: case QC_DT_INT16: case QC_DT_FLOAT16: case QC_DT_BFLOAT16: return 2;
  case QC_DT_INT64: case QC_DT_UINT64: case QC_DT_DOUBLE: case QC_DT_COMPLEX64: return 8;
  case QC_DT_COMPLEX128: return 16;
  default: return 0;
  }
}

int qc_dtype_is_computable(qc_dtype dt) {
  return dt != QC_DT_UNDEFINED && dt != QC_DT_STRING && dt != QC_DT_COMPLEX64 && dt != QC_DT_COMPLEX128 &&
         dt < QC_DT_FLOAT8E4M3FN;
}

const char *qc_dtype_name(qc_dtype dt) {
  static const char *names[QC_DT_COUNT] = {
      "undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64",
      "string", "bool", "float16", "double", "uint32", "uint64", "complex64",
      "complex128", "bfloat16", "float8e4m3fn", "float8e4m3fnuz", "float8e5m2",
      "float8e5m2fnuz", "uint4", "int4", "float4e2m1"};
  if ((int)dt >= 0 && dt < QC_DT_COUNT)
    return names[dt];
  static _Thread_local char buf[32];
  snprintf(buf, sizeof buf, "dtype(%d)", (int)dt);
  return buf;
}

int qc_dtype_is_valid(int dt) { return dt > 0 && dt < QC_DT_COUNT; }

int qc_shape_numel(int ndim, const int64_t *dims, int64_t *numel) {
  if (ndim < 0 || ndim > QC_MAX_DIMS)
    return qc_fail(QC_EUNSUPPORTED, "tensor rank %d exceeds the supported maximum %d", ndim, QC_MAX_DIMS);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] < 0)
      return qc_fail(QC_EINVAL, "negative dimension %lld", (long long)dims[i]);
    if (dims[i] != 0 && n > INT64_MAX / dims[i])
      return qc_fail(QC_ELIMIT, "tensor element count overflows");
    n *= dims[i];
  }
  *numel = n;
  return QC_OK;
}

int qc_shape_bytes(qc_dtype dt, int ndim, const int64_t *dims, size_t *nbytes) {
  int64_t n;
  QC_TRY(qc_shape_numel(ndim, dims, &n));
  size_t es = qc_dtype_size(dt);
  if (es == 0)
    return qc_fail(QC_EUNSUPPORTED, "tensors of type %s are not supported", qc_dtype_name(dt));
  if ((uint64_t)n > (uint64_t)(SIZE_MAX / es) || (size_t)n * es > qc_tensor_byte_limit()) {
    char s[128];
    return qc_fail(QC_ELIMIT, "tensor of shape %s (%s) exceeds the tensor size limit of %zu bytes (QCONVERT_MAX_TENSOR_BYTES)",
                   qc_shape_str(ndim, dims, s, sizeof s), qc_dtype_name(dt), byte_limit);
  }
  *nbytes = (size_t)n * es;
  return QC_OK;
}

static int tensor_alloc(qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims, int zeroed) {
  size_t nbytes;
  QC_TRY(qc_shape_bytes(dt, ndim, dims, &nbytes));
  int64_t dcopy[QC_MAX_DIMS];
  if (ndim) /* dims may be NULL for scalars */
    memcpy(dcopy, dims, sizeof(int64_t) * (size_t)ndim); /* dims may alias t->dims */
  qc_tensor_release(t);
  /* malloc(0) may return NULL; keep a valid pointer for empty tensors. */
  void *p = zeroed ? calloc(nbytes ? nbytes : 1, 1) : malloc(nbytes ? nbytes : 1);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory allocating %zu bytes", nbytes);
  t->dtype = dt;
  t->ndim = ndim;
  memcpy(t->dims, dcopy, sizeof(int64_t) * (size_t)ndim);
  t->numel = (int64_t)(nbytes / qc_dtype_size(dt));
  t->data = p;
  t->nbytes = nbytes;
  t->owns_data = 1;
  return QC_OK;
}

int qc_tensor_alloc(qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims) {
  return tensor_alloc(t, dt, ndim, dims, 1);
}

int qc_tensor_alloc_uninit(qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims) {
  return tensor_alloc(t, dt, ndim, dims, 0);
}

void qc_tensor_wrap(qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims, void *data) {
  int64_t dcopy[QC_MAX_DIMS];
  if (ndim)
    memcpy(dcopy, dims, sizeof(int64_t) * (size_t)ndim);
  qc_tensor_release(t);
  t->dtype = dt;
  t->ndim = ndim;
  memcpy(t->dims, dcopy, sizeof(int64_t) * (size_t)ndim);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= dims[i];
  t->numel = n;
  t->data = data;
  t->nbytes = (size_t)n * qc_dtype_size(dt);
  t->owns_data = 0;
}

void qc_tensor_release(qc_tensor *t) {
  if (t->owns_data)
    free(t->data);
  memset(t, 0, sizeof *t);
}

int qc_tensor_copy(qc_tensor *dst, const qc_tensor *src) {
  if (dst == src)
    return QC_OK;
  QC_TRY(qc_tensor_alloc(dst, src->dtype, src->ndim, src->dims));
  if (src->nbytes)
    memcpy(dst->data, src->data, src->nbytes);
  return QC_OK;
}

int qc_tensor_set_shape(qc_tensor *t, int ndim, const int64_t *dims) {
  int64_t n;
  QC_TRY(qc_shape_numel(ndim, dims, &n));
  if (n != t->numel)
    return qc_fail(QC_EINVAL, "cannot reshape %lld elements to %lld", (long long)t->numel, (long long)n);
  int64_t dcopy[QC_MAX_DIMS];
  memcpy(dcopy, dims, sizeof(int64_t) * (size_t)ndim);
  t->ndim = ndim;
  memcpy(t->dims, dcopy, sizeof(int64_t) * (size_t)ndim);
  return QC_OK;
}

const char *qc_shape_str(int ndim, const int64_t *dims, char *buf, size_t n) {
  if (n == 0)
    return buf;
  buf[0] = 0;
  if (ndim == 0) {
    snprintf(buf, n, "scalar");
    return buf;
  }
  size_t off = 0;
  for (int i = 0; i < ndim && off < n; i++)
    off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? "x" : "", (long long)dims[i]);
  return buf;
}

double qc_tensor_get_f64(const qc_tensor *t, int64_t i) {
  const void *d = t->data;
  switch (t->dtype) {
  case QC_DT_FLOAT: return ((const float *)d)[i];
  case QC_DT_DOUBLE: return ((const double *)d)[i];
  case QC_DT_FLOAT16: return qc_half_to_float(((const uint16_t *)d)[i]);
  case QC_DT_BFLOAT16: return qc_bfloat16_to_float(((const uint16_t *)d)[i]);
  default: return (double)qc_tensor_get_i64(t, i);
  }
}

int64_t qc_tensor_get_i64(const qc_tensor *t, int64_t i) {
  const void *d = t->data;
  switch (t->dtype) {
  case QC_DT_INT64: return ((const int64_t *)d)[i];
  case QC_DT_INT32: return ((const int32_t *)d)[i];
  case QC_DT_INT16: return ((const int16_t *)d)[i];
  case QC_DT_INT8: return ((const int8_t *)d)[i];
  case QC_DT_UINT8: case QC_DT_BOOL: return ((const uint8_t *)d)[i];
  case QC_DT_UINT16: return ((const uint16_t *)d)[i];
  case QC_DT_UINT32: return ((const uint32_t *)d)[i];
  case QC_DT_UINT64: return (int64_t)((const uint64_t *)d)[i];
  case QC_DT_FLOAT: case QC_DT_DOUBLE: case QC_DT_FLOAT16: case QC_DT_BFLOAT16:
    return (int64_t)qc_tensor_get_f64(t, i);
  default: return 0; /* strings/complex never reach numeric kernels; no recursion */
  }
}

float qc_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        exp--;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t qc_float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) /* inf or nan */
    return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
  if (absx >= 0x477ff000u) /* rounds to >= 65520 -> inf */
    return (uint16_t)(sign | 0x7c00);
  if (absx < 0x38800000u) { /* subnormal half or zero */
    if (absx < 0x33000000u)
      return (uint16_t)sign;
    float a;
    memcpy(&a, &absx, 4);
    float q = a * 16777216.0f; /* 2^24: one half-subnormal ulp */
    float rq = nearbyintf(q);
    return (uint16_t)(sign | (uint32_t)rq);
  }
  uint32_t mant = absx & 0x7fffff;
  uint32_t exp = (absx >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
    h++;
  return (uint16_t)(sign | h);
}

float qc_bfloat16_to_float(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t qc_float_to_bfloat16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t)((x >> 16) | 0x40);
  uint32_t lsb = (x >> 16) & 1;
  x += 0x7fff + lsb;
  return (uint16_t)(x >> 16);
}
