/* Graph IR over a loaded ModelProto.
 *
 * Values (tensors) are named edges with dtype and shape (static or symbolic);
 * nodes keep a pointer to their NodeProto, which owns the attributes.
 * Rewrites edit the protos in place with malloc'd parts, so everything a
 * pass did not touch is written back exactly as read (qc_graph_sync).
 * Initializers stay encoded in their TensorProtos; each is decoded at most
 * once per version, on first use (qc_graph_initializer_view). */
#ifndef QC_GRAPH_H
#define QC_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "../core/tensor.h"

struct Onnx__NodeProto;
struct Onnx__TensorProto;
struct Onnx__GraphProto;
struct Onnx__ValueInfoProto;
struct Onnx__AttributeProto;
struct qc_model;

enum {
  QC_VALUE_GRAPH_INPUT = 1,  /* a graph input that is not an initializer */
  QC_VALUE_GRAPH_OUTPUT = 2,
  QC_VALUE_INITIALIZER = 4,
  QC_VALUE_NOT_TENSOR = 8, /* declared with a sequence/map/optional type */
};

typedef struct qc_value {
  char *name;                    /* owned copy */
  qc_dtype dtype;                /* QC_DT_UNDEFINED if unknown */
  int ndim;                      /* -1 if the rank is unknown */
  int64_t dims[QC_MAX_DIMS];     /* -1 where unknown or symbolic */
  const char *dim_params[QC_MAX_DIMS]; /* symbolic dim names (borrowed) or NULL */
  unsigned flags;
  int producer;                  /* node id or -1 */
  int n_consumers;               /* consumer node ids, one entry per use */
  int *consumers;
  struct Onnx__TensorProto *init; /* initializer proto, if QC_VALUE_INITIALIZER */
  qc_tensor *init_view; /* init decoded on first use (qc_graph_initializer_view), or NULL */
} qc_value;

typedef struct qc_node {
  struct Onnx__NodeProto *proto;
  int ninputs, noutputs;
  int *inputs;  /* value ids; -1 for an omitted optional input ("") */
  int *outputs; /* value ids; -1 for an omitted optional output */
  int removed;
} qc_node;

typedef struct qc_graph {
  struct qc_model *model;
  struct Onnx__GraphProto *proto;
  qc_value *values;
  int n_values, cap_values;
  qc_node *nodes; /* indexed by node id; removed nodes stay as tombstones */
  int n_nodes, cap_nodes;
  int *order;     /* live node ids in graph order */
  int n_order;
  int *inputs, n_inputs;   /* graph inputs that are not initializers, in order */
  int *outputs, n_outputs; /* graph outputs, in order */
  /* name -> value id (open addressing) */
  int *hash;
  size_t hash_cap;
  int dirty; /* node order/inputs/outputs changed since the last sync */
  int name_seq; /* counter for passes' generated names (same sequence however ids were assigned) */
} qc_graph;

int qc_graph_build(struct qc_model *m, qc_graph **out);
void qc_graph_free(qc_graph *g);
/* Writes node order, node inputs/outputs and initializers back to the GraphProto. */
int qc_graph_sync(qc_graph *g);

int qc_graph_find_value(const qc_graph *g, const char *name); /* id or -1 */
const char *qc_node_op(const qc_graph *g, int node);
const char *qc_node_name(const qc_graph *g, int node); /* "" if unnamed */
/* Human label for messages: "Conv node 'conv1'" (or "Conv node #12" if unnamed). */
const char *qc_node_label(const qc_graph *g, int node, char *buf, size_t n);

/* A topological order of live nodes, stable w.r.t. graph order. *order is
 * malloc'd (n_order entries). A cycle or a use of an undefined value is QC_EINVAL. */
int qc_graph_topo_order(const qc_graph *g, int **order, int *n);

/* An initializer's data, decoded on the first call and kept by the graph:
 * later calls return the same tensor. It borrows the proto's bytes where they
 * already are the tensor's (raw_data, float_data, ...), else holds one decoded
 * copy (external data is read once). Read-only; valid until the initializer
 * is replaced (qc_graph_set_initializer) or pruned, or the graph is freed.
 * The cache is not part of the graph's state, hence the const graph, but
 * filling it is not thread-safe: call from one thread at a time. */
int qc_graph_initializer_view(const qc_graph *g, int value, const qc_tensor **out);
/* An owned copy of the initializer's data, for callers that modify it. */
int qc_graph_initializer(const qc_graph *g, int value, qc_tensor *out);
/* Makes external initializers inline (raw_data) for saving: the view's copy
 * of the file's bytes becomes the proto's, so the file is not read again. */
int qc_graph_inline_external(qc_graph *g);

/* ---- rewrite helpers ---- */
/* A fresh value name "<base>" or "<base>_N" not used in the graph; written to buf. */
void qc_graph_unique_name(const qc_graph *g, const char *base, char *buf, size_t n);
/* Adds (or replaces the data of) an initializer named name. */
int qc_graph_set_initializer(qc_graph *g, const char *name, const qc_tensor *t, int *value_out);
/* Creates a node; inputs/outputs are value names ("" = omitted). New output
 * names become new values. The node is placed before node `before`
 * (-1: at the end). */
int qc_graph_add_node(qc_graph *g, const char *op_type, const char *node_name, const char *const *inputs,
                      int ninputs, const char *const *outputs, int noutputs, int before, int *node_out);
/* Changes a node's op type in place (inputs, outputs and attributes stay). */
int qc_node_set_op(qc_graph *g, int node, const char *op_type);
/* Attribute setters for new or existing nodes (replace an attribute of the same name). */
int qc_node_set_attr_int(qc_graph *g, int node, const char *name, int64_t v);
int qc_node_set_attr_float(qc_graph *g, int node, const char *name, float v);
int qc_node_set_attr_ints(qc_graph *g, int node, const char *name, const int64_t *v, size_t n);
int qc_node_set_attr_string(qc_graph *g, int node, const char *name, const char *v);
/* Sets input slot i of node to the named value. */
int qc_node_set_input(qc_graph *g, int node, int slot, const char *value_name);
/* Renames output slot i of node to value_name (a new or producer-less value). */
int qc_node_set_output(qc_graph *g, int node, int slot, const char *value_name);
/* Every use of value `from` (node inputs, except in node `except_node`, and
 * graph outputs too if include_outputs) now uses `to`. Pass the node that
 * produces `to` from `from` as except_node to splice it in after `from`. */
int qc_graph_replace_uses(qc_graph *g, int from, int to, int except_node, int include_outputs);
/* Removes a node. Its outputs stay as values without producer. */
int qc_graph_remove_node(qc_graph *g, int node);
/* Removes initializers (and value_info) with no remaining consumer. */
int qc_graph_prune(qc_graph *g);

/* Refreshes producer/consumer lists after rewrites (called by the accessors that need it). */
int qc_graph_reindex(qc_graph *g);

#endif
