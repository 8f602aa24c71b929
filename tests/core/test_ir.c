/* IR unit tests on a real ONNX test model (a single Conv node):
 * lookup, producer/consumer, rewrite helpers, topological order, cycles,
 * initializers, attributes, and a save/reload of the rewritten graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "io/model_io.h"
#include "ir/model.h"
#include "ir/graph.h"
#include "onnx.pb-c.h"
#include "ops/op.h"
#include "qc_test.h"

static const char *MODEL = "/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding/model.onnx";

static int order_of(const int *order, int n, int node) {
  for (int i = 0; i < n; i++)
    if (order[i] == node)
      return i;
  return -1;
}

int main(void) {
  qc_model *m;
  if (qc_model_load(MODEL, &m) < 0) {
    fprintf(stderr, "load failed: %s\n", qc_last_error());
    return 1;
  }
  qc_graph *g = m->graph;
  int x = qc_graph_find_value(g, "x"), w = qc_graph_find_value(g, "W"), y = qc_graph_find_value(g, "y");
  CHECK(x >= 0 && w >= 0 && y >= 0);
  CHECK(qc_graph_find_value(g, "nope") < 0);
  CHECK(g->n_order == 1 && strcmp(qc_node_op(g, g->order[0]), "Conv") == 0);
  int conv = g->order[0];
  CHECK(g->values[y].producer == conv);
  CHECK(g->values[x].n_consumers == 1 && g->values[x].consumers[0] == conv);
  CHECK(g->values[x].dtype == QC_DT_FLOAT && g->values[x].ndim == 4 && g->values[x].dims[2] == 7);
  CHECK(g->n_inputs == 2 && g->n_outputs == 1 && g->outputs[0] == y);

  /* Append Relu(y) -> y_relu and make it the graph output. */
  const char *relu_in[] = {"y"}, *relu_out[] = {"y_relu"};
  int relu;
  CHECK_OK(qc_graph_add_node(g, "Relu", "relu0", relu_in, 1, relu_out, 1, -1, &relu));
  int y_relu = qc_graph_find_value(g, "y_relu");
  CHECK(y_relu >= 0 && g->values[y_relu].producer == relu);
  CHECK_OK(qc_graph_replace_uses(g, y, y_relu, relu, 1));
  CHECK(g->outputs[0] == y_relu && (g->values[y_relu].flags & QC_VALUE_GRAPH_OUTPUT));
  CHECK(g->nodes[relu].inputs[0] == y); /* the spliced node keeps reading y */
  CHECK_OK(qc_node_set_input(g, relu, 0, "y"));
  CHECK(g->nodes[relu].inputs[0] == y);

  /* Insert a node out of order: the topological order fixes it. */
  const char *neg_in[] = {"y_relu"}, *neg_out[] = {"y_neg"};
  int neg;
  CHECK_OK(qc_graph_add_node(g, "Neg", NULL, neg_in, 1, neg_out, 1, conv, &neg)); /* placed first */
  CHECK(g->order[0] == neg);
  int *order, n;
  CHECK_OK(qc_graph_topo_order(g, &order, &n));
  CHECK(n == 3);
  CHECK(order_of(order, n, conv) < order_of(order, n, relu) && order_of(order, n, relu) < order_of(order, n, neg));
  free(order);

  /* A cycle is an error, not a hang. */
  const char *cyc_in[] = {"c2"}, *cyc_out[] = {"c1"}, *cyc2_in[] = {"c1"}, *cyc2_out[] = {"c2"};
  int c1, c2;
  CHECK_OK(qc_graph_add_node(g, "Neg", "c1", cyc_in, 1, cyc_out, 1, -1, &c1));
  CHECK_OK(qc_graph_add_node(g, "Neg", "c2", cyc2_in, 1, cyc2_out, 1, -1, &c2));
  CHECK(qc_graph_topo_order(g, &order, &n) == QC_EINVAL);
  CHECK(strstr(qc_last_error(), "cycle") != NULL);
  CHECK_OK(qc_graph_remove_node(g, c1));
  CHECK_OK(qc_graph_remove_node(g, c2));
  CHECK_OK(qc_graph_remove_node(g, neg));
  CHECK(g->n_order == 2);

  /* Initializers: add, replace data, prune unused. */
  qc_tensor t = {0};
  int64_t dims[1] = {3};
  CHECK_OK(qc_tensor_alloc(&t, QC_DT_FLOAT, 1, dims));
  qc_f32(&t)[0] = 1.5f, qc_f32(&t)[1] = -2.0f, qc_f32(&t)[2] = 0.25f;
  int unused;
  CHECK_OK(qc_graph_set_initializer(g, "unused_init", &t, &unused));
  CHECK(g->values[unused].flags & QC_VALUE_INITIALIZER);
  qc_tensor back = {0};
  CHECK_OK(qc_graph_initializer(g, unused, &back));
  CHECK(back.numel == 3 && qc_f32(&back)[1] == -2.0f);
  qc_tensor_release(&back);
  size_t n_init_before = g->proto->n_initializer;
  CHECK_OK(qc_graph_prune(g));
  CHECK(g->proto->n_initializer == n_init_before - 1);

  /* Attributes on the new node. */
  int64_t ints[3] = {1, 2, 3};
  CHECK_OK(qc_node_set_attr_int(g, relu, "i", 7));
  CHECK_OK(qc_node_set_attr_int(g, relu, "i", 8)); /* replaces */
  CHECK_OK(qc_node_set_attr_float(g, relu, "f", 0.5f));
  CHECK_OK(qc_node_set_attr_ints(g, relu, "is", ints, 3));
  CHECK_OK(qc_node_set_attr_string(g, relu, "s", "hello"));
  CHECK(g->nodes[relu].proto->n_attribute == 4);
  char name[64];
  qc_graph_unique_name(g, "y", name, sizeof name);
  CHECK(strcmp(name, "y_1") == 0);

  /* Save, reload, and check the rewrite survived. */
  char path[] = "/tmp/qc_test_ir_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK_OK(qc_model_save(m, path, 0));
  qc_tensor_release(&t);
  qc_model_free(m);
  CHECK_OK(qc_model_load(path, &m));
  unlink(path);
  g = m->graph;
  CHECK(g->n_order == 2);
  CHECK(strcmp(qc_node_op(g, g->order[1]), "Relu") == 0);
  CHECK(strcmp(g->values[g->outputs[0]].name, "y_relu") == 0);
  CHECK(qc_graph_find_value(g, "unused_init") < 0);
  qc_attrs k = qc_node_attrs(g, g->order[1]);
  int64_t iv;
  float fv;
  char sv[16];
  const int64_t *isv;
  size_t nis;
  CHECK_OK(qc_attr_int(&k, "i", 0, &iv));
  CHECK(iv == 8);
  CHECK_OK(qc_attr_float(&k, "f", 0, &fv));
  CHECK(fv == 0.5f);
  CHECK_OK(qc_attr_string(&k, "s", "", sv, sizeof sv));
  CHECK(strcmp(sv, "hello") == 0);
  CHECK_OK(qc_attr_ints(&k, "is", &isv, &nis));
  CHECK(nis == 3 && isv[2] == 3);
  CHECK(qc_attr_int(&k, "s", 0, &iv) == QC_EINVAL); /* wrong type */
  qc_model_free(m);
  return qc_test_finish("ir");
}
