/* Empirical bias correction. See bias_correction.h and docs/quantization.md. */
#include "bias_correction.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../calib/qparams.h"
#include "../core/status.h"
#include "../core/fileio.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/attr.h"
#include "../ir/graph.h"
#include "qdq_internal.h"

/* Where a layer's correction goes. */
typedef enum {
  T_NONE,
  T_INT32,     /* int32 bias behind DequantizeLinear: requantized */
  T_FLOAT,     /* float bias initializer */
  T_NEW_INT32, /* no bias, int8 activation input: a new int32 bias + DequantizeLinear */
  T_NEW_FLOAT, /* no bias, float activation input (weight-only): a new float bias */
  T_ADD_FLOAT, /* MatMul: the float constant of the Add that alone reads its output */
  T_ADD_QUANT, /* MatMul: that constant, quantized per tensor behind DequantizeLinear */
} target_kind;

typedef struct target {
  target_kind kind;
  int value;       /* T_INT32, T_ADD_QUANT: the quantized initializer; T_FLOAT, T_ADD_FLOAT: the float one */
  int scale, zp;   /* its DequantizeLinear's scale and zero-point initializers (zp -1: none) */
  float beta;      /* Gemm: the bias is added times beta */
  float x_scale;   /* T_NEW_INT32: the activation input's scale */
  int w_scale;     /* T_NEW_INT32: the weight's scale initializer */
} target;

typedef struct layer {
  int node;        /* the same id in both graphs */
  int axis_last;   /* channels on the last axis (Gemm, MatMul), else axis 1 */
  int channels;    /* 0 until the first output is seen; -1: unusable (channels changed) */
  double *sum_fp, *sum_q;
  int64_t count_fp, count_q;
  int x;           /* the FP32 graph's activation input */
  int x_quantized; /* the quantized node reads it through Q -> DQ with these qparams: */
  qc_qparams xqp;
  int n_inputs;    /* of the quantized node: its weight and bias, dequantized (owned) */
  qc_tensor w, b;
  int has_b;
} layer;

typedef struct measure {
  const qc_graph *g, *gq; /* FP32 and quantized graphs */
  int opset;              /* the quantized model's */
  int n_nodes;
  const int *layer_of_node; /* node id -> layer index or -1 */
  layer *layers;
  const qc_tensor **live; /* FP32 graph value id -> its tensor while the run holds it */
} measure;

static const char *const k_weighted[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};

static int is_op(const qc_graph *g, int node, const char *op) {
  return node >= 0 && !g->nodes[node].removed && strcmp(qc_node_op(g, node), op) == 0;
}

static int producer(const qc_graph *g, int v) { return v >= 0 ? g->values[v].producer : -1; }

static int is_init(const qc_graph *g, int v, qc_dtype dtype) {
  const qc_tensor *t;
  return v >= 0 && (g->values[v].flags & QC_VALUE_INITIALIZER) && qc_graph_initializer_view(g, v, &t) == QC_OK &&
         t->dtype == dtype;
}

static int64_t init_numel(const qc_graph *g, int v) {
  const qc_tensor *t;
  return qc_graph_initializer_view(g, v, &t) == QC_OK ? t->numel : -1;
}

/* Input `slot` of node, or -1. */
static int input(const qc_graph *g, int node, int slot) {
  const qc_node *n = &g->nodes[node];
  return slot < n->ninputs ? n->inputs[slot] : -1;
}

/* The DequantizeLinear producing v from an initializer of dtype, read by one node only; -1 otherwise. */
static int dq_of_init(const qc_graph *g, int v, qc_dtype dtype) {
  int dq = producer(g, v);
  if (!is_op(g, dq, "DequantizeLinear") || !is_init(g, input(g, dq, 0), dtype) || g->values[v].n_consumers != 1 ||
      (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT) || g->values[input(g, dq, 0)].n_consumers != 1)
    return -1;
  return dq;
}

/* Whether node is a weighted op with an int8 weight behind DequantizeLinear. */
static int weight_quantized(const qc_graph *g, int node) {
  int known = 0;
  for (size_t i = 0; i < sizeof k_weighted / sizeof *k_weighted; i++)
    known |= is_op(g, node, k_weighted[i]);
  if (!known)
    return 0;
  int dq = producer(g, input(g, node, 1));
  return is_op(g, dq, "DequantizeLinear") && is_init(g, input(g, dq, 0), QC_DT_INT8);
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
  if (is_op(g, next, "QuantizeLinear")) { /* Q -> DQ -> Add */
    int q = g->nodes[next].outputs[0];
    if (g->values[q].n_consumers != 1 || !is_op(g, g->values[q].consumers[0], "DequantizeLinear"))
      return 0;
    v = g->nodes[g->values[q].consumers[0]].outputs[0];
    if (g->values[v].n_consumers != 1 || (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT))
      return 0;
    next = g->values[v].consumers[0];
  }
  if (!is_op(g, next, "Add") || g->nodes[next].ninputs != 2)
    return 0;
  int c = input(g, next, 0) == v ? input(g, next, 1) : input(g, next, 0);
  if (is_init(g, c, QC_DT_FLOAT) && g->values[c].n_consumers == 1 && along_last_axis(g, c, channels)) {
    *t = (target){.kind = T_ADD_FLOAT, .value = c, .zp = -1};
    return 1;
  }
  for (int k = 0; k < 2; k++) {
    qc_dtype dt = k ? QC_DT_INT8 : QC_DT_UINT8;
    int dq = dq_of_init(g, c, dt);
    int qv = dq >= 0 ? input(g, dq, 0) : -1, sc = dq >= 0 ? input(g, dq, 1) : -1, zp = dq >= 0 ? input(g, dq, 2) : -1;
    if (dq >= 0 && along_last_axis(g, qv, channels) && init_numel(g, sc) == 1 && zp >= 0 && init_numel(g, zp) == 1 &&
        g->values[sc].n_consumers == 1 && g->values[zp].n_consumers == 1) {
      *t = (target){.kind = T_ADD_QUANT, .value = qv, .scale = sc, .zp = zp};
      return 1;
    }
  }
  return 0;
}

/* Where the correction of node (channels outputs) goes in g; 0 when nowhere. */
static int find_target(const qc_graph *g, int node, int channels, target *t) {
  memset(t, 0, sizeof *t);
  t->zp = -1;
  t->beta = 1.0f;
  if (is_op(g, node, "MatMul"))
    return matmul_target(g, node, channels, t);
  if (is_op(g, node, "Gemm")) {
    qc_attrs attrs = qc_node_attrs(g, node);
    if (qc_attr_float(&attrs, "beta", 1.0f, &t->beta) < 0 || t->beta == 0.0f)
      return 0;
  }
  int b = input(g, node, 2);
  if (b >= 0) {
    int dq = dq_of_init(g, b, QC_DT_INT32);
    if (dq >= 0) {
      t->kind = T_INT32;
      t->value = input(g, dq, 0);
      t->scale = input(g, dq, 1);
      int64_t ns = init_numel(g, t->scale);
      return init_numel(g, t->value) == channels && (ns == 1 || ns == channels) &&
             g->values[t->scale].n_consumers == 1;
    }
    t->kind = T_FLOAT;
    t->value = b;
    return is_init(g, b, QC_DT_FLOAT) && g->values[b].n_consumers == 1 && along_last_axis(g, b, channels);
  }
  /* No bias: a new one, int32 when the activation input is quantized per tensor. */
  int xdq = producer(g, input(g, node, 0));
  int wdq = producer(g, input(g, node, 1));
  int xs = is_op(g, xdq, "DequantizeLinear") ? input(g, xdq, 1) : -1;
  if (xs >= 0) {
    const qc_tensor *st;
    int ws = input(g, wdq, 1);
    int64_t nw = init_numel(g, ws);
    if (qc_graph_initializer_view(g, xs, &st) < 0 || st->dtype != QC_DT_FLOAT || st->numel != 1 ||
        !is_init(g, ws, QC_DT_FLOAT) || (nw != 1 && nw != channels))
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
static int apply(qc_graph *g, int node, const target *t, const double *delta, int channels) {
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

/* Adds the per-channel sums of output t into sum (allocated on the first call). */
static int add_channel_sums(layer *l, const qc_tensor *t, int quant) {
  if (t->dtype != QC_DT_FLOAT || t->ndim < 1)
    return QC_OK;
  int axis = l->axis_last || t->ndim < 2 ? t->ndim - 1 : 1;
  int64_t c_n = t->dims[axis], inner = 1;
  for (int d = axis + 1; d < t->ndim; d++)
    inner *= t->dims[d];
  if (l->channels < 0 || c_n < 1 || (l->channels > 0 && l->channels != c_n)) {
    l->channels = -1;
    return QC_OK;
  }
  if (!l->channels) {
    l->channels = (int)c_n;
    l->sum_fp = calloc((size_t)c_n, sizeof(double));
    l->sum_q = calloc((size_t)c_n, sizeof(double));
    if (!l->sum_fp || !l->sum_q)
      return qc_fail(QC_ENOMEM, "out of memory");
  }
  double *sum = quant ? l->sum_q : l->sum_fp;
  const float *x = qc_f32(t);
  int64_t outer = t->numel / (c_n * inner);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < c_n; c++) {
      const float *p = x + (o * c_n + c) * inner;
      double acc = 0;
      for (int64_t i = 0; i < inner; i++)
        acc += p[i];
      sum[c] += acc;
    }
  *(quant ? &l->count_q : &l->count_fp) += outer * inner;
  return QC_OK;
}

/* The quantized layer on the FP32 layer's own input: x through the layer's
 * input Q -> DQ, the int8 weight and the bias dequantized. */
static int quantized_layer_output(const measure *m, layer *l, const qc_tensor *x, qc_tensor *y) {
  qc_tensor xq = {0};
  const qc_tensor *in = x;
  if (l->x_quantized) {
    QC_TRY(qc_tensor_alloc(&xq, QC_DT_FLOAT, x->ndim, x->dims));
    const qc_qparams *qp = &l->xqp;
    for (int64_t i = 0; i < x->numel; i++)
      qc_f32(&xq)[i] = qc_dequantize_value(qc_quantize_value(qc_f32(x)[i], qp->scale, qp->zero_point, qp->qmin,
                                                             qp->qmax), qp->scale, qp->zero_point);
    in = &xq;
  }
  qc_tensor *ins[3] = {(qc_tensor *)in, &l->w, l->has_b ? &l->b : NULL};
  qc_tensor *outs[1] = {y};
  int rc = qc_engine_eval_node(m->gq, l->node, m->opset, ins, outs, 1);
  qc_tensor_release(&xq);
  return rc;
}

/* FP32 run: keeps the layers' inputs at hand; at each layer's output, adds
 * its channel sums and those of the quantized layer on the same input. */
static int measure_value(void *user, int node, int value, const qc_tensor *t) {
  measure *m = user;
  m->live[value] = t;
  if (node < 0 || node >= m->n_nodes || m->layer_of_node[node] < 0 || value != m->g->nodes[node].outputs[0])
    return QC_OK;
  layer *l = &m->layers[m->layer_of_node[node]];
  const qc_tensor *x = m->live[l->x];
  if (!x)
    return qc_fail(QC_EINTERNAL, "bias correction: the input of node #%d is not at hand", node);
  qc_tensor y = {0};
  int rc = add_channel_sums(l, t, 0);
  if (rc == QC_OK)
    rc = quantized_layer_output(m, l, x, &y);
  if (rc == QC_OK)
    rc = add_channel_sums(l, &y, 1);
  qc_tensor_release(&y);
  return rc;
}

/* Runs the FP32 model over the chosen samples, accumulating into the layers' sums. */
static int run_samples(qc_model *model, measure *m, qc_calib_source *src, const int64_t *picks, int n_picks,
                       int nthreads, int *used) {
  const qc_graph *g = model->graph;
  qc_engine *e = NULL;
  qc_engine_opts eo = {.nthreads = nthreads};
  qc_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in), *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
  qc_tensor **in_ptrs = calloc((size_t)g->n_inputs + 1, sizeof *in_ptrs);
  int rc = (in && out && in_ptrs) ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    rc = qc_engine_create(model, &eo, &e);
  m->g = g;
  *used = 0;
  for (int i = 0; i < g->n_inputs; i++)
    in_ptrs[i] = &in[i];
  for (int k = 0; rc == QC_OK && k < n_picks; k++) {
    rc = qc_calib_source_load(src, picks[k], in);
    if (rc == QC_CALIB_SKIPPED) {
      rc = QC_OK;
      continue;
    }
    for (int v = 0; v < g->n_values; v++)
      m->live[v] = NULL;
    for (int i = 0; i < g->n_inputs; i++)
      m->live[g->inputs[i]] = &in[i];
    if (rc == QC_OK)
      rc = qc_engine_run(e, in_ptrs, out, measure_value, m);
    for (int i = 0; i < g->n_inputs; i++)
      qc_tensor_release(&in[i]);
    for (int i = 0; i < g->n_outputs; i++)
      qc_tensor_release(&out[i]);
    (*used)++;
    if (rc == QC_OK && qc_interrupted())
      rc = qc_fail(QC_EINTERRUPTED, "interrupted during bias correction; nothing written");
  }
  qc_engine_free(e);
  free(in);
  free(out);
  free(in_ptrs);
  return rc;
}

/* A DequantizeLinear node's output, evaluated on its initializer inputs. */
static int eval_dequantize(const qc_graph *g, int opset, int dq, qc_tensor *out) {
  qc_tensor *ins[3] = {NULL, NULL, NULL};
  const qc_node *n = &g->nodes[dq];
  for (int i = 0; i < n->ninputs && i < 3; i++) {
    const qc_tensor *t;
    if (n->inputs[i] < 0)
      continue;
    if (!(g->values[n->inputs[i]].flags & QC_VALUE_INITIALIZER))
      return 0;
    QC_TRY(qc_graph_initializer_view(g, n->inputs[i], &t));
    ins[i] = (qc_tensor *)t;
  }
  qc_tensor *outs[1] = {out};
  QC_TRY(qc_engine_eval_node(g, dq, opset, ins, outs, 1));
  return 1;
}

/* The quantized side of layer l: its input's qparams, weight and bias. 0 when
 * the quantized node cannot be evaluated alone (a weight or bias computed at
 * run time). */
static int prepare_layer(const qc_graph *gf, const qc_graph *gq, int opset, layer *l) {
  const qc_node *nq = &gq->nodes[l->node];
  l->x = gf->nodes[l->node].inputs[0];
  l->n_inputs = nq->ninputs;
  int xdq = producer(gq, input(gq, l->node, 0));
  if (is_op(gq, xdq, "DequantizeLinear")) {
    const qc_tensor *sc, *zp = NULL;
    int zv = input(gq, xdq, 2);
    if (!is_init(gq, input(gq, xdq, 1), QC_DT_FLOAT))
      return 0;
    QC_TRY(qc_graph_initializer_view(gq, input(gq, xdq, 1), &sc));
    if (zv >= 0)
      QC_TRY(qc_graph_initializer_view(gq, zv, &zp));
    if (sc->numel != 1 || (zp && (zp->numel != 1 || (zp->dtype != QC_DT_UINT8 && zp->dtype != QC_DT_INT8))))
      return 0;
    int u8 = !zp || zp->dtype == QC_DT_UINT8;
    l->xqp.scale = qc_f32(sc)[0];
    l->xqp.zero_point = !zp ? 0 : u8 ? qc_u8(zp)[0] : qc_s8(zp)[0];
    l->xqp.qmin = u8 ? 0 : -128;
    l->xqp.qmax = u8 ? 255 : 127;
    l->x_quantized = 1;
  }
  int rc = eval_dequantize(gq, opset, producer(gq, input(gq, l->node, 1)), &l->w);
  if (rc <= 0)
    return rc;
  int b = input(gq, l->node, 2);
  if (b < 0)
    return 1;
  l->has_b = 1;
  if (is_op(gq, producer(gq, b), "DequantizeLinear"))
    return eval_dequantize(gq, opset, producer(gq, b), &l->b);
  if (!is_init(gq, b, QC_DT_FLOAT))
    return 0;
  QC_TRY(qc_graph_initializer(gq, b, &l->b));
  return 1;
}

int qc_bias_correct(qc_model *fp32, qc_model *quant, qc_calib_source *src, const qc_bias_correction_opts *opts,
                    qc_bias_correction_result *res) {
  memset(res, 0, sizeof *res);
  qc_graph *g = quant->graph;
  const qc_graph *gf = fp32->graph;
  QC_TRY(qc_graph_reindex(g));
  int n_nodes = g->n_nodes < gf->n_nodes ? g->n_nodes : gf->n_nodes;
  int *layer_of_node = malloc(sizeof(int) * ((size_t)n_nodes + 1));
  layer *layers = calloc((size_t)n_nodes + 1, sizeof *layers);
  const qc_tensor **live = calloc((size_t)gf->n_values + 1, sizeof *live);
  double *delta = NULL;
  int64_t *picks = NULL;
  int n_layers = 0, rc = (layer_of_node && layers && live) ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  for (int id = 0; rc == QC_OK && id < n_nodes; id++) {
    layer_of_node[id] = -1;
    if (!weight_quantized(g, id) || !is_op(gf, id, qc_node_op(g, id)))
      continue;
    layer *l = &layers[n_layers];
    l->node = id;
    l->axis_last = is_op(g, id, "Gemm") || is_op(g, id, "MatMul");
    rc = prepare_layer(gf, g, quant->opset, l);
    if (rc > 0) {
      rc = QC_OK;
      layer_of_node[id] = n_layers;
    } else if (rc == 0 && !res->skipped++) {
      qc_node_label(g, id, res->first_skipped, sizeof res->first_skipped);
    }
    n_layers++; /* kept for its tensors' release */
  }
  int64_t total = qc_calib_source_count(src);
  int max = opts->max_samples > 0 ? opts->max_samples : QC_BIAS_CORRECTION_SAMPLES;
  int n_picks = total < max ? (int)total : max;
  if (rc == QC_OK && !(picks = malloc(sizeof(int64_t) * ((size_t)n_picks + 1))))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  for (int k = 0; rc == QC_OK && k < n_picks; k++)
    picks[k] = (int64_t)((double)k * (double)total / n_picks); /* evenly spaced, as --calib-count */
  if (rc < 0 || n_layers == res->skipped)
    goto done;
  measure m = {.gq = g, .opset = quant->opset, .n_nodes = n_nodes, .layer_of_node = layer_of_node,
               .layers = layers, .live = live};
  rc = run_samples(fp32, &m, src, picks, n_picks, opts->nthreads, &res->samples);
  for (int i = 0; rc == QC_OK && i < n_layers; i++) {
    layer *l = &layers[i];
    target t;
    if (layer_of_node[l->node] < 0)
      continue; /* counted as skipped already */
    if (l->channels <= 0 || !l->count_fp || l->count_q != l->count_fp || !find_target(g, l->node, l->channels, &t)) {
      if (!res->skipped++)
        qc_node_label(g, l->node, res->first_skipped, sizeof res->first_skipped);
      continue;
    }
    free(delta);
    if (!(delta = malloc(sizeof(double) * (size_t)l->channels))) {
      rc = qc_fail(QC_ENOMEM, "out of memory");
      break;
    }
    double layer_max = 0;
    for (int c = 0; c < l->channels; c++) {
      delta[c] = (l->sum_q[c] - l->sum_fp[c]) / (double)l->count_fp;
      layer_max = fmax(layer_max, fabs(delta[c]));
    }
    if (layer_max > res->max_delta) {
      res->max_delta = layer_max;
      qc_node_label(g, l->node, res->max_node, sizeof res->max_node);
    }
    res->added += t.kind == T_NEW_INT32 || t.kind == T_NEW_FLOAT;
    res->corrected++;
    rc = apply(g, l->node, &t, delta, l->channels);
  }
  if (rc == QC_OK)
    rc = qc_graph_sync(g);
done:
  for (int i = 0; i < n_layers; i++) {
    free(layers[i].sum_fp);
    free(layers[i].sum_q);
    qc_tensor_release(&layers[i].w);
    qc_tensor_release(&layers[i].b);
  }
  free(delta);
  free(layers);
  free(layer_of_node);
  free(live);
  free(picks);
  return rc;
}
