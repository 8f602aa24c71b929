/* Discrete post-processing stays float (docs/quantization.md): comparison,
 * selection and index ops decide by the order of values, and a quantized
 * tensor ties where the float one does not (M-LSD's peak test
 * x == maxpool3x3(x) passes every plateau of a quantized sigmoid). From each
 * such op the walk goes back over the float tensors it reads, through every
 * op but a weighted one: elementwise functions, data movement, MaxPool,
 * Resize and Add applied to a quantized input keep its grid (equal input
 * levels give equal outputs), so stopping there would leave the ties. A
 * weighted op sums hundreds of int8 products; its output has no such grid, so
 * it keeps its quantized inputs and int8 weights, and only its output is
 * float. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "qdq_internal.h"

/* Bit i set: input i decides (is compared, ranked or indexed). 0: no decision op. */
static unsigned decision_inputs(const qc_graph *g, int node) {
  static const char *const compare_all[] = {"Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"};
  const char *op = qc_node_op(g, node);
  const qc_node *n = &g->nodes[node];
  for (size_t i = 0; i < sizeof compare_all / sizeof *compare_all; i++)
    if (!strcmp(op, compare_all[i]))
      return n->ninputs >= 32 ? ~0u : (1u << n->ninputs) - 1u;
  if (!strcmp(op, "ArgMax") || !strcmp(op, "ArgMin") || !strcmp(op, "TopK") || !strcmp(op, "Where"))
    return 1u; /* Where: its condition only; the selected values may be quantized */
  if (!strcmp(op, "NonMaxSuppression"))
    return 3u; /* boxes, scores */
  if (!strcmp(op, "Cast")) {
    qc_attrs a = qc_node_attrs(g, node);
    int64_t to = 0;
    if (qc_attr_type(&a, "to") != QC_ATTR_INT || qc_attr_int(&a, "to", 0, &to) < 0)
      return 0;
    switch ((qc_dtype)to) {
    case QC_DT_UINT8: case QC_DT_INT8: case QC_DT_UINT16: case QC_DT_INT16: case QC_DT_INT32:
    case QC_DT_INT64: case QC_DT_BOOL: case QC_DT_UINT32: case QC_DT_UINT64: case QC_DT_UINT4: case QC_DT_INT4:
      return 1u;
    default:
      return 0;
    }
  }
  return 0;
}

static int find_root(int *parent, int id) {
  while (parent[id] != id)
    id = parent[id] = parent[parent[id]];
  return id;
}

static void join(int *parent, int a, int b) {
  a = find_root(parent, a), b = find_root(parent, b);
  if (a != b)
    parent[a > b ? a : b] = a < b ? a : b; /* the earlier region names the union */
}

/* "Op 'name'", or "Op -> 'first output'" for an unnamed node. */
static char *node_label(const qc_graph *g, int node) {
  char buf[1200];
  const char *name = qc_node_name(g, node);
  const qc_node *n = &g->nodes[node];
  if (*name)
    snprintf(buf, sizeof buf, "%s '%s'", qc_node_op(g, node), name);
  else
    snprintf(buf, sizeof buf, "%s -> '%s'", qc_node_op(g, node),
             n->noutputs > 0 && n->outputs[0] >= 0 ? g->values[n->outputs[0]].name : "");
  return strdup(buf);
}

static int push_label(char ***list, int *n, const qc_graph *g, int node) {
  char **l = realloc(*list, sizeof *l * (size_t)(*n + 1));
  if (!l)
    return qc_fail(QC_ENOMEM, "out of memory");
  *list = l;
  if (!(l[*n] = node_label(g, node)))
    return qc_fail(QC_ENOMEM, "out of memory");
  (*n)++;
  return QC_OK;
}

/* Walks back from decision op d (region id) over the float tensors it reads. */
static int walk_back(const qc_graph *g, int d, int id, int *parent, int *value_region, int *node_region, int *stack) {
  const qc_node *dn = &g->nodes[d];
  unsigned slots = decision_inputs(g, d);
  int top = 0, pushed = 0;
  for (int i = 0; i < dn->ninputs && i < 32; i++)
    if ((slots >> i & 1u) && qdq_is_float_activation(g, dn->inputs[i]))
      stack[top++] = dn->inputs[i], pushed++;
  while (top > 0) {
    int v = stack[--top];
    if (value_region[v]) {
      join(parent, value_region[v], id);
      continue;
    }
    value_region[v] = id;
    int p = g->values[v].producer;
    if (p < 0 || qdq_node_kind(g, p, NULL, NULL) == K_WEIGHTED)
      continue;
    if (node_region[p]) {
      join(parent, node_region[p], id);
      continue;
    }
    node_region[p] = id;
    for (int i = 0; i < g->nodes[p].ninputs; i++)
      if (qdq_is_float_activation(g, g->nodes[p].inputs[i]) && !value_region[g->nodes[p].inputs[i]])
        stack[top++] = g->nodes[p].inputs[i];
  }
  return pushed;
}

static int describe(const qc_graph *g, const qc_stats_set *stats, const int *order, int n, int nv,
                    const int *value_region, const int *node_region, int id, int decider, qc_float_region *r) {
  memset(r, 0, sizeof *r);
  if (!(r->decided_by = node_label(g, decider)))
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int k = 0; k < n; k++)
    if (node_region[order[k]] == id)
      QC_TRY(push_label(&r->nodes, &r->n_nodes, g, order[k]));
  for (int k = 0; k < n; k++) {
    const qc_node *nd = &g->nodes[order[k]];
    if (qdq_node_kind(g, order[k], NULL, NULL) != K_WEIGHTED)
      continue;
    int feeds = 0;
    for (int o = 0; o < nd->noutputs; o++)
      feeds |= nd->outputs[o] >= 0 && value_region[nd->outputs[o]] == id;
    if (feeds)
      QC_TRY(push_label(&r->boundary, &r->n_boundary, g, order[k]));
  }
  for (int v = 0; v < nv; v++) {
    if (value_region[v] != id)
      continue;
    r->n_tensors++;
    const qc_stats *s = qc_stats_set_find(stats, g->values[v].name);
    if (s && s->samples > 0)
      r->float_bytes += 4.0 * (double)(s->count + s->nonfinite) / (double)s->samples;
  }
  return QC_OK;
}

int qdq_float_regions(const qc_graph *g, const qc_stats_set *stats, const int *order, int n, int *value_region,
                      int *node_region, qc_quant_summary *out) {
  int nv = g->n_values;
  size_t edges = 32; /* a value is pushed at most once per use */
  for (int k = 0; k < n; k++)
    edges += (size_t)g->nodes[order[k]].ninputs;
  int *parent = calloc((size_t)n + 2, sizeof(int)), *stack = malloc(edges * sizeof(int));
  int *decider = calloc((size_t)n + 2, sizeof(int)), *canon = calloc((size_t)n + 2, sizeof(int));
  int rc = QC_OK, nreg = 0;
  if (!parent || !stack || !decider || !canon) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto done;
  }
  for (int k = 0; k < n; k++) {
    int d = order[k];
    if (!decision_inputs(g, d) || node_region[d])
      continue;
    int id = ++nreg;
    parent[id] = id;
    decider[id] = d;
    node_region[d] = id;
    if (!walk_back(g, d, id, parent, value_region, node_region, stack)) {
      node_region[d] = 0; /* it reads no float activation: shape or index arithmetic */
      nreg--;
    }
  }
  /* A weighted or fused op reading a region tensor cannot run as an integer
   * kernel (onnxruntime fuses a node unit only with a DQ on every input): it
   * stays float as part of the region (M-LSD's Mul by the peak mask). */
  /* So does an op that reads a decision's result (the Cast of Equal's
   * booleans): listed with the region, it is never quantized anyway. */
  for (int k = 0; k < n; k++) {
    int r = order[k], kind = qdq_node_kind(g, r, NULL, NULL);
    if (node_region[r])
      continue;
    for (int i = 0; i < g->nodes[r].ninputs && !node_region[r]; i++) {
      int v = g->nodes[r].inputs[i], p = v >= 0 ? g->values[v].producer : -1;
      if (v >= 0 && value_region[v] && (kind == K_WEIGHTED || kind == K_FUSED || kind == K_RESCALE))
        node_region[r] = value_region[v];
      else if (p >= 0 && node_region[p] && decision_inputs(g, p) && kind == K_NONE)
        node_region[r] = node_region[p];
    }
  }
  /* Number the merged regions 1.. in the order of their first decision op. */
  int count = 0;
  for (int id = 1; id <= nreg; id++)
    if (find_root(parent, id) == id)
      canon[id] = ++count;
  for (int v = 0; v < nv; v++)
    if (value_region[v])
      value_region[v] = canon[find_root(parent, value_region[v])];
  for (int k = 0; k < n; k++)
    if (node_region[order[k]])
      node_region[order[k]] = canon[find_root(parent, node_region[order[k]])];
  if (count) {
    out->regions = calloc((size_t)count, sizeof *out->regions);
    if (!out->regions) {
      rc = qc_fail(QC_ENOMEM, "out of memory");
      goto done;
    }
    for (int id = 1; id <= nreg && rc == QC_OK; id++)
      if (find_root(parent, id) == id) {
        rc = describe(g, stats, order, n, nv, value_region, node_region, canon[id], decider[id],
                      &out->regions[out->n_regions]);
        out->n_regions++;
      }
  }
done:
  free(parent);
  free(stack);
  free(decider);
  free(canon);
  return rc;
}

void qdq_float_region_free(qc_float_region *r) {
  free(r->decided_by);
  for (int i = 0; i < r->n_nodes; i++)
    free(r->nodes[i]);
  for (int i = 0; i < r->n_boundary; i++)
    free(r->boundary[i]);
  free(r->nodes);
  free(r->boundary);
  memset(r, 0, sizeof *r);
}

int qc_qdq_float_region_nodes(const qc_graph *g, const qc_stats_set *stats, const qc_quant_opts *opts,
                              unsigned char *mask_out) {
  memset(mask_out, 0, (size_t)g->n_nodes);
  if (opts->weight_only)
    return 0;
  int *order = NULL, n = 0, count = 0;
  QC_TRY(qc_graph_topo_order(g, &order, &n));
  int *value_region = calloc((size_t)g->n_values + 1, sizeof(int));
  int *node_region = calloc((size_t)g->n_nodes + 1, sizeof(int));
  qc_quant_summary regions = {0};
  int rc = value_region && node_region ? qdq_float_regions(g, stats, order, n, value_region, node_region, &regions)
                                       : qc_fail(QC_ENOMEM, "out of memory");
  for (int k = 0; k < n && rc == QC_OK; k++)
    if (node_region[order[k]])
      mask_out[order[k]] = 1, count++;
  qc_quant_summary_free(&regions);
  free(order);
  free(value_region);
  free(node_region);
  return rc < 0 ? rc : count;
}
