/* A kernel view of a node's attributes for the qc_attr_* accessors (simplify_internal.h). */
#include "simplify_internal.h"

#include <string.h>

#include "../io/model_io.h"
#include "onnx.pb-c.h"

void qc_simplify_attr_view(const qc_graph *g, int node, qc_kernel *k) {
  const Onnx__NodeProto *np = g->nodes[node].proto;
  memset(k, 0, sizeof *k);
  k->op_type = np->op_type;
  k->node_name = np->name ? np->name : "";
  k->opset = g->model->opset;
  k->n_attrs = np->n_attribute;
  k->attrs = np->attribute;
  k->model_dir = g->model->dir;
}
