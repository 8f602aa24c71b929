/* The pass table and manager (src/passes): the stages hold the documented
 * passes in order (docs/passes.md), every pass can run, and running the stage
 * `prepare` on a small model built here records each pass's count and time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "onnx.pb-c.h"
#include "passes/pass.h"
#include "qc_test.h"

static const char *const k_prepare[] = {"remove_identity", "fold_constants", "fold_batchnorm", "decompose_for_int8",
                                        "fold_affine", "equalize"};
static const char *const k_quantize[] = {"raise_opset", "insert_qdq"};

/* The table's passes of `stage`, in order, must be exactly `want`. */
static void check_stage(const char *stage, const char *const *want, int n_want) {
  int n, k = 0;
  const qc_pass *t = qc_passes_table(&n);
  for (int i = 0; i < n; i++) {
    if (strcmp(t[i].stage, stage) != 0)
      continue;
    CHECK(k < n_want && strcmp(t[i].name, want[k]) == 0, "%s pass %d is '%s'", stage, k, t[i].name);
    k++;
  }
  CHECK(k == n_want, "stage %s has %d passes, expected %d", stage, k, n_want);
}

static void test_table(void) {
  check_stage("prepare", k_prepare, 6);
  check_stage("quantize", k_quantize, 2);
  int n;
  const qc_pass *t = qc_passes_table(&n);
  CHECK(n == 8, "%d passes", n);
  for (int i = 0; i < n; i++) {
    CHECK(t[i].run != NULL, "pass '%s' has no run", t[i].name);
    CHECK(strcmp(t[i].stage, "prepare") == 0 || strcmp(t[i].stage, "quantize") == 0, "pass '%s': stage '%s'",
          t[i].name, t[i].stage);
    CHECK(qc_passes_find(t[i].name) == &t[i], "names are unique: '%s'", t[i].name);
    /* A stage's passes are contiguous: the prepare rows come first. */
    if (i > 0)
      CHECK(!(strcmp(t[i - 1].stage, "quantize") == 0 && strcmp(t[i].stage, "prepare") == 0), "row %d", i);
  }
  CHECK(qc_passes_find("no_such_pass") == NULL);
}

/* An empty opset-13 graph with input x [1,2,2,2] and output y, as bytes. */
static int empty_model(unsigned char **buf, size_t *len) {
  Onnx__TensorShapeProto__Dimension d[4], *dims[4];
  for (int i = 0; i < 4; i++) {
    onnx__tensor_shape_proto__dimension__init(&d[i]);
    d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d[i].dim_value = i == 0 ? 1 : 2;
    dims[i] = &d[i];
  }
  Onnx__TensorShapeProto shape;
  onnx__tensor_shape_proto__init(&shape);
  shape.n_dim = 4, shape.dim = dims;
  Onnx__TypeProto__Tensor tt;
  onnx__type_proto__tensor__init(&tt);
  tt.has_elem_type = 1, tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, tt.shape = &shape;
  Onnx__TypeProto type;
  onnx__type_proto__init(&type);
  type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, type.tensor_type = &tt;
  Onnx__ValueInfoProto x, y, *inputs[1] = {&x}, *outputs[1] = {&y};
  onnx__value_info_proto__init(&x);
  onnx__value_info_proto__init(&y);
  x.name = "x", x.type = &type, y.name = "y", y.type = &type;
  Onnx__GraphProto g;
  onnx__graph_proto__init(&g);
  g.name = "passes", g.n_input = 1, g.input = inputs, g.n_output = 1, g.output = outputs;
  Onnx__OperatorSetIdProto opset, *opsets[1] = {&opset};
  onnx__operator_set_id_proto__init(&opset);
  opset.domain = "", opset.has_version = 1, opset.version = 13;
  Onnx__ModelProto m;
  onnx__model_proto__init(&m);
  m.has_ir_version = 1, m.ir_version = 7, m.graph = &g, m.n_opset_import = 1, m.opset_import = opsets;
  *len = onnx__model_proto__get_packed_size(&m);
  if (!(*buf = malloc(*len)))
    return qc_fail(QC_ENOMEM, "out of memory");
  onnx__model_proto__pack(&m, *buf);
  return QC_OK;
}

static int add_init(qc_graph *g, const char *name, int ndim, const int64_t *dims, const float *v) {
  qc_tensor t = {0};
  qc_tensor_wrap(&t, QC_DT_FLOAT, ndim, dims, (void *)v);
  return qc_graph_set_initializer(g, name, &t, NULL);
}

/* x -> Identity -> Conv(w) -> BatchNormalization -> y */
static int build_model(qc_model **out) {
  unsigned char *buf;
  size_t len;
  QC_TRY(empty_model(&buf, &len));
  int rc = qc_model_load_buffer(buf, len, "passes.onnx", ".", out);
  free(buf);
  QC_TRY(rc);
  qc_graph *g = (*out)->graph;
  static const float w[4] = {1, 2, 3, 4}, scale[2] = {1, 2}, bias[2] = {0, 1}, mean[2] = {0, 0}, var[2] = {1, 1};
  const int64_t wd[4] = {2, 2, 1, 1}, cd[1] = {2};
  QC_TRY(add_init(g, "w", 4, wd, w));
  QC_TRY(add_init(g, "scale", 1, cd, scale));
  QC_TRY(add_init(g, "bias", 1, cd, bias));
  QC_TRY(add_init(g, "mean", 1, cd, mean));
  QC_TRY(add_init(g, "var", 1, cd, var));
  const char *id_in[] = {"x"}, *id_out[] = {"x_id"}, *conv_in[] = {"x_id", "w"}, *conv_out[] = {"c"};
  const char *bn_in[] = {"c", "scale", "bias", "mean", "var"}, *bn_out[] = {"y"};
  int node;
  QC_TRY(qc_graph_add_node(g, "Identity", "id", id_in, 1, id_out, 1, -1, &node));
  QC_TRY(qc_graph_add_node(g, "Conv", "conv", conv_in, 2, conv_out, 1, -1, &node));
  QC_TRY(qc_graph_add_node(g, "BatchNormalization", "bn", bn_in, 5, bn_out, 1, -1, &node));
  return qc_graph_reindex(g);
}

static void test_prepare_stage(void) {
  qc_model *m = NULL;
  CHECK_OK(build_model(&m));
  if (!m)
    return;
  qc_quant_opts opts = {0};
  qc_pass_ctx ctx = {.opts = &opts};
  qc_pass_log log = {0};
  CHECK_OK(qc_passes_run("prepare", m, &ctx, &log));
  static const int want_count[] = {1, 0, 1, 0, 0, 0}; /* Identity removed, BN folded, one Conv: nothing to pair */
  CHECK(log.n == 6, "%d records", log.n);
  for (int i = 0; i < log.n && i < 6; i++) {
    CHECK(strcmp(log.records[i].pass, k_prepare[i]) == 0, "record %d is '%s'", i, log.records[i].pass);
    CHECK(strcmp(log.records[i].stage, "prepare") == 0);
    CHECK(log.records[i].count == want_count[i], "%s counted %d", log.records[i].pass, log.records[i].count);
    CHECK(log.records[i].ms >= 0, "%s took %g ms", log.records[i].pass, log.records[i].ms);
  }
  const qc_graph *g = m->graph;
  CHECK(g->n_order == 1 && strcmp(qc_node_op(g, g->order[0]), "Conv") == 0, "%d nodes left", g->n_order);
  if (g->n_order == 1) {
    const qc_node *conv = &g->nodes[g->order[0]];
    CHECK(conv->outputs[0] == qc_graph_find_value(g, "y"), "the Conv writes the graph output");
    CHECK(conv->inputs[0] == qc_graph_find_value(g, "x"), "the Conv reads the graph input");
  }
  /* A second run appends to the log and finds nothing left to do. */
  CHECK_OK(qc_passes_run("prepare", m, &ctx, &log));
  CHECK(log.n == 12, "%d records after two runs", log.n);
  for (int i = 6; i < log.n; i++)
    CHECK(log.records[i].count == 0, "rerun: %s counted %d", log.records[i].pass, log.records[i].count);
  qc_pass_log_free(&log);
  CHECK(log.n == 0 && log.records == NULL);
  CHECK(qc_passes_run("no_such_stage", m, &ctx, NULL) == QC_EINTERNAL);
  qc_clear_error();
  qc_model_free(m);
}

int main(void) {
  test_table();
  test_prepare_stage();
  return qc_test_finish("passes");
}
