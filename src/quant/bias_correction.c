/* Empirical bias correction. See bias_correction.h and docs/quantization.md. */
#include "bias_correction.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../calib/qparams.h"
#include "../core/fileio.h"
#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/graph.h"
#include "bias_targets.h"
#include "tap_sums.h"


typedef struct layer {
  int node;        /* the same id in both graphs */
  int usable;      /* both sides known and the sums cover every sample */
  qc_tap_sums sums;
  int x;           /* the FP32 graph's activation input */
  int x_quantized; /* the quantized node reads it through Q -> DQ with these qparams: */
  qc_qparams xqp;
  const qc_tensor *w_fp, *b_fp; /* the FP32 node's weight and bias (initializers; b_fp may be NULL) */
  qc_tensor w, b;  /* the quantized node's weight and bias, dequantized (owned) */
  int has_b;
} layer;

typedef struct measure {
  const qc_graph *g;      /* the FP32 graph */
  int n_nodes;
  const int *layer_of_node; /* node id -> layer index or -1 */
  layer *layers;
  const qc_tensor **live; /* FP32 graph value id -> its tensor while the run holds it */
} measure;


/* FP32 run: keeps the layers' inputs at hand; after each layer, adds its
 * input's tap sums, as is and through the quantized node's input Q -> DQ. */
static int measure_value(void *user, int node, int value, const qc_tensor *t) {
  measure *m = user;
  m->live[value] = t;
  if (node < 0 || node >= m->n_nodes || m->layer_of_node[node] < 0 || value != m->g->nodes[node].outputs[0])
    return QC_OK;
  layer *l = &m->layers[m->layer_of_node[node]];
  const qc_tensor *x = m->live[l->x];
  if (!x)
    return qc_fail(QC_EINTERNAL, "bias correction: the input of node #%d is not at hand", node);
  if (!l->usable)
    return QC_OK;
  int rc = qc_tap_sums_add(&l->sums, x, l->x_quantized ? &l->xqp : NULL);
  if (rc == QC_EUNSUPPORTED) { /* a shape this form does not cover: the layer is left alone */
    l->usable = 0;
    return QC_OK;
  }
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

/* Layer l's two sides: the FP32 node's weight and bias (initializers), the
 * quantized node's input qparams, weight and bias. 0 when a side cannot be
 * read without running the model (a weight or bias computed at run time). */
static int prepare_layer(const qc_graph *gf, const qc_graph *gq, int opset, layer *l) {
  const qc_node *nf = &gf->nodes[l->node];
  l->x = nf->inputs[0];
  int wf = bc_input(gf, l->node, 1), bf = bc_input(gf, l->node, 2);
  if (!bc_is_init(gf, wf, QC_DT_FLOAT) || (bf >= 0 && !bc_is_init(gf, bf, QC_DT_FLOAT)))
    return 0;
  QC_TRY(qc_graph_initializer_view(gf, wf, &l->w_fp));
  if (bf >= 0)
    QC_TRY(qc_graph_initializer_view(gf, bf, &l->b_fp));
  qc_attrs attrs = qc_node_attrs(gq, l->node);
  int rc = qc_tap_sums_init(&l->sums, qc_node_op(gq, l->node), &attrs, l->w_fp);
  if (rc == QC_EUNSUPPORTED)
    return 0;
  QC_TRY(rc);
  int xdq = bc_producer(gq, bc_input(gq, l->node, 0));
  if (bc_is_op(gq, xdq, "DequantizeLinear")) {
    const qc_tensor *sc, *zp = NULL;
    int zv = bc_input(gq, xdq, 2);
    if (!bc_is_init(gq, bc_input(gq, xdq, 1), QC_DT_FLOAT))
      return 0;
    QC_TRY(qc_graph_initializer_view(gq, bc_input(gq, xdq, 1), &sc));
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
  rc = eval_dequantize(gq, opset, bc_producer(gq, bc_input(gq, l->node, 1)), &l->w);
  if (rc <= 0)
    return rc;
  int b = bc_input(gq, l->node, 2);
  if (b < 0)
    return 1;
  l->has_b = 1;
  if (bc_is_op(gq, bc_producer(gq, b), "DequantizeLinear"))
    return eval_dequantize(gq, opset, bc_producer(gq, b), &l->b);
  if (!bc_is_init(gq, b, QC_DT_FLOAT))
    return 0;
  QC_TRY(qc_graph_initializer(gq, b, &l->b));
  return 1;
}

/* delta[c] = mean_q[c] - mean_fp[c] of layer l from its sums; 0 when the
 * sums do not give it (the caller counts the layer as skipped). */
static int layer_delta(const layer *l, double **delta, int *channels) {
  int64_t n_fp = 0, n_q = 0;
  int64_t m_n = l->w.numel; /* output channels are at most the weight's size */
  double *mean_fp = malloc(sizeof(double) * (size_t)(m_n + 1)), *mean_q = malloc(sizeof(double) * (size_t)(m_n + 1));
  int rc = mean_fp && mean_q ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    rc = qc_tap_sums_mean(&l->sums, 0, l->w_fp, l->b_fp, mean_fp, &n_fp);
  if (rc == QC_OK)
    rc = qc_tap_sums_mean(&l->sums, 1, &l->w, l->has_b ? &l->b : NULL, mean_q, &n_q);
  if (rc == QC_OK && (n_fp != n_q || n_fp < 1 || n_fp > m_n))
    rc = QC_EUNSUPPORTED;
  if (rc == QC_OK) {
    for (int64_t c = 0; c < n_fp; c++)
      mean_q[c] -= mean_fp[c];
    *delta = mean_q;
    *channels = (int)n_fp;
    mean_q = NULL;
  }
  free(mean_fp);
  free(mean_q);
  if (rc == QC_EUNSUPPORTED) {
    qc_clear_error();
    return 0;
  }
  return rc < 0 ? rc : 1;
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
    if (!bc_weight_quantized(g, id) || !bc_is_op(gf, id, qc_node_op(g, id)))
      continue;
    layer *l = &layers[n_layers];
    l->node = id;
    rc = prepare_layer(gf, g, quant->opset, l);
    if (rc > 0) {
      rc = QC_OK;
      l->usable = 1;
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
  measure m = {.n_nodes = n_nodes, .layer_of_node = layer_of_node,
               .layers = layers, .live = live};
  if (rc == QC_OK)
    rc = run_samples(fp32, &m, src, picks, n_picks, opts->nthreads, &res->samples);
  for (int i = 0; rc == QC_OK && i < n_layers; i++) {
    layer *l = &layers[i];
    target t;
    if (layer_of_node[l->node] < 0)
      continue; /* counted as skipped already */
    int channels = 0;
    free(delta);
    delta = NULL;
    if (l->usable && (rc = layer_delta(l, &delta, &channels)) < 0)
      break;
    if (!l->usable || !rc || !bc_find_target(g, l->node, channels, &t)) {
      rc = QC_OK;
      if (!res->skipped++)
        qc_node_label(g, l->node, res->first_skipped, sizeof res->first_skipped);
      continue;
    }
    double layer_max = 0;
    for (int c = 0; c < channels; c++)
      layer_max = fmax(layer_max, fabs(delta[c]));
    if (!isfinite(layer_max)) { /* an Inf/NaN mean (overflowing activations): never write it into a bias */
      if (!res->skipped++)
        qc_node_label(g, l->node, res->first_skipped, sizeof res->first_skipped);
      continue;
    }
    if (layer_max > res->max_delta) {
      res->max_delta = layer_max;
      qc_node_label(g, l->node, res->max_node, sizeof res->max_node);
    }
    res->added += t.kind == T_NEW_INT32 || t.kind == T_NEW_FLOAT;
    res->corrected++;
    rc = bc_apply(g, l->node, &t, delta, channels);
  }
  if (rc == QC_OK)
    rc = qc_graph_sync(g);
done:
  for (int i = 0; i < n_layers; i++) {
    qc_tap_sums_free(&layers[i].sums);
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
