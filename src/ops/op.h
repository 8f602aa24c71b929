/* The op-kernel contract.
 *
 * Every ONNX op is a row in the sorted registry table (src/ops/registry.c):
 *   { op_type, since_version, init, shape, run }
 * Dispatch picks the row with the highest since_version <= the model's
 * default-domain opset.
 *
 * Lifecycle per node:
 *   init(k)   once, before any image is processed: parse and validate
 *             attributes, store them in k->priv (one malloc block, freed
 *             by the engine with free()). May be NULL.
 *   shape(k)  every run: inputs are computed; allocate every output with
 *             qc_out_alloc (contents unspecified: the kernel writes every
 *             element) or qc_out_alloc_zeroed (the kernel accumulates into
 *             the output or leaves parts of it). Shape may depend on input
 *             *values*, e.g. Reshape. May also do the whole computation for
 *             cheap ops.
 *   run(k)    every run after shape(): fill the outputs. May be NULL when
 *             shape() already did the work.
 *
 * All three return QC_OK or a negative QC_E* code after qc_fail(); the
 * engine prefixes the node name/op type, so messages need not repeat them.
 * Kernels must not call qc_fail inside an OpenMP parallel region. */
#ifndef QC_OP_H
#define QC_OP_H

#include <stddef.h>
#include <stdint.h>

#include "../core/status.h"
#include "../core/tensor.h"
#include "../ir/attr.h" /* kernels read k->attrs with the qc_attr_* accessors */

struct Onnx__TensorProto;
struct qc_buffer_pool;

typedef struct qc_kernel qc_kernel;

typedef struct qc_op {
  const char *op_type;
  int since_version;
  int (*init)(qc_kernel *k);
  int (*shape)(qc_kernel *k);
  int (*run)(qc_kernel *k);
} qc_op;

struct qc_kernel {
  const qc_op *op;
  const char *op_type;
  const char *node_name; /* never NULL; "" if the node is unnamed */
  int opset;             /* the model's default-domain opset */
  qc_attrs attrs;        /* the node's attributes (qc_attr_*, ir/attr.h) */
  int ninputs;
  qc_tensor **inputs; /* inputs[i] == NULL for an omitted optional input */
  int noutputs;
  qc_tensor **outputs; /* outputs[i] == NULL for an unused optional output; otherwise an empty tensor to fill */
  void *priv;
  /* Where qc_out_alloc takes buffers: the engine's per-run pool, or NULL for
   * plain malloc'd tensors that own their data (graph outputs, eval_node). */
  struct qc_buffer_pool *pool;
};

/* Input i if present (i < ninputs and not omitted), else NULL. */
static inline qc_tensor *qc_in(const qc_kernel *k, int i) {
  return (i < k->ninputs) ? k->inputs[i] : NULL;
}
static inline qc_tensor *qc_out(const qc_kernel *k, int i) {
  return (i < k->noutputs) ? k->outputs[i] : NULL;
}

/* Allocates output tensor t for dtype and shape, uninitialised: for kernels
 * that write every element. */
int qc_out_alloc(const qc_kernel *k, qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims);
/* Same, zero-filled: for kernels that accumulate into their output or leave
 * parts of it unwritten. */
int qc_out_alloc_zeroed(const qc_kernel *k, qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims);

/* Registry lookup: the best row for (op_type, opset) or NULL. */
const qc_op *qc_op_find(const char *op_type, int opset);
/* Whether op_type appears in the table at all (for error messages). */
int qc_op_known(const char *op_type);
/* Iteration over the table, for docs and `qconvert ops`. */
size_t qc_op_count(void);
const qc_op *qc_op_at(size_t i);

#endif
