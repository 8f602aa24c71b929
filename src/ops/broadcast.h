/* Multidirectional (numpy-style) broadcasting shared by elementwise kernels.
 *
 * qc_bcast_plan() collapses the output shape into as few dims as possible
 * (adjacent dims merge when every input is either full or broadcast across
 * both), so a per-channel NCHW op becomes [N, C, H*W] and a same-shape op
 * becomes one flat row. Kernels then process "rows": the innermost collapsed
 * dim, where each input steps by 1 (full) or 0 (broadcast). */
#ifndef QC_BROADCAST_H
#define QC_BROADCAST_H

#include <stdint.h>

#include "../core/tensor.h"
#include "op.h"

#define QC_BCAST_MAX_INPUTS 4

typedef struct qc_bcast {
  int nin;
  int ndim;                      /* collapsed rank, >= 1 */
  int64_t dims[QC_MAX_DIMS];     /* collapsed output dims */
  int64_t strides[QC_BCAST_MAX_INPUTS][QC_MAX_DIMS]; /* element strides, 0 where broadcast */
  int64_t inner;                 /* dims[ndim-1]: elements per row */
  int64_t rows;                  /* product of the other collapsed dims */
  int64_t numel;                 /* output elements */
} qc_bcast;

/* The numpy broadcast of the shapes of ins[0..nin-1] (NULL entries skipped).
 * QC_EINVAL with both shapes in the message when they are incompatible. */
int qc_bcast_shape(int nin, const qc_tensor *const *ins, int *ndim, int64_t *dims);

/* Whether `t` broadcasts to (ndim, dims) without changing the target shape
 * (unidirectional broadcast, as PRelu's slope or Expand-like uses need). */
int qc_bcast_is_unidirectional(const qc_tensor *t, int ndim, const int64_t *dims);

/* Plans iteration of nin (<= QC_BCAST_MAX_INPUTS) inputs broadcast to the
 * given output shape, which each input must broadcast to. */
int qc_bcast_plan(qc_bcast *p, int nin, const qc_tensor *const *ins, int out_ndim, const int64_t *out_dims);

/* Element offsets of every input at the start of `row` (0 <= row < rows). */
void qc_bcast_row_offsets(const qc_bcast *p, int64_t row, int64_t *offs);

/* Step (0 or 1) of input i along a row. */
static inline int qc_bcast_step(const qc_bcast *p, int i) { return p->strides[i][p->ndim - 1] != 0; }

/* A row kernel for binary ops: out[j] = f(a[j*a_step], b[j*b_step]), j < n. */
typedef void (*qc_binary_row_fn)(const void *a, const void *b, void *out, int64_t n, int a_step, int b_step);

/* out = fn(a, b) with broadcasting. `out` must already be allocated with the
 * broadcast shape; it may alias `a` or `b` when that input has the full shape.
 * Runs in parallel for large tensors. */
int qc_bcast_binary(const qc_tensor *a, const qc_tensor *b, qc_tensor *out, qc_binary_row_fn fn);
/* The same, then each chunk of a float out goes through the epilogue post
 * (postop.h, on the SIMD path's post_row) while it is in cache. */
struct qc_act;
int qc_bcast_binary_post(const qc_tensor *a, const qc_tensor *b, qc_tensor *out, qc_binary_row_fn fn,
                         const struct qc_act *post);

/* Calls fn(ctx, offs, out_offset, n) for every chunk of every row, where offs
 * are per-input element offsets and steps come from qc_bcast_step(). Runs in
 * parallel when the output has more than `parallel_min` elements; fn must be
 * thread-safe and must not call qc_fail. */
typedef void (*qc_bcast_chunk_fn)(void *ctx, const qc_bcast *p, const int64_t *offs, int64_t out_offset, int64_t n);
void qc_bcast_for_each(const qc_bcast *p, qc_bcast_chunk_fn fn, void *ctx, int64_t parallel_min);

/* Family helper for shape(): inputs 0..n_inputs-1 and output 0 must be
 * present (they are not known yet in init()). */
int qc_require_io(const qc_kernel *k, int n_inputs);

#endif
