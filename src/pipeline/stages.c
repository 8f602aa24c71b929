/* The state of one run and the stages the jobs share. See job_internal.h. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/status.h"
#include "../engine/engine.h"
#include "../ir/model.h"
#include "../quant/param_bytes.h"
#include "../passes/pass.h"
#include "job_internal.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int job_threads(const qc_job_options *o) { return o->threads > 0 ? (int)o->threads : omp_get_num_procs(); }

qc_eval_opts job_eval_opts(const qc_job_options *o) {
  return (qc_eval_opts){.batch = 32, .nthreads = job_threads(o), .quiet = 1};
}

void job_observer_cfg(const qc_job_options *o, qc_observer_kind kind, qc_observer_cfg *cfg) {
  qc_observer_cfg_default(cfg, kind, o->act_scheme);
  cfg->percentile = o->percentile;
}

void job_quant_opts(const qc_job_options *o, qc_observer_kind kind, qc_quant_opts *q) {
  memset(q, 0, sizeof *q);
  job_observer_cfg(o, kind, &q->observer);
  q->act_scheme = o->act_scheme;
  q->per_tensor = o->per_tensor;
  q->weight_only = o->weight_only;
  q->no_equalize = o->no_equalize;
  q->no_saturation_clip = o->no_saturation_clip;
  q->exclude = o->exclude;
  q->n_exclude = o->n_exclude;
  q->op_types = o->n_op_types ? o->op_types : NULL;
  q->n_op_types = o->n_op_types;
}

int job_state_new(const qc_job_options *o, job_kind kind, job_state **out) {
  *out = NULL;
  QC_TRY(qc_job_options_check(o));
  job_state *s = calloc(1, sizeof *s);
  if (!s)
    return qc_fail(QC_ENOMEM, "out of memory");
  s->o = o;
  s->kind = kind;
  s->t0 = now();
  s->files.model_out = s->files.stats_out = -1;
  qc_stats_set_init(&s->stats);
  job_quant_opts(o, o->n_observers ? o->observers[0] : QC_OBS_MSE, &s->q);
  s->observer = qc_observer_name(s->q.observer.kind);
  *out = s;
  return QC_OK;
}

void job_state_free(job_state *s) {
  if (!s)
    return;
  job_files_close(&s->files); /* removes the temp files of a failed run */
  qc_calib_source_close(s->src);
  qc_quant_summary_free(&s->summary);
  qc_pass_log_free(&s->prepare_log);
  qc_pass_log_free(&s->quantize_log);
  qc_pass_log_free(&s->passes);
  qc_stats_set_free(&s->stats);
  qc_weight_rounding_free(&s->rounding);
  free(s->rounding_note);
  qc_layer_errors_free(s->layers, s->n_layers);
  job_hist_views_free(s->hists, s->n_hists);
  qc_eval_close(s->data);
  qc_range_memo_free(&s->ranges);
  qc_refine_result_free(&s->refine);
  qc_error_entry_free(&s->error_entry);
  free(s->ops);
  free(s->packed);
  free(s->base);
  free(s->output);
  qc_model_free(s->fp32);
  qc_model_free(s->model2);
  qc_model_free(s->m);
  free(s);
}

int job_open_inputs(job_state *s, int open_eval) {
  const qc_job_options *o = s->o;
  if (!o->calib && !o->n_load_stats)
    return qc_fail(QC_EUSAGE, "no calibration data: give --calib DIR (or --load-stats FILE)");
  QC_TRY(job_files_open(o, s->output, &s->files));
  QC_TRY(qc_model_load(o->model, &s->m));
  s->input_bytes = s->m->file_bytes;
  QC_TRY(job_files_add_model(&s->files, s->m));
  QC_TRY(qc_engine_check_ops(s->m));
  QC_TRY(job_open_calib(s));
  return open_eval ? job_open_eval_data(s, !o->eval_dir) : QC_OK;
}

int job_run_prepare_passes(qc_model *m, const qc_quant_opts *q, qc_pass_log *log) {
  qc_pass_ctx ctx = {.opts = q};
  return qc_passes_run("prepare", m, &ctx, log);
}

int job_run_quantize_passes(qc_model *m, const qc_stats_set *stats, const qc_quant_opts *q, qc_quant_summary *sum,
                            qc_pass_log *log) {
  memset(sum, 0, sizeof *sum);
  qc_pass_ctx ctx = {.opts = q, .stats = stats, .summary = sum};
  return qc_passes_run("quantize", m, &ctx, log);
}

int job_prepare(job_state *s) {
  QC_TRY(qc_param_bytes(s->m, 0, &s->ops, &s->n_ops));
  QC_TRY(job_run_prepare_passes(s->m, &s->q, &s->prepare_log));
  QC_TRY(qc_model_pack(s->m, 0, &s->base, &s->base_len));
  /* The model continues as a copy of base, so that its node ids are those of
   * every copy made from base (the FP32 reference, the fallback's trials):
   * bias correction matches the layers of the quantized model by node id. */
  qc_model *m;
  QC_TRY(qc_model_load_buffer(s->base, s->base_len, s->o->model, s->m->dir, &m));
  qc_model_free(s->m);
  s->m = m;
  return QC_OK;
}

int job_quantize_copy(job_state *s, const qc_quant_opts *q, qc_model **out, qc_quant_summary *sum, qc_pass_log *log) {
  qc_model *m;
  QC_TRY(qc_model_load_buffer(s->base, s->base_len, s->o->model, s->m->dir, &m));
  int rc = job_run_quantize_passes(m, &s->stats, q, sum, log);
  if (rc < 0) {
    qc_quant_summary_free(sum);
    qc_model_free(m);
    return rc;
  }
  *out = m;
  return QC_OK;
}

int job_open_reference(job_state *s) {
  if (!s->data)
    QC_TRY(job_open_eval_data(s, !s->o->eval_dir));
  if (!s->fp32)
    QC_TRY(qc_model_load_buffer(s->base, s->base_len, s->o->model, s->m->dir, &s->fp32));
  return QC_OK;
}

/* Largest FP32 share first; op type breaks ties. */
static int cmp_ops(const void *x, const void *y) {
  const qc_op_bytes *a = x, *b = y;
  if (a->fp32_bytes != b->fp32_bytes)
    return a->fp32_bytes < b->fp32_bytes ? 1 : -1;
  return strcmp(a->op_type, b->op_type);
}

int job_measure_result(job_state *s) {
  QC_TRY(qc_param_bytes(s->m, 1, &s->ops, &s->n_ops));
  QC_TRY(qc_count_nodes(s->m, &s->ops, &s->n_ops, &s->nodes_total, &s->nodes_quantized));
  qsort(s->ops, (size_t)s->n_ops, sizeof *s->ops, cmp_ops);
  return QC_OK;
}

int job_finish(job_state *s, qc_job_result *res) {
  qc_quant_report r;
  qc_pass_log_free(&s->passes);
  QC_TRY(qc_pass_log_append(&s->passes, &s->prepare_log));
  QC_TRY(qc_pass_log_append(&s->passes, &s->quantize_log));
  job_report_build(s, &r);
  r.total_seconds = now() - s->t0;
  QC_TRY(job_files_write_reports(s->o, &s->files, &r));
  QC_TRY(qc_outputs_commit(s->files.outputs));
  res->report = r;
  res->state = s;
  return QC_OK;
}

void qc_job_result_free(qc_job_result *res) {
  job_state_free(res->state);
  memset(res, 0, sizeof *res);
}
