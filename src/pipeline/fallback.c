/* Accuracy-aware FP32 fallback (--min-sqnr DB).
 *
 * When the quantized model's output SQNR against FP32 (on the --eval data, or
 * up to 64 calibration samples) is below the target:
 *   1. sensitivity: for every compute node (weighted or fused op) quantize
 *      that node alone and measure the output SQNR; lower = more sensitive.
 *      Nodes of float regions (src/quant/qdq_regions.c) stay float whatever
 *      the mask says, so they are not ranked;
 *   2. keep the k most sensitive nodes in FP32, k = 1, 2, 3, ..., until the
 *      target is met (at most half of the compute nodes);
 *   3. sensitivities do not add up, so each kept node but the last is
 *      quantized again, least sensitive first, if the target still holds.
 * If the target is never reached, the kept set that measured best is used.
 * The FP32 outputs of the evaluation samples are computed once and kept
 * (at most JOB_REFERENCE_MAX_BYTES); each trial runs the quantized model only.
 * Each trial starts from the same simplified FP32 model and statistics, and
 * the engine is deterministic, so the result is a function of the model,
 * data and options at any thread count. --fallback-budget SECONDS is the one
 * exception, by request: when the clock runs out, the search stops where it
 * is and keeps the best model found so far, with a warning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/status.h"
#include "../ir/model.h"
#include "job_internal.h"

typedef struct sensitivity {
  int node;
  double sqnr_db;
} sensitivity;

static int cmp_sensitivity(const void *x, const void *y) {
  const sensitivity *a = x, *b = y;
  if (a->sqnr_db != b->sqnr_db)
    return a->sqnr_db < b->sqnr_db ? -1 : 1;
  return a->node - b->node;
}

/* One search: its clock (--fallback-budget), its trial count and the best
 * SQNR so far, for the progress line. */
typedef struct search {
  job_state *s;
  double start, budget; /* monotonic seconds; budget 0: none */
  int trials, planned;  /* planned: the ranking's trials, for the progress line */
  double best_db;
  int out_of_time;
  qc_range_memo ranges; /* every trial quantizes from the same statistics: ranges computed once */
  qc_eval_reference *ref; /* the FP32 outputs of the evaluation samples, run once */
} search;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* True once the budget is spent: the search then stops where it is. */
static int budget_spent(search *f) {
  if (f->budget > 0 && !f->out_of_time && now_seconds() - f->start >= f->budget)
    f->out_of_time = 1;
  return f->out_of_time;
}

/* Quantizes a fresh copy of the base model with a node mask; returns its
 * output SQNR, and the model itself when out != NULL. */
static int trial(search *f, const unsigned char *mask, int n_mask, double *sqnr, qc_model **out,
                 qc_quant_summary *sum_out, qc_pass_log *log_out) {
  job_state *s = f->s;
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_eval_result ev;
  qc_quant_opts q = s->q;
  q.node_mask = mask;
  q.n_node_mask = n_mask;
  q.range_memo = s->q.range_memo ? s->q.range_memo : &f->ranges; /* refined ranges, when refine ran */
  int rc = job_quantize_copy(s, &q, &mq, &sum, out ? log_out : NULL);
  if (rc == QC_OK)
    rc = qc_evaluate_cached(f->ref, mq, &ev);
  if (rc == QC_OK) {
    *sqnr = ev.output_sqnr_db;
    if (out) {
      *out = mq, mq = NULL;
      *sum_out = sum;
      memset(&sum, 0, sizeof sum);
    }
    f->trials++;
    if (f->trials == 1 || ev.output_sqnr_db > f->best_db)
      f->best_db = ev.output_sqnr_db;
    if (s->o->progress)
      fprintf(stderr, "\r--min-sqnr: trial %d%s%d, best output SQNR %.2f dB, %.0f s   ", f->trials,
              f->trials <= f->planned ? " of ranking " : " (search), ranked ",
              f->planned, f->best_db, now_seconds() - f->start);
  }
  qc_quant_summary_free(&sum);
  qc_model_free(mq);
  return rc;
}

int job_fallback(job_state *s) {
  double sqnr, target = s->o->min_sqnr;
  search f = {.s = s, .start = now_seconds(), .budget = s->o->fallback_budget};
  QC_TRY(job_open_reference(s));
  qc_graph *base_graph = s->fp32->graph; /* same node ids as every trial's copy */
  int n_nodes = base_graph->n_nodes, rc;
  unsigned char *mask = malloc((size_t)n_nodes + 1), *float_by_design = malloc((size_t)n_nodes + 1);
  sensitivity *sens = calloc((size_t)n_nodes + 1, sizeof *sens);
  if (!mask || !float_by_design || !sens) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = qc_range_memo_init(&f.ranges, s->stats.count)) < 0)
    goto done;
  qc_eval_opts eo = job_eval_opts(s->o);
  if ((rc = qc_eval_reference_open(s->fp32, s->data, &eo, JOB_REFERENCE_MAX_BYTES, &f.ref)) < 0)
    goto done;
  if ((rc = qc_qdq_float_region_nodes(base_graph, &s->stats, &s->q, float_by_design)) < 0)
    goto done;
  int not_ranked = 0; /* compute nodes of float regions */
  for (int k = 0; k < base_graph->n_order; k++) {
    int id = base_graph->order[k];
    if (qc_qdq_node_is_compute(base_graph, id))
      float_by_design[id] ? not_ranked++ : f.planned++;
  }
  f.planned++; /* the all-quantized model */
  memset(mask, 1, (size_t)n_nodes);
  if ((rc = trial(&f, mask, n_nodes, &sqnr, NULL, NULL, NULL)) < 0 || sqnr >= target)
    goto done;
  /* 1. Sensitivity of each compute node quantized alone. Out of time here,
   * nothing is ranked and the model stays fully quantized. */
  int n_sens = 0;
  for (int k = 0; k < base_graph->n_order && rc == QC_OK && !budget_spent(&f); k++) {
    int id = base_graph->order[k];
    if (!qc_qdq_node_is_compute(base_graph, id) || float_by_design[id])
      continue;
    memset(mask, 0, (size_t)n_nodes);
    mask[id] = 1;
    sens[n_sens].node = id;
    rc = trial(&f, mask, n_nodes, &sens[n_sens].sqnr_db, NULL, NULL, NULL);
    n_sens++;
  }
  if (rc < 0)
    goto done;
  if (f.out_of_time)
    n_sens = 0;
  qsort(sens, (size_t)n_sens, sizeof *sens, cmp_sensitivity);
  /* 2. Keep the most sensitive nodes in FP32 until the target holds. Out of
   * time here, the kept set is the one that measured best so far. */
  int kept = 0, best_kept = 0;
  double best = sqnr;
  memset(mask, 1, (size_t)n_nodes);
  while (sqnr < target && kept < (n_sens + 1) / 2 && rc == QC_OK && !budget_spent(&f)) {
    mask[sens[kept++].node] = 0;
    rc = trial(&f, mask, n_nodes, &sqnr, NULL, NULL, NULL);
    if (sqnr > best)
      best = sqnr, best_kept = kept;
  }
  if (rc < 0)
    goto done;
  if (sqnr < target && kept != best_kept) {
    for (int i = best_kept; i < kept; i++)
      mask[sens[i].node] = 1;
    kept = best_kept;
  }
  /* 3. Sensitivities do not add up: quantize each kept node again, least
   * sensitive first, wherever the target still holds without it. */
  int pruned = 0;
  for (int i = kept - 2; i >= 0 && sqnr >= target && rc == QC_OK && !budget_spent(&f); i--) {
    double without;
    mask[sens[i].node] = 1;
    if ((rc = trial(&f, mask, n_nodes, &without, NULL, NULL, NULL)) == QC_OK && without >= target)
      pruned++;
    else
      mask[sens[i].node] = 0;
  }
  if (rc < 0)
    goto done;
  int searched = f.trials; /* before the trial that builds the final model */
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_pass_log log = {0};
  if ((rc = trial(&f, mask, n_nodes, &sqnr, &mq, &sum, &log)) < 0) {
    qc_pass_log_free(&log);
    goto done;
  }
  qc_model_free(s->m);
  qc_quant_summary_free(&s->summary);
  qc_pass_log_free(&s->quantize_log);
  s->m = mq;
  s->summary = sum;
  s->quantize_log = log;
  if ((rc = job_bias_correct(s, s->m)) < 0)
    goto done;
  char note[1024];
  int off = snprintf(note, sizeof note, "--min-sqnr %.1f: kept %d most sensitive node%s in FP32 (output SQNR %.2f dB%s):",
                     target, kept - pruned, kept - pruned == 1 ? "" : "s", sqnr,
                     sqnr >= target ? "" : ", target not reached");
  for (int i = 0, first = 1; i < kept && off < (int)sizeof note - 2; i++) {
    if (mask[sens[i].node])
      continue;
    off += snprintf(note + off, sizeof note - (size_t)off, "%s %s (%.1f dB alone)", first ? "" : ",",
                    *qc_node_name(base_graph, sens[i].node) ? qc_node_name(base_graph, sens[i].node) : qc_node_op(base_graph, sens[i].node),
                    sens[i].sqnr_db);
    first = 0;
  }
  rc = qc_quant_summary_note(&s->summary, note);
  if (rc == QC_OK && not_ranked) {
    snprintf(note, sizeof note, "--min-sqnr %.1f: the ranking covers %d compute node%s; %d more stay float "
             "by design (float regions) and are not ranked", target, f.planned - 1, f.planned - 1 == 1 ? "" : "s", not_ranked);
    rc = qc_quant_summary_note(&s->summary, note);
  }
  if (rc == QC_OK && f.out_of_time) {
    snprintf(note, sizeof note, "--fallback-budget %g s ran out after %d trial%s (%s): the model is the best found "
             "so far, and another machine may find another", s->o->fallback_budget, searched, searched == 1 ? "" : "s",
             n_sens ? "ranking done, search cut short" : "ranking cut short, nothing kept in FP32");
    rc = qc_quant_summary_note(&s->summary, note);
  }
done:
  if (s->o->progress && f.trials)
    fputc('\n', stderr);
  free(mask);
  free(float_by_design);
  free(sens);
  qc_range_memo_free(&f.ranges);
  qc_eval_reference_free(f.ref);
  return rc;
}
