/* Calibration and evaluation data: the model's input specs, the calibration
 * samples, the statistics (collected, or loaded and merged; saved) and the
 * evaluation samples. See job_internal.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/status.h"
#include "../engine/engine.h"
#include "job_internal.h"
#include "source.h"

int job_input_specs(const qc_job_options *o, const qc_graph *g, qc_input_spec *specs) {
  for (int i = 0; i < g->n_inputs; i++) {
    const qc_value *v = &g->values[g->inputs[i]];
    specs[i].name = v->name;
    specs[i].dtype = v->dtype ? v->dtype : QC_DT_FLOAT;
    specs[i].ndim = v->ndim < 0 ? 0 : v->ndim;
    memcpy(specs[i].dims, v->dims, sizeof v->dims);
  }
  for (int k = 0; k < o->n_input_shapes; k++) {
    const char *arg = o->input_shapes[k], *eq = strchr(arg, '=');
    int slot = 0;
    if (eq) {
      slot = -1;
      for (int i = 0; i < g->n_inputs; i++)
        if (strlen(specs[i].name) == (size_t)(eq - arg) && strncmp(specs[i].name, arg, (size_t)(eq - arg)) == 0)
          slot = i;
      if (slot < 0)
        return qc_fail(QC_EUSAGE, "--input-shape %s: the model has no input named '%.*s'", arg, (int)(eq - arg), arg);
    } else if (g->n_inputs != 1) {
      return qc_fail(QC_EUSAGE, "--input-shape %s: the model has %d inputs; use NAME=DIMS", arg, g->n_inputs);
    }
    int64_t dims[QC_MAX_DIMS];
    int ndim;
    QC_TRY(qc_job_parse_dims(eq ? eq + 1 : arg, dims, &ndim));
    if (specs[slot].ndim && ndim != specs[slot].ndim)
      return qc_fail(QC_EUSAGE, "--input-shape %s: input '%s' has rank %d", arg, specs[slot].name, specs[slot].ndim);
    for (int d = 0; d < ndim; d++)
      if (specs[slot].ndim && specs[slot].dims[d] >= 0 && specs[slot].dims[d] != dims[d] && d > 0)
        return qc_fail(QC_EUSAGE, "--input-shape %s: dim %d of input '%s' is fixed at %lld", arg, d,
                       specs[slot].name, (long long)specs[slot].dims[d]);
    specs[slot].ndim = ndim;
    memcpy(specs[slot].dims, dims, sizeof(int64_t) * (size_t)ndim);
  }
  for (int i = 0; i < g->n_inputs; i++)
    if (specs[i].ndim > 0)
      specs[i].dims[0] = 1; /* samples carry batch 1; the driver stacks them */
  return QC_OK;
}

int job_open_calib(job_state *s) {
  const qc_job_options *o = s->o;
  s->src = NULL;
  if (o->n_load_stats)
    return QC_OK;
  const qc_graph *g = s->m->graph;
  qc_input_spec *specs = calloc((size_t)g->n_inputs + 1, sizeof *specs);
  qc_preprocess_opts *pre = calloc((size_t)g->n_inputs + 1, sizeof *pre);
  int rc = (specs && pre) ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    rc = job_input_specs(o, g, specs);
  for (int i = 0; rc == QC_OK && i < g->n_inputs; i++)
    pre[i] = o->pre;
  /* quiet drops progress and echo only: warnings about skipped files always show. */
  qc_source_opts so = {.path = o->calib, .count = o->calib_count, .preprocess = pre, .quiet = 0};
  if (rc == QC_OK)
    rc = qc_calib_source_open(&so, specs, g->n_inputs, &s->src);
  for (int i = 0; rc == QC_OK && !o->quiet && i < g->n_inputs; i++) {
    char line[512];
    const char *d = qc_calib_source_describe(s->src, i, line, sizeof line);
    if (d && *d)
      fprintf(stderr, "preprocessing: %s\n", d);
  }
  if (rc == QC_OK)
    rc = job_files_add_source(&s->files, s->src, g->n_inputs);
  free(specs);
  free(pre);
  return rc;
}

/* save_stats: whatever the statistics came from (calibration, or the merged
 * load_stats files, which makes it a way to merge shards into one file). */
static int save_stats(job_state *s, const char *fingerprint) {
  uint8_t *data;
  size_t len;
  QC_TRY(qc_stats_pack(s->o->save_stats, fingerprint, &s->stats, &data, &len));
  int rc = qc_outputs_write(s->files.outputs, s->files.stats_out, data, len);
  free(data);
  return rc;
}

int job_collect_stats(job_state *s) {
  const qc_job_options *o = s->o;
  char fingerprint[128];
  qc_model_fingerprint(s->m, fingerprint, sizeof fingerprint);
  QC_TRY(qc_calib_register_tensors(s->m, &s->stats));
  if (o->n_load_stats) {
    for (int i = 0; i < o->n_load_stats; i++)
      QC_TRY(qc_stats_load(o->load_stats[i], fingerprint, &s->stats));
    for (size_t i = 0; i < s->stats.count; i++)
      if ((int64_t)s->stats.stats[i]->samples > s->cres.samples)
        s->cres.samples = (int64_t)s->stats.stats[i]->samples;
  } else {
    qc_engine *e = NULL;
    qc_engine_opts eo = {.nthreads = job_threads(o)};
    qc_calib_opts co = {.batch = (int)o->batch, .nthreads = job_threads(o), .progress = o->progress};
    int rc = qc_engine_create(s->m, &eo, &e);
    if (rc == QC_OK)
      rc = qc_calibrate(s->m, e, s->src, &co, &s->stats, &s->cres);
    qc_engine_free(e);
    QC_TRY(rc);
  }
  return o->save_stats ? save_stats(s, fingerprint) : QC_OK;
}

int job_open_eval_data(job_state *s, int use_calib) {
  const qc_job_options *o = s->o;
  const qc_graph *g = s->m->graph;
  const char *dir = use_calib ? o->calib : o->eval_dir;
  if (!dir)
    return qc_fail(QC_EUSAGE, "no data to evaluate on: give --eval DIR (or --calib DIR)");
  qc_input_spec *specs = calloc((size_t)g->n_inputs + 1, sizeof *specs);
  if (!specs)
    return qc_fail(QC_ENOMEM, "out of memory");
  int rc = job_input_specs(o, g, specs);
  if (rc == QC_OK)
    /* Skipped --eval files are warned about even with quiet, as calibration files are (those
     * were warned about during calibration, so a reread of them stays quiet). */
    rc = qc_eval_open(dir, &o->pre, specs, g->n_inputs, use_calib, use_calib ? QC_JOB_CALIB_EVAL_SAMPLES : 0,
                      &s->data);
  if (rc < 0 && !use_calib && s->kind != JOB_EVAL)
    rc = qc_fail_context(rc, "--eval");
  if (rc == QC_OK)
    rc = job_files_add_eval(&s->files, s->data, g->n_inputs);
  free(specs);
  return rc;
}
