/* The main job as a library function: load -> simplify -> calibrate ->
 * QDQ -> write -> evaluate -> report. Used by the CLI and by qconvert.h. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/model.h"
#include "../quant/param_bytes.h"
#include "../quant/simplify.h"
#include "job.h"

/* "dir/model.onnx" -> "dir/model.int8.onnx". */
char *job_default_output_path(const char *model) {
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

static int cmp_ops(const void *x, const void *y) {
  const qc_op_bytes *a = x, *b = y;
  if (a->fp32_bytes != b->fp32_bytes)
    return a->fp32_bytes < b->fp32_bytes ? 1 : -1;
  return strcmp(a->op_type, b->op_type);
}

/* Everything the report points at, freed in one place. */
typedef struct job_state {
  qc_model *m, *fp32;
  unsigned char *fp32_buf; /* the simplified FP32 model, for per-layer error */
  size_t fp32_len;
  job_files files;
  qc_calib_source *src;
  qc_stats_set stats;
  qc_calib_result cres;
  qc_quant_summary summary;
  qc_op_bytes *ops;
  int n_ops;
  qc_eval_result eval;
  qc_layer_error *layers;
  int n_layers;
  qc_hist_view *hists;
  int n_hists;
  qc_eval_data *data;
} job_state;

static void job_state_free(job_state *s) {
  job_files_close(&s->files); /* removes the temp files of a failed run */
  qc_calib_source_close(s->src);
  qc_quant_summary_free(&s->summary);
  qc_stats_set_free(&s->stats);
  qc_layer_errors_free(s->layers, s->n_layers);
  job_hist_views_free(s->hists, s->n_hists);
  qc_eval_close(s->data);
  free(s->ops);
  free(s->fp32_buf);
  qc_model_free(s->fp32);
  qc_model_free(s->m);
}

/* The evaluation data and the simplified FP32 model, opened once. */
static int open_data(const job_args *a, job_state *s) {
  if (!s->data)
    QC_TRY(job_open_eval_data(a, s->m, !a->eval_dir, &s->files, &s->data));
  if (!s->fp32)
    QC_TRY(qc_model_load_buffer(s->fp32_buf, s->fp32_len, a->model, s->m->dir, &s->fp32));
  return QC_OK;
}

static int fallback(const job_args *a, job_state *s) {
  QC_TRY(open_data(a, s));
  job_fallback_ctx c = {.base = s->fp32_buf, .base_len = s->fp32_len, .dir = s->m->dir, .fp32 = s->fp32,
                        .stats = &s->stats, .data = s->data};
  return job_fallback(a, &c, &s->m, &s->summary);
}

/* --eval and per-layer error (with reports, on --eval or --calib data): FP32
 * vs the quantized model. */
static int evaluate(const job_args *a, job_state *s) {
  int want_layers = (a->n_reports > 0 && a->calib) || a->eval_dir;
  if (!want_layers)
    return QC_OK;
  qc_eval_opts eo = {.batch = 32, .nthreads = a->threads > 0 ? (int)a->threads : omp_get_num_procs(), .quiet = 1};
  QC_TRY(open_data(a, s));
  if (a->eval_dir)
    QC_TRY(qc_evaluate(s->fp32, s->m, s->data, &eo, &s->eval));
  QC_TRY(job_layer_errors(s->fp32, &s->summary, s->data, &eo, &s->layers, &s->n_layers));
  return job_hist_views(a, &s->stats, s->layers, s->n_layers, 8, &s->hists, &s->n_hists);
}

/* Everything that can be refused is refused here, before any calibration:
 * every destination, the model and its ops, the calibration and --eval
 * samples, and no destination may be one of the files read. */
static int prepare(const job_args *a, const char *output, job_state *s) {
  QC_TRY(job_files_open(a, output, &s->files));
  QC_TRY(qc_model_load(a->model, &s->m));
  QC_TRY(job_files_add_model(&s->files, s->m));
  QC_TRY(qc_engine_check_ops(s->m));
  QC_TRY(job_open_calib(a, s->m, &s->files, &s->src));
  if (a->eval_dir)
    QC_TRY(job_open_eval_data(a, s->m, 0, &s->files, &s->data));
  return QC_OK;
}

/* The quantized model into its output; the report states the bytes written. */
static int write_model(job_state *s) {
  unsigned char *buf;
  size_t len;
  QC_TRY(qc_model_pack(s->m, QC_SAVE_INLINE_EXTERNAL, &buf, &len));
  int rc = qc_outputs_write(s->files.outputs, s->files.model_out, buf, len);
  free(buf);
  return rc;
}

int job_quantize(const job_args *a, const char *output, FILE *summary) {
  double t0 = job_now();
  job_state s = {0};
  qc_simplify_stats sst = {0};
  int rc;
  qc_stats_set_init(&s.stats);
  if ((rc = prepare(a, output, &s)) < 0 || (rc = qc_param_bytes(s.m, 0, &s.ops, &s.n_ops)) < 0)
    goto done;
  if ((rc = qc_pass_prepare(s.m, &a->q, &sst)) < 0 || (rc = qc_model_pack(s.m, 0, &s.fp32_buf, &s.fp32_len)) < 0)
    goto done;
  if ((rc = job_collect_stats(a, s.m, s.src, &s.files, &s.stats, &s.cres)) < 0)
    goto done;
  if ((rc = qc_pass_quantize(s.m, &s.stats, &a->q, &s.summary)) < 0)
    goto done;
  if (a->min_sqnr > 0 && (rc = fallback(a, &s)) < 0)
    goto done;
  if ((rc = write_model(&s)) < 0 || (rc = evaluate(a, &s)) < 0)
    goto done;
  int total = 0, quantized = 0;
  if ((rc = qc_param_bytes(s.m, 1, &s.ops, &s.n_ops)) < 0 ||
      (rc = qc_count_nodes(s.m, &s.ops, &s.n_ops, &total, &quantized)) < 0)
    goto done;
  qsort(s.ops, (size_t)s.n_ops, sizeof *s.ops, cmp_ops);
  qc_quant_report r = {
      .model_path = a->model, .output_path = output, .fp32_bytes = (double)s.m->file_bytes,
      .quantized_bytes = (double)qc_outputs_bytes(s.files.outputs, s.files.model_out), .ops = s.ops,
      .n_ops = s.n_ops, .nodes_total = total,
      .nodes_quantized = quantized, .observer = qc_observer_name(a->observers[0]),
      .activation_type = a->q.act_scheme == QC_QS_UINT8_AFFINE ? "uint8" : "int8", .weight_type = "int8",
      .per_channel = !a->q.per_tensor, .weight_only = a->q.weight_only, .percentile = a->percentile,
      .calibration_samples = s.cres.samples, .calibration_seconds = s.cres.seconds,
      .threads = a->threads > 0 ? (int)a->threads : omp_get_num_procs(), .tensors = s.summary.tensors,
      .n_tensors = s.summary.n_tensors, .warnings = (const char **)s.summary.warnings,
      .n_warnings = s.summary.n_warnings, .eval = a->eval_dir ? &s.eval : NULL, .layers = s.layers,
      .n_layers = s.n_layers, .hists = s.hists, .n_hists = s.n_hists};
  r.total_seconds = job_now() - t0;
  if ((rc = job_files_write_reports(a, &s.files, &r)) < 0 || (rc = qc_outputs_commit(s.files.outputs)) < 0)
    goto done;
  if (summary)
    qc_report_print(summary, &r);
done:
  job_state_free(&s);
  return rc;
}
