/* SVG charts of the HTML report (see report_html.c): parameter bytes per
 * op type, per-layer SQNR, activation histograms with observer ranges and
 * the observer comparison. Coordinates are written with one decimal. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_html.h"

enum { MAX_LAYER_BARS = 40, MAX_OP_BARS = 24 };

/* ---- sizes: FP32 vs INT8 parameter bytes per op type ---- */

/* Bar pairs for op types that own parameters; returns how many were drawn. */
int qc_html_sizes_chart(qc_report_buf *b, const qc_quant_report *r) {
  int n_ops = r->ops ? r->n_ops : 0, shown = 0;
  double max_bytes = 0;
  for (int i = 0; i < n_ops; i++) {
    double m = fmax(r->ops[i].fp32_bytes, r->ops[i].quant_bytes);
    if (m > 0 && isfinite(m) && shown < MAX_OP_BARS) {
      shown++;
      max_bytes = fmax(max_bytes, m);
    }
  }
  if (shown == 0) {
    qc_rb_puts(b, "<p class=\"note\">No op type owns parameters.</p>\n");
    return 0;
  }
  qc_rb_puts(b, "<div class=\"legend\">");
  qc_html_legend_item(b, "#8da0b8", "FP32");
  qc_html_legend_item(b, "#e07b39", "INT8");
  qc_rb_puts(b, "</div>\n");
  const int label_w = 150, bar_w = 580, row_h = 36;
  qc_html_svg_open(b, QC_HTML_CHART_W, shown * row_h + 8, "parameter bytes per op type");
  for (int i = 0, row = 0; i < n_ops && row < shown; i++) {
    const qc_op_bytes *op = &r->ops[i];
    double m = fmax(op->fp32_bytes, op->quant_bytes);
    if (!(m > 0) || !isfinite(m))
      continue;
    char op_type[sizeof op->op_type + 1];
    qc_html_op_type(op_type, op);
    int y = 4 + row++ * row_h;
    qc_rb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 19);
    qc_html_text_clip(b, op_type, 20, 0);
    qc_rb_puts(b, "</text>\n");
    const double values[2] = {op->fp32_bytes, op->quant_bytes};
    const char *colors[2] = {"#8da0b8", "#e07b39"};
    for (int k = 0; k < 2; k++) {
      double len = isfinite(values[k]) && values[k] > 0 ? values[k] / max_bytes * bar_w : 0;
      int by = y + k * 14 + 2;
      qc_rb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"", label_w, by);
      qc_html_coord(b, fmax(len, 1));
      qc_rb_printf(b, "\" height=\"12\" rx=\"2\" fill=\"%s\"/><text x=\"", colors[k]);
      qc_html_coord(b, label_w + fmax(len, 1) + 6);
      qc_rb_printf(b, "\" y=\"%d\" style=\"font-size:11px\">", by + 10);
      qc_html_bytes(b, values[k]);
      qc_rb_puts(b, "</text>\n");
    }
  }
  qc_rb_puts(b, "</svg>\n");
  if (shown < n_ops && shown > 0)
    qc_rb_printf(b, "<p class=\"note\">%d op types without parameters (or beyond the first %d) "
                    "are in the table only.</p>\n", n_ops - shown, MAX_OP_BARS);
  return shown;
}

/* ---- layers: per-layer SQNR, worst first ---- */

static const char *sqnr_color(double db) {
  if (isnan(db))
    return "#9aa3b0";
  return db < 20 ? "#d64545" : db < 30 ? "#e0a030" : "#3b9b58";
}

void qc_html_layers_section(qc_report_buf *b, const qc_quant_report *r) {
  qc_html_section_open(b, "layers", "Per-layer SQNR (worst first)");
  int n = r->layers ? r->n_layers : 0, shown = n < MAX_LAYER_BARS ? n : MAX_LAYER_BARS;
  if (n <= 0) {
    qc_rb_puts(b, "<p class=\"note\">No per-layer error in this report.</p>\n"
                  "</section>\n");
    return;
  }
  double scale_db = 40;
  for (int i = 0; i < shown; i++)
    if (isfinite(r->layers[i].sqnr_db))
      scale_db = fmax(scale_db, r->layers[i].sqnr_db);
  scale_db = ceil(scale_db / 10) * 10;
  qc_rb_puts(b, "<div class=\"legend\">");
  qc_html_legend_item(b, "#d64545", "< 20 dB");
  qc_html_legend_item(b, "#e0a030", "20\u201330 dB");
  qc_html_legend_item(b, "#3b9b58", "\u2265 30 dB");
  qc_rb_puts(b, "</div>\n");
  const int label_w = 300, bar_w = 500, row_h = 18, top = 20;
  qc_html_svg_open(b, QC_HTML_CHART_W, top + shown * row_h + 6, "per-layer SQNR in dB");
  for (int db = 0; db <= (int)scale_db; db += 10) { /* grid with dB labels */
    double x = label_w + db / scale_db * bar_w;
    const char *stroke = db == 20 || db == 30 ? "#b0b7c3\" stroke-dasharray=\"4 3" : "#e6e9ee";
    qc_rb_puts(b, "<line x1=\"");
    qc_html_coord(b, x);
    qc_rb_printf(b, "\" y1=\"%d\" x2=\"", top - 4);
    qc_html_coord(b, x);
    qc_rb_printf(b, "\" y2=\"%d\" stroke=\"%s\"/><text x=\"", top + shown * row_h, stroke);
    qc_html_coord(b, x);
    qc_rb_printf(b, "\" y=\"%d\" text-anchor=\"middle\" style=\"font-size:11px\">%d dB</text>\n",
                 top - 7, db);
  }
  for (int i = 0; i < shown; i++) {
    const qc_layer_error *l = &r->layers[i];
    int y = top + i * row_h;
    double db = l->sqnr_db, len = isnan(db) ? 0 : fmin(fmax(db, 0), scale_db) / scale_db * bar_w;
    qc_rb_printf(b, "<g><title>");
    qc_html_text(b, l->name);
    qc_rb_printf(b, "</title><text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 13);
    qc_html_text_clip(b, l->name, 42, 1);
    qc_rb_printf(b, "</text><rect x=\"%d\" y=\"%d\" width=\"", label_w, y + 3);
    qc_html_coord(b, fmax(len, 1));
    qc_rb_printf(b, "\" height=\"13\" rx=\"2\" fill=\"%s\"/><text x=\"", sqnr_color(db));
    qc_html_coord(b, label_w + fmax(len, 1) + 6);
    qc_rb_printf(b, "\" y=\"%d\" style=\"font-size:11px\">", y + 13);
    qc_html_num(b, "%.1f", db);
    qc_rb_puts(b, " dB</text></g>\n");
  }
  qc_rb_puts(b, "</svg>\n");
  if (shown < n)
    qc_rb_printf(b, "<p class=\"note\">Showing the worst %d of %d layers.</p>\n", shown, n);
  qc_rb_puts(b, "</section>\n");
}

/* ---- histograms with each observer's range ---- */

/* The counts as one filled step outline, linear or log10(1 + count) scaled. */
static void hist_path(qc_report_buf *b, const qc_hist_view *h, double x0, double x_per_value,
                      double y_base, double height, int log_scale, const char *cls) {
  double max_count = 0;
  for (int i = 0; i < h->nbins; i++)
    if (isfinite(h->counts[i]))
      max_count = fmax(max_count, h->counts[i]);
  double top = log_scale ? log10(1 + max_count) : max_count;
  double bin_w = (h->hi - h->lo) / h->nbins;
  qc_rb_printf(b, "<path class=\"%s\" fill=\"#a9bcd6\" stroke=\"#5f7ea8\" stroke-width=\"0.6\" d=\"M",
               cls);
  qc_html_coord(b, x0 + (h->lo - h->lo) * x_per_value);
  qc_rb_puts(b, " ");
  qc_html_coord(b, y_base);
  for (int i = 0; i < h->nbins; i++) {
    double c = isfinite(h->counts[i]) && h->counts[i] > 0 ? h->counts[i] : 0;
    double v = log_scale ? log10(1 + c) : c;
    double y = y_base - (top > 0 ? v / top * height : 0);
    for (int edge = 0; edge < 2; edge++) {
      qc_rb_puts(b, "L");
      qc_html_coord(b, x0 + (i + edge) * bin_w * x_per_value);
      qc_rb_puts(b, " ");
      qc_html_coord(b, y);
    }
  }
  qc_rb_puts(b, "L");
  qc_html_coord(b, x0 + h->nbins * bin_w * x_per_value);
  qc_rb_puts(b, " ");
  qc_html_coord(b, y_base);
  qc_rb_puts(b, "Z\"/>\n");
}

static void hist_view(qc_report_buf *b, const qc_hist_view *h) {
  qc_rb_puts(b, "<div class=\"hist\"><h3 class=\"name\">");
  qc_html_text(b, h->tensor);
  qc_rb_puts(b, "</h3>\n");
  if (!h->counts || h->nbins <= 0 || !(h->hi > h->lo) || !isfinite(h->lo) || !isfinite(h->hi)) {
    qc_rb_puts(b, "<p class=\"note\">No histogram recorded.</p></div>\n");
    return;
  }
  int n_ranges = h->n_ranges < 0 ? 0 : h->n_ranges > 8 ? 8 : h->n_ranges;
  double lo = h->lo, hi = h->hi; /* widen so every observer's range is visible */
  for (int i = 0; i < n_ranges; i++) {
    if (isfinite(h->ranges[i].rmin))
      lo = fmin(lo, h->ranges[i].rmin);
    if (isfinite(h->ranges[i].rmax))
      hi = fmax(hi, h->ranges[i].rmax);
  }
  double pad = (hi - lo) * 0.02;
  lo -= pad;
  hi += pad;
  const int left = 20, right = QC_HTML_CHART_W - 20, top = 10, base = 190;
  double per_value = (right - left) / (hi - lo), x0 = left + (h->lo - lo) * per_value;
  qc_html_svg_open(b, QC_HTML_CHART_W, 220, "activation histogram with observer ranges");
  qc_rb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fbfcfd\" "
                  "stroke=\"#e6e9ee\"/>\n", left, top, right - left, base - top);
  hist_path(b, h, x0, per_value, base, base - top - 8, 1, "log");
  hist_path(b, h, x0, per_value, base, base - top - 8, 0, "lin");
  /* Value axis: ticks at round numbers (1, 2 or 5 x 10^k apart). */
  double raw = (hi - lo) / 6, mag = pow(10, floor(log10(raw))), f = raw / mag;
  double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag, first = ceil(lo / step);
  for (int t = 0; t <= 12 && (first + t) * step <= hi; t++) {
    double v = (first + t) * step, x = left + (v - lo) * per_value;
    if (fabs(v) < step * 1e-9)
      v = 0; /* no "-0" or "1e-17" */
    qc_rb_puts(b, "<line x1=\"");
    qc_html_coord(b, x);
    qc_rb_printf(b, "\" y1=\"%d\" x2=\"", v == 0 ? top : base);
    qc_html_coord(b, x);
    qc_rb_printf(b, "\" y2=\"%d\" stroke=\"%s\"/><text x=\"", base + 5, v == 0 ? "#c5cbd5" : "#8a93a3");
    qc_html_coord(b, x);
    qc_rb_printf(b, "\" y=\"%d\" text-anchor=\"middle\" style=\"font-size:11px\">", base + 18);
    qc_html_num(b, "%.4g", v);
    qc_rb_puts(b, "</text>\n");
  }
  for (int i = 0; i < n_ranges; i++) {
    const float ends[2] = {h->ranges[i].rmin, h->ranges[i].rmax};
    for (int k = 0; k < 2; k++) {
      if (!isfinite(ends[k]))
        continue;
      double x = left + (ends[k] - lo) * per_value;
      qc_rb_puts(b, "<line x1=\"");
      qc_html_coord(b, x);
      qc_rb_printf(b, "\" y1=\"%d\" x2=\"", top);
      qc_html_coord(b, x);
      qc_rb_printf(b, "\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"%s\"/>\n",
                   base, qc_html_palette[i], i % 2 ? "6 3" : "none");
    }
  }
  qc_rb_puts(b, "</svg>\n<div class=\"legend\">");
  for (int i = 0; i < n_ranges; i++) {
    qc_rb_printf(b, "<span><i class=\"sw\" style=\"background:%s\"></i>", qc_html_palette[i]);
    qc_html_text(b, h->ranges[i].observer);
    qc_rb_puts(b, " [");
    qc_html_num(b, "%.4g", h->ranges[i].rmin);
    qc_rb_puts(b, ", ");
    qc_html_num(b, "%.4g", h->ranges[i].rmax);
    qc_rb_puts(b, "]</span>");
  }
  qc_rb_puts(b, "</div></div>\n");
}

void qc_html_histograms_section(qc_report_buf *b, const qc_quant_report *r) {
  qc_html_section_open(b, "histograms", "Activation histograms and observer ranges");
  int n = r->hists ? r->n_hists : 0;
  if (n <= 0) {
    qc_rb_puts(b, "<p class=\"note\">No histograms recorded.</p>\n</section>\n");
    return;
  }
  /* A CSS-only switch: the checkbox shows the log or the linear outline. */
  qc_rb_puts(b, "<input type=\"checkbox\" id=\"hist-log\" checked> <label for=\"hist-log\">"
                "log-scaled counts</label>\n<p class=\"note\">Vertical lines: each observer's "
                "[rmin, rmax]; values outside are clipped.</p>\n");
  for (int i = 0; i < n; i++)
    hist_view(b, &r->hists[i]);
  qc_rb_puts(b, "</section>\n");
}

/* ---- compare: one row and one bar per observer ---- */

/* Top-1 when every entry was labeled, else output SQNR. */
int qc_html_compare_uses_top1(const qc_quant_report *r) {
  for (int i = 0; i < r->n_compare; i++)
    if (!r->compare[i].eval.labeled || r->compare[i].eval.quant_top1 < 0)
      return 0;
  return 1;
}

double qc_html_compare_metric(const qc_compare_entry *c, int top1) {
  return top1 ? c->eval.quant_top1 * 100 : c->eval.output_sqnr_db;
}

void qc_html_compare_chart(qc_report_buf *b, const qc_quant_report *r, int top1) {
  double fp32 = top1 ? r->compare[0].eval.fp32_top1 * 100 : NAN, max_v = top1 ? fp32 : 0;
  for (int i = 0; i < r->n_compare; i++)
    if (isfinite(qc_html_compare_metric(&r->compare[i], top1)))
      max_v = fmax(max_v, qc_html_compare_metric(&r->compare[i], top1));
  double axis_max = top1 ? 100 : fmax(10, ceil(max_v / 10) * 10);
  const int left = 60, right = QC_HTML_CHART_W - 20, top = 16, base = 236, plot_h = base - top;
  double slot = (double)(right - left) / r->n_compare, bar = fmin(slot * 0.6, 90);
  qc_rb_puts(b, "<div class=\"legend\">");
  qc_html_legend_item(b, "#2e9e57", "best");
  qc_html_legend_item(b, "#6d8fbf", "other observers");
  if (isfinite(fp32) && fp32 >= 0) {
    qc_rb_puts(b, "<span><svg width=\"26\" height=\"10\" style=\"display:inline;margin:0 5px 0 0\">"
                  "<line x1=\"0\" y1=\"5\" x2=\"26\" y2=\"5\" stroke=\"#1d2430\" "
                  "stroke-width=\"2\" stroke-dasharray=\"6 4\"/></svg>FP32 top-1 ");
    qc_html_num(b, "%.2f%%", fp32);
    qc_rb_puts(b, "</span>");
  }
  qc_rb_puts(b, "</div>\n");
  qc_html_svg_open(b, QC_HTML_CHART_W, 290,
                   top1 ? "top-1 accuracy per observer" : "output SQNR per observer");
  for (int t = 0; t <= 5; t++) {
    double v = axis_max * t / 5, y = base - v / axis_max * plot_h;
    qc_rb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"", left, right);
    qc_html_coord(b, y);
    qc_rb_puts(b, "\" y2=\"");
    qc_html_coord(b, y);
    qc_rb_printf(b, "\" stroke=\"%s\"/><text x=\"%d\" y=\"", t ? "#e6e9ee" : "#8a93a3", left - 6);
    qc_html_coord(b, y + 4);
    qc_rb_puts(b, "\" text-anchor=\"end\" style=\"font-size:11px\">");
    qc_html_num(b, "%.0f", v);
    qc_rb_puts(b, top1 ? "%</text>\n" : " dB</text>\n");
  }
  for (int i = 0; i < r->n_compare; i++) {
    const qc_compare_entry *c = &r->compare[i];
    double v = qc_html_compare_metric(c, top1);
    double h = isfinite(v) ? fmin(fmax(v, 0), axis_max) / axis_max * plot_h : 0;
    double x = left + slot * i + (slot - bar) / 2;
    qc_rb_puts(b, "<rect x=\"");
    qc_html_coord(b, x);
    qc_rb_puts(b, "\" y=\"");
    qc_html_coord(b, base - h);
    qc_rb_puts(b, "\" width=\"");
    qc_html_coord(b, bar);
    qc_rb_puts(b, "\" height=\"");
    qc_html_coord(b, h);
    qc_rb_printf(b, "\" rx=\"2\" fill=\"%s\"/>\n<text x=\"", c->best ? "#2e9e57" : "#6d8fbf");
    qc_html_coord(b, x + bar / 2);
    qc_rb_puts(b, "\" y=\"");
    /* Inside the bar top when it fits, so the FP32 line cannot cover it. */
    int inside = h >= 24;
    qc_html_coord(b, inside ? base - h + 16 : base - h - 6);
    qc_rb_printf(b, "\" text-anchor=\"middle\" style=\"font-weight:%d%s\">", c->best || inside ? 700 : 400,
                 inside ? ";fill:#fff" : "");
    qc_html_num(b, top1 ? "%.2f%%" : "%.1f dB", v);
    qc_rb_puts(b, "</text>\n<text x=\"");
    qc_html_coord(b, x + bar / 2);
    qc_rb_printf(b, "\" y=\"%d\" text-anchor=\"middle\">", base + 18);
    qc_html_text_clip(b, c->observer, 16, 0);
    if (c->best)
      qc_rb_puts(b, " \u2605");
    qc_rb_puts(b, "</text>\n<text x=\"");
    qc_html_coord(b, x + bar / 2);
    qc_rb_printf(b, "\" y=\"%d\" text-anchor=\"middle\" style=\"font-size:11px;fill:#5a6578\">",
                 base + 34);
    qc_html_bytes(b, c->size_bytes);
    qc_rb_puts(b, "</text>\n");
  }
  if (isfinite(fp32) && fp32 >= 0) {
    double y = base - fmin(fp32, axis_max) / axis_max * plot_h;
    qc_rb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"", left, right);
    qc_html_coord(b, y);
    qc_rb_puts(b, "\" y2=\"");
    qc_html_coord(b, y);
    qc_rb_puts(b, "\" stroke=\"#1d2430\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n");
  }
  qc_rb_puts(b, "</svg>\n");
}
