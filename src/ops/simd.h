/* Instruction-set dispatch for the float kernels whose results must not
 * depend on the machine (GEMM, convolutions, the conv epilogue).
 *
 * Every path computes each output element with the same sequence of IEEE
 * operations: fused multiply-adds (fmaf) in a fixed order over the
 * reduction, vectorised only across output elements. The AVX-512 and
 * AVX2+FMA paths therefore give the same bits as the portable default,
 * which emulates the fused multiply-add exactly (qc_fma_soft).
 *
 * The path is chosen once per process from the CPU, or forced with the
 * environment variable QC_ISA=default|avx2|avx512 (a path the CPU lacks
 * falls back to the best one it has; any other value means auto). */
#ifndef QC_SIMD_H
#define QC_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "postop.h"

typedef enum qc_isa { QC_ISA_DEFAULT, QC_ISA_AVX2, QC_ISA_AVX512 } qc_isa;

/* GEMM micro-kernel: for the MR x NR tile at c (row stride ldc), of which
 * only mr x nr elements are real, c[i][j] = fmaf(a[k*MR+i], b[k*ldb+j], c[i][j])
 * for k = 0 .. kc-1 in that order. a is a packed sliver; every row of b has
 * NR readable columns. */
typedef void (*qc_ukernel_fn)(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int mr,
                              int nr);

/* Depthwise convolution of one output row: y[ow] = fmaf chain over the taps
 * (kh, kw) in row-major order starting from y[ow] (the bias), reading the
 * zero-padded input plane xp (row length row, stride sw, dilation dw). */
typedef void (*qc_dw_row_fn)(const float *xp, int64_t row, const float *w, int64_t KH, int64_t KW, int64_t sw,
                             int64_t dh, int64_t dw, float *y, int64_t OW);

typedef struct qc_simd_ops {
  const char *name;
  int mr, nr; /* micro-tile: rows (A) x columns (B, the vector direction) */
  qc_ukernel_fn ukernel;
  qc_dw_row_fn dw_row;
  /* y[i] = act(x[i] (+ r[i] when r)) for n elements; y may equal x. */
  void (*post_row)(const float *x, const float *r, float *y, int64_t n, const qc_act *act);
} qc_simd_ops;

/* The active path (first call reads QC_ISA and the CPU; then fixed). */
const qc_simd_ops *qc_simd(void);
qc_isa qc_simd_isa(void);
const char *qc_isa_name(qc_isa isa);

extern const qc_simd_ops qc_simd_default;

/* fmaf(a, b, c) from double arithmetic, for CPUs without FMA: the product
 * is exact in double; the sum is rounded to odd (TwoSum error, then the
 * odd neighbour when inexact), which has enough extra bits that rounding it
 * to float is the correctly rounded a*b+c. Same bits as hardware FMA. */
static inline float qc_fma_soft(float a, float b, float c) {
  const double p = (double)a * (double)b, dc = c;
  const double s = p + dc, bb = s - p;
  const double e = (p - (s - bb)) + (dc - bb); /* p + c - s, exactly */
  double r = s;
  if (e != 0 && isfinite(s)) {
    uint64_t u;
    memcpy(&u, &s, sizeof u);
    if (!(u & 1)) { /* move one ulp towards the exact sum */
      u += ((e > 0) == (s > 0)) ? 1 : (uint64_t)-1;
      memcpy(&r, &u, sizeof r);
    }
  }
  return (float)r;
}
#if defined(__x86_64__) && defined(__GNUC__)
extern const qc_simd_ops qc_simd_avx2;
extern const qc_simd_ops qc_simd_avx512;
#endif

#endif
