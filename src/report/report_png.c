/* PNG report: the size/accuracy chart people used to draw by hand.
 * Without compare entries: FP32 vs INT8 model size as two bars, each
 * annotated with its accuracy (top-1 when labeled, else SQNR/agreement).
 * With compare entries: one bar per observer (top-1 or output SQNR), the
 * best highlighted, FP32 top-1 as a dashed reference line.
 * Drawn into an RGB buffer with an embedded bitmap font (2x), encoded by
 * libpng into the report buffer; qc_report_write commits it atomically.
 * Deterministic: no time chunk, fixed layout. */
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "font6x10.h"
#include "report_internal.h"

enum { IMG_W = 900, IMG_H = 600, TEXT_SCALE = 2 };
enum { PLOT_LEFT = 110, PLOT_RIGHT = IMG_W - 40, PLOT_TOP = 130, PLOT_BOTTOM = IMG_H - 90 };

typedef struct rgb {
  uint8_t r, g, b;
} rgb;

static const rgb WHITE = {255, 255, 255}, INK = {29, 36, 48}, MUTED = {90, 101, 120},
                 GRID = {226, 230, 236}, AXIS = {138, 147, 163};
/* Bar colours; the tests count these exact pixels. */
static const rgb FP32_BAR = {141, 160, 184}, INT8_BAR = {224, 123, 57}, OBS_BAR = {109, 143, 191},
                 BEST_BAR = {46, 158, 87};

typedef struct canvas {
  uint8_t *px; /* IMG_W * IMG_H * 3 */
} canvas;

/* ---- drawing ---- */

static void put(canvas *c, int x, int y, rgb col) {
  if (x < 0 || y < 0 || x >= IMG_W || y >= IMG_H)
    return;
  uint8_t *p = c->px + ((size_t)y * IMG_W + (size_t)x) * 3;
  p[0] = col.r;
  p[1] = col.g;
  p[2] = col.b;
}

static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, rgb col) {
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      put(c, x, y, col);
}

/* Horizontal line, thickness t, dashed when dash > 0 (on and off dash px). */
static void hline(canvas *c, int x0, int x1, int y, int t, int dash, rgb col) {
  for (int x = x0; x <= x1; x++)
    if (dash <= 0 || ((x - x0) / dash) % 2 == 0)
      fill_rect(c, x, y, x + 1, y + t, col);
}

static void vline(canvas *c, int x, int y0, int y1, rgb col) { fill_rect(c, x, y0, x + 1, y1 + 1, col); }

/* Text is drawn from a printable-ASCII copy: each other UTF-8 character
 * becomes one '?'. */
static void ascii_copy(char *out, size_t n, const char *s) {
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)(s ? s : "-"); *p && k + 1 < n; p++) {
    if ((*p & 0xC0) == 0x80)
      continue; /* continuation byte of a character already replaced */
    out[k++] = *p >= QC_FONT_FIRST && *p <= QC_FONT_LAST ? (char)*p : '?';
  }
  out[k] = 0;
}

static int text_width(const char *s, int scale) { return (int)strlen(s) * QC_FONT_W * scale; }

/* Draws ASCII text with its top-left at (x, y); bold overprints 1 px right. */
static void draw_text(canvas *c, int x, int y, const char *s, int scale, int bold, rgb col) {
  for (; *s; s++, x += QC_FONT_W * scale) {
    unsigned ch = (unsigned char)*s;
    if (ch < QC_FONT_FIRST || ch > QC_FONT_LAST)
      ch = '?';
    const uint8_t *rows = qc_font6x10[ch - QC_FONT_FIRST];
    for (int ry = 0; ry < QC_FONT_H; ry++)
      for (int rx = 0; rx < QC_FONT_W; rx++)
        if (rows[ry] & (0x20 >> rx))
          fill_rect(c, x + rx * scale, y + ry * scale, x + (rx + 1) * scale + bold,
                    y + (ry + 1) * scale, col);
  }
}

/* align: 0 left, 1 centred, 2 right of x. */
static void draw_label(canvas *c, int x, int y, int align, const char *s, int bold, rgb col) {
  char text[160];
  ascii_copy(text, sizeof text, s);
  int w = text_width(text, TEXT_SCALE);
  draw_text(c, align == 1 ? x - w / 2 : align == 2 ? x - w : x, y, text, TEXT_SCALE, bold, col);
}

static void legend_entry(canvas *c, int *x, int y, rgb col, int dashed, const char *label) {
  if (dashed)
    hline(c, *x, *x + 24, y + 9, 3, 5, col);
  else
    fill_rect(c, *x, y + 2, *x + 18, y + 18, col);
  draw_label(c, *x + (dashed ? 32 : 26), y, 0, label, 0, INK);
  *x += (dashed ? 32 : 26) + text_width(label, TEXT_SCALE) + 28;
}

/* ---- axis ---- */

/* A 1/2/5 x 10^k step giving about five ticks up to max. */
static double nice_step(double max) {
  double raw = max / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static int value_y(double v, double axis_max) {
  double f = isfinite(v) ? fmin(fmax(v / axis_max, 0), 1) : 0;
  return PLOT_BOTTOM - (int)lround(f * (PLOT_BOTTOM - PLOT_TOP));
}

/* Gridlines, tick labels ("%g" + unit) and the axis lines; returns the axis max. */
static double draw_axis(canvas *c, double max_value, double cap, const char *unit) {
  if (!(max_value > 0) || !isfinite(max_value))
    max_value = 4; /* nothing to show: a plain 0..5 axis */
  double step = nice_step(max_value > 0 ? max_value * 1.15 : 1);
  double axis_max = ceil(max_value * 1.15 / step) * step;
  if (cap > 0 && axis_max > cap) {
    axis_max = cap;
    step = nice_step(cap);
  }
  if (!(axis_max > 0))
    axis_max = step;
  for (int i = 0; i * step <= axis_max * 1.0001; i++) {
    int y = value_y(i * step, axis_max);
    if (i > 0)
      hline(c, PLOT_LEFT + 1, PLOT_RIGHT, y, 1, 0, GRID);
    hline(c, PLOT_LEFT - 6, PLOT_LEFT - 1, y, 1, 0, AXIS);
    char tick[32];
    snprintf(tick, sizeof tick, "%g", i * step);
    for (char *p = tick; *p; p++)
      if (*p == ',')
        *p = '.'; /* locale-proof */
    draw_label(c, PLOT_LEFT - 10, y - 10, 2, tick, 0, MUTED);
  }
  draw_label(c, PLOT_LEFT - 10, PLOT_TOP - 34, 2, unit, 1, MUTED);
  vline(c, PLOT_LEFT, PLOT_TOP - 8, PLOT_BOTTOM, AXIS);
  hline(c, PLOT_LEFT, PLOT_RIGHT, PLOT_BOTTOM, 2, 0, AXIS);
  return axis_max;
}

/* ---- content ---- */


static void draw_title(canvas *c, const qc_quant_report *r, const char *what) {
  const char *model = r->model_path ? r->model_path : "model";
  const char *base = strrchr(model, '/');
  char title[200], fp32[32], quant[32], line[200];
  snprintf(title, sizeof title, "%s: %s", base ? base + 1 : model, what);
  draw_label(c, IMG_W / 2, 16, 1, title, 1, INK);
  qc_format_bytes(r->fp32_bytes, fp32, sizeof fp32);
  qc_format_bytes(r->quantized_bytes, quant, sizeof quant);
  if (r->fp32_bytes > 0 && r->quantized_bytes > 0)
    snprintf(line, sizeof line, "FP32 %s -> INT8 %s (%.2fx smaller)", fp32, quant,
             r->fp32_bytes / r->quantized_bytes);
  else
    snprintf(line, sizeof line, "FP32 %s -> INT8 %s", fp32, quant);
  draw_label(c, IMG_W / 2, 46, 1, line, 0, MUTED);
}

/* Accuracy lines above a size bar: FP32 (quant = 0) or INT8 (quant = 1). */
static int accuracy_lines(const qc_eval_result *e, int quant, char lines[2][64]) {
  if (!e)
    return 0;
  if (e->labeled && e->fp32_top1 >= 0 && e->quant_top1 >= 0) {
    snprintf(lines[0], 64, "top-1 %.1f%%", (quant ? e->quant_top1 : e->fp32_top1) * 100);
    return 1;
  }
  if (!quant) {
    snprintf(lines[0], 64, "reference");
    return 1;
  }
  snprintf(lines[0], 64, "SQNR %.1f dB", e->output_sqnr_db);
  snprintf(lines[1], 64, "agree %.1f%%", e->agreement * 100);
  return 2;
}

static void draw_sizes_chart(canvas *c, const qc_quant_report *r) {
  draw_title(c, r, "FP32 vs INT8 model size");
  double max_bytes = fmax(isfinite(r->fp32_bytes) ? r->fp32_bytes : 0,
                          isfinite(r->quantized_bytes) ? r->quantized_bytes : 0);
  double unit = max_bytes >= 1024.0 * 1024 ? 1024.0 * 1024 : max_bytes >= 1024 ? 1024 : 1;
  const char *unit_name = unit > 1024 ? "MiB" : unit > 1 ? "KiB" : "bytes";
  double axis_max = draw_axis(c, max_bytes / unit, 0, unit_name);
  int x = PLOT_LEFT + 20;
  legend_entry(c, &x, 82, FP32_BAR, 0, "FP32");
  legend_entry(c, &x, 82, INT8_BAR, 0, "INT8");

  const double bytes[2] = {r->fp32_bytes, r->quantized_bytes};
  const rgb colors[2] = {FP32_BAR, INT8_BAR};
  const char *names[2] = {"FP32", "INT8"};
  int slot = (PLOT_RIGHT - PLOT_LEFT) / 2, bar_w = 180;
  for (int k = 0; k < 2; k++) {
    int cx = PLOT_LEFT + slot * k + slot / 2;
    int top = value_y(bytes[k] / unit, axis_max);
    fill_rect(c, cx - bar_w / 2, top, cx + bar_w / 2, PLOT_BOTTOM, colors[k]);
    char size[32], lines[2][64];
    qc_format_bytes(bytes[k], size, sizeof size);
    int n = accuracy_lines(r->eval, k, lines), y = top - 26;
    draw_label(c, cx, y, 1, size, 0, INK);
    for (int i = n - 1; i >= 0; i--) {
      y -= 24;
      draw_label(c, cx, y, 1, lines[i], 1, INK);
    }
    draw_label(c, cx, PLOT_BOTTOM + 12, 1, names[k], 1, INK);
  }
  if (!r->eval)
    draw_label(c, IMG_W / 2, IMG_H - 40, 1, "no --eval data: sizes only", 0, MUTED);
}

/* Top-1 when every entry is labeled, else output SQNR. */
static int compare_uses_top1(const qc_quant_report *r) {
  for (int i = 0; i < r->n_compare; i++)
    if (!r->compare[i].eval.labeled || r->compare[i].eval.quant_top1 < 0)
      return 0;
  return 1;
}

static void draw_compare_chart(canvas *c, const qc_quant_report *r) {
  int top1 = compare_uses_top1(r), n = r->n_compare;
  draw_title(c, r, top1 ? "top-1 accuracy per observer" : "output SQNR per observer");
  double fp32 = top1 ? r->compare[0].eval.fp32_top1 * 100 : NAN, max_v = top1 ? fp32 : 0;
  for (int i = 0; i < n; i++) {
    double v = top1 ? r->compare[i].eval.quant_top1 * 100 : r->compare[i].eval.output_sqnr_db;
    if (isfinite(v))
      max_v = fmax(max_v, v);
  }
  double axis_max = draw_axis(c, max_v, top1 ? 100 : 0, top1 ? "top-1 %" : "dB");
  int x = PLOT_LEFT + 20;
  legend_entry(c, &x, 82, BEST_BAR, 0, "best");
  legend_entry(c, &x, 82, OBS_BAR, 0, "observer");
  char fp32_label[32];
  snprintf(fp32_label, sizeof fp32_label, "FP32 %.1f%%", fp32);
  if (top1 && isfinite(fp32))
    legend_entry(c, &x, 82, INK, 1, fp32_label);

  double slot = (double)(PLOT_RIGHT - PLOT_LEFT) / n;
  int bar_w = (int)fmax(fmin(slot * 0.62, 150), 2);
  for (int i = 0; i < n; i++) {
    const qc_compare_entry *e = &r->compare[i];
    double v = top1 ? e->eval.quant_top1 * 100 : e->eval.output_sqnr_db;
    int cx = PLOT_LEFT + (int)(slot * i + slot / 2), top = value_y(v, axis_max);
    fill_rect(c, cx - bar_w / 2, top, cx + bar_w / 2, PLOT_BOTTOM, e->best ? BEST_BAR : OBS_BAR);
    char value[32], size[32];
    snprintf(value, sizeof value, top1 ? "%.1f%%" : "%.1f dB", v);
    /* Inside the bar top when it fits, so the FP32 line cannot cover it. */
    if (PLOT_BOTTOM - top >= 40 && text_width(value, TEXT_SCALE) <= bar_w)
      draw_label(c, cx, top + 10, 1, value, 1, WHITE);
    else
      draw_label(c, cx, top - 24, 1, value, e->best, INK);
    draw_label(c, cx, PLOT_BOTTOM + 12, 1, e->observer, e->best, INK);
    qc_format_bytes(e->size_bytes, size, sizeof size);
    draw_label(c, cx, PLOT_BOTTOM + 38, 1, size, 0, MUTED);
  }
  if (top1 && isfinite(fp32)) { /* over the bars, so it stays visible */
    hline(c, PLOT_LEFT + 1, PLOT_RIGHT, value_y(fp32, axis_max) - 1, 3, 8, INK);
  }
}

/* ---- encoding ---- */

static void png_to_buffer(png_structp png, png_bytep data, png_size_t len) {
  qc_rb_append(png_get_io_ptr(png), data, len);
}

static void png_flush_nothing(png_structp png) { (void)png; }

static int encode_png(qc_report_buf *out, const uint8_t *px) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return qc_fail(QC_ENOMEM, "png report: out of memory creating the encoder");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return qc_fail(QC_EINTERNAL, "png report: libpng failed encoding the chart");
  }
  png_set_write_fn(png, out, png_to_buffer, png_flush_nothing);
  png_set_IHDR(png, info, IMG_W, IMG_H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < IMG_H; y++)
    png_write_row(png, (png_const_bytep)(px + (size_t)y * IMG_W * 3));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return QC_OK;
}

int qc_report_render_png(qc_report_buf *out, const qc_quant_report *r) {
  canvas c = {malloc((size_t)IMG_W * IMG_H * 3)};
  if (!c.px)
    return qc_fail(QC_ENOMEM, "png report: out of memory for a %dx%d image", IMG_W, IMG_H);
  fill_rect(&c, 0, 0, IMG_W, IMG_H, WHITE);
  if (r->compare && r->n_compare > 0)
    draw_compare_chart(&c, r);
  else
    draw_sizes_chart(&c, r);
  int rc = encode_png(out, c.px);
  free(c.px);
  return rc;
}
