/* IR construction, lookup, topological order and sync back to the proto. */
#include "graph.h"
#include "graph_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../io/model_io.h"
#include "../io/tensor_proto.h"
#include "onnx.pb-c.h"

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int rehash(qc_graph *g, size_t cap) {
  int *h = malloc(sizeof *h * cap);
  if (!h)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (size_t i = 0; i < cap; i++)
    h[i] = -1;
  for (int v = 0; v < g->n_values; v++) {
    size_t i = hash_str(g->values[v].name) & (cap - 1);
    while (h[i] >= 0)
      i = (i + 1) & (cap - 1);
    h[i] = v;
  }
  free(g->hash);
  g->hash = h;
  g->hash_cap = cap;
  return QC_OK;
}

int qc_graph_find_value(const qc_graph *g, const char *name) {
  if (!name || !*name || !g->hash_cap)
    return -1;
  size_t i = hash_str(name) & (g->hash_cap - 1);
  while (g->hash[i] >= 0) {
    if (strcmp(g->values[g->hash[i]].name, name) == 0)
      return g->hash[i];
    i = (i + 1) & (g->hash_cap - 1);
  }
  return -1;
}

/* Returns the id of the value named name, creating it if needed. */
int qc_graph_intern_value(qc_graph *g, const char *name, int *id) {
  int v = qc_graph_find_value(g, name);
  if (v >= 0) {
    *id = v;
    return QC_OK;
  }
  if (g->n_values == g->cap_values) {
    int cap = g->cap_values ? g->cap_values * 2 : 64;
    qc_value *nv = realloc(g->values, sizeof *nv * (size_t)cap);
    if (!nv)
      return qc_fail(QC_ENOMEM, "out of memory");
    g->values = nv;
    g->cap_values = cap;
  }
  qc_value *val = &g->values[g->n_values];
  memset(val, 0, sizeof *val);
  val->name = strdup(name);
  if (!val->name)
    return qc_fail(QC_ENOMEM, "out of memory");
  val->ndim = -1;
  val->producer = -1;
  *id = g->n_values++;
  if ((size_t)g->n_values * 2 > g->hash_cap)
    return rehash(g, g->hash_cap ? g->hash_cap * 2 : 128);
  size_t i = hash_str(name) & (g->hash_cap - 1);
  while (g->hash[i] >= 0)
    i = (i + 1) & (g->hash_cap - 1);
  g->hash[i] = *id;
  return QC_OK;
}

/* Copies dtype and shape from a ValueInfoProto's tensor type, if present. */
static void apply_type(qc_value *v, const Onnx__ValueInfoProto *vi) {
  if (!vi->type)
    return;
  if (vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type) {
    v->flags |= QC_VALUE_NOT_TENSOR;
    return;
  }
  const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
  if (tt->has_elem_type && qc_dtype_is_valid(tt->elem_type))
    v->dtype = (qc_dtype)tt->elem_type;
  if (!tt->shape || tt->shape->n_dim > QC_MAX_DIMS)
    return;
  v->ndim = (int)tt->shape->n_dim;
  for (int i = 0; i < v->ndim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    v->dims[i] = -1;
    v->dim_params[i] = NULL;
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0)
      v->dims[i] = d->dim_value;
    else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
      v->dim_params[i] = d->dim_param;
  }
}

static int push_int(int **arr, int *n, int x) {
  int *a = realloc(*arr, sizeof *a * (size_t)(*n + 1));
  if (!a)
    return qc_fail(QC_ENOMEM, "out of memory");
  a[(*n)++] = x;
  *arr = a;
  return QC_OK;
}

/* (Re)builds node i's value ids from its proto. */
int qc_graph_bind_node(qc_graph *g, int id) {
  qc_node *n = &g->nodes[id];
  const Onnx__NodeProto *np = n->proto;
  free(n->inputs);
  free(n->outputs);
  n->inputs = calloc(np->n_input + 1, sizeof(int));
  n->outputs = calloc(np->n_output + 1, sizeof(int));
  if (!n->inputs || !n->outputs)
    return qc_fail(QC_ENOMEM, "out of memory");
  n->ninputs = (int)np->n_input;
  n->noutputs = (int)np->n_output;
  for (size_t i = 0; i < np->n_input; i++) {
    n->inputs[i] = -1;
    if (np->input[i] && *np->input[i])
      QC_TRY(qc_graph_intern_value(g, np->input[i], &n->inputs[i]));
  }
  for (size_t i = 0; i < np->n_output; i++) {
    n->outputs[i] = -1;
    if (np->output[i] && *np->output[i])
      QC_TRY(qc_graph_intern_value(g, np->output[i], &n->outputs[i]));
  }
  return QC_OK;
}

int qc_graph_push_node(qc_graph *g, Onnx__NodeProto *np, int *id) {
  if (g->n_nodes == g->cap_nodes) {
    int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
    qc_node *nn = realloc(g->nodes, sizeof *nn * (size_t)cap);
    int *no = realloc(g->order, sizeof *no * (size_t)cap);
    if (nn)
      g->nodes = nn;
    if (no)
      g->order = no;
    if (!nn || !no)
      return qc_fail(QC_ENOMEM, "out of memory");
    g->cap_nodes = cap;
  }
  *id = g->n_nodes++;
  memset(&g->nodes[*id], 0, sizeof(qc_node));
  g->nodes[*id].proto = np;
  return qc_graph_bind_node(g, *id);
}

int qc_graph_reindex(qc_graph *g) {
  for (int v = 0; v < g->n_values; v++) {
    g->values[v].producer = -1;
    g->values[v].n_consumers = 0;
  }
  /* Count uses, then fill. */
  int *counts = calloc((size_t)g->n_values + 1, sizeof(int));
  if (!counts)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int k = 0; k < g->n_order; k++) {
    const qc_node *n = &g->nodes[g->order[k]];
    for (int i = 0; i < n->ninputs; i++)
      if (n->inputs[i] >= 0)
        counts[n->inputs[i]]++;
  }
  for (int v = 0; v < g->n_values; v++) {
    free(g->values[v].consumers);
    g->values[v].consumers = counts[v] ? malloc(sizeof(int) * (size_t)counts[v]) : NULL;
    if (counts[v] && !g->values[v].consumers) {
      free(counts);
      return qc_fail(QC_ENOMEM, "out of memory");
    }
  }
  free(counts);
  for (int k = 0; k < g->n_order; k++) {
    int id = g->order[k];
    const qc_node *n = &g->nodes[id];
    for (int i = 0; i < n->ninputs; i++)
      if (n->inputs[i] >= 0) {
        qc_value *v = &g->values[n->inputs[i]];
        v->consumers[v->n_consumers++] = id;
      }
    for (int i = 0; i < n->noutputs; i++)
      if (n->outputs[i] >= 0) {
        qc_value *v = &g->values[n->outputs[i]];
        if (v->producer >= 0 && v->producer != id) {
          char a[160];
          return qc_fail(QC_EINVAL, "value '%s' is produced twice (by %s and another node)", v->name,
                         qc_node_label(g, id, a, sizeof a));
        }
        v->producer = id;
      }
  }
  return QC_OK;
}

/* Interns the value at position i of one of the graph's lists (`what`
 * names the list for the message); the name must be non-empty. */
static int intern_listed_value(qc_graph *g, const char *name, const char *what, size_t i, int *id) {
  if (!name || !*name)
    return qc_fail(QC_EINVAL, "%s #%zu has no name", what, i);
  return qc_graph_intern_value(g, name, id);
}

int qc_graph_build(struct qc_model *m, qc_graph **out) {
  *out = NULL;
  qc_graph *g = calloc(1, sizeof *g);
  if (!g)
    return qc_fail(QC_ENOMEM, "out of memory");
  g->model = m;
  g->proto = m->proto->graph;
  const Onnx__GraphProto *gp = g->proto;
  int rc = rehash(g, 128);
  for (size_t i = 0; rc == QC_OK && i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    int id;
    rc = intern_listed_value(g, tp->name, "initializer", i, &id);
    if (rc < 0)
      break;
    qc_value *v = &g->values[id];
    v->flags |= QC_VALUE_INITIALIZER;
    v->init = gp->initializer[i];
    if (tp->has_data_type && qc_dtype_is_valid(tp->data_type))
      v->dtype = (qc_dtype)tp->data_type;
    if (tp->n_dims <= QC_MAX_DIMS) {
      v->ndim = (int)tp->n_dims;
      for (size_t d = 0; d < tp->n_dims; d++)
        v->dims[d] = tp->dims[d];
    }
  }
  for (size_t i = 0; rc == QC_OK && i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    int id;
    rc = intern_listed_value(g, vi->name, "graph input", i, &id);
    if (rc < 0)
      break;
    if (g->values[id].flags & QC_VALUE_INITIALIZER)
      continue; /* IR < 4 lists initializers as inputs too */
    apply_type(&g->values[id], vi);
    g->values[id].flags |= QC_VALUE_GRAPH_INPUT;
    rc = push_int(&g->inputs, &g->n_inputs, id);
  }
  for (size_t i = 0; rc == QC_OK && i < gp->n_node; i++) {
    int id;
    if (!gp->node[i]->op_type) {
      rc = qc_fail(QC_EINVAL, "node #%zu has no op_type", i);
      break;
    }
    rc = qc_graph_push_node(g, gp->node[i], &id);
    if (rc == QC_OK)
      g->order[g->n_order++] = id;
  }
  for (size_t i = 0; rc == QC_OK && i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    int id;
    rc = intern_listed_value(g, vi->name, "graph output", i, &id);
    if (rc < 0)
      break;
    apply_type(&g->values[id], vi);
    g->values[id].flags |= QC_VALUE_GRAPH_OUTPUT;
    rc = push_int(&g->outputs, &g->n_outputs, id);
  }
  for (size_t i = 0; rc == QC_OK && i < gp->n_value_info; i++) {
    const Onnx__ValueInfoProto *vi = gp->value_info[i];
    int id = vi->name ? qc_graph_find_value(g, vi->name) : -1;
    if (id >= 0 && !(g->values[id].flags & QC_VALUE_INITIALIZER))
      apply_type(&g->values[id], vi);
  }
  if (rc == QC_OK)
    rc = qc_graph_reindex(g);
  if (rc < 0) {
    qc_graph_free(g);
    return rc;
  }
  *out = g;
  return QC_OK;
}

void qc_graph_free(qc_graph *g) {
  if (!g)
    return;
  qc_graph_sync(g); /* hand new/removed node protos over to (or out of) the model proto */
  for (int v = 0; v < g->n_values; v++) {
    qc_graph_drop_view(g, v);
    free(g->values[v].name);
    free(g->values[v].consumers);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    free(g->nodes[i].inputs);
    free(g->nodes[i].outputs);
  }
  free(g->values);
  free(g->nodes);
  free(g->order);
  free(g->inputs);
  free(g->outputs);
  free(g->hash);
  free(g);
}

const char *qc_node_op(const qc_graph *g, int node) { return g->nodes[node].proto->op_type; }

const char *qc_node_name(const qc_graph *g, int node) {
  const char *n = g->nodes[node].proto->name;
  return n ? n : "";
}

const char *qc_node_label(const qc_graph *g, int node, char *buf, size_t n) {
  const char *name = qc_node_name(g, node);
  if (*name)
    snprintf(buf, n, "%s node '%s'", qc_node_op(g, node), name);
  else
    snprintf(buf, n, "%s node #%d", qc_node_op(g, node), node);
  return buf;
}

int qc_graph_topo_order(const qc_graph *g, int **order_out, int *n_out) {
  *order_out = NULL;
  *n_out = 0;
  int n = g->n_order;
  int *pending = calloc((size_t)g->n_nodes + 1, sizeof(int)); /* unmet producer inputs per node */
  int *order = malloc(sizeof(int) * (size_t)(n + 1));
  int *ready = calloc((size_t)g->n_values + 1, sizeof(int)); /* value available */
  int *queue = malloc(sizeof(int) * (size_t)(n + 1));
  int *pos = malloc(sizeof(int) * (size_t)(g->n_nodes + 1)); /* node id -> graph position */
  int rc = QC_OK;
  if (!pending || !order || !ready || !queue || !pos) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto done;
  }
  for (int v = 0; v < g->n_values; v++) {
    const qc_value *val = &g->values[v];
    ready[v] = val->producer < 0;
    if (val->producer < 0 && !(val->flags & (QC_VALUE_GRAPH_INPUT | QC_VALUE_INITIALIZER)) && val->n_consumers) {
      char a[160];
      rc = qc_fail(QC_EINVAL, "%s uses value '%s', which no node, input or initializer defines",
                   qc_node_label(g, val->consumers[0], a, sizeof a), val->name);
      goto done;
    }
  }
  for (int k = 0; k < n; k++) {
    int id = g->order[k];
    pos[id] = k;
    const qc_node *nd = &g->nodes[id];
    for (int i = 0; i < nd->ninputs; i++)
      if (nd->inputs[i] >= 0 && !ready[nd->inputs[i]])
        pending[id]++;
  }
  /* Kahn's algorithm; a min-position pick keeps the original order when it is valid. */
  int nq = 0, done_count = 0;
  for (int k = 0; k < n; k++)
    if (!pending[g->order[k]])
      queue[nq++] = g->order[k];
  while (nq) {
    int best = 0;
    for (int i = 1; i < nq; i++)
      if (pos[queue[i]] < pos[queue[best]])
        best = i;
    int id = queue[best];
    queue[best] = queue[--nq];
    order[done_count++] = id;
    const qc_node *nd = &g->nodes[id];
    for (int o = 0; o < nd->noutputs; o++) {
      int v = nd->outputs[o];
      if (v < 0 || ready[v])
        continue;
      ready[v] = 1;
      const qc_value *val = &g->values[v];
      for (int c = 0; c < val->n_consumers; c++) {
        int cn = val->consumers[c];
        if (--pending[cn] == 0)
          queue[nq++] = cn;
      }
    }
  }
  if (done_count != n) {
    rc = qc_fail(QC_EINVAL, "graph has a cycle (%d of %d nodes cannot be ordered)", n - done_count, n);
    goto done;
  }
  *order_out = order;
  *n_out = n;
  order = NULL;
done:
  free(pending);
  free(order);
  free(ready);
  free(queue);
  free(pos);
  return rc;
}

int qc_graph_initializer_view(const qc_graph *g, int value, const qc_tensor **out) {
  *out = NULL;
  qc_value *v = &g->values[value]; /* the cache slot is writable through a const graph */
  if (!v->init)
    return qc_fail(QC_EINTERNAL, "value '%s' is not an initializer", v->name);
  if (!v->init_view) {
    qc_tensor *t = calloc(1, sizeof *t);
    if (!t)
      return qc_fail(QC_ENOMEM, "out of memory");
    int rc = qc_tensor_view_proto(v->init, g->model->dir, t);
    if (rc < 0) {
      free(t);
      return rc;
    }
    v->init_view = t;
  }
  *out = v->init_view;
  return QC_OK;
}

int qc_graph_initializer(const qc_graph *g, int value, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  const qc_tensor *view;
  QC_TRY(qc_graph_initializer_view(g, value, &view));
  return qc_tensor_copy(out, view);
}

int qc_graph_inline_external(qc_graph *g) {
  for (int id = 0; id < g->n_values; id++) {
    qc_value *v = &g->values[id];
    if (!v->init || !qc_tensor_proto_is_external(v->init))
      continue;
    const qc_tensor *view;
    QC_TRY(qc_graph_initializer_view(g, id, &view));
    if (!view->owns_data) /* not expected: an external tensor's view holds its own copy */
      return qc_fail(QC_EINTERNAL, "initializer '%s': external data view does not own its bytes", v->name);
    qc_tensor_proto_take_raw(v->init, view->data, view->nbytes);
    v->init_view->owns_data = 0; /* the view borrows the proto's raw_data now */
  }
  return QC_OK;
}

void qc_graph_drop_view(qc_graph *g, int value) {
  qc_value *v = &g->values[value];
  if (!v->init_view)
    return;
  qc_tensor_release(v->init_view);
  free(v->init_view);
  v->init_view = NULL;
}
