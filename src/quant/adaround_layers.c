/* AdaRound: which layers are learned, their FP32 input rows sampled from
 * calibration samples into Gram matrices, and the table of learned weights
 * (qc_adaround). The optimisation itself: adaround.c. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../engine/engine.h"
#include "../ir/attr.h"
#include "../ir/model.h"
#include "../ops/conv_util.h"
#include "adaround.h"
#include "qdq_internal.h"

/* The Gram matrices of one engine pass over the samples stay under this. */
#define GRAM_BUDGET_BYTES ((size_t)512 << 20)

enum { L_CONV, L_GEMM, L_MATMUL };

typedef struct layer {
  int node, kind, in_value, next_same_input; /* next layer reading the same value, or -1 */
  const char *wname;
  const qc_tensor *w_view;
  float alpha;             /* Gemm: folded into the weight, as the QDQ pass does */
  int axis, n_scales;
  int64_t oc, kg, groups;  /* output channels; columns and groups of W as [groups][oc/groups, kg] */
  int64_t row_len;         /* one input row: groups * kg */
  int trans_a, trans_b;    /* Gemm */
  qc_window_attrs win;     /* Conv */
  float *gram;             /* groups x kg x kg, upper triangle accumulated */
  int64_t n_rows;
  int failed;              /* the input did not fit the weight: left to nearest */
} layer;

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int read_ints(const qc_attrs *a, const char *name, int64_t *dst, int max, int *n) {
  const int64_t *vals;
  size_t cnt = 0;
  *n = 0;
  if (!qc_attr_has(a, name))
    return QC_OK;
  QC_TRY(qc_attr_ints(a, name, &vals, &cnt));
  if ((int)cnt > max)
    return qc_fail(QC_EINVAL, "%s has %zu values", name, cnt);
  memcpy(dst, vals, sizeof(int64_t) * cnt);
  *n = (int)cnt;
  return QC_OK;
}

static int read_conv_window(const qc_graph *g, int node, qc_window_attrs *a) {
  qc_attrs attrs = qc_node_attrs(g, node);
  char pad[32];
  memset(a, 0, sizeof *a);
  QC_TRY(qc_attr_string(&attrs, "auto_pad", "NOTSET", pad, sizeof pad));
  a->auto_pad = strcmp(pad, "SAME_UPPER") == 0   ? QC_AUTOPAD_SAME_UPPER
                : strcmp(pad, "SAME_LOWER") == 0 ? QC_AUTOPAD_SAME_LOWER
                : strcmp(pad, "VALID") == 0      ? QC_AUTOPAD_VALID
                                                 : QC_AUTOPAD_NOTSET;
  QC_TRY(read_ints(&attrs, "strides", a->strides, QC_WIN_SP, &a->n_strides));
  QC_TRY(read_ints(&attrs, "pads", a->pads, 2 * QC_WIN_SP, &a->n_pads));
  return read_ints(&attrs, "dilations", a->dilations, QC_WIN_SP, &a->n_dilations);
}

static int listed(const char *name, const char *const *list, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(list[i], name) == 0)
      return 1;
  return 0;
}

/* Fills L for node when adaround applies to it; 0 when it does not. */
static int layer_init(const qc_graph *g, int node, const qc_adaround_opts *o, layer *L, int *skipped) {
  const char *op = qc_node_op(g, node);
  const qc_node *nd = &g->nodes[node];
  int kind = strcmp(op, "Conv") == 0 ? L_CONV : strcmp(op, "Gemm") == 0 ? L_GEMM : strcmp(op, "MatMul") == 0 ? L_MATMUL : -1;
  if (kind < 0 && strcmp(op, "ConvTranspose") != 0)
    return 0;
  if (!qdq_weighted_ok(g, node) || listed(qc_node_name(g, node), o->exclude, o->n_exclude) ||
      (o->op_types && !listed(op, o->op_types, o->n_op_types)))
    return 0;
  int wv = nd->inputs[1];
  const qc_tensor *w;
  float beta;
  memset(L, 0, sizeof *L);
  QC_TRY(qc_graph_initializer_view(g, wv, &w));
  QC_TRY(qdq_weight_form(g, node, w, o->per_tensor, &L->axis, &L->alpha, &beta));
  /* ConvTranspose (not learned yet), weights shared by several nodes (one
   * rounding cannot fit each), batched MatMul weights. */
  if (kind < 0 || g->values[wv].n_consumers != 1 || w->dtype != QC_DT_FLOAT ||
      (kind != L_CONV && w->ndim != 2) || (kind == L_CONV && (w->ndim < 3 || w->ndim > 2 + QC_WIN_SP))) {
    (*skipped)++;
    return 0;
  }
  L->node = node;
  L->kind = kind;
  L->in_value = nd->inputs[0];
  L->wname = g->values[wv].name;
  L->w_view = w;
  L->n_scales = L->axis >= 0 ? (int)w->dims[L->axis] : 1;
  L->groups = 1;
  if (kind == L_CONV) {
    qc_attrs attrs = qc_node_attrs(g, node);
    QC_TRY(qc_attr_int(&attrs, "group", 1, &L->groups));
    QC_TRY(read_conv_window(g, node, &L->win));
    L->oc = w->dims[0];
    L->kg = w->numel / L->oc;
    if (L->groups < 1 || L->oc % L->groups) {
      (*skipped)++;
      return 0;
    }
  } else if (kind == L_GEMM) {
    qc_attrs attrs = qc_node_attrs(g, node);
    int64_t ta, tb;
    QC_TRY(qc_attr_int(&attrs, "transA", 0, &ta));
    QC_TRY(qc_attr_int(&attrs, "transB", 0, &tb));
    L->trans_a = (int)ta, L->trans_b = (int)tb;
    L->oc = tb ? w->dims[0] : w->dims[1];
    L->kg = tb ? w->dims[1] : w->dims[0];
  } else {
    L->oc = w->dims[1];
    L->kg = w->dims[0];
  }
  L->row_len = L->groups * L->kg;
  return 1;
}

/* The layer's weight as [oc, kg] rows (alpha folded) and the QDQ pass's scale of each row. */
static int layer_matrix(const layer *L, float **wmat, float **row_scale, float **scales, uint64_t *fingerprint) {
  const qc_tensor *w = L->w_view;
  qc_tensor wa = {0};
  *wmat = malloc(sizeof(float) * (size_t)w->numel);
  *row_scale = malloc(sizeof(float) * (size_t)L->oc);
  *scales = malloc(sizeof(float) * (size_t)L->n_scales);
  int rc = *wmat && *row_scale && *scales ? qc_tensor_copy(&wa, w) : qc_fail(QC_ENOMEM, "out of memory");
  for (int64_t i = 0; rc == QC_OK && i < wa.numel; i++)
    qc_f32(&wa)[i] *= L->alpha;
  if (rc == QC_OK)
    rc = qdq_weight_scales(&wa, L->axis, *scales, L->n_scales);
  if (rc == QC_OK)
    *fingerprint = qc_weight_fingerprint(&wa);
  if (rc == QC_OK) {
    const float *src = qc_f32(&wa);
    int transposed = L->kind == L_MATMUL || (L->kind == L_GEMM && !L->trans_b); /* B [k, oc] */
    for (int64_t r = 0; r < L->oc; r++) {
      (*row_scale)[r] = (*scales)[L->n_scales > 1 ? r : 0];
      for (int64_t c = 0; c < L->kg; c++)
        (*wmat)[r * L->kg + c] = transposed ? src[c * L->oc + r] : src[r * L->kg + c];
    }
  }
  qc_tensor_release(&wa);
  return rc;
}

/* Gathers input row `p` of tensor t for layer L into dst (row_len floats). */
static void gather_row(const layer *L, const qc_tensor *t, const qc_window_geom *geom, int64_t p, float *dst) {
  const float *x = qc_f32(t);
  if (L->kind == L_GEMM && L->trans_a) { /* A [k, m] */
    int64_t m = t->dims[1];
    for (int64_t c = 0; c < L->kg; c++)
      dst[c] = x[c * m + p];
    return;
  }
  if (L->kind != L_CONV) {
    memcpy(dst, x + p * L->kg, sizeof(float) * (size_t)L->kg);
    return;
  }
  int64_t out_size = qc_geom_out_size(geom), in_size = qc_geom_in_size(geom);
  int64_t nb = p / out_size, o = p % out_size;
  int64_t od = o / (geom->out[1] * geom->out[2]), oh = (o / geom->out[2]) % geom->out[1], ow = o % geom->out[2];
  int64_t channels = L->row_len / qc_geom_kernel_size(geom);
  size_t j = 0;
  for (int64_t c = 0; c < channels; c++) {
    const float *plane = x + (nb * channels + c) * in_size;
    for (int64_t kd = 0; kd < geom->kernel[0]; kd++) {
      int64_t id = od * geom->stride[0] - geom->pad_begin[0] + kd * geom->dil[0];
      for (int64_t kh = 0; kh < geom->kernel[1]; kh++) {
        int64_t ih = oh * geom->stride[1] - geom->pad_begin[1] + kh * geom->dil[1];
        for (int64_t kw = 0; kw < geom->kernel[2]; kw++) {
          int64_t iw = ow * geom->stride[2] - geom->pad_begin[2] + kw * geom->dil[2];
          int in = id >= 0 && id < geom->in[0] && ih >= 0 && ih < geom->in[1] && iw >= 0 && iw < geom->in[2];
          dst[j++] = in ? plane[(id * geom->in[1] + ih) * geom->in[2] + iw] : 0.0f;
        }
      }
    }
  }
}

/* The number of rows of t for L (0 when t does not fit the weight). */
static int64_t layer_rows(const layer *L, const qc_tensor *t, qc_window_geom *geom) {
  if (t->dtype != QC_DT_FLOAT || t->ndim < 1)
    return 0;
  if (L->kind == L_GEMM) {
    if (t->ndim != 2 || t->dims[L->trans_a ? 0 : 1] != L->kg)
      return 0;
    return t->dims[L->trans_a ? 1 : 0];
  }
  if (L->kind == L_MATMUL)
    return t->dims[t->ndim - 1] == L->kg ? t->numel / L->kg : 0;
  const qc_tensor *w = L->w_view;
  int nsp = t->ndim - 2;
  if (nsp < 1 || nsp > QC_WIN_SP || w->ndim != t->ndim || t->dims[1] != L->groups * w->dims[1])
    return 0;
  if (qc_window_resolve(&L->win, nsp, t->dims + 2, w->dims + 2, 0, geom) < 0)
    return 0;
  return t->dims[0] * qc_geom_out_size(geom);
}

typedef struct collect {
  layer *layers;
  int *first_of_value; /* per value id: first layer of this pass reading it, -1 */
  int per_sample;      /* rows sampled per layer per sample */
  int sample;          /* index of the sample being run */
  float *rows;         /* per_sample x max row_len scratch */
} collect;

/* Samples per_sample rows of t for every layer of this pass reading `value`
 * and adds them to the layers' Gram matrices. */
static int take_input(collect *c, int value, const qc_tensor *t) {
  for (int li = c->first_of_value[value]; li >= 0; li = c->layers[li].next_same_input) {
    layer *L = &c->layers[li];
    qc_window_geom geom;
    int64_t total = L->failed ? 0 : layer_rows(L, t, &geom);
    if (total <= 0) {
      L->failed = 1;
      continue;
    }
    uint64_t seed = 0x5EEDADA0ull ^ ((uint64_t)L->node << 32) ^ (uint64_t)c->sample;
    for (int r = 0; r < c->per_sample; r++)
      gather_row(L, t, &geom, (int64_t)(splitmix64(&seed) % (uint64_t)total), c->rows + (size_t)r * (size_t)L->row_len);
    for (int64_t gi = 0; gi < L->groups; gi++)
      cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)L->kg, c->per_sample, 1.0f, c->rows + gi * L->kg,
                  (int)L->row_len, 1.0f, L->gram + (size_t)gi * (size_t)(L->kg * L->kg), (int)L->kg);
    L->n_rows += c->per_sample;
  }
  return QC_OK;
}

static int on_value(void *user, int node, int value, const qc_tensor *t) {
  (void)node;
  collect *c = user;
  return c->first_of_value[value] >= 0 ? take_input(c, value, t) : QC_OK;
}

/* Runs the chosen samples and fills the Gram matrices of layers [lo, hi). */
static int collect_rows(qc_model *m, qc_engine *e, qc_calib_source *src, const int64_t *samples, int n_samples,
                        collect *c, int lo, int hi) {
  qc_graph *g = m->graph;
  int rc = QC_OK;
  for (int v = 0; v < g->n_values; v++)
    c->first_of_value[v] = -1;
  for (int li = hi - 1; li >= lo; li--) {
    layer *L = &c->layers[li];
    L->next_same_input = c->first_of_value[L->in_value];
    c->first_of_value[L->in_value] = li;
  }
  qc_tensor *inputs = calloc((size_t)g->n_inputs + 1, sizeof *inputs);
  qc_tensor **in_ptrs = calloc((size_t)g->n_inputs + 1, sizeof *in_ptrs);
  qc_tensor *outputs = calloc((size_t)g->n_outputs + 1, sizeof *outputs);
  if (!inputs || !in_ptrs || !outputs)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  for (int si = 0; rc == QC_OK && si < n_samples; si++) {
    c->sample = si;
    int lr = qc_calib_source_load(src, samples[si], inputs);
    if (lr == QC_CALIB_SKIPPED)
      continue;
    rc = lr;
    for (int i = 0; rc == QC_OK && i < g->n_inputs; i++) {
      in_ptrs[i] = &inputs[i];
      if (c->first_of_value[g->inputs[i]] >= 0) /* a layer reading a graph input */
        rc = take_input(c, g->inputs[i], &inputs[i]);
    }
    if (rc == QC_OK)
      rc = qc_engine_run(e, in_ptrs, outputs, on_value, c);
    for (int i = 0; i < g->n_inputs; i++)
      qc_tensor_release(&inputs[i]);
    for (int i = 0; i < g->n_outputs; i++)
      qc_tensor_release(&outputs[i]);
  }
  free(inputs);
  free(in_ptrs);
  free(outputs);
  return rc;
}

/* Learns layer L from its Gram matrix into entry out. */
static int learn_layer(layer *L, const qc_adaround_opts *o, qc_rounded_weight *out, double *ratio) {
  float *wmat = NULL, *row_scale = NULL, *scales = NULL;
  int8_t *qmat = malloc((size_t)L->oc * (size_t)L->kg);
  uint64_t fingerprint = 0;
  int rc = qmat ? layer_matrix(L, &wmat, &row_scale, &scales, &fingerprint) : qc_fail(QC_ENOMEM, "out of memory");
  int64_t kg = L->kg, ocg = L->oc / L->groups;
  double en = 0, el = 0;
  for (int64_t gi = 0; rc == QC_OK && gi < L->groups; gi++) {
    float *gram = L->gram + (size_t)gi * (size_t)(kg * kg);
    for (int64_t i = 0; i < kg; i++) /* full symmetric G / n */
      for (int64_t j = i; j < kg; j++)
        gram[j * kg + i] = gram[i * kg + j] = gram[i * kg + j] / (float)L->n_rows;
    double a, b;
    rc = qc_adaround_layer(wmat + gi * ocg * kg, (int)ocg, (int)kg, row_scale + gi * ocg, gram, o,
                           qmat + gi * ocg * kg, &a, &b);
    en += a, el += b;
  }
  if (rc == QC_OK) {
    const qc_tensor *w = L->w_view;
    int transposed = L->kind == L_MATMUL || (L->kind == L_GEMM && !L->trans_b);
    out->q = malloc((size_t)w->numel);
    out->name = strdup(L->wname);
    if (!out->q || !out->name)
      rc = qc_fail(QC_ENOMEM, "out of memory");
    for (int64_t r = 0; rc == QC_OK && r < L->oc; r++)
      for (int64_t c = 0; c < kg; c++)
        out->q[transposed ? c * L->oc + r : r * kg + c] = qmat[r * kg + c];
    out->axis = L->axis;
    out->n_scales = L->n_scales;
    out->numel = w->numel;
    out->fingerprint = fingerprint;
    out->scale = scales, scales = NULL;
    *ratio = en > 0 ? el / en : 1.0;
  }
  free(wmat);
  free(row_scale);
  free(scales);
  free(qmat);
  return rc;
}

int qc_adaround(qc_model *m, qc_calib_source *src, const qc_adaround_opts *o, qc_weight_rounding *out,
                qc_adaround_stats *st) {
  qc_graph *g = m->graph;
  memset(out, 0, sizeof *out);
  memset(st, 0, sizeof *st);
  int rc = QC_OK, n_layers = 0;
  layer *layers = calloc((size_t)g->n_order + 1, sizeof *layers);
  collect c = {.layers = layers, .first_of_value = malloc(sizeof(int) * ((size_t)g->n_values + 1))};
  qc_rounded_weight *learned = calloc((size_t)g->n_order + 1, sizeof *learned);
  double *ratios = calloc((size_t)g->n_order + 1, sizeof *ratios);
  int64_t total = qc_calib_source_count(src);
  int n_samples = total < o->max_samples ? (int)total : o->max_samples;
  int64_t *samples = malloc(sizeof(int64_t) * ((size_t)n_samples + 1));
  qc_engine *e = NULL;
  if (!layers || !c.first_of_value || !learned || !ratios || !samples)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  for (int k = 0; rc == QC_OK && k < g->n_order; k++) {
    int r = layer_init(g, g->order[k], o, &layers[n_layers], &st->skipped);
    if (r < 0)
      rc = r;
    else
      n_layers += r;
  }
  for (int i = 0; i < n_samples; i++) /* evenly spaced */
    samples[i] = (int64_t)((double)i * (double)total / (double)n_samples);
  c.per_sample = n_samples ? (o->patches + n_samples - 1) / n_samples : 0;
  int64_t max_row = 1;
  for (int li = 0; li < n_layers; li++)
    max_row = layers[li].row_len > max_row ? layers[li].row_len : max_row;
  if (rc == QC_OK && !(c.rows = malloc(sizeof(float) * (size_t)max_row * (size_t)c.per_sample + 1)))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  qc_engine_opts eo = {.nthreads = o->nthreads};
  if (rc == QC_OK && n_layers)
    rc = qc_engine_create(m, &eo, &e);
  /* BLAS single-threaded: the sums, hence the result, do not depend on the thread count. */
  int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
  int n_done = 0;
  for (int lo = 0; rc == QC_OK && lo < n_layers;) {
    /* One engine pass collects as many layers as the Gram budget holds. */
    size_t bytes = 0;
    int hi = lo;
    while (hi < n_layers) {
      size_t b = sizeof(float) * (size_t)layers[hi].groups * (size_t)(layers[hi].kg * layers[hi].kg);
      if (b > GRAM_BUDGET_BYTES) { /* too wide to learn: rounds to nearest */
        layers[hi++].failed = 1;
        continue;
      }
      if (hi > lo && bytes + b > GRAM_BUDGET_BYTES)
        break;
      bytes += b;
      layers[hi].gram = calloc(1, b);
      if (!layers[hi].gram) {
        rc = qc_fail(QC_ENOMEM, "out of memory (AdaRound Gram matrix of %zu bytes)", b);
        break;
      }
      hi++;
    }
    if (rc == QC_OK)
      rc = collect_rows(m, e, src, samples, n_samples, &c, lo, hi);
    int shared_rc = QC_OK;
    char shared_msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(o->nthreads > 0 ? o->nthreads : 1)
    for (int li = lo; li < hi; li++) {
      if (rc != QC_OK || layers[li].failed || layers[li].n_rows == 0)
        continue;
      int lrc = qc_interrupted() ? qc_fail(QC_EINTERRUPTED, "interrupted during --rounding adaround; nothing written")
                                 : learn_layer(&layers[li], o, &learned[li], &ratios[li]);
      if (lrc < 0) {
#pragma omp critical(qc_adaround_error)
        if (shared_rc == QC_OK) { /* the message of the worker's thread */
          shared_rc = lrc;
          snprintf(shared_msg, sizeof shared_msg, "%s", qc_last_error());
        }
      }
    }
    if (rc == QC_OK && shared_rc < 0)
      rc = qc_fail(shared_rc, "%s", shared_msg);
    for (int li = lo; li < hi; li++) {
      free(layers[li].gram);
      layers[li].gram = NULL;
    }
    lo = hi;
    n_done = hi;
  }
  openblas_set_num_threads(blas_threads);
  /* The table, in graph order. */
  double sum_ratio = 0;
  for (int li = 0; li < n_done; li++) {
    if (learned[li].q) {
      learned[out->n++] = learned[li];
      sum_ratio += ratios[li];
    } else {
      st->skipped++;
    }
  }
  if (rc == QC_OK) {
    out->weights = learned, learned = NULL;
    st->layers = out->n;
    st->samples = n_samples;
    st->err_ratio = out->n ? sum_ratio / out->n : 1.0;
  } else {
    out->weights = learned, learned = NULL;
    qc_weight_rounding_free(out);
  }
  qc_engine_free(e);
  free(layers);
  free(c.first_of_value);
  free(c.rows);
  free(ratios);
  free(samples);
  return rc;
}
