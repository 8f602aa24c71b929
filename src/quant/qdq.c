/* QDQ placement. The rules follow onnxruntime's static quantizer and the
 * node units its CPU provider fuses (../shared/reference/onnxruntime-qdq-rules.md,
 * docs/quantization.md):
 *   weighted ops   Conv, ConvTranspose, Gemm, MatMul: DQ on every input, Q on
 *                  the output; int8 weights, int32 bias.
 *   fused ops      Add, Mul, Concat, AveragePool, GlobalAveragePool, Sigmoid,
 *                  Softmax, LeakyRelu: Q/DQ on every float input and output,
 *                  each with its own calibrated scale (Softmax output [0, 1]).
 *   shared-scale   MaxPool, Reshape, Transpose, Squeeze, Unsqueeze, Slice,
 *                  Resize, Pad, Split, Flatten, Gather: quantized only when
 *                  their input is; outputs reuse the input's scale and zero
 *                  point, so onnxruntime runs them on int8 directly.
 *   Relu / Clip    after a quantized weighted or fused producer, with
 *                  asymmetric activations: removed where the producer's
 *                  output, renamed to theirs, gets a Q whose range the bounds
 *                  clip (zero point at qmin, top <= max); decided after
 *                  placement, so the Q is known to exist.
 *   rescale        Mul by a positive scalar constant c after a quantized
 *                  input: removed; its output is the input's int8 tensor read
 *                  with scale c * s (exact, no kernel, no extra rounding).
 *   float regions  comparison, selection and index ops and what they read,
 *                  back to the weighted producers, stay float
 *                  (qdq_regions.c).
 *   saturation     a tensor read only by saturating functions (Sigmoid,
 *                  Tanh, HardSigmoid, Add+Clip) is quantized on the range
 *                  where their outputs still move (qdq_saturation.c). */
#include "qdq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../io/model_io.h"
#include "onnx.pb-c.h"
#include "qdq_state.h"

static qc_dtype act_qtype(const qdq_state *st) {
  return st->opts->act_scheme == QC_QS_UINT8_AFFINE ? QC_DT_UINT8 : QC_DT_INT8;
}

int qdq_follower_input(const qdq_state *st, int node) {
  const qc_node *n = &st->g->nodes[node];
  return n->ninputs > st->act_slot[node] ? n->inputs[st->act_slot[node]] : -1;
}

int qc_quant_summary_note(qc_quant_summary *s, const char *text) {
  char **w = realloc(s->warnings, sizeof *w * (size_t)(s->n_warnings + 1));
  if (!w)
    return qc_fail(QC_ENOMEM, "out of memory");
  s->warnings = w;
  if (!(w[s->n_warnings] = strdup(text)))
    return qc_fail(QC_ENOMEM, "out of memory");
  s->n_warnings++;
  return QC_OK;
}

static int add_warning(qc_quant_summary *s, const char *fmt, const char *arg) {
  char buf[512];
  snprintf(buf, sizeof buf, fmt, arg);
  return qc_quant_summary_note(s, buf);
}

static int node_allowed(const qdq_state *st, int node) {
  const char *op = qc_node_op(st->g, node), *name = qc_node_name(st->g, node);
  const Onnx__NodeProto *np = st->g->nodes[node].proto;
  if (!qc_domain_is_default(np->domain))
    return 0;
  if (st->opts->node_mask && node < st->opts->n_node_mask && !st->opts->node_mask[node])
    return 0;
  for (int i = 0; i < st->opts->n_exclude; i++)
    if (*name && strcmp(st->opts->exclude[i], name) == 0)
      return 0;
  if (!st->opts->op_types)
    return 1;
  for (int i = 0; i < st->opts->n_op_types; i++)
    if (strcmp(st->opts->op_types[i], op) == 0)
      return 1;
  return 0;
}

/* QGemm and MatMulIntegerToFloat may produce float: Gemm/MatMul outputs that
 * are graph outputs get no Q/DQ, so model outputs stay exact. */
static int output_stays_float(const qc_graph *g, int node, int v) {
  return (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT) &&
         (strcmp(qc_node_op(g, node), "Gemm") == 0 || strcmp(qc_node_op(g, node), "MatMul") == 0);
}

/* A Concat of one tensor with zero padding (BlazeFace pads channels this way):
 * its one data input, whose qparams the output then reuses, so onnxruntime's
 * QLinearConcat copies that input instead of rounding it again. Else -1. */
static int concat_data_input(const qdq_state *st, int node) {
  const qc_node *n = &st->g->nodes[node];
  if (strcmp(qc_node_op(st->g, node), "Concat") != 0)
    return -1;
  int data = -1;
  for (int i = 0; i < n->ninputs; i++) {
    if (qdq_all_zero(st->g, st->stats, n->inputs[i]))
      continue;
    if (data >= 0)
      return -1;
    data = n->inputs[i];
  }
  return data;
}

/* The observer's range of v; 0 when v has no usable statistics (never
 * observed, or only NaN/Inf). */
static void observe_entry(const qdq_state *st, size_t i) {
  const qc_stats *s = st->stats->stats[i];
  int ok = s->count > 0 && qc_observer_range(&st->opts->observer, s, &st->obs_lo[i], &st->obs_hi[i]) == QC_OK;
  st->obs_known[i] = ok ? 1 : -1;
}

/* Every statistics entry's range up front, on all threads: the searches are
 * independent, so the result does not depend on the thread count. */
static void observe_all(const qdq_state *st) {
  const long n = (long)st->stats->count;
#pragma omp parallel for schedule(dynamic, 1)
  for (long i = 0; i < n; i++)
    if (!st->obs_known[i])
      observe_entry(st, (size_t)i);
}

int qc_range_memo_init(qc_range_memo *m, size_t n) {
  m->n = n;
  m->known = calloc(n + 1, sizeof *m->known);
  m->lo = calloc(n + 1, sizeof *m->lo);
  m->hi = calloc(n + 1, sizeof *m->hi);
  if (!m->known || !m->lo || !m->hi) {
    qc_range_memo_free(m);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  return QC_OK;
}

void qc_range_memo_free(qc_range_memo *m) {
  free(m->known), free(m->lo), free(m->hi);
  memset(m, 0, sizeof *m);
}

int qdq_observed_range(const qdq_state *st, int v, float *rmin, float *rmax) {
  const char *name = st->g->values[v].name;
  for (size_t i = 0; i < st->stats->count; i++) {
    if (strcmp(st->stats->names[i], name) != 0)
      continue;
    if (!st->obs_known[i])
      observe_entry(st, i);
    if (st->obs_known[i] < 0)
      return 0;
    *rmin = st->obs_lo[i], *rmax = st->obs_hi[i];
    return 1;
  }
  return 0;
}

/* qparams from v's own statistics, its range intersected with what its
 * saturating readers can tell apart (never widened); 0 when it has none. */
static int observed_qparams(const qdq_state *st, int v, qc_qparams *qp) {
  float rmin, rmax;
  if (!qdq_observed_range(st, v, &rmin, &rmax))
    return 0;
  if (v < st->nv && st->sat_by && st->sat_by[v]) {
    float lo = fmaxf(rmin, (float)st->sat_lo[v]), hi = fminf(rmax, (float)st->sat_hi[v]);
    if (lo < hi && (lo > rmin || hi < rmax)) {
      rmin = lo, rmax = hi;
      st->sat_used[v] = 1;
    }
  }
  return qc_qparams_compute(st->opts->act_scheme, rmin, rmax, qp) == QC_OK;
}

/* qparams of an activation value: shared-scale outputs take their input's. */
static int value_qparams(qdq_state *st, int v, qc_qparams *qp) {
  if (st->qp_done[v]) {
    *qp = st->qp[v];
    return st->qp_done[v] > 0;
  }
  qc_graph *g = st->g;
  int prod = g->values[v].producer;
  int ok = 0;
  st->qp_done[v] = -1; /* guards cycles */
  int kind = prod >= 0 ? qdq_kind(st, prod) : K_NONE, k;
  if (prod >= 0 && st->node_q[prod] && kind == K_SHARED) {
    ok = value_qparams(st, g->nodes[prod].inputs[0], &st->qp[v]);
  } else if (prod >= 0 && st->node_q[prod] && kind == K_RESCALE) {
    ok = value_qparams(st, qdq_follower_input(st, prod), &st->qp[v]);
    st->qp[v].scale = (float)((double)st->qp[v].scale * st->factor[prod]);
    ok = ok && isnormal(st->qp[v].scale);
  } else if (prod >= 0 && st->node_q[prod] && (k = concat_data_input(st, prod)) >= 0) {
    ok = value_qparams(st, k, &st->qp[v]);
  } else if (prod >= 0 && st->node_q[prod] && strcmp(qc_node_op(g, prod), "Softmax") == 0) {
    ok = qc_qparams_compute(st->opts->act_scheme, 0.0f, 1.0f, &st->qp[v]) == QC_OK;
  } else {
    ok = observed_qparams(st, v, &st->qp[v]);
  }
  st->qp_done[v] = ok ? 1 : -1;
  *qp = st->qp[v];
  return ok;
}

/* Decides which nodes are quantized and which values get Q/DQ. */
static int plan(qdq_state *st, const int *order, int n) {
  qc_graph *g = st->g;
  for (int k = 0; k < n; k++) {
    int id = order[k];
    int kind = qdq_kind(st, id);
    if (!node_allowed(st, id) || st->node_region[id])
      continue;
    if (kind == K_WEIGHTED)
      st->node_q[id] = qdq_weighted_ok(g, id) ||
                       (strcmp(qc_node_op(g, id), "MatMul") == 0 && !st->opts->weight_only &&
                        qdq_is_float_activation(g, g->nodes[id].inputs[0]) && qdq_is_float_activation(g, g->nodes[id].inputs[1]));
    else if (kind == K_FUSED)
      st->node_q[id] = !st->opts->weight_only && g->nodes[id].noutputs > 0 &&
                       qdq_is_float_activation(g, g->nodes[id].outputs[0]);
  }
  if (st->opts->weight_only)
    return QC_OK;
  /* Activation inputs of weighted/fused nodes, and their outputs. */
  for (int k = 0; k < n; k++) {
    int id = order[k];
    const qc_node *nd = &g->nodes[id];
    int kind = qdq_kind(st, id);
    if (!st->node_q[id] || (kind != K_WEIGHTED && kind != K_FUSED))
      continue;
    for (int i = 0; i < nd->ninputs; i++)
      if (qdq_is_float_activation(g, nd->inputs[i]) && !(kind == K_WEIGHTED && i == 2) &&
          !st->value_region[nd->inputs[i]])
        st->value_q[nd->inputs[i]] = 1;
    for (int o = 0; o < nd->noutputs; o++) {
      int v = nd->outputs[o];
      if (v < 0 || st->value_region[v])
        continue;
      if (!output_stays_float(g, id, v))
        st->value_q[v] = 1;
    }
  }
  /* Followers: shared-scale nodes, rescales, and Relu/Clip (kept with Q/DQ
   * on both sides, own output scale, unless absorb_activations removes them
   * afterwards) follow their already decided input, in graph order. */
  for (int k = 0; k < n; k++) {
    int id = order[k];
    const qc_node *nd = &g->nodes[id];
    int kind = qdq_kind(st, id);
    if ((kind != K_SHARED && kind != K_REMOVABLE && kind != K_RESCALE) || !node_allowed(st, id) || nd->ninputs < 1 ||
        st->node_region[id])
      continue;
    int in = qdq_follower_input(st, id);
    if (in < 0 || !st->value_q[in])
      continue;
    st->node_q[id] = 1;
    for (int o = 0; o < nd->noutputs; o++)
      if (nd->outputs[o] >= 0 && !st->value_region[nd->outputs[o]])
        st->value_q[nd->outputs[o]] = 1;
  }
  /* A follower whose outputs feed no quantized node would only add a useless
   * Q/DQ pair (and error): drop it, consumers first. A rescale always stays:
   * it costs nothing and removes a node. */
  for (int k = n - 1; k >= 0; k--) {
    int id = order[k];
    int kind = qdq_kind(st, id);
    if (!st->node_q[id] || (kind != K_SHARED && kind != K_REMOVABLE))
      continue;
    const qc_node *nd = &g->nodes[id];
    int needed = 0;
    for (int o = 0; o < nd->noutputs && !needed; o++) {
      const qc_value *v = nd->outputs[o] >= 0 ? &g->values[nd->outputs[o]] : NULL;
      for (int c = 0; v && c < v->n_consumers && !needed; c++)
        needed = st->node_q[v->consumers[c]];
    }
    if (needed)
      continue;
    st->node_q[id] = 0;
    for (int o = 0; o < nd->noutputs; o++)
      if (nd->outputs[o] >= 0)
        st->value_q[nd->outputs[o]] = 0;
  }
  return QC_OK;
}

/* The quantized producer that Relu/Clip `act` can be absorbed into, or -1.
 * Absorbing removes act and renames the producer's output to act's, so it
 * needs: constant bounds [0, hi] (the uint8 zero point clips at 0 only); a
 * quantized weighted or fused producer whose output act alone reads; that
 * output (renamed) getting a Q; and that Q's range, from act's own
 * statistics, clipped by the bounds of act and of every activation absorbed
 * before it in a chain. */
static int absorbing_producer(qdq_state *st, int act) {
  qc_graph *g = st->g;
  const qc_node *an = &g->nodes[act];
  float lo, hi;
  if (qdq_kind(st, act) != K_REMOVABLE || !node_allowed(st, act) || !qdq_clip_bounds(g, act, &lo, &hi) ||
      lo != 0.0f || an->ninputs < 1 || an->noutputs != 1 || st->node_region[act])
    return -1;
  int in = an->inputs[0], out = an->outputs[0];
  if (in < 0 || out < 0 || st->value_region[out])
    return -1;
  const qc_value *iv = &g->values[in];
  int prod = iv->producer;
  if (prod < 0 || !st->node_q[prod] || iv->n_consumers != 1 || (iv->flags & QC_VALUE_GRAPH_OUTPUT))
    return -1;
  /* A rescale's or shared-scale op's range is its input's: it could not clip. */
  int pk = qdq_kind(st, prod);
  int clips = (pk == K_WEIGHTED && qdq_weighted_ok(g, prod)) ||
              (pk == K_FUSED && strcmp(qc_node_op(g, prod), "Softmax") != 0);
  if (!clips)
    return -1;
  if (output_stays_float(g, prod, out))
    return -1;
  qc_qparams qp;
  if (!value_qparams(st, out, &qp) || qp.zero_point != qp.qmin)
    return -1;
  /* The top of the range may pass hi by the float rounding of the scale only. */
  float top = fminf(hi, st->clip_top[in]);
  if ((double)(qp.qmax - qp.zero_point) * qp.scale > (double)top * (1.0 + 1e-6))
    return -1;
  st->clip_top[out] = top;
  return prod;
}

/* Removes the Relu/Clip nodes that a clipping Q replaces (absorbing_producer),
 * after placement. With symmetric activations a range would not clip at 0. */
static int absorb_activations(qdq_state *st) {
  qc_graph *g = st->g;
  if (st->opts->act_scheme != QC_QS_UINT8_AFFINE || st->opts->weight_only)
    return QC_OK;
  for (int k = 0; k < g->n_order; k++) {
    int act = g->order[k], prod = absorbing_producer(st, act);
    if (prod < 0)
      continue;
    int in = g->nodes[act].inputs[0], out = g->nodes[act].outputs[0], slot = 0;
    while (g->nodes[prod].outputs[slot] != in)
      slot++;
    char *out_name = strdup(g->values[out].name);
    if (!out_name)
      return qc_fail(QC_ENOMEM, "out of memory");
    int rc = qc_graph_remove_node(g, act);
    if (rc == QC_OK)
      rc = qc_node_set_output(g, prod, slot, out_name);
    free(out_name);
    QC_TRY(rc);
    st->node_q[act] = 0;
    st->value_q[in] = 0;
    st->value_q[out] = 1;
    st->out->relu_absorbed++;
    k--; /* the order shrank */
  }
  return QC_OK;
}

/* Values without usable statistics stay float, with a warning. Statistics
 * that cover none of the model's activations (an empty or foreign
 * --load-stats file) are an error: every tensor would stay float. */
static int drop_unobserved(qdq_state *st, int nv) {
  const qc_graph *g = st->g;
  qc_qparams qp;
  int planned = 0, activations = 0, observed = 0;
  for (int v = 0; v < nv; v++) {
    planned += st->value_q[v];
    if ((g->values[v].producer >= 0 || (g->values[v].flags & QC_VALUE_GRAPH_INPUT)) &&
        qdq_is_float_activation(g, v)) {
      activations++;
      observed += observed_qparams(st, v, &qp);
    }
  }
  if (planned && !observed)
    return qc_fail(QC_EINVAL, "the calibration statistics cover none of the model's %d activation tensors",
                   activations);
  for (int v = 0; v < nv; v++)
    if (st->value_q[v] && !value_qparams(st, v, &qp)) {
      st->value_q[v] = 0;
      QC_TRY(add_warning(st->out, "tensor '%s' has no usable calibration statistics; kept in float",
                         g->values[v].name));
    }
  return QC_OK;
}

/* Earliest consumer of v in graph order, or -1. */
static int first_consumer(const qc_graph *g, int v) {
  for (int k = 0; k < g->n_order; k++) {
    const qc_node *nd = &g->nodes[g->order[k]];
    for (int i = 0; i < nd->ninputs; i++)
      if (nd->inputs[i] == v)
        return g->order[k];
  }
  return -1;
}

static int record_tensor(qdq_state *st, int v, const qc_qparams *qp) {
  qc_quant_summary *s = st->out;
  qc_tensor_report *t = realloc(s->tensors, sizeof *t * (size_t)(s->n_tensors + 1));
  if (!t)
    return qc_fail(QC_ENOMEM, "out of memory");
  s->tensors = t;
  t = &t[s->n_tensors];
  memset(t, 0, sizeof *t);
  const qc_stats *stats = qc_stats_set_find(st->stats, st->g->values[v].name);
  t->name = strdup(st->g->values[v].name);
  if (!t->name)
    return qc_fail(QC_ENOMEM, "out of memory");
  float rmin = qp->qmin == qp->zero_point ? 0 : (qp->qmin - qp->zero_point) * qp->scale;
  float rmax = (qp->qmax - qp->zero_point) * qp->scale;
  qdq_observed_range(st, v, &rmin, &rmax); /* report the observer's own range, if any */
  t->rmin = rmin;
  t->rmax = rmax;
  t->scale = qp->scale;
  t->zero_point = qp->zero_point;
  t->qtype = st->opts->act_scheme == QC_QS_UINT8_AFFINE ? "uint8" : "int8";
  t->nonfinite = stats ? stats->nonfinite : 0;
  s->n_tensors++;
  return v < st->nv && st->sat_used[v] ? qdq_record_clip(st, v) : QC_OK;
}

/* Inserts Q -> DQ on value v; every consumer then reads the DQ output. */
static int insert_qdq(qdq_state *st, int v) {
  qc_graph *g = st->g;
  qc_qparams qp;
  value_qparams(st, v, &qp);
  char vname[1024], base[32], pre[64], qname[64], dqname[1024], tmp[64], scale_name[64], zp_name[64];
  snprintf(vname, sizeof vname, "%s", g->values[v].name); /* adding nodes may move g->values */
  qdq_base_name(g, base, sizeof base);
  QC_TRY(qdq_add_qparams(g, base, &qp.scale, &qp.zero_point, 1, act_qtype(st), scale_name, zp_name, sizeof scale_name));
  snprintf(tmp, sizeof tmp, "%s_q", base);
  qc_graph_unique_name(g, tmp, qname, sizeof qname);
  int is_output = (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT) && g->values[v].producer >= 0;
  int before = first_consumer(g, v);
  const char *q_in = vname;
  if (is_output) {
    /* Keep the graph output's name: the producer writes "<name>_prequant" instead. */
    int prod = g->values[v].producer, slot = 0;
    snprintf(tmp, sizeof tmp, "%s_prequant", base);
    qc_graph_unique_name(g, tmp, pre, sizeof pre);
    while (g->nodes[prod].outputs[slot] != v)
      slot++;
    QC_TRY(qc_node_set_output(g, prod, slot, pre));
    q_in = pre;
    snprintf(dqname, sizeof dqname, "%s", vname);
  } else {
    snprintf(tmp, sizeof tmp, "%s_dq", base);
    qc_graph_unique_name(g, tmp, dqname, sizeof dqname);
  }
  const char *qin[3] = {q_in, scale_name, zp_name}, *qout[1] = {qname};
  const char *dqin[3] = {qname, scale_name, zp_name}, *dqout[1] = {dqname};
  int qnode, dqnode;
  /* Q/DQ nodes stay unnamed: their tensors carry the names, and every byte
   * of overhead counts against the size ratio of small models. */
  QC_TRY(qc_graph_add_node(g, "QuantizeLinear", NULL, qin, 3, qout, 1, before, &qnode));
  QC_TRY(qc_graph_add_node(g, "DequantizeLinear", NULL, dqin, 3, dqout, 1, before, &dqnode));
  if (!is_output)
    QC_TRY(qc_graph_replace_uses(g, v, qc_graph_find_value(g, dqname), qnode, 0));
  return record_tensor(st, v, &qp);
}

/* Replaces rescale node `node` (y = c * x, x already rewritten) by a
 * DequantizeLinear of x's quantized tensor with scale c * s_x that writes y
 * itself, so y's readers and a graph output keep their name. */
static int fold_rescale(qdq_state *st, int node) {
  qc_graph *g = st->g;
  int y = g->nodes[node].outputs[0];
  qc_qparams qp;
  value_qparams(st, y, &qp);
  /* The input now reads the DequantizeLinear of x (or of an earlier rescale). */
  int x_dq = qdq_follower_input(st, node);
  int dq = x_dq >= 0 ? g->values[x_dq].producer : -1;
  if (dq < 0 || strcmp(qc_node_op(g, dq), "DequantizeLinear") != 0)
    return qc_fail(QC_EINTERNAL, "rescale to '%s': its input is not dequantized", g->values[y].name);
  int xq = g->nodes[dq].inputs[0];
  char yname[1024], xqname[1024], base[32];
  snprintf(yname, sizeof yname, "%s", g->values[y].name);
  snprintf(xqname, sizeof xqname, "%s", g->values[xq].name);
  QC_TRY(qc_graph_remove_node(g, node));
  /* The DQ that fed only this node is dead now. */
  if (g->values[x_dq].n_consumers == 0 && !(g->values[x_dq].flags & QC_VALUE_GRAPH_OUTPUT))
    QC_TRY(qc_graph_remove_node(g, dq));
  qdq_base_name(g, base, sizeof base);
  QC_TRY(qdq_add_dequantize(g, base, xqname, &qp.scale, &qp.zero_point, 1, 0, act_qtype(st), yname, first_consumer(g, y)));
  return record_tensor(st, y, &qp);
}

/* Every --exclude name must match a node: a typo must not quietly quantize it. */
static int check_excludes(const qc_graph *g, const qc_quant_opts *opts) {
  for (int i = 0; i < opts->n_exclude; i++) {
    int found = 0;
    for (int k = 0; k < g->n_order && !found; k++)
      found = strcmp(qc_node_name(g, g->order[k]), opts->exclude[i]) == 0;
    if (!found)
      return qc_fail(QC_EUSAGE, "--exclude: the model has no node named '%s' (BatchNormalization, Identity and "
                     "Dropout nodes are folded away before quantization)", opts->exclude[i]);
  }
  return QC_OK;
}

int qc_pass_quantize(qc_model *m, const qc_stats_set *stats, const qc_quant_opts *opts, qc_quant_summary *out) {
  memset(out, 0, sizeof *out);
  qc_graph *g = m->graph;
  out->nodes_total = g->n_order;
  QC_TRY(check_excludes(g, opts));
  if (m->opset < QC_QDQ_MIN_OPSET) /* the raise_opset pass runs first */
    return qc_fail(QC_EINTERNAL, "QDQ pass on opset %d: needs %d", m->opset, QC_QDQ_MIN_OPSET);
  qdq_state st = {.m = m, .g = g, .stats = stats, .opts = opts, .out = out};
  int *order = NULL, n = 0, rc;
  QC_TRY(qc_graph_topo_order(g, &order, &n));
  /* Sized for the values that exist now; rewrites only add values after planning. */
  int nv = g->n_values, nn = g->n_nodes;
  st.nv = nv;
  st.node_q = calloc((size_t)nn + 1, sizeof(int));
  st.value_q = calloc((size_t)nv + 1, sizeof(int));
  st.qp = calloc((size_t)nv + 1, sizeof(qc_qparams));
  st.qp_done = calloc((size_t)nv + 1, sizeof(int));
  st.kind = calloc((size_t)nn + 1, sizeof(int));
  st.act_slot = calloc((size_t)nn + 1, sizeof(int));
  st.factor = calloc((size_t)nn + 1, sizeof(float));
  st.clip_top = malloc(((size_t)nv + 1) * sizeof(float));
  st.value_region = calloc((size_t)nv + 1, sizeof(int));
  st.node_region = calloc((size_t)nn + 1, sizeof(int));
  st.sat_lo = calloc((size_t)nv + 1, sizeof(double));
  st.sat_hi = calloc((size_t)nv + 1, sizeof(double));
  st.sat_by = calloc((size_t)nv + 1, sizeof(char *));
  st.sat_used = calloc((size_t)nv + 1, sizeof(int));
  qc_range_memo own = {0}, *memo = opts->range_memo;
  if (!memo || memo->n != stats->count) {
    memo = &own;
    if (qc_range_memo_init(&own, stats->count) < 0) {
      rc = QC_ENOMEM;
      goto done;
    }
  }
  st.obs_known = memo->known;
  st.obs_lo = memo->lo;
  st.obs_hi = memo->hi;
  if (!st.node_q || !st.value_q || !st.qp || !st.qp_done || !st.kind || !st.act_slot || !st.factor ||
      !st.clip_top || !st.value_region || !st.node_region || !st.sat_lo || !st.sat_hi || !st.sat_by || !st.sat_used ||
      !st.obs_known || !st.obs_lo || !st.obs_hi) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto done;
  }
  observe_all(&st);
  for (int v = 0; v < nv; v++)
    st.clip_top[v] = INFINITY;
  for (int k = 0; k < n; k++) {
    int id = order[k];
    st.kind[id] = qdq_node_kind(g, id, &st.act_slot[id], &st.factor[id]);
  }
  if (!opts->weight_only &&
      (rc = qdq_float_regions(g, stats, order, n, st.value_region, st.node_region, out)) < 0)
    goto done;
  if ((rc = plan(&st, order, n)) < 0)
    goto done;
  qdq_saturation_bounds(&st); /* on the graph as planned, before absorption renames outputs */
  if ((rc = absorb_activations(&st)) < 0 || (rc = drop_unobserved(&st, nv)) < 0)
    goto done;
  /* The rewrite follows the graph without the absorbed nodes. */
  free(order);
  order = NULL;
  if ((rc = qc_graph_topo_order(g, &order, &n)) < 0)
    goto done;
  /* Weights and constant inputs first (needs the input activation's scale for the bias). */
  for (int k = 0; k < n && rc == QC_OK; k++) {
    int id = order[k];
    if (!st.node_q[id])
      continue;
    int kind = qdq_kind(&st, id), float_out = g->nodes[id].noutputs > 0;
    for (int o = 0; o < g->nodes[id].noutputs; o++)
      float_out &= g->nodes[id].outputs[o] >= 0 && g->nodes[id].outputs[o] < nv &&
                   st.value_region[g->nodes[id].outputs[o]] != 0;
    out->nodes_quantized += !float_out; /* a weighted op whose output feeds a float region runs in float */
    if (kind == K_WEIGHTED && qdq_weighted_ok(g, id)) {
      int x = g->nodes[id].inputs[0];
      qc_qparams xqp;
      float x_scale = (x < nv && st.value_q[x] && value_qparams(&st, x, &xqp)) ? xqp.scale : 0.0f;
      rc = qdq_quantize_weights(g, id, opts, x_scale);
    } else if (kind == K_FUSED) {
      for (int i = 0; i < g->nodes[id].ninputs && rc == QC_OK; i++)
        if (qdq_is_float_initializer(g, g->nodes[id].inputs[i]))
          rc = qdq_quantize_constant_input(g, id, i, opts->act_scheme);
    }
  }
  /* Activations: graph inputs, then node outputs in order. */
  for (int i = 0; i < g->n_inputs && rc == QC_OK; i++)
    if (g->inputs[i] < nv && st.value_q[g->inputs[i]])
      rc = insert_qdq(&st, g->inputs[i]);
  for (int k = 0; k < n && rc == QC_OK; k++) {
    if (st.node_q[order[k]] && qdq_kind(&st, order[k]) == K_RESCALE) {
      rc = fold_rescale(&st, order[k]);
      continue;
    }
    /* Re-read the node each time: rewrites may move g->nodes. */
    for (int o = 0; o < g->nodes[order[k]].noutputs && rc == QC_OK; o++) {
      int v = g->nodes[order[k]].outputs[o];
      if (v >= 0 && v < nv && st.value_q[v])
        rc = insert_qdq(&st, v);
    }
  }
  if (rc == QC_OK)
    rc = qc_graph_prune(g);
  if (rc == QC_OK)
    rc = qc_graph_sync(g);
done:
  free(order);
  free(st.node_q);
  free(st.value_q);
  free(st.qp);
  free(st.qp_done);
  free(st.kind);
  free(st.act_slot);
  free(st.factor);
  free(st.clip_top);
  free(st.value_region);
  free(st.node_region);
  free(st.sat_lo);
  free(st.sat_hi);
  free(st.sat_by);
  free(st.sat_used);
  qc_range_memo_free(&own);
  return rc;
}

void qc_quant_summary_free(qc_quant_summary *s) {
  for (int i = 0; i < s->n_tensors; i++)
    free(s->tensors[i].name);
  for (int i = 0; i < s->n_warnings; i++)
    free(s->warnings[i]);
  for (int i = 0; i < s->n_regions; i++)
    qdq_float_region_free(&s->regions[i]);
  for (int i = 0; i < s->n_clips; i++)
    free(s->clips[i].tensor);
  free(s->tensors);
  free(s->warnings);
  free(s->regions);
  free(s->clips);
  memset(s, 0, sizeof *s);
}
