#include "param_bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../io/model_io.h"
#include "../ir/graph.h"
#include "onnx.pb-c.h"

/* The op type an initializer belongs to (see the header). */
static const char *owner_op(const qc_graph *g, int v) {
  const qc_value *val = &g->values[v];
  const char *fallback = "(unused)";
  for (int c = 0; c < val->n_consumers; c++)
    if (strcmp(qc_node_op(g, val->consumers[c]), "QuantizeLinear") == 0)
      return "QuantizeLinear"; /* an activation's scale or zero point */
  for (int c = 0; c < val->n_consumers; c++) {
    int node = val->consumers[c];
    const char *op = qc_node_op(g, node);
    if (strcmp(op, "DequantizeLinear") == 0) {
      int out = g->nodes[node].outputs[0];
      if (out >= 0 && g->values[out].n_consumers > 0)
        return qc_node_op(g, g->values[out].consumers[0]);
      fallback = op;
    } else {
      return op;
    }
  }
  return fallback;
}

/* Index of op's row in ops, appending an empty row when new. */
static int op_slot(qc_op_bytes **ops, int *n_ops, const char *op, int *j) {
  for (*j = 0; *j < *n_ops; (*j)++)
    if (strcmp((*ops)[*j].op_type, op) == 0)
      return QC_OK;
  qc_op_bytes *grown = realloc(*ops, sizeof *grown * (size_t)(*n_ops + 1));
  if (!grown)
    return qc_fail(QC_ENOMEM, "out of memory");
  *ops = grown;
  memset(&grown[*j], 0, sizeof grown[*j]);
  snprintf(grown[*j].op_type, sizeof grown[*j].op_type, "%s", op);
  (*n_ops)++;
  return QC_OK;
}

int qc_for_each_parameter(const qc_model *m, int (*fn)(void *user, int value, const Onnx__TensorProto *t),
                          void *user) {
  const qc_graph *g = m->graph;
  for (int v = 0; v < g->n_values; v++)
    if ((g->values[v].flags & QC_VALUE_INITIALIZER) && g->values[v].init)
      QC_TRY(fn(user, v, g->values[v].init));
  for (int k = 0; k < g->n_order; k++) {
    const qc_node *nd = &g->nodes[g->order[k]];
    const Onnx__NodeProto *np = nd->proto;
    if (strcmp(np->op_type, "Constant") != 0 || nd->noutputs < 1 || nd->outputs[0] < 0)
      continue;
    for (size_t i = 0; i < np->n_attribute; i++)
      if (np->attribute[i]->name && strcmp(np->attribute[i]->name, "value") == 0 && np->attribute[i]->t)
        QC_TRY(fn(user, nd->outputs[0], np->attribute[i]->t));
  }
  return QC_OK;
}

void qc_tensor_proto_size(const Onnx__TensorProto *t, int64_t *elements, double *bytes) {
  int64_t n = 1;
  for (size_t d = 0; d < t->n_dims; d++)
    n *= t->dims[d];
  int dt = t->has_data_type ? t->data_type : 0;
  *elements = n;
  *bytes = (double)n * (double)qc_dtype_size(qc_dtype_is_valid(dt) ? (qc_dtype)dt : QC_DT_UNDEFINED);
}

typedef struct bytes_ctx {
  const qc_graph *g;
  int after;
  qc_op_bytes **ops;
  int *n_ops;
} bytes_ctx;

static int add_param(void *user, int value, const Onnx__TensorProto *t) {
  bytes_ctx *c = user;
  int64_t n;
  double bytes;
  int j;
  qc_tensor_proto_size(t, &n, &bytes);
  QC_TRY(op_slot(c->ops, c->n_ops, owner_op(c->g, value), &j));
  if (c->after) {
    (*c->ops)[j].quant_bytes += bytes;
  } else {
    (*c->ops)[j].fp32_bytes += bytes;
    (*c->ops)[j].params += n;
  }
  return QC_OK;
}

int qc_param_bytes(const qc_model *m, int after, qc_op_bytes **ops, int *n_ops) {
  bytes_ctx c = {m->graph, after, ops, n_ops};
  return qc_for_each_parameter(m, add_param, &c);
}

int qc_count_nodes(const qc_model *m, qc_op_bytes **ops, int *n_ops, int *total, int *quantized) {
  const qc_graph *g = m->graph;
  *total = *quantized = 0;
  for (int k = 0; k < g->n_order; k++) {
    int id = g->order[k];
    const char *op = qc_node_op(g, id);
    if (strcmp(op, "QuantizeLinear") == 0 || strcmp(op, "DequantizeLinear") == 0)
      continue;
    /* Quantized: reads at least one dequantized activation or weight. */
    int q = 0;
    const qc_node *nd = &g->nodes[id];
    for (int i = 0; i < nd->ninputs && !q; i++) {
      int v = nd->inputs[i];
      int p = v >= 0 ? g->values[v].producer : -1;
      q = p >= 0 && strcmp(qc_node_op(g, p), "DequantizeLinear") == 0;
    }
    int j;
    QC_TRY(op_slot(ops, n_ops, op, &j));
    (*ops)[j].nodes++;
    (*ops)[j].nodes_quantized += q;
    (*total)++;
    *quantized += q;
  }
  return QC_OK;
}
