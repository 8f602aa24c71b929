/* qconvert inspect MODEL: producer, opsets, I/O, op counts, parameters. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../io/model_io.h"
#include "../ir/model.h"
#include "../ir/graph.h"
#include "../quant/param_bytes.h"
#include "../report/report.h"
#include "cli.h"
#include "onnx.pb-c.h"

static void print_value_shape(const qc_value *v) {
  if (v->flags & QC_VALUE_NOT_TENSOR) {
    printf("(non-tensor)");
    return;
  }
  printf("%-8s ", v->dtype ? qc_dtype_name(v->dtype) : "?");
  if (v->ndim < 0) {
    printf("[unknown rank]");
    return;
  }
  printf("[");
  for (int i = 0; i < v->ndim; i++) {
    if (i)
      printf(", ");
    if (v->dims[i] >= 0)
      printf("%lld", (long long)v->dims[i]);
    else
      printf("%s", v->dim_params[i] ? v->dim_params[i] : "?");
  }
  printf("]");
}

typedef struct op_count {
  const char *op;
  int count;
} op_count;

static int cmp_op_count(const void *a, const void *b) {
  const op_count *x = a, *y = b;
  if (x->count != y->count)
    return y->count - x->count;
  return strcmp(x->op, y->op);
}


typedef struct param_totals {
  int64_t params[QC_DT_COUNT];
  double bytes[QC_DT_COUNT];
  int64_t total;
  double total_bytes;
} param_totals;

static int add_param(void *user, int value, const Onnx__TensorProto *t) {
  (void)value;
  param_totals *pt = user;
  int64_t n;
  double b;
  qc_tensor_proto_size(t, &n, &b);
  int dt = t->has_data_type && qc_dtype_is_valid(t->data_type) ? t->data_type : 0;
  pt->params[dt] += n, pt->bytes[dt] += b, pt->total += n, pt->total_bytes += b;
  return QC_OK;
}

static void print_model(const qc_model *m) {
  const Onnx__ModelProto *p = m->proto;
  const qc_graph *g = m->graph;
  char hb[32];
  qc_format_bytes((double)m->file_bytes, hb, sizeof hb);
  printf("model:      %s (%s)\n", m->path, hb);
  printf("producer:   %s%s%s\n", p->producer_name && *p->producer_name ? p->producer_name : "(none)",
         p->producer_version && *p->producer_version ? " " : "", p->producer_version ? p->producer_version : "");
  printf("ir_version: %lld\n", (long long)p->ir_version);
  printf("opsets:    ");
  for (size_t i = 0; i < p->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = p->opset_import[i];
    printf("%s %s %lld", i ? "," : "", o->domain && *o->domain ? o->domain : "ai.onnx", (long long)o->version);
  }
  printf("\n");
  printf("inputs:\n");
  for (int i = 0; i < g->n_inputs; i++) {
    const qc_value *v = &g->values[g->inputs[i]];
    printf("  %-24s ", v->name);
    print_value_shape(v);
    printf("\n");
  }
  printf("outputs:\n");
  for (int i = 0; i < g->n_outputs; i++) {
    const qc_value *v = &g->values[g->outputs[i]];
    printf("  %-24s ", v->name);
    print_value_shape(v);
    printf("\n");
  }
  /* Node count per op type, most frequent first. */
  op_count *counts = calloc((size_t)g->n_order + 1, sizeof *counts);
  int n_types = 0;
  for (int k = 0; counts && k < g->n_order; k++) {
    const char *op = qc_node_op(g, g->order[k]);
    int j = 0;
    while (j < n_types && strcmp(counts[j].op, op) != 0)
      j++;
    if (j == n_types)
      counts[n_types++].op = op;
    counts[j].count++;
  }
  if (counts)
    qsort(counts, (size_t)n_types, sizeof *counts, cmp_op_count);
  printf("nodes:      %d (%d op types)\n", g->n_order, n_types);
  for (int j = 0; j < n_types; j++)
    printf("  %-24s %6d\n", counts[j].op, counts[j].count);
  free(counts);
  /* Parameters (initializers and Constant tensors) per dtype. */
  param_totals pt = {{0}, {0}, 0, 0};
  qc_for_each_parameter(m, add_param, &pt);
  int64_t *params = pt.params, total = pt.total;
  double *bytes = pt.bytes, total_bytes = pt.total_bytes;
  qc_format_bytes(total_bytes, hb, sizeof hb);
  printf("parameters: %lld (%s)\n", (long long)total, hb);
  for (int dt = 0; dt < QC_DT_COUNT; dt++)
    if (params[dt]) {
      qc_format_bytes(bytes[dt], hb, sizeof hb);
      printf("  %-24s %12lld params %12s\n", qc_dtype_name((qc_dtype)dt), (long long)params[dt], hb);
    }
  printf("external data: %s\n", qc_model_uses_external_data(m) ? "yes" : "no");
}

int cmd_inspect(int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'h') {
      printf("usage: qconvert inspect MODEL\n\n"
             "Prints the producer, IR version and opsets, inputs and outputs (symbolic dims by\n"
             "name), node counts per op type, parameter counts and bytes per dtype, and whether\n"
             "the model keeps tensors in external data files.\n");
      return 0;
    }
    return cli_bad_option("inspect", argv, c);
  }
  if (optind != argc - 1)
    return cli_usage_error("inspect ", optind >= argc ? "missing MODEL" : "expected one MODEL, got %d arguments",
                           argc - optind);
  qc_model *m;
  int rc = qc_model_load(argv[optind], &m);
  if (rc < 0)
    return cli_fail(rc);
  print_model(m);
  qc_model_free(m);
  return 0;
}
