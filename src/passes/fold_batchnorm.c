/* Folds inference BatchNormalization into the preceding Conv, ConvTranspose or Gemm:
 *   s = scale / sqrt(var + eps),  W' = W * s (per output channel),
 *   b' = (b - mean) * s + B  (b = 0 when absent). Computed in double, stored as float. */
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

enum producer_kind { PROD_CONV, PROD_CONV_TRANSPOSE, PROD_GEMM };

typedef struct bn_fold {
  int bn, producer;
  enum producer_kind kind;
  float eps, beta;          /* BN epsilon; Gemm beta */
  int64_t group, trans_b;   /* ConvTranspose group; Gemm transB */
  int64_t channels;         /* M: output channels of the producer */
  double *s, *t;            /* per channel: y = s * x + t */
  qc_tensor w;              /* the weight, an owned copy (scaled in place) */
  const qc_tensor *bias;    /* optional bias / Gemm C: the graph's view, or NULL */
} bn_fold;

static void fold_release(bn_fold *f) {
  free(f->s);
  free(f->t);
  qc_tensor_release(&f->w);
}

static int is_float_const(const qc_graph *g, int v) {
  return qc_value_is_const_init(g, v) && g->values[v].dtype == QC_DT_FLOAT;
}

/* A malformed attribute leaves the node alone (the engine reports it later). */
static void attr_ok(int rc, int *ok) {
  if (rc < 0) {
    qc_clear_error();
    *ok = 0;
  }
}

static int output_unused(const qc_graph *g, int v) {
  return v < 0 || (!g->values[v].n_consumers && !(g->values[v].flags & QC_VALUE_GRAPH_OUTPUT));
}

/* Structural checks on the BN and its producer. */
static int match(const qc_graph *g, int bn, bn_fold *f) {
  const qc_node *b = &g->nodes[bn];
  if (!qc_domain_is_default(b->proto->domain) || b->ninputs != 5 || b->noutputs < 1 || b->inputs[0] < 0 ||
      b->outputs[0] < 0)
    return 0;
  for (int i = 1; i < b->noutputs; i++)
    if (!output_unused(g, b->outputs[i]))
      return 0;
  for (int i = 1; i < 5; i++)
    if (!is_float_const(g, b->inputs[i]))
      return 0;
  int64_t training = 0, spatial = 1;
  int ok = 1;
  qc_attrs a = qc_node_attrs(g, bn);
  attr_ok(qc_attr_float(&a, "epsilon", 1e-5f, &f->eps), &ok);
  attr_ok(qc_attr_int(&a, "training_mode", 0, &training), &ok);
  attr_ok(qc_attr_int(&a, "spatial", 1, &spatial), &ok);
  if (!ok || training || (g->model->opset < 9 && !spatial))
    return 0;

  const qc_value *x = &g->values[b->inputs[0]];
  int p = x->producer;
  if (p < 0 || x->n_consumers != 1 || (x->flags & QC_VALUE_GRAPH_OUTPUT))
    return 0;
  const qc_node *pn = &g->nodes[p];
  const char *op = qc_node_op(g, p);
  if (!qc_domain_is_default(pn->proto->domain) || pn->noutputs != 1 || pn->outputs[0] != b->inputs[0] ||
      pn->ninputs < 2 || !is_float_const(g, pn->inputs[1]))
    return 0;
  if (strcmp(op, "Conv") == 0)
    f->kind = PROD_CONV;
  else if (strcmp(op, "ConvTranspose") == 0)
    f->kind = PROD_CONV_TRANSPOSE;
  else if (strcmp(op, "Gemm") == 0 && g->model->opset >= 7) /* older Gemm has a 'broadcast' flag */
    f->kind = PROD_GEMM;
  else
    return 0;
  if (pn->ninputs > 2 && pn->inputs[2] >= 0 && !is_float_const(g, pn->inputs[2]))
    return 0;
  a = qc_node_attrs(g, p);
  attr_ok(qc_attr_int(&a, "group", 1, &f->group), &ok);
  attr_ok(qc_attr_int(&a, "transB", 0, &f->trans_b), &ok);
  attr_ok(qc_attr_float(&a, "beta", 1.0f, &f->beta), &ok);
  if (!ok || f->group < 1)
    return 0;
  f->bn = bn;
  f->producer = p;
  return 1;
}

/* Decodes W, bias and BN parameters; checks their shapes. *ok = 0: skip. */
static int load(const qc_graph *g, bn_fold *f, int *ok) {
  const qc_node *b = &g->nodes[f->bn], *pn = &g->nodes[f->producer];
  *ok = 0;
  QC_TRY(qc_graph_initializer(g, pn->inputs[1], &f->w));
  const qc_tensor *w = &f->w;
  switch (f->kind) {
  case PROD_CONV:
    if (w->ndim < 3)
      return QC_OK;
    f->channels = w->dims[0];
    break;
  case PROD_CONV_TRANSPOSE:
    if (w->ndim < 3 || w->dims[0] % f->group)
      return QC_OK;
    f->channels = w->dims[1] * f->group;
    break;
  case PROD_GEMM:
    if (w->ndim != 2)
      return QC_OK;
    f->channels = f->trans_b ? w->dims[0] : w->dims[1];
    break;
  }
  int64_t m = f->channels;
  if (m <= 0)
    return QC_OK;
  if (pn->ninputs > 2 && pn->inputs[2] >= 0) {
    QC_TRY(qc_graph_initializer_view(g, pn->inputs[2], &f->bias));
    const qc_tensor *c = f->bias;
    int row_vector; /* broadcasts along Gemm rows only: [], [1], [M], [1,1], [1,M] */
    if (f->kind == PROD_GEMM)
      row_vector = (c->ndim == 0 || (c->ndim == 1 && (c->dims[0] == 1 || c->dims[0] == m)) ||
                    (c->ndim == 2 && c->dims[0] == 1 && (c->dims[1] == 1 || c->dims[1] == m)));
    else
      row_vector = c->ndim == 1 && c->dims[0] == m;
    if (!row_vector)
      return QC_OK;
  }
  f->s = malloc(sizeof(double) * (size_t)m);
  f->t = malloc(sizeof(double) * (size_t)m);
  if (!f->s || !f->t)
    return qc_fail(QC_ENOMEM, "out of memory");
  const qc_tensor *prm[4] = {NULL};
  int rc = QC_OK;
  for (int i = 0; i < 4 && rc == QC_OK; i++)
    rc = qc_graph_initializer_view(g, b->inputs[i + 1], &prm[i]);
  if (rc == QC_OK && prm[0]->numel == m && prm[1]->numel == m && prm[2]->numel == m && prm[3]->numel == m) {
    const float *scale = qc_f32(prm[0]), *shift = qc_f32(prm[1]), *mean = qc_f32(prm[2]), *var = qc_f32(prm[3]);
    *ok = 1;
    for (int64_t j = 0; j < m; j++) {
      double denom = (double)var[j] + (double)f->eps;
      if (!(denom > 0)) {
        *ok = 0; /* a negative variance would make the engine produce NaN: leave it */
        break;
      }
      f->s[j] = (double)scale[j] / sqrt(denom);
      f->t[j] = (double)shift[j] - (double)mean[j] * f->s[j];
    }
  }
  return rc;
}

/* W' = W * s along the output-channel axis. */
static void scale_weight(bn_fold *f) {
  qc_tensor *w = &f->w;
  float *d = qc_f32(w);
  int64_t m = f->channels;
  if (f->kind == PROD_CONV || (f->kind == PROD_GEMM && f->trans_b)) {
    int64_t inner = w->numel / w->dims[0];
    for (int64_t o = 0; o < m; o++)
      for (int64_t i = 0; i < inner; i++)
        d[o * inner + i] = (float)(d[o * inner + i] * f->s[o]);
  } else if (f->kind == PROD_GEMM) { /* B is [K, M] */
    for (int64_t r = 0; r < w->dims[0]; r++)
      for (int64_t o = 0; o < m; o++)
        d[r * m + o] = (float)(d[r * m + o] * f->s[o]);
  } else { /* ConvTranspose W is [C_in, M/group, k...]; channel o = (ci / (C_in/group)) * (M/group) + j */
    int64_t cin = w->dims[0], per_group_out = w->dims[1], inner = w->numel / (cin * per_group_out);
    int64_t in_per_group = cin / f->group;
    for (int64_t ci = 0; ci < cin; ci++)
      for (int64_t j = 0; j < per_group_out; j++) {
        double s = f->s[(ci / in_per_group) * per_group_out + j];
        float *row = d + (ci * per_group_out + j) * inner;
        for (int64_t i = 0; i < inner; i++)
          row[i] = (float)(row[i] * s);
      }
  }
}

/* b' = b * s + t for Conv; Gemm: C' = s * C + t / beta (beta = 1 when it was 0). */
static int new_bias(bn_fold *f, qc_tensor *out, int *reset_beta) {
  int64_t m = f->channels;
  QC_TRY(qc_tensor_alloc(out, QC_DT_FLOAT, 1, &m));
  float *o = qc_f32(out);
  const qc_tensor *c = f->bias;
  *reset_beta = f->kind == PROD_GEMM && f->beta == 0.0f;
  for (int64_t j = 0; j < m; j++) {
    double cj = c ? (double)qc_f32(c)[c->numel == 1 ? 0 : j] : 0.0;
    if (f->kind != PROD_GEMM)
      o[j] = (float)(cj * f->s[j] + f->t[j]);
    else if (*reset_beta)
      o[j] = (float)f->t[j];
    else
      o[j] = (float)(cj * f->s[j] + f->t[j] / (double)f->beta);
  }
  return QC_OK;
}

/* Stores t as input `slot` of the producer: in place when only it reads the
 * initializer, else under a fresh name. */
static int store_input(qc_graph *g, int node, int slot, const qc_tensor *t, const char *base) {
  const qc_node *n = &g->nodes[node];
  int v = slot < n->ninputs ? n->inputs[slot] : -1;
  if (v >= 0 && g->values[v].n_consumers == 1 && !(g->values[v].flags & QC_VALUE_GRAPH_OUTPUT))
    return qc_graph_put_initializer(g, g->values[v].name, t);
  char name[512];
  qc_graph_unique_name(g, base, name, sizeof name);
  QC_TRY(qc_graph_put_initializer(g, name, t));
  return qc_node_set_input(g, node, slot, name);
}

static int apply(qc_graph *g, bn_fold *f) {
  char base[512];
  qc_tensor b = {0};
  int reset_beta, p = f->producer;
  scale_weight(f);
  QC_TRY(new_bias(f, &b, &reset_beta));
  snprintf(base, sizeof base, "%s_bnfold", g->values[g->nodes[p].inputs[1]].name);
  int rc = store_input(g, p, 1, &f->w, base);
  snprintf(base, sizeof base, "%s_bias", g->values[g->nodes[f->bn].outputs[0]].name);
  if (rc == QC_OK)
    rc = store_input(g, p, 2, &b, base);
  qc_tensor_release(&b);
  QC_TRY(rc);
  if (reset_beta)
    QC_TRY(qc_node_set_attr_float(g, p, "beta", 1.0f));
  /* The producer now writes the BN's output name (it may be a graph output). */
  char *y = strdup(g->values[g->nodes[f->bn].outputs[0]].name);
  if (!y)
    return qc_fail(QC_ENOMEM, "out of memory");
  rc = qc_graph_remove_node(g, f->bn);
  if (rc == QC_OK)
    rc = qc_node_rename_output(g, p, 0, y);
  free(y);
  return rc;
}

static int fold_one(qc_graph *g, int id, void *arg, int *changed) {
  (void)arg;
  if (strcmp(qc_node_op(g, id), "BatchNormalization") != 0)
    return QC_OK;
  bn_fold f;
  memset(&f, 0, sizeof f);
  int ok = 0, rc = QC_OK;
  if (match(g, id, &f) && (rc = load(g, &f, &ok)) == QC_OK && ok && (rc = apply(g, &f)) == QC_OK)
    (*changed)++;
  fold_release(&f);
  return rc;
}

int qc_pass_fold_batchnorm(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts) {
  (void)ctx;
  return qc_pass_walk(m->graph, 0, "folding", fold_one, NULL, &counts->changed);
}
