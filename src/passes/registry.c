/* The one table of graph passes, in run order within each stage. A new pass
 * is one file with its run function, its declaration here and one row
 * (docs/passes.md describes every row). */
#include <string.h>

#include "pass.h"

int qc_pass_remove_identity(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);
int qc_pass_fold_constants(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);
int qc_pass_fold_batchnorm(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);
int qc_pass_fold_affine(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);
int qc_pass_decompose_for_int8(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);
int qc_pass_equalize(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);
int qc_pass_raise_opset(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);
int qc_pass_insert_qdq(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts);

static const qc_pass k_passes[] = {
    /* prepare: the FP32 model before calibration */
    {"remove_identity", "prepare", qc_pass_remove_identity},
    /* before BN folding: exporters such as paddle2onnx feed BatchNorm and
     * Conv parameters from Constant nodes, which become initializers here */
    {"fold_constants", "prepare", qc_pass_fold_constants},
    {"fold_batchnorm", "prepare", qc_pass_fold_batchnorm},
    {"decompose_for_int8", "prepare", qc_pass_decompose_for_int8},
    /* after decompose, whose Div-by-constant and HardSwish become Muls */
    {"fold_affine", "prepare", qc_pass_fold_affine},
    {"equalize", "prepare", qc_pass_equalize},
    /* quantize: each calibrated copy */
    {"raise_opset", "quantize", qc_pass_raise_opset},
    {"insert_qdq", "quantize", qc_pass_insert_qdq},
};

const qc_pass *qc_passes_table(int *n) {
  *n = (int)(sizeof k_passes / sizeof k_passes[0]);
  return k_passes;
}

const qc_pass *qc_passes_find(const char *name) {
  for (size_t i = 0; i < sizeof k_passes / sizeof k_passes[0]; i++)
    if (strcmp(k_passes[i].name, name) == 0)
      return &k_passes[i];
  return NULL;
}
