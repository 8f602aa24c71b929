/* Removal of Identity and of inference Dropout (docs/passes.md): readers of
 * the output read the input instead; a graph output keeps its name. */
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../ir/pass_util.h"
#include "onnx.pb-c.h"
#include "pass.h"

static int oom(void) { return qc_fail(QC_ENOMEM, "out of memory"); }

/* A boolean scalar known at conversion time: an initializer or a Constant node's value. */
static int const_bool(const qc_graph *g, int v, int *known, int *value) {
  *known = 0;
  qc_tensor t = {0};
  if (qc_value_is_const_init(g, v)) {
    const qc_tensor *view;
    QC_TRY(qc_graph_initializer_view(g, v, &view));
    qc_tensor_wrap(&t, view->dtype, view->ndim, view->dims, view->data);
  } else if (g->values[v].producer >= 0 && strcmp(qc_node_op(g, g->values[v].producer), "Constant") == 0) {
    qc_attrs a = qc_node_attrs(g, g->values[v].producer);
    if (!qc_attr_has(&a, "value") || qc_attr_tensor(&a, "value", &t) < 0) {
      qc_clear_error();
      return QC_OK;
    }
  } else {
    return QC_OK;
  }
  if (t.numel == 1 && qc_dtype_size(t.dtype) > 0) {
    *known = 1;
    *value = qc_tensor_get_i64(&t, 0) != 0;
  }
  qc_tensor_release(&t);
  return QC_OK;
}

/* Whether a Dropout node is the identity at inference and its mask is unused. */
static int dropout_is_identity(const qc_graph *g, int node, int *yes) {
  const qc_node *n = &g->nodes[node];
  *yes = 0;
  for (int i = 1; i < n->noutputs; i++) {
    int v = n->outputs[i];
    if (v >= 0 && (g->values[v].n_consumers || (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT)))
      return QC_OK;
  }
  int opset = g->model->opset;
  if (opset >= 12) {
    if (n->ninputs > 2 && n->inputs[2] >= 0) {
      int known, training;
      QC_TRY(const_bool(g, n->inputs[2], &known, &training));
      if (!known || training)
        return QC_OK;
    }
  } else if (opset < 7) {
    /* is_test=0 means training mode before opset 7 (unless ratio is 0). */
    int64_t is_test;
    float ratio;
    qc_attrs a = qc_node_attrs(g, node);
    if (qc_attr_int(&a, "is_test", 0, &is_test) < 0 || qc_attr_float(&a, "ratio", 0.5f, &ratio) < 0) {
      qc_clear_error();
      return QC_OK;
    }
    if (!is_test && ratio != 0)
      return QC_OK;
  }
  *yes = 1;
  return QC_OK;
}

/* Splices out a pass-through node (output 0 == input 0). *removed is 0 when
 * the node must stay to keep a graph output name. */
static int splice_out(qc_graph *g, int node, int *removed) {
  const qc_node *n = &g->nodes[node];
  *removed = 0;
  if (n->ninputs < 1 || n->noutputs < 1 || n->inputs[0] < 0 || n->outputs[0] < 0)
    return QC_OK;
  int in = n->inputs[0], out = n->outputs[0];
  const qc_value *vin = &g->values[in], *vout = &g->values[out];
  if ((vin->flags | vout->flags) & QC_VALUE_NOT_TENSOR)
    return QC_OK;
  if (!(vout->flags & QC_VALUE_GRAPH_OUTPUT)) {
    QC_TRY(qc_graph_remove_node(g, node));
    QC_TRY(qc_graph_replace_uses(g, out, in, -1, 0));
    *removed = 1;
    return QC_OK;
  }
  /* The output name must survive: the producer of `in` produces it directly. */
  int producer = vin->producer;
  if (producer < 0 || (vin->flags & QC_VALUE_GRAPH_OUTPUT))
    return QC_OK;
  int slot = -1;
  for (int i = 0; i < g->nodes[producer].noutputs; i++)
    if (g->nodes[producer].outputs[i] == in)
      slot = i;
  if (slot < 0)
    return qc_fail(QC_EINTERNAL, "value '%s' is not an output of its producer", vin->name);
  char *out_name = strdup(vout->name);
  if (!out_name)
    return oom();
  int rc = qc_graph_remove_node(g, node);
  if (rc == QC_OK)
    rc = qc_node_rename_output(g, producer, slot, out_name);
  free(out_name);
  QC_TRY(rc);
  *removed = 1;
  return QC_OK;
}

static int remove_one(qc_graph *g, int id, void *arg, int *changed) {
  (void)arg;
  if (!qc_domain_is_default(g->nodes[id].proto->domain))
    return QC_OK;
  const char *op = qc_node_op(g, id);
  int is_identity = strcmp(op, "Identity") == 0, is_dropout = strcmp(op, "Dropout") == 0, removed = 0;
  if (is_dropout)
    QC_TRY(dropout_is_identity(g, id, &is_dropout));
  if (!is_identity && !is_dropout)
    return QC_OK;
  QC_TRY(splice_out(g, id, &removed));
  *changed += removed;
  return QC_OK;
}

int qc_pass_remove_identity(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts) {
  (void)ctx;
  return qc_pass_walk(m->graph, 0, "removing", remove_one, NULL, &counts->changed);
}
