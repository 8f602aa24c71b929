/* `qconvert compare`: one calibration pass, then one in-memory quantized
 * model per observer, each evaluated against FP32; the best one is kept as
 * the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/model.h"
#include "job_internal.h"

/* Higher is better: top-1 when labeled, else output SQNR; agreement breaks ties. */
static int better(const qc_compare_entry *x, const qc_compare_entry *y) {
  if (x->eval.labeled && x->eval.quant_top1 != y->eval.quant_top1)
    return x->eval.quant_top1 > y->eval.quant_top1;
  if (x->eval.output_sqnr_db != y->eval.output_sqnr_db)
    return x->eval.output_sqnr_db > y->eval.output_sqnr_db;
  return x->eval.agreement > y->eval.agreement;
}

/* Quantizes a fresh copy of the base model with one observer and evaluates
 * it; the best so far becomes the result (model, bytes, summary, layers). */
static int try_observer(job_state *s, qc_observer_kind kind, int index) {
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_pass_log log = {0};
  qc_layer_error *layers = NULL;
  unsigned char *buf = NULL;
  size_t len = 0;
  int n_layers = 0;
  qc_compare_entry *e = &s->entries[index];
  qc_quant_opts q;
  qc_eval_opts eo = job_eval_opts(s->o);
  job_quant_opts(s->o, kind, &q);
  int rc = job_quantize_copy(s, &q, &mq, &sum, &log);
  if (rc == QC_OK)
    rc = qc_model_pack(mq, QC_SAVE_INLINE_EXTERNAL, &buf, &len);
  if (rc == QC_OK)
    rc = qc_evaluate(s->fp32, mq, s->data, &eo, &e->eval);
  if (rc == QC_OK)
    rc = job_layer_errors(s, &sum, &layers, &n_layers);
  if (rc == QC_OK) {
    e->observer = qc_observer_name(kind);
    e->size_bytes = (double)len;
    snprintf(e->worst_layer, sizeof e->worst_layer, "%s", n_layers ? layers[0].name : "");
    e->worst_sqnr_db = n_layers ? layers[0].sqnr_db : 0;
    s->n_entries = index + 1;
    int best = 1;
    for (int i = 0; i < index; i++)
      if (s->entries[i].best && !better(e, &s->entries[i]))
        best = 0;
    if (best) {
      for (int i = 0; i < index; i++)
        s->entries[i].best = 0;
      e->best = 1;
      qc_model_free(s->m);
      s->m = mq, mq = NULL;
      free(s->packed);
      s->packed = buf, s->packed_len = len, buf = NULL;
      qc_quant_summary_free(&s->summary);
      s->summary = sum;
      memset(&sum, 0, sizeof sum);
      qc_pass_log_free(&s->quantize_log);
      s->quantize_log = log;
      memset(&log, 0, sizeof log);
      qc_layer_errors_free(s->layers, s->n_layers);
      s->layers = layers, s->n_layers = n_layers, layers = NULL, n_layers = 0;
      s->observer = e->observer;
      s->eval = e->eval;
      s->evaluated = 1;
    }
  }
  free(buf);
  qc_quant_summary_free(&sum);
  qc_pass_log_free(&log);
  qc_layer_errors_free(layers, n_layers);
  qc_model_free(mq);
  return rc;
}

static int try_observers(job_state *s) {
  static const qc_observer_kind all[] = {QC_OBS_MINMAX, QC_OBS_EMA, QC_OBS_PERCENTILE, QC_OBS_ENTROPY, QC_OBS_MSE};
  const qc_job_options *o = s->o;
  const qc_observer_kind *kinds = o->n_observers ? o->observers : all;
  int n = o->n_observers ? o->n_observers : QC_OBS_COUNT;
  s->observer = "";
  for (int i = 0; i < n; i++) {
    if (!o->quiet)
      fprintf(stderr, "compare: %s (%d/%d)\n", qc_observer_name(kinds[i]), i + 1, n);
    QC_TRY(try_observer(s, kinds[i], i));
  }
  return QC_OK;
}

static int write_best(job_state *s) {
  if (!s->o->output)
    return QC_OK;
  return qc_outputs_write(s->files.outputs, s->files.model_out, s->packed, s->packed_len);
}

int qc_job_compare(const qc_job_options *o, qc_job_result *res) {
  memset(res, 0, sizeof *res);
  job_state *s;
  QC_TRY(job_state_new(o, JOB_COMPARE, &s));
  int rc = QC_OK;
  if (o->output && !(s->output = strdup(o->output)))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  if (rc < 0 ||
      /* the model, every input and every destination, checked before any work */
      (rc = job_open_inputs(s, 1)) < 0 ||
      (rc = job_prepare(s)) < 0 ||
      (rc = job_collect_stats(s)) < 0 ||
      (rc = job_open_reference(s)) < 0 ||
      (rc = try_observers(s)) < 0 ||
      (rc = write_best(s)) < 0 ||
      (rc = job_hist_views(s, 8)) < 0 ||
      (rc = job_measure_result(s)) < 0 ||
      (rc = job_finish(s, res)) < 0)
    job_state_free(s);
  return rc;
}
