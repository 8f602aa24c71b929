/* Ranges before saturating readers (docs/quantization.md, "Saturating
 * readers"): a tensor read only by Sigmoid, Tanh, HardSigmoid (or the
 * Add + Clip it decomposes into) and decomposed HardSwish (x * Clip(x + b,
 * 0, h), whose output is 0 for every x <= -b) is quantized on the range where their
 * outputs still move by more than half an output quantum, intersected with
 * the observer's range. Source: ../shared/reference/accuracy-methods.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "qdq_state.h"

/* The levels of an 8-bit grid: the margin beyond the bounds is one step. */
#define SATURATION_STEPS 255.0

int qdq_saturation_range(const qc_graph *g, int node, double ylo, double yhi, double q, double *lo, double *hi) {
  const char *op = qc_node_op(g, node);
  if (!strcmp(op, "HardSigmoid")) {
    qc_attrs a = qc_node_attrs(g, node);
    float alpha = 0.2f, beta = 0.5f;
    if (qc_attr_float(&a, "alpha", 0.2f, &alpha) < 0 || qc_attr_float(&a, "beta", 0.5f, &beta) < 0) {
      qc_clear_error();
      return 0;
    }
    if (!(fabsf(alpha) > 0.0f) || !isfinite(alpha) || !isfinite(beta))
      return 0;
    double x0 = -(double)beta / alpha, x1 = (1.0 - (double)beta) / alpha;
    *lo = fmin(x0, x1), *hi = fmax(x0, x1);
    return 1;
  }
  int sigmoid = !strcmp(op, "Sigmoid");
  if (!sigmoid && strcmp(op, "Tanh") != 0)
    return 0;
  double fmin_y = sigmoid ? 0.0 : -1.0;
  double plo = fmax(ylo, fmin_y) + q / 2, phi = fmin(yhi, 1.0) - q / 2;
  if (!(q > 0) || !(plo > fmin_y) || !(phi < 1.0) || !(plo < phi))
    return 0;
  *lo = sigmoid ? log(plo / (1.0 - plo)) : atanh(plo);
  *hi = sigmoid ? log(phi / (1.0 - phi)) : atanh(phi);
  return isfinite(*lo) && isfinite(*hi);
}

/* A scalar float initializer's value. */
static int scalar_constant(const qc_graph *g, int v, double *out) {
  if (!qdq_is_float_initializer(g, v))
    return 0;
  qc_tensor t = {0};
  int ok = qc_graph_initializer(g, v, &t) == QC_OK && t.dtype == QC_DT_FLOAT && t.numel == 1;
  if (ok)
    *out = qc_f32(&t)[0];
  qc_tensor_release(&t);
  return ok && isfinite(*out);
}

/* The output grid of a saturating node: its step q from the output's own
 * statistics (the quantum it has, or would have at 8 bits when it stays
 * float) and its ends where it is quantized (else +-inf: the function's own
 * limits bound it). */
static int output_grid(const qdq_state *st, int node, double *ylo, double *yhi, double *q) {
  const qc_node *n = &st->g->nodes[node];
  int y = n->noutputs > 0 ? n->outputs[0] : -1;
  float rmin, rmax;
  qc_qparams qp;
  if (y < 0 || y >= st->nv || !qdq_observed_range(st, y, &rmin, &rmax) ||
      qc_qparams_compute(st->opts->act_scheme, rmin, rmax, &qp) != QC_OK)
    return 0;
  *q = qp.scale;
  *ylo = st->value_q[y] ? (double)(qp.qmin - qp.zero_point) * qp.scale : -INFINITY;
  *yhi = st->value_q[y] ? (double)(qp.qmax - qp.zero_point) * qp.scale : INFINITY;
  return 1;
}

/* The range of x that reader c (reading x = v) can tell apart, in x's units:
 * Sigmoid, Tanh, HardSigmoid, or Add(x, b) read only by a Clip with finite
 * constant bounds [l, h] (a decomposed HardSigmoid): [l - b, h - b]. */
static int reader_range(const qdq_state *st, int c, int v, double *lo, double *hi, const char **by) {
  const qc_graph *g = st->g;
  const qc_node *n = &g->nodes[c];
  const char *op = qc_node_op(g, c);
  double ylo, yhi, q, b;
  if (!strcmp(op, "Add") && n->ninputs == 2 && n->noutputs == 1 && n->outputs[0] >= 0) {
    int slot = n->inputs[0] == v ? 0 : n->inputs[1] == v ? 1 : -1;
    const qc_value *o = &g->values[n->outputs[0]];
    float clo, chi;
    if (slot < 0 || !scalar_constant(g, n->inputs[1 - slot], &b) || o->n_consumers != 1 ||
        (o->flags & QC_VALUE_GRAPH_OUTPUT) || strcmp(qc_node_op(g, o->consumers[0]), "Clip") != 0 ||
        !qdq_clip_bounds(g, o->consumers[0], &clo, &chi) || !isfinite(clo) || !isfinite(chi) || !(clo < chi))
      return 0;
    *lo = clo - b, *hi = chi - b, *by = "Add+Clip";
    return 1;
  }
  if (!strcmp(op, "Mul") && n->ninputs == 2 && (n->inputs[0] == v) != (n->inputs[1] == v)) {
    /* x * Clip(x + b, 0, h) (a decomposed HardSwish): every x <= -b gives 0,
     * so those values need no resolution; above, the product grows with x. */
    int gate = n->inputs[n->inputs[0] == v ? 1 : 0], clip = gate >= 0 ? g->values[gate].producer : -1;
    float clo, chi;
    if (clip < 0 || strcmp(qc_node_op(g, clip), "Clip") != 0 || !qdq_clip_bounds(g, clip, &clo, &chi) ||
        clo != 0.0f || !(chi > 0.0f) || g->nodes[clip].ninputs < 1 || g->nodes[clip].inputs[0] < 0)
      return 0;
    int sum = g->values[g->nodes[clip].inputs[0]].producer;
    const qc_node *an = sum >= 0 ? &g->nodes[sum] : NULL;
    if (!an || strcmp(qc_node_op(g, sum), "Add") != 0 || an->ninputs != 2 ||
        (an->inputs[0] == v) == (an->inputs[1] == v) ||
        !scalar_constant(g, an->inputs[an->inputs[0] == v ? 1 : 0], &b))
      return 0;
    *lo = -b, *hi = INFINITY, *by = "HardSwish";
    return 1;
  }
  if (n->ninputs < 1 || n->inputs[0] != v)
    return 0;
  if (!strcmp(op, "HardSigmoid"))
    ylo = yhi = q = 0;
  else if (!output_grid(st, c, &ylo, &yhi, &q))
    return 0;
  if (!qdq_saturation_range(g, c, ylo, yhi, q, lo, hi))
    return 0;
  *by = strcmp(op, "Sigmoid") == 0 ? "Sigmoid" : strcmp(op, "Tanh") == 0 ? "Tanh" : "HardSigmoid";
  return 1;
}

/* The range of v that every reader of its grid can tell apart (the widest
 * over the readers; f: v's values reach them scaled by f through rescales;
 * shared-scale followers pass the grid on). 0 when any reader is not
 * saturating or v is a graph output. */
static int serving_range(const qdq_state *st, int v, double f, double *lo, double *hi, const char **by, int depth) {
  const qc_graph *g = st->g;
  const qc_value *val = &g->values[v];
  if (depth > 16 || v >= st->nv || (val->flags & QC_VALUE_GRAPH_OUTPUT) || val->n_consumers == 0)
    return 0;
  for (int i = 0; i < val->n_consumers; i++) {
    int c = val->consumers[i], kind = qdq_kind(st, c);
    double clo, chi;
    if (st->node_q[c] && (kind == K_SHARED || kind == K_RESCALE) && qdq_follower_input(st, c) == v) {
      const qc_node *n = &g->nodes[c];
      double cf = kind == K_RESCALE ? f * st->factor[c] : f;
      for (int o = 0; o < n->noutputs; o++)
        if (n->outputs[o] >= 0 && !serving_range(st, n->outputs[o], cf, lo, hi, by, depth + 1))
          return 0;
      continue;
    }
    if (!reader_range(st, c, v, &clo, &chi, by))
      return 0;
    *lo = fmin(*lo, clo / f), *hi = fmax(*hi, chi / f);
  }
  return 1;
}

void qdq_saturation_bounds(qdq_state *st) {
  if (st->opts->no_saturation_clip || st->opts->weight_only)
    return;
  for (int v = 0; v < st->nv; v++) {
    double lo = INFINITY, hi = -INFINITY;
    const char *by = NULL;
    int p = st->g->values[v].producer, kind = p >= 0 ? qdq_kind(st, p) : K_NONE;
    if (p >= 0 && st->node_q[p] && (kind == K_SHARED || kind == K_RESCALE))
      continue; /* its qparams are its input's: the input's readers are checked there */
    if (st->value_q[v] && serving_range(st, v, 1.0, &lo, &hi, &by, 0) && lo < hi) {
      /* One step of the new grid beyond each bound: rounding the zero point
       * moves the grid's ends by up to half a step, and an end inside the
       * bound would leave every saturated element off by up to a quantum
       * (0.998 for a HardSwish gate of 1), the same error everywhere. */
      double span = hi - lo;
      if (!isfinite(span)) { /* one open end (HardSwish): the step of the grid up to the observed end */
        float rmin, rmax;
        if (!qdq_observed_range(st, v, &rmin, &rmax))
          continue;
        span = fmin(hi, (double)rmax) - fmax(lo, (double)rmin);
        if (!(span > 0) || !isfinite(span))
          continue;
      }
      double margin = span / (SATURATION_STEPS - 2);
      st->sat_lo[v] = lo - margin, st->sat_hi[v] = hi + margin;
      st->sat_by[v] = by;
    }
  }
}

int qdq_record_clip(qdq_state *st, int v) {
  qc_quant_summary *s = st->out;
  qc_saturation_clip *c = realloc(s->clips, sizeof *c * (size_t)(s->n_clips + 1));
  if (!c)
    return qc_fail(QC_ENOMEM, "out of memory");
  s->clips = c;
  c = &c[s->n_clips];
  memset(c, 0, sizeof *c);
  if (!(c->tensor = strdup(st->g->values[v].name)))
    return qc_fail(QC_ENOMEM, "out of memory");
  s->n_clips++;
  c->consumer = st->sat_by[v];
  qdq_observed_range(st, v, &c->observed_min, &c->observed_max);
  c->lo = fmaxf(c->observed_min, (float)st->sat_lo[v]);
  c->hi = fminf(c->observed_max, (float)st->sat_hi[v]);
  return QC_OK;
}
