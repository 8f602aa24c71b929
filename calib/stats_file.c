/* Stats file: save / load a qc_stats_set. Format (all little-endian):
 *
 *   char[8] "QCSTATS\0"   u32 version (1)   u32 hist_bins (4096)
 *   u32 fingerprint_len (<= 4096)   fingerprint bytes
 *   u32 tensor_count
 *   tensor_count records:
 *     u32 name_len (1..65535)  name bytes (no NUL)
 *     u64 count  u64 nonfinite  u64 zeros  u64 samples
 *     f32 min  f32 max  f64 ema_constant
 *     u64 n, f64 first, f64 weighted     (EMA of minima)
 *     u64 n, f64 first, f64 weighted     (EMA of maxima)
 *     i32 hist_exp  i64 hist_first  u32 hist_len  u64 counts[hist_len]
 *   u64 FNV-1a 64 checksum of every preceding byte
 *
 * Documented in docs/observers.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/status.h"
#include "stats.h"

#define STATS_MAGIC "QCSTATS"
#define STATS_VERSION 1u
#define MAX_FINGERPRINT 4096u
#define MAX_NAME 65535u
#define MAX_FILE_BYTES ((size_t)1 << 32)
/* Each record becomes a qc_stats of ~32 KiB (the histogram) and the set is
 * searched linearly, so a small file with millions of tiny records would cost
 * gigabytes and hours: cap the count (real models have a few thousand). */
#define MAX_TENSORS 16384u
/* Smallest possible record: name_len + 1-byte name + the fixed fields. */
#define MIN_RECORD_BYTES (4u + 1u + 4u * 8u + 4u + 4u + 8u + 2u * 24u + 4u + 8u + 4u)

static uint64_t fnv1a64(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* ---- writer ---- */

typedef struct out_buf {
  uint8_t *data;
  size_t len, cap;
  int failed;
} out_buf;

static void put_bytes(out_buf *b, const void *p, size_t n) {
  if (b->failed)
    return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n)
      cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
      b->failed = 1;
      return;
    }
    b->data = d, b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void put_u64(out_buf *b, uint64_t v) {
  uint8_t t[8];
  for (int i = 0; i < 8; i++)
    t[i] = (uint8_t)(v >> (8 * i));
  put_bytes(b, t, 8);
}

static void put_u32(out_buf *b, uint32_t v) {
  uint8_t t[4];
  for (int i = 0; i < 4; i++)
    t[i] = (uint8_t)(v >> (8 * i));
  put_bytes(b, t, 4);
}

static void put_f32(out_buf *b, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  put_u32(b, v);
}

static void put_f64(out_buf *b, double f) {
  uint64_t v;
  memcpy(&v, &f, 8);
  put_u64(b, v);
}

static void put_seg(out_buf *b, const qc_ema_seg *seg) {
  put_u64(b, seg->n);
  put_f64(b, seg->first);
  put_f64(b, seg->weighted);
}

int qc_stats_pack(const char *path, const char *fingerprint, const qc_stats_set *set, uint8_t **data, size_t *len) {
  *data = NULL;
  *len = 0;
  size_t fp_len = fingerprint ? strlen(fingerprint) : 0;
  if (fp_len > MAX_FINGERPRINT)
    return qc_fail(QC_EINVAL, "%s: model fingerprint longer than %u bytes", path, MAX_FINGERPRINT);
  if (set->count > UINT32_MAX)
    return qc_fail(QC_ELIMIT, "%s: too many tensors for a stats file", path);
  out_buf b = {0};
  put_bytes(&b, STATS_MAGIC, 8); /* includes the NUL */
  put_u32(&b, STATS_VERSION);
  put_u32(&b, QC_HIST_BINS);
  put_u32(&b, (uint32_t)fp_len);
  put_bytes(&b, fingerprint, fp_len);
  put_u32(&b, (uint32_t)set->count);
  for (size_t t = 0; t < set->count; t++) {
    const qc_stats *s = set->stats[t];
    size_t name_len = strlen(set->names[t]);
    if (name_len == 0 || name_len > MAX_NAME) {
      free(b.data);
      return qc_fail(QC_EINVAL, "%s: tensor name '%.40s' has unsupported length %zu", path,
                     set->names[t], name_len);
    }
    put_u32(&b, (uint32_t)name_len);
    put_bytes(&b, set->names[t], name_len);
    put_u64(&b, s->count);
    put_u64(&b, s->nonfinite);
    put_u64(&b, s->zeros);
    put_u64(&b, s->samples);
    put_f32(&b, s->min);
    put_f32(&b, s->max);
    put_f64(&b, s->ema_constant);
    put_seg(&b, &s->ema_min);
    put_seg(&b, &s->ema_max);
    int len = qc_stats_hist_len(s);
    put_u32(&b, (uint32_t)s->hist.exp);
    put_u64(&b, (uint64_t)s->hist.first);
    put_u32(&b, (uint32_t)len);
    for (int i = 0; i < len; i++)
      put_u64(&b, s->hist.counts[i]);
  }
  put_u64(&b, b.failed ? 0 : fnv1a64(b.data, b.len));
  if (b.failed) {
    free(b.data);
    return qc_fail(QC_ENOMEM, "%s: out of memory serialising statistics", path);
  }
  *data = b.data;
  *len = b.len;
  return QC_OK;
}

int qc_stats_save(const char *path, const char *fingerprint, const qc_stats_set *set) {
  uint8_t *data;
  size_t len;
  QC_TRY(qc_stats_pack(path, fingerprint, set, &data, &len));
  int rc = qc_write_file_atomic(path, data, len);
  free(data);
  return rc;
}

/* ---- reader ---- */

typedef struct in_buf {
  const uint8_t *p;
  size_t len, pos;
  int truncated;
} in_buf;

static const uint8_t *take(in_buf *b, size_t n) {
  if (b->truncated || n > b->len - b->pos) {
    b->truncated = 1;
    return NULL;
  }
  const uint8_t *p = b->p + b->pos;
  b->pos += n;
  return p;
}

static uint64_t get_u64(in_buf *b) {
  const uint8_t *p = take(b, 8);
  uint64_t v = 0;
  for (int i = 0; p && i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static uint32_t get_u32(in_buf *b) {
  const uint8_t *p = take(b, 4);
  uint32_t v = 0;
  for (int i = 0; p && i < 4; i++)
    v |= (uint32_t)p[i] << (8 * i);
  return v;
}

static float get_f32(in_buf *b) {
  uint32_t v = get_u32(b);
  float f;
  memcpy(&f, &v, 4);
  return f;
}

static double get_f64(in_buf *b) {
  uint64_t v = get_u64(b);
  double f;
  memcpy(&f, &v, 8);
  return f;
}

static void get_seg(in_buf *b, qc_ema_seg *seg) {
  seg->n = get_u64(b);
  seg->first = get_f64(b);
  seg->weighted = get_f64(b);
}

/* Parses one record into s (already initialised); name is malloc'd. */
static int read_record(const char *path, in_buf *b, uint32_t index, char **name, qc_stats *s) {
  *name = NULL;
  uint32_t name_len = get_u32(b);
  const uint8_t *name_bytes = take(b, name_len);
  if (b->truncated)
    return qc_fail(QC_EINVAL, "%s: truncated in tensor record %u", path, index);
  if (name_len == 0 || name_len > MAX_NAME || memchr(name_bytes, 0, name_len))
    return qc_fail(QC_EINVAL, "%s: tensor record %u has an invalid name", path, index);
  *name = malloc(name_len + 1);
  if (!*name)
    return qc_fail(QC_ENOMEM, "%s: out of memory", path);
  memcpy(*name, name_bytes, name_len);
  (*name)[name_len] = 0;
  s->count = get_u64(b);
  s->nonfinite = get_u64(b);
  s->zeros = get_u64(b);
  s->samples = get_u64(b);
  s->min = get_f32(b);
  s->max = get_f32(b);
  s->ema_constant = get_f64(b);
  get_seg(b, &s->ema_min);
  get_seg(b, &s->ema_max);
  int32_t exp = (int32_t)get_u32(b);
  int64_t first = (int64_t)get_u64(b);
  uint32_t len = get_u32(b);
  if (b->truncated)
    return qc_fail(QC_EINVAL, "%s: truncated in tensor '%s'", path, *name);
  if (len > QC_HIST_BINS)
    return qc_fail(QC_EINVAL, "%s: tensor '%s' has %u histogram bins (max %d)", path, *name, len,
                   QC_HIST_BINS);
  for (uint32_t i = 0; i < len; i++)
    s->hist.counts[i] = get_u64(b);
  if (b->truncated)
    return qc_fail(QC_EINVAL, "%s: truncated in tensor '%s'", path, *name);
  char what[256];
  snprintf(what, sizeof what, "%s: tensor '%.200s'", path, *name);
  if (s->count == 0) {
    if (len != 0)
      return qc_fail(QC_EINVAL, "%s: empty statistics carry histogram bins", what);
  } else {
    if (exp < QC_HIST_EXP_MIN || exp > QC_HIST_EXP_MAX)
      return qc_fail(QC_EINVAL, "%s: histogram exponent %d out of range", what, (int)exp);
    if (!isfinite(s->min) || !isfinite(s->max) || s->min > s->max)
      return qc_fail(QC_EINVAL, "%s: invalid range [%g, %g]", what, s->min, s->max);
    s->hist.exp = exp;
    s->hist.first = first;
    if (exp != qc_hist_fit_exp(s->min, s->max, QC_HIST_EXP_MIN) ||
        first != qc_hist_bin(s->min, exp) || (uint32_t)qc_stats_hist_len(s) != len)
      return qc_fail(QC_EINVAL, "%s: histogram geometry does not match the range", what);
  }
  return qc_stats_validate(s, what);
}

int qc_stats_load(const char *path, const char *expected_fingerprint, qc_stats_set *set) {
  uint8_t *data;
  size_t size;
  QC_TRY(qc_read_file(path, MAX_FILE_BYTES, &data, &size));
  in_buf b = {data, size, 0, 0};
  const uint8_t *magic = take(&b, 8);
  if (!magic || memcmp(magic, STATS_MAGIC, 8) != 0) {
    free(data);
    return qc_fail(QC_EINVAL, "%s: not a qconvert stats file (bad magic)", path);
  }
  uint32_t version = get_u32(&b), bins = get_u32(&b);
  int rc = QC_OK;
  if (b.truncated || size < b.pos + 8) {
    rc = qc_fail(QC_EINVAL, "%s: truncated header", path);
  } else if (version != STATS_VERSION) {
    rc = qc_fail(QC_EUNSUPPORTED, "%s: stats file version %u (this build reads %u)", path,
                 version, STATS_VERSION);
  } else if (bins != QC_HIST_BINS) {
    rc = qc_fail(QC_EUNSUPPORTED, "%s: histogram has %u bins (this build uses %d)", path, bins,
                 QC_HIST_BINS);
  } else {
    in_buf tail = {data, size, size - 8, 0};
    if (fnv1a64(data, size - 8) != get_u64(&tail))
      rc = qc_fail(QC_EINVAL, "%s: checksum mismatch (file corrupt or truncated)", path);
  }
  if (rc < 0) {
    free(data);
    return rc;
  }
  b.len = size - 8; /* the checksum is not record data */

  uint32_t fp_len = get_u32(&b);
  const uint8_t *fp = fp_len <= MAX_FINGERPRINT ? take(&b, fp_len) : NULL;
  uint32_t n = get_u32(&b);
  if (b.truncated || fp_len > MAX_FINGERPRINT)
    rc = qc_fail(QC_EINVAL, "%s: invalid fingerprint / header", path);
  else if (n > MAX_TENSORS)
    rc = qc_fail(QC_ELIMIT, "%s: %u tensor records exceed the limit of %u", path, n, MAX_TENSORS);
  else if ((uint64_t)n * MIN_RECORD_BYTES > b.len - b.pos)
    rc = qc_fail(QC_EINVAL, "%s: truncated (%u tensor records cannot fit in %zu bytes)", path, n, b.len - b.pos);
  else if (expected_fingerprint &&
           (strlen(expected_fingerprint) != fp_len || memcmp(expected_fingerprint, fp, fp_len)))
    rc = qc_fail(QC_EINVAL,
                 "%s: statistics were collected for a different model "
                 "(fingerprint '%.*s', expected '%s')",
                 path, (int)(fp_len > 64 ? 64 : fp_len), (const char *)fp, expected_fingerprint);
  if (rc < 0) {
    free(data);
    return rc;
  }

  /* Parse everything into a private set; touch `set` only once all is valid. */
  qc_stats_set loaded;
  qc_stats_set_init(&loaded);
  qc_stats *rec = malloc(sizeof *rec);
  if (!rec)
    rc = qc_fail(QC_ENOMEM, "%s: out of memory", path);
  for (uint32_t i = 0; rc == QC_OK && i < n; i++) {
    char *name = NULL;
    qc_stats *dst;
    qc_stats_init(rec);
    rc = read_record(path, &b, i, &name, rec);
    if (rc == QC_OK && qc_stats_set_find(&loaded, name))
      rc = qc_fail(QC_EINVAL, "%s: tensor '%s' appears twice", path, name);
    if (rc == QC_OK)
      rc = qc_stats_set_get(&loaded, name, &dst);
    if (rc == QC_OK)
      *dst = *rec;
    free(name);
  }
  free(rec);
  if (rc == QC_OK && b.pos != b.len)
    rc = qc_fail(QC_EINVAL, "%s: %zu unexpected bytes after the last record", path, b.len - b.pos);
  for (size_t i = 0; rc == QC_OK && i < loaded.count; i++) {
    const qc_stats *have = qc_stats_set_find(set, loaded.names[i]);
    if (have && have->ema_constant != loaded.stats[i]->ema_constant)
      rc = qc_fail(QC_EINVAL, "%s: tensor '%s' has EMA constant %g, existing statistics use %g",
                   path, loaded.names[i], loaded.stats[i]->ema_constant, have->ema_constant);
  }
  if (rc == QC_OK)
    rc = qc_stats_set_merge(set, &loaded);
  qc_stats_set_free(&loaded);
  free(data);
  return rc;
}
