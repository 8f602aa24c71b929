/* HTML report: one self-contained page (inline CSS and SVG, no scripts, no
 * external assets) showing what the INT8 model lost and where: summary and
 * eval metrics, per-op parameter bytes, per-layer SQNR, activation histograms
 * with each observer's range, the observer comparison, the float regions and
 * saturation clips (when any), every calibrated tensor and the warnings. Every model-supplied string is HTML-escaped;
 * output is deterministic (no timestamps). The SVG charts are in
 * report_html_charts.c. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_html.h"

#define CELL 48

const char *const qc_html_palette[QC_HTML_N_COLORS] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/* ---- text ---- */

void qc_html_text(qc_report_buf *b, const char *s) {
  if (!s) {
    qc_rb_puts(b, "-");
    return;
  }
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
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

void qc_html_text_clip(qc_report_buf *b, const char *s, int max_chars, int keep_tail) {
  int chars = 0;
  const unsigned char *p = (const unsigned char *)(s ? s : "-"), *cut = NULL;
  for (const unsigned char *q = p; *q; chars++) {
    int n = qc_utf8_seq_len(q);
    q += n ? n : 1;
  }
  if (chars <= max_chars) {
    qc_html_text(b, s);
    return;
  }
  int skip = keep_tail ? chars - (max_chars - 1) : max_chars - 1;
  cut = p;
  for (int i = 0; i < skip; i++) {
    int n = qc_utf8_seq_len(cut);
    cut += n ? n : 1;
  }
  if (keep_tail) {
    qc_rb_puts(b, "\u2026");
    qc_html_text(b, (const char *)cut);
    return;
  }
  char head[1024];
  size_t len = (size_t)(cut - p) < sizeof head ? (size_t)(cut - p) : sizeof head - 1;
  memcpy(head, p, len);
  head[len] = 0;
  qc_html_text(b, head);
  qc_rb_puts(b, "\u2026");
}

/* A finite number through qc_rb_number (locale-proof); others as nan/inf. */
void qc_html_num(qc_report_buf *b, const char *fmt, double v) {
  if (isnan(v))
    qc_rb_puts(b, "nan");
  else if (isinf(v))
    qc_rb_puts(b, v > 0 ? "inf" : "-inf");
  else
    qc_rb_number(b, fmt, v);
}

/* SVG coordinate with one decimal. */
void qc_html_coord(qc_report_buf *b, double v) { qc_html_num(b, "%.1f", isfinite(v) ? v : 0); }


void qc_html_bytes(qc_report_buf *b, double bytes) {
  char s[CELL];
  qc_format_bytes(bytes, s, CELL);
  qc_rb_puts(b, s);
}

/* A fraction as a percentage; negative (= not measured) as a dash. */
void qc_html_percent(qc_report_buf *b, double fraction) {
  if (!(fraction >= 0)) {
    qc_rb_puts(b, "\u2013");
    return;
  }
  qc_html_num(b, "%.2f", fraction * 100);
  qc_rb_puts(b, "%");
}

void qc_html_op_type(char out[sizeof(((qc_op_bytes *)0)->op_type) + 1], const qc_op_bytes *op) {
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

void qc_html_section_open(qc_report_buf *b, const char *id, const char *title) {
  qc_rb_printf(b, "<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
}

void qc_html_svg_open(qc_report_buf *b, int w, int h, const char *label) {
  qc_rb_printf(b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
               "height=\"%d\" role=\"img\" aria-label=\"%s\">\n",
               w, h, w, h, label);
}

void qc_html_legend_item(qc_report_buf *b, const char *color, const char *label) {
  qc_rb_printf(b, "<span><i class=\"sw\" style=\"background:%s\"></i>", color);
  qc_html_text(b, label);
  qc_rb_puts(b, "</span>");
}

/* ---- summary ---- */

static void card(qc_report_buf *b, const char *value, const char *caption) {
  qc_rb_puts(b, "<div class=\"card\"><b>");
  qc_html_text(b, value);
  qc_rb_puts(b, "</b><span>");
  qc_html_text(b, caption);
  qc_rb_puts(b, "</span></div>\n");
}

static void kv_row(qc_report_buf *b, const char *key) { qc_rb_printf(b, "<tr><th>%s</th><td>", key); }

static void eval_row(qc_report_buf *b, const char *metric, double fp32, double quant, int as_percent) {
  qc_rb_printf(b, "<tr><td>%s</td><td class=\"n\">", metric);
  if (as_percent)
    qc_html_percent(b, fp32);
  else
    qc_html_num(b, "%.4g", fp32);
  qc_rb_puts(b, "</td><td class=\"n\">");
  if (as_percent)
    qc_html_percent(b, quant);
  else
    qc_html_num(b, "%.4g", quant);
  qc_rb_puts(b, "</td><td class=\"n\">");
  if (as_percent && fp32 >= 0 && quant >= 0) {
    qc_html_num(b, "%+.2f", (quant - fp32) * 100);
    qc_rb_puts(b, " pts");
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
  qc_html_percent(b, e->agreement);
  qc_rb_puts(b, "</td><td class=\"n\">\u2013</td></tr>\n<tr><td>output SQNR</td>"
                "<td class=\"n\">\u2013</td><td class=\"n\">");
  qc_html_num(b, "%.2f", e->output_sqnr_db);
  qc_rb_puts(b, " dB</td><td class=\"n\">\u2013</td></tr>\n<tr><td>output cosine similarity</td>"
                "<td class=\"n\">1</td><td class=\"n\">");
  qc_html_num(b, "%.6f", e->cosine);
  qc_rb_puts(b, "</td><td class=\"n\">\u2013</td></tr>\n");
  /* qconvert's engine simulates Q/DQ in float, so this is not the int8 speed. */
  eval_row(b, "ms per sample (qconvert engine, not int8 kernels)", e->fp32_ms, e->quant_ms, 0);
  qc_rb_puts(b, "</tbody></table>\n");
}

static void summary_section(qc_report_buf *b, const qc_quant_report *r) {
  char v[CELL], w[CELL], caption[CELL];
  qc_html_section_open(b, "summary", "Summary");
  qc_rb_puts(b, "<div class=\"cards\">\n");
  qc_format_bytes(r->fp32_bytes, v, CELL);
  qc_format_bytes(r->quantized_bytes, w, CELL);
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
  qc_html_text(b, r->model_path);
  qc_rb_puts(b, " \u2192 ");
  qc_html_text(b, r->output_path);
  qc_rb_puts(b, "</td></tr>\n");
  kv_row(b, "size");
  qc_html_bytes(b, r->fp32_bytes);
  qc_rb_puts(b, " \u2192 ");
  qc_html_bytes(b, r->quantized_bytes);
  qc_rb_puts(b, "</td></tr>\n");
  kv_row(b, "observer");
  qc_html_text(b, r->observer);
  if (r->observer && strcmp(r->observer, "percentile") == 0) {
    qc_rb_puts(b, " (");
    qc_html_num(b, "%.6g", r->percentile);
    qc_rb_puts(b, "%)");
  }
  qc_rb_puts(b, "</td></tr>\n");
  kv_row(b, "types");
  qc_rb_puts(b, "activations ");
  qc_html_text(b, r->weight_only ? "float (weight-only)" : r->activation_type);
  qc_rb_puts(b, ", weights ");
  qc_html_text(b, r->weight_type);
  qc_rb_puts(b, r->per_channel ? " per-channel" : " per-tensor");
  qc_rb_puts(b, "</td></tr>\n");
  kv_row(b, "calibration");
  qc_rb_printf(b, "%" PRId64 " samples in ", r->calibration_samples);
  qc_html_num(b, "%.2f", r->calibration_seconds);
  qc_rb_puts(b, " s</td></tr>\n");
  kv_row(b, "total time");
  qc_html_num(b, "%.2f", r->total_seconds);
  qc_rb_printf(b, " s on %d threads</td></tr>\n</tbody></table>\n", r->threads);
  if (r->eval)
    eval_table(b, r->eval);
  qc_rb_puts(b, "</section>\n");
}

static void sizes_section(qc_report_buf *b, const qc_quant_report *r) {
  qc_html_section_open(b, "sizes", "Parameter bytes per op type");
  int n_ops = r->ops ? r->n_ops : 0;
  qc_html_sizes_chart(b, r);
  qc_rb_puts(b, "<table><thead><tr><th>op type</th><th class=\"n\">nodes quantized</th>"
                "<th class=\"n\">params</th><th class=\"n\">FP32</th><th class=\"n\">INT8</th>"
                "</tr></thead><tbody>\n");
  for (int i = 0; i < n_ops; i++) {
    const qc_op_bytes *op = &r->ops[i];
    char op_type[sizeof op->op_type + 1];
    qc_html_op_type(op_type, op);
    qc_rb_puts(b, "<tr><td class=\"name\">");
    qc_html_text(b, op_type);
    qc_rb_printf(b, "</td><td class=\"n\">%d/%d</td><td class=\"n\">%" PRId64 "</td><td class=\"n\">",
                 op->nodes_quantized, op->nodes, op->params);
    qc_html_bytes(b, op->fp32_bytes);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_bytes(b, op->quant_bytes);
    qc_rb_puts(b, "</td></tr>\n");
  }
  qc_rb_puts(b, "</tbody></table>\n</section>\n");
}

/* Only with passes run; the times vary run to run. */
static void passes_section(qc_report_buf *b, const qc_quant_report *r) {
  if (!r->passes || r->n_passes <= 0)
    return;
  qc_html_section_open(b, "passes", "Graph passes");
  qc_rb_puts(b, "<table><thead><tr><th>stage</th><th>pass</th><th class=\"n\">count</th>"
                "<th class=\"n\">time</th></tr></thead><tbody>\n");
  for (int i = 0; i < r->n_passes; i++) {
    qc_rb_puts(b, "<tr><td>");
    qc_html_text(b, r->passes[i].stage);
    qc_rb_puts(b, "</td><td class=\"name\">");
    qc_html_text(b, r->passes[i].pass);
    qc_rb_printf(b, "</td><td class=\"n\">%d</td><td class=\"n\">%.3f ms</td></tr>\n", r->passes[i].count,
                 r->passes[i].ms);
  }
  qc_rb_puts(b, "</tbody></table>\n</section>\n");
}

static void compare_section(qc_report_buf *b, const qc_quant_report *r) {
  int top1 = qc_html_compare_uses_top1(r);
  qc_html_section_open(b, "compare", "Observer comparison");
  qc_rb_printf(b, "<table><thead><tr><th>observer</th><th class=\"n\">model size</th>"
                  "<th class=\"n\">%s</th><th class=\"n\">agreement</th>"
                  "<th class=\"n\">drop vs FP32</th><th>worst layer</th></tr></thead><tbody>\n",
               top1 ? "top-1" : "output SQNR");
  for (int i = 0; i < r->n_compare; i++) {
    const qc_compare_entry *c = &r->compare[i];
    qc_rb_puts(b, c->best ? "<tr class=\"best\"><td>\u2605 " : "<tr><td>");
    qc_html_text(b, c->observer);
    qc_rb_puts(b, c->best ? " (best)</td><td class=\"n\">" : "</td><td class=\"n\">");
    qc_html_bytes(b, c->size_bytes);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_num(b, top1 ? "%.2f%%" : "%.2f dB", qc_html_compare_metric(c, top1));
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_percent(b, c->eval.agreement);
    qc_rb_puts(b, "</td><td class=\"n\">");
    if (top1 && c->eval.fp32_top1 >= 0) {
      qc_html_num(b, "%.2f", (c->eval.fp32_top1 - c->eval.quant_top1) * 100);
      qc_rb_puts(b, " pts");
    } else {
      qc_rb_puts(b, "\u2013");
    }
    char worst[sizeof c->worst_layer + 1];
    memcpy(worst, c->worst_layer, sizeof c->worst_layer);
    worst[sizeof c->worst_layer] = 0;
    qc_rb_puts(b, "</td><td class=\"name\">");
    qc_html_text(b, worst);
    qc_rb_puts(b, " (");
    qc_html_num(b, "%.1f", c->worst_sqnr_db);
    qc_rb_puts(b, " dB)</td></tr>\n");
  }
  qc_rb_puts(b, "</tbody></table>\n");
  qc_html_compare_chart(b, r, top1);
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
    qc_html_text(b, t->name);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_num(b, "%.7g", t->rmin);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_num(b, "%.7g", t->rmax);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_num(b, "%.7g", t->scale);
    qc_rb_printf(b, "</td><td class=\"n\">%" PRId32 "</td><td>", t->zero_point);
    qc_html_text(b, t->qtype);
    qc_rb_printf(b, "</td><td class=\"n\">%" PRIu64 "</td></tr>\n", t->nonfinite);
  }
  qc_rb_puts(b, "</tbody></table>\n</section>\n");
}

/* Only when the QDQ pass kept regions float (docs/quantization.md). */
static void regions_section(qc_report_buf *b, const qc_quant_report *r) {
  int n = r->regions ? r->n_regions : 0;
  if (n <= 0)
    return;
  qc_rb_printf(b, "<section id=\"regions\">\n<h2>Float by design (%d region%s)</h2>\n", n, n == 1 ? "" : "s");
  qc_rb_puts(b, "<table><thead><tr><th>decided by</th><th>nodes</th><th>float output of</th>"
                "<th class=\"n\">tensors</th><th class=\"n\">float per sample</th></tr></thead><tbody>\n");
  for (int i = 0; i < n; i++) {
    const qc_float_region *g = &r->regions[i];
    qc_rb_puts(b, "<tr><td class=\"name\">");
    qc_html_text(b, g->decided_by);
    qc_rb_puts(b, "</td><td class=\"name\">");
    for (int k = 0; k < g->n_nodes; k++) {
      qc_rb_puts(b, k ? ", " : "");
      qc_html_text(b, g->nodes[k]);
    }
    qc_rb_puts(b, "</td><td class=\"name\">");
    for (int k = 0; k < g->n_boundary; k++) {
      qc_rb_puts(b, k ? ", " : "");
      qc_html_text(b, g->boundary[k]);
    }
    qc_rb_printf(b, "</td><td class=\"n\">%d</td><td class=\"n\">", g->n_tensors);
    qc_html_bytes(b, g->float_bytes);
    qc_rb_puts(b, "</td></tr>\n");
  }
  qc_rb_puts(b, "</tbody></table>\n</section>\n");
}

/* Only when a range was clipped before a saturating reader. */
static void clips_section(qc_report_buf *b, const qc_quant_report *r) {
  int n = r->clips ? r->n_clips : 0;
  if (n <= 0)
    return;
  qc_rb_printf(b, "<section id=\"clips\">\n<h2>Saturation clips (%d)</h2>\n", n);
  qc_rb_puts(b, "<table><thead><tr><th>tensor</th><th>read by</th><th class=\"n\">observed min</th>"
                "<th class=\"n\">observed max</th><th class=\"n\">quantized min</th>"
                "<th class=\"n\">quantized max</th></tr></thead><tbody>\n");
  for (int i = 0; i < n; i++) {
    const qc_saturation_clip *c = &r->clips[i];
    qc_rb_puts(b, "<tr><td class=\"name\">");
    qc_html_text(b, c->tensor);
    qc_rb_puts(b, "</td><td>");
    qc_html_text(b, c->consumer);
    const float v[4] = {c->observed_min, c->observed_max, c->lo, c->hi};
    for (int k = 0; k < 4; k++) {
      qc_rb_puts(b, "</td><td class=\"n\">");
      qc_html_num(b, "%.7g", v[k]);
    }
    qc_rb_puts(b, "</td></tr>\n");
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
    qc_html_text(b, r->warnings[i] ? r->warnings[i] : "");
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
  qc_html_text(b, base);
  qc_rb_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main class=\"wrap\">\n"
                  "<h1>Quantization report: ", page_css);
  qc_html_text(b, base);
  qc_rb_puts(b, "</h1>\n<p class=\"sub\">");
  qc_html_text(b, r->model_path);
  qc_rb_puts(b, " \u2192 ");
  qc_html_text(b, r->output_path);
  qc_rb_puts(b, "</p>\n<nav><a href=\"#summary\">summary</a><a href=\"#sizes\">sizes</a>"
                "<a href=\"#layers\">layers</a><a href=\"#histograms\">histograms</a>");
  int has_compare = r->compare && r->n_compare > 0;
  if (has_compare)
    qc_rb_puts(b, "<a href=\"#compare\">compare</a>");
  if (r->passes && r->n_passes > 0)
    qc_rb_puts(b, "<a href=\"#passes\">passes</a>");
  if (r->regions && r->n_regions > 0)
    qc_rb_puts(b, "<a href=\"#regions\">float regions</a>");
  if (r->clips && r->n_clips > 0)
    qc_rb_puts(b, "<a href=\"#clips\">clips</a>");
  if (r->refine)
    qc_rb_puts(b, "<a href=\"#refine\">refinement</a>");
  if (r->error_entry)
    qc_rb_puts(b, "<a href=\"#error-entry\">error entry</a>");
  qc_rb_puts(b, "<a href=\"#tensors\">tensors</a><a href=\"#warnings\">warnings</a></nav>\n");
  summary_section(b, r);
  if (has_compare)
    compare_section(b, r);
  sizes_section(b, r);
  passes_section(b, r);
  qc_html_layers_section(b, r);
  qc_html_histograms_section(b, r);
  regions_section(b, r);
  clips_section(b, r);
  qc_html_refine_section(b, r);
  qc_html_error_entry_section(b, r);
  tensors_section(b, r);
  warnings_section(b, r);
  qc_rb_puts(b, "<footer>generated by qconvert</footer>\n</main>\n</body>\n</html>\n");
  return QC_OK;
}
