/* upgrade_tool IN.onnx OUT.onnx [TARGET]: runs qc_pass_upgrade_opset (default
 * target 13) and saves OUT; prints {"nodes_rewritten": N} (for test_upgrade.py). */
#include <stdio.h>
#include <stdlib.h>

#include "core/status.h"
#include "io/model_io.h"
#include "ir/model.h"
#include "qc_test.h"
#include "quant/opset_upgrade.h"

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: upgrade_tool IN.onnx OUT.onnx [TARGET]\n");
    return 2;
  }
  int target = argc == 4 ? atoi(argv[3]) : 13, n = 0;
  qc_model *m = NULL;
  int rc = qc_model_load(argv[1], &m);
  if (rc == QC_OK)
    rc = qc_pass_upgrade_opset(m, target, &n);
  if (rc == QC_OK)
    rc = qc_model_save(m, argv[2], 0);
  qc_model_free(m);
  if (rc < 0)
    return qc_tool_fail("upgrade_tool", rc);
  printf("{\"nodes_rewritten\": %d}\n", n);
  return 0;
}
