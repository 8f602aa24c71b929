/* Declarations of every kernel function referenced by the registry table.
 * Each op family file declares its functions in its own section below. */
#ifndef QC_KERNELS_H
#define QC_KERNELS_H

#include "op.h"
#include "postop.h"

#define QC_KERNEL_DECL(name)        \
  int name##_init(qc_kernel *k);    \
  int name##_shape(qc_kernel *k);   \
  int name##_run(qc_kernel *k);

/* ---- conv/matrix/pool family (conv.c, conv_transpose.c, matmul.c, pool.c) ---- */
QC_KERNEL_DECL(qc_conv)
QC_KERNEL_DECL(qc_conv_transpose)
QC_KERNEL_DECL(qc_gemm)
QC_KERNEL_DECL(qc_matmul)
QC_KERNEL_DECL(qc_maxpool)
QC_KERNEL_DECL(qc_averagepool)
QC_KERNEL_DECL(qc_globalaveragepool)
QC_KERNEL_DECL(qc_globalmaxpool)
/* Conv with a fused epilogue, computed in place in output 0:
 * Y = act(conv(X, W, B) + res). res (may be NULL) has Y's shape. */
typedef struct qc_conv_post {
  const float *res;
  qc_act act;
} qc_conv_post;
int qc_conv_run_post(qc_kernel *k, const qc_conv_post *post);
/* MatMul with the epilogue post applied to each output tile. */
int qc_matmul_run_post(qc_kernel *k, const qc_act *post);
/* Once at engine creation, after init(): k->inputs[i] is input i when it is
 * a constant of the model (an initializer or a folded DequantizeLinear),
 * NULL otherwise. Conv and Gemm pack a constant weight in the GEMM's layout
 * into k->priv (which they reallocate); other ops do nothing. Runs use the
 * packed copy only when the weight input is the very data it was made from. */
int qc_kernel_prepack(qc_kernel *k);
int qc_conv_prepack(qc_kernel *k);
int qc_gemm_prepack(qc_kernel *k);
/* ---- end conv family ---- */

/* ---- elementwise/activation/reduce/norm family (broadcast.c, elementwise.c, unary.c, softmax.c, reduce.c, norm.c) ---- */
QC_KERNEL_DECL(qc_binary)     /* Add Sub Mul Div Pow Mod, comparisons, And Or Xor */
/* A float Add/Sub/Mul/Div whose output then goes through the epilogue post
 * (postop.h) chunk by chunk, as it is written (the engine's fusion). */
int qc_binary_run_post(qc_kernel *k, const qc_act *post);
/* Output 0 = post(input 0) element by element on the SIMD path's post_row,
 * float, the input's shape (the engine's fusion: an activation and/or a
 * QuantizeLinear -> DequantizeLinear pair in one pass, the bits of the
 * standalone kernels without the intermediate tensors). Input 0 must be float. */
int qc_postop_run(qc_kernel *k, const qc_act *post);
QC_KERNEL_DECL(qc_variadic)   /* Sum Mean Min Max */
QC_KERNEL_DECL(qc_not)
QC_KERNEL_DECL(qc_where)
QC_KERNEL_DECL(qc_unary)      /* table-driven math and activations (unary.c) */
QC_KERNEL_DECL(qc_clip)
QC_KERNEL_DECL(qc_prelu)
QC_KERNEL_DECL(qc_classify)   /* IsNaN IsInf */
QC_KERNEL_DECL(qc_softmax)    /* Softmax LogSoftmax Hardmax */
QC_KERNEL_DECL(qc_reduce)     /* Reduce* */
QC_KERNEL_DECL(qc_argreduce)  /* ArgMax ArgMin */
QC_KERNEL_DECL(qc_batchnorm)
QC_KERNEL_DECL(qc_instancenorm)
QC_KERNEL_DECL(qc_layernorm)
/* ---- end elementwise family ---- */

/* ---- shape/layout/quantize family (shape.c, layout.c, resize.c, misc.c, quantize.c) ---- */
/* Shared helpers of this family (defined in layout.c / misc.c). */
/* Copies an out_dims-shaped block: dst element (i0..in-1) = src[base + sum i_d * src_strides[d]]
 * (strides in elements, may be 0 or negative). dst is contiguous. */
void qc_sl_strided_copy(void *dst, const void *src, size_t elem_size, int ndim, const int64_t *out_dims,
                        const int64_t *src_strides, int64_t src_base);
/* Normalizes axis into [0, rank) (or [0, rank] when inclusive_end), QC_EINVAL if out of range. */
int qc_sl_axis(int64_t axis, int rank, int inclusive_end, int *out);
/* Reads the integer list held by a 1-D (or scalar) int32/int64 tensor into vals[max]. */
int qc_sl_read_ints(const qc_tensor *t, const char *what, int64_t *vals, int max, int *n);
/* Converts every element of src into dst, already allocated with src's numel (Cast semantics). */
int qc_sl_convert(const qc_tensor *src, qc_tensor *dst);
/* Stores v into *dst as dtype dt with Cast semantics. */
int qc_sl_store_f64(qc_dtype dt, double v, void *dst);
QC_KERNEL_DECL(qc_shape)
QC_KERNEL_DECL(qc_size)
QC_KERNEL_DECL(qc_reshape)
QC_KERNEL_DECL(qc_flatten)
QC_KERNEL_DECL(qc_squeeze)
QC_KERNEL_DECL(qc_unsqueeze)
QC_KERNEL_DECL(qc_expand)
QC_KERNEL_DECL(qc_transpose)
QC_KERNEL_DECL(qc_concat)
QC_KERNEL_DECL(qc_split)
QC_KERNEL_DECL(qc_slice)
QC_KERNEL_DECL(qc_pad)
QC_KERNEL_DECL(qc_tile)
QC_KERNEL_DECL(qc_gather)
QC_KERNEL_DECL(qc_gather_elements)
QC_KERNEL_DECL(qc_depth_to_space)
QC_KERNEL_DECL(qc_space_to_depth)
QC_KERNEL_DECL(qc_resize)
QC_KERNEL_DECL(qc_upsample)
QC_KERNEL_DECL(qc_cast)
QC_KERNEL_DECL(qc_cast_like)
QC_KERNEL_DECL(qc_constant)
QC_KERNEL_DECL(qc_constant_of_shape)
QC_KERNEL_DECL(qc_identity)
QC_KERNEL_DECL(qc_dropout)
QC_KERNEL_DECL(qc_range)
QC_KERNEL_DECL(qc_nonzero)
QC_KERNEL_DECL(qc_eye_like)
QC_KERNEL_DECL(qc_quantize_linear)
QC_KERNEL_DECL(qc_dequantize_linear)
QC_KERNEL_DECL(qc_dynamic_quantize_linear)
/* ---- end shape family ---- */

#endif
