/* Initializer views (qc_graph_initializer_view): each initializer is decoded
 * once and kept by the graph; the view equals an independent decode
 * (qc_tensor_from_proto); replacing or pruning an initializer drops it; an
 * initializer in an external file is read once (the file can go afterwards:
 * the engine takes the same view, and saving inline hands its bytes over). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "engine/engine.h"
#include "io/model_io.h"
#include "io/tensor_proto.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "onnx.pb-c.h"
#include "qc_test.h"

/* The demo CNN (initializers in raw_data). */
static void model_path(char *buf, size_t n) {
  const char *root = getenv("QC_SOURCE_ROOT");
  snprintf(buf, n, "%s/demo/fmnist_cnn.onnx", root ? root : ".");
}

/* The first Conv's weight, or -1. */
static int conv_weight(const qc_graph *g) {
  for (int k = 0; k < g->n_order; k++) {
    const qc_node *n = &g->nodes[g->order[k]];
    if (strcmp(qc_node_op(g, g->order[k]), "Conv") == 0 && n->ninputs > 1 && n->inputs[1] >= 0 &&
        g->values[n->inputs[1]].init)
      return n->inputs[1];
  }
  return -1;
}

static int same_tensor(const qc_tensor *a, const qc_tensor *b) {
  return a->dtype == b->dtype && a->ndim == b->ndim && a->numel == b->numel && a->nbytes == b->nbytes &&
         memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->ndim) == 0 &&
         (a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
}

/* The view of `value` equals qc_tensor_from_proto of its proto. */
static int matches_fresh_decode(const qc_model *m, int value, const qc_tensor *view) {
  qc_tensor ref = {0};
  if (qc_tensor_from_proto(m->graph->values[value].init, m->dir, &ref) < 0)
    return 0;
  int same = same_tensor(view, &ref);
  qc_tensor_release(&ref);
  return same;
}

static void fill(qc_tensor *t, float start, float step) {
  for (int64_t i = 0; i < t->numel; i++)
    qc_f32(t)[i] = start + step * (float)i;
}

static Onnx__StringStringEntryProto *entry(const char *key, const char *value) {
  Onnx__StringStringEntryProto *e = malloc(sizeof *e);
  if (!e)
    return NULL;
  onnx__string_string_entry_proto__init(e);
  e->key = strdup(key);
  e->value = strdup(value);
  return e;
}

/* Moves tp's data to `file` in dir at offset 8 (after 8 junk bytes), as an
 * external reference the model's free releases. */
static int make_external(Onnx__TensorProto *tp, const qc_tensor *t, const char *dir, const char *file) {
  char path[512], len[32];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "wb");
  if (!f)
    return -1;
  const char junk[8] = "junkjunk";
  int ok = fwrite(junk, 1, 8, f) == 8 && fwrite(t->data, 1, t->nbytes, f) == t->nbytes;
  ok = fclose(f) == 0 && ok;
  snprintf(len, sizeof len, "%zu", t->nbytes);
  tp->external_data = calloc(3, sizeof *tp->external_data);
  if (!ok || !tp->external_data)
    return -1;
  tp->external_data[0] = entry("location", file);
  tp->external_data[1] = entry("offset", "8");
  tp->external_data[2] = entry("length", len);
  tp->n_external_data = 3;
  for (int i = 0; i < 3; i++)
    if (!tp->external_data[i] || !tp->external_data[i]->key || !tp->external_data[i]->value)
      return -1;
  tp->has_data_location = 1;
  tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  free(tp->raw_data.data);
  tp->raw_data.data = NULL;
  tp->raw_data.len = 0;
  tp->has_raw_data = 0;
  free(tp->float_data);
  tp->float_data = NULL;
  tp->n_float_data = 0;
  return 0;
}

static void in_proto(void) {
  char model[512];
  model_path(model, sizeof model);
  qc_model *m = NULL;
  CHECK_OK(qc_model_load(model, &m));
  if (!m)
    return;
  qc_graph *g = m->graph;
  int w = conv_weight(g);
  CHECK(w >= 0);
  if (w < 0) {
    qc_model_free(m);
    return;
  }

  /* Decoded once: the same tensor every time, equal to a fresh decode, borrowing the proto's bytes. */
  const qc_tensor *v1 = NULL, *v2 = NULL;
  CHECK_OK(qc_graph_initializer_view(g, w, &v1));
  CHECK_OK(qc_graph_initializer_view(g, w, &v2));
  CHECK(v1 && v1 == v2);
  CHECK(v1 && v1->dtype == QC_DT_FLOAT && v1->numel > 1 && matches_fresh_decode(m, w, v1));
  const Onnx__TensorProto *tp = g->values[w].init;
  CHECK(tp->has_raw_data && v1 && !v1->owns_data && v1->data == (void *)tp->raw_data.data);

  /* The owned copy is a copy. */
  qc_tensor copy = {0};
  CHECK_OK(qc_graph_initializer(g, w, &copy));
  CHECK(copy.owns_data && v1 && copy.data != v1->data && same_tensor(&copy, v1));

  /* Replacing the data drops the view; the next one shows the new values. */
  fill(&copy, -1.0f, 0.25f);
  CHECK_OK(qc_graph_set_initializer(g, g->values[w].name, &copy, NULL));
  CHECK(g->values[w].init_view == NULL);
  const qc_tensor *v3 = NULL;
  CHECK_OK(qc_graph_initializer_view(g, w, &v3));
  CHECK(v3 && same_tensor(v3, &copy) && matches_fresh_decode(m, w, v3));
  CHECK(v3 && v3->data == (void *)g->values[w].init->raw_data.data);
  qc_tensor_release(&copy);

  /* Pruning an unused initializer drops its view. */
  qc_tensor t = {0};
  int64_t dims[1] = {4};
  CHECK_OK(qc_tensor_alloc(&t, QC_DT_FLOAT, 1, dims));
  fill(&t, 3.0f, -1.5f);
  int unused = -1;
  CHECK_OK(qc_graph_set_initializer(g, "unused_init", &t, &unused));
  const qc_tensor *vu = NULL;
  CHECK_OK(qc_graph_initializer_view(g, unused, &vu));
  CHECK(vu && same_tensor(vu, &t) && g->values[unused].init_view == vu);
  CHECK_OK(qc_graph_prune(g));
  CHECK(g->values[unused].init == NULL && g->values[unused].init_view == NULL);
  CHECK(g->values[w].init_view == v3); /* W is still used: its view stays */
  qc_tensor_release(&t);
  qc_model_free(m);
}

static void external(void) {
  char dir[] = "/tmp/qc_test_initview_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[600], data_path[600];
  snprintf(path, sizeof path, "%s/ext.onnx", dir);
  snprintf(data_path, sizeof data_path, "%s/w.bin", dir);

  /* W = 0.5 i - 3 in w.bin, written from a fresh load before any view exists. */
  char model[512];
  model_path(model, sizeof model);
  qc_model *m = NULL;
  CHECK_OK(qc_model_load(model, &m));
  int w = m ? conv_weight(m->graph) : -1;
  CHECK(w >= 0);
  if (w < 0) {
    qc_model_free(m);
    return;
  }
  qc_tensor want = {0};
  CHECK_OK(qc_tensor_alloc(&want, QC_DT_FLOAT, m->graph->values[w].ndim, m->graph->values[w].dims));
  fill(&want, -3.0f, 0.5f);
  CHECK(make_external(m->graph->values[w].init, &want, dir, "w.bin") == 0);
  CHECK_OK(qc_model_save(m, path, 0));
  qc_model_free(m);

  CHECK_OK(qc_model_load(path, &m));
  if (m) {
    qc_graph *g = m->graph;
    w = conv_weight(g);
    CHECK(w >= 0 && qc_tensor_proto_is_external(g->values[w].init));
    const qc_tensor *v1 = NULL, *v2 = NULL;
    CHECK_OK(qc_graph_initializer_view(g, w, &v1));
    CHECK(v1 && v1->owns_data && same_tensor(v1, &want) && matches_fresh_decode(m, w, v1));
    /* Read once: with the file gone the view, the owned copy and the engine still have the data. */
    CHECK(unlink(data_path) == 0);
    qc_tensor fresh = {0};
    CHECK(qc_tensor_from_proto(g->values[w].init, m->dir, &fresh) < 0); /* the file is really gone */
    qc_clear_error();
    CHECK_OK(qc_graph_initializer_view(g, w, &v2));
    CHECK(v1 == v2);
    qc_tensor copy = {0};
    CHECK_OK(qc_graph_initializer(g, w, &copy));
    CHECK(same_tensor(&copy, &want));
    qc_tensor_release(&copy);
    qc_engine *e = NULL;
    qc_engine_opts eo = {.nthreads = 1};
    CHECK_OK(qc_engine_create(m, &eo, &e));
    qc_engine_free(e);
    /* Saving inline hands the view's bytes to the proto; the saved model holds W. */
    unsigned char *buf = NULL;
    size_t len = 0;
    CHECK_OK(qc_model_pack(m, QC_SAVE_INLINE_EXTERNAL, &buf, &len));
    const Onnx__TensorProto *tp = g->values[w].init;
    CHECK(!qc_tensor_proto_is_external(tp) && tp->has_raw_data);
    CHECK(g->values[w].init_view == v1 && v1 && !v1->owns_data && v1->data == (void *)tp->raw_data.data);
    CHECK(v1 && same_tensor(v1, &want));
    qc_model *saved = NULL;
    if (buf)
      CHECK_OK(qc_model_load_buffer(buf, len, "saved", dir, &saved));
    if (saved) {
      const qc_tensor *vs = NULL;
      int ws = conv_weight(saved->graph);
      CHECK(ws >= 0 && !qc_tensor_proto_is_external(saved->graph->values[ws].init));
      if (ws >= 0)
        CHECK_OK(qc_graph_initializer_view(saved->graph, ws, &vs));
      CHECK(vs && same_tensor(vs, &want));
      qc_model_free(saved);
    }
    free(buf);
    qc_model_free(m);
  }
  qc_tensor_release(&want);
  unlink(data_path);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  in_proto();
  external();
  return qc_test_finish("initializer_view");
}
