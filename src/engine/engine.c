/* Executor: plan once (check ops, decode constants, init kernels), run many times. */
#include "engine.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../io/model_io.h"
#include "../ir/graph.h"
#include "../ops/buffer_pool.h"
#include "../ops/kernels.h"
#include "../ops/op.h"
#include "engine_internal.h"
#include "fusion.h"
#include "onnx.pb-c.h"

int qc_set_threads(int nthreads) {
  if (nthreads <= 0)
    nthreads = omp_get_num_procs();
  omp_set_num_threads(nthreads);
  return nthreads;
}


/* A kernel instance for graph node id, as every evaluation sets one up:
 * names, opset, attributes and arity; inputs, outputs and priv stay empty. */
static void kernel_bind(const qc_graph *g, int id, int opset, const qc_op *op, qc_kernel *k) {
  const qc_node *nd = &g->nodes[id];
  memset(k, 0, sizeof *k);
  k->op = op;
  k->op_type = nd->proto->op_type;
  k->node_name = nd->proto->name ? nd->proto->name : "";
  k->opset = opset;
  k->attrs = qc_node_attrs(g, id);
  k->ninputs = nd->ninputs;
  k->noutputs = nd->noutputs;
}

int qc_engine_eval_node(const qc_graph *g, int node, int opset, qc_tensor **inputs, qc_tensor **outputs,
                        int noutputs) {
  const qc_op *op = qc_op_find(g->nodes[node].proto->op_type, opset);
  if (!op)
    return qc_fail(QC_EUNSUPPORTED, "no kernel for op '%s' at opset %d", g->nodes[node].proto->op_type, opset);
  qc_kernel k;
  kernel_bind(g, node, opset, op, &k);
  k.inputs = inputs;
  k.outputs = outputs;
  k.noutputs = noutputs;
  int rc = op->init ? op->init(&k) : QC_OK;
  if (rc == QC_OK)
    rc = kernel_exec(&k);
  free(k.priv);
  if (rc < 0) {
    char label[256];
    return qc_fail_context(rc, "%s (opset %d)", qc_node_label(g, node, label, sizeof label), opset);
  }
  return QC_OK;
}

static int check_node_op(const qc_model *m, int id, const qc_op **op_out) {
  const qc_graph *g = m->graph;
  const Onnx__NodeProto *np = g->nodes[id].proto;
  char label[256];
  qc_node_label(g, id, label, sizeof label);
  if (!qc_domain_is_default(np->domain))
    return qc_fail(QC_EUNSUPPORTED, "unsupported op '%s' of domain '%s' (opset %d) at %s", np->op_type, np->domain,
                   qc_model_opset(m, np->domain), label);
  const qc_op *op = qc_op_find(np->op_type, m->opset);
  if (!op) {
    if (qc_op_known(np->op_type))
      return qc_fail(QC_EUNSUPPORTED, "op '%s' is not supported at opset %d (%s)", np->op_type, m->opset, label);
    return qc_fail(QC_EUNSUPPORTED, "unsupported op '%s' (opset %d) at %s", np->op_type, m->opset, label);
  }
  /* Kernels treat outputs >= 1 as optional (NULL) but always write output 0. */
  if (g->nodes[id].noutputs < 1 || g->nodes[id].outputs[0] < 0)
    return qc_fail(QC_EINVAL, "%s has no (first) output", label);
  if (op_out)
    *op_out = op;
  return QC_OK;
}

/* The newest ai.onnx opset the kernels were written against (at 21,
 * QuantizeLinear reads output_dtype and Q/DQ refuse block_size). A newer
 * opset may redefine an op that we would run with its old meaning. */
#define QC_MAX_OPSET 21

/* Every ai.onnx import must name one opset in 1..QC_MAX_OPSET. Imports of
 * other domains are fine as long as no node uses them (check_node_op). */
static int check_opset_imports(const qc_model *m) {
  const Onnx__ModelProto *p = m->proto;
  long long seen = 0;
  for (size_t i = 0; i < p->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = p->opset_import[i];
    if (!qc_domain_is_default(o->domain))
      continue;
    long long v = o->has_version ? (long long)o->version : 0;
    if (v > QC_MAX_OPSET)
      return qc_fail(QC_EUNSUPPORTED, "%s: the model imports ai.onnx opset %lld; qconvert supports up to %d",
                     m->path, v, QC_MAX_OPSET);
    if (v < 1)
      return qc_fail(QC_EINVAL, "%s: the model imports ai.onnx opset %lld, which does not exist", m->path, v);
    if (seen && v != seen)
      return qc_fail(QC_EINVAL, "%s: the model imports ai.onnx twice, as opsets %lld and %lld", m->path,
                     seen, v);
    seen = v;
  }
  if (!seen)
    return qc_fail(QC_EUNSUPPORTED, "%s: the model imports no default-domain (ai.onnx) opset", m->path);
  return QC_OK;
}

int qc_engine_check_ops(const qc_model *m) {
  QC_TRY(check_opset_imports(m));
  const qc_graph *g = m->graph;
  for (int i = 0; i < g->n_inputs; i++)
    if (g->values[g->inputs[i]].flags & QC_VALUE_NOT_TENSOR)
      return qc_fail(QC_EUNSUPPORTED, "graph input '%s' is not a tensor (sequence, map and optional types are unsupported)",
                     g->values[g->inputs[i]].name);
  for (int k = 0; k < g->n_order; k++)
    QC_TRY(check_node_op(m, g->order[k], NULL));
  return QC_OK;
}

void qc_engine_free(qc_engine *e) {
  if (!e)
    return;
  for (int i = 0; i < e->n_plan; i++)
    free(e->plan[i].tmpl.priv);
  if (e->consts)
    for (int v = 0; v < e->graph->n_values; v++)
      qc_tensor_release(&e->consts[v]);
  free(e->consts);
  while (e->idle) {
    run_state *rs = e->idle;
    e->idle = rs->next;
    run_state_free(rs);
  }
  pthread_mutex_destroy(&e->idle_lock);
  free(e->plan);
  free(e->last_use);
  free(e->pinned);
  free(e);
}

/* A Constant node, and a DequantizeLinear of constant inputs (a QDQ model's
 * int8 weights and int32 biases), give the same tensor on every run: it is
 * computed here once, with the node's own kernel, and runs read it from
 * consts (so Conv and Gemm can pack such weights too: PP-OCR's weights are
 * Constant nodes). The callback still sees it at the node's place in the plan. */
static int fold_constant_nodes(qc_engine *e) {
  const qc_graph *g = e->graph;
  qc_tensor *kin[3], *kout[1];
  for (int p = 0; p < e->n_plan; p++) {
    plan_node *pn = &e->plan[p];
    const qc_node *nd = &g->nodes[pn->node];
    const int constant = strcmp(pn->tmpl.op_type, "Constant") == 0 && nd->ninputs == 0;
    if ((!constant && strcmp(pn->tmpl.op_type, "DequantizeLinear") != 0) || nd->ninputs > 3 || nd->noutputs != 1 ||
        nd->outputs[0] < 0 || e->consts[nd->outputs[0]].data)
      continue;
    int all_const = 1;
    for (int i = 0; i < nd->ninputs; i++) {
      int v = nd->inputs[i];
      kin[i] = v >= 0 ? &e->consts[v] : NULL;
      if (v >= 0 && !e->consts[v].data)
        all_const = 0;
    }
    if (!all_const)
      continue;
    qc_kernel k = pn->tmpl;
    k.inputs = kin;
    k.outputs = kout;
    kout[0] = &e->consts[nd->outputs[0]];
    int rc = kernel_exec(&k);
    if (rc < 0) {
      char label[256];
      return qc_fail_context(rc, "%s (opset %d)", qc_node_label(g, pn->node, label, sizeof label), k.opset);
    }
    pn->folded = 1;
    e->pinned[nd->outputs[0]] = 1;
  }
  return QC_OK;
}

/* Lets each kernel derive what it can from its constant inputs once (Conv
 * and Gemm pack their weights: qc_kernel_prepack), instead of on every run. */
static int prepack_kernels(qc_engine *e) {
  const qc_graph *g = e->graph;
  qc_tensor **kin = calloc((size_t)e->max_io, sizeof *kin);
  if (!kin)
    return qc_fail(QC_ENOMEM, "out of memory");
  int rc = QC_OK;
  for (int p = 0; p < e->n_plan && rc == QC_OK; p++) {
    plan_node *pn = &e->plan[p];
    const qc_node *nd = &g->nodes[pn->node];
    if (pn->folded)
      continue;
    for (int i = 0; i < nd->ninputs; i++)
      kin[i] = nd->inputs[i] >= 0 && e->consts[nd->inputs[i]].data ? &e->consts[nd->inputs[i]] : NULL;
    pn->tmpl.inputs = kin;
    rc = qc_kernel_prepack(&pn->tmpl);
    pn->tmpl.inputs = NULL;
    if (rc < 0) {
      char label[256];
      rc = qc_fail_context(rc, "%s (opset %d)", qc_node_label(g, pn->node, label, sizeof label), pn->tmpl.opset);
    }
  }
  free(kin);
  return rc;
}

/* Each plan node's fusion (fusion.h); folded nodes do not run. */
static int plan_fusions(qc_engine *e) {
  const qc_graph *g = e->graph;
  int *plan_index = malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
  int *plan_node = malloc(sizeof(int) * ((size_t)e->n_plan + 1));
  if (!plan_index || !plan_node) {
    free(plan_index);
    free(plan_node);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  for (int i = 0; i < g->n_nodes; i++)
    plan_index[i] = -1;
  for (int p = 0; p < e->n_plan; p++) {
    plan_node[p] = e->plan[p].node;
    if (!e->plan[p].folded)
      plan_index[e->plan[p].node] = p;
  }
  for (int p = 0; p < e->n_plan; p++)
    qc_plan_fusion(g, p, plan_node, e->n_plan, plan_index, e->model->opset, e->consts, &e->plan[p].fusion);
  free(plan_index);
  free(plan_node);
  return QC_OK;
}

int qc_engine_create(qc_model *m, const qc_engine_opts *opts, qc_engine **out) {
  *out = NULL;
  qc_set_threads(opts ? opts->nthreads : 0);
  QC_TRY(qc_engine_check_ops(m));
  qc_graph *g = m->graph;
  QC_TRY(qc_graph_reindex(g));
  int *order = NULL, n = 0;
  QC_TRY(qc_graph_topo_order(g, &order, &n));
  qc_engine *e = calloc(1, sizeof *e);
  int rc = QC_OK;
  if (!e) {
    free(order);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  e->model = m;
  e->graph = g;
  e->keep_freed_memory = opts ? opts->keep_freed_memory : 0;
  pthread_mutex_init(&e->idle_lock, NULL);
  e->max_io = 1;
  e->plan = calloc((size_t)n + 1, sizeof *e->plan);
  e->consts = calloc((size_t)g->n_values + 1, sizeof *e->consts);
  e->last_use = malloc(sizeof(int) * ((size_t)g->n_values + 1));
  e->pinned = calloc((size_t)g->n_values + 1, 1);
  if (!e->plan || !e->consts || !e->last_use || !e->pinned) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto fail;
  }
  for (int v = 0; v < g->n_values; v++) {
    const qc_value *val = &g->values[v];
    e->last_use[v] = -1;
    if (val->flags & (QC_VALUE_GRAPH_INPUT | QC_VALUE_GRAPH_OUTPUT))
      e->pinned[v] = 1;
    if ((val->flags & QC_VALUE_INITIALIZER) && !(val->flags & QC_VALUE_GRAPH_INPUT) && val->n_consumers) {
      e->pinned[v] = 1;
      /* Borrowed: the engine is freed before its graph (qc_engine_free reads
       * it) and nothing rewrites the graph while an engine runs on it. */
      const qc_tensor *view;
      rc = qc_graph_initializer_view(g, v, &view);
      if (rc == 0 && !qc_dtype_is_computable(view->dtype))
        rc = qc_fail(QC_EUNSUPPORTED, "%s data is not supported by the engine", qc_dtype_name(view->dtype));
      if (rc == 0)
        qc_tensor_wrap(&e->consts[v], view->dtype, view->ndim, view->dims, view->data);
      if (rc < 0) {
        rc = qc_fail_context(rc, "initializer '%s'", val->name);
        goto fail;
      }
    }
  }
  for (int p = 0; p < n; p++) {
    int id = order[p];
    const qc_node *nd = &g->nodes[id];
    plan_node *pn = &e->plan[p];
    pn->node = id;
    qc_kernel *k = &pn->tmpl;
    const qc_op *op;
    rc = check_node_op(m, id, &op);
    if (rc < 0)
      goto fail;
    kernel_bind(g, id, m->opset, op, k);
    e->n_plan = p + 1;
    if (k->op->init && (rc = k->op->init(k)) < 0) {
      char label[256];
      rc = qc_fail_context(rc, "%s (opset %d)", qc_node_label(g, id, label, sizeof label), m->opset);
      goto fail;
    }
    for (int i = 0; i < nd->ninputs; i++)
      if (nd->inputs[i] >= 0)
        e->last_use[nd->inputs[i]] = p;
    for (int i = 0; i < nd->noutputs; i++)
      if (nd->outputs[i] >= 0 && (g->values[nd->outputs[i]].flags & QC_VALUE_GRAPH_OUTPUT))
        pn->makes_graph_output = 1;
    if (nd->ninputs > e->max_io)
      e->max_io = nd->ninputs;
    if (nd->noutputs > e->max_io)
      e->max_io = nd->noutputs;
  }
  if ((rc = fold_constant_nodes(e)) < 0 || (rc = prepack_kernels(e)) < 0)
    goto fail;
  if ((rc = plan_fusions(e)) < 0)
    goto fail;
  free(order);
  *out = e;
  return QC_OK;
fail:
  free(order);
  qc_engine_free(e);
  return rc;
}

void qc_engine_fused_counts(const qc_engine *e, int *absorbed, int *fake_quant) {
  *absorbed = *fake_quant = 0;
  unsigned char *inside = calloc((size_t)e->n_plan + 1, 1); /* absorbed by an earlier plan node */
  for (int p = 0; inside && p < e->n_plan; p++) {
    const qc_fusion *f = &e->plan[p].fusion;
    if (inside[p])
      continue;
    for (int i = 0; i < f->n_absorbed; i++)
      inside[f->absorbed[i]] = 1;
    *absorbed += f->n_absorbed;
    *fake_quant += f->kind == QC_FUSE_FAKE_QUANT ? f->n_absorbed : f->act.fq.on;
  }
  free(inside);
}
