/* Folds inference BatchNormalization into the preceding Conv, ConvTranspose or Gemm:
 *   s = scale / sqrt(var + eps),  W' = W * s (per output channel),
 *   b' = (b - mean) * s + B  (b = 0 when absent). Computed in double, stored as float
 * (the producer side is producer_fold.c). */
#include <math.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../io/model_io.h"
#include "../ir/pass_util.h"
#include "onnx.pb-c.h"
#include "pass.h"
#include "producer_fold.h"

static int output_unused(const qc_graph *g, int v) {
  return v < 0 || (!g->values[v].n_consumers && !(g->values[v].flags & QC_VALUE_GRAPH_OUTPUT));
}

/* Structural checks on the BN; its epsilon in *eps. */
static int match(const qc_graph *g, int bn, float *eps, qc_producer_fold *f) {
  const qc_node *b = &g->nodes[bn];
  if (!qc_domain_is_default(b->proto->domain) || b->ninputs != 5 || b->noutputs < 1 || b->inputs[0] < 0 ||
      b->outputs[0] < 0)
    return 0;
  for (int i = 1; i < b->noutputs; i++)
    if (!output_unused(g, b->outputs[i]))
      return 0;
  for (int i = 1; i < 5; i++)
    if (!qc_fold_is_float_const(g, b->inputs[i]))
      return 0;
  int64_t training = 0, spatial = 1;
  int ok = 1;
  qc_attrs a = qc_node_attrs(g, bn);
  qc_fold_attr_ok(qc_attr_float(&a, "epsilon", 1e-5f, eps), &ok);
  qc_fold_attr_ok(qc_attr_int(&a, "training_mode", 0, &training), &ok);
  qc_fold_attr_ok(qc_attr_int(&a, "spatial", 1, &spatial), &ok);
  if (!ok || training || (g->model->opset < 9 && !spatial))
    return 0;
  return qc_producer_fold_match(g, bn, b->inputs[0], f);
}

/* s and t from the BN parameters; *ok = 0 leaves the BN alone. */
static int load_bn(const qc_graph *g, int bn, float eps, qc_producer_fold *f, int *ok) {
  QC_TRY(qc_producer_fold_load(g, f, ok));
  if (!*ok)
    return QC_OK;
  *ok = 0;
  int64_t m = f->channels;
  const qc_tensor *prm[4] = {NULL};
  for (int i = 0; i < 4; i++)
    QC_TRY(qc_graph_initializer_view(g, g->nodes[bn].inputs[i + 1], &prm[i]));
  if (prm[0]->numel != m || prm[1]->numel != m || prm[2]->numel != m || prm[3]->numel != m)
    return QC_OK;
  const float *scale = qc_f32(prm[0]), *shift = qc_f32(prm[1]), *mean = qc_f32(prm[2]), *var = qc_f32(prm[3]);
  for (int64_t j = 0; j < m; j++) {
    double denom = (double)var[j] + (double)eps;
    if (!(denom > 0))
      return QC_OK; /* a negative variance would make the engine produce NaN: leave it */
    f->s[j] = (double)scale[j] / sqrt(denom);
    f->t[j] = (double)shift[j] - (double)mean[j] * f->s[j];
  }
  *ok = 1;
  return QC_OK;
}

int qc_fold_batchnorm_node(qc_graph *g, int id, void *arg, int *changed) {
  (void)arg;
  if (strcmp(qc_node_op(g, id), "BatchNormalization") != 0)
    return QC_OK;
  qc_producer_fold f;
  memset(&f, 0, sizeof f);
  float eps = 1e-5f;
  int ok = 0, rc = QC_OK;
  if (match(g, id, &eps, &f) && (rc = load_bn(g, id, eps, &f, &ok)) == QC_OK && ok &&
      (rc = qc_producer_fold_apply(g, &f, "_bnfold", "_bias")) == QC_OK)
    (*changed)++;
  qc_producer_fold_release(&f);
  return rc;
}

int qc_pass_fold_batchnorm(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts) {
  (void)ctx;
  return qc_pass_walk(m->graph, 0, "folding", qc_fold_batchnorm_node, NULL, &counts->changed);
}
