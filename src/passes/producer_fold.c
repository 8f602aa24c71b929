/* Folding a per-channel affine into the Conv, ConvTranspose or Gemm before it
 * (producer_fold.h). */
#include "producer_fold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../io/model_io.h"
#include "../ir/pass_util.h"
#include "onnx.pb-c.h"

int qc_fold_is_float_const(const qc_graph *g, int v) {
  return qc_value_is_const_init(g, v) && g->values[v].dtype == QC_DT_FLOAT;
}

void qc_fold_attr_ok(int rc, int *ok) {
  if (rc < 0) {
    qc_clear_error();
    *ok = 0;
  }
}

int qc_producer_fold_match(const qc_graph *g, int follower, int x, qc_producer_fold *f) {
  if (x < 0)
    return 0;
  const qc_value *xv = &g->values[x];
  int p = xv->producer;
  if (p < 0 || xv->n_consumers != 1 || (xv->flags & QC_VALUE_GRAPH_OUTPUT))
    return 0;
  const qc_node *pn = &g->nodes[p];
  const char *op = qc_node_op(g, p);
  if (!qc_domain_is_default(pn->proto->domain) || pn->noutputs != 1 || pn->outputs[0] != x || pn->ninputs < 2 ||
      !qc_fold_is_float_const(g, pn->inputs[1]))
    return 0;
  if (strcmp(op, "Conv") == 0)
    f->kind = QC_PROD_CONV;
  else if (strcmp(op, "ConvTranspose") == 0)
    f->kind = QC_PROD_CONV_TRANSPOSE;
  else if (strcmp(op, "Gemm") == 0 && g->model->opset >= 7) /* older Gemm has a 'broadcast' flag */
    f->kind = QC_PROD_GEMM;
  else
    return 0;
  if (pn->ninputs > 2 && pn->inputs[2] >= 0 && !qc_fold_is_float_const(g, pn->inputs[2]))
    return 0;
  int ok = 1;
  qc_attrs a = qc_node_attrs(g, p);
  qc_fold_attr_ok(qc_attr_int(&a, "group", 1, &f->group), &ok);
  qc_fold_attr_ok(qc_attr_int(&a, "transB", 0, &f->trans_b), &ok);
  qc_fold_attr_ok(qc_attr_float(&a, "beta", 1.0f, &f->beta), &ok);
  if (!ok || f->group < 1)
    return 0;
  f->follower = follower;
  f->producer = p;
  return 1;
}

int qc_producer_fold_load(const qc_graph *g, qc_producer_fold *f, int *ok) {
  const qc_node *pn = &g->nodes[f->producer];
  *ok = 0;
  QC_TRY(qc_graph_initializer(g, pn->inputs[1], &f->w));
  const qc_tensor *w = &f->w;
  switch (f->kind) {
  case QC_PROD_CONV:
    if (w->ndim < 3)
      return QC_OK;
    f->channels = w->dims[0];
    f->out_rank = w->ndim;
    break;
  case QC_PROD_CONV_TRANSPOSE:
    if (w->ndim < 3 || w->dims[0] % f->group)
      return QC_OK;
    f->channels = w->dims[1] * f->group;
    f->out_rank = w->ndim;
    break;
  case QC_PROD_GEMM:
    if (w->ndim != 2)
      return QC_OK;
    f->channels = f->trans_b ? w->dims[0] : w->dims[1];
    f->out_rank = 2;
    break;
  }
  int64_t m = f->channels;
  if (m <= 0)
    return QC_OK;
  if (pn->ninputs > 2 && pn->inputs[2] >= 0) {
    QC_TRY(qc_graph_initializer_view(g, pn->inputs[2], &f->bias));
    const qc_tensor *c = f->bias;
    int row_vector; /* broadcasts along Gemm rows only: [], [1], [M], [1,1], [1,M] */
    if (f->kind == QC_PROD_GEMM)
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
  for (int64_t j = 0; j < m; j++)
    f->s[j] = 1.0, f->t[j] = 0.0;
  *ok = 1;
  return QC_OK;
}

/* W' = W * s along the output-channel axis. */
static void scale_weight(qc_producer_fold *f) {
  qc_tensor *w = &f->w;
  float *d = qc_f32(w);
  int64_t m = f->channels;
  if (f->kind == QC_PROD_CONV || (f->kind == QC_PROD_GEMM && f->trans_b)) {
    int64_t inner = w->numel / w->dims[0];
    for (int64_t o = 0; o < m; o++)
      for (int64_t i = 0; i < inner; i++)
        d[o * inner + i] = (float)(d[o * inner + i] * f->s[o]);
  } else if (f->kind == QC_PROD_GEMM) { /* B is [K, M] */
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
static int new_bias(qc_producer_fold *f, qc_tensor *out, int *reset_beta) {
  int64_t m = f->channels;
  QC_TRY(qc_tensor_alloc(out, QC_DT_FLOAT, 1, &m));
  float *o = qc_f32(out);
  const qc_tensor *c = f->bias;
  *reset_beta = f->kind == QC_PROD_GEMM && f->beta == 0.0f;
  for (int64_t j = 0; j < m; j++) {
    double cj = c ? (double)qc_f32(c)[c->numel == 1 ? 0 : j] : 0.0;
    if (f->kind != QC_PROD_GEMM)
      o[j] = (float)(cj * f->s[j] + f->t[j]);
    else if (*reset_beta)
      o[j] = (float)f->t[j];
    else
      o[j] = (float)(cj * f->s[j] + f->t[j] / (double)f->beta);
  }
  return QC_OK;
}

int qc_fold_store_input(qc_graph *g, int node, int slot, const qc_tensor *t, const char *base) {
  const qc_node *n = &g->nodes[node];
  int v = slot < n->ninputs ? n->inputs[slot] : -1;
  if (v >= 0 && g->values[v].n_consumers == 1 && !(g->values[v].flags & QC_VALUE_GRAPH_OUTPUT))
    return qc_graph_put_initializer(g, g->values[v].name, t);
  char name[512];
  qc_graph_unique_name(g, base, name, sizeof name);
  QC_TRY(qc_graph_put_initializer(g, name, t));
  return qc_node_set_input(g, node, slot, name);
}

int qc_producer_fold_apply(qc_graph *g, qc_producer_fold *f, const char *w_suffix, const char *b_suffix) {
  char base[512];
  qc_tensor b = {0};
  int reset_beta, p = f->producer;
  scale_weight(f);
  QC_TRY(new_bias(f, &b, &reset_beta));
  snprintf(base, sizeof base, "%s%s", g->values[g->nodes[p].inputs[1]].name, w_suffix);
  int rc = qc_fold_store_input(g, p, 1, &f->w, base);
  snprintf(base, sizeof base, "%s%s", g->values[g->nodes[f->follower].outputs[0]].name, b_suffix);
  if (rc == QC_OK)
    rc = qc_fold_store_input(g, p, 2, &b, base);
  qc_tensor_release(&b);
  QC_TRY(rc);
  if (reset_beta)
    QC_TRY(qc_node_set_attr_float(g, p, "beta", 1.0f));
  /* The producer now writes the follower's output name (it may be a graph output). */
  char *y = strdup(g->values[g->nodes[f->follower].outputs[0]].name);
  if (!y)
    return qc_fail(QC_ENOMEM, "out of memory");
  rc = qc_graph_remove_node(g, f->follower);
  if (rc == QC_OK)
    rc = qc_node_rename_output(g, p, 0, y);
  free(y);
  return rc;
}

void qc_producer_fold_release(qc_producer_fold *f) {
  free(f->s);
  free(f->t);
  qc_tensor_release(&f->w);
}
