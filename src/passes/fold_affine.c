/* Folds constant affine nodes into a neighbouring Conv, ConvTranspose or Gemm
 * (docs/passes.md, fold_affine), and a BatchNormalization that such a fold
 * leaves right after its producer (ConvTranspose -> Add(bias) -> BN). A Mul, Add, Sub or Div with one constant
 * operand c is y = s * x + t per channel:
 *   Mul: s = c, t = 0   Div x/c: s = 1/c, t = 0   Add: s = 1, t = c
 *   Sub x-c: s = 1, t = -c   Sub c-x: s = -1, t = c
 * After a producer (x is its only use): W' = W * s, b' = b * s + t per
 * output channel, exact (producer_fold.c).
 * Before a Conv (y is read only by it, as its data input), with s the same
 * for every channel: W' = W * s, b'[o] = b[o] + sum_{i,k} W[o,i,k] * t[i].
 * The sum is exact only where the Conv reads no padding, so a t != 0 is
 * folded only into a Conv without pads, and a positive scale alone is left
 * to the QDQ pass, which reads it as a rescale at no cost. Each fold takes
 * one quantization point out of the model (the affine's own Q/DQ). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../io/model_io.h"
#include "../ir/pass_util.h"
#include "onnx.pb-c.h"
#include "pass.h"
#include "producer_fold.h"

typedef struct affine {
  int x;                  /* the data input's value id */
  int s_sign, t_sign;     /* Sub x - c: t = -c; Sub c - x: s = -1 */
  int divide;             /* Div x / c */
  int is_add;             /* Add or Sub: c gives t, else c gives s */
  const qc_tensor *c;
} affine;

static int match_affine(const qc_graph *g, int node, affine *a) {
  const qc_node *n = &g->nodes[node];
  const char *op = qc_node_op(g, node);
  int mul = strcmp(op, "Mul") == 0, add = strcmp(op, "Add") == 0, sub = strcmp(op, "Sub") == 0,
      div = strcmp(op, "Div") == 0;
  if (!(mul || add || sub || div) || !qc_domain_is_default(n->proto->domain) || n->ninputs != 2 ||
      n->noutputs != 1 || n->outputs[0] < 0)
    return 0; /* the output's type is the float constant's (Mul/Add/Sub/Div take one type) */
  int c0 = qc_fold_is_float_const(g, n->inputs[0]), c1 = qc_fold_is_float_const(g, n->inputs[1]);
  if (c0 == c1 || n->inputs[0] < 0 || n->inputs[1] < 0)
    return 0;
  int cslot = c0 ? 0 : 1;
  if (div && cslot == 0)
    return 0; /* c / x is not affine */
  memset(a, 0, sizeof *a);
  a->x = n->inputs[1 - cslot];
  a->s_sign = sub && cslot == 0 ? -1 : 1;
  a->t_sign = sub && cslot == 1 ? -1 : 1;
  a->divide = div;
  a->is_add = add || sub;
  if (qc_graph_initializer_view(g, n->inputs[cslot], &a->c) < 0) {
    qc_clear_error();
    return 0;
  }
  const qc_tensor *c = a->c;
  for (int64_t i = 0; i < c->numel; i++) {
    float v = qc_f32(c)[i];
    if (!isfinite(v) || (div && v == 0.0f))
      return 0;
  }
  return 1;
}

/* Whether c broadcasts along channel axis 1 of a rank-`rank` tensor with m
 * channels, without changing its shape. */
static int per_channel(const qc_tensor *c, int rank, int64_t m) {
  if (c->ndim > rank)
    return 0;
  for (int p = 0; p < c->ndim; p++) {
    int axis = rank - c->ndim + p;
    if (c->dims[p] != 1 && !(axis == 1 && c->dims[p] == m))
      return 0;
  }
  return c->numel == 1 || c->numel == m;
}

static void channel_st(const affine *a, int64_t j, double *s, double *t) {
  double v = (double)qc_f32(a->c)[a->c->numel == 1 ? 0 : j];
  if (a->is_add)
    *s = a->s_sign, *t = a->t_sign * v;
  else
    *s = a->divide ? 1.0 / v : v, *t = 0.0;
}

static int fold_into_producer(qc_graph *g, int node, const affine *a, int *done) {
  qc_producer_fold f;
  memset(&f, 0, sizeof f);
  int ok = 0, rc = QC_OK;
  if (qc_producer_fold_match(g, node, a->x, &f) && (rc = qc_producer_fold_load(g, &f, &ok)) == QC_OK && ok &&
      per_channel(a->c, f.out_rank, f.channels)) {
    for (int64_t j = 0; j < f.channels; j++)
      channel_st(a, j, &f.s[j], &f.t[j]);
    if ((rc = qc_producer_fold_apply(g, &f, "_affine", "_bias")) == QC_OK)
      *done = 1;
  }
  qc_producer_fold_release(&f);
  return rc;
}

/* Whether the Conv reads no padding: auto_pad NOTSET or VALID, pads all 0. */
static int conv_unpadded(const qc_graph *g, int conv) {
  qc_attrs at = qc_node_attrs(g, conv);
  char auto_pad[32];
  const int64_t *pads = NULL;
  size_t n = 0;
  if (qc_attr_string(&at, "auto_pad", "NOTSET", auto_pad, sizeof auto_pad) < 0 ||
      (qc_attr_has(&at, "pads") && qc_attr_ints(&at, "pads", &pads, &n) < 0)) {
    qc_clear_error();
    return 0;
  }
  if (strcmp(auto_pad, "VALID") != 0 && strcmp(auto_pad, "NOTSET") != 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (pads[i] != 0)
      return 0;
  return 1;
}

static int fold_into_conv(qc_graph *g, int node, const affine *a, int *done) {
  int y = g->nodes[node].outputs[0];
  const qc_value *yv = &g->values[y];
  if (yv->n_consumers != 1 || (yv->flags & QC_VALUE_GRAPH_OUTPUT))
    return QC_OK;
  int conv = yv->consumers[0];
  const qc_node *cn = &g->nodes[conv];
  if (strcmp(qc_node_op(g, conv), "Conv") != 0 || !qc_domain_is_default(cn->proto->domain) || cn->ninputs < 2 ||
      cn->inputs[0] != y || cn->inputs[1] == y || !qc_fold_is_float_const(g, cn->inputs[1]) ||
      (cn->ninputs > 2 && cn->inputs[2] >= 0 && !qc_fold_is_float_const(g, cn->inputs[2])))
    return QC_OK;
  int64_t group = 1;
  int ok = 1;
  qc_attrs at = qc_node_attrs(g, conv);
  qc_fold_attr_ok(qc_attr_int(&at, "group", 1, &group), &ok);
  const qc_tensor *wv, *bv = NULL;
  QC_TRY(qc_graph_initializer_view(g, cn->inputs[1], &wv));
  if (!ok || group < 1 || wv->ndim < 3 || wv->dims[0] % group)
    return QC_OK;
  int64_t m = wv->dims[0], cg = wv->dims[1], cin = cg * group, inner = wv->numel / (m * cg);
  if (!per_channel(a->c, wv->ndim, cin))
    return QC_OK;
  if (cn->ninputs > 2 && cn->inputs[2] >= 0) {
    QC_TRY(qc_graph_initializer_view(g, cn->inputs[2], &bv));
    if (bv->ndim != 1 || bv->dims[0] != m)
      return QC_OK;
  }
  double s0, t0, s, t;
  int any_t = 0;
  channel_st(a, 0, &s0, &t0);
  for (int64_t i = 0; i < cin; i++) {
    channel_st(a, i, &s, &t);
    if (s != s0)
      return QC_OK; /* a per-channel scale would skew the weights within an output channel */
    any_t |= t != 0.0;
  }
  if (any_t && !conv_unpadded(g, conv))
    return QC_OK;
  if (!any_t && s0 > 0)
    return QC_OK; /* a positive scale alone is already free: the QDQ pass reads it as a rescale */

  qc_tensor w = {0}, b = {0};
  int rc = qc_graph_initializer(g, cn->inputs[1], &w);
  if (rc == QC_OK)
    rc = qc_tensor_alloc(&b, QC_DT_FLOAT, 1, &m);
  if (rc == QC_OK) {
    float *wd = qc_f32(&w), *bd = qc_f32(&b);
    for (int64_t o = 0; o < m; o++) {
      double sum = bv ? (double)qc_f32(bv)[o] : 0.0;
      int64_t first_in = (o / (m / group)) * cg;
      for (int64_t i = 0; i < cg; i++) {
        channel_st(a, first_in + i, &s, &t);
        float *row = wd + (o * cg + i) * inner;
        for (int64_t k = 0; k < inner; k++) {
          sum += (double)row[k] * t;
          row[k] = (float)(row[k] * s0);
        }
      }
      bd[o] = (float)sum;
    }
    char base[512];
    snprintf(base, sizeof base, "%s_affine", g->values[cn->inputs[1]].name);
    rc = qc_fold_store_input(g, conv, 1, &w, base);
    snprintf(base, sizeof base, "%s_bias", g->values[y].name);
    if (rc == QC_OK && any_t) /* a scale alone leaves the bias as it is */
      rc = qc_fold_store_input(g, conv, 2, &b, base);
  }
  qc_tensor_release(&w);
  qc_tensor_release(&b);
  /* The Conv reads x; the affine node goes. */
  if (rc == QC_OK) /* value ids are stable across these rewrites; set_input copies the name */
    rc = qc_node_set_input(g, conv, 0, g->values[a->x].name);
  QC_TRY(rc);
  QC_TRY(qc_graph_remove_node(g, node));
  *done = 1;
  return QC_OK;
}

static int fold_one(qc_graph *g, int id, void *arg, int *changed) {
  affine a;
  if (strcmp(qc_node_op(g, id), "BatchNormalization") == 0) /* one that an affine fold has just freed */
    return qc_fold_batchnorm_node(g, id, arg, changed);
  if (!match_affine(g, id, &a))
    return QC_OK;
  int done = 0;
  QC_TRY(fold_into_producer(g, id, &a, &done));
  if (!done)
    QC_TRY(fold_into_conv(g, id, &a, &done));
  *changed += done;
  return QC_OK;
}

int qc_pass_fold_affine(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts) {
  (void)ctx;
  /* A fold can make the next one possible (Conv -> Mul -> Add; Mul -> Add -> Conv). */
  for (int round = 0; round < 64; round++) {
    int before = counts->changed;
    QC_TRY(qc_pass_walk(m->graph, 0, "folding", fold_one, NULL, &counts->changed));
    if (counts->changed == before)
      break;
  }
  return QC_OK;
}
