/* Where the output error enters (issue 14 item 7; docs/report.md).
 *
 * Per-layer SQNR quantizes each tensor alone and says nothing about what the
 * error does downstream. With a report, on the held-back calibration samples
 * (JOB_HELDBACK_SAMPLES, evenly spaced):
 *   1. one paired run of the FP32 and the written model: the SQNR of every
 *      quantized activation as the quantized model computes it (its
 *      DequantizeLinear output), errors from upstream included;
 *   2. the worst-output SQNR S(k) of the model with only the first k compute
 *      nodes (graph order; float-region nodes not counted) quantized, the rest
 *      float (the node mask of the QDQ pass), at up to ENTRY_CHECKPOINTS
 *      evenly spaced k;
 *   3. the checkpoint segments that add the most output noise power
 *      (N(k) = 10^(-S(k)/10): noise adds, decibels do not) are bisected to
 *      the single compute node that adds the most; up to ENTRY_STEPS nodes
 *      are named, largest added noise first.
 * Every trial quantizes a fresh copy with the job's ranges (refined, when
 * refinement ran; the observers run once) and compares with FP32 outputs
 * computed once. It runs with every report, so its cost bound is half
 * of refinement's, deterministic: trials x samples x operations per sample
 * <= ENTRY_BUDGET_OPS. A model too large for ENTRY_FULL_TRIALS trials on
 * JOB_HELDBACK_SAMPLES samples uses ENTRY_FEW_SAMPLES, and the checkpoints
 * take at most half of the trials, the rest bisects. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/model.h"
#include "job_internal.h"

#define ENTRY_CHECKPOINTS 8
#define ENTRY_STEPS 3
#define ENTRY_CAP_DB 200.0 /* S of an error-free prefix */
#define ENTRY_MAX_TRIALS 48
#define ENTRY_BUDGET_OPS (JOB_TRIAL_BUDGET_OPS / 2)
#define ENTRY_FULL_TRIALS 16 /* fewer affordable on JOB_HELDBACK_SAMPLES: ENTRY_FEW_SAMPLES */
#define ENTRY_FEW_SAMPLES 4
#define ENTRY_MIN_TRIALS 4
#define ENTRY_TENSOR_BYTES ((size_t)256 << 20) /* FP32 activations of one sample kept for step 1 */

typedef struct entry_state {
  job_state *s;
  qc_eval_reference *ref;
  const qc_graph *g;
  int *compute; /* order positions of the compute nodes */
  int n;
  double *sqnr; /* S(k), k = 0..n; NaN until measured */
  unsigned char *mask;
  int trials, max_trials;
} entry_state;

static double noise(double db) { return pow(10.0, -db / 10.0); }

/* S(k), measured once. Returns QC_OK, or 1 when the budget is spent. */
static int prefix_sqnr(entry_state *e, int k, double *db) {
  if (!isnan(e->sqnr[k])) {
    *db = e->sqnr[k];
    return QC_OK;
  }
  if (e->trials >= e->max_trials)
    return 1;
  const qc_graph *g = e->g;
  int last = k > 0 ? e->compute[k - 1] : -1;
  memset(e->mask, 0, (size_t)g->n_nodes + 1);
  for (int p = 0; p <= last; p++)
    e->mask[g->order[p]] = 1;
  job_state *s = e->s;
  qc_quant_opts q = s->q;
  q.node_mask = e->mask;
  q.n_node_mask = g->n_nodes;
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_eval_result ev;
  int rc = job_quantize_copy(s, &q, &mq, &sum, NULL);
  if (rc == QC_OK)
    rc = qc_evaluate_cached(e->ref, mq, &ev);
  qc_quant_summary_free(&sum);
  qc_model_free(mq);
  QC_TRY(rc);
  e->trials++;
  double v = ev.output_sqnr_db;
  e->sqnr[k] = *db = !(v < ENTRY_CAP_DB) ? ENTRY_CAP_DB : v;
  return QC_OK;
}

static char *node_output_name(const qc_graph *g, int node) {
  const qc_node *n = &g->nodes[node];
  return strdup(n->noutputs > 0 && n->outputs[0] >= 0 ? g->values[n->outputs[0]].name : "");
}

/* Bisects (a, b] down to the compute node adding the most noise. */
static int bisect(entry_state *e, int a, int b, qc_error_step *step) {
  double sa, sb, sm;
  QC_TRY(prefix_sqnr(e, a, &sa));
  QC_TRY(prefix_sqnr(e, b, &sb));
  while (b - a > 1) {
    int m = a + (b - a) / 2, rc = prefix_sqnr(e, m, &sm);
    if (rc < 0)
      return rc;
    if (rc == 1)
      break; /* out of budget: the segment is named by its last node */
    if (noise(sm) - noise(sa) >= noise(sb) - noise(sm))
      b = m, sb = sm;
    else
      a = m, sa = sm;
  }
  const qc_graph *g = e->g;
  int node = g->order[e->compute[b - 1]];
  char label[512];
  step->node = strdup(qc_node_label(g, node, label, sizeof label));
  step->tensor = node_output_name(g, node);
  step->index = b;
  step->before_db = sa;
  step->after_db = sb;
  step->added_noise = noise(sb) - noise(sa);
  return step->node && step->tensor ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
}

static int cmp_step(const void *x, const void *y) {
  const qc_error_step *a = x, *b = y;
  if (a->added_noise != b->added_noise)
    return a->added_noise > b->added_noise ? -1 : 1;
  return a->index - b->index;
}

/* Step 1: the per-tensor SQNR inside the quantized model. */
static int tensor_errors(job_state *s, qc_eval_data *d, qc_error_entry *res) {
  const char **names = calloc((size_t)s->summary.n_tensors + 1, sizeof *names);
  if (!names)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int i = 0; i < s->summary.n_tensors; i++)
    names[i] = s->summary.tensors[i].name;
  qc_eval_opts eo = job_eval_opts(s->o);
  int rc = qc_paired_errors(s->fp32, s->m, names, s->summary.n_tensors, d, &eo, ENTRY_TENSOR_BYTES, &res->tensors,
                            &res->n_tensors);
  free(names);
  return rc;
}

/* Steps 2 and 3. */
static int prefixes(entry_state *e, qc_error_entry *res) {
  int n = e->n, k_cp = n < ENTRY_CHECKPOINTS ? n : ENTRY_CHECKPOINTS;
  if (k_cp > e->max_trials / 2)
    k_cp = e->max_trials / 2; /* the other half bisects */
  e->sqnr[0] = ENTRY_CAP_DB;
  int *cp = calloc((size_t)k_cp + 1, sizeof *cp);
  res->checkpoints = calloc((size_t)k_cp + 1, sizeof *res->checkpoints);
  res->steps = calloc(ENTRY_STEPS, sizeof *res->steps);
  if (!cp || !res->checkpoints || !res->steps) {
    free(cp);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  int rc = QC_OK;
  /* Checkpoints, the fully quantized model last. */
  for (int i = 1; i <= k_cp && rc == QC_OK; i++) {
    cp[i] = (int)((int64_t)i * n / k_cp);
    double db;
    if ((rc = prefix_sqnr(e, cp[i], &db)) != QC_OK) {
      rc = rc < 0 ? rc : QC_OK; /* out of budget: fewer checkpoints */
      break;
    }
    qc_error_checkpoint *c = &res->checkpoints[res->n_checkpoints++];
    c->nodes = cp[i];
    c->sqnr_db = db;
    if (!(c->tensor = node_output_name(e->g, e->g->order[e->compute[cp[i] - 1]])))
      rc = qc_fail(QC_ENOMEM, "out of memory");
  }
  if (rc < 0) {
    free(cp);
    return rc;
  }
  /* The segments adding the most noise, bisected in that order. */
  int n_seg = res->n_checkpoints;
  for (int t = 0; t < ENTRY_STEPS && t < n_seg && rc == QC_OK; t++) {
    int best = -1;
    double best_noise = 0;
    for (int i = 1; i <= n_seg; i++) {
      if (cp[i] < 0)
        continue; /* taken */
      double added = noise(e->sqnr[cp[i]]) - noise(e->sqnr[cp[i - 1] < 0 ? -cp[i - 1] - 1 : cp[i - 1]]);
      if (added > best_noise)
        best_noise = added, best = i;
    }
    if (best < 0)
      break;
    int a = cp[best - 1] < 0 ? -cp[best - 1] - 1 : cp[best - 1], b = cp[best];
    cp[best] = -b - 1; /* taken; its value kept for the next segment's start */
    qc_error_step *st = &res->steps[res->n_steps];
    rc = bisect(e, a, b, st);
    if (rc == QC_OK && st->added_noise > 0)
      res->n_steps++;
    else if (rc == QC_OK) { /* adds nothing: not named */
      free(st->node), free(st->tensor);
      memset(st, 0, sizeof *st);
    }
  }
  free(cp);
  if (rc == QC_OK)
    qsort(res->steps, (size_t)res->n_steps, sizeof *res->steps, cmp_step);
  return rc;
}

int job_error_entry(job_state *s) {
  const qc_job_options *o = s->o;
  qc_error_entry *res = &s->error_entry;
  if (o->weight_only || !o->calib || s->summary.n_tensors == 0) {
    res->skipped = o->weight_only ? "weight-only: no quantized activations"
                   : !o->calib    ? "statistics loaded (--load-stats): no calibration samples"
                                  : "no quantized activations";
    return QC_OK;
  }
  QC_TRY(job_open_reference(s));
  if (!s->q.range_memo) { /* every trial quantizes from the same statistics: the observers run once */
    QC_TRY(qc_range_memo_init(&s->ranges, s->stats.count));
    s->q.range_memo = &s->ranges;
  }
  const qc_graph *g = s->fp32->graph;
  entry_state e = {.s = s, .g = g};
  qc_eval_data *d = NULL;
  unsigned char *float_by_design = malloc((size_t)g->n_nodes + 1);
  e.compute = calloc((size_t)g->n_order + 1, sizeof *e.compute);
  e.sqnr = malloc(sizeof(double) * ((size_t)g->n_order + 1));
  e.mask = malloc((size_t)g->n_nodes + 1);
  int rc = float_by_design && e.compute && e.sqnr && e.mask ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    rc = qc_qdq_float_region_nodes(g, &s->stats, &s->q, float_by_design);
  for (int p = 0; rc >= 0 && p < g->n_order; p++)
    if (qc_qdq_node_is_compute(g, g->order[p]) && !float_by_design[g->order[p]])
      e.compute[e.n++] = p;
  for (int k = 0; rc >= 0 && k <= g->n_order; k++)
    e.sqnr[k] = NAN;
  double ops = rc < 0 ? 0 : job_model_ops(g, &s->stats, s->cres.samples);
  int64_t want = ops * JOB_HELDBACK_SAMPLES * ENTRY_FULL_TRIALS > ENTRY_BUDGET_OPS ? ENTRY_FEW_SAMPLES
                                                                                   : JOB_HELDBACK_SAMPLES;
  if (rc >= 0)
    rc = job_open_heldback(s, want, &d);
  if (rc < 0 || e.n == 0) {
    res->skipped = rc < 0 ? NULL : "no compute node is quantized";
    goto done;
  }
  res->samples = qc_eval_count(d);
  res->n_compute = e.n;
  ops *= (double)res->samples;
  double affordable = ops > 0 ? floor(ENTRY_BUDGET_OPS / ops) : ENTRY_MAX_TRIALS;
  e.max_trials = affordable > ENTRY_MAX_TRIALS ? ENTRY_MAX_TRIALS : (int)affordable;
  if (e.max_trials < ENTRY_MIN_TRIALS) {
    res->skipped = "the model is too large for the trial budget";
    goto done;
  }
  qc_eval_opts eo = job_eval_opts(o);
  if ((rc = tensor_errors(s, d, res)) < 0 ||
      (rc = qc_eval_reference_open(s->fp32, d, &eo, JOB_REFERENCE_MAX_BYTES, &e.ref)) < 0 ||
      (rc = prefixes(&e, res)) < 0)
    goto done;
  res->ran = 1;
  res->trials = e.trials;
done:
  qc_eval_reference_free(e.ref);
  qc_eval_close(d);
  free(float_by_design);
  free(e.compute);
  free(e.sqnr);
  free(e.mask);
  return rc < 0 ? rc : QC_OK;
}
