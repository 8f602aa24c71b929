/* Where a layer's bias correction goes and how it is written. See bias_targets.h. */
#include "bias_targets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../calib/qparams.h"
#include "../core/status.h"
#include "../ir/attr.h"
#include "qdq_internal.h"

static const char *const k_weighted[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};

int bc_is_op(const qc_graph *g, int node, const char *op) {
  return node >= 0 && !g->nodes[node].removed && strcmp(qc_node_op(g, node), op) == 0;
}

int bc_producer(const qc_graph *g, int v) { return v >= 0 ? g->values[v].producer : -1; }

int bc_is_init(const qc_graph *g, int v, qc_dtype dtype) {
  const qc_tensor *t;
  return v >= 0 && (g->values[v].flags & QC_VALUE_INITIALIZER) && qc_graph_initializer_view(g, v, &t) == QC_OK &&
         t->dtype == dtype;
}

static int64_t init_numel(const qc_graph *g, int v) {
  const qc_tensor *t;
  return qc_graph_initializer_view(g, v, &t) == QC_OK ? t->numel : -1;
}

/* Input `slot` of node, or -1. */
int bc_input(const qc_graph *g, int node, int slot) {
  const qc_node *n = &g->nodes[node];
  return slot < n->ninputs ? n->inputs[slot] : -1;
}

/* The DequantizeLinear producing v from an initializer of dtype, read by one node only; -1 otherwise. */
static int dq_of_init(const qc_graph *g, int v, qc_dtype dtype) {
  int dq = bc_producer(g, v);
  if (!bc_is_op(g, dq, "DequantizeLinear") || !bc_is_init(g, bc_input(g, dq, 0), dtype) || g->values[v].n_consumers != 1 ||
      (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT) || g->values[bc_input(g, dq, 0)].n_consumers != 1)
    return -1;
  return dq;
}

/* Whether node is a weighted op with an int8 weight behind DequantizeLinear. */
int bc_weight_quantized(const qc_graph *g, int node) {
  int known = 0;
  for (size_t i = 0; i < sizeof k_weighted / sizeof *k_weighted; i++)
    known |= bc_is_op(g, node, k_weighted[i]);
  if (!known)
    return 0;
  int dq = bc_producer(g, bc_input(g, node, 1));
  return bc_is_op(g, dq, "DequantizeLinear") && bc_is_init(g, bc_input(g, dq, 0), QC_DT_INT8);
}

/* A constant of C elements, all dims 1 but the last: it adds along the last axis. */
static int along_last_axis(const qc_graph *g, int v, int channels) {
  const qc_tensor *t;
  if (qc_graph_initializer_view(g, v, &t) < 0 || t->numel != channels || t->ndim < 1)
    return 0;
  for (int d = 0; d + 1 < t->ndim; d++)
    if (t->dims[d] != 1)
      return 0;
  return 1;
}

/* MatMul: the constant input of the Add that alone reads its output (through
 * its own Q -> DQ when the output is quantized). */
static int matmul_target(const qc_graph *g, int node, int channels, target *t) {
  int v = g->nodes[node].outputs[0];
  if (v < 0 || g->values[v].n_consumers != 1 || (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT))
    return 0;
  int next = g->values[v].consumers[0];
  if (bc_is_op(g, next, "QuantizeLinear")) { /* Q -> DQ -> Add */
    int q = g->nodes[next].outputs[0];
    if (g->values[q].n_consumers != 1 || !bc_is_op(g, g->values[q].consumers[0], "DequantizeLinear"))
      return 0;
    v = g->nodes[g->values[q].consumers[0]].outputs[0];
    if (g->values[v].n_consumers != 1 || (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT))
      return 0;
    next = g->values[v].consumers[0];
  }
  if (!bc_is_op(g, next, "Add") || g->nodes[next].ninputs != 2)
    return 0;
  int c = bc_input(g, next, 0) == v ? bc_input(g, next, 1) : bc_input(g, next, 0);
  if (bc_is_init(g, c, QC_DT_FLOAT) && g->values[c].n_consumers == 1 && along_last_axis(g, c, channels)) {
    *t = (target){.kind = T_ADD_FLOAT, .value = c, .zp = -1, .beta = 1.0f};
    return 1;
  }
  for (int k = 0; k < 2; k++) {
    qc_dtype dt = k ? QC_DT_INT8 : QC_DT_UINT8;
    int dq = dq_of_init(g, c, dt);
    int qv = dq >= 0 ? bc_input(g, dq, 0) : -1, sc = dq >= 0 ? bc_input(g, dq, 1) : -1, zp = dq >= 0 ? bc_input(g, dq, 2) : -1;
    if (dq >= 0 && along_last_axis(g, qv, channels) && init_numel(g, sc) == 1 && zp >= 0 && init_numel(g, zp) == 1 &&
        g->values[sc].n_consumers == 1 && g->values[zp].n_consumers == 1) {
      *t = (target){.kind = T_ADD_QUANT, .value = qv, .scale = sc, .zp = zp, .beta = 1.0f};
      return 1;
    }
  }
  return 0;
}

/* Where the correction of node (channels outputs) goes in g; 0 when nowhere. */
int bc_find_target(const qc_graph *g, int node, int channels, target *t) {
  memset(t, 0, sizeof *t);
  t->zp = -1;
  t->beta = 1.0f;
  if (bc_is_op(g, node, "MatMul"))
    return matmul_target(g, node, channels, t);
  if (bc_is_op(g, node, "Gemm")) {
    qc_attrs attrs = qc_node_attrs(g, node);
    if (qc_attr_float(&attrs, "beta", 1.0f, &t->beta) < 0 || t->beta == 0.0f)
      return 0;
  }
  int b = bc_input(g, node, 2);
  if (b >= 0) {
    int dq = dq_of_init(g, b, QC_DT_INT32);
    if (dq >= 0) {
      t->kind = T_INT32;
      t->value = bc_input(g, dq, 0);
      t->scale = bc_input(g, dq, 1);
      int64_t ns = init_numel(g, t->scale);
      return init_numel(g, t->value) == channels && (ns == 1 || ns == channels) &&
             g->values[t->scale].n_consumers == 1;
    }
    t->kind = T_FLOAT;
    t->value = b;
    return bc_is_init(g, b, QC_DT_FLOAT) && g->values[b].n_consumers == 1 && along_last_axis(g, b, channels);
  }
  /* No bias: a new one, int32 when the activation input is quantized per tensor. */
  int xdq = bc_producer(g, bc_input(g, node, 0));
  int wdq = bc_producer(g, bc_input(g, node, 1));
  int xs = bc_is_op(g, xdq, "DequantizeLinear") ? bc_input(g, xdq, 1) : -1;
  if (xs >= 0) {
    const qc_tensor *st;
    int ws = bc_input(g, wdq, 1);
    int64_t nw = init_numel(g, ws);
    if (qc_graph_initializer_view(g, xs, &st) < 0 || st->dtype != QC_DT_FLOAT || st->numel != 1 ||
        !bc_is_init(g, ws, QC_DT_FLOAT) || (nw != 1 && nw != channels))
      return 0;
    t->kind = T_NEW_INT32;
    t->x_scale = qc_f32(st)[0];
    t->w_scale = ws;
    return 1;
  }
  t->kind = T_NEW_FLOAT;
  return 1;
}

static int32_t clamp_i32(double r) {
  return (int32_t)(r > 2147483647.0 ? 2147483647.0 : r < -2147483648.0 ? -2147483648.0 : r);
}

/* Requantizes a per-tensor quantized constant minus delta (T_ADD_QUANT). */
static int apply_add_quant(qc_graph *g, const target *t, const double *delta, int channels) {
  const qc_tensor *q, *sc, *zp;
  QC_TRY(qc_graph_initializer_view(g, t->value, &q));
  QC_TRY(qc_graph_initializer_view(g, t->scale, &sc));
  QC_TRY(qc_graph_initializer_view(g, t->zp, &zp));
  int u8 = q->dtype == QC_DT_UINT8;
  float s = qc_f32(sc)[0];
  int32_t z = u8 ? qc_u8(zp)[0] : qc_s8(zp)[0];
  float *c = malloc(sizeof(float) * (size_t)channels);
  if (!c)
    return qc_fail(QC_ENOMEM, "out of memory");
  float mn = INFINITY, mx = -INFINITY;
  for (int j = 0; j < channels; j++) {
    int32_t qj = u8 ? qc_u8(q)[j] : qc_s8(q)[j];
    c[j] = (float)((double)qc_dequantize_value(qj, s, z) - delta[j]);
    mn = fminf(mn, c[j]);
    mx = fmaxf(mx, c[j]);
  }
  qc_qparams qp;
  qc_tensor nq = {0}, ns = {0}, nz = {0};
  int rc = qc_qparams_compute(u8 ? QC_QS_UINT8_AFFINE : QC_QS_INT8_SYMMETRIC, mn, mx, &qp);
  if (rc == QC_OK)
    rc = qc_tensor_alloc(&nq, q->dtype, q->ndim, q->dims);
  if (rc == QC_OK)
    rc = qc_tensor_alloc(&ns, QC_DT_FLOAT, sc->ndim, sc->dims);
  if (rc == QC_OK)
    rc = qc_tensor_alloc(&nz, zp->dtype, zp->ndim, zp->dims);
  if (rc == QC_OK) {
    for (int j = 0; j < channels; j++) {
      int32_t r = qc_quantize_value(c[j], qp.scale, qp.zero_point, qp.qmin, qp.qmax);
      if (u8)
        qc_u8(&nq)[j] = (uint8_t)r;
      else
        qc_s8(&nq)[j] = (int8_t)r;
    }
    qc_f32(&ns)[0] = qp.scale;
    if (u8)
      qc_u8(&nz)[0] = (uint8_t)qp.zero_point;
    else
      qc_s8(&nz)[0] = (int8_t)qp.zero_point;
    char name[1024];
    snprintf(name, sizeof name, "%s", g->values[t->value].name);
    rc = qc_graph_set_initializer(g, name, &nq, NULL);
    snprintf(name, sizeof name, "%s", g->values[t->scale].name);
    if (rc == QC_OK)
      rc = qc_graph_set_initializer(g, name, &ns, NULL);
    snprintf(name, sizeof name, "%s", g->values[t->zp].name);
    if (rc == QC_OK)
      rc = qc_graph_set_initializer(g, name, &nz, NULL);
  }
  qc_tensor_release(&nq);
  qc_tensor_release(&ns);
  qc_tensor_release(&nz);
  free(c);
  return rc;
}

/* Writes b - delta into the target of node. */
int bc_apply(qc_graph *g, int node, const target *t, const double *delta, int channels) {
  if (t->kind == T_ADD_QUANT)
    return apply_add_quant(g, t, delta, channels);
  int64_t dims[1] = {channels};
  qc_tensor nb = {0};
  const qc_tensor *old = NULL, *sc = NULL;
  char name[1024];
  int rc = QC_OK;
  if (t->kind == T_INT32 || t->kind == T_FLOAT || t->kind == T_ADD_FLOAT)
    QC_TRY(qc_graph_initializer_view(g, t->value, &old));
  if (t->kind == T_INT32)
    QC_TRY(qc_graph_initializer_view(g, t->scale, &sc));
  if (t->kind == T_NEW_INT32)
    QC_TRY(qc_graph_initializer_view(g, t->w_scale, &sc));
  qc_dtype dt = (t->kind == T_INT32 || t->kind == T_NEW_INT32) ? QC_DT_INT32 : QC_DT_FLOAT;
  QC_TRY(qc_tensor_alloc(&nb, dt, old ? old->ndim : 1, old ? old->dims : dims));
  float *bscale = t->kind == T_NEW_INT32 ? malloc(sizeof(float) * (size_t)channels) : NULL;
  if (t->kind == T_NEW_INT32 && !bscale)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  for (int c = 0; rc == QC_OK && c < channels; c++) {
    switch (t->kind) {
    case T_INT32: {
      double s = qc_f32(sc)[sc->numel > 1 ? c : 0];
      qc_i32(&nb)[c] = clamp_i32(nearbyint((double)qc_i32(old)[c] - delta[c] / (double)t->beta / s));
      break;
    }
    case T_NEW_INT32: /* scale s_x * s_w[c] in float, as the QDQ pass makes it (qdq_weights.c) */
      bscale[c] = t->x_scale * qc_f32(sc)[sc->numel > 1 ? c : 0];
      qc_i32(&nb)[c] = clamp_i32(nearbyint(-delta[c] / (double)bscale[c]));
      break;
    case T_FLOAT:
    case T_ADD_FLOAT:
      qc_f32(&nb)[c] = (float)((double)qc_f32(old)[c] - delta[c] / (double)t->beta);
      break;
    default: /* T_NEW_FLOAT */
      qc_f32(&nb)[c] = (float)(-delta[c] / (double)t->beta);
    }
  }
  if (rc == QC_OK && old) {
    snprintf(name, sizeof name, "%s", g->values[t->value].name);
    rc = qc_graph_set_initializer(g, name, &nb, NULL);
  } else if (rc == QC_OK) { /* a new bias input */
    char base[32], tmp[64], qname[600], dqname[600];
    qdq_base_name(g, base, sizeof base);
    snprintf(tmp, sizeof tmp, "%s_%s", base, t->kind == T_NEW_INT32 ? "q" : "bias");
    qc_graph_unique_name(g, tmp, qname, sizeof qname);
    rc = qc_graph_set_initializer(g, qname, &nb, NULL);
    const char *bias_in = qname;
    if (rc == QC_OK && t->kind == T_NEW_INT32) {
      snprintf(tmp, sizeof tmp, "%s_dq", base);
      qc_graph_unique_name(g, tmp, dqname, sizeof dqname);
      rc = qdq_add_dequantize(g, base, qname, bscale, NULL, channels, 0, QC_DT_INT32, dqname, node);
      bias_in = dqname;
    }
    if (rc == QC_OK)
      rc = qc_node_set_input(g, node, 2, bias_in);
  }
  free(bscale);
  qc_tensor_release(&nb);
  return rc;
}
