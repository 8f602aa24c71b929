/* The main job: `qconvert MODEL --calib DIR` and qconvert_quantize(). */
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/model.h"
#include "job_internal.h"

/* "dir/model.onnx" -> "dir/model.int8.onnx". */
static char *default_output_path(const char *model) {
  size_t n = strlen(model);
  const char *slash = strrchr(model, '/'), *dot = strrchr(model, '.');
  size_t stem = (dot && (!slash || dot > slash) && strcmp(dot, ".onnx") == 0) ? (size_t)(dot - model) : n;
  char *out = malloc(stem + sizeof ".int8.onnx");
  if (out) {
    memcpy(out, model, stem);
    strcpy(out + stem, ".int8.onnx");
  }
  return out;
}

/* The quantized model into its output; the report states the bytes written. */
static int write_model(job_state *s) {
  QC_TRY(qc_model_pack(s->m, QC_SAVE_INLINE_EXTERNAL, &s->packed, &s->packed_len));
  return qc_outputs_write(s->files.outputs, s->files.model_out, s->packed, s->packed_len);
}

/* --eval and per-layer error (with reports, on --eval or calibration data):
 * FP32 vs the quantized model. */
static int evaluate(job_state *s) {
  const qc_job_options *o = s->o;
  if (!((o->n_reports > 0 && o->calib) || o->eval_dir))
    return QC_OK;
  QC_TRY(job_open_reference(s));
  if (o->eval_dir) {
    qc_eval_opts eo = job_eval_opts(o);
    QC_TRY(qc_evaluate(s->fp32, s->m, s->data, &eo, &s->eval));
    s->evaluated = 1;
  }
  QC_TRY(job_layer_errors(s, &s->summary, &s->layers, &s->n_layers));
  if (o->n_reports > 0)
    QC_TRY(job_error_entry(s));
  return job_hist_views(s, 8);
}

int qc_job_quantize(const qc_job_options *o, qc_job_result *res) {
  memset(res, 0, sizeof *res);
  job_state *s;
  QC_TRY(job_state_new(o, JOB_QUANTIZE, &s));
  s->output = o->output ? strdup(o->output) : default_output_path(o->model);
  int rc = s->output ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  if (rc < 0 ||
      /* the model, every input and every destination, checked before any work */
      (rc = job_open_inputs(s, o->eval_dir != NULL)) < 0 ||
      /* prepare passes; the FP32 base every later trial starts from */
      (rc = job_prepare(s)) < 0 ||
      /* calibrate, or merge saved statistics */
      (rc = job_collect_stats(s)) < 0 ||
      /* --rounding adaround: learned weight rounding for every quantize pass below */
      (rc = job_adaround(s)) < 0 ||
      (rc = job_run_quantize_passes(s->m, &s->stats, &s->q, &s->summary, &s->quantize_log)) < 0 ||
      (rc = job_refine(s)) < 0 ||
      (rc = job_bias_correct(s, s->m)) < 0 ||
      (o->min_sqnr > 0 && (rc = job_fallback(s)) < 0) ||
      (rc = job_adaround_note(s)) < 0 ||
      (rc = write_model(s)) < 0 ||
      (rc = evaluate(s)) < 0 ||
      (rc = job_measure_result(s)) < 0 ||
      /* reports, then every output committed together */
      (rc = job_finish(s, res)) < 0)
    job_state_free(s);
  return rc;
}
