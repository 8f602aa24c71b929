/* simplify_tool IN.onnx OUT.onnx [--decompose|--equalize]: runs qc_pass_simplify
 * on IN (then qc_pass_decompose_for_int8 or qc_pass_equalize with default
 * options), saves OUT and prints the pass statistics as one JSON object (for
 * test_simplify.py). */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "io/model_io.h"
#include "ir/model.h"
#include "quant/decompose.h"
#include "quant/equalize.h"
#include "qc_test.h"
#include "quant/simplify.h"

int main(int argc, char **argv) {
  int decompose = argc == 4 && strcmp(argv[3], "--decompose") == 0;
  int equalize = argc == 4 && strcmp(argv[3], "--equalize") == 0;
  if (argc != 3 && !decompose && !equalize) {
    fprintf(stderr, "usage: simplify_tool IN.onnx OUT.onnx [--decompose|--equalize]\n");
    return 2;
  }
  qc_model *m = NULL;
  qc_simplify_stats st = {0};
  int rc = qc_model_load(argv[1], &m);
  qc_quant_opts opts = {0};
  if (rc == QC_OK)
    rc = qc_pass_simplify(m, &st);
  if (rc == QC_OK && decompose)
    rc = qc_pass_decompose_for_int8(m, &opts, &st);
  if (rc == QC_OK && equalize)
    rc = qc_pass_equalize(m, &opts, &st);
  if (rc == QC_OK)
    rc = qc_model_save(m, argv[2], 0);
  qc_model_free(m);
  if (rc < 0)
    return qc_tool_fail("simplify_tool", rc);
  printf("{\"bn_folded\": %d, \"identities_removed\": %d, \"dropouts_removed\": %d, \"nodes_const_folded\": %d, "
         "\"decomposed\": %d, \"equalized\": %d}\n",
         st.bn_folded, st.identities_removed, st.dropouts_removed, st.nodes_const_folded, st.decomposed,
         st.equalized_pairs);
  return 0;
}
