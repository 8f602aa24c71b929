/* The op registry: one table, sorted by (op_type, since_version).
 * Dispatch picks the highest since_version <= the model's opset.
 * tests/ops/test_registry.c checks the ordering and the lookup. */
#include <string.h>

#include "kernels.h"
#include "op.h"

static const qc_op op_table[] = {
    /* BEGIN ROWS */
    {"Abs", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Acos", 7, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Acosh", 9, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Add", 1, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"And", 7, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"ArgMax", 1, qc_argreduce_init, qc_argreduce_shape, qc_argreduce_run},
    {"ArgMin", 1, qc_argreduce_init, qc_argreduce_shape, qc_argreduce_run},
    {"Asin", 7, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Asinh", 9, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Atan", 7, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Atanh", 9, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"AveragePool", 1, qc_averagepool_init, qc_averagepool_shape, qc_averagepool_run},
    {"BatchNormalization", 1, qc_batchnorm_init, qc_batchnorm_shape, qc_batchnorm_run},
    {"BitShift", 11, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"Cast", 6, NULL, qc_cast_shape, NULL},
    {"CastLike", 15, NULL, qc_cast_like_shape, NULL},
    {"Ceil", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Celu", 12, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Clip", 1, qc_clip_init, qc_clip_shape, qc_clip_run},
    {"Concat", 1, NULL, qc_concat_shape, NULL},
    {"Constant", 1, qc_constant_init, qc_constant_shape, NULL},
    {"ConstantOfShape", 9, qc_constant_of_shape_init, qc_constant_of_shape_shape, NULL},
    {"Conv", 1, qc_conv_init, qc_conv_shape, qc_conv_run},
    {"ConvTranspose", 1, qc_conv_transpose_init, qc_conv_transpose_shape, qc_conv_transpose_run},
    {"Cos", 7, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Cosh", 9, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"DepthToSpace", 1, NULL, qc_depth_to_space_shape, NULL},
    {"DequantizeLinear", 10, NULL, qc_dequantize_linear_shape, NULL},
    {"Div", 1, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"Dropout", 1, NULL, qc_dropout_shape, NULL},
    {"DynamicQuantizeLinear", 11, NULL, qc_dynamic_quantize_linear_shape, NULL},
    {"Elu", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Equal", 7, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"Erf", 9, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Exp", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Expand", 8, NULL, qc_expand_shape, NULL},
    {"EyeLike", 9, NULL, qc_eye_like_shape, NULL},
    {"Flatten", 1, NULL, qc_flatten_shape, NULL},
    {"Floor", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Gather", 1, NULL, qc_gather_shape, NULL},
    {"GatherElements", 11, NULL, qc_gather_elements_shape, NULL},
    {"Gelu", 20, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Gemm", 1, qc_gemm_init, qc_gemm_shape, qc_gemm_run},
    {"GlobalAveragePool", 1, NULL, qc_globalaveragepool_shape, qc_globalaveragepool_run},
    {"GlobalMaxPool", 1, NULL, qc_globalmaxpool_shape, qc_globalmaxpool_run},
    {"Greater", 7, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"GreaterOrEqual", 12, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"HardSigmoid", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"HardSwish", 14, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Hardmax", 1, qc_softmax_init, qc_softmax_shape, qc_softmax_run},
    {"Identity", 1, NULL, qc_identity_shape, NULL},
    {"InstanceNormalization", 1, qc_instancenorm_init, qc_instancenorm_shape, qc_instancenorm_run},
    {"IsInf", 10, qc_classify_init, qc_classify_shape, qc_classify_run},
    {"IsNaN", 9, qc_classify_init, qc_classify_shape, qc_classify_run},
    {"LayerNormalization", 17, qc_layernorm_init, qc_layernorm_shape, qc_layernorm_run},
    {"LeakyRelu", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Less", 7, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"LessOrEqual", 12, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"Log", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"LogSoftmax", 1, qc_softmax_init, qc_softmax_shape, qc_softmax_run},
    {"MatMul", 1, NULL, qc_matmul_shape, qc_matmul_run},
    {"Max", 1, qc_variadic_init, qc_variadic_shape, qc_variadic_run},
    {"MaxPool", 1, qc_maxpool_init, qc_maxpool_shape, qc_maxpool_run},
    {"Mean", 1, qc_variadic_init, qc_variadic_shape, qc_variadic_run},
    {"Min", 1, qc_variadic_init, qc_variadic_shape, qc_variadic_run},
    {"Mish", 18, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Mod", 10, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"Mul", 1, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"Neg", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"NonZero", 9, NULL, qc_nonzero_shape, NULL},
    {"Not", 1, qc_not_init, qc_not_shape, NULL},
    {"Or", 7, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"PRelu", 1, qc_prelu_init, qc_prelu_shape, qc_prelu_run},
    {"Pad", 2, NULL, qc_pad_shape, NULL},
    {"Pow", 1, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"QuantizeLinear", 10, NULL, qc_quantize_linear_shape, NULL},
    {"Range", 11, NULL, qc_range_shape, NULL},
    {"Reciprocal", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"ReduceL1", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceL2", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceLogSum", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceLogSumExp", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceMax", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceMean", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceMin", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceProd", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceSum", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"ReduceSumSquare", 1, qc_reduce_init, qc_reduce_shape, qc_reduce_run},
    {"Relu", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Reshape", 1, NULL, qc_reshape_shape, NULL},
    {"Resize", 10, NULL, qc_resize_shape, NULL},
    {"Round", 11, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Selu", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Shape", 1, NULL, qc_shape_shape, NULL},
    {"Shrink", 9, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Sigmoid", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Sign", 9, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Sin", 7, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Sinh", 9, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Size", 1, NULL, qc_size_shape, NULL},
    {"Slice", 1, NULL, qc_slice_shape, NULL},
    {"Softmax", 1, qc_softmax_init, qc_softmax_shape, qc_softmax_run},
    {"Softplus", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Softsign", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"SpaceToDepth", 1, NULL, qc_space_to_depth_shape, NULL},
    {"Split", 2, NULL, qc_split_shape, NULL},
    {"Sqrt", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Squeeze", 1, NULL, qc_squeeze_shape, NULL},
    {"Sub", 1, qc_binary_init, qc_binary_shape, qc_binary_run},
    {"Sum", 1, qc_variadic_init, qc_variadic_shape, qc_variadic_run},
    {"Tan", 7, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Tanh", 1, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"ThresholdedRelu", 10, qc_unary_init, qc_unary_shape, qc_unary_run},
    {"Tile", 6, NULL, qc_tile_shape, NULL},
    {"Transpose", 1, NULL, qc_transpose_shape, NULL},
    {"Unsqueeze", 1, NULL, qc_unsqueeze_shape, NULL},
    {"Upsample", 7, NULL, qc_upsample_shape, NULL},
    {"Where", 9, qc_where_init, qc_where_shape, qc_where_run},
    {"Xor", 7, qc_binary_init, qc_binary_shape, qc_binary_run},
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

int qc_kernel_prepack(qc_kernel *k) {
  if (strcmp(k->op_type, "Conv") == 0)
    return qc_conv_prepack(k);
  if (strcmp(k->op_type, "Gemm") == 0)
    return qc_gemm_prepack(k);
  return QC_OK;
}
