/* AVX2 loops of qc_stats_update (see stats_kernels.h), compiled with -mavx2
 * in their own object and called only when the CPU has AVX2. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <math.h>

#include "stats_kernels.h"

void qc_stats_scan_avx2(const float *x, size_t n, qc_sample_scan *out) {
  const __m256i exp_bits = _mm256_set1_epi32(0x7f800000);
  const __m256 zero = _mm256_setzero_ps(), pinf = _mm256_set1_ps(INFINITY), ninf = _mm256_set1_ps(-INFINITY);
  __m256 vmin = pinf, vmax = ninf;
  uint64_t zeros = 0, nonfinite = 0;
  size_t i = 0;
  while (i + 8 <= n) {
    /* Per-lane counters (0 - mask) stay far below 2^31 within a block. */
    __m256i zc = _mm256_setzero_si256(), nc = _mm256_setzero_si256();
    size_t end = n - i > ((size_t)1 << 26) ? i + ((size_t)1 << 26) : n;
    for (; i + 8 <= end; i += 8) {
      __m256 v = _mm256_loadu_ps(x + i);
      __m256i nonfin = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), exp_bits), exp_bits);
      __m256 nf = _mm256_castsi256_ps(nonfin);
      vmin = _mm256_min_ps(vmin, _mm256_blendv_ps(v, pinf, nf));
      vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(v, ninf, nf));
      nc = _mm256_sub_epi32(nc, nonfin);
      zc = _mm256_sub_epi32(zc, _mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_EQ_OQ)));
    }
    int32_t zl[8], nl[8];
    _mm256_storeu_si256((__m256i *)zl, zc);
    _mm256_storeu_si256((__m256i *)nl, nc);
    for (int l = 0; l < 8; l++) {
      zeros += (uint32_t)zl[l];
      nonfinite += (uint32_t)nl[l];
    }
  }
  float lmin[8], lmax[8];
  _mm256_storeu_ps(lmin, vmin);
  _mm256_storeu_ps(lmax, vmax);
  float mn = INFINITY, mx = -INFINITY;
  for (int l = 0; l < 8; l++) {
    mn = lmin[l] < mn ? lmin[l] : mn;
    mx = lmax[l] > mx ? lmax[l] : mx;
  }
  for (; i < n; i++) {
    float v = x[i];
    if (!isfinite(v)) {
      nonfinite++;
      continue;
    }
    zeros += v == 0.0f;
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
  /* min/max of equal values may keep either zero's sign; report +0. */
  if (mn == 0.0f)
    mn = 0.0f;
  if (mx == 0.0f)
    mx = 0.0f;
  out->min = mn;
  out->max = mx;
  out->zeros = zeros;
  out->nonfinite = nonfinite;
  out->finite = n - nonfinite;
}

/* compact[mask] moves the lanes whose bit is set in mask to the front. */
static int32_t compact[256][8];

__attribute__((constructor)) static void init_compact(void) {
  for (int m = 0; m < 256; m++) {
    int k = 0;
    for (int l = 0; l < 8; l++)
      if (m & (1 << l))
        compact[m][k++] = l;
    while (k < 8)
      compact[m][k++] = 0;
  }
}

enum { PENDING = 512 };

static void scatter(qc_hist_lanes *lanes, const int32_t *idx, int count) {
  int i = 0;
  for (; i + QC_HIST_LANES <= count; i += QC_HIST_LANES)
    for (int l = 0; l < QC_HIST_LANES; l++)
      lanes->c[l][idx[i + l]]++;
  for (; i < count; i++)
    lanes->c[0][idx[i]]++;
}

/* Zeros (a large share of post-ReLU activations) skip the scatter: the
 * non-zero lanes' bin offsets are packed into a buffer, and the zeros are
 * added to zero's bin in one go. */
void qc_hist_lanes_add_avx2(qc_hist_lanes *lanes, const float *x, size_t n, float inv, int32_t first) {
  const __m256 zero = _mm256_setzero_ps(), vinv = _mm256_set1_ps(inv);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i vfirst = _mm256_set1_epi32(first), neg_base = _mm256_set1_epi32(-1 - first);
  int32_t pending[PENDING + 8];
  int count = 0;
  size_t nonzero = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256i t = _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_and_ps(v, abs_mask), vinv));
    __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    __m256i idx = _mm256_blendv_epi8(_mm256_sub_epi32(t, vfirst), _mm256_sub_epi32(neg_base, t), neg);
    int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_OQ));
    __m256i perm = _mm256_loadu_si256((const __m256i *)compact[mask]);
    _mm256_storeu_si256((__m256i *)(pending + count), _mm256_permutevar8x32_epi32(idx, perm));
    count += __builtin_popcount((unsigned)mask);
    if (count >= PENDING) {
      scatter(lanes, pending, count);
      nonzero += (size_t)count;
      count = 0;
    }
  }
  scatter(lanes, pending, count);
  nonzero += (size_t)count;
  if (i > nonzero) /* zero's bin is in the histogram only when there are zeros */
    lanes->c[1][-first] += (uint32_t)(i - nonzero);
  for (; i < n; i++) {
    float v = x[i];
    int32_t t = (int32_t)(fabsf(v) * inv);
    lanes->c[2][v < 0 ? -1 - first - t : t - first]++;
  }
}
#endif
