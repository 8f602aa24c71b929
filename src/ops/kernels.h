/* Declarations of every kernel function referenced by the registry table.
 * Each op family file declares its functions in its own section below. */
#ifndef QC_KERNELS_H
#define QC_KERNELS_H

#include "op.h"

#define QC_KERNEL_DECL(name)        \
  int name##_init(qc_kernel *k);    \
  int name##_shape(qc_kernel *k);   \
  int name##_run(qc_kernel *k);

/* ---- conv/matrix/pool family (conv.c, conv_transpose.c, matmul.c, pool.c) ---- */
/* ---- end conv family ---- */

/* ---- elementwise/activation/reduce/norm family (broadcast.c, elementwise.c, unary.c, softmax.c, reduce.c, norm.c) ---- */
/* ---- end elementwise family ---- */

/* ---- shape/layout/quantize family (shape.c, layout.c, resize.c, misc.c, quantize.c) ---- */
/* ---- end shape family ---- */

#endif
