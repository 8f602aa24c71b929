/* Calibration sample lists: directory walking, list files, calib_count
 * selection, per-input subdirectories and thread-safe loading by index. */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/readfile.h"
#include "core/status.h"
#include "io/tensor_proto.h"
#include "npy.h"
#include "png_image.h"

#define MAX_WALK_DEPTH 32 /* also stops symlink loops */

typedef enum file_kind { KIND_OTHER = 0, KIND_PNG, KIND_NPY, KIND_PB } file_kind;

struct qc_calib_source {
  char path[4096];
  int ninputs;
  qc_input_spec *inputs; /* copies; names owned */
  qc_preprocess_cfg *cfg;
  int *has_images; /* per input: some sample is a PNG (cfg valid) */
  int64_t count;
  char **files; /* count * ninputs paths */
  file_kind *kinds;
  unsigned char *unusable; /* per sample: skipped once, so later passes skip it silently */
  const char *what;        /* "calibration" or "evaluation", for messages */
  FILE *warn;
  int quiet;
  atomic_llong skipped, loaded;
};

typedef struct path_list {
  char **items;
  size_t n, cap;
} path_list;

static void path_list_free(path_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i]);
  free(l->items);
  memset(l, 0, sizeof *l);
}

static int path_list_push(path_list *l, const char *s) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    char **p = realloc(l->items, cap * sizeof *p);
    if (!p)
      return qc_fail(QC_ENOMEM, "out of memory listing sample files");
    l->items = p;
    l->cap = cap;
  }
  if (!(l->items[l->n] = strdup(s)))
    return qc_fail(QC_ENOMEM, "out of memory listing sample files");
  l->n++;
  return QC_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static file_kind kind_of(const char *path) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash))
    return KIND_OTHER;
  if (strcasecmp(dot, ".png") == 0)
    return KIND_PNG;
  if (strcasecmp(dot, ".npy") == 0)
    return KIND_NPY;
  if (strcasecmp(dot, ".pb") == 0)
    return KIND_PB;
  return KIND_OTHER;
}

static void warnf(const qc_calib_source *src, const char *fmt, ...) QC_PRINTF(2, 3);
static void warnf(const qc_calib_source *src, const char *fmt, ...) {
  if (src->quiet)
    return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(src->warn, "warning: %s\n", line); /* one call: lines never interleave */
}

/* Collects sample files below dir (paths include dir), skipping dot entries.
 * A FIFO, device or socket with a sample extension is an error: reading it
 * could block or never end. */
static int walk(const char *dir, int depth, path_list *out, int64_t *junk) {
  if (depth > MAX_WALK_DEPTH)
    return qc_fail(QC_EUSAGE, "%s: directories nested deeper than %d levels (symlink loop?)", dir, MAX_WALK_DEPTH);
  DIR *d = opendir(dir);
  if (!d)
    return qc_fail(QC_EIO, "%s: cannot read directory: %s", dir, strerror(errno));
  int rc = QC_OK;
  struct dirent *e;
  char path[4096];
  while (rc == QC_OK && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) {
      rc = qc_fail(QC_EUSAGE, "%s/%s: path too long", dir, e->d_name);
      break;
    }
    struct stat st;
    if (stat(path, &st) != 0)
      continue; /* dangling symlink */
    if (S_ISDIR(st.st_mode))
      rc = walk(path, depth + 1, out, junk);
    else if (kind_of(path) == KIND_OTHER)
      (*junk)++;
    else if ((rc = qc_check_regular_mode(path, st.st_mode)) == QC_OK)
      rc = path_list_push(out, path);
  }
  closedir(d);
  return rc;
}

static int list_dir(const char *dir, const char *what, path_list *out, int64_t *junk) {
  struct stat st;
  if (stat(dir, &st) != 0)
    return qc_fail(QC_EUSAGE, "%s directory '%s' does not exist", what, dir);
  if (!S_ISDIR(st.st_mode))
    return qc_fail(QC_EUSAGE, "%s data '%s' is neither a directory nor a .txt list of files", what, dir);
  QC_TRY(walk(dir, 0, out, junk));
  if (out->n > 1) /* items is NULL for an empty dir: qsort(NULL, 0) is undefined */
    qsort(out->items, out->n, sizeof *out->items, cmp_str);
  return QC_OK;
}

/* One sample per line; with several inputs, tab-separated paths. */
static int read_list_file(const char *list, int ninputs, path_list *out, int64_t *junk) {
  uint8_t *data;
  size_t len;
  QC_TRY(qc_read_file(list, 64u << 20, &data, &len));
  char base[4096];
  qc_dirname(list, base, sizeof base);
  int rc = QC_OK, lineno = 0;
  char *rest = (char *)data;
  for (char *line; rc == QC_OK && (line = strsep(&rest, "\n"));) {
    lineno++; /* strsep keeps empty lines, so numbers match the file */
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
      line[--n] = 0;
    while (*line == ' ' || *line == '\t')
      line++;
    if (!*line || *line == '#')
      continue;
    char *fields[64];
    int nf = 0;
    char *fsave = NULL;
    for (char *f = strtok_r(line, "\t", &fsave); f && nf < 64; f = strtok_r(NULL, "\t", &fsave))
      fields[nf++] = f;
    if (nf != ninputs) {
      rc = qc_fail(QC_EUSAGE, "%s:%d: expected %d tab-separated path(s), one per model input, found %d", list,
                   lineno, ninputs, nf);
      break;
    }
    int usable = 1;
    for (int i = 0; i < nf && rc == QC_OK; i++) {
      char path[4096];
      if ((size_t)snprintf(path, sizeof path, "%s/%s", base, fields[i]) >= sizeof path)
        rc = qc_fail(QC_EUSAGE, "%s:%d: path too long", list, lineno);
      const char *p = fields[i][0] == '/' ? fields[i] : path;
      struct stat st;
      if (rc == QC_OK && stat(p, &st) != 0)
        rc = qc_fail(QC_EUSAGE, "%s:%d: '%s' is not a readable file", list, lineno, p);
      else if (rc == QC_OK && (rc = qc_check_regular_mode(p, st.st_mode)) < 0)
        qc_fail_context(rc, "%s:%d", list, lineno);
      if (rc == QC_OK && kind_of(p) == KIND_OTHER)
        usable = 0;
    }
    if (rc == QC_OK && !usable) {
      (*junk)++;
      continue;
    }
    for (int i = 0; i < nf && rc == QC_OK; i++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", base, fields[i]);
      rc = path_list_push(out, fields[i][0] == '/' ? fields[i] : path);
    }
  }
  free(data);
  return rc;
}

/* A .txt that is not a directory is a list; reading it refuses FIFOs and devices. */
static int is_list_file(const char *path) {
  struct stat st;
  size_t n = strlen(path);
  return stat(path, &st) == 0 && !S_ISDIR(st.st_mode) && n > 4 && strcasecmp(path + n - 4, ".txt") == 0;
}

/* Input names come from the (untrusted) model and become DIR/<name>: only a
 * plain name can, so the walk never leaves DIR. Returns why not, or NULL. */
static const char *unusable_dir_name(const char *name) {
  if (!*name)
    return "it is empty";
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return "it is '.' or '..'";
  if (strpbrk(name, "/\\"))
    return "it contains '/' or '\\'";
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return "it contains control characters";
  if (strlen(name) > 255)
    return "it is longer than 255 bytes";
  return NULL;
}

/* The input's name for a message: control characters as '?', at most 80 bytes. */
static const char *printable_name(const char *name, char *buf, size_t n) {
  size_t i = 0;
  for (; name[i] && i + 1 < n && i < 80; i++)
    buf[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
  buf[i] = 0;
  return buf;
}

/* Builds the sample-major table files[sample * ninputs + input]. */
static int gather(const qc_source_opts *o, const char *what, const qc_input_spec *inputs, int ninputs,
                  path_list *table, int64_t *junk) {
  if (is_list_file(o->path))
    return read_list_file(o->path, ninputs, table, junk);
  if (ninputs == 1)
    return list_dir(o->path, what, table, junk);
  struct stat st;
  if (stat(o->path, &st) != 0 || !S_ISDIR(st.st_mode))
    return qc_fail(QC_EUSAGE, "%s directory '%s' does not exist", what, o->path);
  path_list *per = calloc((size_t)ninputs, sizeof *per);
  if (!per)
    return qc_fail(QC_ENOMEM, "out of memory");
  int rc = QC_OK;
  for (int i = 0; i < ninputs && rc == QC_OK; i++) {
    const char *why = unusable_dir_name(inputs[i].name);
    char sub[4096], shown[96];
    if (why)
      rc = qc_fail(QC_EUSAGE,
                   "model input '%s' cannot name a subdirectory of %s (%s); give the %s samples as a .txt list "
                   "with one tab-separated path per input instead",
                   printable_name(inputs[i].name, shown, sizeof shown), o->path, why, what);
    else if ((size_t)snprintf(sub, sizeof sub, "%s/%s", o->path, inputs[i].name) >= sizeof sub)
      rc = qc_fail(QC_EUSAGE, "%s/%s: path too long", o->path, inputs[i].name);
    else if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
      rc = qc_fail(QC_EUSAGE, "the model has %d inputs, so %s data must be in %s/<input_name>/; '%s' is missing",
                   ninputs, what, o->path, sub);
    else
      rc = list_dir(sub, what, &per[i], junk);
    if (rc == QC_OK && i > 0 && per[i].n != per[0].n)
      rc = qc_fail(QC_EUSAGE, "input '%s' has %zu %s files in %s/%s but input '%s' has %zu in %s/%s",
                   inputs[i].name, per[i].n, what, o->path, inputs[i].name, inputs[0].name, per[0].n, o->path,
                   inputs[0].name);
  }
  for (size_t s = 0; rc == QC_OK && s < per[0].n; s++)
    for (int i = 0; i < ninputs && rc == QC_OK; i++)
      rc = path_list_push(table, per[i].items[s]);
  for (int i = 0; i < ninputs; i++)
    path_list_free(&per[i]);
  free(per);
  return rc;
}

/* A tensor file fits an input if its shape equals the input's (dynamic dims
 * match anything), or equals it without the leading batch dim. */
static int fit_shape(const qc_input_spec *in, const char *path, int ndim, const int64_t *dims, int *add_batch) {
  *add_batch = 0;
  if (in->ndim == 0)
    return QC_OK; /* rank unknown: take the tensor as is */
  int off;
  if (ndim == in->ndim)
    off = 0;
  else if (ndim == in->ndim - 1)
    off = 1, *add_batch = 1;
  else
    off = -1;
  for (int i = 0; off >= 0 && i < ndim; i++)
    if (in->dims[i + off] >= 0 && in->dims[i + off] != dims[i])
      off = -1;
  if (off < 0) {
    char a[160], b[160];
    return qc_fail(QC_EINVAL, "%s: tensor shape %s does not fit input '%s' (shape %s, batch dim optional)", path,
                   qc_shape_str(ndim, dims, a, sizeof a), in->name, qc_shape_str(in->ndim, in->dims, b, sizeof b));
  }
  return QC_OK;
}

static int is_float_type(qc_dtype t) { return t == QC_DT_FLOAT || t == QC_DT_DOUBLE || t == QC_DT_FLOAT16; }

/* Numeric conversion to the input's dtype; float data never silently becomes
 * integers, and integers must fit the target range. */
static int convert_dtype(qc_tensor *t, qc_dtype want, const char *path, const char *input) {
  if (want == QC_DT_UNDEFINED || t->dtype == want)
    return QC_OK;
  int ok_want = want == QC_DT_FLOAT || want == QC_DT_DOUBLE || want == QC_DT_FLOAT16 || want == QC_DT_INT64 ||
                want == QC_DT_INT32 || want == QC_DT_UINT8 || want == QC_DT_INT8 || want == QC_DT_BOOL;
  if (!ok_want || (is_float_type(t->dtype) && !is_float_type(want)))
    return qc_fail(QC_EINVAL, "%s: holds %s data but input '%s' is %s", path, qc_dtype_name(t->dtype), input,
                   qc_dtype_name(want));
  qc_tensor o = {0};
  QC_TRY(qc_tensor_alloc(&o, want, t->ndim, t->dims));
  for (int64_t i = 0; i < t->numel; i++) {
    if (is_float_type(want)) {
      double v = qc_tensor_get_f64(t, i);
      if (want == QC_DT_FLOAT)
        qc_f32(&o)[i] = (float)v;
      else if (want == QC_DT_DOUBLE)
        ((double *)o.data)[i] = v;
      else
        ((uint16_t *)o.data)[i] = qc_float_to_half((float)v);
      continue;
    }
    int64_t v = qc_tensor_get_i64(t, i);
    int64_t lo = want == QC_DT_INT32 ? INT32_MIN : want == QC_DT_UINT8 || want == QC_DT_BOOL ? 0
               : want == QC_DT_INT8 ? -128 : INT64_MIN;
    int64_t hi = want == QC_DT_INT32 ? INT32_MAX : want == QC_DT_UINT8 ? 255 : want == QC_DT_BOOL ? 1
               : want == QC_DT_INT8 ? 127 : INT64_MAX;
    if ((t->dtype == QC_DT_UINT64 && (uint64_t)v > INT64_MAX) || v < lo || v > hi) {
      qc_tensor_release(&o);
      return qc_fail(QC_EINVAL, "%s: value %lld does not fit input '%s' of type %s", path, (long long)v, input,
                     qc_dtype_name(want));
    }
    switch (want) {
    case QC_DT_INT64: qc_i64(&o)[i] = v; break;
    case QC_DT_INT32: qc_i32(&o)[i] = (int32_t)v; break;
    case QC_DT_INT8: qc_s8(&o)[i] = (int8_t)v; break;
    default: qc_u8(&o)[i] = (uint8_t)v; break;
    }
  }
  qc_tensor_release(t);
  *t = o;
  return QC_OK;
}

static void free_source(qc_calib_source *s) {
  if (!s)
    return;
  for (int64_t i = 0; s->files && i < s->count * s->ninputs; i++)
    free(s->files[i]);
  for (int i = 0; s->inputs && i < s->ninputs; i++)
    free((char *)s->inputs[i].name);
  free(s->files);
  free(s->kinds);
  free(s->unusable);
  free(s->inputs);
  free(s->cfg);
  free(s->has_images);
  free(s);
}

void qc_calib_source_close(qc_calib_source *src) { free_source(src); }

/* Drops sample `i` (header-level corrupt PNG) by moving later rows up. */
static void drop_sample(qc_calib_source *s, int64_t i) {
  int n = s->ninputs;
  for (int k = 0; k < n; k++)
    free(s->files[i * n + k]);
  memmove(s->files + i * n, s->files + (i + 1) * n, sizeof(char *) * (size_t)((s->count - i - 1) * n));
  memmove(s->kinds + i * n, s->kinds + (i + 1) * n, sizeof(file_kind) * (size_t)((s->count - i - 1) * n));
  s->count--;
}

/* Header checks of the picked files; resolves preprocessing where needed. */
static int validate(qc_calib_source *s, const qc_source_opts *o) {
  int n = s->ninputs;
  for (int64_t i = 0; i < s->count; i++) {
    for (int k = 0; k < n; k++) {
      const char *path = s->files[i * n + k];
      if (s->kinds[i * n + k] == KIND_PNG) {
        if (!s->has_images[k]) {
          static const qc_preprocess_opts defaults;
          QC_TRY(qc_preprocess_resolve(o->preprocess ? &o->preprocess[k] : &defaults, &s->inputs[k], &s->cfg[k]));
          s->has_images[k] = 1;
        }
        int rc = qc_png_check_header(path, NULL, NULL);
        if (rc == QC_EINVAL || rc == QC_ELIMIT) {
          warnf(s, "skipping %s image: %s", s->what, qc_last_error());
          drop_sample(s, i--);
          break;
        }
        QC_TRY(rc);
      } else if (s->kinds[i * n + k] == KIND_NPY) {
        qc_npy_header h;
        int add_batch;
        QC_TRY(qc_npy_read_header(path, &h));
        QC_TRY(fit_shape(&s->inputs[k], path, h.ndim, h.dims, &add_batch));
      }
    }
  }
  if (s->count == 0)
    return qc_fail(QC_EUSAGE, "no usable %s samples in %s", s->what, s->path);
  return QC_OK;
}

int qc_calib_source_open(const qc_source_opts *o, const qc_input_spec *inputs, int ninputs, qc_calib_source **out) {
  *out = NULL;
  const char *what = o->purpose ? o->purpose : "calibration";
  if (!o->path || !*o->path)
    return qc_fail(QC_EUSAGE, "no %s data given (a DIR or LIST.txt)", what);
  if (ninputs < 1)
    return qc_fail(QC_EUSAGE, "%s: the model has no inputs to calibrate", o->path);
  if (o->count < 0)
    return qc_fail(QC_EUSAGE, "calib_count must be positive, not %lld", (long long)o->count);
  qc_calib_source *s = calloc(1, sizeof *s);
  if (!s)
    return qc_fail(QC_ENOMEM, "out of memory");
  snprintf(s->path, sizeof s->path, "%s", o->path);
  s->what = what;
  s->ninputs = ninputs;
  s->warn = o->warn ? o->warn : stderr;
  s->quiet = o->quiet;
  s->inputs = calloc((size_t)ninputs, sizeof *s->inputs);
  s->cfg = calloc((size_t)ninputs, sizeof *s->cfg);
  s->has_images = calloc((size_t)ninputs, sizeof *s->has_images);
  if (!s->inputs || !s->cfg || !s->has_images) {
    free_source(s);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  for (int i = 0; i < ninputs; i++) {
    s->inputs[i] = inputs[i];
    s->inputs[i].name = strdup(inputs[i].name ? inputs[i].name : "");
    if (!s->inputs[i].name) {
      free_source(s);
      return qc_fail(QC_ENOMEM, "out of memory");
    }
  }
  path_list table = {0};
  int64_t junk = 0;
  int rc = gather(o, what, inputs, ninputs, &table, &junk);
  if (rc < 0) {
    path_list_free(&table);
    free_source(s);
    return rc;
  }
  if (junk > 0)
    warnf(s, "skipped %lld files that are not .png/.npy/.pb in %s", (long long)junk, o->path);
  int64_t total = (int64_t)(table.n / (size_t)ninputs);
  int64_t n = o->count > 0 && o->count < total ? o->count : total;
  if (o->count > total)
    warnf(s, "calib_count %lld exceeds the %lld samples in %s; using all of them", (long long)o->count,
          (long long)total, o->path);
  s->files = calloc((size_t)(n * ninputs) + 1, sizeof *s->files);
  s->kinds = calloc((size_t)(n * ninputs) + 1, sizeof *s->kinds);
  s->unusable = calloc((size_t)n + 1, 1);
  if (!s->files || !s->kinds || !s->unusable) {
    path_list_free(&table);
    free_source(s);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  /* Take ownership of the picked rows: sample i is row floor(i * total / n). */
  for (int64_t i = 0; i < n; i++) {
    int64_t row = i * total / n; /* both far below 2^31 in practice */
    for (int k = 0; k < ninputs; k++) {
      size_t at = (size_t)(row * ninputs + k);
      s->files[i * ninputs + k] = table.items[at];
      s->kinds[i * ninputs + k] = kind_of(table.items[at]);
      table.items[at] = NULL;
    }
  }
  s->count = n;
  path_list_free(&table);
  rc = validate(s, o);
  if (rc < 0) {
    free_source(s);
    return rc;
  }
  *out = s;
  return QC_OK;
}

int64_t qc_calib_source_count(const qc_calib_source *src) { return src->count; }

const char *qc_calib_source_path(const qc_calib_source *src, int64_t index, int input) {
  if (index < 0 || index >= src->count || input < 0 || input >= src->ninputs)
    return "";
  return src->files[index * src->ninputs + input];
}

const char *qc_calib_source_describe(const qc_calib_source *src, int input, char *buf, size_t n) {
  if (input < 0 || input >= src->ninputs || !src->has_images[input]) {
    if (n)
      buf[0] = 0;
    return buf;
  }
  return qc_preprocess_describe(&src->cfg[input], buf, n);
}

static int load_one(qc_calib_source *s, int k, const char *path, file_kind kind, qc_tensor *out) {
  if (kind == KIND_PNG) {
    qc_image img;
    int rc = qc_png_read(path, &img);
    if (rc == QC_EINVAL || rc == QC_ELIMIT) {
      warnf(s, "skipping %s image: %s", s->what, qc_last_error());
      return QC_CALIB_SKIPPED;
    }
    QC_TRY(rc);
    rc = qc_preprocess_image(&s->cfg[k], &img, path, out);
    qc_image_free(&img);
    return rc;
  }
  if (kind == KIND_NPY)
    QC_TRY(qc_npy_read(path, out));
  else
    QC_TRY(qc_tensor_read_pb(path, out, NULL));
  int add_batch, rc = fit_shape(&s->inputs[k], path, out->ndim, out->dims, &add_batch);
  if (rc == QC_OK && add_batch) {
    int64_t dims[QC_MAX_DIMS] = {1};
    memcpy(dims + 1, out->dims, sizeof(int64_t) * (size_t)out->ndim);
    rc = qc_tensor_set_shape(out, out->ndim + 1, dims);
  }
  if (rc == QC_OK)
    rc = convert_dtype(out, s->inputs[k].dtype, path, s->inputs[k].name);
  if (rc < 0)
    qc_tensor_release(out);
  return rc;
}

int qc_calib_source_load(qc_calib_source *src, int64_t index, qc_tensor *per_input_out) {
  if (index < 0 || index >= src->count)
    return qc_fail(QC_EINTERNAL, "calibration sample %lld out of range", (long long)index);
  int n = src->ninputs;
  for (int k = 0; k < n; k++)
    memset(&per_input_out[k], 0, sizeof per_input_out[k]);
  if (src->unusable[index]) { /* warned about on an earlier pass (evaluation reads the data many times) */
    atomic_fetch_add(&src->skipped, 1);
    return QC_CALIB_SKIPPED;
  }
  for (int k = 0; k < n; k++) {
    int rc = load_one(src, k, src->files[index * n + k], src->kinds[index * n + k], &per_input_out[k]);
    if (rc != QC_OK) {
      for (int j = 0; j < k; j++)
        qc_tensor_release(&per_input_out[j]);
      if (rc == QC_CALIB_SKIPPED) {
        src->unusable[index] = 1; /* only this index's loader writes it */
        atomic_fetch_add(&src->skipped, 1);
      }
      return rc;
    }
  }
  atomic_fetch_add(&src->loaded, 1);
  return QC_OK;
}

int64_t qc_calib_source_skipped(const qc_calib_source *src) { return (int64_t)atomic_load(&src->skipped); }

int qc_calib_source_finish(const qc_calib_source *src) {
  if (atomic_load(&src->loaded) == 0)
    return qc_fail(QC_EUSAGE, "no usable %s samples in %s", src->what, src->path);
  return QC_OK;
}

int qc_stack_samples(const qc_tensor *samples, int count, int ninputs, qc_tensor *inputs) {
  for (int i = 0; i < ninputs; i++) {
    const qc_tensor *first = &samples[i];
    int64_t dims[QC_MAX_DIMS];
    memcpy(dims, first->dims, sizeof dims);
    dims[0] = count;
    QC_TRY(qc_tensor_alloc(&inputs[i], first->dtype, first->ndim, dims));
    for (int b = 0; b < count; b++) {
      const qc_tensor *s = &samples[(size_t)b * (size_t)ninputs + (size_t)i];
      if (s->nbytes != first->nbytes || s->dtype != first->dtype)
        return qc_fail(QC_EINVAL, "samples for input %d differ in shape; use --batch 1", i);
      memcpy((char *)inputs[i].data + (size_t)b * first->nbytes, s->data, first->nbytes);
    }
  }
  return QC_OK;
}
