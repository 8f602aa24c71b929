/* Calibration driver. See calibrate.h. */
#include "calibrate.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/graph.h"

static int is_observed(const qc_value *v) {
  return v->dtype == QC_DT_FLOAT && !(v->flags & QC_VALUE_INITIALIZER) &&
         (v->producer >= 0 || (v->flags & QC_VALUE_GRAPH_INPUT));
}

int qc_calib_register_tensors(const qc_model *m, qc_stats_set *stats) {
  const qc_graph *g = m->graph;
  qc_stats *s;
  for (int i = 0; i < g->n_inputs; i++)
    if (is_observed(&g->values[g->inputs[i]]))
      QC_TRY(qc_stats_set_get(stats, g->values[g->inputs[i]].name, &s));
  for (int k = 0; k < g->n_order; k++) {
    const qc_node *n = &g->nodes[g->order[k]];
    for (int o = 0; o < n->noutputs; o++) {
      if (n->outputs[o] < 0)
        continue;
      const qc_value *v = &g->values[n->outputs[o]];
      /* Node outputs often lack value_info; the engine reports the dtype at
       * run time, so register every output and skip non-float ones there. */
      if (v->dtype == QC_DT_FLOAT || v->dtype == QC_DT_UNDEFINED)
        QC_TRY(qc_stats_set_get(stats, v->name, &s));
    }
  }
  return QC_OK;
}

void qc_model_fingerprint(const qc_model *m, char *buf, size_t n) {
  const qc_graph *g = m->graph;
  uint64_t h = 1469598103934665603ull;
  for (int k = 0; k < g->n_order; k++) {
    const qc_node *nd = &g->nodes[g->order[k]];
    for (const char *p = qc_node_op(g, g->order[k]); *p; p++)
      h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (int o = 0; o < nd->noutputs; o++)
      if (nd->outputs[o] >= 0)
        for (const char *p = g->values[nd->outputs[o]].name; *p; p++)
          h = (h ^ (unsigned char)*p) * 1099511628211ull;
  }
  snprintf(buf, n, "graph:%d-nodes:%016llx", g->n_order, (unsigned long long)h);
}

/* Per-thread state. */
typedef struct worker {
  qc_stats *stats;     /* one per observed tensor, for all of this thread's batches */
  int *obs_of_value;   /* value id -> observed index or -1 (shared, read-only) */
  int batch;           /* samples in the current batch */
  qc_tensor *samples;  /* batch * ninputs loaded samples */
  qc_tensor *inputs;   /* ninputs stacked batch tensors */
  qc_tensor **in_ptrs;
  qc_tensor *outputs;
  int64_t used, skipped;
} worker;

static int observe_value(void *user, int node, int value, const qc_tensor *t) {
  (void)node;
  worker *w = user;
  int idx = w->obs_of_value[value];
  if (idx < 0 || t->dtype != QC_DT_FLOAT || t->numel == 0)
    return QC_OK;
  qc_stats *s = &w->stats[idx];
  /* One update per sample keeps results independent of the batch size. */
  if (w->batch > 1 && t->ndim > 0 && t->dims[0] == w->batch) {
    size_t per = (size_t)(t->numel / w->batch);
    for (int b = 0; b < w->batch; b++)
      QC_TRY(qc_stats_update(s, qc_f32(t) + (size_t)b * per, per));
    return QC_OK;
  }
  return qc_stats_update(s, qc_f32(t), (size_t)t->numel);
}

/* Loads and runs batch `b` (sample indices [b*B, (b+1)*B)). */
static int run_batch(qc_engine *e, qc_calib_source *src, const qc_graph *g, int batch_size, int64_t b,
                     int64_t total, worker *w) {
  int ninputs = g->n_inputs;
  int count = 0;
  int64_t start = b * batch_size, end = start + batch_size < total ? start + batch_size : total;
  for (int64_t s = start; s < end; s++) {
    qc_tensor *slot = &w->samples[(size_t)count * (size_t)ninputs];
    int rc = qc_calib_source_load(src, s, slot);
    if (rc < 0)
      return rc;
    if (rc == QC_CALIB_SKIPPED) {
      w->skipped++;
      continue;
    }
    count++;
  }
  w->batch = count;
  int rc = QC_OK;
  if (count > 0) {
    rc = qc_stack_samples(w->samples, count, ninputs, w->inputs);
    for (int i = 0; i < ninputs; i++)
      w->in_ptrs[i] = &w->inputs[i];
    for (int i = 0; rc == QC_OK && i < ninputs; i++) /* the engine reports node outputs only */
      rc = observe_value(w, -1, g->inputs[i], &w->inputs[i]);
    if (rc == QC_OK)
      rc = qc_engine_run(e, w->in_ptrs, w->outputs, observe_value, w);
    w->used += count;
  }
  for (int i = 0; i < count * ninputs; i++)
    qc_tensor_release(&w->samples[i]);
  for (int i = 0; i < ninputs; i++)
    qc_tensor_release(&w->inputs[i]);
  for (int i = 0; i < g->n_outputs; i++)
    qc_tensor_release(&w->outputs[i]);
  return rc;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void draw_progress(int64_t done, int64_t total, double t0) {
  int width = 30, filled = total ? (int)(width * done / total) : width;
  double el = now_s() - t0;
  fprintf(stderr, "\rcalibrating [");
  for (int i = 0; i < width; i++)
    fputc(i < filled ? '#' : '.', stderr);
  fprintf(stderr, "] %lld/%lld  %.1fs", (long long)done, (long long)total, el);
  if (done == total)
    fputc('\n', stderr);
  fflush(stderr);
}

int qc_calibrate(qc_model *m, qc_engine *e, qc_calib_source *src, const qc_calib_opts *opts, qc_stats_set *stats,
                 qc_calib_result *result) {
  const qc_graph *g = m->graph;
  int batch_size = opts->batch > 0 ? opts->batch : 1;
  int nthreads = opts->nthreads > 0 ? opts->nthreads : 1;
  int64_t total = qc_calib_source_count(src);
  int64_t nbatches = (total + batch_size - 1) / batch_size;
  if (nthreads > nbatches)
    nthreads = nbatches > 0 ? (int)nbatches : 1;
  int n_obs = (int)stats->count;
  double t0 = now_s();
  memset(result, 0, sizeof *result);

  int *obs_of_value = malloc(sizeof(int) * ((size_t)g->n_values + 1));
  worker *workers = calloc((size_t)nthreads, sizeof *workers);
  int rc = QC_OK;
  if (!obs_of_value || !workers) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto done;
  }
  for (int v = 0; v < g->n_values; v++)
    obs_of_value[v] = -1;
  for (int i = 0; i < n_obs; i++) {
    int v = qc_graph_find_value(g, stats->names[i]);
    if (v >= 0)
      obs_of_value[v] = i;
  }
  for (int t = 0; t < nthreads && rc == QC_OK; t++) {
    worker *w = &workers[t];
    w->obs_of_value = obs_of_value;
    w->stats = malloc(sizeof(qc_stats) * ((size_t)n_obs + 1));
    w->samples = calloc((size_t)batch_size * (size_t)(g->n_inputs + 1), sizeof(qc_tensor));
    w->inputs = calloc((size_t)g->n_inputs + 1, sizeof(qc_tensor));
    w->in_ptrs = calloc((size_t)g->n_inputs + 1, sizeof(qc_tensor *));
    w->outputs = calloc((size_t)g->n_outputs + 1, sizeof(qc_tensor));
    if (!w->stats || !w->samples || !w->inputs || !w->in_ptrs || !w->outputs)
      rc = qc_fail(QC_ENOMEM, "out of memory");
    for (int i = 0; rc == QC_OK && i < n_obs; i++)
      qc_stats_init(&w->stats[i]);
  }
  if (rc < 0)
    goto done;

  /* Each round runs up to nthreads batches in parallel (kernels run serially
   * inside, BLAS single-threaded). Histograms, counts and min/max merge
   * exactly in any order, so each thread keeps its own for the whole run;
   * only the EMA depends on sample order, so each batch's EMA segments are
   * appended to the result in batch order after every round. */
  int shared_rc = QC_OK;
  char shared_msg[1024] = "";
  int64_t rounds = (nbatches + nthreads - 1) / nthreads;
  int blas_threads = openblas_get_num_threads();
  if (nthreads > 1)
    openblas_set_num_threads(1);
  int show = opts->progress;
#pragma omp parallel num_threads(nthreads)
  {
    int t = omp_get_thread_num();
    for (int64_t r = 0; r < rounds; r++) {
      int64_t b = r * nthreads + t;
      if (b < nbatches && shared_rc == QC_OK) {
        int brc = run_batch(e, src, g, batch_size, b, total, &workers[t]);
        if (brc == QC_OK && qc_interrupted())
          brc = qc_fail(QC_EINTERRUPTED, "interrupted during calibration; nothing written");
        if (brc < 0) {
#pragma omp critical(qc_calib_error)
          if (shared_rc == QC_OK) {
            shared_rc = brc;
            snprintf(shared_msg, sizeof shared_msg, "%s", qc_last_error());
          }
        }
      }
#pragma omp barrier
#pragma omp single
      {
        for (int tt = 0; tt < nthreads && shared_rc == QC_OK; tt++) {
          int64_t bb = r * nthreads + tt;
          if (bb >= nbatches)
            break;
          for (int i = 0; i < n_obs; i++)
            qc_stats_take_ema(stats->stats[i], &workers[tt].stats[i]);
        }
        if (show) {
          int64_t done_b = (r + 1) * nthreads < nbatches ? (r + 1) * nthreads : nbatches;
          int64_t done_s = done_b * batch_size < total ? done_b * batch_size : total;
          draw_progress(done_s, total, t0);
        }
      }
      if (shared_rc != QC_OK)
        break;
    }
  }
  if (nthreads > 1)
    openblas_set_num_threads(blas_threads);
  if (shared_rc < 0) {
    rc = qc_fail(shared_rc, "%s", shared_msg);
    goto done;
  }
  for (int t = 0; t < nthreads && rc == QC_OK; t++) {
    for (int i = 0; i < n_obs && rc == QC_OK; i++)
      rc = qc_stats_merge_unordered(stats->stats[i], &workers[t].stats[i]);
    result->samples += workers[t].used;
    result->skipped += workers[t].skipped;
  }
  if (rc < 0)
    goto done;
  rc = qc_calib_source_finish(src);
  result->seconds = now_s() - t0;
done:
  for (int t = 0; workers && t < nthreads; t++) {
    free(workers[t].stats);
    free(workers[t].samples);
    free(workers[t].inputs);
    free(workers[t].in_ptrs);
    free(workers[t].outputs);
  }
  free(workers);
  free(obs_of_value);
  return rc;
}
