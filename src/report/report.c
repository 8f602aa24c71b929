/* Report dispatch (extension -> renderer), the output buffer and the text
 * helpers shared by the writers. */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "report_internal.h"

/* One row per format; new formats (.html, .png) only add a row here. */
static const struct report_format {
  const char *extension;
  qc_report_renderer render;
} report_formats[] = {
    {".json", qc_report_render_json},
    {".csv", qc_report_render_csv},
    {".txt", qc_report_render_txt},
    {".html", qc_report_render_html},
    {".png", qc_report_render_png},
};
enum { N_REPORT_FORMATS = (int)(sizeof report_formats / sizeof report_formats[0]) };

/* ---- output buffer ---- */

void qc_rb_free(qc_report_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

static int rb_reserve(qc_report_buf *b, size_t extra) {
  if (b->oom)
    return 0;
  if (b->len + extra + 1 <= b->cap)
    return 1;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) {
      b->oom = 1;
      return 0;
    }
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (!p) {
    b->oom = 1;
    return 0;
  }
  b->data = p;
  b->cap = cap;
  return 1;
}

void qc_rb_append(qc_report_buf *b, const void *data, size_t len) {
  if (!rb_reserve(b, len))
    return;
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = 0;
}

void qc_rb_puts(qc_report_buf *b, const char *s) { qc_rb_append(b, s, strlen(s)); }

static void rb_vprintf(qc_report_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    b->oom = 1; /* only an encoding error; treat as a failed render */
    return;
  }
  if (!rb_reserve(b, (size_t)n))
    return;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void qc_rb_printf(qc_report_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rb_vprintf(b, fmt, ap);
  va_end(ap);
}

void qc_rb_spaces(qc_report_buf *b, int n) {
  for (; n > 0; n--)
    qc_rb_append(b, " ", 1);
}

void qc_rb_number(qc_report_buf *b, const char *fmt, double v) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, fmt, v);
  /* A program that called setlocale() may get ',' from printf: undo it. */
  for (char *p = tmp; *p; p++)
    if (*p == ',')
      *p = '.';
  qc_rb_puts(b, tmp);
}

/* ---- UTF-8 and printable text ---- */

int qc_utf8_seq_len(const unsigned char *s) {
  unsigned c = s[0];
  if (c < 0x80)
    return 1;
  int n;
  unsigned cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0; /* also stops at the NUL terminator */
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

/* Calls emit(piece, len, width) for each printable piece of s. */
typedef void (*text_piece_fn)(void *ctx, const char *piece, size_t len);

static void for_each_text_piece(const char *s, text_piece_fn emit, void *ctx) {
  if (!s) {
    emit(ctx, "-", 1);
    return;
  }
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int n = qc_utf8_seq_len(p);
    char esc[8];
    if (n == 0) {
      emit(ctx, "\xEF\xBF\xBD", 3); /* U+FFFD */
      p++;
    } else if (*p < 0x20 || *p == 0x7F) {
      if (*p == '\n')
        emit(ctx, "\\n", 2);
      else if (*p == '\t')
        emit(ctx, "\\t", 2);
      else if (*p == '\r')
        emit(ctx, "\\r", 2);
      else {
        snprintf(esc, sizeof esc, "\\x%02X", *p);
        emit(ctx, esc, 4);
      }
      p++;
    } else {
      emit(ctx, (const char *)p, (size_t)n);
      p += n;
    }
  }
}

static void append_piece(void *ctx, const char *piece, size_t len) {
  qc_rb_append(ctx, piece, len);
}

static void count_piece(void *ctx, const char *piece, size_t len) {
  int *width = ctx;
  for (size_t i = 0; i < len; i++)
    if (((unsigned char)piece[i] & 0xC0) != 0x80)
      (*width)++;
}

void qc_rb_text(qc_report_buf *b, const char *s) { for_each_text_piece(s, append_piece, b); }

int qc_text_width(const char *s) {
  int width = 0;
  for_each_text_piece(s, count_piece, &width);
  return width;
}

void qc_rb_text_padded(qc_report_buf *b, const char *s, int width, int right_align) {
  int pad = width - qc_text_width(s);
  if (right_align)
    qc_rb_spaces(b, pad);
  qc_rb_text(b, s);
  if (!right_align)
    qc_rb_spaces(b, pad);
}

/* ---- dispatch ---- */

static const char *path_extension(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  return dot && dot != base ? dot : NULL;
}

static const struct report_format *find_format(const char *path) {
  const char *ext = path ? path_extension(path) : NULL;
  if (!ext)
    return NULL;
  for (int i = 0; i < N_REPORT_FORMATS; i++)
    if (strcasecmp(ext, report_formats[i].extension) == 0)
      return &report_formats[i];
  return NULL;
}

int qc_report_format_supported(const char *path) { return find_format(path) != NULL; }

static int fail_unknown_format(const char *path) {
  char known[128] = "";
  for (int i = 0; i < N_REPORT_FORMATS; i++) {
    const char *sep = i == 0 ? "" : i == N_REPORT_FORMATS - 1 ? " or " : ", ";
    size_t used = strlen(known);
    snprintf(known + used, sizeof known - used, "%s%s", sep, report_formats[i].extension);
  }
  const char *ext = path_extension(path);
  if (!ext)
    return qc_fail(QC_EUSAGE, "--report %s: no file extension to pick a format (use %s)", path,
                   known);
  return qc_fail(QC_EUSAGE, "--report %s: unknown report format '%s' (use %s)", path, ext, known);
}

int qc_report_render(const char *path, const qc_quant_report *r, char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  if (!path || !*path)
    return qc_fail(QC_EUSAGE, "--report: empty file name");
  if (!r)
    return qc_fail(QC_EINTERNAL, "%s: no report data", path);
  const struct report_format *fmt = find_format(path);
  if (!fmt)
    return fail_unknown_format(path);
  qc_report_buf out = {0};
  int rc = fmt->render(&out, r);
  if (rc == QC_OK && out.oom)
    rc = qc_fail(QC_ENOMEM, "%s: out of memory formatting the report", path);
  if (rc < 0) {
    qc_rb_free(&out);
    return rc;
  }
  *data = out.data;
  *len = out.len;
  return QC_OK;
}

int qc_report_write(const char *path, const qc_quant_report *r) {
  char *data;
  size_t len;
  QC_TRY(qc_report_render(path, r, &data, &len));
  int rc = qc_write_file_atomic(path, data ? data : "", len);
  free(data);
  return rc;
}

void qc_report_print(FILE *f, const qc_quant_report *r) {
  if (!r)
    return;
  qc_report_buf out = {0};
  qc_report_render_summary(&out, r);
  if (out.oom)
    fputs("qconvert: out of memory formatting the report summary\n", f);
  else
    fwrite(out.data, 1, out.len, f);
  fflush(f);
  qc_rb_free(&out);
}

void qc_report_print_compare(FILE *f, const qc_quant_report *r, const char *evaluated_on) {
  fprintf(f, "qconvert compare: %s, %lld calibration samples (one pass, %.2f s), evaluated on %s\n", r->model_path,
          (long long)r->calibration_samples, r->calibration_seconds, evaluated_on);
  if (r->n_compare == 0)
    return;
  const qc_eval_result *ev = &r->compare[0].eval;
  fprintf(f, "\n%-12s %10s %9s %10s %9s %9s  %s\n", "observer", "size", ev->labeled ? "top-1" : "SQNR(dB)", "agreement",
          "drop", "out SQNR", "worst layer (SQNR dB)");
  for (int i = 0; i < r->n_compare; i++) {
    const qc_compare_entry *e = &r->compare[i];
    char metric[32], drop[32];
    if (e->eval.labeled) {
      snprintf(metric, sizeof metric, "%.2f%%", 100 * e->eval.quant_top1);
      snprintf(drop, sizeof drop, "%+.2f pt", 100 * (e->eval.quant_top1 - e->eval.fp32_top1));
    } else {
      snprintf(metric, sizeof metric, "%.1f", e->eval.output_sqnr_db);
      snprintf(drop, sizeof drop, "%+.2f pt", 100 * (e->eval.agreement - 1));
    }
    fprintf(f, "%-12s %8.1f K %9s %9.2f%% %9s %8.1f  %s (%.1f)%s\n", e->observer, e->size_bytes / 1024, metric,
            100 * e->eval.agreement, drop, e->eval.output_sqnr_db, e->worst_layer, e->worst_sqnr_db,
            e->best ? "   <- best" : "");
  }
  if (ev->labeled)
    fprintf(f, "%-12s %10s %8.2f%%   (%lld samples)\n", "fp32", "", 100 * ev->fp32_top1, (long long)ev->samples);
  else
    fprintf(f, "(%lld samples, no labels: ranked by output SQNR vs FP32)\n", (long long)ev->samples);
  if (*r->output_path && *r->observer)
    fprintf(f, "wrote the %s model to %s\n", r->observer, r->output_path);
  fflush(f);
}


void qc_format_bytes(double bytes, char *out, size_t n) {
  static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (!isfinite(bytes) || bytes < 0) {
    snprintf(out, n, "?");
    return;
  }
  if (bytes < 1024) {
    snprintf(out, n, "%.0f B", bytes);
    return;
  }
  double v = bytes / 1024;
  int u = 0;
  for (; v >= 1024 && u < 3; u++)
    v /= 1024;
  snprintf(out, n, "%.1f %s", v, units[u]);
}
