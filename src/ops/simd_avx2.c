/* The AVX2+FMA path: a 6 x 16 GEMM micro-kernel (12 ymm accumulators) and
 * the portable kernels compiled for AVX2+FMA. Only called when the CPU has
 * both (see simd.c). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "simd.h"

#define QC_SIMD_FN(name) name##_avx2
#define QC_FMA(a, b, c) fmaf(a, b, c) /* one vfmadd instruction with -mfma */
#include "simd_common.inc"

enum { MR = 6, NR = 16 };

/* Partial tiles run on a zero-padded copy of the tile. */
static void ukernel_avx2(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int mr,
                         int nr) {
  float tmp[MR * NR] __attribute__((aligned(32)));
  float *cc = c;
  int64_t ldcc = ldc;
  if (mr < MR || nr < NR) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++)
        tmp[i * NR + j] = i < mr && j < nr ? c[i * ldc + j] : 0.0f;
    cc = tmp;
    ldcc = NR;
  }
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    acc[i][0] = _mm256_loadu_ps(cc + i * ldcc);
    acc[i][1] = _mm256_loadu_ps(cc + i * ldcc + 8);
  }
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(b + k * ldb), b1 = _mm256_loadu_ps(b + k * ldb + 8);
    const float *ak = a + k * MR;
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      const __m256 ai = _mm256_broadcast_ss(ak + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    _mm256_storeu_ps(cc + i * ldcc, acc[i][0]);
    _mm256_storeu_ps(cc + i * ldcc + 8, acc[i][1]);
  }
  if (cc == tmp)
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++)
        c[i * ldc + j] = tmp[i * NR + j];
}

const qc_simd_ops qc_simd_avx2 = {"avx2", MR, NR, ukernel_avx2, dw_row_avx2, post_row_avx2};
#endif
