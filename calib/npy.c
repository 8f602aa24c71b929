/* NumPy .npy reader and writer. The header is a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 224, 224), }
 * which we parse with a small hand-written scanner (no eval, bounded). */
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/readfile.h"
#include "core/status.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1u << 20) /* real headers are < 1 KiB; refuse silly ones */

typedef struct scanner {
  const char *p, *end;
} scanner;

static void skip_ws(scanner *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static int accept(scanner *s, char c) {
  skip_ws(s);
  if (s->p < s->end && *s->p == c) {
    s->p++;
    return 1;
  }
  return 0;
}

/* Quoted string ('x' or "x") into buf; 0 on syntax error or overflow. */
static int scan_string(scanner *s, char *buf, size_t n) {
  skip_ws(s);
  if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
    return 0;
  char q = *s->p++;
  size_t len = 0;
  while (s->p < s->end && *s->p != q) {
    if (len + 1 >= n || *s->p < 0x20 || *s->p > 0x7e) /* printable only: keys end up in messages */
      return 0;
    buf[len++] = *s->p++;
  }
  if (s->p >= s->end)
    return 0;
  s->p++;
  buf[len] = 0;
  return 1;
}

static int scan_word(scanner *s, const char *word) {
  skip_ws(s);
  size_t n = strlen(word);
  if ((size_t)(s->end - s->p) >= n && memcmp(s->p, word, n) == 0) {
    s->p += n;
    return 1;
  }
  return 0;
}

/* "(d0, d1, )" with non-negative decimal ints: a Python tuple, so one
 * element needs its comma ("(3)" is the int 3, which numpy refuses too). */
static int scan_shape(scanner *s, int *ndim, int64_t *dims, const char *name) {
  *ndim = 0;
  if (!accept(s, '('))
    return qc_fail(QC_EINVAL, "%s: .npy header 'shape' is not a tuple", name);
  for (;;) {
    if (accept(s, ')'))
      return QC_OK;
    skip_ws(s);
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
      return qc_fail(QC_EINVAL, "%s: .npy header has a malformed 'shape'", name);
    int64_t v = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
      if (v > (INT64_MAX - 9) / 10)
        return qc_fail(QC_EINVAL, "%s: .npy shape dimension is too large", name);
      v = v * 10 + (*s->p++ - '0');
    }
    if (s->p < s->end && *s->p == 'L') /* Python 2 longs */
      s->p++;
    if (*ndim >= QC_MAX_DIMS)
      return qc_fail(QC_EUNSUPPORTED, "%s: .npy array has more than %d dimensions", name, QC_MAX_DIMS);
    dims[(*ndim)++] = v;
    if (!accept(s, ',')) {
      if (*ndim > 1 && accept(s, ')'))
        return QC_OK;
      return qc_fail(QC_EINVAL, "%s: .npy header has a malformed 'shape'", name);
    }
  }
}

static int dtype_from_descr(const char *descr, qc_dtype *dt, const char *name) {
  char order = descr[0];
  const char *code = descr + 1;
  if (order == '>' && strcmp(code, "u1") && strcmp(code, "i1") && strcmp(code, "b1"))
    return qc_fail(QC_EUNSUPPORTED, "%s: big-endian .npy data ('%s') is not supported; save with '<' byte order",
                   name, descr);
  if (order != '<' && order != '=' && order != '|' && order != '>')
    return qc_fail(QC_EUNSUPPORTED, "%s: .npy dtype '%s' is not supported", name, descr);
  static const struct {
    const char *code;
    qc_dtype dt;
  } table[] = {{"f4", QC_DT_FLOAT}, {"f8", QC_DT_DOUBLE}, {"f2", QC_DT_FLOAT16}, {"i8", QC_DT_INT64},
               {"i4", QC_DT_INT32}, {"u1", QC_DT_UINT8},  {"i1", QC_DT_INT8},      {"b1", QC_DT_BOOL}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (strcmp(code, table[i].code) == 0) {
      *dt = table[i].dt;
      return QC_OK;
    }
  }
  return qc_fail(QC_EUNSUPPORTED,
                 "%s: .npy dtype '%s' is not supported (use <f4, <f8, <f2, <i8, <i4, |u1, |i1 or |b1)", name, descr);
}

int qc_npy_parse_header(const uint8_t *data, size_t len, const char *name, qc_npy_header *hdr) {
  memset(hdr, 0, sizeof *hdr);
  if (len < NPY_MAGIC_LEN + 2 || memcmp(data, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
    return qc_fail(QC_EINVAL, "%s: not a .npy file (bad magic)", name);
  int major = data[6];
  size_t hlen, pre;
  if (major == 1) {
    pre = 10;
    if (len < pre)
      return qc_fail(QC_EINVAL, "%s: truncated .npy header", name);
    hlen = (size_t)data[8] | (size_t)data[9] << 8;
  } else if (major == 2 || major == 3) {
    pre = 12;
    if (len < pre)
      return qc_fail(QC_EINVAL, "%s: truncated .npy header", name);
    hlen = (size_t)data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 | (size_t)data[11] << 24;
  } else {
    return qc_fail(QC_EUNSUPPORTED, "%s: .npy format version %d is not supported", name, major);
  }
  if (hlen > NPY_MAX_HEADER)
    return qc_fail(QC_EINVAL, "%s: .npy header length %zu is implausible", name, hlen);
  if (len < pre + hlen)
    return qc_fail(QC_EINVAL, "%s: truncated .npy header", name);

  scanner s = {(const char *)data + pre, (const char *)data + pre + hlen};
  char key[32], descr[32] = "";
  int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
  if (!accept(&s, '{'))
    return qc_fail(QC_EINVAL, "%s: .npy header is not a dict", name);
  while (!accept(&s, '}')) {
    if (!scan_string(&s, key, sizeof key) || !accept(&s, ':'))
      return qc_fail(QC_EINVAL, "%s: malformed .npy header", name);
    if (strcmp(key, "descr") == 0) {
      skip_ws(&s);
      if (s.p < s.end && *s.p == '[')
        return qc_fail(QC_EUNSUPPORTED, "%s: .npy structured dtypes are not supported", name);
      if (!scan_string(&s, descr, sizeof descr) || descr[0] == 0)
        return qc_fail(QC_EINVAL, "%s: malformed 'descr' in .npy header", name);
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (scan_word(&s, "True"))
        fortran = 1;
      else if (!scan_word(&s, "False"))
        return qc_fail(QC_EINVAL, "%s: malformed 'fortran_order' in .npy header", name);
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      QC_TRY(scan_shape(&s, &hdr->ndim, hdr->dims, name));
      have_shape = 1;
    } else {
      return qc_fail(QC_EINVAL, "%s: unexpected key '%s' in .npy header", name, key);
    }
    if (!accept(&s, ',')) {
      if (accept(&s, '}'))
        break;
      return qc_fail(QC_EINVAL, "%s: malformed .npy header", name);
    }
  }
  /* numpy pads the dict with spaces and ends the header with '\n'; anything
   * else after the dict is not a .npy header (and numpy refuses it too). */
  while (s.p < s.end - 1 && *s.p == ' ')
    s.p++;
  if (s.p != s.end - 1 || *s.p != '\n')
    return qc_fail(QC_EINVAL, "%s: .npy header has bytes after the dict other than space padding and a final newline",
                   name);
  if (!have_descr || !have_order || !have_shape)
    return qc_fail(QC_EINVAL, "%s: .npy header lacks 'descr', 'fortran_order' or 'shape'", name);
  if (fortran)
    return qc_fail(QC_EUNSUPPORTED, "%s: .npy array is in Fortran order; save it with np.ascontiguousarray", name);
  QC_TRY(dtype_from_descr(descr, &hdr->dtype, name));
  int rc = qc_shape_bytes(hdr->dtype, hdr->ndim, hdr->dims, &hdr->data_bytes);
  if (rc < 0)
    return qc_fail_context(rc, "%s", name);
  hdr->data_offset = pre + hlen;
  return QC_OK;
}

/* Reads the fixed prefix, then the declared header, into a malloc'd buffer. */
static int read_header_bytes(FILE *f, const char *path, uint8_t **buf, size_t *len) {
  uint8_t pre[12];
  size_t got = fread(pre, 1, sizeof pre, f);
  size_t need = got;
  if (got >= 10 && memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) == 0) {
    if (pre[6] == 1)
      need = 10 + ((size_t)pre[8] | (size_t)pre[9] << 8);
    else if (got == 12 && (pre[6] == 2 || pre[6] == 3))
      need = 12 + ((size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24);
    if (need > NPY_MAX_HEADER + 12)
      need = got; /* the parser reports the implausible length */
  }
  uint8_t *b = malloc(need > got ? need : got);
  if (!b)
    return qc_fail(QC_ENOMEM, "%s: out of memory reading .npy header", path);
  memcpy(b, pre, got);
  if (need > got)
    got += fread(b + got, 1, need - got, f);
  *buf = b;
  *len = got;
  return QC_OK;
}

static int open_and_parse(const char *path, FILE **fp, qc_npy_header *hdr, long long *file_size) {
  FILE *f;
  uint64_t size;
  QC_TRY(qc_fopen_regular(path, &f, &size));
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = read_header_bytes(f, path, &buf, &len);
  if (rc == QC_OK)
    rc = qc_npy_parse_header(buf, len, path, hdr);
  free(buf);
  if (rc < 0) {
    fclose(f);
    return rc;
  }
  *fp = f;
  *file_size = (long long)size;
  return QC_OK;
}

int qc_npy_read_header(const char *path, qc_npy_header *hdr) {
  FILE *f;
  long long size;
  QC_TRY(open_and_parse(path, &f, hdr, &size));
  fclose(f);
  if ((unsigned long long)size != (unsigned long long)(hdr->data_offset + hdr->data_bytes))
    return qc_fail(QC_EINVAL, "%s: .npy file is %lld bytes but its header declares %zu", path, size,
                   hdr->data_offset + hdr->data_bytes);
  return QC_OK;
}

int qc_npy_read(const char *path, qc_tensor *out) {
  FILE *f;
  long long size;
  qc_npy_header hdr;
  QC_TRY(open_and_parse(path, &f, &hdr, &size));
  int rc = QC_OK;
  if ((unsigned long long)size != (unsigned long long)(hdr.data_offset + hdr.data_bytes)) {
    rc = qc_fail(QC_EINVAL, "%s: .npy file is %lld bytes but its header declares %zu (truncated or padded data)",
                 path, size, hdr.data_offset + hdr.data_bytes);
  } else if ((rc = qc_tensor_alloc(out, hdr.dtype, hdr.ndim, hdr.dims)) < 0) {
    qc_fail_context(rc, "%s", path);
  } else if (fseek(f, (long)hdr.data_offset, SEEK_SET) != 0 ||
             fread(out->data, 1, hdr.data_bytes, f) != hdr.data_bytes) {
    rc = qc_fail(QC_EIO, "%s: read error in .npy data", path);
    qc_tensor_release(out);
  }
  if (rc == QC_OK && hdr.dtype == QC_DT_BOOL) {
    uint8_t *b = qc_u8(out); /* normalise to 0/1 as qc_tensor requires */
    for (int64_t i = 0; i < out->numel; i++)
      b[i] = b[i] != 0;
  }
  fclose(f);
  return rc;
}

static const char *descr_for(qc_dtype dt) {
  switch (dt) {
  case QC_DT_FLOAT: return "<f4";
  case QC_DT_DOUBLE: return "<f8";
  case QC_DT_FLOAT16: return "<f2";
  case QC_DT_INT64: return "<i8";
  case QC_DT_INT32: return "<i4";
  case QC_DT_UINT8: return "|u1";
  case QC_DT_INT8: return "|i1";
  case QC_DT_BOOL: return "|b1";
  default: return NULL;
  }
}

int qc_npy_write(const char *path, const qc_tensor *t) {
  const char *descr = descr_for(t->dtype);
  if (!descr)
    return qc_fail(QC_EUNSUPPORTED, "%s: cannot write %s tensors to .npy", path, qc_dtype_name(t->dtype));
  char dict[512];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < t->ndim; i++)
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld, ", (long long)t->dims[i]);
  if (t->ndim == 1)
    n -= 1; /* "(5,)" */
  else if (t->ndim > 1)
    n -= 2;
  n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  /* Pad with spaces so magic + lengths + dict + '\n' is a multiple of 64. */
  size_t total = 10 + (size_t)n + 1;
  size_t padded = (total + 63) / 64 * 64;
  size_t hlen = padded - 10;
  uint8_t header[640];
  memcpy(header, NPY_MAGIC, NPY_MAGIC_LEN);
  header[6] = 1;
  header[7] = 0;
  header[8] = (uint8_t)(hlen & 0xff);
  header[9] = (uint8_t)(hlen >> 8);
  memcpy(header + 10, dict, (size_t)n);
  memset(header + 10 + n, ' ', hlen - (size_t)n - 1);
  header[padded - 1] = '\n';

  qc_atomic_file af;
  QC_TRY(qc_atomic_open(&af, path));
  int rc = qc_atomic_write(&af, header, padded);
  if (rc == QC_OK && t->nbytes)
    rc = qc_atomic_write(&af, t->data, t->nbytes);
  if (rc == QC_OK)
    return qc_atomic_commit(&af);
  qc_atomic_abort(&af);
  return rc;
}
