/* Rewrite helpers for the passes, and sync of the IR back to the GraphProto.
 * Protos are edited in place with malloc'd parts so that free_unpacked of
 * the model releases everything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../io/tensor_proto.h"
#include "graph.h"
#include "graph_internal.h"
#include "onnx.pb-c.h"

static int oom(void) { return qc_fail(QC_ENOMEM, "out of memory"); }

void qc_graph_unique_name(const qc_graph *g, const char *base, char *buf, size_t n) {
  snprintf(buf, n, "%s", base);
  for (int i = 1; qc_graph_find_value(g, buf) >= 0; i++)
    snprintf(buf, n, "%s_%d", base, i);
}

int qc_graph_set_initializer(qc_graph *g, const char *name, const qc_tensor *t, int *value_out) {
  Onnx__TensorProto *tp;
  QC_TRY(qc_tensor_to_proto(t, name, &tp));
  int id;
  int rc = qc_graph_intern_value(g, name, &id);
  if (rc < 0) {
    qc_tensor_proto_free(tp);
    return rc;
  }
  qc_graph_drop_view(g, id);
  qc_value *v = &g->values[id];
  if (v->init) {
    /* Replace the data but keep the proto's other fields (doc_string etc.). */
    Onnx__TensorProto *old = v->init;
    free(old->dims);
    old->dims = tp->dims;
    old->n_dims = tp->n_dims;
    old->has_data_type = 1;
    old->data_type = tp->data_type;
    free(old->raw_data.data);
    old->has_raw_data = 1;
    old->raw_data = tp->raw_data;
    free(old->float_data), old->float_data = NULL, old->n_float_data = 0;
    free(old->int32_data), old->int32_data = NULL, old->n_int32_data = 0;
    free(old->int64_data), old->int64_data = NULL, old->n_int64_data = 0;
    free(old->double_data), old->double_data = NULL, old->n_double_data = 0;
    free(old->uint64_data), old->uint64_data = NULL, old->n_uint64_data = 0;
    for (size_t k = 0; k < old->n_external_data; k++)
      onnx__string_string_entry_proto__free_unpacked(old->external_data[k], NULL);
    free(old->external_data), old->external_data = NULL, old->n_external_data = 0;
    old->has_data_location = 0;
    free(tp->name);
    free(tp);
  } else {
    Onnx__GraphProto *gp = g->proto;
    Onnx__TensorProto **arr = realloc(gp->initializer, sizeof *arr * (gp->n_initializer + 1));
    if (!arr) {
      qc_tensor_proto_free(tp);
      return oom();
    }
    arr[gp->n_initializer++] = tp;
    gp->initializer = arr;
    v->init = tp;
    v->flags |= QC_VALUE_INITIALIZER;
  }
  v->dtype = t->dtype;
  v->ndim = t->ndim;
  memcpy(v->dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
  if (value_out)
    *value_out = id;
  return QC_OK;
}

static char **dup_names(const char *const *names, int n) {
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out)
    return NULL;
  for (int i = 0; i < n; i++)
    if (!(out[i] = strdup(names[i] ? names[i] : ""))) {
      for (int j = 0; j < i; j++)
        free(out[j]);
      free(out);
      return NULL;
    }
  return out;
}

int qc_graph_add_node(qc_graph *g, const char *op_type, const char *node_name, const char *const *inputs,
                      int ninputs, const char *const *outputs, int noutputs, int before, int *node_out) {
  Onnx__NodeProto *np = malloc(sizeof *np);
  if (!np)
    return oom();
  onnx__node_proto__init(np);
  np->op_type = strdup(op_type);
  np->name = node_name ? strdup(node_name) : NULL;
  np->domain = strdup("");
  np->input = dup_names(inputs, ninputs);
  np->output = dup_names(outputs, noutputs);
  np->n_input = (size_t)ninputs;
  np->n_output = (size_t)noutputs;
  if (!np->op_type || (node_name && !np->name) || !np->domain || !np->input || !np->output) {
    onnx__node_proto__free_unpacked(np, NULL);
    return oom();
  }
  int id;
  int rc = qc_graph_push_node(g, np, &id);
  if (rc < 0) {
    onnx__node_proto__free_unpacked(np, NULL);
    return rc;
  }
  int at = g->n_order;
  if (before >= 0)
    for (int k = 0; k < g->n_order; k++)
      if (g->order[k] == before) {
        at = k;
        break;
      }
  memmove(&g->order[at + 1], &g->order[at], sizeof(int) * (size_t)(g->n_order - at));
  g->order[at] = id;
  g->n_order++;
  g->dirty = 1;
  if (node_out)
    *node_out = id;
  return qc_graph_reindex(g);
}

/* Finds or appends the attribute `name` on the node, resetting its payload
 * to an empty attribute of the given type. */
static int attr_slot(qc_graph *g, int node, const char *name, Onnx__AttributeProto__AttributeType type,
                     Onnx__AttributeProto **out) {
  Onnx__NodeProto *np = g->nodes[node].proto;
  *out = NULL;
  size_t slot = 0;
  while (slot < np->n_attribute && !(np->attribute[slot]->name && strcmp(np->attribute[slot]->name, name) == 0))
    slot++;
  if (slot < np->n_attribute) {
    onnx__attribute_proto__free_unpacked(np->attribute[slot], NULL);
    np->attribute[slot] = NULL;
  } else {
    Onnx__AttributeProto **arr = realloc(np->attribute, sizeof *arr * (np->n_attribute + 1));
    if (!arr)
      return oom();
    np->attribute = arr;
  }
  Onnx__AttributeProto *a = malloc(sizeof *a);
  if (!a)
    return oom();
  onnx__attribute_proto__init(a);
  a->name = strdup(name);
  a->has_type = 1;
  a->type = type;
  np->attribute[slot] = a;
  if (slot == np->n_attribute)
    np->n_attribute++;
  *out = a;
  return a->name ? QC_OK : oom();
}

int qc_node_set_op(qc_graph *g, int node, const char *op_type) {
  char *s = strdup(op_type);
  if (!s)
    return oom();
  free(g->nodes[node].proto->op_type);
  g->nodes[node].proto->op_type = s;
  g->dirty = 1;
  return QC_OK;
}

int qc_node_set_attr_int(qc_graph *g, int node, const char *name, int64_t v) {
  Onnx__AttributeProto *a;
  QC_TRY(attr_slot(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, &a));
  a->has_i = 1;
  a->i = v;
  return QC_OK;
}

int qc_node_set_attr_float(qc_graph *g, int node, const char *name, float v) {
  Onnx__AttributeProto *a;
  QC_TRY(attr_slot(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, &a));
  a->has_f = 1;
  a->f = v;
  return QC_OK;
}

int qc_node_set_attr_ints(qc_graph *g, int node, const char *name, const int64_t *v, size_t n) {
  Onnx__AttributeProto *a;
  QC_TRY(attr_slot(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, &a));
  a->ints = malloc(sizeof(int64_t) * (n ? n : 1));
  if (!a->ints)
    return oom();
  memcpy(a->ints, v, sizeof(int64_t) * n);
  a->n_ints = n;
  return QC_OK;
}

int qc_node_set_attr_string(qc_graph *g, int node, const char *name, const char *v) {
  Onnx__AttributeProto *a;
  QC_TRY(attr_slot(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, &a));
  a->has_s = 1;
  a->s.len = strlen(v);
  a->s.data = malloc(a->s.len + 1);
  if (!a->s.data)
    return oom();
  memcpy(a->s.data, v, a->s.len + 1);
  return QC_OK;
}

int qc_node_set_input(qc_graph *g, int node, int slot, const char *value_name) {
  Onnx__NodeProto *np = g->nodes[node].proto;
  if (slot < 0)
    return qc_fail(QC_EINTERNAL, "bad input slot %d", slot);
  if ((size_t)slot >= np->n_input) {
    char **arr = realloc(np->input, sizeof *arr * ((size_t)slot + 1));
    if (!arr)
      return oom();
    np->input = arr;
    for (size_t i = np->n_input; i < (size_t)slot; i++)
      if (!(arr[i] = strdup("")))
        return oom();
    arr[slot] = NULL;
    np->n_input = (size_t)slot + 1;
  }
  char *s = strdup(value_name);
  if (!s)
    return oom();
  free(np->input[slot]);
  np->input[slot] = s;
  g->dirty = 1;
  QC_TRY(qc_graph_bind_node(g, node));
  return qc_graph_reindex(g);
}

int qc_node_set_output(qc_graph *g, int node, int slot, const char *value_name) {
  Onnx__NodeProto *np = g->nodes[node].proto;
  if (slot < 0 || (size_t)slot >= np->n_output)
    return qc_fail(QC_EINTERNAL, "bad output slot %d", slot);
  int id = qc_graph_find_value(g, value_name);
  if (id >= 0 && g->values[id].producer >= 0 && g->values[id].producer != node)
    return qc_fail(QC_EINTERNAL, "value '%s' already has a producer", value_name);
  char *s = strdup(value_name);
  if (!s)
    return oom();
  free(np->output[slot]);
  np->output[slot] = s;
  g->dirty = 1;
  QC_TRY(qc_graph_bind_node(g, node));
  return qc_graph_reindex(g);
}

int qc_graph_replace_uses(qc_graph *g, int from, int to, int except_node, int include_outputs) {
  const char *to_name = g->values[to].name;
  for (int k = 0; k < g->n_order; k++) {
    int id = g->order[k];
    qc_node *n = &g->nodes[id];
    if (id == except_node)
      continue;
    for (int i = 0; i < n->ninputs; i++)
      if (n->inputs[i] == from) {
        char *s = strdup(to_name);
        if (!s)
          return oom();
        free(n->proto->input[i]);
        n->proto->input[i] = s;
        n->inputs[i] = to;
      }
  }
  if (include_outputs) {
    for (int i = 0; i < g->n_outputs; i++)
      if (g->outputs[i] == from) {
        char *s = strdup(to_name);
        if (!s)
          return oom();
        free(g->proto->output[i]->name);
        g->proto->output[i]->name = s;
        g->outputs[i] = to;
        g->values[from].flags &= ~(unsigned)QC_VALUE_GRAPH_OUTPUT;
        g->values[to].flags |= QC_VALUE_GRAPH_OUTPUT;
      }
  }
  g->dirty = 1;
  return qc_graph_reindex(g);
}

int qc_graph_remove_node(qc_graph *g, int node) {
  if (g->nodes[node].removed)
    return QC_OK;
  g->nodes[node].removed = 1;
  for (int k = 0; k < g->n_order; k++)
    if (g->order[k] == node) {
      memmove(&g->order[k], &g->order[k + 1], sizeof(int) * (size_t)(g->n_order - k - 1));
      g->n_order--;
      break;
    }
  g->dirty = 1;
  return qc_graph_reindex(g);
}

int qc_graph_prune(qc_graph *g) {
  QC_TRY(qc_graph_reindex(g));
  Onnx__GraphProto *gp = g->proto;
  size_t w = 0;
  for (size_t i = 0; i < gp->n_initializer; i++) {
    Onnx__TensorProto *tp = gp->initializer[i];
    int id = qc_graph_find_value(g, tp->name);
    qc_value *v = id >= 0 ? &g->values[id] : NULL;
    if (v && v->n_consumers == 0 && !(v->flags & QC_VALUE_GRAPH_OUTPUT)) {
      v->flags &= ~(unsigned)QC_VALUE_INITIALIZER;
      v->init = NULL;
      qc_graph_drop_view(g, id);
      /* Drop a graph-input entry naming it (IR < 4 models list initializers as inputs). */
      for (size_t k = 0; k < gp->n_input; k++)
        if (gp->input[k]->name && strcmp(gp->input[k]->name, tp->name) == 0) {
          onnx__value_info_proto__free_unpacked(gp->input[k], NULL);
          memmove(&gp->input[k], &gp->input[k + 1], sizeof *gp->input * (gp->n_input - k - 1));
          gp->n_input--;
          break;
        }
      onnx__tensor_proto__free_unpacked(tp, NULL);
      continue;
    }
    gp->initializer[w++] = tp;
  }
  gp->n_initializer = w;
  /* value_info for values that no longer exist. */
  w = 0;
  for (size_t i = 0; i < gp->n_value_info; i++) {
    Onnx__ValueInfoProto *vi = gp->value_info[i];
    int id = vi->name ? qc_graph_find_value(g, vi->name) : -1;
    const qc_value *v = id >= 0 ? &g->values[id] : NULL;
    if (!v || (v->producer < 0 && !(v->flags & (QC_VALUE_INITIALIZER | QC_VALUE_GRAPH_INPUT)))) {
      onnx__value_info_proto__free_unpacked(vi, NULL);
      continue;
    }
    gp->value_info[w++] = vi;
  }
  gp->n_value_info = w;
  return QC_OK;
}

int qc_graph_sync(qc_graph *g) {
  if (!g->dirty)
    return QC_OK;
  Onnx__GraphProto *gp = g->proto;
  Onnx__NodeProto **arr = malloc(sizeof *arr * ((size_t)g->n_order + 1));
  if (!arr)
    return oom();
  for (int k = 0; k < g->n_order; k++)
    arr[k] = g->nodes[g->order[k]].proto;
  /* Free removed nodes' protos once; they are no longer reachable from the model. */
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].removed && g->nodes[i].proto) {
      onnx__node_proto__free_unpacked(g->nodes[i].proto, NULL);
      g->nodes[i].proto = NULL;
    }
  free(gp->node);
  gp->node = arr;
  gp->n_node = (size_t)g->n_order;
  g->dirty = 0;
  return QC_OK;
}
