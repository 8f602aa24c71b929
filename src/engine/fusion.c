/* Run-time fusion of Conv with the activation that follows it (see fusion.h). */
#include "fusion.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../ir/graph.h"
#include "onnx.pb-c.h"

/* Clip's bound from input i (opset >= 11): absent -> def, a constant float
 * scalar -> its value; anything computed at run time -> not fusable (0). */
static int clip_bound(const qc_node *act, int i, const qc_tensor *consts, float def, float *out) {
  if (act->ninputs <= i || act->inputs[i] < 0) {
    *out = def;
    return 1;
  }
  const qc_tensor *t = &consts[act->inputs[i]];
  if (!t->data || t->dtype != QC_DT_FLOAT || t->numel != 1)
    return 0;
  *out = ((const float *)t->data)[0];
  return 1;
}

int qc_fusable_activation(const qc_graph *g, int conv, int act, int opset, const qc_tensor *consts, qc_act *out) {
  const qc_node *c = &g->nodes[conv], *a = &g->nodes[act];
  if (strcmp(c->proto->op_type, "Conv") != 0 || c->noutputs != 1 || c->outputs[0] < 0)
    return 0;
  const int v = c->outputs[0];
  const qc_value *val = &g->values[v];
  /* The Conv's result must exist nowhere else: one use, by the activation's X. */
  if ((val->flags & QC_VALUE_GRAPH_OUTPUT) || val->n_consumers != 1 || val->consumers[0] != act)
    return 0;
  if (a->ninputs < 1 || a->inputs[0] != v || a->noutputs != 1 || a->outputs[0] < 0)
    return 0;
  for (int i = 1; i < a->ninputs; i++)
    if (a->inputs[i] == v)
      return 0;
  const char *type = a->proto->op_type;
  memset(out, 0, sizeof *out);
  qc_attrs attrs = qc_node_attrs(g, act);
  if (a->ninputs == 1) {
    /* The standalone kernels' attribute defaults (unary.c). */
    int rc = QC_OK;
    if (strcmp(type, "Relu") == 0) {
      out->kind = QC_ACT_RELU;
    } else if (strcmp(type, "Sigmoid") == 0) {
      out->kind = QC_ACT_SIGMOID;
    } else if (strcmp(type, "HardSwish") == 0) {
      out->kind = QC_ACT_HARD_SWISH;
    } else if (strcmp(type, "LeakyRelu") == 0) {
      out->kind = QC_ACT_LEAKY_RELU;
      rc = qc_attr_float(&attrs, "alpha", 0.01f, &out->a);
    } else if (strcmp(type, "HardSigmoid") == 0) {
      out->kind = QC_ACT_HARD_SIGMOID;
      rc = qc_attr_float(&attrs, "alpha", 0.2f, &out->a);
      if (rc == QC_OK)
        rc = qc_attr_float(&attrs, "beta", 0.5f, &out->b);
    }
    if (rc < 0)
      qc_clear_error();
    if (out->kind != QC_ACT_NONE)
      return rc == QC_OK;
  }
  if (strcmp(type, "Clip") == 0) {
    float lo, hi;
    if (opset < 11) {
      if (qc_attr_float(&attrs, "min", -FLT_MAX, &lo) < 0 || qc_attr_float(&attrs, "max", FLT_MAX, &hi) < 0) {
        qc_clear_error();
        return 0;
      }
    } else if (!clip_bound(a, 1, consts, -INFINITY, &lo) || !clip_bound(a, 2, consts, INFINITY, &hi)) {
      return 0;
    }
    out->kind = QC_ACT_CLIP;
    out->a = lo;
    out->b = hi;
    return 1;
  }
  return 0;
}
