/* The qc_quant_report of a run, filled in one place for the main job,
 * compare and eval, and the histogram views it shows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "job_internal.h"

void job_report_build(const job_state *s, qc_quant_report *r) {
  const qc_job_options *o = s->o;
  memset(r, 0, sizeof *r);
  r->model_path = o->model;
  r->fp32_bytes = (double)s->input_bytes;
  r->eval = s->evaluated ? &s->eval : NULL;
  r->observer = r->activation_type = r->weight_type = "";
  if (s->kind == JOB_EVAL) {
    r->output_path = o->model2 ? o->model2 : "";
    r->quantized_bytes = s->model2 ? (double)s->model2->file_bytes : 0;
    return;
  }
  r->output_path = s->output ? s->output : "";
  r->quantized_bytes = (double)s->packed_len;
  r->ops = s->ops;
  r->n_ops = s->n_ops;
  r->nodes_total = s->nodes_total;
  r->nodes_quantized = s->nodes_quantized;
  r->observer = s->observer;
  r->activation_type = o->act_scheme == QC_QS_UINT8_AFFINE ? "uint8" : "int8";
  r->weight_type = "int8";
  r->per_channel = !o->per_tensor;
  r->weight_only = o->weight_only;
  r->percentile = o->percentile;
  r->calibration_samples = s->cres.samples;
  r->calibration_seconds = s->cres.seconds;
  r->threads = job_threads(o);
  r->tensors = s->summary.tensors;
  r->n_tensors = s->summary.n_tensors;
  r->warnings = (const char **)s->summary.warnings;
  r->n_warnings = s->summary.n_warnings;
  r->regions = s->summary.regions;
  r->n_regions = s->summary.n_regions;
  r->clips = s->summary.clips;
  r->n_clips = s->summary.n_clips;
  r->layers = s->layers;
  r->n_layers = s->n_layers;
  r->compare = s->n_entries ? s->entries : NULL;
  r->n_compare = s->n_entries;
  r->hists = s->hists;
  r->n_hists = s->n_hists;
  r->refine = s->refine.ran || s->refine.skipped ? &s->refine : NULL;
  r->error_entry = s->error_entry.ran || s->error_entry.skipped ? &s->error_entry : NULL;
  r->passes = s->passes.n ? s->passes.records : NULL;
  r->n_passes = s->passes.n;
}

void job_hist_views_free(qc_hist_view *h, int n) {
  for (int i = 0; h && i < n; i++) {
    free(h[i].tensor);
    free(h[i].counts);
  }
  free(h);
}

/* Display histogram of at most 120 bins from the stats' exact bins, with the
 * range every observer would choose. */
static int hist_view(const qc_job_options *o, const qc_stats *st, const char *name, qc_hist_view *v) {
  int len = qc_stats_hist_len(st);
  double w = ldexp(1.0, st->hist.exp);
  int group = (len + 119) / 120, nb = (len + group - 1) / group;
  v->tensor = strdup(name);
  v->counts = calloc((size_t)nb, sizeof(double));
  if (!v->tensor || !v->counts)
    return qc_fail(QC_ENOMEM, "out of memory");
  v->nbins = nb;
  v->lo = (double)st->hist.first * w;
  v->hi = (double)(st->hist.first + (int64_t)nb * group) * w;
  for (int b = 0; b < len; b++)
    v->counts[b / group] += (double)st->hist.counts[b];
  for (int k = 0; k < QC_OBS_COUNT && v->n_ranges < 8; k++) {
    qc_observer_cfg cfg;
    job_observer_cfg(o, (qc_observer_kind)k, &cfg);
    float rmin, rmax;
    if (qc_observer_range(&cfg, st, &rmin, &rmax) == QC_OK) {
      v->ranges[v->n_ranges].observer = qc_observer_name((qc_observer_kind)k);
      v->ranges[v->n_ranges].rmin = rmin;
      v->ranges[v->n_ranges].rmax = rmax;
      v->n_ranges++;
    }
  }
  return QC_OK;
}

int job_hist_views(job_state *s, int n) {
  if (n > s->n_layers)
    n = s->n_layers;
  qc_hist_view *hv = calloc((size_t)n + 1, sizeof *hv);
  if (!hv)
    return qc_fail(QC_ENOMEM, "out of memory");
  int k = 0, rc = QC_OK;
  for (int i = 0; i < n && rc == QC_OK; i++) {
    const qc_stats *st = qc_stats_set_find(&s->stats, s->layers[i].name);
    if (!st || qc_stats_hist_len(st) <= 0)
      continue;
    rc = hist_view(s->o, st, s->layers[i].name, &hv[k++]);
  }
  if (rc < 0) {
    job_hist_views_free(hv, k);
    return rc;
  }
  s->hists = hv;
  s->n_hists = k;
  return QC_OK;
}
