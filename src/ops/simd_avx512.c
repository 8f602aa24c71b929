/* The AVX-512 path: an 8 x 32 GEMM micro-kernel (16 zmm accumulators, one
 * vfmadd231ps per element and k) and the portable kernels compiled for
 * AVX-512. Only called when the CPU has AVX-512 F/BW/VL/DQ (see simd.c). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "simd.h"

#define QC_SIMD_FN(name) name##_avx512
#define QC_FMA(a, b, c) fmaf(a, b, c) /* one vfmadd instruction with -mfma */
#include "simd_common.inc"

enum { MR = 8, NR = 32 };

/* Accumulator rows i < mr are loaded and stored under the column masks;
 * rows past mr compute on A's zero padding and are dropped. */
static void ukernel_avx512(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int mr,
                           int nr) {
  const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
  if (mr == 1) { /* one real row (a batch-1 Gemm): skip the rows of A's zero padding */
    __m512 c0 = _mm512_maskz_loadu_ps(m0, c), c1 = _mm512_maskz_loadu_ps(m1, c + 16);
    for (int64_t k = 0; k < kc; k++) {
      const __m512 ak = _mm512_set1_ps(a[k * MR]);
      c0 = _mm512_fmadd_ps(ak, _mm512_loadu_ps(b + k * ldb), c0);
      c1 = _mm512_fmadd_ps(ak, _mm512_loadu_ps(b + k * ldb + 16), c1);
    }
    _mm512_mask_storeu_ps(c, m0, c0);
    _mm512_mask_storeu_ps(c + 16, m1, c1);
    return;
  }
  __m512 acc[MR][2];
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) {
    acc[i][0] = i < mr ? _mm512_maskz_loadu_ps(m0, c + i * ldc) : _mm512_setzero_ps();
    acc[i][1] = i < mr ? _mm512_maskz_loadu_ps(m1, c + i * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(b + k * ldb), b1 = _mm512_loadu_ps(b + k * ldb + 16);
    const float *ak = a + k * MR;
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 ai = _mm512_set1_ps(ak[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
    if (i < mr) {
      _mm512_mask_storeu_ps(c + i * ldc, m0, acc[i][0]);
      _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc[i][1]);
    }
}

const qc_simd_ops qc_simd_avx512 = {"avx512", MR, NR, ukernel_avx512, dw_row_avx512, post_row_avx512};
#endif
