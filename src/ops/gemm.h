/* Deterministic single-precision matrix product, the core of Conv, Gemm,
 * MatMul and ConvTranspose.
 *
 * For every output element the result is a fixed function of the inputs:
 *   acc = init (bias, C or 0)
 *   for k = 0 .. K-1:  acc = fmaf(A[m][k], B[k][n], acc)
 *   y = act(acc + residual)          (each step only when requested)
 * The reduction is never split (blocking over K stores and reloads the fp32
 * accumulator, which changes nothing), threads split the output only, and the
 * SIMD paths vectorise across output columns. So the bits are the same at any
 * thread count and on any instruction set (see simd.h).
 *
 * B comes from a source: a plain (optionally transposed) matrix, or an image
 * read through im2col without materialising the column matrix (convolution;
 * k runs over (channel, kd, kh, kw) in row-major order). */
#ifndef QC_GEMM_H
#define QC_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "conv_util.h"
#include "postop.h"

typedef enum { QC_BSRC_MATRIX, QC_BSRC_IM2COL } qc_bsrc_kind;

typedef struct qc_gemm_desc {
  int64_t M, N, K;
  /* A (M x K): element (m, k) = a[m * lda + k], or a[k * lda + m] when a_trans.
   * a_packed, when set, replaces a: the layout of qc_gemm_pack_a for the
   * active path (weights packed once). */
  const float *a;
  int64_t lda;
  int a_trans;
  const float *a_packed;
  /* B (K x N). Matrix: element (k, n) = b[k * ldb + n], or b[n * ldb + k]
   * when b_trans. Im2col: b is one image (channels x geom->in), the K rows
   * are (channel, tap) and the N columns the output positions. */
  qc_bsrc_kind b_kind;
  const float *b;
  int64_t ldb;
  int b_trans;
  const qc_window_geom *geom;
  /* b_packed, when set, replaces the matrix source: the layout of
   * qc_gemm_pack_b for the active path (constant weights packed once). */
  const float *b_packed;
  /* Raw results go to c (row stride ldc). Initial value of element (m, n):
   * init[m * init_rs + n * init_cs], or 0 when init is NULL. */
  float *c;
  int64_t ldc;
  const float *init;
  int64_t init_rs, init_cs;
  /* Epilogue: y = act(c + res), same layout as c; y may equal c. With no
   * residual and no activation y is ignored. */
  float *y;
  const float *res;
  qc_act act;
} qc_gemm_desc;

/* Fills the pointers of problem t (0 <= t < count) in d, a copy of the base
 * descriptor. All problems share M, N, K and the sources' shapes. */
typedef void (*qc_gemm_setup_fn)(const void *ctx, int64_t t, qc_gemm_desc *d);

/* Runs count problems (setup may be NULL when count == 1), parallel over
 * output tiles of all of them. */
int qc_gemm_exec(const qc_gemm_desc *base, int64_t count, qc_gemm_setup_fn setup, const void *ctx);

/* Bytes of the packed form of an M x K matrix A for the active path. */
size_t qc_gemm_packed_a_bytes(int64_t M, int64_t K);
/* Packs A (element (m, k) = a[m * lda + k], or a[k * lda + m] when trans). */
void qc_gemm_pack_a(const float *a, int64_t lda, int trans, int64_t M, int64_t K, float *dst);

/* Bytes of the packed form of a K x N matrix B for the active path. */
size_t qc_gemm_packed_b_bytes(int64_t K, int64_t N);
/* Packs B (element (k, n) = b[k * ldb + n], or b[n * ldb + k] when trans)
 * into whole-K column slivers of the path's NR columns, the last one
 * zero-padded: what run_tile would pack for every tile on every run. */
void qc_gemm_pack_b(const float *b, int64_t ldb, int trans, int64_t K, int64_t N, float *dst);

#endif
