/* Rewrites ops that onnxruntime has no integer kernel for into ones it has,
 * before calibration (so the new tensors get observed):
 *   HardSwish(x)             -> Mul(x, Clip(Add(Mul(x, 1/6), 0.5), 0, 1))
 *   HardSigmoid(x; a, b)     -> Clip(Add(Mul(x, a), b), 0, 1)
 *   Div(x, c), c a constant  -> Mul(x, 1/c)
 * The results are the ONNX definitions of these ops (Div: up to the rounding
 * of 1/c). In the QDQ pass Mul/Add become QLinearMul/QLinearAdd and the Clip
 * after Add is absorbed into the Add's output range, so a HardSwish network
 * stays integer end to end instead of leaving DQ -> float -> Q islands, and
 * the NCHW/NHWC Transposes ORT inserts around them. */
#include "pass.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../io/model_io.h"
#include "../ir/pass_util.h"
#include "onnx.pb-c.h"

typedef struct decomposer {
  qc_graph *g;
  const qc_quant_opts *opts;
  int n_consts;
  int float32_only; /* model_is_float32(g), computed once */
} decomposer;

static int is_wider_or_half_float(int64_t dt) {
  return dt == QC_DT_DOUBLE || dt == QC_DT_FLOAT16 || dt == QC_DT_BFLOAT16;
}

/* Whether every float tensor the model declares is float32, so tensors with an
 * unknown dtype feeding HardSwish/HardSigmoid can be taken as float32. */
static int model_is_float32(const qc_graph *g) {
  for (int v = 0; v < g->n_values; v++)
    if (is_wider_or_half_float(g->values[v].dtype))
      return 0;
  for (int k = 0; k < g->n_order; k++) {
    if (strcmp(qc_node_op(g, g->order[k]), "Cast") != 0)
      continue;
    qc_attrs a = qc_node_attrs(g, g->order[k]);
    int64_t to;
    if (qc_attr_type(&a, "to") == QC_ATTR_INT && qc_attr_int(&a, "to", 0, &to) == QC_OK && is_wider_or_half_float(to))
      return 0;
  }
  return 1;
}

static int listed(const char *const *list, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (s && strcmp(list[i], s) == 0)
      return 1;
  return 0;
}

/* The rewrite only pays when the Mul and Add it produces get quantized. */
static int node_allowed(const decomposer *d, int node) {
  const qc_quant_opts *o = d->opts;
  if (o->weight_only)
    return 0;
  if (o->op_types && (!listed(o->op_types, o->n_op_types, "Mul") || !listed(o->op_types, o->n_op_types, "Add")))
    return 0;
  const char *name = d->g->nodes[node].proto->name;
  return !(name && *name && listed(o->exclude, o->n_exclude, name));
}

/* A new float initializer "qc_k<N>" holding n values; its name goes to out. */
static int add_const(decomposer *d, const float *vals, int ndim, const int64_t *dims, char *out, size_t len) {
  qc_tensor t = {0};
  QC_TRY(qc_tensor_alloc(&t, QC_DT_FLOAT, ndim, dims));
  memcpy(t.data, vals, t.nbytes);
  char base[32];
  snprintf(base, sizeof base, "qc_k%d", d->n_consts++);
  qc_graph_unique_name(d->g, base, out, len);
  int rc = qc_graph_put_initializer(d->g, out, &t);
  qc_tensor_release(&t);
  return rc;
}

static int add_scalar(decomposer *d, float v, char *out, size_t len) { return add_const(d, &v, 0, NULL, out, len); }

/* A fresh tensor name derived from the node's output. */
static void temp_name(const qc_graph *g, const char *out, const char *suffix, char *buf, size_t len) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s%s", out, suffix);
  qc_graph_unique_name(g, tmp, buf, len);
}

/* Clip(x, 0, 1) -> y before node `before`: inputs at opset >= 11, attributes before. */
static int add_clip01(decomposer *d, const char *x, const char *y, int before) {
  qc_graph *g = d->g;
  int node;
  if (g->model->opset >= 11) {
    char lo[64], hi[64];
    QC_TRY(add_scalar(d, 0.0f, lo, sizeof lo));
    QC_TRY(add_scalar(d, 1.0f, hi, sizeof hi));
    const char *in[3] = {x, lo, hi}, *out[1] = {y};
    return qc_graph_add_node(g, "Clip", NULL, in, 3, out, 1, before, &node);
  }
  const char *in[1] = {x}, *out[1] = {y};
  QC_TRY(qc_graph_add_node(g, "Clip", NULL, in, 1, out, 1, before, &node));
  QC_TRY(qc_node_set_attr_float(g, node, "min", 0.0f));
  return qc_node_set_attr_float(g, node, "max", 1.0f);
}

/* gate = Clip(Add(Mul(x, alpha), beta), 0, 1), written to `gate`, placed before `before`. */
static int add_hard_sigmoid(decomposer *d, const char *x, float alpha, float beta, const char *out_base,
                            const char *gate, int before) {
  qc_graph *g = d->g;
  char ka[64], kb[64], scaled[1100], shifted[1100];
  int node;
  QC_TRY(add_scalar(d, alpha, ka, sizeof ka));
  QC_TRY(add_scalar(d, beta, kb, sizeof kb));
  temp_name(g, out_base, "_scaled", scaled, sizeof scaled);
  const char *mul_in[2] = {x, ka}, *mul_out[1] = {scaled};
  QC_TRY(qc_graph_add_node(g, "Mul", NULL, mul_in, 2, mul_out, 1, before, &node));
  temp_name(g, out_base, "_shifted", shifted, sizeof shifted);
  const char *add_in[2] = {scaled, kb}, *add_out[1] = {shifted};
  QC_TRY(qc_graph_add_node(g, "Add", NULL, add_in, 2, add_out, 1, before, &node));
  return add_clip01(d, shifted, gate, before);
}

/* Replaces `node` (one input x, one output y) by the hard-sigmoid chain, times x for HardSwish. */
static int decompose_hard(decomposer *d, int node, int swish, int *done) {
  qc_graph *g = d->g;
  const qc_node *n = &g->nodes[node];
  if (n->ninputs != 1 || n->noutputs != 1 || n->inputs[0] < 0 || n->outputs[0] < 0)
    return QC_OK;
  qc_dtype dt = g->values[n->inputs[0]].dtype;
  if (!(dt == QC_DT_FLOAT || (dt == QC_DT_UNDEFINED && d->float32_only)))
    return QC_OK;
  float alpha = 1.0f / 6.0f, beta = 0.5f;
  if (!swish) {
    qc_attrs a = qc_node_attrs(g, node);
    if (qc_attr_float(&a, "alpha", 0.2f, &alpha) < 0 || qc_attr_float(&a, "beta", 0.5f, &beta) < 0) {
      qc_clear_error(); /* malformed: the engine reports it */
      return QC_OK;
    }
  }
  char x[1100], y[1100], gate[1100];
  snprintf(x, sizeof x, "%s", g->values[n->inputs[0]].name);
  snprintf(y, sizeof y, "%s", g->values[n->outputs[0]].name);
  /* The replacement goes where the node was (before the next live node), and its
   * last node writes y, so y's name (maybe a graph output) survives. */
  int next = -1;
  for (int k = 0; k + 1 < g->n_order; k++)
    if (g->order[k] == node)
      next = g->order[k + 1];
  QC_TRY(qc_graph_remove_node(g, node));
  if (swish) {
    temp_name(g, y, "_gate", gate, sizeof gate);
    QC_TRY(add_hard_sigmoid(d, x, alpha, beta, y, gate, next));
    const char *in[2] = {x, gate}, *out[1] = {y};
    int mul;
    QC_TRY(qc_graph_add_node(g, "Mul", NULL, in, 2, out, 1, next, &mul));
  } else {
    QC_TRY(add_hard_sigmoid(d, x, alpha, beta, y, y, next));
  }
  *done = 1;
  return QC_OK;
}

/* Div(x, c) -> Mul(x, 1/c) when c is a float initializer with finite non-zero values. */
static int decompose_div(decomposer *d, int node, int *done) {
  qc_graph *g = d->g;
  const qc_node *n = &g->nodes[node];
  if (n->ninputs != 2 || n->noutputs != 1 || n->inputs[0] < 0 || !qc_value_is_const_init(g, n->inputs[1]) ||
      g->values[n->inputs[1]].dtype != QC_DT_FLOAT || qc_value_is_const_init(g, n->inputs[0]))
    return QC_OK;
  const qc_tensor *c;
  QC_TRY(qc_graph_initializer_view(g, n->inputs[1], &c));
  int ok = c->dtype == QC_DT_FLOAT && c->numel <= 4096;
  for (int64_t i = 0; ok && i < c->numel; i++)
    ok = isfinite(qc_f32(c)[i]) && qc_f32(c)[i] != 0.0f && isfinite(1.0f / qc_f32(c)[i]);
  if (!ok)
    return QC_OK;
  qc_tensor inv = {0};
  QC_TRY(qc_tensor_copy(&inv, c));
  for (int64_t i = 0; i < inv.numel; i++)
    qc_f32(&inv)[i] = (float)(1.0 / (double)qc_f32(&inv)[i]);
  char inv_name[64];
  int rc = add_const(d, qc_f32(&inv), inv.ndim, inv.dims, inv_name, sizeof inv_name);
  qc_tensor_release(&inv);
  if (rc == QC_OK)
    rc = qc_node_set_input(g, node, 1, inv_name);
  if (rc == QC_OK)
    rc = qc_node_set_op(g, node, "Mul");
  *done = rc == QC_OK;
  return rc;
}

int qc_pass_decompose_for_int8(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts) {
  const qc_quant_opts *opts = ctx->opts;
  qc_graph *g = m->graph;
  if (opts->weight_only || qc_graph_has_subgraphs(g))
    return QC_OK;
  decomposer d = {g, opts, 0, model_is_float32(g)};
  int n, *order;
  QC_TRY(qc_graph_order_snapshot(g, &order, &n));
  int rc = QC_OK;
  for (int k = 0; k < n && rc == QC_OK; k++) {
    int node = order[k], done = 0;
    const Onnx__NodeProto *np = g->nodes[node].proto;
    if (g->nodes[node].removed || !qc_domain_is_default(np->domain) || !node_allowed(&d, node))
      continue;
    if (!strcmp(np->op_type, "HardSwish"))
      rc = decompose_hard(&d, node, 1, &done);
    else if (!strcmp(np->op_type, "HardSigmoid"))
      rc = decompose_hard(&d, node, 0, &done);
    else if (!strcmp(np->op_type, "Div"))
      rc = decompose_div(&d, node, &done);
    if (rc == QC_OK && done)
      counts->changed++;
  }
  free(order);
  QC_TRY(rc);
  return qc_graph_prune(g);
}
