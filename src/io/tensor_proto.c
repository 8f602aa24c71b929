#define _POSIX_C_SOURCE 200809L
#include "tensor_proto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fileio.h"
#include "../core/readfile.h"
#include "../core/status.h"
#include "onnx.pb-c.h"

#define TP_NAME(tp) ((tp)->name ? (tp)->name : "")

int qc_tensor_proto_is_external(const Onnx__TensorProto *tp) {
  return tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

void qc_tensor_proto_take_raw(Onnx__TensorProto *tp, void *data, size_t len) {
  for (size_t k = 0; k < tp->n_external_data; k++)
    onnx__string_string_entry_proto__free_unpacked(tp->external_data[k], NULL);
  free(tp->external_data);
  tp->external_data = NULL;
  tp->n_external_data = 0;
  tp->has_data_location = 0;
  tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
  free(tp->raw_data.data);
  tp->has_raw_data = 1;
  tp->raw_data.len = len;
  tp->raw_data.data = data;
}

int qc_resolve_external_path(const char *model_dir, const char *location, char *buf, size_t n) {
  if (!location || !*location)
    return qc_fail(QC_EINVAL, "external data has no location");
  if (location[0] == '/')
    return qc_fail(QC_EINVAL, "external data location '%s' is absolute; only paths inside the model's directory are allowed", location);
  /* Reject any ".." component before touching the file system. */
  for (const char *p = location; *p;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.')
      return qc_fail(QC_EINVAL, "external data location '%s' escapes the model's directory", location);
    if (!e)
      break;
    p = e + 1;
  }
  char joined[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
  if ((size_t)snprintf(joined, sizeof joined, "%s/%s", model_dir, location) >= sizeof joined)
    return qc_fail(QC_EINVAL, "external data path too long: '%s'", location);
  if (!realpath(model_dir, real_dir))
    return qc_fail(QC_EIO, "%s: %s", model_dir, strerror(errno));
  if (!realpath(joined, real_file))
    return qc_fail(QC_EIO, "external data file '%s': %s", joined, strerror(errno));
  size_t dl = strlen(real_dir);
  /* A symlink may still point outside: compare canonical prefixes. */
  if (strncmp(real_file, real_dir, dl) != 0 || (real_file[dl] != '/' && strcmp(real_dir, "/") != 0))
    return qc_fail(QC_EINVAL, "external data location '%s' resolves outside the model's directory", location);
  if (strlen(real_file) >= n)
    return qc_fail(QC_EINVAL, "external data path too long: '%s'", location);
  strcpy(buf, real_file);
  return QC_OK;
}

/* Allocates `out` only once the file is known to hold the bytes, so a tiny
 * model cannot make us reserve gigabytes for data that is not there. */
static int read_external(const Onnx__TensorProto *tp, const char *model_dir, qc_tensor *out, size_t nbytes) {
  const char *location = NULL;
  long long offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *kv = tp->external_data[i];
    if (!kv->key || !kv->value)
      continue;
    char *end;
    if (strcmp(kv->key, "location") == 0) {
      location = kv->value;
    } else if (strcmp(kv->key, "offset") == 0) {
      errno = 0;
      offset = strtoll(kv->value, &end, 10);
      if (errno || *end || offset < 0)
        return qc_fail(QC_EINVAL, "tensor '%s': bad external data offset '%s'", TP_NAME(tp), kv->value);
    } else if (strcmp(kv->key, "length") == 0) {
      errno = 0;
      length = strtoll(kv->value, &end, 10);
      if (errno || *end || length < 0)
        return qc_fail(QC_EINVAL, "tensor '%s': bad external data length '%s'", TP_NAME(tp), kv->value);
    }
  }
  if (!model_dir)
    return qc_fail(QC_EINVAL, "tensor '%s' uses external data, which is not allowed here", TP_NAME(tp));
  if (length >= 0 && (size_t)length != nbytes)
    return qc_fail(QC_EINVAL, "tensor '%s': external data length %lld does not match its shape (%zu bytes)",
                   TP_NAME(tp), length, nbytes);
  char path[PATH_MAX];
  int rc = qc_resolve_external_path(model_dir, location, path, sizeof path);
  if (rc < 0)
    return qc_fail_context(rc, "tensor '%s'", TP_NAME(tp));
  /* A FIFO shipped next to the model must neither block the open nor be read. */
  FILE *f;
  uint64_t file_size;
  if ((rc = qc_fopen_regular(path, &f, &file_size)) < 0)
    return qc_fail_context(rc, "tensor '%s': external data", TP_NAME(tp));
  int ok = (unsigned long long)offset <= file_size && nbytes <= file_size - (unsigned long long)offset;
  if (ok) {
    rc = qc_tensor_alloc(out, (qc_dtype)tp->data_type, (int)tp->n_dims, tp->dims);
    if (rc < 0) {
      fclose(f);
      return qc_fail_context(rc, "tensor '%s'", TP_NAME(tp));
    }
    ok = fseeko(f, (off_t)offset, SEEK_SET) == 0 && (nbytes == 0 || fread(out->data, 1, nbytes, f) == nbytes);
  }
  fclose(f);
  if (!ok)
    return qc_fail(QC_EINVAL, "tensor '%s': external file '%s' is too short for offset %lld + %zu bytes",
                   TP_NAME(tp), location, offset, nbytes);
  return QC_OK;
}

static int count_mismatch(const Onnx__TensorProto *tp, const char *field, size_t have, int64_t want) {
  return qc_fail(QC_EINVAL, "tensor '%s': %s has %zu values but the shape needs %lld", TP_NAME(tp), field,
                 have, (long long)want);
}

/* Checks dtype, rank, segmentation and shape; the dtype and byte size. */
static int check_header(const Onnx__TensorProto *tp, int *dt_out, size_t *nbytes) {
  int dt = tp->has_data_type ? tp->data_type : 0;
  if (!qc_dtype_is_valid(dt))
    return qc_fail(QC_EINVAL, "tensor '%s' has invalid data type %d", TP_NAME(tp), dt);
  if (dt == QC_DT_STRING || qc_dtype_size((qc_dtype)dt) == 0)
    return qc_fail(QC_EUNSUPPORTED, "tensor '%s' has type %s, which is not supported", TP_NAME(tp),
                   qc_dtype_name((qc_dtype)dt));
  if (tp->n_dims > QC_MAX_DIMS)
    return qc_fail(QC_EUNSUPPORTED, "tensor '%s' has rank %zu (max %d)", TP_NAME(tp), tp->n_dims, QC_MAX_DIMS);
  if (tp->segment)
    return qc_fail(QC_EUNSUPPORTED, "tensor '%s' is segmented, which is not supported", TP_NAME(tp));
  int rc = qc_shape_bytes((qc_dtype)dt, (int)tp->n_dims, tp->dims, nbytes);
  if (rc < 0)
    return qc_fail_context(rc, "tensor '%s'", TP_NAME(tp));
  *dt_out = dt;
  return QC_OK;
}

int qc_tensor_from_proto(const Onnx__TensorProto *tp, const char *model_dir, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  /* Validate the shape and check that the data is all there before allocating. */
  int dt;
  size_t nb;
  QC_TRY(check_header(tp, &dt, &nb));
  int64_t n = (int64_t)(nb / qc_dtype_size((qc_dtype)dt));
  int rc;
  if (qc_tensor_proto_is_external(tp)) {
    rc = read_external(tp, model_dir, out, nb);
    if (rc < 0)
      qc_tensor_release(out);
    return rc;
  }
  if (tp->has_raw_data) {
    if (tp->raw_data.len != nb)
      return qc_fail(QC_EINVAL, "tensor '%s': raw_data has %zu bytes but shape %s of %s needs %zu", TP_NAME(tp),
                     tp->raw_data.len, qc_shape_str((int)tp->n_dims, tp->dims, (char[96]){0}, 96),
                     qc_dtype_name((qc_dtype)dt), nb);
  } else {
    size_t have;
    const char *field;
    int64_t want = n;
    switch (dt) {
    case QC_DT_FLOAT: case QC_DT_COMPLEX64: have = tp->n_float_data, field = "float_data"; break;
    case QC_DT_DOUBLE: case QC_DT_COMPLEX128: have = tp->n_double_data, field = "double_data"; break;
    case QC_DT_INT64: have = tp->n_int64_data, field = "int64_data"; break;
    case QC_DT_UINT32: case QC_DT_UINT64: have = tp->n_uint64_data, field = "uint64_data"; break;
    default: have = tp->n_int32_data, field = "int32_data"; break;
    }
    if (dt == QC_DT_COMPLEX64 || dt == QC_DT_COMPLEX128)
      want = 2 * n;
    if ((int64_t)have != want)
      return count_mismatch(tp, field, have, want);
  }
  rc = qc_tensor_alloc(out, (qc_dtype)dt, (int)tp->n_dims, tp->dims);
  if (rc < 0)
    return qc_fail_context(rc, "tensor '%s'", TP_NAME(tp));
  if (tp->has_raw_data) {
    if (nb)
      memcpy(out->data, tp->raw_data.data, nb);
  } else {
    switch (dt) {
    case QC_DT_FLOAT:
    case QC_DT_COMPLEX64: {
      int64_t want = dt == QC_DT_COMPLEX64 ? 2 * n : n;
      if ((int64_t)tp->n_float_data != want)
        rc = count_mismatch(tp, "float_data", tp->n_float_data, want);
      else if (want)
        memcpy(out->data, tp->float_data, nb);
      break;
    }
    case QC_DT_DOUBLE:
    case QC_DT_COMPLEX128: {
      int64_t want = dt == QC_DT_COMPLEX128 ? 2 * n : n;
      if ((int64_t)tp->n_double_data != want)
        rc = count_mismatch(tp, "double_data", tp->n_double_data, want);
      else if (want)
        memcpy(out->data, tp->double_data, nb);
      break;
    }
    case QC_DT_INT64:
      if ((int64_t)tp->n_int64_data != n)
        rc = count_mismatch(tp, "int64_data", tp->n_int64_data, n);
      else if (n)
        memcpy(out->data, tp->int64_data, nb);
      break;
    case QC_DT_UINT32:
    case QC_DT_UINT64:
      if ((int64_t)tp->n_uint64_data != n) {
        rc = count_mismatch(tp, "uint64_data", tp->n_uint64_data, n);
      } else {
        for (int64_t i = 0; i < n; i++) {
          if (dt == QC_DT_UINT32)
            ((uint32_t *)out->data)[i] = (uint32_t)tp->uint64_data[i];
          else
            ((uint64_t *)out->data)[i] = tp->uint64_data[i];
        }
      }
      break;
    default: /* int32_data carries int32, int16, int8, uint16, uint8, bool, float16, bfloat16, fp8 */
      if ((int64_t)tp->n_int32_data != n) {
        rc = count_mismatch(tp, "int32_data", tp->n_int32_data, n);
      } else {
        size_t es = qc_dtype_size((qc_dtype)dt);
        for (int64_t i = 0; i < n; i++) {
          int32_t v = tp->int32_data[i];
          if (es == 4)
            ((int32_t *)out->data)[i] = v;
          else if (es == 2)
            ((uint16_t *)out->data)[i] = (uint16_t)v;
          else
            ((uint8_t *)out->data)[i] = (uint8_t)v;
        }
      }
      break;
    }
  }
  if (rc < 0)
    qc_tensor_release(out);
  return rc;
}

/* The proto field whose bytes are already the tensor's bytes (what
 * qc_tensor_from_proto would memcpy), or NULL. */
static const void *direct_bytes(const Onnx__TensorProto *tp, int dt, size_t nb) {
  int64_t n = (int64_t)(nb / qc_dtype_size((qc_dtype)dt));
  if (qc_tensor_proto_is_external(tp))
    return NULL;
  if (tp->has_raw_data)
    return tp->raw_data.len == nb ? tp->raw_data.data : NULL;
  switch (dt) {
  case QC_DT_FLOAT: return (int64_t)tp->n_float_data == n ? (const void *)tp->float_data : NULL;
  case QC_DT_COMPLEX64: return (int64_t)tp->n_float_data == 2 * n ? (const void *)tp->float_data : NULL;
  case QC_DT_DOUBLE: return (int64_t)tp->n_double_data == n ? (const void *)tp->double_data : NULL;
  case QC_DT_COMPLEX128: return (int64_t)tp->n_double_data == 2 * n ? (const void *)tp->double_data : NULL;
  case QC_DT_INT64: return (int64_t)tp->n_int64_data == n ? (const void *)tp->int64_data : NULL;
  default: return NULL;
  }
}

int qc_tensor_view_proto(const Onnx__TensorProto *tp, const char *model_dir, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  int dt;
  size_t nb;
  QC_TRY(check_header(tp, &dt, &nb));
  const void *src = nb ? direct_bytes(tp, dt, nb) : NULL;
  /* Typed element access needs natural alignment; protobuf-c's buffers are
   * malloc'd, so this only fails for hand-built protos. */
  size_t align = qc_dtype_size((qc_dtype)dt) > 8 ? 8 : qc_dtype_size((qc_dtype)dt);
  if (!src || (uintptr_t)src % align)
    return qc_tensor_from_proto(tp, model_dir, out);
  qc_tensor_wrap(out, (qc_dtype)dt, (int)tp->n_dims, tp->dims, (void *)src);
  return QC_OK;
}

int qc_tensor_to_proto(const qc_tensor *t, const char *name, Onnx__TensorProto **out) {
  *out = NULL;
  Onnx__TensorProto *tp = malloc(sizeof *tp);
  if (!tp)
    return qc_fail(QC_ENOMEM, "out of memory");
  onnx__tensor_proto__init(tp);
  tp->has_data_type = 1;
  tp->data_type = (int32_t)t->dtype;
  tp->n_dims = (size_t)t->ndim;
  tp->dims = malloc(sizeof(int64_t) * (size_t)(t->ndim ? t->ndim : 1));
  tp->name = name ? strdup(name) : NULL;
  tp->has_raw_data = 1;
  tp->raw_data.len = t->nbytes;
  tp->raw_data.data = malloc(t->nbytes ? t->nbytes : 1);
  if (!tp->dims || (name && !tp->name) || !tp->raw_data.data) {
    qc_tensor_proto_free(tp);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  memcpy(tp->dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
  if (t->nbytes)
    memcpy(tp->raw_data.data, t->data, t->nbytes);
  *out = tp;
  return QC_OK;
}

void qc_tensor_proto_free(Onnx__TensorProto *tp) {
  if (!tp)
    return;
  free(tp->dims);
  free(tp->name);
  free(tp->raw_data.data);
  free(tp);
}

int qc_tensor_read_pb(const char *path, qc_tensor *out, char **name) {
  uint8_t *buf;
  size_t len;
  memset(out, 0, sizeof *out);
  if (name)
    *name = NULL;
  QC_TRY(qc_read_file(path, qc_tensor_byte_limit() + (1u << 20), &buf, &len));
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
  free(buf);
  if (!tp)
    return qc_fail(QC_EINVAL, "%s: not a valid ONNX TensorProto", path);
  int rc = qc_tensor_from_proto(tp, NULL, out);
  if (rc < 0) {
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return qc_fail_context(rc, "%s", path);
  }
  if (name && tp->name && !(*name = strdup(tp->name)))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  onnx__tensor_proto__free_unpacked(tp, NULL);
  if (rc < 0)
    qc_tensor_release(out);
  return rc;
}

int qc_tensor_write_pb(const char *path, const qc_tensor *t, const char *name) {
  Onnx__TensorProto *tp;
  QC_TRY(qc_tensor_to_proto(t, name, &tp));
  size_t len = onnx__tensor_proto__get_packed_size(tp);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) {
    qc_tensor_proto_free(tp);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  onnx__tensor_proto__pack(tp, buf);
  qc_tensor_proto_free(tp);
  int rc = qc_write_file_atomic(path, buf, len);
  free(buf);
  return rc;
}
