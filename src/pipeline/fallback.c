/* Accuracy-aware FP32 fallback (--min-sqnr DB).
 *
 * When the quantized model's output SQNR against FP32 (on the --eval data, or
 * up to 64 calibration samples: the evaluation set) is below the target:
 *   1. sensitivity, by group testing: each window of FALLBACK_WINDOW
 *      consecutive compute nodes (weighted or fused ops, topological order)
 *      is quantized alone, and the nodes of the windows that hurt most (SQNR
 *      under target + FALLBACK_SPLIT_MARGIN_DB) one by one, on the ranking
 *      samples, FALLBACK_RANK_SAMPLES evenly spaced ones of the evaluation
 *      set; lower = more sensitive. Nodes of float regions
 *      (src/quant/qdq_regions.c) stay float whatever the mask says, so they
 *      are not ranked;
 *   2. keep the k most sensitive nodes in FP32, k = 1, 2, 3, ..., until the
 *      ranking samples meet the target (at most half of the compute nodes);
 *      then the whole evaluation set confirms it. When it falls short there,
 *      the ranking samples' bar rises by the gap just seen (ranking SQNR
 *      minus the whole set's) and k goes on growing;
 *   3. sensitivities do not add up, so each kept node but the last is
 *      quantized again, least sensitive first, if the ranking samples still
 *      meet their bar, until FALLBACK_PRUNE_MISSES in a row do not; the whole
 *      set confirms the result, else step 2's confirmed set stands.
 * If the target is never reached, the kept set that measured best on the
 * ranking samples is used. With no more evaluation samples than
 * FALLBACK_RANK_SAMPLES, the ranking samples are the whole set and nothing
 * needs confirming. The FP32 outputs of both sample sets are computed once
 * and kept (at most JOB_REFERENCE_MAX_BYTES); each trial runs the quantized
 * model only. Each trial starts from the same simplified FP32 model and
 * statistics, and the engine is deterministic, so the result is a function of
 * the model, data and options at any thread count. --fallback-budget SECONDS
 * is the one exception, by request: when the clock runs out, the search stops
 * where it is and keeps the best model found so far, with a warning. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/status.h"
#include "../ir/model.h"
#include "job_internal.h"

/* Ranking samples: 8 of det's 64 evaluation samples rank its nodes in the
 * order 64 do, near enough (docs/quantization.md), for an eighth of the cost;
 * 4 did not (det's windows that matter changed). */
#define FALLBACK_RANK_SAMPLES 8
/* Step 1's window length and splitting margin: on det (159 ranked nodes) 20
 * windows, 4 of them split, 52 trials instead of 159, the same kept nodes
 * that matter (docs/benchmarks.md section 5). */
#define FALLBACK_WINDOW 8
#define FALLBACK_SPLIT_MARGIN_DB 6.0
/* Step 3 stops after this many failed re-quantizations in a row: on det they
 * pass early or not at all. */
#define FALLBACK_PRUNE_MISSES 4

typedef struct sensitivity {
  int node;
  double sqnr_db; /* measured alone, or its window's share (estimated) */
  int estimated;  /* its window was not split */
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
  int trials, ranking_trials;
  int windows_split;    /* step 1's windows ranked node by node */
  int confirmations;    /* trials on the whole evaluation set after the first */
  int pruning_cut;      /* step 3's set missed the target on the whole set: bisected */
  double best_db;       /* best SQNR of a candidate model (the first on the whole set, then on the ranking samples) */
  int ranking;          /* step 1 runs: its trials quantize single nodes */
  int out_of_time;
  qc_range_memo ranges;   /* every trial quantizes from the same statistics: ranges computed once */
  qc_eval_reference *all; /* the FP32 outputs of the evaluation samples, run once */
  qc_eval_reference *rank; /* ... of the ranking samples (== all when they are all) */
  int64_t n_all, n_rank;   /* samples of each */
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

/* Quantizes a fresh copy of the base model with a node mask and returns its
 * output SQNR on ref's samples (ref NULL: not evaluated), and the model
 * itself when out != NULL. */
static int trial(search *f, qc_eval_reference *ref, const unsigned char *mask, int n_mask, double *sqnr,
                 qc_model **out, qc_quant_summary *sum_out, qc_pass_log *log_out) {
  job_state *s = f->s;
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_eval_result ev;
  qc_quant_opts q = s->q;
  q.node_mask = mask;
  q.n_node_mask = n_mask;
  q.range_memo = s->q.range_memo ? s->q.range_memo : &f->ranges; /* refined ranges, when refine ran */
  int rc = job_quantize_copy(s, &q, &mq, &sum, out ? log_out : NULL);
  if (rc == QC_OK && ref)
    rc = qc_evaluate_cached(ref, mq, &ev);
  if (rc == QC_OK) {
    if (out) {
      *out = mq, mq = NULL;
      *sum_out = sum;
      memset(&sum, 0, sizeof sum);
    }
  }
  if (rc == QC_OK && ref) {
    *sqnr = ev.output_sqnr_db;
    f->trials++;
    if (!f->ranking && (f->trials == 1 || ev.output_sqnr_db > f->best_db))
      f->best_db = ev.output_sqnr_db; /* a node alone is no candidate model */
    if (f->ranking)
      f->ranking_trials++;
    if (s->o->progress)
      fprintf(stderr, "\r--min-sqnr: trial %d (%s) on %lld samples, best output SQNR %.2f dB, %.0f s   ", f->trials,
              f->ranking ? "ranking" : "search", (long long)(ref == f->all ? f->n_all : f->n_rank), f->best_db,
              now_seconds() - f->start);
  }
  qc_quant_summary_free(&sum);
  qc_model_free(mq);
  return rc;
}

/* The SQNR of mask on the whole evaluation set: the ranking trial's own
 * value when the ranking samples are the whole set. */
static int confirm(search *f, const unsigned char *mask, int n_mask, double on_rank, double *sqnr) {
  if (f->rank == f->all) {
    *sqnr = on_rank;
    return QC_OK;
  }
  f->confirmations++;
  return trial(f, f->all, mask, n_mask, sqnr, NULL, NULL, NULL);
}

/* Step 1's windows and single nodes: ids[start, start+len) quantized alone
 * (every other node in FP32). */
typedef struct block {
  int start, len;
  double sqnr_db;
} block;

static int measure_block(search *f, const int *ids, block *b, unsigned char *mask, int n_mask) {
  memset(mask, 0, (size_t)n_mask);
  for (int i = 0; i < b->len; i++)
    mask[ids[b->start + i]] = 1;
  return trial(f, f->rank, mask, n_mask, &b->sqnr_db, NULL, NULL, NULL);
}

/* 1. Sensitivities of the n ranked nodes ids[] (topological order) by group
 * testing: each window of FALLBACK_WINDOW consecutive nodes is quantized
 * alone; the nodes of a window whose SQNR is below the target plus
 * FALLBACK_SPLIT_MARGIN_DB are then quantized one by one. A node of any other
 * window is ranked by an equal share of its window's noise power: window
 * SQNR + 10 log10(window length). */
static int rank_nodes(search *f, const int *ids, int n, unsigned char *mask, int n_mask, sensitivity *sens) {
  block *blocks = malloc(sizeof(block) * ((size_t)n + 1));
  int n_blocks = 0, rc = QC_OK;
  if (!blocks)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int start = 0; start < n && rc == QC_OK && !budget_spent(f); start += FALLBACK_WINDOW) {
    blocks[n_blocks] = (block){.start = start, .len = n - start < FALLBACK_WINDOW ? n - start : FALLBACK_WINDOW};
    rc = measure_block(f, ids, &blocks[n_blocks++], mask, n_mask);
  }
  int n_windows = n_blocks;
  for (int w = 0; w < n_windows && rc == QC_OK && !budget_spent(f); w++) {
    if (blocks[w].sqnr_db >= f->s->o->min_sqnr + FALLBACK_SPLIT_MARGIN_DB || blocks[w].len < 2)
      continue;
    f->windows_split++;
    for (int i = 1; i < blocks[w].len && rc == QC_OK; i++) {
      blocks[n_blocks] = (block){.start = blocks[w].start + i, .len = 1};
      rc = measure_block(f, ids, &blocks[n_blocks++], mask, n_mask);
    }
    blocks[w].len = 1;
    if (rc == QC_OK)
      rc = measure_block(f, ids, &blocks[w], mask, n_mask);
  }
  for (int b = 0; b < n_blocks; b++)
    for (int i = 0; i < blocks[b].len; i++)
      sens[blocks[b].start + i] = (sensitivity){.node = ids[blocks[b].start + i],
                                                .sqnr_db = blocks[b].sqnr_db + 10.0 * log10((double)blocks[b].len),
                                                .estimated = blocks[b].len > 1};
  free(blocks);
  return rc;
}

/* The result of the search. */
typedef struct kept_set {
  int kept, pruned;   /* sens[0..kept) with mask 0 are kept in FP32 */
  int known;          /* sqnr_db is the whole set's SQNR of mask */
  double sqnr_db;
} kept_set;

/* Keeps sens[0..k) in FP32 (mask 0) and quantizes the rest of them. */
static void keep_prefix(const sensitivity *sens, int n, int k, unsigned char *mask) {
  for (int i = 0; i < n; i++)
    mask[sens[i].node] = i >= k;
}

/* The ranking samples' SQNR with sens[0..k) kept in FP32, measured once. */
static int measure_prefix(search *f, const sensitivity *sens, int limit, int k, unsigned char *mask, int n_mask,
                          double *at) {
  if (!isnan(at[k]))
    return QC_OK;
  keep_prefix(sens, limit, k, mask);
  return trial(f, f->rank, mask, n_mask, &at[k], NULL, NULL, NULL);
}

/* Steps 2 and 3 over the ranked nodes sens[0..n_sens); mask starts all ones. */
static int choose(search *f, const sensitivity *sens, int n_sens, unsigned char *mask, int n_mask, kept_set *res) {
  double target = f->s->o->min_sqnr, bar = target, whole = -INFINITY;
  int limit = (n_sens + 1) / 2, lo = 0, hi = limit, confirmed = 0, rc = QC_OK;
  double *at = malloc(sizeof(double) * ((size_t)limit + 1)); /* ranking SQNR per prefix length, NAN: not measured */
  if (!at)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int k = 0; k <= limit; k++)
    at[k] = NAN;
  /* 2. The shortest prefix of the most sensitive nodes whose ranking SQNR
   * meets the bar, by bisection over its length (lo fails, hi meets; the
   * SQNR rises with the length but not strictly monotonically, so this
   * finds a length where it crosses the bar), confirmed on the whole set. */
  if (limit > 0 && !budget_spent(f))
    rc = measure_prefix(f, sens, limit, limit, mask, n_mask, at);
  while (rc == QC_OK && limit > 0 && !isnan(at[limit]) && at[limit] >= bar && !confirmed) {
    while (rc == QC_OK && hi - lo > 1 && !budget_spent(f)) {
      int mid = lo + (hi - lo) / 2;
      if ((rc = measure_prefix(f, sens, limit, mid, mask, n_mask, at)) == QC_OK)
        *(at[mid] >= bar ? &hi : &lo) = mid;
    }
    if (rc < 0 || hi - lo > 1)
      break; /* out of time */
    keep_prefix(sens, limit, hi, mask);
    if ((rc = confirm(f, mask, n_mask, at[hi], &whole)) < 0)
      break;
    if (whole >= target)
      confirmed = 1;
    else if (hi == limit || budget_spent(f))
      break;
    else { /* the ranking samples flatter these models by the gap seen: raise their bar, search longer prefixes */
      if (bar < target + (at[hi] - whole))
        bar = target + (at[hi] - whole);
      lo = hi, hi = limit;
    }
  }
  int kept = hi;
  if (rc == QC_OK && !confirmed) { /* the best prefix measured (the shortest among equals) */
    kept = 0;
    for (int k = 1; k <= limit; k++)
      if (!isnan(at[k]) && (kept == 0 || at[k] > at[kept]))
        kept = k;
  }
  double current = isnan(at[kept]) ? -INFINITY : at[kept]; /* the ranking samples' SQNR of the prefix */
  free(at);
  QC_TRY(rc);
  keep_prefix(sens, limit, kept, mask);
  *res = (kept_set){.kept = kept};
  if (!confirmed)
    return QC_OK;
  res->known = 1, res->sqnr_db = whole;
  /* 3. Quantize each kept node again, least sensitive first, wherever the
   * ranking samples still meet their bar without it; then confirm, and if
   * the whole set misses the target, bisect for the longest run of these
   * re-quantizations (in the order made) that it confirms. */
  int n_pruned = 0, *pruned = malloc(sizeof(int) * ((size_t)kept + 1));
  if (!pruned)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int i = kept - 2, misses = 0; i >= 0 && misses < FALLBACK_PRUNE_MISSES && rc == QC_OK && !budget_spent(f);
       i--) {
    double without;
    mask[sens[i].node] = 1;
    if ((rc = trial(f, f->rank, mask, n_mask, &without, NULL, NULL, NULL)) == QC_OK && without >= bar)
      pruned[n_pruned++] = sens[i].node, current = without, misses = 0;
    else
      mask[sens[i].node] = 0, misses++;
  }
  int good = 0, bad = n_pruned + 1; /* the first `good` re-quantizations confirmed; `bad` not */
  if (rc == QC_OK && n_pruned && (rc = confirm(f, mask, n_mask, current, &whole)) == QC_OK) {
    if (whole >= target)
      good = n_pruned, res->sqnr_db = whole;
    else
      bad = n_pruned, f->pruning_cut = 1;
  }
  while (rc == QC_OK && bad - good > 1 && !budget_spent(f)) {
    int mid = good + (bad - good) / 2;
    for (int j = 0; j < n_pruned; j++)
      mask[pruned[j]] = j < mid;
    if ((rc = trial(f, f->all, mask, n_mask, &whole, NULL, NULL, NULL)) < 0)
      break;
    f->confirmations++;
    if (whole >= target)
      good = mid, res->sqnr_db = whole;
    else
      bad = mid;
  }
  for (int j = 0; j < n_pruned; j++)
    mask[pruned[j]] = j < good;
  res->pruned = good;
  free(pruned);
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
  int *ranked_ids = malloc(sizeof(int) * ((size_t)n_nodes + 1));
  if (!mask || !float_by_design || !sens || !ranked_ids) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = qc_range_memo_init(&f.ranges, s->stats.count)) < 0)
    goto done;
  qc_eval_opts eo = job_eval_opts(s->o);
  if ((rc = qc_eval_reference_open(s->fp32, s->data, &eo, JOB_REFERENCE_MAX_BYTES, &f.all)) < 0)
    goto done;
  f.rank = f.all;
  f.n_all = f.n_rank = qc_eval_count(s->data);
  if ((rc = qc_qdq_float_region_nodes(base_graph, &s->stats, &s->q, float_by_design)) < 0)
    goto done;
  int not_ranked = 0, n_ranked = 0; /* compute nodes of float regions; the others */
  for (int k = 0; k < base_graph->n_order; k++) {
    int id = base_graph->order[k];
    if (qc_qdq_node_is_compute(base_graph, id))
      float_by_design[id] ? not_ranked++ : n_ranked++;
  }
  memset(mask, 1, (size_t)n_nodes);
  if ((rc = trial(&f, f.all, mask, n_nodes, &sqnr, NULL, NULL, NULL)) < 0 || sqnr >= target)
    goto done;
  if (f.n_all > FALLBACK_RANK_SAMPLES) {
    if ((rc = qc_eval_reference_spread(s->fp32, s->data, &eo, JOB_REFERENCE_MAX_BYTES, FALLBACK_RANK_SAMPLES,
                                       &f.rank)) < 0)
      goto done;
    f.n_rank = FALLBACK_RANK_SAMPLES;
  }

  /* 1. Out of time here, nothing is ranked and the model stays fully
   * quantized. */
  int n_sens = 0;
  for (int k = 0; k < base_graph->n_order; k++) {
    int id = base_graph->order[k];
    if (qc_qdq_node_is_compute(base_graph, id) && !float_by_design[id])
      ranked_ids[n_sens++] = id;
  }
  f.ranking = 1;
  rc = rank_nodes(&f, ranked_ids, n_sens, mask, n_nodes, sens);
  f.ranking = 0;
  if (rc < 0)
    goto done;
  if (f.out_of_time)
    n_sens = 0;
  qsort(sens, (size_t)n_sens, sizeof *sens, cmp_sensitivity);
  memset(mask, 1, (size_t)n_nodes);
  kept_set ks = {0};
  if ((rc = choose(&f, sens, n_sens, mask, n_nodes, &ks)) < 0)
    goto done;
  if (ks.kept == 0) /* nothing kept: the all-quantized model, measured above */
    ks.known = 1, ks.sqnr_db = sqnr;
  int searched = f.trials; /* before the trial that builds the final model */
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_pass_log log = {0};
  /* The final model; evaluated on the whole set unless a confirmation did. */
  rc = trial(&f, ks.known ? NULL : f.all, mask, n_nodes, &ks.sqnr_db, &mq, &sum, &log);
  if (rc < 0) {
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
  sqnr = ks.sqnr_db;
  int n_kept = ks.kept - ks.pruned;
  char note[1024];
  int off = snprintf(note, sizeof note, "--min-sqnr %.1f: kept %d most sensitive node%s in FP32 (output SQNR %.2f dB%s):",
                     target, n_kept, n_kept == 1 ? "" : "s", sqnr, sqnr >= target ? "" : ", target not reached");
  for (int i = 0, first = 1; i < ks.kept && off < (int)sizeof note - 2; i++) {
    if (mask[sens[i].node])
      continue;
    off += snprintf(note + off, sizeof note - (size_t)off, "%s %s (%s%.1f dB%s)", first ? "" : ",",
                    *qc_node_name(base_graph, sens[i].node) ? qc_node_name(base_graph, sens[i].node) : qc_node_op(base_graph, sens[i].node),
                    sens[i].estimated ? "~" : "", sens[i].sqnr_db, sens[i].estimated ? ", its window's share" : " alone");
    first = 0;
  }
  rc = qc_quant_summary_note(&s->summary, note);
  if (rc == QC_OK && n_sens) {
    snprintf(note, sizeof note, "--min-sqnr %.1f: ranked %d compute node%s in %d trial%s (windows of %d; node by "
             "node in the %d within %.0f dB of the target)", target, n_sens, n_sens == 1 ? "" : "s", f.ranking_trials,
             f.ranking_trials == 1 ? "" : "s", FALLBACK_WINDOW, f.windows_split, FALLBACK_SPLIT_MARGIN_DB);
    rc = qc_quant_summary_note(&s->summary, note);
  }
  if (rc == QC_OK && n_sens && f.rank != f.all) {
    snprintf(note, sizeof note, "--min-sqnr %.1f: ranked on %lld of %lld evaluation samples (evenly spaced), "
             "%d trial%s on all %lld%s", target, (long long)f.n_rank, (long long)f.n_all, f.confirmations + 1,
             f.confirmations ? "s" : "", (long long)f.n_all,
             f.pruning_cut ? "; quantizing kept nodes again missed the target on all of them, cut back" : "");
    rc = qc_quant_summary_note(&s->summary, note);
  }
  if (rc == QC_OK && not_ranked) {
    snprintf(note, sizeof note, "--min-sqnr %.1f: the ranking covers %d compute node%s; %d more stay float "
             "by design (float regions) and are not ranked", target, n_ranked, n_ranked == 1 ? "" : "s", not_ranked);
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
  free(ranked_ids);
  qc_range_memo_free(&f.ranges);
  if (f.rank != f.all)
    qc_eval_reference_free(f.rank);
  qc_eval_reference_free(f.all);
  return rc;
}
