/* Weight and bias quantization for the QDQ pass: int8 symmetric weights
 * (per channel by default) and int32 bias with scale s_x * s_w, zero point 0,
 * as onnxruntime's QLinearConv/QGemm expect. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "onnx.pb-c.h"
#include "adaround.h"
#include "qdq_internal.h"

void qdq_base_name(qc_graph *g, char *buf, size_t n) { snprintf(buf, n, "qc%d", g->name_seq++); }

int qdq_add_qparams(qc_graph *g, const char *base, const float *scale, const int32_t *zp, int n, qc_dtype zp_type,
                    char *scale_name, char *zp_name, size_t name_len) {
  char tmp[512];
  int64_t dims[1] = {n};
  int ndim = n > 1 ? 1 : 0;
  qc_tensor t = {0};
  snprintf(tmp, sizeof tmp, "%s_scale", base);
  qc_graph_unique_name(g, tmp, scale_name, name_len);
  QC_TRY(qc_tensor_alloc(&t, QC_DT_FLOAT, ndim, dims));
  memcpy(t.data, scale, sizeof(float) * (size_t)n);
  int rc = qc_graph_set_initializer(g, scale_name, &t, NULL);
  qc_tensor_release(&t);
  QC_TRY(rc);
  if (zp_type == QC_DT_INT32) { /* int32 bias: no zero point input */
    zp_name[0] = 0;
    return QC_OK;
  }
  snprintf(tmp, sizeof tmp, "%s_zp", base);
  qc_graph_unique_name(g, tmp, zp_name, name_len);
  QC_TRY(qc_tensor_alloc(&t, zp_type, ndim, dims));
  for (int i = 0; i < n; i++) {
    if (zp_type == QC_DT_UINT8)
      qc_u8(&t)[i] = (uint8_t)zp[i];
    else
      qc_s8(&t)[i] = (int8_t)zp[i];
  }
  rc = qc_graph_set_initializer(g, zp_name, &t, NULL);
  qc_tensor_release(&t);
  return rc;
}

int qdq_add_dequantize(qc_graph *g, const char *base, const char *q_name, const float *scale, const int32_t *zp,
                       int n, int axis, qc_dtype zp_type, const char *out_name, int before) {
  char scale_name[512], zp_name[512];
  QC_TRY(qdq_add_qparams(g, base, scale, zp, n, zp_type, scale_name, zp_name, sizeof scale_name));
  const char *ins[3] = {q_name, scale_name, zp_name};
  const char *outs[1] = {out_name};
  int node;
  QC_TRY(qc_graph_add_node(g, "DequantizeLinear", NULL, ins, zp_name[0] ? 3 : 2, outs, 1, before, &node));
  if (n > 1)
    QC_TRY(qc_node_set_attr_int(g, node, "axis", axis));
  return QC_OK;
}

/* Channel count and per-element channel index along `axis` of a C-order tensor. */
static int64_t channel_of(const qc_tensor *t, int axis, int64_t i) {
  int64_t inner = 1;
  for (int d = axis + 1; d < t->ndim; d++)
    inner *= t->dims[d];
  return (i / inner) % t->dims[axis];
}

/* Quantizes float tensor w (int8 symmetric [-127,127]) into q with the given
 * per-channel (axis >= 0) or per-tensor scales: round to nearest, or the
 * learned values of `learned` (--rounding adaround) in every channel whose
 * scale is the one they were learned for (the bias may have enlarged it). */
static void quantize_int8(const qc_tensor *w, int axis, const float *scale, const qc_rounded_weight *learned,
                          int8_t *q) {
  for (int64_t i = 0; i < w->numel; i++) {
    int64_t c = axis >= 0 ? channel_of(w, axis, i) : 0;
    float s = scale[c];
    if (learned && learned->scale[c] == s) {
      q[i] = learned->q[i];
      continue;
    }
    float r = nearbyintf(qc_f32(w)[i] / s);
    q[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
  }
}

/* The learned rounding of weight `name` when it was learned from these very
 * values (Gemm: alpha folded) with this channel axis. */
static const qc_rounded_weight *find_rounding(const qc_weight_rounding *table, const char *name,
                                              const qc_tensor *w, int axis, int n) {
  for (int i = 0; table && i < table->n; i++) {
    const qc_rounded_weight *r = &table->weights[i];
    if (strcmp(r->name, name) == 0)
      return r->numel == w->numel && r->axis == axis && r->n_scales == n && r->fingerprint == qc_weight_fingerprint(w)
                 ? r
                 : NULL;
  }
  return NULL;
}

int qdq_weight_scales(const qc_tensor *w, int axis, float *scale, int n) {
  float *mins = malloc(sizeof(float) * (size_t)n), *maxs = malloc(sizeof(float) * (size_t)n);
  int rc = (mins && maxs) ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK && axis >= 0) {
    rc = qc_channel_minmax(w, axis, mins, maxs);
  } else if (rc == QC_OK) {
    mins[0] = INFINITY, maxs[0] = -INFINITY;
    for (int64_t i = 0; i < w->numel; i++) {
      float v = qc_f32(w)[i];
      if (!isfinite(v)) {
        rc = qc_fail(QC_EINVAL, "weight has a non-finite value");
        break;
      }
      mins[0] = v < mins[0] ? v : mins[0];
      maxs[0] = v > maxs[0] ? v : maxs[0];
    }
  }
  for (int c = 0; rc == QC_OK && c < n; c++) {
    qc_qparams qp;
    rc = qc_qparams_compute(QC_QS_INT8_SYMMETRIC, mins[c], maxs[c], &qp);
    scale[c] = qp.scale;
  }
  free(mins);
  free(maxs);
  return rc;
}

/* Replaces initializer input `slot` of node by int8 data + DequantizeLinear. */
static int replace_weight(qc_graph *g, int node, int slot, const qc_tensor *w, int axis, const float *scale, int n,
                          const qc_weight_rounding *rounding) {
  char base[32], qname[600], dqname[600];
  const qc_rounded_weight *learned = find_rounding(rounding, g->values[g->nodes[node].inputs[slot]].name, w, axis, n);
  qdq_base_name(g, base, sizeof base);
  qc_tensor q = {0};
  QC_TRY(qc_tensor_alloc(&q, QC_DT_INT8, w->ndim, w->dims));
  quantize_int8(w, axis, scale, learned, qc_s8(&q));
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s_q", base);
  qc_graph_unique_name(g, tmp, qname, sizeof qname);
  int rc = qc_graph_set_initializer(g, qname, &q, NULL);
  qc_tensor_release(&q);
  QC_TRY(rc);
  snprintf(tmp, sizeof tmp, "%s_dq", base);
  qc_graph_unique_name(g, tmp, dqname, sizeof dqname);
  int32_t *zp = calloc((size_t)n, sizeof *zp);
  if (!zp)
    return qc_fail(QC_ENOMEM, "out of memory");
  rc = qdq_add_dequantize(g, base, qname, scale, zp, n, axis, QC_DT_INT8, dqname, node);
  free(zp);
  QC_TRY(rc);
  return qc_node_set_input(g, node, slot, dqname);
}

/* The bias as int32 with scale x_scale * w_scale[c]; a channel whose bias
 * would overflow int32 gets a larger weight scale first (as onnxruntime does). */
static int replace_bias(qc_graph *g, int node, int slot, const qc_tensor *b, float x_scale, float *w_scale, int nw,
                        float beta) {
  int64_t n = b->numel;
  float *bscale = malloc(sizeof(float) * (size_t)n);
  qc_tensor q = {0};
  int64_t dims[1] = {n};
  if (!bscale)
    return qc_fail(QC_ENOMEM, "out of memory");
  int rc = qc_tensor_alloc(&q, QC_DT_INT32, 1, dims);
  for (int64_t c = 0; rc == QC_OK && c < n; c++) {
    float *ws = &w_scale[nw > 1 ? c : 0];
    double v = (double)qc_f32(b)[c] * beta;
    if (fabs(v) / ((double)x_scale * *ws) > 2147483000.0 && nw > 1)
      *ws = (float)(fabs(v) / ((double)x_scale * 2147483000.0));
    bscale[c] = x_scale * *ws;
    double r = nearbyint(v / bscale[c]);
    qc_i32(&q)[c] = (int32_t)(r > 2147483647.0 ? 2147483647.0 : r < -2147483648.0 ? -2147483648.0 : r);
  }
  char base[32], qname[600], dqname[600], tmp[600];
  if (rc == QC_OK) {
    qdq_base_name(g, base, sizeof base);
    snprintf(tmp, sizeof tmp, "%s_q", base);
    qc_graph_unique_name(g, tmp, qname, sizeof qname);
    rc = qc_graph_set_initializer(g, qname, &q, NULL);
  }
  if (rc == QC_OK) {
    snprintf(tmp, sizeof tmp, "%s_dq", base);
    qc_graph_unique_name(g, tmp, dqname, sizeof dqname);
    rc = qdq_add_dequantize(g, base, qname, bscale, NULL, (int)n, 0, QC_DT_INT32, dqname, node);
  }
  if (rc == QC_OK)
    rc = qc_node_set_input(g, node, slot, dqname);
  qc_tensor_release(&q);
  free(bscale);
  return rc;
}

int qdq_weight_form(const qc_graph *g, int node, const qc_tensor *w, int per_tensor, int *axis, float *alpha,
                    float *beta) {
  const char *op = qc_node_op(g, node);
  qc_attrs attrs = qc_node_attrs(g, node);
  int64_t group = 1, trans_b = 0;
  int rc = QC_OK;
  *alpha = *beta = 1.0f;
  if (strcmp(op, "Conv") == 0) {
    *axis = 0;
  } else if (strcmp(op, "ConvTranspose") == 0) {
    rc = qc_attr_int(&attrs, "group", 1, &group);
    *axis = group == 1 ? 1 : -1; /* grouped: channel axis mixes groups */
  } else if (strcmp(op, "Gemm") == 0) {
    if (rc == QC_OK)
      rc = qc_attr_int(&attrs, "transB", 0, &trans_b);
    if (rc == QC_OK)
      rc = qc_attr_float(&attrs, "alpha", 1.0f, alpha);
    if (rc == QC_OK)
      rc = qc_attr_float(&attrs, "beta", 1.0f, beta);
    *axis = trans_b ? 0 : 1;
  } else { /* MatMul: B [K, N], channels along N */
    *axis = w->ndim == 2 ? 1 : -1;
  }
  if (rc < 0) {
    char label[256];
    return qc_fail_context(rc, "%s", qc_node_label(g, node, label, sizeof label));
  }
  if (per_tensor)
    *axis = -1;
  return QC_OK;
}

int qdq_quantize_weights(qc_graph *g, int node, const qc_quant_opts *opts, float x_scale) {
  const char *op = qc_node_op(g, node);
  const qc_node *nd = &g->nodes[node];
  const int w_slot = 1; /* W of Conv/ConvTranspose, B of Gemm/MatMul */
  int b_slot = strcmp(op, "MatMul") == 0 ? -1 : 2;
  int axis;
  float alpha, beta;
  const qc_tensor *w, *b = NULL; /* the graph's views */
  qc_tensor w_alpha = {0};       /* Gemm: alpha * B, owned */
  if (nd->ninputs <= w_slot || nd->inputs[w_slot] < 0)
    return QC_OK;
  QC_TRY(qc_graph_initializer_view(g, nd->inputs[w_slot], &w));
  int rc = qdq_weight_form(g, node, w, opts->per_tensor, &axis, &alpha, &beta);
  if (rc == QC_OK && alpha != 1.0f) { /* fold alpha into B so the weight scale carries it */
    rc = qc_tensor_copy(&w_alpha, w);
    for (int64_t i = 0; rc == QC_OK && i < w_alpha.numel; i++)
      qc_f32(&w_alpha)[i] *= alpha;
    if (rc == QC_OK)
      rc = qc_node_set_attr_float(g, node, "alpha", 1.0f);
    w = &w_alpha;
  }
  if (rc < 0) {
    qc_tensor_release(&w_alpha);
    return rc;
  }
  if (w->dtype != QC_DT_FLOAT || w->ndim < 1) {
    qc_tensor_release(&w_alpha);
    return QC_OK;
  }
  int n = axis >= 0 ? (int)w->dims[axis] : 1;
  float *scale = malloc(sizeof(float) * (size_t)n);
  if (!scale)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    rc = qdq_weight_scales(w, axis, scale, n);
  /* Bias first: it may enlarge a channel's weight scale. */
  int has_bias = b_slot >= 0 && nd->ninputs > b_slot && nd->inputs[b_slot] >= 0 &&
                 (g->values[nd->inputs[b_slot]].flags & QC_VALUE_INITIALIZER);
  int quant_bias = 0;
  if (rc == QC_OK && has_bias && x_scale > 0 && !opts->weight_only) {
    rc = qc_graph_initializer_view(g, nd->inputs[b_slot], &b);
    quant_bias = rc == QC_OK && b->dtype == QC_DT_FLOAT && b->ndim == 1 && (n == 1 || b->numel == n);
  }
  if (rc == QC_OK && quant_bias) {
    rc = replace_bias(g, node, b_slot, b, x_scale, scale, n, beta);
    if (rc == QC_OK && beta != 1.0f)
      rc = qc_node_set_attr_float(g, node, "beta", 1.0f);
  }
  if (rc == QC_OK)
    rc = replace_weight(g, node, w_slot, w, axis, scale, n, opts->rounding);
  free(scale);
  qc_tensor_release(&w_alpha);
  return rc;
}

int qdq_quantize_constant_input(qc_graph *g, int node, int slot, qc_qscheme scheme) {
  int v = g->nodes[node].inputs[slot];
  const qc_tensor *c;
  qc_tensor q = {0};
  QC_TRY(qc_graph_initializer_view(g, v, &c));
  if (c->dtype != QC_DT_FLOAT)
    return QC_OK;
  float mn = INFINITY, mx = -INFINITY;
  for (int64_t i = 0; i < c->numel; i++) {
    mn = qc_f32(c)[i] < mn ? qc_f32(c)[i] : mn;
    mx = qc_f32(c)[i] > mx ? qc_f32(c)[i] : mx;
  }
  qc_qparams qp;
  int rc = qc_qparams_compute(scheme, c->numel ? mn : 0, c->numel ? mx : 0, &qp);
  qc_dtype qt = scheme == QC_QS_UINT8_AFFINE ? QC_DT_UINT8 : QC_DT_INT8;
  if (rc == QC_OK)
    rc = qc_tensor_alloc(&q, qt, c->ndim, c->dims);
  for (int64_t i = 0; rc == QC_OK && i < c->numel; i++) {
    int32_t r = qc_quantize_value(qc_f32(c)[i], qp.scale, qp.zero_point, qp.qmin, qp.qmax);
    if (qt == QC_DT_UINT8)
      qc_u8(&q)[i] = (uint8_t)r;
    else
      qc_s8(&q)[i] = (int8_t)r;
  }
  char base[32], qname[600], dqname[600], tmp[600];
  qdq_base_name(g, base, sizeof base);
  if (rc == QC_OK) {
    snprintf(tmp, sizeof tmp, "%s_q", base);
    qc_graph_unique_name(g, tmp, qname, sizeof qname);
    rc = qc_graph_set_initializer(g, qname, &q, NULL);
  }
  if (rc == QC_OK) {
    snprintf(tmp, sizeof tmp, "%s_dq", base);
    qc_graph_unique_name(g, tmp, dqname, sizeof dqname);
    rc = qdq_add_dequantize(g, base, qname, &qp.scale, &qp.zero_point, 1, 0, qt, dqname, node);
  }
  if (rc == QC_OK)
    rc = qc_node_set_input(g, node, slot, dqname);
  qc_tensor_release(&q);
  return rc;
}
