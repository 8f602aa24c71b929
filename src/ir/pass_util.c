/* Helpers shared by the graph passes (pass_util.h). */
#include "pass_util.h"

#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../io/model_io.h"
#include "graph.h"
#include "onnx.pb-c.h"

static int oom(void) { return qc_fail(QC_ENOMEM, "out of memory"); }

int qc_graph_has_subgraphs(const qc_graph *g) {
  for (int k = 0; k < g->n_order; k++) {
    const Onnx__NodeProto *np = g->nodes[g->order[k]].proto;
    for (size_t a = 0; a < np->n_attribute; a++)
      if (np->attribute[a]->g || np->attribute[a]->n_graphs)
        return 1;
  }
  return 0;
}

int qc_value_is_const_init(const qc_graph *g, int v) {
  return v >= 0 && (g->values[v].flags & QC_VALUE_INITIALIZER) && !(g->values[v].flags & QC_VALUE_GRAPH_INPUT) &&
         g->values[v].init;
}

int qc_node_rename_output(qc_graph *g, int node, int slot, const char *name) {
  int old = g->nodes[node].outputs[slot];
  QC_TRY(qc_node_set_output(g, node, slot, name));
  if (old >= 0)
    QC_TRY(qc_graph_replace_uses(g, old, g->nodes[node].outputs[slot], -1, 0));
  return QC_OK;
}

/* IR <= 3 requires every initializer to be listed as a graph input too. */
static int add_ir3_input(qc_graph *g, const char *name, const qc_tensor *t) {
  Onnx__GraphProto *gp = g->proto;
  for (size_t i = 0; i < gp->n_input; i++)
    if (gp->input[i]->name && strcmp(gp->input[i]->name, name) == 0)
      return QC_OK;
  Onnx__ValueInfoProto *vi = calloc(1, sizeof *vi);
  Onnx__TypeProto *tp = calloc(1, sizeof *tp);
  Onnx__TypeProto__Tensor *tt = calloc(1, sizeof *tt);
  Onnx__TensorShapeProto *sp = calloc(1, sizeof *sp);
  Onnx__TensorShapeProto__Dimension **dims = calloc((size_t)t->ndim + 1, sizeof *dims);
  Onnx__ValueInfoProto **arr = realloc(gp->input, sizeof *arr * (gp->n_input + 1));
  if (arr)
    gp->input = arr;
  if (!vi || !tp || !tt || !sp || !dims || !arr) {
    free(vi), free(tp), free(tt), free(sp), free(dims);
    return oom();
  }
  onnx__value_info_proto__init(vi);
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  onnx__tensor_shape_proto__init(sp);
  vi->type = tp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = (int32_t)t->dtype;
  tt->shape = sp;
  sp->dim = dims;
  arr[gp->n_input++] = vi; /* owned by the model from here on */
  if (!(vi->name = strdup(name)))
    return oom();
  for (int d = 0; d < t->ndim; d++) {
    if (!(dims[d] = malloc(sizeof *dims[d])))
      return oom();
    onnx__tensor_shape_proto__dimension__init(dims[d]);
    dims[d]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dims[d]->dim_value = t->dims[d];
    sp->n_dim++;
  }
  return QC_OK;
}

int qc_graph_put_initializer(qc_graph *g, const char *name, const qc_tensor *t) {
  int existed = qc_graph_find_value(g, name);
  int is_new = existed < 0 || !g->values[existed].init;
  QC_TRY(qc_graph_set_initializer(g, name, t, NULL));
  const Onnx__ModelProto *mp = g->model->proto;
  if (is_new && mp->has_ir_version && mp->ir_version < 4)
    QC_TRY(add_ir3_input(g, name, t));
  return QC_OK;
}

int qc_pass_walk(qc_graph *g, int topo, const char *doing, qc_node_visit visit, void *arg, int *changed) {
  if (qc_graph_has_subgraphs(g))
    return QC_OK;
  QC_TRY(qc_graph_reindex(g));
  int n = 0, *order = NULL;
  QC_TRY(topo ? qc_graph_topo_order(g, &order, &n) : qc_graph_order_snapshot(g, &order, &n));
  int rc = QC_OK;
  for (int k = 0; k < n && rc == QC_OK; k++) {
    int id = order[k];
    if (g->nodes[id].removed)
      continue;
    char label[256]; /* taken first: the visit may remove the node */
    qc_node_label(g, id, label, sizeof label);
    if ((rc = visit(g, id, arg, changed)) < 0)
      rc = qc_fail_context(rc, "%s %s", doing, label);
  }
  free(order);
  QC_TRY(rc);
  return qc_graph_prune(g);
}

int qc_graph_order_snapshot(const qc_graph *g, int **order, int *n) {
  *n = g->n_order;
  *order = malloc(sizeof(int) * ((size_t)*n + 1));
  if (!*order)
    return oom();
  if (*n) /* g->order is NULL in an empty graph */
    memcpy(*order, g->order, sizeof(int) * (size_t)*n);
  return QC_OK;
}

