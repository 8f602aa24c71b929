/* Run-time fusion of Conv with the nodes after it, and of QuantizeLinear with
 * its DequantizeLinear readers (see fusion.h). */
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

/* The sole reader of value v, when it has one and v is no graph output; else -1. */
static int sole_consumer(const qc_graph *g, int v) {
  const qc_value *val = &g->values[v];
  return !(val->flags & QC_VALUE_GRAPH_OUTPUT) && val->n_consumers == 1 ? val->consumers[0] : -1;
}

/* Whether value v exists before plan node p runs: a constant, a graph
 * input or the output of an earlier plan node. */
static int available_before(const qc_graph *g, int v, int p, const int *plan_index, const qc_tensor *consts) {
  if (consts[v].data || (g->values[v].flags & QC_VALUE_GRAPH_INPUT))
    return 1;
  const int prod = g->values[v].producer;
  return prod >= 0 && plan_index[prod] >= 0 && plan_index[prod] < p;
}

/* A constant per-tensor float scale: 1 and its value in *out. */
static int const_scale(const qc_node *n, const qc_tensor *consts, float *out) {
  if (n->ninputs < 2 || n->inputs[1] < 0)
    return 0;
  const qc_tensor *t = &consts[n->inputs[1]];
  if (!t->data || t->dtype != QC_DT_FLOAT || t->numel != 1 || t->ndim > 1)
    return 0;
  *out = ((const float *)t->data)[0];
  return 1;
}

/* A constant per-tensor 8-bit zero point (input 2): 1 with its type and
 * value; absent -> type `def`, 0. */
static int const_zero_point(const qc_node *n, const qc_tensor *consts, qc_dtype def, qc_dtype *type, float *out) {
  if (n->ninputs < 3 || n->inputs[2] < 0) {
    *type = def;
    *out = 0;
    return 1;
  }
  const qc_tensor *t = &consts[n->inputs[2]];
  if (!t->data || t->numel != 1 || t->ndim > 1)
    return 0;
  *type = t->dtype;
  if (t->dtype == QC_DT_INT8)
    *out = ((const int8_t *)t->data)[0];
  else if (t->dtype == QC_DT_UINT8)
    *out = ((const uint8_t *)t->data)[0];
  else
    return 0;
  return 1;
}

static int no_blocks(const qc_graph *g, int node) {
  qc_attrs attrs = qc_node_attrs(g, node);
  int64_t block_size;
  if (qc_attr_int(&attrs, "block_size", 0, &block_size) < 0) {
    qc_clear_error();
    return 0;
  }
  return block_size == 0;
}

/* Node dq is a DequantizeLinear of value v alone (input 0), per tensor, whose
 * zero point has q's type and value: 1 and its scale in fq->dq_scale. */
static int dequantize_of(const qc_graph *g, int v, int dq, const qc_tensor *consts, qc_dtype qtype, qc_fake_quant *fq) {
  const qc_node *n = &g->nodes[dq];
  if (strcmp(n->proto->op_type, "DequantizeLinear") != 0 || n->ninputs < 2 || n->inputs[0] != v ||
      n->inputs[1] == v || (n->ninputs > 2 && n->inputs[2] == v) || n->noutputs != 1 || n->outputs[0] < 0 ||
      !no_blocks(g, dq))
    return 0;
  qc_dtype ztype;
  float z;
  return const_scale(n, consts, &fq->dq_scale) && const_zero_point(n, consts, qtype, &ztype, &z) &&
         ztype == qtype && z == fq->zero_point;
}

/* Node q is a QuantizeLinear to 8 bits, per tensor, with constant
 * parameters, whose output only DequantizeLinear nodes read (each once):
 * their count (<= QC_FUSE_MAX), ids in dqs and parameters in fqs; else 0. */
static int fake_quant_readers(const qc_graph *g, int q, int opset, const qc_tensor *consts, int *dqs,
                              qc_fake_quant *fqs) {
  const qc_node *n = &g->nodes[q];
  if (strcmp(n->proto->op_type, "QuantizeLinear") != 0 || n->ninputs < 2 || n->noutputs != 1 || n->outputs[0] < 0 ||
      !no_blocks(g, q))
    return 0;
  qc_fake_quant fq = {.on = 1};
  if (!const_scale(n, consts, &fq.scale) || !(fq.scale != 0) || !isfinite(fq.scale))
    return 0;
  qc_dtype qtype = QC_DT_UINT8; /* without a zero point: uint8, or output_dtype from opset 21 */
  if (opset >= 21) {
    qc_attrs attrs = qc_node_attrs(g, q);
    int64_t odt;
    if (qc_attr_int(&attrs, "output_dtype", 0, &odt) < 0) {
      qc_clear_error();
      return 0;
    }
    if (odt != 0)
      qtype = (qc_dtype)odt;
  }
  if (!const_zero_point(n, consts, qtype, &qtype, &fq.zero_point))
    return 0;
  if (qtype == QC_DT_INT8) {
    fq.qmin = -128;
    fq.qmax = 127;
  } else if (qtype == QC_DT_UINT8) {
    fq.qmin = 0;
    fq.qmax = 255;
  } else {
    return 0;
  }
  const int v = n->outputs[0];
  const qc_value *val = &g->values[v];
  if ((val->flags & QC_VALUE_GRAPH_OUTPUT) || val->n_consumers < 1 || val->n_consumers > QC_FUSE_MAX)
    return 0;
  for (int i = 0; i < val->n_consumers; i++) {
    dqs[i] = val->consumers[i];
    fqs[i] = fq;
    for (int j = 0; j < i; j++)
      if (dqs[j] == dqs[i])
        return 0;
    if (!dequantize_of(g, v, dqs[i], consts, qtype, &fqs[i]))
      return 0;
  }
  return val->n_consumers;
}

/* Appends graph node `node` to f's absorbed plan nodes (it must run after p). */
static int absorb(qc_fusion *f, int node, int p, const int *plan_index) {
  const int q = plan_index[node];
  if (q <= p || f->n_absorbed == QC_FUSE_MAX)
    return 0;
  f->absorbed[f->n_absorbed++] = q;
  return 1;
}

static void sort_absorbed(qc_fusion *f) {
  for (int i = 1; i < f->n_absorbed; i++)
    for (int j = i; j > 0 && f->absorbed[j - 1] > f->absorbed[j]; j--) {
      const int t = f->absorbed[j];
      qc_fake_quant tf = f->fq[j];
      f->absorbed[j] = f->absorbed[j - 1];
      f->fq[j] = f->fq[j - 1];
      f->absorbed[j - 1] = t;
      f->fq[j - 1] = tf;
    }
}

/* When value v's sole reader is a QuantizeLinear read by one
 * DequantizeLinear (fake_quant_readers): both absorbed, f->act.fq set. */
static void absorb_fake_quant(const qc_graph *g, int v, int p, const int *plan_index, int opset,
                              const qc_tensor *consts, qc_fusion *f) {
  const int q = sole_consumer(g, v);
  int dq[QC_FUSE_MAX]; /* fake_quant_readers fills one per reader, up to QC_FUSE_MAX */
  qc_fake_quant fq[QC_FUSE_MAX];
  if (q < 0 || g->nodes[q].inputs[0] != v || fake_quant_readers(g, q, opset, consts, dq, fq) != 1)
    return;
  const int n = f->n_absorbed;
  if (absorb(f, q, p, plan_index) && absorb(f, dq[0], p, plan_index))
    f->act.fq = fq[0];
  else
    f->n_absorbed = n;
}

/* Conv -> [activation | Add [-> activation]] -> [QuantizeLinear -> DequantizeLinear]. */
static void plan_conv(const qc_graph *g, int p, int conv, const int *plan_index, int opset, const qc_tensor *consts,
                      qc_fusion *f) {
  const qc_node *c = &g->nodes[conv];
  if (c->noutputs != 1 || c->outputs[0] < 0)
    return;
  int v = c->outputs[0]; /* the last value the epilogue computes */
  int next = sole_consumer(g, v);
  if (next >= 0 && activation_of(g, v, next, opset, consts, &f->act)) {
    if (!absorb(f, next, p, plan_index))
      return;
    v = g->nodes[next].outputs[0];
  } else if (next >= 0 && strcmp(g->nodes[next].proto->op_type, "Add") == 0) {
    /* Conv + Add of a second tensor (+ activation): the residual block. */
    const qc_node *a = &g->nodes[next];
    if (a->ninputs != 2 || a->noutputs != 1 || a->outputs[0] < 0)
      return;
    const int r = a->inputs[0] == v ? a->inputs[1] : a->inputs[0];
    if (r < 0 || r == v || (a->inputs[0] != v && a->inputs[1] != v) || !available_before(g, r, p, plan_index, consts) ||
        !absorb(f, next, p, plan_index))
      return;
    f->res_value = r;
    v = a->outputs[0];
    const int act = sole_consumer(g, v);
    if (act >= 0 && activation_of(g, v, act, opset, consts, &f->act) && absorb(f, act, p, plan_index))
      v = g->nodes[act].outputs[0];
  }
  absorb_fake_quant(g, v, p, plan_index, opset, consts, f);
  if (f->n_absorbed)
    f->kind = QC_FUSE_CONV;
  sort_absorbed(f);
}

void qc_plan_fusion(const qc_graph *g, int p, const int *plan_node, int n_plan, const int *plan_index, int opset,
                    const qc_tensor *consts, qc_fusion *f) {
  memset(f, 0, sizeof *f);
  f->res_value = -1;
  if (p < 0 || p >= n_plan || plan_index[plan_node[p]] != p)
    return;
  const int node = plan_node[p];
  const char *type = g->nodes[node].proto->op_type;
  if (strcmp(type, "Conv") == 0) {
    plan_conv(g, p, node, plan_index, opset, consts, f);
    return;
  }
  const qc_node *nd = &g->nodes[node];
  qc_fusion_kind kind = QC_FUSE_NONE;
  if (strcmp(type, "Add") == 0 || strcmp(type, "Sub") == 0 || strcmp(type, "Mul") == 0 || strcmp(type, "Div") == 0)
    kind = QC_FUSE_BINARY;
  else if (strcmp(type, "MatMul") == 0)
    kind = QC_FUSE_MATMUL;
  else if (nd->ninputs >= 1 && nd->inputs[0] >= 0 && activation_of(g, nd->inputs[0], node, opset, consts, &f->act))
    kind = QC_FUSE_ACT;
  if (kind != QC_FUSE_NONE) {
    if (nd->noutputs == 1 && nd->outputs[0] >= 0)
      absorb_fake_quant(g, nd->outputs[0], p, plan_index, opset, consts, f);
    if (f->n_absorbed)
      f->kind = kind;
    else
      memset(&f->act, 0, sizeof f->act);
    return;
  }
  int dqs[QC_FUSE_MAX];
  const int n = strcmp(type, "QuantizeLinear") == 0 ? fake_quant_readers(g, node, opset, consts, dqs, f->fq) : 0;
  for (int i = 0; i < n; i++)
    if (!absorb(f, dqs[i], p, plan_index)) {
      f->n_absorbed = 0;
      return;
    }
  if (n)
    f->kind = QC_FUSE_FAKE_QUANT;
  sort_absorbed(f);
}
