/* Output-driven range refinement (issue 14 item 4; docs/quantization.md).
 *
 * The observers choose each activation's range from that tensor's own
 * values; what matters is the error at the graph outputs. After the QDQ pass,
 * on held-back calibration samples (up to JOB_HELDBACK_SAMPLES, evenly spaced; never
 * the --eval data), for a bounded set of activation tensors:
 *   - the graph outputs and the activations up to REFINE_OUTPUT_STEPS
 *     computing nodes before them (data movement such as Reshape, Transpose
 *     and Concat is walked through and not counted);
 *   - the inputs of saturating ops (Sigmoid, Tanh, HardSigmoid, Softmax,
 *     LogSoftmax, Exp, Erf), where range error turns into output error
 *     fastest, and REFINE_SATURATING_STEPS computing nodes before them;
 * each candidate range is tried in turn (the other observers' ranges on the
 * same statistics, then the current range scaled by REFINE_SCALES), and kept
 * only when it raises the worst-output SQNR on the held-back samples by more
 * than REFINE_MIN_GAIN_DB (and the result must gain REFINE_KEEP_GAIN_DB over
 * the observers' ranges, on these samples and on as many other calibration
 * samples, or every change is undone): coordinate descent, tensors in graph order,
 * candidates in a fixed order, sweeps repeated (from the ranges kept so far)
 * while the last one changed a range, at most REFINE_MAX_SWEEPS. Every trial quantizes a fresh copy of the FP32
 * model with the ranges in s->ranges (qc_range_memo, which the QDQ pass reads
 * instead of running the observer) and compares its outputs with the FP32
 * outputs, computed once (qc_eval_reference).
 *
 * The cost bound is deterministic, never a wall clock: trials x samples x
 * the model's estimated operations per sample (MACs of Conv, ConvTranspose,
 * Gemm and MatMul with constant weights, one per output element elsewhere,
 * counted from the calibration statistics) stays within JOB_TRIAL_BUDGET_OPS.
 * The result is a function of the model, data and options at any thread
 * count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../ir/model.h"
#include "job_internal.h"

#define REFINE_MAX_TRIALS 64
#define REFINE_MIN_TRIALS 4       /* fewer affordable: not worth running */
#define REFINE_MIN_GAIN_DB 0.1    /* a change must beat the current best by this much */
#define REFINE_KEEP_GAIN_DB 0.5   /* ... and all of them the observers' ranges, on both sample sets */
#define REFINE_MAX_SWEEPS 3       /* coordinate-descent sweeps over the targets */
#define REFINE_OUTPUT_STEPS 3     /* computing nodes walked back from each graph output */
#define REFINE_SATURATING_STEPS 1 /* ... from each saturating op's input */
#define REFINE_WALK_DEPTH 12      /* nodes walked back at most, data movement included */

static const float REFINE_SCALES[] = {0.5f, 0.75f, 1.5f};
static const char *const REFINE_SCALE_NAMES[] = {"x0.5", "x0.75", "x1.5"};
#define N_SCALES ((int)(sizeof REFINE_SCALES / sizeof REFINE_SCALES[0]))

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int op_is(const char *op, const char *const *list) {
  for (; *list; list++)
    if (strcmp(op, *list) == 0)
      return 1;
  return 0;
}

static const char *const SATURATING[] = {"Sigmoid", "Tanh", "HardSigmoid", "Softmax", "LogSoftmax", "Exp", "Erf",
                                         NULL};
static const char *const DATA_MOVEMENT[] = {"Reshape", "Transpose", "Concat", "Flatten", "Squeeze", "Unsqueeze",
                                            "Identity", "Slice", "Split", "Gather", "Pad", NULL};

/* Index of name in the statistics, or -1. */
static long stats_index(const qc_stats_set *st, const char *name) {
  for (size_t i = 0; i < st->count; i++)
    if (strcmp(st->names[i], name) == 0)
      return (long)i;
  return -1;
}

/* Estimated operations per sample of the model (see the top comment). */
double job_model_ops(const qc_graph *g, const qc_stats_set *st, int64_t samples) {
  double total = 0;
  if (samples <= 0)
    return 0;
  for (int k = 0; k < g->n_order; k++) {
    int id = g->order[k];
    const qc_node *n = &g->nodes[id];
    if (n->noutputs < 1 || n->outputs[0] < 0)
      continue;
    const qc_stats *so = qc_stats_set_find(st, g->values[n->outputs[0]].name);
    double out_elems = so ? (double)so->count / (double)samples : 0;
    const char *op = qc_node_op(g, id);
    int w = n->ninputs > 1 ? n->inputs[1] : -1;
    const qc_value *wv = w >= 0 && (g->values[w].flags & QC_VALUE_INITIALIZER) ? &g->values[w] : NULL;
    double wn = 1;
    for (int d = 0; wv && d < wv->ndim; d++)
      wn *= (double)(wv->dims[d] > 0 ? wv->dims[d] : 1);
    if (wv && wv->ndim >= 2 && (strcmp(op, "Conv") == 0 || strcmp(op, "MatMul") == 0 || strcmp(op, "Gemm") == 0)) {
      double n_out = (double)(strcmp(op, "Conv") == 0 ? wv->dims[0] : wv->dims[wv->ndim - 1]);
      if (strcmp(op, "Gemm") == 0) {
        qc_attrs a = qc_node_attrs(g, id);
        int64_t trans_b = 0;
        qc_attr_int(&a, "transB", 0, &trans_b);
        n_out = (double)(trans_b ? wv->dims[0] : wv->dims[1]);
      }
      total += n_out > 0 ? out_elems * wn / n_out : out_elems;
    } else if (wv && wv->ndim >= 2 && strcmp(op, "ConvTranspose") == 0) {
      const qc_stats *si = qc_stats_set_find(st, g->values[n->inputs[0]].name);
      double in_elems = si ? (double)si->count / (double)samples : out_elems;
      total += wv->dims[0] > 0 ? in_elems * wn / (double)wv->dims[0] : out_elems;
    } else {
      total += out_elems;
    }
  }
  return total;
}

/* One tensor to refine: its value id in the FP32 graph and statistics entry. */
typedef struct target {
  int value;
  long entry;
} target;

typedef struct refine_state {
  job_state *s;
  qc_eval_reference *ref;
  int trials, max_trials, sweeps;
  double best_db;
} refine_state;

/* Whether v is an activation the QDQ pass quantized (it has qparams in the summary). */
static int is_quantized(const qc_quant_summary *sum, const char *name) {
  for (int i = 0; i < sum->n_tensors; i++)
    if (strcmp(sum->tensors[i].name, name) == 0)
      return 1;
  return 0;
}

static void add_target(const job_state *s, const qc_graph *g, unsigned char *chosen, int v) {
  if (v < 0 || chosen[v] || (g->values[v].flags & QC_VALUE_INITIALIZER))
    return;
  if (!is_quantized(&s->summary, g->values[v].name) || stats_index(&s->stats, g->values[v].name) < 0)
    return;
  chosen[v] = 1;
}

/* v and what produces it, back through data movement (which does not count)
 * and up to `steps` computing nodes: each computing node's activation inputs. */
static void add_upstream(const job_state *s, const qc_graph *g, unsigned char *chosen, int v, int steps, int depth) {
  if (v < 0 || depth > REFINE_WALK_DEPTH)
    return;
  add_target(s, g, chosen, v);
  int p = g->values[v].producer;
  if (p < 0)
    return;
  const qc_node *n = &g->nodes[p];
  int moves = op_is(qc_node_op(g, p), DATA_MOVEMENT);
  if (!moves && steps <= 0)
    return;
  for (int i = 0; i < n->ninputs; i++) {
    int in = n->inputs[i];
    if (in >= 0 && !(g->values[in].flags & QC_VALUE_INITIALIZER))
      add_upstream(s, g, chosen, in, moves ? steps : steps - 1, depth + 1);
  }
}

/* The targets in graph order (graph inputs first, then node outputs). */
static int choose_targets(const job_state *s, const qc_graph *g, target **out, int *n_out) {
  *out = NULL;
  *n_out = 0;
  unsigned char *chosen = calloc((size_t)g->n_values + 1, 1);
  target *t = calloc((size_t)g->n_values + 1, sizeof *t);
  if (!chosen || !t) {
    free(chosen), free(t);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  for (int k = 0; k < g->n_order; k++) {
    int id = g->order[k];
    if (op_is(qc_node_op(g, id), SATURATING) && g->nodes[id].ninputs > 0)
      add_upstream(s, g, chosen, g->nodes[id].inputs[0], REFINE_SATURATING_STEPS, 0);
  }
  for (int i = 0; i < g->n_outputs; i++)
    add_upstream(s, g, chosen, g->outputs[i], REFINE_OUTPUT_STEPS, 0);
  int n = 0;
  for (int i = 0; i < g->n_inputs; i++)
    if (chosen[g->inputs[i]]) {
      chosen[g->inputs[i]] = 0;
      t[n++].value = g->inputs[i];
    }
  for (int k = 0; k < g->n_order; k++) {
    const qc_node *nd = &g->nodes[g->order[k]];
    for (int o = 0; o < nd->noutputs; o++)
      if (nd->outputs[o] >= 0 && chosen[nd->outputs[o]]) {
        chosen[nd->outputs[o]] = 0;
        t[n++].value = nd->outputs[o];
      }
  }
  for (int i = 0; i < n; i++)
    t[i].entry = stats_index(&s->stats, g->values[t[i].value].name);
  free(chosen);
  *out = t;
  *n_out = n;
  return QC_OK;
}

/* Quantizes a fresh copy with the current ranges; its worst-output SQNR on
 * the held-back samples, and with out != NULL the model and its records. */
static int trial(refine_state *r, double *db, qc_model **out, qc_quant_summary *sum_out, qc_pass_log *log_out) {
  job_state *s = r->s;
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_eval_result ev;
  int rc = job_quantize_copy(s, &s->q, &mq, &sum, log_out);
  if (rc == QC_OK)
    rc = qc_evaluate_cached(r->ref, mq, &ev);
  if (rc == QC_OK) {
    *db = ev.output_sqnr_db;
    r->trials++;
    if (s->o->progress)
      fprintf(stderr, "\rrefine: trial %d of at most %d, output SQNR %.2f dB   ", r->trials, r->max_trials,
              r->best_db > *db || !isfinite(r->best_db) ? *db : r->best_db);
    if (out) {
      *out = mq, mq = NULL;
      *sum_out = sum;
      memset(&sum, 0, sizeof sum);
    }
  }
  qc_quant_summary_free(&sum);
  qc_model_free(mq);
  return rc;
}

/* The range the QDQ pass quantizes for [lo, hi]: intersected with the
 * saturation clip of the tensor, when it has one (clip_lo < clip_hi). */
static void effective(float lo, float hi, float clip_lo, float clip_hi, float *elo, float *ehi) {
  *elo = lo, *ehi = hi;
  if (clip_lo < clip_hi) {
    *elo = lo > clip_lo ? lo : clip_lo;
    *ehi = hi < clip_hi ? hi : clip_hi;
  }
}

/* Candidate ranges of entry e: the other observers', then the range quantized
 * now (after any saturation clip) scaled. Candidates that quantize the same
 * range as now, or as an earlier candidate, are dropped. Returns how many. */
static int candidates(const job_state *s, long e, float lo, float hi, float clip_lo, float clip_hi, float *c_lo,
                      float *c_hi, const char **c_name) {
  int n = 0;
  const qc_stats *st = s->stats.stats[e];
  for (int k = 0; k < QC_OBS_COUNT; k++) {
    qc_observer_cfg cfg;
    job_observer_cfg(s->o, (qc_observer_kind)k, &cfg);
    if (cfg.kind == s->q.observer.kind || qc_observer_range(&cfg, st, &c_lo[n], &c_hi[n]) != QC_OK)
      continue;
    c_name[n++] = qc_observer_name((qc_observer_kind)k);
  }
  float now_lo, now_hi;
  effective(lo, hi, clip_lo, clip_hi, &now_lo, &now_hi);
  for (int k = 0; k < N_SCALES; k++) {
    c_lo[n] = now_lo * REFINE_SCALES[k];
    c_hi[n] = now_hi * REFINE_SCALES[k];
    c_name[n++] = REFINE_SCALE_NAMES[k];
  }
  int m = 0;
  for (int i = 0; i < n; i++) {
    float ei_lo, ei_hi, ej_lo, ej_hi;
    effective(c_lo[i], c_hi[i], clip_lo, clip_hi, &ei_lo, &ei_hi);
    int dup = !(ei_lo < ei_hi) || !isfinite(ei_lo) || !isfinite(ei_hi) || (ei_lo == now_lo && ei_hi == now_hi);
    for (int j = 0; j < m && !dup; j++) {
      effective(c_lo[j], c_hi[j], clip_lo, clip_hi, &ej_lo, &ej_hi);
      dup = ej_lo == ei_lo && ej_hi == ei_hi;
    }
    if (!dup) {
      c_lo[m] = c_lo[i], c_hi[m] = c_hi[i], c_name[m] = c_name[i];
      m++;
    }
  }
  return m;
}

/* The saturation clip of tensor `name` in the current summary: (lo, hi), or (0, 0). */
static void clip_of(const qc_quant_summary *sum, const char *name, float *lo, float *hi) {
  *lo = *hi = 0;
  for (int i = 0; i < sum->n_clips; i++)
    if (strcmp(sum->clips[i].tensor, name) == 0)
      *lo = sum->clips[i].lo, *hi = sum->clips[i].hi;
}

static int add_change(qc_refine_result *res, const char *tensor, const char *cand, float flo, float fhi, float tlo,
                      float thi, double db) {
  qc_range_change *c = realloc(res->changes, sizeof *c * (size_t)(res->n_changes + 1));
  if (!c)
    return qc_fail(QC_ENOMEM, "out of memory");
  res->changes = c;
  c += res->n_changes;
  *c = (qc_range_change){.tensor = strdup(tensor), .candidate = cand, .from_lo = flo, .from_hi = fhi,
                         .to_lo = tlo, .to_hi = thi, .sqnr_db = db};
  if (!c->tensor)
    return qc_fail(QC_ENOMEM, "out of memory");
  res->n_changes++;
  return QC_OK;
}

/* One sweep of coordinate descent over the targets (top comment); *changed
 * counts the ranges it kept. */
static int sweep(refine_state *r, const qc_graph *g, const target *t, int n_targets, int *changed) {
  job_state *s = r->s;
  qc_refine_result *res = &s->refine;
  qc_range_memo *m = &s->ranges;
  *changed = 0;
  for (int i = 0; i < n_targets && r->trials < r->max_trials; i++) {
    long e = t[i].entry;
    if (m->known[e] != 1)
      continue;
    float lo = m->lo[e], hi = m->hi[e], c_lo[QC_OBS_COUNT + N_SCALES], c_hi[QC_OBS_COUNT + N_SCALES];
    const char *c_name[QC_OBS_COUNT + N_SCALES];
    float clip_lo, clip_hi;
    clip_of(&s->summary, g->values[t[i].value].name, &clip_lo, &clip_hi);
    int nc = candidates(s, e, lo, hi, clip_lo, clip_hi, c_lo, c_hi, c_name), kept = -1;
    res->tensors += r->sweeps == 0;
    for (int c = 0; c < nc && r->trials < r->max_trials; c++) {
      double db;
      m->lo[e] = c_lo[c], m->hi[e] = c_hi[c];
      QC_TRY(trial(r, &db, NULL, NULL, NULL));
      if (db > r->best_db + REFINE_MIN_GAIN_DB)
        r->best_db = db, kept = c;
    }
    m->lo[e] = kept >= 0 ? c_lo[kept] : lo;
    m->hi[e] = kept >= 0 ? c_hi[kept] : hi;
    if (kept >= 0) {
      (*changed)++;
      QC_TRY(add_change(res, g->values[t[i].value].name, c_name[kept], lo, hi, c_lo[kept], c_hi[kept], r->best_db));
    }
  }
  return QC_OK;
}

/* Sweeps until one changes nothing, REFINE_MAX_SWEEPS or the trial budget. */
static int search(refine_state *r, const qc_graph *g, const target *t, int n_targets) {
  int changed = 1;
  for (r->sweeps = 0; changed && r->sweeps < REFINE_MAX_SWEEPS && r->trials < r->max_trials; r->sweeps++)
    QC_TRY(sweep(r, g, t, n_targets, &changed));
  return QC_OK;
}

/* count calibration samples, evenly spaced (row floor(i * total / count)):
 * the JOB_HELDBACK_SAMPLES search samples are the even ones of
 * 2 * JOB_HELDBACK_SAMPLES, the confirmation samples (qc_eval_keep_parity) the odd ones. */
int job_open_heldback(job_state *s, int64_t count, qc_eval_data **out) {
  const qc_graph *g = s->m->graph;
  qc_input_spec *specs = calloc((size_t)g->n_inputs + 1, sizeof *specs);
  if (!specs)
    return qc_fail(QC_ENOMEM, "out of memory");
  int rc = job_input_specs(s->o, g, specs);
  if (rc == QC_OK)
    rc = qc_eval_open(s->o->calib, &s->o->pre, specs, g->n_inputs, 1, count, out);
  free(specs);
  return rc;
}

int job_refine(job_state *s) {
  const qc_job_options *o = s->o;
  qc_refine_result *res = &s->refine;
  if (!o->refine)
    return QC_OK;
  if (o->weight_only || !o->calib || s->summary.n_tensors == 0) {
    res->skipped = o->weight_only ? "weight-only: no activation ranges"
                   : !o->calib    ? "statistics loaded (--load-stats): no calibration samples to hold back"
                                  : "no quantized activations";
    return QC_OK;
  }
  double t0 = now_seconds();
  if (!s->fp32)
    QC_TRY(qc_model_load_buffer(s->base, s->base_len, o->model, s->m->dir, &s->fp32));
  const qc_graph *g = s->fp32->graph;
  QC_TRY(qc_range_memo_init(&s->ranges, s->stats.count));
  s->q.range_memo = &s->ranges;
  qc_eval_data *d = NULL, *dc = NULL;
  qc_eval_reference *confirm = NULL;
  target *t = NULL;
  int n_targets = 0;
  refine_state r = {.s = s};
  qc_model *mq = NULL;
  qc_quant_summary sum = {0};
  qc_pass_log log = {0};
  int rc = job_open_heldback(s, JOB_HELDBACK_SAMPLES, &d);
  if (rc == QC_OK && (rc = job_open_heldback(s, 2 * JOB_HELDBACK_SAMPLES, &dc)) == QC_OK)
    qc_eval_keep_parity(dc, 1); /* the rows the search does not see */
  if (rc == QC_OK)
    rc = choose_targets(s, g, &t, &n_targets);
  if (rc < 0 || n_targets == 0) {
    res->skipped = rc < 0 ? NULL : "no activation feeds a saturating op or an output";
    goto done;
  }
  res->samples = qc_eval_count(d);
  /* The confirmation costs 2 trials on twice the samples: 4 of the budget's. */
  double ops = job_model_ops(g, &s->stats, s->cres.samples) * (double)res->samples;
  double affordable = (ops > 0 ? floor(JOB_TRIAL_BUDGET_OPS / ops) : REFINE_MAX_TRIALS) - 4;
  r.max_trials = affordable > REFINE_MAX_TRIALS ? REFINE_MAX_TRIALS : (int)affordable;
  if (r.max_trials < REFINE_MIN_TRIALS) {
    res->skipped = "the model is too large for the refinement budget";
    goto done;
  }
  qc_eval_opts eo = job_eval_opts(o);
  if ((rc = qc_eval_reference_open(s->fp32, d, &eo, JOB_REFERENCE_MAX_BYTES, &r.ref)) < 0)
    goto done;
  r.best_db = NAN;
  /* The first trial fills the ranges with the observer's: the model as it is. */
  if ((rc = trial(&r, &res->before_db, NULL, NULL, NULL)) < 0)
    goto done;
  r.best_db = res->before_db;
  res->ran = 1;
  if ((rc = search(&r, g, t, n_targets)) < 0)
    goto done;
  res->after_db = r.best_db;
  if (res->n_changes > 0) {
    /* Confirmed on as many other calibration samples, or every change is
     * undone: a gain on few samples may not hold. */
    double before_c, after_c;
    qc_eval_reference *search_ref = r.ref;
    if ((rc = qc_eval_reference_open(s->fp32, dc, &eo, JOB_REFERENCE_MAX_BYTES, &confirm)) < 0)
      goto done;
    r.ref = confirm;
    r.max_trials += 2;
    if ((rc = trial(&r, &after_c, &mq, &sum, &log)) < 0)
      goto done;
    for (int i = res->n_changes - 1; i >= 0; i--) { /* the observer's ranges again */
      long e = stats_index(&s->stats, res->changes[i].tensor);
      s->ranges.lo[e] = res->changes[i].from_lo, s->ranges.hi[e] = res->changes[i].from_hi;
    }
    rc = trial(&r, &before_c, NULL, NULL, NULL);
    r.ref = search_ref;
    if (rc < 0)
      goto done;
    res->confirm_samples = qc_eval_count(dc);
    res->confirm_before_db = before_c;
    res->confirm_after_db = after_c;
    if (after_c >= before_c + REFINE_KEEP_GAIN_DB && res->after_db >= res->before_db + REFINE_KEEP_GAIN_DB) {
      for (int i = 0; i < res->n_changes; i++) { /* the refined ranges again */
        long e = stats_index(&s->stats, res->changes[i].tensor);
        s->ranges.lo[e] = res->changes[i].to_lo, s->ranges.hi[e] = res->changes[i].to_hi;
      }
      qc_model_free(s->m);
      qc_quant_summary_free(&s->summary);
      qc_pass_log_free(&s->quantize_log);
      s->m = mq, mq = NULL;
      s->summary = sum;
      s->quantize_log = log;
      memset(&sum, 0, sizeof sum);
      memset(&log, 0, sizeof log);
    } else {
      res->undone = 1;
    }
  }
  res->trials = r.trials;
done:
  if (o->progress && r.trials)
    fputc('\n', stderr);
  res->seconds = now_seconds() - t0;
  qc_model_free(mq);
  qc_quant_summary_free(&sum);
  qc_pass_log_free(&log);
  qc_eval_reference_free(r.ref);
  qc_eval_reference_free(confirm);
  qc_eval_close(d);
  qc_eval_close(dc);
  free(t);
  return rc;
}
