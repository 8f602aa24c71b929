/* Human-readable report: the summary qc_report_print shows (sizes, per-op
 * table, counts, settings, timings, warnings) and, in .txt files, the full
 * calibrated-tensor table after it. Names are shown printable: control
 * characters escaped, invalid UTF-8 as U+FFFD. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

#define CELL 32


static void human_count(char out[CELL], double n) {
  if (n < 1000)
    snprintf(out, CELL, "%.0f", n);
  else if (n < 1e6)
    snprintf(out, CELL, "%.1fk", n / 1e3);
  else if (n < 1e9)
    snprintf(out, CELL, "%.2fM", n / 1e6);
  else
    snprintf(out, CELL, "%.2fG", n / 1e9);
}

static void human_seconds(char out[CELL], double s) {
  if (!isfinite(s) || s < 0)
    snprintf(out, CELL, "?");
  else if (s < 1)
    snprintf(out, CELL, "%.0f ms", s * 1000);
  else if (s < 60)
    snprintf(out, CELL, "%.2f s", s);
  else
    snprintf(out, CELL, "%dm %02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* "416.8 KiB → 108.3 KiB (3.85× smaller)" */
static void size_line(qc_report_buf *b, const qc_quant_report *r) {
  char before[CELL], after[CELL];
  qc_format_bytes(r->fp32_bytes, before, CELL);
  qc_format_bytes(r->quantized_bytes, after, CELL);
  qc_rb_printf(b, "  %-13s %s \u2192 %s", "size", before, after);
  if (r->fp32_bytes > 0 && r->quantized_bytes > 0) {
    if (r->fp32_bytes >= r->quantized_bytes)
      qc_rb_printf(b, " (%.2f\u00D7 smaller)", r->fp32_bytes / r->quantized_bytes);
    else
      qc_rb_printf(b, " (%.2f\u00D7 larger)", r->quantized_bytes / r->fp32_bytes);
  }
  qc_rb_puts(b, "\n");
}

/* ---- per-op-type table ---- */

enum { COL_OP, COL_NODES, COL_PARAMS, COL_FP32, COL_QUANT, N_COLS };

typedef struct op_row {
  char op_type[sizeof(((qc_op_bytes *)0)->op_type) + 1];
  char cells[N_COLS][CELL];
} op_row;

static void make_op_row(op_row *row, const char *op_type, int nodes_quantized, int nodes,
                        double params, double fp32_bytes, double quant_bytes) {
  snprintf(row->op_type, sizeof row->op_type, "%s", op_type);
  snprintf(row->cells[COL_NODES], CELL, "%d/%d", nodes_quantized, nodes);
  human_count(row->cells[COL_PARAMS], params);
  qc_format_bytes(fp32_bytes, row->cells[COL_FP32], CELL);
  qc_format_bytes(quant_bytes, row->cells[COL_QUANT], CELL);
}

static void op_row_from(op_row *row, const qc_op_bytes *op) {
  char op_type[sizeof op->op_type + 1]; /* op_type may fill its array unterminated */
  memcpy(op_type, op->op_type, sizeof op->op_type);
  op_type[sizeof op->op_type] = 0;
  make_op_row(row, op_type, op->nodes_quantized, op->nodes, (double)op->params, op->fp32_bytes,
              op->quant_bytes);
}

static void print_op_row(qc_report_buf *b, const op_row *row, const int width[N_COLS]) {
  qc_rb_puts(b, "  ");
  qc_rb_text_padded(b, row->op_type, width[COL_OP], 0);
  for (int c = COL_NODES; c < N_COLS; c++) {
    qc_rb_puts(b, "  ");
    qc_rb_text_padded(b, row->cells[c], width[c], 1);
  }
  qc_rb_puts(b, "\n");
}

static void op_table(qc_report_buf *b, const qc_quant_report *r) {
  int n = r->ops ? r->n_ops : 0;
  if (n <= 0)
    return;
  op_row header, total;
  snprintf(header.op_type, sizeof header.op_type, "op type");
  const char *titles[N_COLS] = {"", "nodes", "params", "fp32", "quantized"};
  for (int c = COL_NODES; c < N_COLS; c++)
    snprintf(header.cells[c], CELL, "%s", titles[c]);

  int nodes = 0, nodes_q = 0;
  double params = 0, fp32 = 0, quant = 0;
  for (int i = 0; i < n; i++) {
    nodes += r->ops[i].nodes;
    nodes_q += r->ops[i].nodes_quantized;
    params += (double)r->ops[i].params;
    fp32 += r->ops[i].fp32_bytes;
    quant += r->ops[i].quant_bytes;
  }
  make_op_row(&total, "total", nodes_q, nodes, params, fp32, quant);

  int width[N_COLS] = {0};
  op_row row;
  for (int i = -2; i < n; i++) { /* -2: header, -1: total, then the ops */
    const op_row *p = i == -2 ? &header : i == -1 ? &total : (op_row_from(&row, &r->ops[i]), &row);
    int w = qc_text_width(p->op_type);
    width[COL_OP] = w > width[COL_OP] ? w : width[COL_OP];
    for (int c = COL_NODES; c < N_COLS; c++) {
      w = qc_text_width(p->cells[c]);
      width[c] = w > width[c] ? w : width[c];
    }
  }
  qc_rb_puts(b, "\n");
  print_op_row(b, &header, width);
  for (int i = 0; i < n; i++) {
    op_row_from(&row, &r->ops[i]);
    print_op_row(b, &row, width);
  }
  print_op_row(b, &total, width);
}

/* ---- summary ---- */

static int uses_percentile(const qc_quant_report *r) {
  return r->observer && strcmp(r->observer, "percentile") == 0;
}

static void label(qc_report_buf *b, const char *name) { qc_rb_printf(b, "  %-13s ", name); }

/* --eval results and the worst layers, when present. */
static void eval_summary(qc_report_buf *b, const qc_quant_report *r) {
  const qc_eval_result *e = r->eval;
  if (e) {
    qc_rb_printf(b, "\nevaluation on %" PRId64 " samples%s\n", e->samples, e->labeled ? " (labeled)" : "");
    if (e->labeled) {
      qc_rb_printf(b, "  top-1         fp32 %.2f%%  int8 %.2f%%  (%+.2f pt)\n", 100 * e->fp32_top1,
                   100 * e->quant_top1, 100 * (e->quant_top1 - e->fp32_top1));
      if (e->fp32_top5 >= 0)
        qc_rb_printf(b, "  top-5         fp32 %.2f%%  int8 %.2f%%\n", 100 * e->fp32_top5, 100 * e->quant_top5);
    }
    qc_rb_printf(b, "  agreement     %.2f%%\n", 100 * e->agreement);
    qc_rb_printf(b, "  output SQNR   %.2f dB (cosine %.6f)\n", e->output_sqnr_db, e->cosine);
    qc_rb_printf(b, "  time          fp32 %.3f ms/sample, int8 %.3f ms/sample (qconvert engine)\n", e->fp32_ms,
                 e->quant_ms);
  }
  int n = r->layers ? (r->n_layers < 5 ? r->n_layers : 5) : 0;
  if (n > 0) {
    qc_rb_printf(b, "\nworst layers (SQNR of the fake-quantized activation vs FP32):\n");
    for (int i = 0; i < n; i++) {
      qc_rb_printf(b, "  %7.2f dB  ", r->layers[i].sqnr_db);
      qc_rb_text(b, r->layers[i].name);
      qc_rb_puts(b, "\n");
    }
  }
}

void qc_report_render_summary(qc_report_buf *b, const qc_quant_report *r) {
  char t1[CELL], t2[CELL];
  qc_rb_puts(b, "qconvert: ");
  qc_rb_text(b, r->model_path);
  qc_rb_puts(b, " \u2192 ");
  qc_rb_text(b, r->output_path);
  qc_rb_puts(b, "\n");
  size_line(b, r);

  label(b, "nodes");
  qc_rb_printf(b, "%d of %d quantized\n", r->nodes_quantized, r->nodes_total);

  int n_tensors = r->tensors ? r->n_tensors : 0, n_nonfinite = 0;
  for (int i = 0; i < n_tensors; i++)
    n_nonfinite += r->tensors[i].nonfinite > 0;
  label(b, "tensors");
  qc_rb_printf(b, "%d calibrated", n_tensors);
  if (n_nonfinite)
    qc_rb_printf(b, " (%d saw NaN/Inf values, excluded from ranges)", n_nonfinite);
  qc_rb_puts(b, "\n");

  label(b, "observer");
  qc_rb_text(b, r->observer);
  if (uses_percentile(r))
    qc_rb_printf(b, " (%.6g%%)", r->percentile);
  qc_rb_puts(b, "\n");

  label(b, "types");
  qc_rb_puts(b, "activations ");
  qc_rb_text(b, r->weight_only ? "float (weight-only)" : r->activation_type);
  qc_rb_puts(b, ", weights ");
  qc_rb_text(b, r->weight_type);
  qc_rb_puts(b, r->per_channel ? " per-channel\n" : " per-tensor\n");

  label(b, "calibration");
  human_seconds(t1, r->calibration_seconds);
  qc_rb_printf(b, "%" PRId64 " sample%s in %s\n", r->calibration_samples,
               r->calibration_samples == 1 ? "" : "s", t1);
  if (r->refine) {
    const qc_refine_result *f = r->refine;
    label(b, "refine");
    if (!f->ran) {
      qc_rb_puts(b, "not run: ");
      qc_rb_text(b, f->skipped ? f->skipped : "");
      qc_rb_puts(b, "\n");
    } else {
      human_seconds(t2, f->seconds);
      qc_rb_printf(b, "output SQNR %.2f -> %.2f dB on %" PRId64 " held-back samples", f->before_db, f->after_db,
                   f->samples);
      if (f->confirm_samples > 0)
        qc_rb_printf(b, ", %.2f -> %.2f dB on %" PRId64 " (%s)", f->confirm_before_db, f->confirm_after_db,
                     f->confirm_samples, f->undone ? "not confirmed: undone" : "confirmed");
      qc_rb_printf(b, "; %d range%s changed (%d tensors, %d trials, %s)\n", f->undone ? 0 : f->n_changes,
                   f->n_changes == 1 && !f->undone ? "" : "s", f->tensors, f->trials, t2);
    }
  }
  label(b, "total time");
  human_seconds(t2, r->total_seconds);
  qc_rb_puts(b, t2);
  if (r->threads > 0)
    qc_rb_printf(b, " on %d thread%s", r->threads, r->threads == 1 ? "" : "s");
  qc_rb_puts(b, "\n");

  op_table(b, r);
  eval_summary(b, r);

  for (int i = 0; i < r->n_regions; i++) {
    const qc_float_region *g = &r->regions[i];
    char bytes[32];
    qc_format_bytes(g->float_bytes, bytes, sizeof bytes);
    qc_rb_printf(b, "\nfloat by design (decided by ");
    qc_rb_text(b, g->decided_by);
    qc_rb_printf(b, "): %d nodes, %d tensors, %s of float activations per sample\n", g->n_nodes, g->n_tensors,
                 bytes);
    for (int k = 0; k < g->n_nodes; k++) {
      qc_rb_puts(b, "  - ");
      qc_rb_text(b, g->nodes[k]);
      qc_rb_puts(b, "\n");
    }
    for (int k = 0; k < g->n_boundary; k++) {
      qc_rb_puts(b, "  - float output of ");
      qc_rb_text(b, g->boundary[k]);
      qc_rb_puts(b, "\n");
    }
  }
  if (r->n_clips > 0) {
    qc_rb_printf(b, "\nsaturation clips (%d):\n", r->n_clips);
    for (int i = 0; i < r->n_clips; i++) {
      const qc_saturation_clip *c = &r->clips[i];
      qc_rb_printf(b, "  - [%.7g, %.7g] -> [%.7g, %.7g] (%s) ", c->observed_min, c->observed_max, c->lo, c->hi,
                   c->consumer);
      qc_rb_text(b, c->tensor);
      qc_rb_puts(b, "\n");
    }
  }

  int n_changes = r->refine && !r->refine->undone ? r->refine->n_changes : 0;
  if (n_changes > 0) {
    qc_rb_printf(b, "\nranges refined (%d):\n", n_changes);
    for (int i = 0; i < n_changes; i++) {
      const qc_range_change *c = &r->refine->changes[i];
      qc_rb_printf(b, "  - [%.7g, %.7g] -> [%.7g, %.7g] (%s, output %.2f dB) ", c->from_lo, c->from_hi, c->to_lo,
                   c->to_hi, c->candidate, c->sqnr_db);
      qc_rb_text(b, c->tensor);
      qc_rb_puts(b, "\n");
    }
  }

  const qc_error_entry *ee = r->error_entry;
  if (ee && ee->ran) {
    qc_rb_printf(b, "\nwhere the output error enters (%" PRId64 " calibration samples; the first nodes of %d "
                 "compute nodes quantized, the rest float):\n", ee->samples, ee->n_compute);
    for (int i = 0; i < ee->n_steps; i++) {
      const qc_error_step *st = &ee->steps[i];
      qc_rb_printf(b, "  - node %d: output SQNR %.2f -> %.2f dB when it is quantized: ", st->index, st->before_db,
                   st->after_db);
      qc_rb_text(b, st->node);
      qc_rb_puts(b, " -> ");
      qc_rb_text(b, st->tensor);
      qc_rb_puts(b, "\n");
    }
    qc_rb_puts(b, "  output SQNR with the first N compute nodes quantized:");
    for (int i = 0; i < ee->n_checkpoints; i++)
      qc_rb_printf(b, " %d: %.2f dB%s", ee->checkpoints[i].nodes, ee->checkpoints[i].sqnr_db,
                   i + 1 < ee->n_checkpoints ? "," : "\n");
    qc_rb_puts(b, "  worst tensors inside the quantized model (upstream error included):\n");
    for (int i = 0; i < ee->n_tensors && i < 5; i++) {
      qc_rb_printf(b, "    %7.2f dB  ", ee->tensors[i].sqnr_db);
      qc_rb_text(b, ee->tensors[i].name);
      qc_rb_puts(b, "\n");
    }
  }

  int n_warnings = r->warnings ? r->n_warnings : 0;
  if (n_warnings > 0) {
    qc_rb_printf(b, "\nwarnings (%d):\n", n_warnings);
    for (int i = 0; i < n_warnings; i++) {
      qc_rb_puts(b, "  - ");
      qc_rb_text(b, r->warnings[i] ? r->warnings[i] : "");
      qc_rb_puts(b, "\n");
    }
  }
}

/* ---- .txt: summary + every calibrated tensor ---- */

enum { TC_RMIN, TC_RMAX, TC_SCALE, TC_ZP, TC_QTYPE, TC_NONFINITE, N_TENSOR_COLS };

static void tensor_cells(char cells[N_TENSOR_COLS][CELL], const qc_tensor_report *t) {
  snprintf(cells[TC_RMIN], CELL, "%.7g", t->rmin); /* "nan", "inf" are fine for people */
  snprintf(cells[TC_RMAX], CELL, "%.7g", t->rmax);
  snprintf(cells[TC_SCALE], CELL, "%.7g", t->scale);
  snprintf(cells[TC_ZP], CELL, "%" PRId32, t->zero_point);
  snprintf(cells[TC_QTYPE], CELL, "%s", t->qtype ? t->qtype : "-");
  snprintf(cells[TC_NONFINITE], CELL, "%" PRIu64, t->nonfinite);
}

static void tensor_row(qc_report_buf *b, char cells[N_TENSOR_COLS][CELL], const char *name,
                       const int width[N_TENSOR_COLS]) {
  for (int c = 0; c < N_TENSOR_COLS; c++) {
    qc_rb_puts(b, "  ");
    qc_rb_text_padded(b, cells[c], width[c], 1);
  }
  qc_rb_puts(b, "  ");
  qc_rb_text(b, name); /* last, so odd names cannot break the alignment */
  qc_rb_puts(b, "\n");
}

/* One row per pass run: stage, pass, count, then the time last, so that
 * masking the (run-dependent) times leaves the alignment unchanged. */
static void pass_table(qc_report_buf *b, const qc_quant_report *r) {
  if (!r->passes || r->n_passes <= 0)
    return;
  int w_stage = qc_text_width("stage"), w_pass = qc_text_width("pass"), w_count = qc_text_width("count");
  for (int i = 0; i < r->n_passes; i++) {
    char count[CELL];
    snprintf(count, CELL, "%d", r->passes[i].count);
    int ws = qc_text_width(r->passes[i].stage), wp = qc_text_width(r->passes[i].pass), wc = qc_text_width(count);
    w_stage = ws > w_stage ? ws : w_stage;
    w_pass = wp > w_pass ? wp : w_pass;
    w_count = wc > w_count ? wc : w_count;
  }
  qc_rb_printf(b, "\npasses (%d):\n  ", r->n_passes);
  qc_rb_text_padded(b, "stage", w_stage, 0);
  qc_rb_puts(b, "  ");
  qc_rb_text_padded(b, "pass", w_pass, 0);
  qc_rb_puts(b, "  ");
  qc_rb_text_padded(b, "count", w_count, 1);
  qc_rb_puts(b, "  time\n");
  for (int i = 0; i < r->n_passes; i++) {
    char count[CELL];
    snprintf(count, CELL, "%d", r->passes[i].count);
    qc_rb_puts(b, "  ");
    qc_rb_text_padded(b, r->passes[i].stage, w_stage, 0);
    qc_rb_puts(b, "  ");
    qc_rb_text_padded(b, r->passes[i].pass, w_pass, 0);
    qc_rb_puts(b, "  ");
    qc_rb_text_padded(b, count, w_count, 1);
    qc_rb_printf(b, "  %.3f ms\n", r->passes[i].ms);
  }
}

int qc_report_render_txt(qc_report_buf *b, const qc_quant_report *r) {
  qc_report_render_summary(b, r);
  pass_table(b, r);
  int n = r->tensors ? r->n_tensors : 0;
  qc_rb_printf(b, "\ncalibrated tensors (%d):\n", n);
  if (n == 0)
    return QC_OK;
  static const char *titles[N_TENSOR_COLS] = {"rmin", "rmax", "scale", "zp", "qtype", "nonfinite"};
  char cells[N_TENSOR_COLS][CELL];
  int width[N_TENSOR_COLS];
  for (int c = 0; c < N_TENSOR_COLS; c++) {
    snprintf(cells[c], CELL, "%s", titles[c]);
    width[c] = qc_text_width(titles[c]);
  }
  for (int i = 0; i < n; i++) {
    char row[N_TENSOR_COLS][CELL];
    tensor_cells(row, &r->tensors[i]);
    for (int c = 0; c < N_TENSOR_COLS; c++) {
      int w = qc_text_width(row[c]);
      width[c] = w > width[c] ? w : width[c];
    }
  }
  tensor_row(b, cells, "name", width);
  for (int i = 0; i < n; i++) {
    tensor_cells(cells, &r->tensors[i]);
    tensor_row(b, cells, r->tensors[i].name ? r->tensors[i].name : "", width);
  }
  return QC_OK;
}
