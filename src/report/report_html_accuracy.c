/* HTML report: output accuracy sections (range refinement, where the output error enters). */
#include <inttypes.h>
#include <math.h>

#include "report_html.h"

void qc_html_refine_section(qc_report_buf *b, const qc_quant_report *r) {
  const qc_refine_result *f = r->refine;
  if (!f)
    return;
  qc_html_section_open(b, "refine", "Range refinement");
  if (!f->ran) {
    qc_rb_puts(b, "<p class=\"note\">Not run: ");
    qc_html_text(b, f->skipped ? f->skipped : "");
    qc_rb_puts(b, "</p>\n</section>\n");
    return;
  }
  qc_rb_puts(b, "<p>Worst-output SQNR on ");
  qc_rb_printf(b, "%" PRId64 " held-back calibration samples: ", f->samples);
  qc_html_num(b, "%.2f", f->before_db);
  qc_rb_puts(b, " dB \u2192 ");
  qc_html_num(b, "%.2f", f->after_db);
  qc_rb_puts(b, " dB");
  if (f->confirm_samples > 0) {
    qc_rb_printf(b, "; on %" PRId64 " confirmation samples ", f->confirm_samples);
    qc_html_num(b, "%.2f", f->confirm_before_db);
    qc_rb_puts(b, " dB \u2192 ");
    qc_html_num(b, "%.2f", f->confirm_after_db);
    qc_rb_puts(b, f->undone ? " dB, not confirmed: every change undone" : " dB, confirmed");
  }
  int n = f->undone ? 0 : f->n_changes;
  qc_rb_printf(b, ". %d tensors searched in %d trials, %d range%s changed.</p>\n", f->tensors, f->trials, n,
               n == 1 ? "" : "s");
  if (n > 0) {
    qc_rb_puts(b, "<table><thead><tr><th>tensor</th><th>range kept</th><th class=\"n\">observer min</th>"
                  "<th class=\"n\">observer max</th><th class=\"n\">min</th><th class=\"n\">max</th>"
                  "<th class=\"n\">output dB</th></tr></thead><tbody>\n");
    for (int i = 0; i < f->n_changes; i++) {
      const qc_range_change *c = &f->changes[i];
      qc_rb_puts(b, "<tr><td class=\"name\">");
      qc_html_text(b, c->tensor);
      qc_rb_puts(b, "</td><td>");
      qc_html_text(b, c->candidate);
      const double v[5] = {c->from_lo, c->from_hi, c->to_lo, c->to_hi, c->sqnr_db};
      for (int k = 0; k < 5; k++) {
        qc_rb_puts(b, "</td><td class=\"n\">");
        qc_html_num(b, k == 4 ? "%.2f" : "%.7g", v[k]);
      }
      qc_rb_puts(b, "</td></tr>\n");
    }
    qc_rb_puts(b, "</tbody></table>\n");
  }
  qc_rb_puts(b, "</section>\n");
}

void qc_html_error_entry_section(qc_report_buf *b, const qc_quant_report *r) {
  const qc_error_entry *e = r->error_entry;
  if (!e)
    return;
  qc_html_section_open(b, "error-entry", "Where the output error enters");
  if (!e->ran) {
    qc_rb_puts(b, "<p class=\"note\">Not measured: ");
    qc_html_text(b, e->skipped ? e->skipped : "");
    qc_rb_puts(b, "</p>\n</section>\n");
    return;
  }
  qc_rb_printf(b, "<p>Worst-output SQNR on %" PRId64 " calibration samples with only the first compute nodes "
                  "(graph order, %d in all) quantized and the rest float; the nodes whose quantization adds "
                  "the most output noise first.</p>\n", e->samples, e->n_compute);
  qc_rb_puts(b, "<table><thead><tr><th class=\"n\">node #</th><th>node</th><th>output tensor</th>"
                "<th class=\"n\">SQNR before (dB)</th><th class=\"n\">SQNR with it (dB)</th></tr></thead><tbody>\n");
  for (int i = 0; i < e->n_steps; i++) {
    const qc_error_step *st = &e->steps[i];
    qc_rb_printf(b, "<tr><td class=\"n\">%d</td><td class=\"name\">", st->index);
    qc_html_text(b, st->node);
    qc_rb_puts(b, "</td><td class=\"name\">");
    qc_html_text(b, st->tensor);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_num(b, "%.2f", st->before_db);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_num(b, "%.2f", st->after_db);
    qc_rb_puts(b, "</td></tr>\n");
  }
  qc_rb_puts(b, "</tbody></table>\n<table><thead><tr><th class=\"n\">nodes quantized</th><th>last</th>"
                "<th class=\"n\">output SQNR (dB)</th></tr></thead><tbody>\n");
  for (int i = 0; i < e->n_checkpoints; i++) {
    qc_rb_printf(b, "<tr><td class=\"n\">%d</td><td class=\"name\">", e->checkpoints[i].nodes);
    qc_html_text(b, e->checkpoints[i].tensor);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_num(b, "%.2f", e->checkpoints[i].sqnr_db);
    qc_rb_puts(b, "</td></tr>\n");
  }
  qc_rb_puts(b, "</tbody></table>\n<p>Worst tensors inside the fully quantized model (upstream error included):</p>\n"
                "<table><thead><tr><th>tensor</th><th class=\"n\">SQNR (dB)</th></tr></thead><tbody>\n");
  for (int i = 0; i < e->n_tensors && i < 10; i++) {
    qc_rb_puts(b, "<tr><td class=\"name\">");
    qc_html_text(b, e->tensors[i].name);
    qc_rb_puts(b, "</td><td class=\"n\">");
    qc_html_num(b, "%.2f", e->tensors[i].sqnr_db);
    qc_rb_puts(b, "</td></tr>\n");
  }
  qc_rb_puts(b, "</tbody></table>\n</section>\n");
}
