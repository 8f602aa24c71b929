/* The op registry: one table, sorted by (op_type, since_version).
 * Dispatch picks the highest since_version <= the model's opset.
 * tests/test_registry.c checks the ordering. */
#include <string.h>

#include "kernels.h"
#include "op.h"

static const qc_op op_table[] = {
    /* BEGIN ROWS */
    {"AveragePool", 1, qc_averagepool_init, qc_averagepool_shape, qc_averagepool_run},
    {"Cast", 6, NULL, qc_cast_shape, NULL},
    {"CastLike", 15, NULL, qc_cast_like_shape, NULL},
    {"Concat", 1, NULL, qc_concat_shape, NULL},
    {"Constant", 1, qc_constant_init, qc_constant_shape, NULL},
    {"ConstantOfShape", 9, qc_constant_of_shape_init, qc_constant_of_shape_shape, NULL},
    {"Conv", 1, qc_conv_init, qc_conv_shape, qc_conv_run},
    {"ConvTranspose", 1, qc_conv_transpose_init, qc_conv_transpose_shape, qc_conv_transpose_run},
    {"DepthToSpace", 1, NULL, qc_depth_to_space_shape, NULL},
    {"DequantizeLinear", 10, NULL, qc_dequantize_linear_shape, NULL},
    {"Dropout", 1, NULL, qc_dropout_shape, NULL},
    {"DynamicQuantizeLinear", 11, NULL, qc_dynamic_quantize_linear_shape, NULL},
    {"Expand", 8, NULL, qc_expand_shape, NULL},
    {"EyeLike", 9, NULL, qc_eye_like_shape, NULL},
    {"Flatten", 1, NULL, qc_flatten_shape, NULL},
    {"Gather", 1, NULL, qc_gather_shape, NULL},
    {"GatherElements", 11, NULL, qc_gather_elements_shape, NULL},
    {"Gemm", 1, qc_gemm_init, qc_gemm_shape, qc_gemm_run},
    {"GlobalAveragePool", 1, NULL, qc_globalaveragepool_shape, qc_globalaveragepool_run},
    {"GlobalMaxPool", 1, NULL, qc_globalmaxpool_shape, qc_globalmaxpool_run},
    {"Identity", 1, NULL, qc_identity_shape, NULL},
    {"MatMul", 1, qc_matmul_init, qc_matmul_shape, qc_matmul_run},
    {"MaxPool", 1, qc_maxpool_init, qc_maxpool_shape, qc_maxpool_run},
    {"NonZero", 9, NULL, qc_nonzero_shape, NULL},
    {"Pad", 2, NULL, qc_pad_shape, NULL},
    {"QuantizeLinear", 10, NULL, qc_quantize_linear_shape, NULL},
    {"Range", 11, NULL, qc_range_shape, NULL},
    {"Reshape", 1, NULL, qc_reshape_shape, NULL},
    {"Shape", 1, NULL, qc_shape_shape, NULL},
    {"Size", 1, NULL, qc_size_shape, NULL},
    {"Slice", 1, NULL, qc_slice_shape, NULL},
    {"SpaceToDepth", 1, NULL, qc_space_to_depth_shape, NULL},
    {"Split", 2, NULL, qc_split_shape, NULL},
    {"Squeeze", 1, NULL, qc_squeeze_shape, NULL},
    {"Tile", 6, NULL, qc_tile_shape, NULL},
    {"Transpose", 1, NULL, qc_transpose_shape, NULL},
    {"Unsqueeze", 1, NULL, qc_unsqueeze_shape, NULL},
    /* END ROWS */
};

static const size_t op_table_len = sizeof op_table / sizeof op_table[0];

size_t qc_op_count(void) { return op_table_len; }
const qc_op *qc_op_at(size_t i) { return i < op_table_len ? &op_table[i] : NULL; }

const qc_op *qc_op_find(const char *op_type, int opset) {
  /* The table is small and lookups happen once per node at plan time. */
  const qc_op *best = NULL;
  for (size_t i = 0; i < op_table_len; i++)
    if (strcmp(op_table[i].op_type, op_type) == 0 && op_table[i].since_version <= opset &&
        (!best || op_table[i].since_version > best->since_version))
      best = &op_table[i];
  return best;
}

int qc_op_known(const char *op_type) {
  for (size_t i = 0; i < op_table_len; i++)
    if (strcmp(op_table[i].op_type, op_type) == 0)
      return 1;
  return 0;
}
