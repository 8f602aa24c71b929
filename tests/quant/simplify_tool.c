/* simplify_tool IN.onnx OUT.onnx [--decompose|--equalize|--fold-affine]: runs
 * the prepare passes remove_identity, fold_constants and fold_batchnorm on IN
 * (then decompose_for_int8, equalize or fold_affine with default options), each through the pass
 * table (src/passes), saves OUT and prints the passes' counts as one JSON
 * object (for test_simplify.py). */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "passes/pass.h"
#include "qc_test.h"

/* Live nodes of type op. */
static int count_op(const qc_model *m, const char *op) {
  int n = 0;
  for (int k = 0; k < m->graph->n_order; k++)
    n += strcmp(qc_node_op(m->graph, m->graph->order[k]), op) == 0;
  return n;
}

/* Runs the named pass; *changed gets its count. */
static int run_pass(qc_model *m, qc_pass_ctx *ctx, const char *name, int *changed) {
  const qc_pass *p = qc_passes_find(name);
  if (!p)
    return qc_fail(QC_EINTERNAL, "no pass named '%s'", name);
  qc_pass_counts counts = {0};
  QC_TRY(p->run(m, ctx, &counts));
  *changed = counts.changed;
  return QC_OK;
}

int main(int argc, char **argv) {
  int decompose = argc == 4 && strcmp(argv[3], "--decompose") == 0;
  int equalize = argc == 4 && strcmp(argv[3], "--equalize") == 0;
  int fold_affine = argc == 4 && strcmp(argv[3], "--fold-affine") == 0;
  if (argc != 3 && !decompose && !equalize && !fold_affine) {
    fprintf(stderr, "usage: simplify_tool IN.onnx OUT.onnx [--decompose|--equalize|--fold-affine]\n");
    return 2;
  }
  qc_model *m = NULL;
  qc_quant_opts opts = {0};
  qc_pass_ctx ctx = {.opts = &opts};
  int identities = 0, dropouts = 0, removed = 0, folded = 0, bn_folded = 0, decomposed = 0, equalized = 0, affine_folded = 0;
  int rc = qc_model_load(argv[1], &m);
  if (rc == QC_OK) {
    /* remove_identity counts Identity and Dropout nodes together; it only removes, so split by op type. */
    identities = count_op(m, "Identity"), dropouts = count_op(m, "Dropout");
    rc = run_pass(m, &ctx, "remove_identity", &removed);
    identities -= count_op(m, "Identity"), dropouts -= count_op(m, "Dropout");
  }
  if (rc == QC_OK)
    rc = run_pass(m, &ctx, "fold_constants", &folded);
  if (rc == QC_OK)
    rc = run_pass(m, &ctx, "fold_batchnorm", &bn_folded);
  if (rc == QC_OK && decompose)
    rc = run_pass(m, &ctx, "decompose_for_int8", &decomposed);
  if (rc == QC_OK && equalize)
    rc = run_pass(m, &ctx, "equalize", &equalized);
  if (rc == QC_OK && fold_affine)
    rc = run_pass(m, &ctx, "fold_affine", &affine_folded);
  if (rc == QC_OK && removed != identities + dropouts)
    rc = qc_fail(QC_EINTERNAL, "remove_identity counted %d, the graph lost %d", removed, identities + dropouts);
  if (rc == QC_OK)
    rc = qc_model_save(m, argv[2], 0);
  qc_model_free(m);
  if (rc < 0)
    return qc_tool_fail("simplify_tool", rc);
  printf("{\"bn_folded\": %d, \"identities_removed\": %d, \"dropouts_removed\": %d, \"nodes_const_folded\": %d, "
         "\"decomposed\": %d, \"equalized\": %d, \"affine_folded\": %d}\n",
         bn_folded, identities, dropouts, folded, decomposed, equalized, affine_folded);
  return 0;
}
