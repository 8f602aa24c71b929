/* simplify_tool IN.onnx OUT.onnx: runs qc_pass_simplify on IN, saves OUT and
 * prints the pass statistics as one JSON object (for test_simplify.py). */
#include <stdio.h>

#include "core/status.h"
#include "io/model_io.h"
#include "quant/simplify.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: simplify_tool IN.onnx OUT.onnx\n");
    return 2;
  }
  qc_model *m = NULL;
  qc_simplify_stats st = {0, 0, 0, 0};
  int rc = qc_model_load(argv[1], &m);
  if (rc == QC_OK)
    rc = qc_pass_simplify(m, &st);
  if (rc == QC_OK)
    rc = qc_model_save(m, argv[2], 0);
  qc_model_free(m);
  if (rc < 0) {
    fprintf(stderr, "simplify_tool: %s\n", qc_last_error());
    return qc_exit_code(rc);
  }
  printf("{\"bn_folded\": %d, \"identities_removed\": %d, \"dropouts_removed\": %d, \"nodes_const_folded\": %d}\n",
         st.bn_folded, st.identities_removed, st.dropouts_removed, st.nodes_const_folded);
  return 0;
}
