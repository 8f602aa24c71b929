/* qconvert compare MODEL --calib DIR [--observers ...] [--eval DIR]:
 * one calibration pass, then one in-memory quantized model per observer,
 * each evaluated against FP32; prints a table and marks the best. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/model.h"
#include "../quant/simplify.h"
#include "cli.h"
#include "job.h"

typedef struct compare_state {
  qc_model *m, *fp32;
  job_files files;
  qc_calib_source *src;
  unsigned char *base; /* simplified FP32 model: each observer starts from it */
  size_t base_len;
  qc_stats_set stats;
  qc_calib_result cres;
  qc_eval_data *data;
  qc_compare_entry entries[QC_OBS_COUNT];
  int n_entries;
  unsigned char *best_buf;
  size_t best_len;
  qc_quant_summary best_summary;
  qc_layer_error *best_layers;
  int n_best_layers;
  qc_hist_view *hists;
  int n_hists;
} compare_state;

static void compare_state_free(compare_state *s) {
  job_files_close(&s->files); /* removes the temp files of a failed run */
  qc_calib_source_close(s->src);
  qc_model_free(s->m);
  qc_model_free(s->fp32);
  free(s->base);
  free(s->best_buf);
  qc_stats_set_free(&s->stats);
  qc_eval_close(s->data);
  qc_quant_summary_free(&s->best_summary);
  qc_layer_errors_free(s->best_layers, s->n_best_layers);
  job_hist_views_free(s->hists, s->n_hists);
}

/* Higher is better: top-1 when labeled, else output SQNR; agreement breaks ties. */
static int better(const qc_compare_entry *x, const qc_compare_entry *y) {
  if (x->eval.labeled && x->eval.quant_top1 != y->eval.quant_top1)
    return x->eval.quant_top1 > y->eval.quant_top1;
  if (x->eval.output_sqnr_db != y->eval.output_sqnr_db)
    return x->eval.output_sqnr_db > y->eval.output_sqnr_db;
  return x->eval.agreement > y->eval.agreement;
}

/* Quantizes a fresh copy of the base model with one observer and evaluates it. */
static int try_observer(const job_args *a, compare_state *s, qc_observer_kind kind, int index) {
  job_args local = *a;
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_layer_error *layers = NULL;
  unsigned char *buf = NULL;
  size_t len = 0;
  int n_layers = 0;
  qc_compare_entry *e = &s->entries[index];
  qc_eval_opts eo = {.batch = 32, .nthreads = a->threads > 0 ? (int)a->threads : omp_get_num_procs(), .quiet = 1};
  job_observer_cfg(a, kind, &local.q.observer);
  int rc = qc_model_load_buffer(s->base, s->base_len, a->model, s->m->dir, &mq);
  if (rc == QC_OK)
    rc = qc_pass_quantize(mq, &s->stats, &local.q, &sum);
  if (rc == QC_OK)
    rc = qc_model_pack(mq, QC_SAVE_INLINE_EXTERNAL, &buf, &len);
  if (rc == QC_OK)
    rc = qc_evaluate(s->fp32, mq, s->data, &eo, &e->eval);
  if (rc == QC_OK)
    rc = job_layer_errors(s->fp32, &sum, s->data, &eo, &layers, &n_layers);
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
      free(s->best_buf);
      s->best_buf = buf, s->best_len = len, buf = NULL;
      qc_quant_summary_free(&s->best_summary);
      s->best_summary = sum;
      memset(&sum, 0, sizeof sum);
      qc_layer_errors_free(s->best_layers, s->n_best_layers);
      s->best_layers = layers, s->n_best_layers = n_layers, layers = NULL, n_layers = 0;
    }
  }
  free(buf);
  qc_quant_summary_free(&sum);
  qc_layer_errors_free(layers, n_layers);
  qc_model_free(mq);
  return rc;
}

static void print_table(FILE *f, const compare_state *s) {
  const qc_eval_result *ev = &s->entries[0].eval;
  fprintf(f, "\n%-12s %10s %9s %10s %9s %9s  %s\n", "observer", "size", ev->labeled ? "top-1" : "SQNR(dB)",
          "agreement", "drop", "out SQNR", "worst layer (SQNR dB)");
  for (int i = 0; i < s->n_entries; i++) {
    const qc_compare_entry *e = &s->entries[i];
    char metric[32], drop[32];
    if (e->eval.labeled) {
      snprintf(metric, sizeof metric, "%.2f%%", 100 * e->eval.quant_top1);
      snprintf(drop, sizeof drop, "%+.2f pt", 100 * (e->eval.quant_top1 - e->eval.fp32_top1));
    } else {
      snprintf(metric, sizeof metric, "%.1f", e->eval.output_sqnr_db);
      snprintf(drop, sizeof drop, "%+.2f pt", 100 * (e->eval.agreement - 1));
    }
    fprintf(f, "%-12s %8.1f K %9s %9.2f%% %9s %8.1f  %s (%.1f)%s\n", e->observer, e->size_bytes / 1024, metric,
            100 * e->eval.agreement, drop, e->eval.output_sqnr_db, e->worst_layer, e->worst_sqnr_db,
            e->best ? "   <- best" : "");
  }
  if (ev->labeled)
    fprintf(f, "%-12s %10s %8.2f%%   (%lld samples)\n", "fp32", "", 100 * ev->fp32_top1, (long long)ev->samples);
  else
    fprintf(f, "(%lld samples, no labels: ranked by output SQNR vs FP32)\n", (long long)ev->samples);
}

static int run(const job_args *a) {
  double t0 = job_now();
  compare_state s = {0};
  qc_simplify_stats sst = {0};
  int rc;
  qc_stats_set_init(&s.stats);
  /* Everything that can be refused is refused before calibrating. */
  if ((rc = job_files_open(a, a->output, &s.files)) < 0 || (rc = qc_model_load(a->model, &s.m)) < 0 ||
      (rc = job_files_add_model(&s.files, s.m)) < 0 || (rc = qc_engine_check_ops(s.m)) < 0 ||
      (rc = job_open_calib(a, s.m, &s.files, &s.src)) < 0)
    goto done;
  if ((rc = job_open_eval_data(a, s.m, !a->eval_dir, &s.files, &s.data)) < 0)
    goto done;
  if ((rc = qc_pass_prepare(s.m, &a->q, &sst)) < 0 || (rc = qc_model_pack(s.m, 0, &s.base, &s.base_len)) < 0)
    goto done;
  if ((rc = job_collect_stats(a, s.m, s.src, &s.files, &s.stats, &s.cres)) < 0)
    goto done;
  if ((rc = qc_model_load_buffer(s.base, s.base_len, a->model, s.m->dir, &s.fp32)) < 0)
    goto done;
  for (int i = 0; i < a->n_observers && rc == QC_OK; i++) {
    if (!a->quiet)
      fprintf(stderr, "compare: %s (%d/%d)\n", qc_observer_name(a->observers[i]), i + 1, a->n_observers);
    rc = try_observer(a, &s, a->observers[i], i);
  }
  if (rc < 0)
    goto done;
  if (a->output && (rc = qc_outputs_write(s.files.outputs, s.files.model_out, s.best_buf, s.best_len)) < 0)
    goto done;
  if ((rc = job_hist_views(a, &s.stats, s.best_layers, s.n_best_layers, 8, &s.hists, &s.n_hists)) < 0)
    goto done;
  const qc_compare_entry *best = NULL;
  for (int i = 0; i < s.n_entries; i++)
    if (s.entries[i].best)
      best = &s.entries[i];
  qc_quant_report r = {
      .model_path = a->model, .output_path = a->output ? a->output : "", .fp32_bytes = (double)s.m->file_bytes,
      .quantized_bytes = best ? best->size_bytes : 0, .observer = best ? best->observer : "",
      .activation_type = a->q.act_scheme == QC_QS_UINT8_AFFINE ? "uint8" : "int8", .weight_type = "int8",
      .per_channel = !a->q.per_tensor, .weight_only = a->q.weight_only, .percentile = a->percentile,
      .calibration_samples = s.cres.samples, .calibration_seconds = s.cres.seconds,
      .threads = a->threads > 0 ? (int)a->threads : omp_get_num_procs(), .tensors = s.best_summary.tensors,
      .n_tensors = s.best_summary.n_tensors, .warnings = (const char **)s.best_summary.warnings,
      .n_warnings = s.best_summary.n_warnings, .eval = best ? &best->eval : NULL, .layers = s.best_layers,
      .n_layers = s.n_best_layers, .compare = s.entries, .n_compare = s.n_entries, .hists = s.hists,
      .n_hists = s.n_hists, .nodes_total = s.best_summary.nodes_total, .nodes_quantized = s.best_summary.nodes_quantized};
  r.total_seconds = job_now() - t0;
  if ((rc = job_files_write_reports(a, &s.files, &r)) == QC_OK && (rc = qc_outputs_commit(s.files.outputs)) == QC_OK) {
    printf("qconvert compare: %s, %lld calibration samples (one pass, %.2f s), evaluated on %s\n", a->model,
           (long long)s.cres.samples, s.cres.seconds, a->eval_dir ? a->eval_dir : "calibration samples");
    print_table(stdout, &s);
    if (a->output && best)
      printf("wrote the %s model to %s\n", best->observer, a->output);
  }
done:
  compare_state_free(&s);
  return rc;
}

int cmd_compare(int argc, char **argv) { return cli_run_job(argc, argv, JOB_COMPARE, run); }
