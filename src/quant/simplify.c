/* Simplify driver, shared helpers, and removal of Identity / inference Dropout. */
#include "simplify.h"

#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../io/model_io.h"
#include "onnx.pb-c.h"
#include "decompose.h"
#include "equalize.h"
#include "simplify_internal.h"

static int oom(void) { return qc_fail(QC_ENOMEM, "out of memory"); }

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

int qc_simplify_has_subgraphs(const qc_graph *g) {
  for (int k = 0; k < g->n_order; k++) {
    const Onnx__NodeProto *np = g->nodes[g->order[k]].proto;
    for (size_t a = 0; a < np->n_attribute; a++)
      if (np->attribute[a]->g || np->attribute[a]->n_graphs)
        return 1;
  }
  return 0;
}

int qc_simplify_is_const_init(const qc_graph *g, int v) {
  return v >= 0 && (g->values[v].flags & QC_VALUE_INITIALIZER) && !(g->values[v].flags & QC_VALUE_GRAPH_INPUT) &&
         g->values[v].init;
}

int qc_simplify_rename_output(qc_graph *g, int node, int slot, const char *name) {
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

int qc_simplify_set_initializer(qc_graph *g, const char *name, const qc_tensor *t) {
  int existed = qc_graph_find_value(g, name);
  int is_new = existed < 0 || !g->values[existed].init;
  QC_TRY(qc_graph_set_initializer(g, name, t, NULL));
  const Onnx__ModelProto *mp = g->model->proto;
  if (is_new && mp->has_ir_version && mp->ir_version < 4)
    QC_TRY(add_ir3_input(g, name, t));
  return QC_OK;
}

/* A boolean scalar known at conversion time: an initializer or a Constant node's value. */
static int const_bool(const qc_graph *g, int v, int *known, int *value) {
  *known = 0;
  qc_tensor t = {0};
  if (qc_simplify_is_const_init(g, v)) {
    QC_TRY(qc_graph_initializer(g, v, &t));
  } else if (g->values[v].producer >= 0 && strcmp(qc_node_op(g, g->values[v].producer), "Constant") == 0) {
    qc_kernel k;
    qc_simplify_attr_view(g, g->values[v].producer, &k);
    if (!qc_attr_has(&k, "value") || qc_attr_tensor(&k, "value", &t) < 0) {
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
    qc_kernel k;
    int64_t is_test;
    float ratio;
    qc_simplify_attr_view(g, node, &k);
    if (qc_attr_int(&k, "is_test", 0, &is_test) < 0 || qc_attr_float(&k, "ratio", 0.5f, &ratio) < 0) {
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
    rc = qc_simplify_rename_output(g, producer, slot, out_name);
  free(out_name);
  QC_TRY(rc);
  *removed = 1;
  return QC_OK;
}

int qc_simplify_order_snapshot(const qc_graph *g, int **order, int *n) {
  *n = g->n_order;
  *order = malloc(sizeof(int) * ((size_t)*n + 1));
  if (!*order)
    return oom();
  if (*n) /* g->order is NULL in an empty graph */
    memcpy(*order, g->order, sizeof(int) * (size_t)*n);
  return QC_OK;
}

int qc_simplify_default_domain(const char *d) { return !d || !*d || strcmp(d, "ai.onnx") == 0; }

int qc_pass_remove_identity(qc_model *m, qc_simplify_stats *stats) {
  qc_graph *g = m->graph;
  if (qc_simplify_has_subgraphs(g))
    return QC_OK;
  QC_TRY(qc_graph_reindex(g));
  int n, *order;
  QC_TRY(qc_simplify_order_snapshot(g, &order, &n));
  int rc = QC_OK;
  for (int k = 0; k < n && rc == QC_OK; k++) {
    int id = order[k];
    if (g->nodes[id].removed || !qc_simplify_default_domain(g->nodes[id].proto->domain))
      continue;
    const char *op = qc_node_op(g, id);
    int is_identity = strcmp(op, "Identity") == 0, is_dropout = strcmp(op, "Dropout") == 0, removed = 0;
    if (is_dropout && (rc = dropout_is_identity(g, id, &is_dropout)) < 0)
      break;
    if (!is_identity && !is_dropout)
      continue;
    char label[256];
    qc_node_label(g, id, label, sizeof label);
    if ((rc = splice_out(g, id, &removed)) < 0) {
      rc = qc_fail_context(rc, "removing %s", label);
      break;
    }
    if (removed && stats)
      *(is_identity ? &stats->identities_removed : &stats->dropouts_removed) += 1;
  }
  free(order);
  QC_TRY(rc);
  return qc_graph_prune(g); /* drop initializers and value_info left without users */
}

int qc_pass_simplify(qc_model *m, qc_simplify_stats *stats) {
  qc_simplify_stats local = {0};
  if (!stats)
    stats = &local;
  QC_TRY(qc_pass_remove_identity(m, stats));
  /* Constant folding first: exporters such as paddle2onnx feed BatchNorm and
   * Conv parameters from Constant nodes, which become initializers here. */
  QC_TRY(qc_pass_const_fold(m, stats));
  QC_TRY(qc_pass_fold_batchnorm(m, stats));
  return qc_graph_sync(m->graph);
}

int qc_pass_prepare(qc_model *m, const qc_quant_opts *opts, qc_simplify_stats *stats) {
  QC_TRY(qc_pass_simplify(m, stats));
  QC_TRY(qc_pass_decompose_for_int8(m, opts, stats));
  return qc_pass_equalize(m, opts, stats);
}
