/* Constant folding of cheap shape-like subgraphs: a node whose inputs are all
 * constants (initializers or outputs of folded nodes), or a Shape of a value
 * whose shape the IR knows statically, is evaluated once with its registered
 * kernel and replaced by an initializer. Outputs above QC_FOLD_MAX_BYTES stay
 * computed at run time, so weights are never duplicated into big constants. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../io/model_io.h"
#include "../engine/engine.h"
#include "../ir/pass_util.h"
#include "../ops/op.h"
#include "onnx.pb-c.h"
#include "pass.h"

#define QC_FOLD_MAX_BYTES ((size_t)1 << 20)
/* Generators (ConstantOfShape, Expand, Range) stay in the graph above this size:
 * folding them would store e.g. BlazeFace's 1x4x64x64 channel-padding zeros
 * (16 KiB each, 11 of them) in the file instead of a 4-element shape. */
#define QC_FOLD_GENERATOR_MAX_BYTES ((size_t)1024)

static int is_generator(const char *op) {
  return !strcmp(op, "ConstantOfShape") || !strcmp(op, "Expand") || !strcmp(op, "Range");
}

static const char *const foldable_ops[] = {
    "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast",  "Reshape", "Slice", "Add",
    "Sub",   "Mul",    "Div",       "ConstantOfShape", "Range", "Constant", "Equal", "Where", "Expand",
};

static int is_foldable_op(const char *op) {
  for (size_t i = 0; i < sizeof foldable_ops / sizeof *foldable_ops; i++)
    if (strcmp(op, foldable_ops[i]) == 0)
      return 1;
  return 0;
}

static int is_arith(const char *op) {
  return !strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div");
}

typedef struct fold_ctx {
  qc_model *model;
  qc_graph *g;
  qc_tensor *vals; /* per value id: known constant (the graph's initializer view, borrowed) */
  int n_vals;
} fold_ctx;

/* The constant value of v, or NULL if it is not known at conversion time. */
static int const_value(fold_ctx *c, int v, qc_tensor **out) {
  *out = NULL;
  if (v < 0 || v >= c->n_vals)
    return QC_OK;
  if (c->vals[v].dtype == QC_DT_UNDEFINED && qc_value_is_const_init(c->g, v)) {
    const qc_tensor *view;
    int rc = qc_graph_initializer_view(c->g, v, &view);
    if (rc < 0)
      return qc_fail_context(rc, "initializer '%s'", c->g->values[v].name);
    qc_tensor_wrap(&c->vals[v], view->dtype, view->ndim, view->dims, view->data);
  }
  if (c->vals[v].dtype != QC_DT_UNDEFINED)
    *out = &c->vals[v];
  return QC_OK;
}

/* Shape: from the constant's dims or the IR's fully static shape. */
static int fold_shape(fold_ctx *c, int node, qc_tensor *out, int *ok) {
  const qc_node *n = &c->g->nodes[node];
  *ok = 0;
  if (n->ninputs < 1 || n->inputs[0] < 0)
    return QC_OK;
  const qc_value *x = &c->g->values[n->inputs[0]];
  qc_tensor *t;
  QC_TRY(const_value(c, n->inputs[0], &t));
  int rank = t ? t->ndim : x->ndim;
  const int64_t *dims = t ? t->dims : x->dims;
  if (rank < 0 || (x->flags & QC_VALUE_NOT_TENSOR))
    return QC_OK;
  int64_t start = 0, end = rank;
  qc_attrs a = qc_node_attrs(c->g, node);
  if (c->model->opset >= 15 &&
      (qc_attr_int(&a, "start", 0, &start) < 0 || qc_attr_int(&a, "end", rank, &end) < 0)) {
    qc_clear_error();
    return QC_OK;
  }
  start = start < 0 ? start + rank : start;
  end = end < 0 ? end + rank : end;
  start = start < 0 ? 0 : start > rank ? rank : start;
  end = end < 0 ? 0 : end > rank ? rank : end;
  int64_t len = end > start ? end - start : 0;
  for (int64_t i = start; i < start + len; i++)
    if (dims[i] < 0)
      return QC_OK; /* dynamic (e.g. batch) dim: not a constant */
  QC_TRY(qc_tensor_alloc(out, QC_DT_INT64, 1, &len));
  for (int64_t i = 0; i < len; i++)
    qc_i64(out)[i] = dims[start + i];
  *ok = 1;
  return QC_OK;
}

/* Upper bound on the output's element count, so no kernel allocates a huge
 * tensor just to have it rejected (ConstantOfShape, Expand, Range, broadcasting). */
static double output_numel_bound(const char *op, qc_tensor *const *in, int nin) {
  if (!strcmp(op, "ConstantOfShape") || !strcmp(op, "Expand")) {
    const qc_tensor *shape = nin > 1 && !strcmp(op, "Expand") ? in[1] : in[0];
    if (!shape)
      return 1;
    double n = 1;
    const qc_tensor *x = !strcmp(op, "Expand") ? in[0] : NULL;
    int rank = (int)shape->numel > (x ? x->ndim : 0) ? (int)shape->numel : x->ndim;
    for (int d = 0; d < rank; d++) {
      int ds = d - (rank - (int)shape->numel), dx = x ? d - (rank - x->ndim) : -1;
      double a = ds >= 0 ? fabs((double)qc_tensor_get_i64(shape, ds)) : 1, b = dx >= 0 ? (double)x->dims[dx] : 1;
      n *= a > b ? a : b;
    }
    return n;
  }
  if (!strcmp(op, "Range")) {
    if (nin < 3 || !in[0] || !in[1] || !in[2])
      return 0;
    double start = qc_tensor_get_f64(in[0], 0), limit = qc_tensor_get_f64(in[1], 0), delta = qc_tensor_get_f64(in[2], 0);
    return delta != 0 ? fabs(ceil((limit - start) / delta)) : INFINITY;
  }
  if (!strcmp(op, "Gather") && nin > 1 && in[0] && in[1]) {
    int64_t smallest = 0;
    for (int d = 0; d < in[0]->ndim; d++)
      if (in[0]->dims[d] > 0 && (!smallest || in[0]->dims[d] < smallest))
        smallest = in[0]->dims[d];
    return (double)in[1]->numel * (double)in[0]->numel / (double)(smallest ? smallest : 1);
  }
  /* Concat: sum; element-wise ops: the broadcast shape. */
  int rank = 0;
  double sum = 0;
  for (int i = 0; i < nin; i++)
    if (in[i]) {
      rank = in[i]->ndim > rank ? in[i]->ndim : rank;
      sum += (double)in[i]->numel;
    }
  double n = 1;
  for (int d = 0; d < rank; d++) {
    double widest = 1;
    for (int i = 0; i < nin; i++) {
      int di = in[i] ? d - (rank - in[i]->ndim) : -1;
      if (di >= 0 && (double)in[i]->dims[di] > widest)
        widest = (double)in[i]->dims[di];
    }
    n *= widest;
  }
  return n > sum ? n : sum;
}

/* Evaluates the node with its kernel. *ok = 0: leave the node in the graph. */
static int fold_with_kernel(fold_ctx *c, int node, qc_tensor *out, int *ok) {
  const qc_node *n = &c->g->nodes[node];
  const char *op = qc_node_op(c->g, node);
  *ok = 0;
  const qc_op *kop = qc_op_find(op, c->model->opset);
  if (!kop)
    return QC_OK;
  qc_tensor **in = calloc((size_t)n->ninputs + 1, sizeof *in);
  if (!in)
    return qc_fail(QC_ENOMEM, "out of memory");
  int rc = QC_OK, all_const = 1;
  for (int i = 0; i < n->ninputs && rc == QC_OK && all_const; i++)
    if (n->inputs[i] >= 0) {
      rc = const_value(c, n->inputs[i], &in[i]);
      if (!in[i] || (is_arith(op) && in[i]->dtype != QC_DT_INT64 && in[i]->dtype != QC_DT_INT32))
        all_const = 0;
    }
  if (rc < 0 || !all_const || (strcmp(op, "Constant") != 0 &&
                               output_numel_bound(op, in, n->ninputs) * 8.0 > 4.0 * (double)QC_FOLD_MAX_BYTES)) {
    free(in);
    return rc;
  }
  qc_tensor *outs[1] = {out};
  rc = qc_engine_eval_node(c->g, node, c->model->opset, in, outs, 1);
  free(in);
  if (rc == QC_ENOMEM || rc == QC_EINTERRUPTED)
    return rc;
  if (rc < 0) { /* the engine will report it at run time, with context */
    qc_clear_error();
    qc_tensor_release(out);
    return QC_OK;
  }
  *ok = out->data != NULL || out->numel == 0;
  if (!*ok || qc_dtype_size(out->dtype) == 0 || (strcmp(op, "Constant") != 0 && out->nbytes > QC_FOLD_MAX_BYTES) ||
      (is_generator(op) && out->nbytes > QC_FOLD_GENERATOR_MAX_BYTES)) {
    *ok = 0;
    qc_tensor_release(out);
  }
  return QC_OK;
}

/* A folded value is an initializer now; its value_info entry is redundant. */
static void drop_value_info(qc_graph *g, const char *name) {
  Onnx__GraphProto *gp = g->proto;
  for (size_t i = 0; i < gp->n_value_info; i++)
    if (gp->value_info[i]->name && strcmp(gp->value_info[i]->name, name) == 0) {
      onnx__value_info_proto__free_unpacked(gp->value_info[i], NULL);
      memmove(&gp->value_info[i], &gp->value_info[i + 1], sizeof *gp->value_info * (gp->n_value_info - i - 1));
      gp->n_value_info--;
      return;
    }
}

static int try_fold(fold_ctx *c, int node, int *folded) {
  qc_graph *g = c->g;
  const qc_node *n = &g->nodes[node];
  const char *op = qc_node_op(g, node);
  *folded = 0;
  if (!qc_domain_is_default(n->proto->domain) || !is_foldable_op(op) || n->noutputs != 1 || n->outputs[0] < 0)
    return QC_OK;
  int outv = n->outputs[0];
  if (outv >= c->n_vals || (g->values[outv].flags & (QC_VALUE_GRAPH_OUTPUT | QC_VALUE_NOT_TENSOR)))
    return QC_OK;
  qc_tensor out = {0};
  int ok;
  if (strcmp(op, "Shape") == 0)
    QC_TRY(fold_shape(c, node, &out, &ok));
  else
    QC_TRY(fold_with_kernel(c, node, &out, &ok));
  if (!ok)
    return QC_OK;
  char *name = strdup(g->values[outv].name);
  int rc = name ? qc_graph_remove_node(g, node) : qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    rc = qc_graph_put_initializer(g, name, &out);
  if (rc == QC_OK) {
    drop_value_info(g, name);
    /* Later readers take the new initializer's view, which borrows its proto's bytes. */
    memset(&c->vals[outv], 0, sizeof c->vals[outv]);
    *folded = 1;
  }
  qc_tensor_release(&out);
  free(name);
  return rc;
}

static int fold_one(qc_graph *g, int id, void *arg, int *changed) {
  (void)g;
  int folded = 0;
  QC_TRY(try_fold(arg, id, &folded));
  *changed += folded;
  return QC_OK;
}

int qc_pass_fold_constants(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts) {
  (void)ctx;
  qc_graph *g = m->graph;
  QC_TRY(qc_graph_reindex(g)); /* before sizing the value cache */
  fold_ctx c = {m, g, calloc((size_t)g->n_values + 1, sizeof(qc_tensor)), g->n_values};
  if (!c.vals)
    return qc_fail(QC_ENOMEM, "out of memory");
  int rc = qc_pass_walk(g, 1, "constant-folding", fold_one, &c, &counts->changed);
  free(c.vals); /* borrowed views only */
  return rc;
}
