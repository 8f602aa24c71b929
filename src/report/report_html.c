/* HTML report: one self-contained page (inline CSS and SVG, no scripts, no
 * external assets) showing what the INT8 model lost and where: summary and
 * eval metrics, per-op parameter bytes, per-layer SQNR, activation histograms
 * with each observer's range, the observer comparison, every calibrated
 * tensor and the warnings. Every model-supplied string is HTML-escaped;
 * output is deterministic (no timestamps). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

#define CELL 48
enum { MAX_LAYER_BARS = 40, MAX_OP_BARS = 24, CHART_W = 880 };

/* Observer colours, shared by histogram lines and legends. */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/* ---- text ---- */

/* Escapes s for element text and attribute values; control characters are
 * shown as \n, \xHH (like the .txt report), invalid UTF-8 as U+FFFD. At most
 * max_chars code points are written (0: no limit), then an ellipsis. */
static void html_text_max(qc_report_buf *b, const char *s, int max_chars) {
  if (!s) {
    qc_rb_puts(b, "-");
    return;
  }
  const unsigned char *p = (const unsigned char *)s;
  for (int chars = 0; *p; chars++) {
    if (max_chars > 0 && chars == max_chars) {
      qc_rb_puts(b, "\u2026");
      return;
    }
    int n = qc_utf8_seq_len(p);
    if (n == 0) {
      qc_rb_puts(b, "\xEF\xBF\xBD");
      p++;
      continue;
    }
    switch (*p) {
    case '&': qc_rb_puts(b, "&amp;"); break;
    case '<': qc_rb_puts(b, "&lt;"); break;
    case '>': qc_rb_puts(b, "&gt;"); break;
    case '"': qc_rb_puts(b, "&quot;"); break;
    case '\'': qc_rb_puts(b, "&#39;"); break;
    case '\n': qc_rb_puts(b, "\\n"); break;
    case '\t': qc_rb_puts(b, "\\t"); break;
    case '\r': qc_rb_puts(b, "\\r"); break;
    default:
      if (*p < 0x20 || *p == 0x7F)
        qc_rb_printf(b, "\\x%02X", *p);
      else
        qc_rb_append(b, p, (size_t)n);
    }
    p += n;
  }
}

static void html_text(qc_report_buf *b, const char *s) { html_text_max(b, s, 0); }

/* A finite number through qc_rb_number (locale-proof); others as nan/inf. */
static void num(qc_report_buf *b, const char *fmt, double v) {
  if (isnan(v))
    qc_rb_puts(b, "nan");
  else if (isinf(v))
    qc_rb_puts(b, v > 0 ? "inf" : "-inf");
  else
    qc_rb_number(b, fmt, v);
}

/* SVG coordinate with one decimal. */
static void coord(qc_report_buf *b, double v) { num(b, "%.1f", isfinite(v) ? v : 0); }

static void human_bytes(char out[CELL], double bytes) {
  static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (!isfinite(bytes) || bytes < 0) {
    snprintf(out, CELL, "?");
    return;
  }
  if (bytes < 1024) {
    snprintf(out, CELL, "%.0f B", bytes);
    return;
  }
  double v = bytes / 1024;
  int u = 0;
  for (; v >= 1024 && u < 3; u++)
    v /= 1024;
  snprintf(out, CELL, "%.1f %s", v, units[u]);
}

static void bytes_cell(qc_report_buf *b, double bytes) {
  char s[CELL];
  human_bytes(s, bytes);
  qc_rb_puts(b, s);
}

/* A fraction as a percentage; negative (= not measured) as a dash. */
static void percent(qc_report_buf *b, double fraction) {
  if (!(fraction >= 0)) {
    qc_rb_puts(b, "\u2013");
    return;
  }
  num(b, "%.2f", fraction * 100);
  qc_rb_puts(b, "%");
}

static void op_type_of(char out[sizeof(((qc_op_bytes *)0)->op_type) + 1], const qc_op_bytes *op) {
  memcpy(out, op->op_type, sizeof op->op_type); /* may fill its array unterminated */
  out[sizeof op->op_type] = 0;
}

/* ---- page frame ---- */

static const char *const page_css =
    "body{margin:0;background:#f4f5f7;color:#1d2430;"
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}\n"
    ".wrap{max-width:960px;margin:0 auto;padding:24px 20px 48px}\n"
    "h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:0 0 12px}"
    "h3{font-size:15px;margin:16px 0 6px;font-weight:600}\n"
    ".sub{color:#5a6578;margin:0 0 14px;word-break:break-all}\n"
    "nav{margin:0 0 18px}nav a{margin-right:14px;color:#2457a6;text-decoration:none}\n"
    "section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:18px 20px;"
    "margin:0 0 18px}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 14px}\n"
    ".card{flex:1 1 150px;background:#f7f9fc;border:1px solid #e3e7ee;border-radius:6px;"
    "padding:10px 12px}.card b{display:block;font-size:21px}.card span{color:#5a6578;"
    "font-size:13px}\n"
    "table{border-collapse:collapse;width:100%;margin:6px 0 4px;font-size:14px}\n"
    "th,td{padding:5px 9px;text-align:left;border-bottom:1px solid #e6e9ee}"
    "th{background:#eef1f5;font-weight:600}\n"
    "tbody tr:nth-child(even){background:#f8f9fb}td.n,th.n{text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "td.name{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;"
    "word-break:break-all}\n"
    "tr.best{background:#e7f6ea!important;font-weight:600}\n"
    ".note{color:#5a6578;font-size:13px;margin:6px 0}\n"
    "svg{max-width:100%;height:auto;display:block;margin:6px 0}\n"
    "svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
    "font-size:12px;fill:#1d2430}\n"
    ".legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px;margin:4px 0 10px}\n"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;"
    "vertical-align:-1px}\n"
    "#hist-log:checked~.hist .lin,#hist-log:not(:checked)~.hist .log{display:none}\n"
    "ul.warn li{margin:3px 0}footer{color:#8a93a3;font-size:12px;text-align:center}\n";

static void section_open(qc_report_buf *b, const char *id, const char *title) {
  qc_rb_printf(b, "<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
}

static void svg_open(qc_report_buf *b, int w, int h, const char *label) {
  qc_rb_printf(b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
               "height=\"%d\" role=\"img\" aria-label=\"%s\">\n",
               w, h, w, h, label);
}

static void legend_item(qc_report_buf *b, const char *color, const char *label) {
  qc_rb_printf(b, "<span><i class=\"sw\" style=\"background:%s\"></i>", color);
  html_text(b, label);
  qc_rb_puts(b, "</span>");
}

/* ---- summary ---- */

static void card(qc_report_buf *b, const char *value, const char *caption) {
  qc_rb_puts(b, "<div class=\"card\"><b>");
  html_text(b, value);
  qc_rb_puts(b, "</b><span>");
  html_text(b, caption);
  qc_rb_puts(b, "</span></div>\n");
}

static void kv_row(qc_report_buf *b, const char *key) { qc_rb_printf(b, "<tr><th>%s</th><td>", key); }

static void eval_row(qc_report_buf *b, const char *metric, double fp32, double quant, int as_percent) {
  qc_rb_printf(b, "<tr><td>%s</td><td class=\"n\">", metric);
  if (as_percent)
    percent(b, fp32);
  else
    num(b, "%.3f", fp32);
  qc_rb_puts(b, "</td><td class=\"n\">");
  if (as_percent)
    percent(b, quant);
  else
    num(b, "%.3f", quant);
  qc_rb_puts(b, "</td><td class=\"n\">");
  if (as_percent && fp32 >= 0 && quant >= 0) {
    num(b, "%+.2f", (quant - fp32) * 100);
    qc_rb_puts(b, " pts");
  } else if (!as_percent && fp32 > 0 && quant > 0) {
    num(b, "%.2f", fp32 / quant);
    qc_rb_puts(b, "\u00D7 speed-up");
  } else {
    qc_rb_puts(b, "\u2013");
  }
  qc_rb_puts(b, "</td></tr>\n");
}

static void eval_table(qc_report_buf *b, const qc_eval_result *e) {
  qc_rb_printf(b, "<h3>Evaluation on %" PRId64 " samples%s</h3>\n", e->samples,
               e->labeled ? " (labeled)" : " (unlabeled: FP32 vs INT8 agreement only)");
  qc_rb_puts(b, "<table><thead><tr><th>metric</th><th class=\"n\">FP32</th>"
                "<th class=\"n\">INT8</th><th class=\"n\">change</th></tr></thead><tbody>\n");
  if (e->labeled) {
    eval_row(b, "top-1 accuracy", e->fp32_top1, e->quant_top1, 1);
    eval_row(b, "top-5 accuracy", e->fp32_top5, e->quant_top5, 1);
  }
  qc_rb_puts(b, "<tr><td>top-1 agreement with FP32</td><td class=\"n\">100%</td><td class=\"n\">");
  percent(b, e->agreement);
  qc_rb_puts(b, "</td><td class=\"n\">\u2013</td></tr>\n<tr><td>output SQNR</td>"
                "<td class=\"n\">\u2013</td><td class=\"n\">");
  num(b, "%.2f", e->output_sqnr_db);
  qc_rb_puts(b, " dB</td><td class=\"n\">\u2013</td></tr>\n<tr><td>output cosine similarity</td>"
                "<td class=\"n\">1</td><td class=\"n\">");
  num(b, "%.6f", e->cosine);
  qc_rb_puts(b, "</td><td class=\"n\">\u2013</td></tr>\n");
  eval_row(b, "milliseconds per sample", e->fp32_ms, e->quant_ms, 0);
  qc_rb_puts(b, "</tbody></table>\n");
}

static void summary_section(qc_report_buf *b, const qc_quant_report *r) {
  char v[CELL], w[CELL], caption[CELL];
  section_open(b, "summary", "Summary");
  qc_rb_puts(b, "<div class=\"cards\">\n");
  human_bytes(v, r->fp32_bytes);
  human_bytes(w, r->quantized_bytes);
  snprintf(caption, CELL, "FP32 %s \u2192 INT8", v);
  card(b, w, caption);
  if (r->fp32_bytes > 0 && r->quantized_bytes > 0) {
    snprintf(v, CELL, "%.2f\u00D7", r->fp32_bytes / r->quantized_bytes);
    card(b, v, "smaller");
  }
  snprintf(v, CELL, "%d / %d", r->nodes_quantized, r->nodes_total);
  card(b, v, "nodes quantized");
  if (r->eval && r->eval->labeled && r->eval->quant_top1 >= 0) {
    snprintf(v, CELL, "%.2f%%", r->eval->quant_top1 * 100);
    snprintf(caption, CELL, "INT8 top-1 (FP32 %.2f%%)", r->eval->fp32_top1 * 100);
    card(b, v, caption);
  } else if (r->eval) {
    snprintf(v, CELL, "%.1f dB", r->eval->output_sqnr_db);
    card(b, v, "output SQNR");
  }
  qc_rb_puts(b, "</div>\n<table class=\"kv\"><tbody>\n");
  kv_row(b, "model");
  html_text(b, r->model_path);
  qc_rb_puts(b, " \u2192 ");
  html_text(b, r->output_path);
  qc_rb_puts(b, "</td></tr>\n");
  kv_row(b, "size");
  bytes_cell(b, r->fp32_bytes);
  qc_rb_puts(b, " \u2192 ");
  bytes_cell(b, r->quantized_bytes);
  qc_rb_puts(b, "</td></tr>\n");
  kv_row(b, "observer");
  html_text(b, r->observer);
  if (r->observer && strcmp(r->observer, "percentile") == 0) {
    qc_rb_puts(b, " (");
    num(b, "%.6g", r->percentile);
    qc_rb_puts(b, "%)");
  }
  qc_rb_puts(b, "</td></tr>\n");
  kv_row(b, "types");
  qc_rb_puts(b, "activations ");
  html_text(b, r->weight_only ? "float (weight-only)" : r->activation_type);
  qc_rb_puts(b, ", weights ");
  html_text(b, r->weight_type);
  qc_rb_puts(b, r->per_channel ? " per-channel" : " per-tensor");
  qc_rb_puts(b, "</td></tr>\n");
  kv_row(b, "calibration");
  qc_rb_printf(b, "%" PRId64 " samples in ", r->calibration_samples);
  num(b, "%.2f", r->calibration_seconds);
  qc_rb_puts(b, " s</td></tr>\n");
  kv_row(b, "total time");
  num(b, "%.2f", r->total_seconds);
  qc_rb_printf(b, " s on %d threads</td></tr>\n</tbody></table>\n", r->threads);
  if (r->eval)
    eval_table(b, r->eval);
  qc_rb_puts(b, "</section>\n");
}

/* ---- sizes: FP32 vs INT8 parameter bytes per op type ---- */

static void sizes_section(qc_report_buf *b, const qc_quant_report *r) {
  section_open(b, "sizes", "Parameter bytes per op type");
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
    qc_rb_puts(b, "<p class=\"note\">No op type owns parameters.</p>\n</section>\n");
    return;
  }
  qc_rb_puts(b, "<div class=\"legend\">");
  legend_item(b, "#8da0b8", "FP32");
  legend_item(b, "#e07b39", "INT8");
  qc_rb_puts(b, "</div>\n");
  const int label_w = 150, bar_w = 580, row_h = 36;
  svg_open(b, CHART_W, shown * row_h + 8, "parameter bytes per op type");
  for (int i = 0, row = 0; i < n_ops && row < shown; i++) {
    const qc_op_bytes *op = &r->ops[i];
    double m = fmax(op->fp32_bytes, op->quant_bytes);
    if (!(m > 0) || !isfinite(m))
      continue;
    char op_type[sizeof op->op_type + 1];
    op_type_of(op_type, op);
    int y = 4 + row++ * row_h;
    qc_rb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 19);
    html_text_max(b, op_type, 20);
    qc_rb_puts(b, "</text>\n");
    const double values[2] = {op->fp32_bytes, op->quant_bytes};
    const char *colors[2] = {"#8da0b8", "#e07b39"};
    for (int k = 0; k < 2; k++) {
      double len = isfinite(values[k]) && values[k] > 0 ? values[k] / max_bytes * bar_w : 0;
      int by = y + k * 14 + 2;
      qc_rb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"", label_w, by);
      coord(b, fmax(len, 1));
      qc_rb_printf(b, "\" height=\"12\" rx=\"2\" fill=\"%s\"/><text x=\"", colors[k]);
      coord(b, label_w + fmax(len, 1) + 6);
      qc_rb_printf(b, "\" y=\"%d\" style=\"font-size:11px\">", by + 10);
      bytes_cell(b, values[k]);
      qc_rb_puts(b, "</text>\n");
    }
  }
  qc_rb_puts(b, "</svg>\n");
  if (shown < n_ops)
    qc_rb_printf(b, "<p class=\"note\">%d op types without parameters (or beyond the first %d) "
                    "are in the table only.</p>\n", n_ops - shown, MAX_OP_BARS);
  qc_rb_puts(b, "<table><thead><tr><th>op type</th><th class=\"n\">nodes quantized</th>"
                "<th class=\"n\">params</th><th class=\"n\">FP32</th><th class=\"n\">INT8</th>"
                "</tr></thead><tbody>\n");
  for (int i = 0; i < n_ops; i++) {
    const qc_op_bytes *op = &r->ops[i];
    char op_type[sizeof op->op_type + 1];
    op_type_of(op_type, op);
    qc_rb_puts(b, "<tr><td class=\"name\">");
    html_text(b, op_type);
    qc_rb_printf(b, "</td><td class=\"n\">%d/%d</td><td class=\"n\">%" PRId64 "</td><td class=\"n\">",
                 op->nodes_quantized, op->nodes, op->params);
    bytes_cell(b, op->fp32_bytes);
    qc_rb_puts(b, "</td><td class=\"n\">");
    bytes_cell(b, op->quant_bytes);
    qc_rb_puts(b, "</td></tr>\n");
  }
  qc_rb_puts(b, "</tbody></table>\n</section>\n");
}

/* ---- layers: per-layer SQNR, worst first ---- */

static const char *sqnr_color(double db) {
  if (isnan(db))
    return "#9aa3b0";
  return db < 20 ? "#d64545" : db < 30 ? "#e0a030" : "#3b9b58";
}

static void layers_section(qc_report_buf *b, const qc_quant_report *r) {
  section_open(b, "layers", "Per-layer SQNR (worst first)");
  int n = r->layers ? r->n_layers : 0, shown = n < MAX_LAYER_BARS ? n : MAX_LAYER_BARS;
  if (n <= 0) {
    qc_rb_puts(b, "<p class=\"note\">No per-layer error measured (run with --eval).</p>\n"
                  "</section>\n");
    return;
  }
  double scale_db = 40;
  for (int i = 0; i < shown; i++)
    if (isfinite(r->layers[i].sqnr_db))
      scale_db = fmax(scale_db, r->layers[i].sqnr_db);
  scale_db = ceil(scale_db / 10) * 10;
  qc_rb_puts(b, "<div class=\"legend\">");
  legend_item(b, "#d64545", "< 20 dB");
  legend_item(b, "#e0a030", "20\u201330 dB");
  legend_item(b, "#3b9b58", "\u2265 30 dB");
  qc_rb_puts(b, "</div>\n");
  const int label_w = 300, bar_w = 500, row_h = 18, top = 20;
  svg_open(b, CHART_W, top + shown * row_h + 6, "per-layer SQNR in dB");
  for (int db = 0; db <= (int)scale_db; db += 10) { /* grid with dB labels */
    double x = label_w + db / scale_db * bar_w;
    const char *stroke = db == 20 || db == 30 ? "#b0b7c3\" stroke-dasharray=\"4 3" : "#e6e9ee";
    qc_rb_puts(b, "<line x1=\"");
    coord(b, x);
    qc_rb_printf(b, "\" y1=\"%d\" x2=\"", top - 4);
    coord(b, x);
    qc_rb_printf(b, "\" y2=\"%d\" stroke=\"%s\"/><text x=\"", top + shown * row_h, stroke);
    coord(b, x);
    qc_rb_printf(b, "\" y=\"%d\" text-anchor=\"middle\" style=\"font-size:11px\">%d dB</text>\n",
                 top - 7, db);
  }
  for (int i = 0; i < shown; i++) {
    const qc_layer_error *l = &r->layers[i];
    int y = top + i * row_h;
    double db = l->sqnr_db, len = isnan(db) ? 0 : fmin(fmax(db, 0), scale_db) / scale_db * bar_w;
    qc_rb_printf(b, "<g><title>");
    html_text(b, l->name);
    qc_rb_printf(b, "</title><text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 13);
    html_text_max(b, l->name, 42);
    qc_rb_printf(b, "</text><rect x=\"%d\" y=\"%d\" width=\"", label_w, y + 3);
    coord(b, fmax(len, 1));
    qc_rb_printf(b, "\" height=\"13\" rx=\"2\" fill=\"%s\"/><text x=\"", sqnr_color(db));
    coord(b, label_w + fmax(len, 1) + 6);
    qc_rb_printf(b, "\" y=\"%d\" style=\"font-size:11px\">", y + 13);
    num(b, "%.1f", db);
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
  coord(b, x0 + (h->lo - h->lo) * x_per_value);
  qc_rb_puts(b, " ");
  coord(b, y_base);
  for (int i = 0; i < h->nbins; i++) {
    double c = isfinite(h->counts[i]) && h->counts[i] > 0 ? h->counts[i] : 0;
    double v = log_scale ? log10(1 + c) : c;
    double y = y_base - (top > 0 ? v / top * height : 0);
    for (int edge = 0; edge < 2; edge++) {
      qc_rb_puts(b, "L");
      coord(b, x0 + (i + edge) * bin_w * x_per_value);
      qc_rb_puts(b, " ");
      coord(b, y);
    }
  }
  qc_rb_puts(b, "L");
  coord(b, x0 + h->nbins * bin_w * x_per_value);
  qc_rb_puts(b, " ");
  coord(b, y_base);
  qc_rb_puts(b, "Z\"/>\n");
}

static void hist_view(qc_report_buf *b, const qc_hist_view *h) {
  qc_rb_puts(b, "<div class=\"hist\"><h3 class=\"name\">");
  html_text(b, h->tensor);
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
  const int left = 20, right = CHART_W - 20, top = 10, base = 190;
  double per_value = (right - left) / (hi - lo), x0 = left + (h->lo - lo) * per_value;
  svg_open(b, CHART_W, 220, "activation histogram with observer ranges");
  qc_rb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fbfcfd\" "
                  "stroke=\"#e6e9ee\"/>\n", left, top, right - left, base - top);
  hist_path(b, h, x0, per_value, base, base - top - 8, 1, "log");
  hist_path(b, h, x0, per_value, base, base - top - 8, 0, "lin");
  for (int t = 0; t <= 6; t++) { /* value axis */
    double v = lo + (hi - lo) * t / 6, x = left + (v - lo) * per_value;
    qc_rb_puts(b, "<line x1=\"");
    coord(b, x);
    qc_rb_printf(b, "\" y1=\"%d\" x2=\"", base);
    coord(b, x);
    qc_rb_printf(b, "\" y2=\"%d\" stroke=\"#8a93a3\"/><text x=\"", base + 5);
    coord(b, x);
    qc_rb_printf(b, "\" y=\"%d\" text-anchor=\"%s\" style=\"font-size:11px\">", base + 18,
                 t == 0 ? "start" : t == 6 ? "end" : "middle");
    num(b, "%.3g", v);
    qc_rb_puts(b, "</text>\n");
  }
  for (int i = 0; i < n_ranges; i++) {
    const float ends[2] = {h->ranges[i].rmin, h->ranges[i].rmax};
    for (int k = 0; k < 2; k++) {
      if (!isfinite(ends[k]))
        continue;
      double x = left + (ends[k] - lo) * per_value;
      qc_rb_puts(b, "<line x1=\"");
      coord(b, x);
      qc_rb_printf(b, "\" y1=\"%d\" x2=\"", top);
      coord(b, x);
      qc_rb_printf(b, "\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"%s\"/>\n",
                   base, palette[i], i % 2 ? "6 3" : "none");
    }
  }
  qc_rb_puts(b, "</svg>\n<div class=\"legend\">");
  for (int i = 0; i < n_ranges; i++) {
    qc_rb_printf(b, "<span><i class=\"sw\" style=\"background:%s\"></i>", palette[i]);
    html_text(b, h->ranges[i].observer);
    qc_rb_puts(b, " [");
    num(b, "%.4g", h->ranges[i].rmin);
    qc_rb_puts(b, ", ");
    num(b, "%.4g", h->ranges[i].rmax);
    qc_rb_puts(b, "]</span>");
  }
  qc_rb_puts(b, "</div></div>\n");
}

static void histograms_section(qc_report_buf *b, const qc_quant_report *r) {
  section_open(b, "histograms", "Activation histograms and observer ranges");
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
static int compare_uses_top1(const qc_quant_report *r) {
  for (int i = 0; i < r->n_compare; i++)
    if (!r->compare[i].eval.labeled || r->compare[i].eval.quant_top1 < 0)
      return 0;
  return 1;
}

static double compare_metric(const qc_compare_entry *c, int top1) {
  return top1 ? c->eval.quant_top1 * 100 : c->eval.output_sqnr_db;
}

static void compare_chart(qc_report_buf *b, const qc_quant_report *r, int top1) {
  double fp32 = top1 ? r->compare[0].eval.fp32_top1 * 100 : NAN, max_v = top1 ? fp32 : 0;
  for (int i = 0; i < r->n_compare; i++)
    if (isfinite(compare_metric(&r->compare[i], top1)))
      max_v = fmax(max_v, compare_metric(&r->compare[i], top1));
  double axis_max = top1 ? 100 : fmax(10, ceil(max_v / 10) * 10);
  const int left = 60, right = CHART_W - 20, top = 16, base = 236, plot_h = base - top;
  double slot = (double)(right - left) / r->n_compare, bar = fmin(slot * 0.6, 90);
  svg_open(b, CHART_W, 290, top1 ? "top-1 accuracy per observer" : "output SQNR per observer");
  for (int t = 0; t <= 5; t++) {
    double v = axis_max * t / 5, y = base - v / axis_max * plot_h;
    qc_rb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"", left, right);
    coord(b, y);
    qc_rb_puts(b, "\" y2=\"");
    coord(b, y);
    qc_rb_printf(b, "\" stroke=\"%s\"/><text x=\"%d\" y=\"", t ? "#e6e9ee" : "#8a93a3", left - 6);
    coord(b, y + 4);
    qc_rb_puts(b, "\" text-anchor=\"end\" style=\"font-size:11px\">");
    num(b, "%.0f", v);
    qc_rb_puts(b, top1 ? "%</text>\n" : " dB</text>\n");
  }
  for (int i = 0; i < r->n_compare; i++) {
    const qc_compare_entry *c = &r->compare[i];
    double v = compare_metric(c, top1), h = isfinite(v) ? fmin(fmax(v, 0), axis_max) / axis_max * plot_h : 0;
    double x = left + slot * i + (slot - bar) / 2;
    qc_rb_puts(b, "<rect x=\"");
    coord(b, x);
    qc_rb_puts(b, "\" y=\"");
    coord(b, base - h);
    qc_rb_puts(b, "\" width=\"");
    coord(b, bar);
    qc_rb_puts(b, "\" height=\"");
    coord(b, h);
    qc_rb_printf(b, "\" rx=\"2\" fill=\"%s\"/>\n<text x=\"", c->best ? "#2e9e57" : "#6d8fbf");
    coord(b, x + bar / 2);
    qc_rb_puts(b, "\" y=\"");
    coord(b, base - h - 6);
    qc_rb_printf(b, "\" text-anchor=\"middle\"%s>", c->best ? " style=\"font-weight:700\"" : "");
    num(b, top1 ? "%.2f%%" : "%.1f dB", v);
    qc_rb_puts(b, "</text>\n<text x=\"");
    coord(b, x + bar / 2);
    qc_rb_printf(b, "\" y=\"%d\" text-anchor=\"middle\">", base + 18);
    html_text_max(b, c->observer, 16);
    if (c->best)
      qc_rb_puts(b, " \u2605");
    qc_rb_puts(b, "</text>\n<text x=\"");
    coord(b, x + bar / 2);
    qc_rb_printf(b, "\" y=\"%d\" text-anchor=\"middle\" style=\"font-size:11px;fill:#5a6578\">",
                 base + 34);
    bytes_cell(b, c->size_bytes);
    qc_rb_puts(b, "</text>\n");
  }
  if (isfinite(fp32) && fp32 >= 0) {
    double y = base - fmin(fp32, axis_max) / axis_max * plot_h;
    qc_rb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"", left, right);
    coord(b, y);
    qc_rb_puts(b, "\" y2=\"");
    coord(b, y);
    qc_rb_printf(b, "\" stroke=\"#1d2430\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>"
                    "<text x=\"%d\" y=\"", right - 4);
    coord(b, y - 5);
    qc_rb_puts(b, "\" text-anchor=\"end\">FP32 ");
    num(b, "%.2f%%", fp32);
    qc_rb_puts(b, "</text>\n");
  }
  qc_rb_puts(b, "</svg>\n");
}

static void compare_section(qc_report_buf *b, const qc_quant_report *r) {
  int top1 = compare_uses_top1(r);
  section_open(b, "compare", "Observer comparison");
  qc_rb_printf(b, "<table><thead><tr><th>observer</th><th class=\"n\">model size</th>"
                  "<th class=\"n\">%s</th><th class=\"n\">agreement</th>"
                  "<th class=\"n\">drop vs FP32</th><th>worst layer</th></tr></thead><tbody>\n",
               top1 ? "top-1" : "output SQNR");
  for (int i = 0; i < r->n_compare; i++) {
    const qc_compare_entry *c = &r->compare[i];
    qc_rb_puts(b, c->best ? "<tr class=\"best\"><td>\u2605 " : "<tr><td>");
    html_text(b, c->observer);
    qc_rb_puts(b, c->best ? " (best)</td><td class=\"n\">" : "</td><td class=\"n\">");
    bytes_cell(b, c->size_bytes);
    qc_rb_puts(b, "</td><td class=\"n\">");
    num(b, top1 ? "%.2f%%" : "%.2f dB", compare_metric(c, top1));
    qc_rb_puts(b, "</td><td class=\"n\">");
    percent(b, c->eval.agreement);
    qc_rb_puts(b, "</td><td class=\"n\">");
    if (top1 && c->eval.fp32_top1 >= 0) {
      num(b, "%.2f", (c->eval.fp32_top1 - c->eval.quant_top1) * 100);
      qc_rb_puts(b, " pts");
    } else {
      qc_rb_puts(b, "\u2013");
    }
    char worst[sizeof c->worst_layer + 1];
    memcpy(worst, c->worst_layer, sizeof c->worst_layer);
    worst[sizeof c->worst_layer] = 0;
    qc_rb_puts(b, "</td><td class=\"name\">");
    html_text(b, worst);
    qc_rb_puts(b, " (");
    num(b, "%.1f", c->worst_sqnr_db);
    qc_rb_puts(b, " dB)</td></tr>\n");
  }
  qc_rb_puts(b, "</tbody></table>\n");
  compare_chart(b, r, top1);
  qc_rb_puts(b, "</section>\n");
}

/* ---- tensors and warnings ---- */

static void tensors_section(qc_report_buf *b, const qc_quant_report *r) {
  int n = r->tensors ? r->n_tensors : 0;
  qc_rb_printf(b, "<section id=\"tensors\">\n<h2>Calibrated tensors (%d)</h2>\n", n);
  qc_rb_puts(b, "<table><thead><tr><th>name</th><th class=\"n\">rmin</th><th class=\"n\">rmax</th>"
                "<th class=\"n\">scale</th><th class=\"n\">zero point</th><th>type</th>"
                "<th class=\"n\">NaN/Inf</th></tr></thead><tbody>\n");
  for (int i = 0; i < n; i++) {
    const qc_tensor_report *t = &r->tensors[i];
    qc_rb_puts(b, "<tr><td class=\"name\">");
    html_text(b, t->name);
    qc_rb_puts(b, "</td><td class=\"n\">");
    num(b, "%.7g", t->rmin);
    qc_rb_puts(b, "</td><td class=\"n\">");
    num(b, "%.7g", t->rmax);
    qc_rb_puts(b, "</td><td class=\"n\">");
    num(b, "%.7g", t->scale);
    qc_rb_printf(b, "</td><td class=\"n\">%" PRId32 "</td><td>", t->zero_point);
    html_text(b, t->qtype);
    qc_rb_printf(b, "</td><td class=\"n\">%" PRIu64 "</td></tr>\n", t->nonfinite);
  }
  qc_rb_puts(b, "</tbody></table>\n</section>\n");
}

static void warnings_section(qc_report_buf *b, const qc_quant_report *r) {
  int n = r->warnings ? r->n_warnings : 0;
  qc_rb_printf(b, "<section id=\"warnings\">\n<h2>Warnings (%d)</h2>\n", n);
  if (n == 0)
    qc_rb_puts(b, "<p class=\"note\">None.</p>\n");
  else
    qc_rb_puts(b, "<ul class=\"warn\">\n");
  for (int i = 0; i < n; i++) {
    qc_rb_puts(b, "<li>");
    html_text(b, r->warnings[i] ? r->warnings[i] : "");
    qc_rb_puts(b, "</li>\n");
  }
  qc_rb_puts(b, n ? "</ul>\n</section>\n" : "</section>\n");
}

int qc_report_render_html(qc_report_buf *b, const qc_quant_report *r) {
  const char *model = r->model_path ? r->model_path : "model";
  const char *base = strrchr(model, '/');
  base = base ? base + 1 : model;
  qc_rb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<title>qconvert report: ");
  html_text(b, base);
  qc_rb_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main class=\"wrap\">\n"
                  "<h1>Quantization report: ", page_css);
  html_text(b, base);
  qc_rb_puts(b, "</h1>\n<p class=\"sub\">");
  html_text(b, r->model_path);
  qc_rb_puts(b, " \u2192 ");
  html_text(b, r->output_path);
  qc_rb_puts(b, "</p>\n<nav><a href=\"#summary\">summary</a><a href=\"#sizes\">sizes</a>"
                "<a href=\"#layers\">layers</a><a href=\"#histograms\">histograms</a>");
  int has_compare = r->compare && r->n_compare > 0;
  if (has_compare)
    qc_rb_puts(b, "<a href=\"#compare\">compare</a>");
  qc_rb_puts(b, "<a href=\"#tensors\">tensors</a><a href=\"#warnings\">warnings</a></nav>\n");
  summary_section(b, r);
  if (has_compare)
    compare_section(b, r);
  sizes_section(b, r);
  layers_section(b, r);
  histograms_section(b, r);
  tensors_section(b, r);
  warnings_section(b, r);
  qc_rb_puts(b, "<footer>generated by qconvert</footer>\n</main>\n</body>\n</html>\n");
  return QC_OK;
}
