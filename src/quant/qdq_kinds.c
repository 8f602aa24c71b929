/* What the QDQ pass needs to know about nodes and values: the op-kind table
 * (qdq.c's header comment gives the rules), rescales, dtypes the model does
 * not declare, and constant facts (Clip bounds, zero tensors). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "onnx.pb-c.h"
#include "qdq_internal.h"

typedef struct op_kind {
  const char *op;
  int kind;
} op_kind;

static const op_kind op_kinds[] = {
    {"Add", K_FUSED},           {"AveragePool", K_FUSED},   {"Clip", K_REMOVABLE},
    {"Concat", K_FUSED},        {"Conv", K_WEIGHTED},       {"ConvTranspose", K_WEIGHTED},
    {"Flatten", K_SHARED},      {"Gather", K_SHARED},       {"Gemm", K_WEIGHTED},
    {"GlobalAveragePool", K_FUSED}, {"LeakyRelu", K_FUSED}, {"MatMul", K_WEIGHTED},
    {"MaxPool", K_SHARED},      {"Mul", K_FUSED},           {"Pad", K_SHARED},
    {"Relu", K_REMOVABLE},      {"Reshape", K_SHARED},      {"Resize", K_SHARED},
    {"Sigmoid", K_FUSED},       {"Slice", K_SHARED},        {"Softmax", K_FUSED},
    {"Split", K_SHARED},        {"Squeeze", K_SHARED},      {"Transpose", K_SHARED},
    {"Unsqueeze", K_SHARED},
};

int qdq_op_kind(const char *op) {
  for (size_t i = 0; i < sizeof op_kinds / sizeof op_kinds[0]; i++)
    if (strcmp(op_kinds[i].op, op) == 0)
      return op_kinds[i].kind;
  return K_NONE;
}

int qc_qdq_op_supported(const char *op_type) { return qdq_op_kind(op_type) != K_NONE; }

const char *qc_qdq_supported_ops(void) {
  static char buf[512];
  if (!buf[0])
    for (size_t i = 0; i < sizeof op_kinds / sizeof op_kinds[0]; i++)
      snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "", op_kinds[i].op);
  return buf;
}

/* The dtype of v where the model declares none: shape arithmetic (Shape ->
 * Cast -> Slice -> Concat) must not look like an activation to quantize. */
static qc_dtype known_dtype(const qc_graph *g, int v, int depth) {
  if (g->values[v].dtype != QC_DT_UNDEFINED || depth > 16)
    return g->values[v].dtype;
  int p = g->values[v].producer;
  if (p < 0)
    return QC_DT_UNDEFINED;
  const char *op = qc_node_op(g, p);
  if (!strcmp(op, "Shape") || !strcmp(op, "Size"))
    return QC_DT_INT64;
  if (!strcmp(op, "Cast")) {
    qc_attrs a = qc_node_attrs(g, p);
    int64_t to;
    if (qc_attr_type(&a, "to") != QC_ATTR_INT || qc_attr_int(&a, "to", 0, &to) < 0)
      return QC_DT_UNDEFINED;
    return (qc_dtype)to;
  }
  static const char *const same_as_input0[] = {"Concat", "Slice", "Gather", "Reshape", "Squeeze", "Unsqueeze",
                                               "Identity", "Flatten", "Transpose", "Expand", "Tile"};
  for (size_t i = 0; i < sizeof same_as_input0 / sizeof *same_as_input0; i++)
    if (!strcmp(op, same_as_input0[i]) && g->nodes[p].ninputs > 0 && g->nodes[p].inputs[0] >= 0)
      return known_dtype(g, g->nodes[p].inputs[0], depth + 1);
  return QC_DT_UNDEFINED;
}

int qdq_is_float_activation(const qc_graph *g, int v) {
  if (v < 0)
    return 0;
  const qc_value *val = &g->values[v];
  qc_dtype dt = known_dtype(g, v, 0);
  return !(val->flags & QC_VALUE_INITIALIZER) && (dt == QC_DT_FLOAT || dt == QC_DT_UNDEFINED);
}

int qdq_is_float_initializer(const qc_graph *g, int v) {
  return v >= 0 && (g->values[v].flags & QC_VALUE_INITIALIZER) && g->values[v].dtype == QC_DT_FLOAT;
}

int qdq_weighted_ok(const qc_graph *g, int node) {
  const qc_node *n = &g->nodes[node];
  return n->ninputs >= 2 && qdq_is_float_initializer(g, n->inputs[1]) && qdq_is_float_activation(g, n->inputs[0]);
}

/* Mul(x, c) with c a positive, finite scalar float initializer that does not
 * broadcast x to a higher rank: y = c * x is x's quantized tensor read with
 * scale c * s_x. Bounded so that c * s_x stays a normal float. */
static int rescale_factor(const qc_graph *g, int node, int *act_slot, float *factor) {
  const qc_node *n = &g->nodes[node];
  if (strcmp(qc_node_op(g, node), "Mul") != 0 || n->ninputs != 2 || n->noutputs != 1)
    return 0;
  for (int slot = 0; slot < 2; slot++) {
    int c = n->inputs[1 - slot], x = n->inputs[slot];
    if (c < 0 || !(g->values[c].flags & QC_VALUE_INITIALIZER) || g->values[c].dtype != QC_DT_FLOAT ||
        !qdq_is_float_activation(g, x))
      continue;
    if (g->values[c].ndim > 1 && (g->values[x].ndim < 0 || g->values[c].ndim > g->values[x].ndim))
      continue;
    const qc_tensor *t;
    int ok = qc_graph_initializer_view(g, c, &t) == QC_OK && t->dtype == QC_DT_FLOAT && t->numel == 1;
    float v = ok ? qc_f32(t)[0] : 0.0f;
    if (ok && v >= 0x1p-20f && v <= 0x1p20f) {
      *act_slot = slot;
      *factor = v;
      return 1;
    }
  }
  return 0;
}

int qdq_node_kind(const qc_graph *g, int node, int *act_slot, float *factor) {
  int slot = 0;
  float c = 1.0f;
  int kind = rescale_factor(g, node, &slot, &c) ? K_RESCALE : qdq_op_kind(qc_node_op(g, node));
  if (act_slot)
    *act_slot = slot;
  if (factor)
    *factor = c;
  return kind;
}

int qc_qdq_node_is_compute(const qc_graph *g, int node) {
  int kind = qdq_node_kind(g, node, NULL, NULL);
  return kind == K_WEIGHTED || kind == K_FUSED;
}

/* A Clip bound: attribute `name` (before opset 11), else input `slot` as a
 * scalar float initializer; `absent` when neither is given. 0 if not constant
 * (or, for an attribute, not a float). */
static int clip_bound(const qc_graph *g, int node, const char *name, int slot, float absent, float *out) {
  const qc_node *n = &g->nodes[node];
  qc_attrs a = qc_node_attrs(g, node);
  *out = absent;
  if (qc_attr_has(&a, name)) {
    if (qc_attr_float(&a, name, absent, out) == QC_OK)
      return 1;
    qc_clear_error();
    *out = absent;
    return 0;
  }
  if (n->ninputs <= slot || n->inputs[slot] < 0)
    return 1;
  if (!(g->values[n->inputs[slot]].flags & QC_VALUE_INITIALIZER))
    return 0;
  const qc_tensor *t;
  int ok = qc_graph_initializer_view(g, n->inputs[slot], &t) == QC_OK && t->dtype == QC_DT_FLOAT && t->numel == 1;
  if (ok)
    *out = qc_f32(t)[0];
  return ok;
}

int qdq_clip_bounds(const qc_graph *g, int node, float *lo, float *hi) {
  *lo = 0.0f, *hi = INFINITY;
  if (strcmp(qc_node_op(g, node), "Relu") == 0)
    return 1;
  return strcmp(qc_node_op(g, node), "Clip") == 0 && clip_bound(g, node, "min", 1, -INFINITY, lo) &&
         clip_bound(g, node, "max", 2, INFINITY, hi);
}

int qdq_all_zero(const qc_graph *g, const qc_stats_set *stats, int v) {
  if (v < 0)
    return 0;
  if (qdq_is_float_initializer(g, v)) {
    const qc_tensor *t;
    int zero = qc_graph_initializer_view(g, v, &t) == QC_OK && t->dtype == QC_DT_FLOAT;
    for (int64_t i = 0; zero && i < t->numel; i++)
      zero = qc_f32(t)[i] == 0.0f;
    return zero;
  }
  const qc_stats *s = qc_stats_set_find(stats, g->values[v].name);
  return s && s->count > 0 && s->nonfinite == 0 && s->min == 0.0f && s->max == 0.0f;
}
