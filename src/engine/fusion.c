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

/* Whether value v (made by one node) is used by node `user` alone and is
 * no graph output: then it need never exist outside the fused kernel. */
static int only_used_by(const qc_graph *g, int v, int user) {
  const qc_value *val = &g->values[v];
  return !(val->flags & QC_VALUE_GRAPH_OUTPUT) && val->n_consumers == 1 && val->consumers[0] == user;
}

/* 1 and the activation in *out when node `act` is a float activation of
 * value v (its X, and v nowhere else among its inputs) that post_row computes. */
static int activation_of(const qc_graph *g, int v, int act, int opset, const qc_tensor *consts, qc_act *out) {
  const qc_node *a = &g->nodes[act];
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

void qc_plan_conv_fusion(const qc_graph *g, int conv, int next1, int next2, int opset, const qc_tensor *consts,
                         qc_conv_fusion *f) {
  memset(f, 0, sizeof *f);
  f->res_value = -1;
  if (conv < 0 || next1 < 0)
    return;
  const qc_node *c = &g->nodes[conv];
  if (strcmp(c->proto->op_type, "Conv") != 0 || c->noutputs != 1 || c->outputs[0] < 0)
    return;
  const int v = c->outputs[0];
  if (!only_used_by(g, v, next1))
    return;
  if (activation_of(g, v, next1, opset, consts, &f->act)) {
    f->nodes = 1;
    return;
  }
  /* Conv + Add of a second tensor (+ activation): the residual block. */
  const qc_node *a = &g->nodes[next1];
  if (strcmp(a->proto->op_type, "Add") != 0 || a->ninputs != 2 || a->noutputs != 1 || a->outputs[0] < 0)
    return;
  const int r = a->inputs[0] == v ? a->inputs[1] : a->inputs[0];
  if (r < 0 || r == v || (a->inputs[0] != v && a->inputs[1] != v))
    return;
  f->nodes = 1;
  f->res_value = r;
  const int w = a->outputs[0];
  if (next2 >= 0 && only_used_by(g, w, next2) && activation_of(g, w, next2, opset, consts, &f->act))
    f->nodes = 2;
}
