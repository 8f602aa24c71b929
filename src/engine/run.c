/* Runs: the plan node by node, fused kernels where no callback watches
 * (fusion.h), activation buffers from the run state's pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../ir/graph.h"
#include "../ops/kernels.h"
#include "engine_internal.h"
#include "onnx.pb-c.h"

static int check_input(const qc_value *v, const qc_tensor *t) {
  char want[128], got[128];
  if (!t || !t->data)
    return qc_fail(QC_EUSAGE, "input '%s' was not provided", v->name);
  if (!qc_dtype_is_computable(t->dtype))
    return qc_fail(QC_EUNSUPPORTED, "input '%s' holds %s data, which the engine does not compute with", v->name,
                   qc_dtype_name(t->dtype));
  if (v->dtype != QC_DT_UNDEFINED && v->dtype != t->dtype)
    return qc_fail(QC_EUSAGE, "input '%s' expects %s data, got %s", v->name, qc_dtype_name(v->dtype),
                   qc_dtype_name(t->dtype));
  if (v->ndim < 0)
    return QC_OK;
  int ok = v->ndim == t->ndim;
  for (int i = 0; ok && i < v->ndim; i++)
    if (v->dims[i] >= 0 && v->dims[i] != t->dims[i])
      ok = 0;
  if (!ok) {
    size_t off = 0;
    for (int i = 0; i < v->ndim && off < sizeof want; i++) {
      if (v->dims[i] >= 0)
        off += (size_t)snprintf(want + off, sizeof want - off, "%s%lld", i ? "x" : "", (long long)v->dims[i]);
      else
        off += (size_t)snprintf(want + off, sizeof want - off, "%s%s", i ? "x" : "",
                                v->dim_params[i] ? v->dim_params[i] : "?");
    }
    if (v->ndim == 0)
      snprintf(want, sizeof want, "scalar");
    return qc_fail(QC_EUSAGE, "input '%s' expects shape %s, got %s", v->name, want,
                   qc_shape_str(t->ndim, t->dims, got, sizeof got));
  }
  return QC_OK;
}

void run_state_free(run_state *rs) {
  qc_pool_release(&rs->pool);
  free(rs->vals);
  free(rs->store);
  free(rs->kin);
  free(rs->kout);
  free(rs->absorbed);
  free(rs);
}

static run_state *run_state_take(qc_engine *e) {
  pthread_mutex_lock(&e->idle_lock);
  run_state *rs = e->idle;
  if (rs)
    e->idle = rs->next;
  pthread_mutex_unlock(&e->idle_lock);
  if (rs)
    return rs;
  const size_t nv = (size_t)e->graph->n_values + 1;
  rs = calloc(1, sizeof *rs);
  if (rs) {
    rs->vals = calloc(nv, sizeof *rs->vals);
    rs->store = calloc(nv, sizeof *rs->store);
    rs->kin = calloc((size_t)e->max_io, sizeof *rs->kin);
    rs->kout = calloc((size_t)e->max_io, sizeof *rs->kout);
    rs->absorbed = calloc((size_t)e->n_plan + 1, 1);
    rs->pool.keep_freed_memory = e->keep_freed_memory;
    if (!rs->vals || !rs->store || !rs->kin || !rs->kout || !rs->absorbed) {
      run_state_free(rs);
      rs = NULL;
    }
  }
  return rs;
}

static void run_state_give_back(qc_engine *e, run_state *rs) {
  pthread_mutex_lock(&e->idle_lock);
  rs->next = e->idle;
  e->idle = rs;
  pthread_mutex_unlock(&e->idle_lock);
}

/* Empties a computed tensor: pooled data goes back to the pool. */
static void value_release(run_state *rs, qc_tensor *t) {
  if (!t->owns_data && t->data)
    qc_pool_put(&rs->pool, t->data);
  qc_tensor_release(t);
}

/* Points kout at the store slots of node nd's outputs, emptied. */
static void bind_outputs(run_state *rs, const qc_node *nd, qc_tensor **kout) {
  for (int i = 0; i < nd->noutputs; i++) {
    int v = nd->outputs[i];
    kout[i] = v >= 0 ? &rs->store[v] : NULL;
    if (kout[i])
      value_release(rs, kout[i]);
  }
}

static int same_dims(const qc_tensor *a, const qc_tensor *b) {
  if (a->ndim != b->ndim)
    return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->dims[i] != b->dims[i])
      return 0;
  return 1;
}

/* Makes node nd's outputs (computed into the store) visible to later nodes
 * and to the callback; `label_node` names the node that ran. */
static int publish_outputs(qc_engine *e, run_state *rs, int label_node, const qc_node *nd, qc_value_callback cb,
                           void *user) {
  const qc_graph *g = e->graph;
  char label[256];
  for (int i = 0; i < nd->noutputs; i++) {
    int v = nd->outputs[i];
    if (v < 0)
      continue;
    if (!rs->store[v].data) {
      /* Output 0 is always written; a missing later one means the model lists
       * more outputs than the op defines (bad input), not a kernel bug. */
      return qc_fail(i ? QC_EINVAL : QC_EINTERNAL, "%s did not produce output #%d '%s'%s",
                     qc_node_label(g, label_node, label, sizeof label), i, g->values[v].name,
                     i ? " (the node lists more outputs than the op defines)" : "");
    }
    rs->vals[v] = &rs->store[v];
    if (cb)
      QC_TRY(cb(user, label_node, v, &rs->store[v]));
  }
  return QC_OK;
}

/* Frees plan node p's inputs that no later node reads. */
static void free_dead_inputs(const qc_engine *e, run_state *rs, int p) {
  const qc_node *nd = &e->graph->nodes[e->plan[p].node];
  for (int i = 0; i < nd->ninputs; i++) {
    int v = nd->inputs[i];
    if (v >= 0 && e->last_use[v] == p && !e->pinned[v] && rs->vals[v] == &rs->store[v]) {
      value_release(rs, &rs->store[v]);
      rs->vals[v] = NULL;
    }
  }
}

/* Frees node nd's outputs that nothing reads. */
static void free_unread_outputs(const qc_engine *e, run_state *rs, const qc_node *nd) {
  for (int i = 0; i < nd->noutputs; i++) {
    int v = nd->outputs[i];
    if (v >= 0 && e->last_use[v] < 0 && !e->pinned[v]) {
      value_release(rs, &rs->store[v]);
      rs->vals[v] = NULL;
    }
  }
}

/* Kernel status rc of plan node p, with the node named. */
static int kernel_failed(const qc_engine *e, int p, int rc) {
  char label[256];
  return qc_fail_context(rc, "%s (opset %d)", qc_node_label(e->graph, e->plan[p].node, label, sizeof label),
                         e->plan[p].tmpl.opset);
}

/* Runs plan node p with its fusion (k has its inputs bound): 1 when it ran
 * (status in *rc), 0 when a run-time condition fails (a broadcasting Add,
 * a non-float output or QuantizeLinear input) and p must run alone. */
static int run_fused(qc_engine *e, run_state *rs, int p, qc_kernel *k, int *rc) {
  const qc_graph *g = e->graph;
  const qc_fusion *f = &e->plan[p].fusion;
  k->outputs = rs->kout;
  if (f->kind == QC_FUSE_CONV || f->kind == QC_FUSE_BINARY || f->kind == QC_FUSE_MATMUL) {
    const qc_tensor *res = f->res_value >= 0 ? rs->vals[f->res_value] : NULL;
    if (f->res_value >= 0 && (!res || res->dtype != QC_DT_FLOAT))
      return 0;
    const plan_node *out_pn = &e->plan[f->absorbed[f->n_absorbed - 1]];
    const qc_node *out_nd = &g->nodes[out_pn->node];
    bind_outputs(rs, out_nd, rs->kout);
    k->pool = out_pn->makes_graph_output ? NULL : &rs->pool;
    *rc = k->op->shape(k);
    if (*rc == QC_OK && ((res && !same_dims(res, rs->kout[0])) || rs->kout[0]->dtype != QC_DT_FLOAT)) {
      value_release(rs, rs->kout[0]);
      return 0;
    }
    if (*rc == QC_OK && f->kind == QC_FUSE_BINARY) {
      *rc = qc_binary_run_post(k, &f->act);
    } else if (*rc == QC_OK && f->kind == QC_FUSE_MATMUL) {
      *rc = qc_matmul_run_post(k, &f->act);
    } else if (*rc == QC_OK) {
      const qc_conv_post post = {res ? qc_f32(res) : NULL, f->act};
      *rc = qc_conv_run_post(k, &post);
    }
    if (*rc < 0)
      *rc = kernel_failed(e, p, *rc);
    if (*rc == QC_OK)
      *rc = publish_outputs(e, rs, e->plan[p].node, out_nd, NULL, NULL);
    if (*rc == QC_OK)
      free_unread_outputs(e, rs, out_nd);
  } else {
    if (!k->inputs[0] || k->inputs[0]->dtype != QC_DT_FLOAT)
      return 0;
    *rc = QC_OK;
    /* QC_FUSE_FAKE_QUANT: one pass per DequantizeLinear; QC_FUSE_ACT: one pass. */
    const int passes = f->kind == QC_FUSE_FAKE_QUANT ? f->n_absorbed : 1;
    for (int i = 0; i < passes && *rc == QC_OK; i++) {
      const int out_p = f->kind == QC_FUSE_FAKE_QUANT ? f->absorbed[i] : f->absorbed[f->n_absorbed - 1];
      const plan_node *out_pn = &e->plan[out_p];
      const qc_node *out_nd = &g->nodes[out_pn->node];
      const qc_act act = f->kind == QC_FUSE_FAKE_QUANT ? (qc_act){.kind = QC_ACT_NONE, .fq = f->fq[i]} : f->act;
      bind_outputs(rs, out_nd, rs->kout);
      k->pool = out_pn->makes_graph_output ? NULL : &rs->pool;
      if ((*rc = qc_postop_run(k, &act)) < 0)
        *rc = kernel_failed(e, p, *rc);
      if (*rc == QC_OK)
        *rc = publish_outputs(e, rs, e->plan[p].node, out_nd, NULL, NULL);
      if (*rc == QC_OK)
        free_unread_outputs(e, rs, out_nd);
    }
  }
  for (int i = 0; i < f->n_absorbed && *rc == QC_OK; i++)
    rs->absorbed[f->absorbed[i]] = 1;
  return 1;
}

int qc_engine_run(qc_engine *e, qc_tensor *const *inputs, qc_tensor *outputs, qc_value_callback cb, void *user) {
  qc_graph *g = e->graph;
  int nv = g->n_values;
  run_state *rs = run_state_take(e);
  if (!rs)
    return qc_fail(QC_ENOMEM, "out of memory");
  qc_tensor **vals = rs->vals, *store = rs->store, **kin = rs->kin, **kout = rs->kout;
  int rc = QC_OK;
  memset(rs->absorbed, 0, (size_t)e->n_plan);
  for (int v = 0; v < nv; v++)
    vals[v] = e->consts[v].data ? &e->consts[v] : NULL;
  for (int i = 0; i < g->n_inputs; i++) {
    const qc_value *val = &g->values[g->inputs[i]];
    if ((rc = check_input(val, inputs[i])) < 0)
      goto done;
    vals[g->inputs[i]] = inputs[i];
  }
  for (int p = 0; p < e->n_plan && rc == QC_OK; p++) {
    const plan_node *pn = &e->plan[p];
    const qc_node *nd = &g->nodes[pn->node];
    qc_kernel k = pn->tmpl;
    char label[256];
    if (qc_interrupted()) {
      rc = qc_fail(QC_EINTERRUPTED, "interrupted");
      break;
    }
    if (pn->folded) {
      if (cb)
        rc = cb(user, pn->node, nd->outputs[0], &e->consts[nd->outputs[0]]);
      continue;
    }
    if (rs->absorbed[p]) { /* computed by an earlier node's fused kernel */
      rs->absorbed[p] = 0;
      free_dead_inputs(e, rs, p);
      continue;
    }
    for (int i = 0; i < nd->ninputs; i++) {
      int v = nd->inputs[i];
      kin[i] = v >= 0 ? vals[v] : NULL;
      if (v >= 0 && !kin[i]) {
        rc = qc_fail(QC_EINVAL, "%s: input '%s' has no value", qc_node_label(g, pn->node, label, sizeof label),
                     g->values[v].name);
        break;
      }
    }
    if (rc < 0)
      break;
    k.inputs = kin;
    if (cb || pn->fusion.kind == QC_FUSE_NONE || !run_fused(e, rs, p, &k, &rc)) {
      bind_outputs(rs, nd, kout);
      k.outputs = kout;
      k.pool = pn->makes_graph_output ? NULL : &rs->pool;
      if ((rc = kernel_exec(&k)) < 0)
        rc = kernel_failed(e, p, rc);
      if (rc == QC_OK)
        rc = publish_outputs(e, rs, pn->node, nd, cb, user);
      if (rc == QC_OK)
        free_unread_outputs(e, rs, nd);
    }
    if (rc < 0)
      break;
    free_dead_inputs(e, rs, p);
  }
  for (int i = 0; rc == QC_OK && i < g->n_outputs; i++) {
    int v = g->outputs[i];
    qc_tensor_release(&outputs[i]);
    if (vals[v] == &store[v] && store[v].owns_data) {
      outputs[i] = store[v]; /* hand over ownership */
      memset(&store[v], 0, sizeof store[v]);
    } else if (vals[v]) {
      rc = qc_tensor_copy(&outputs[i], vals[v]);
    } else {
      rc = qc_fail(QC_EINVAL, "graph output '%s' was not computed", g->values[v].name);
    }
  }
done:
  for (int v = 0; v < nv; v++)
    if (store[v].data)
      value_release(rs, &store[v]);
  qc_pool_end_run(&rs->pool);
  run_state_give_back(e, rs);
  return rc;
}
