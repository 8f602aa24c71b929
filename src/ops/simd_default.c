/* The portable path (any CPU): fused multiply-adds emulated exactly in
 * double (qc_fma_soft), plus the dispatcher that picks the active path once
 * per process (see simd.h). */
#include <stdlib.h>
#include <string.h>

#include "simd.h"

#define QC_SIMD_FN(name) name##_default
#define QC_FMA(a, b, c) qc_fma_soft(a, b, c)
#include "simd_common.inc"

enum { MR = 4, NR = 8 };

static void ukernel_default(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int mr,
                            int nr) {
  float acc[MR][NR] = {{0}};
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++)
      acc[i][j] = c[i * ldc + j];
  for (int64_t k = 0; k < kc; k++) {
    const float *bk = b + k * ldb;
    for (int i = 0; i < MR; i++) {
      const float ai = a[k * MR + i];
      for (int j = 0; j < NR; j++)
        acc[i][j] = qc_fma_soft(ai, bk[j], acc[i][j]);
    }
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++)
      c[i * ldc + j] = acc[i][j];
}

const qc_simd_ops qc_simd_default = {"default", MR, NR, ukernel_default, dw_row_default, post_row_default};

const char *qc_isa_name(qc_isa isa) {
  switch (isa) {
  case QC_ISA_AVX512: return "avx512";
  case QC_ISA_AVX2: return "avx2";
  default: return "default";
  }
}

static qc_isa best_isa(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return QC_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return QC_ISA_AVX2;
#endif
  return QC_ISA_DEFAULT;
}

static qc_isa choose_isa(void) {
  const qc_isa best = best_isa();
  const char *want = getenv("QC_ISA");
  qc_isa forced = best;
  if (want && strcmp(want, "default") == 0)
    forced = QC_ISA_DEFAULT;
  else if (want && strcmp(want, "avx2") == 0)
    forced = QC_ISA_AVX2;
  else if (want && strcmp(want, "avx512") == 0)
    forced = QC_ISA_AVX512;
  return forced < best ? forced : best;
}

static const qc_simd_ops *ops_for(qc_isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa == QC_ISA_AVX512)
    return &qc_simd_avx512;
  if (isa == QC_ISA_AVX2)
    return &qc_simd_avx2;
#endif
  (void)isa;
  return &qc_simd_default;
}

/* Chosen on first use; later calls (any thread) see the same value. */
static int chosen = -1;

qc_isa qc_simd_isa(void) {
  int v = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
  if (v < 0) {
    v = (int)choose_isa(); /* idempotent: racing first calls agree */
    __atomic_store_n(&chosen, v, __ATOMIC_RELEASE);
  }
  return (qc_isa)v;
}

const qc_simd_ops *qc_simd(void) { return ops_for(qc_simd_isa()); }
