/* JSON report: one object with a fixed key order, for pipelines.
 * Strings are escaped per RFC 8259 (invalid UTF-8 becomes U+FFFD); non-finite
 * numbers are written as null, since JSON has no NaN or Infinity. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

static void json_string(qc_report_buf *b, const char *s) {
  if (!s) {
    qc_rb_puts(b, "null");
    return;
  }
  qc_rb_append(b, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int n = qc_utf8_seq_len(p);
    if (n == 0) {
      qc_rb_puts(b, "\\ufffd");
      p++;
    } else if (*p == '"' || *p == '\\') {
      char esc[2] = {'\\', (char)*p};
      qc_rb_append(b, esc, 2);
      p++;
    } else if (*p < 0x20) {
      qc_rb_printf(b, "\\u%04x", *p);
      p++;
    } else {
      qc_rb_append(b, p, (size_t)n);
      p += n;
    }
  }
  qc_rb_append(b, "\"", 1);
}

/* %.9g round-trips a float32; doubles (bytes, seconds) get %.17g when they
 * are not whole numbers. */
static void json_float(qc_report_buf *b, double v) {
  if (!isfinite(v))
    qc_rb_puts(b, "null");
  else
    qc_rb_number(b, "%.9g", v);
}

static void json_double(qc_report_buf *b, double v) {
  if (!isfinite(v))
    qc_rb_puts(b, "null");
  else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* exact integer: no exponent */
    qc_rb_number(b, "%.0f", v);
  else
    qc_rb_number(b, "%.17g", v);
}

static void json_key(qc_report_buf *b, const char *indent, const char *key) {
  qc_rb_puts(b, indent);
  json_string(b, key);
  qc_rb_puts(b, ": ");
}

static void json_bool(qc_report_buf *b, int v) { qc_rb_puts(b, v ? "true" : "false"); }

static int uses_percentile(const qc_quant_report *r) {
  return r->observer && strcmp(r->observer, "percentile") == 0;
}

static void json_op(qc_report_buf *b, const qc_op_bytes *op) {
  qc_rb_puts(b, "{\"op_type\": ");
  /* op_type is a fixed array: never read past it even if unterminated. */
  char op_type[sizeof op->op_type + 1];
  memcpy(op_type, op->op_type, sizeof op->op_type);
  op_type[sizeof op->op_type] = 0;
  json_string(b, op_type);
  qc_rb_printf(b, ", \"params\": %" PRId64 ", \"fp32_bytes\": ", op->params);
  json_double(b, op->fp32_bytes);
  qc_rb_puts(b, ", \"quantized_bytes\": ");
  json_double(b, op->quant_bytes);
  qc_rb_printf(b, ", \"nodes\": %d, \"nodes_quantized\": %d}", op->nodes, op->nodes_quantized);
}

static void json_tensor(qc_report_buf *b, const qc_tensor_report *t) {
  qc_rb_puts(b, "{\"name\": ");
  json_string(b, t->name ? t->name : "");
  qc_rb_puts(b, ", \"rmin\": ");
  json_float(b, t->rmin);
  qc_rb_puts(b, ", \"rmax\": ");
  json_float(b, t->rmax);
  qc_rb_puts(b, ", \"scale\": ");
  json_float(b, t->scale);
  qc_rb_printf(b, ", \"zero_point\": %" PRId32 ", \"qtype\": ", t->zero_point);
  json_string(b, t->qtype);
  qc_rb_printf(b, ", \"nonfinite\": %" PRIu64 "}", t->nonfinite);
}

static void json_string_list(qc_report_buf *b, char *const *items, int n) {
  qc_rb_puts(b, "[");
  for (int i = 0; i < n; i++) {
    if (i)
      qc_rb_puts(b, ", ");
    json_string(b, items[i]);
  }
  qc_rb_puts(b, "]");
}

static void json_region(qc_report_buf *b, const qc_float_region *r) {
  qc_rb_puts(b, "{\"decided_by\": ");
  json_string(b, r->decided_by);
  qc_rb_puts(b, ", \"nodes\": ");
  json_string_list(b, r->nodes, r->n_nodes);
  qc_rb_puts(b, ", \"float_outputs_of\": ");
  json_string_list(b, r->boundary, r->n_boundary);
  qc_rb_printf(b, ", \"float_tensors\": %d, \"float_bytes_per_sample\": ", r->n_tensors);
  json_double(b, r->float_bytes);
  qc_rb_puts(b, "}");
}

static void json_clip(qc_report_buf *b, const qc_saturation_clip *c) {
  qc_rb_puts(b, "{\"tensor\": ");
  json_string(b, c->tensor);
  qc_rb_puts(b, ", \"read_by\": ");
  json_string(b, c->consumer);
  qc_rb_puts(b, ", \"observed_min\": ");
  json_float(b, c->observed_min);
  qc_rb_puts(b, ", \"observed_max\": ");
  json_float(b, c->observed_max);
  qc_rb_puts(b, ", \"min\": ");
  json_float(b, c->lo);
  qc_rb_puts(b, ", \"max\": ");
  json_float(b, c->hi);
  qc_rb_puts(b, "}");
}

static void json_range_change(qc_report_buf *b, const qc_range_change *c) {
  qc_rb_puts(b, "{\"tensor\": ");
  json_string(b, c->tensor);
  qc_rb_puts(b, ", \"candidate\": ");
  json_string(b, c->candidate);
  qc_rb_puts(b, ", \"from_min\": ");
  json_float(b, c->from_lo);
  qc_rb_puts(b, ", \"from_max\": ");
  json_float(b, c->from_hi);
  qc_rb_puts(b, ", \"min\": ");
  json_float(b, c->to_lo);
  qc_rb_puts(b, ", \"max\": ");
  json_float(b, c->to_hi);
  qc_rb_puts(b, ", \"output_sqnr_db\": ");
  json_float(b, c->sqnr_db);
  qc_rb_puts(b, "}");
}

static void json_error_step(qc_report_buf *b, const qc_error_step *st) {
  qc_rb_puts(b, "{\"node\": ");
  json_string(b, st->node);
  qc_rb_puts(b, ", \"tensor\": ");
  json_string(b, st->tensor);
  qc_rb_printf(b, ", \"index\": %d, \"before_db\": ", st->index);
  json_float(b, st->before_db);
  qc_rb_puts(b, ", \"after_db\": ");
  json_float(b, st->after_db);
  qc_rb_puts(b, ", \"added_noise\": ");
  json_float(b, st->added_noise);
  qc_rb_puts(b, "}");
}

static void json_checkpoint(qc_report_buf *b, const qc_error_checkpoint *c) {
  qc_rb_printf(b, "{\"nodes\": %d, \"tensor\": ", c->nodes);
  json_string(b, c->tensor);
  qc_rb_puts(b, ", \"output_sqnr_db\": ");
  json_float(b, c->sqnr_db);
  qc_rb_puts(b, "}");
}

static void json_named_db(qc_report_buf *b, const qc_layer_error *l) {
  qc_rb_puts(b, "{\"tensor\": ");
  json_string(b, l->name);
  qc_rb_puts(b, ", \"sqnr_db\": ");
  json_float(b, l->sqnr_db);
  qc_rb_puts(b, "}");
}

/* Writes "[\n    item,\n    item\n  ]" for n items via the given emitter. */
#define JSON_LIST(b, n, emit_item)        \
  do {                                    \
    if ((n) <= 0) {                       \
      qc_rb_puts(b, "[]");                \
      break;                              \
    }                                     \
    qc_rb_puts(b, "[\n");                 \
    for (int i_ = 0; i_ < (n); i_++) {    \
      qc_rb_puts(b, "    ");              \
      emit_item;                          \
      qc_rb_puts(b, i_ + 1 < (n) ? ",\n" : "\n"); \
    }                                     \
    qc_rb_puts(b, "  ]");                 \
  } while (0)

/* A fraction, or null when not measured (< 0). */
static void json_fraction(qc_report_buf *b, double v) { json_float(b, v >= 0 ? v : NAN); }

static void json_eval(qc_report_buf *b, const qc_eval_result *e) {
  qc_rb_printf(b, "{\"samples\": %" PRId64 ", \"labeled\": ", e->samples);
  json_bool(b, e->labeled);
  qc_rb_printf(b, ", \"classes\": %d, \"fp32_top1\": ", e->n_classes);
  json_fraction(b, e->fp32_top1);
  qc_rb_puts(b, ", \"quant_top1\": ");
  json_fraction(b, e->quant_top1);
  qc_rb_puts(b, ", \"fp32_top5\": ");
  json_fraction(b, e->fp32_top5);
  qc_rb_puts(b, ", \"quant_top5\": ");
  json_fraction(b, e->quant_top5);
  qc_rb_puts(b, ", \"agreement\": ");
  json_fraction(b, e->agreement);
  qc_rb_puts(b, ", \"output_sqnr_db\": ");
  json_float(b, e->output_sqnr_db);
  qc_rb_puts(b, ", \"cosine\": ");
  json_float(b, e->cosine);
  qc_rb_puts(b, ", \"fp32_ms\": ");
  json_float(b, e->fp32_ms);
  qc_rb_puts(b, ", \"quant_ms\": ");
  json_float(b, e->quant_ms);
  qc_rb_puts(b, "}");
}

static void json_layer(qc_report_buf *b, const qc_layer_error *l) {
  qc_rb_puts(b, "{\"name\": ");
  json_string(b, l->name);
  qc_rb_puts(b, ", \"sqnr_db\": ");
  json_float(b, l->sqnr_db);
  qc_rb_puts(b, "}");
}

/* One `compare` entry: the keys pipelines rely on come first. */
/* ms is wall time, different on every run (like total_seconds); %.3f: finer is noise. */
static void json_pass(qc_report_buf *b, const qc_pass_record *p) {
  qc_rb_puts(b, "{\"pass\": ");
  json_string(b, p->pass);
  qc_rb_puts(b, ", \"stage\": ");
  json_string(b, p->stage);
  qc_rb_printf(b, ", \"count\": %d, \"ms\": ", p->count);
  if (isfinite(p->ms))
    qc_rb_number(b, "%.3f", p->ms);
  else
    qc_rb_puts(b, "null");
  qc_rb_puts(b, "}");
}

static void json_compare(qc_report_buf *b, const qc_compare_entry *c) {
  qc_rb_puts(b, "{\"observer\": ");
  json_string(b, c->observer);
  if (c->eval.labeled) {
    qc_rb_puts(b, ", \"quant_top1\": ");
    json_fraction(b, c->eval.quant_top1);
    qc_rb_puts(b, ", \"fp32_top1\": ");
    json_fraction(b, c->eval.fp32_top1);
  }
  qc_rb_puts(b, ", \"agreement\": ");
  json_fraction(b, c->eval.agreement);
  qc_rb_puts(b, ", \"output_sqnr_db\": ");
  json_float(b, c->eval.output_sqnr_db);
  qc_rb_puts(b, ", \"size_bytes\": ");
  json_double(b, c->size_bytes);
  qc_rb_puts(b, ", \"worst_layer\": ");
  json_string(b, c->worst_layer);
  qc_rb_puts(b, ", \"worst_layer_sqnr_db\": ");
  json_float(b, c->worst_sqnr_db);
  qc_rb_puts(b, ", \"best\": ");
  json_bool(b, c->best);
  qc_rb_puts(b, "}");
}

int qc_report_render_json(qc_report_buf *b, const qc_quant_report *r) {
  const char *in = "  ";
  qc_rb_puts(b, "{\n");
  json_key(b, in, "model");
  json_string(b, r->model_path);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "output");
  json_string(b, r->output_path);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "fp32_bytes");
  json_double(b, r->fp32_bytes);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "quantized_bytes");
  json_double(b, r->quantized_bytes);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "size_ratio");
  json_float(b, r->quantized_bytes > 0 ? r->fp32_bytes / r->quantized_bytes : NAN);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "nodes_total");
  qc_rb_printf(b, "%d,\n", r->nodes_total);
  json_key(b, in, "nodes_quantized");
  qc_rb_printf(b, "%d,\n", r->nodes_quantized);
  json_key(b, in, "observer");
  json_string(b, r->observer);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "percentile");
  json_float(b, uses_percentile(r) ? r->percentile : NAN);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "activation_type");
  json_string(b, r->activation_type);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "weight_type");
  json_string(b, r->weight_type);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "per_channel");
  json_bool(b, r->per_channel);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "weight_only");
  json_bool(b, r->weight_only);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "calibration_samples");
  qc_rb_printf(b, "%" PRId64 ",\n", r->calibration_samples);
  json_key(b, in, "calibration_seconds");
  json_float(b, r->calibration_seconds);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "total_seconds");
  json_float(b, r->total_seconds);
  qc_rb_puts(b, ",\n");
  json_key(b, in, "threads");
  qc_rb_printf(b, "%d,\n", r->threads);
  json_key(b, in, "ops");
  JSON_LIST(b, r->ops ? r->n_ops : 0, json_op(b, &r->ops[i_]));
  qc_rb_puts(b, ",\n");
  json_key(b, in, "tensors");
  JSON_LIST(b, r->tensors ? r->n_tensors : 0, json_tensor(b, &r->tensors[i_]));
  qc_rb_puts(b, ",\n");
  json_key(b, in, "warnings");
  JSON_LIST(b, r->warnings ? r->n_warnings : 0, json_string(b, r->warnings[i_] ? r->warnings[i_] : ""));
  if (r->n_regions > 0) {
    qc_rb_puts(b, ",\n");
    json_key(b, in, "float_regions");
    JSON_LIST(b, r->n_regions, json_region(b, &r->regions[i_]));
  }
  if (r->n_clips > 0) {
    qc_rb_puts(b, ",\n");
    json_key(b, in, "saturation_clips");
    JSON_LIST(b, r->n_clips, json_clip(b, &r->clips[i_]));
  }
  if (r->refine) {
    const qc_refine_result *f = r->refine;
    qc_rb_puts(b, ",\n");
    json_key(b, in, "refine");
    qc_rb_puts(b, "{\"skipped\": ");
    if (f->skipped)
      json_string(b, f->skipped);
    else
      qc_rb_puts(b, "null");
    qc_rb_printf(b, ", \"samples\": %" PRId64 ", \"tensors\": %d, \"trials\": %d, \"before_db\": ", f->samples,
                 f->tensors, f->trials);
    json_float(b, f->ran ? f->before_db : NAN);
    qc_rb_puts(b, ", \"after_db\": ");
    json_float(b, f->ran ? f->after_db : NAN);
    qc_rb_printf(b, ", \"confirm_samples\": %" PRId64 ", \"confirm_before_db\": ", f->confirm_samples);
    json_float(b, f->confirm_samples ? f->confirm_before_db : NAN);
    qc_rb_puts(b, ", \"confirm_after_db\": ");
    json_float(b, f->confirm_samples ? f->confirm_after_db : NAN);
    qc_rb_printf(b, ", \"undone\": %s, \"changes\": ", f->undone ? "true" : "false");
    JSON_LIST(b, f->undone ? 0 : f->n_changes, json_range_change(b, &f->changes[i_]));
    qc_rb_puts(b, "}");
  }
  if (r->error_entry) {
    const qc_error_entry *e = r->error_entry;
    qc_rb_puts(b, ",\n");
    json_key(b, in, "error_entry");
    qc_rb_puts(b, "{\"skipped\": ");
    if (e->skipped)
      json_string(b, e->skipped);
    else
      qc_rb_puts(b, "null");
    qc_rb_printf(b, ", \"samples\": %" PRId64 ", \"compute_nodes\": %d, \"trials\": %d,\n    \"steps\": ",
                 e->samples, e->n_compute, e->trials);
    JSON_LIST(b, e->n_steps, json_error_step(b, &e->steps[i_]));
    qc_rb_puts(b, ",\n    \"checkpoints\": ");
    JSON_LIST(b, e->n_checkpoints, json_checkpoint(b, &e->checkpoints[i_]));
    qc_rb_puts(b, ",\n    \"tensors_in_quantized_model\": ");
    JSON_LIST(b, e->n_tensors, json_named_db(b, &e->tensors[i_]));
    qc_rb_puts(b, "}");
  }
  if (r->passes) {
    qc_rb_puts(b, ",\n");
    json_key(b, in, "passes");
    JSON_LIST(b, r->n_passes, json_pass(b, &r->passes[i_]));
  }
  if (r->eval) {
    qc_rb_puts(b, ",\n");
    json_key(b, in, "eval");
    json_eval(b, r->eval);
  }
  if (r->layers) {
    qc_rb_puts(b, ",\n");
    json_key(b, in, "layers");
    JSON_LIST(b, r->n_layers, json_layer(b, &r->layers[i_]));
  }
  if (r->compare) {
    qc_rb_puts(b, ",\n");
    json_key(b, in, "observers");
    JSON_LIST(b, r->n_compare, json_compare(b, &r->compare[i_]));
  }
  qc_rb_puts(b, "\n}\n");
  return QC_OK;
}
