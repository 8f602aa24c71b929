/* Portable statistics loops and the choice of path. See stats_kernels.h. */
#include "stats_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/simd.h"
#include "stats.h"

_Static_assert(sizeof(((qc_hist_lanes *)0)->c[0]) / sizeof(uint32_t) == QC_HIST_BINS,
               "one lane holds one histogram");

static int use_avx2(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  return qc_simd_isa() != QC_ISA_DEFAULT;
#else
  return 0;
#endif
}

void qc_stats_scan(const float *x, size_t n, qc_sample_scan *out) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (use_avx2()) {
    qc_stats_scan_avx2(x, n, out);
    return;
  }
#endif
  float mn = INFINITY, mx = -INFINITY;
  uint64_t finite = 0, zeros = 0;
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    if (!isfinite(v))
      continue;
    finite++;
    if (v == 0.0f) {
      zeros++;
      v = 0.0f; /* -0 and +0 must give the same min/max bits */
    }
    if (v < mn)
      mn = v;
    if (v > mx)
      mx = v;
  }
  out->min = mn;
  out->max = mx;
  out->finite = finite;
  out->zeros = zeros;
  out->nonfinite = n - finite;
}

static void lanes_add_portable(qc_hist_lanes *lanes, const float *x, size_t n, float inv, int32_t first) {
  const int32_t neg_base = -1 - first;
  size_t i = 0;
  for (; i + QC_HIST_LANES <= n; i += QC_HIST_LANES)
    for (int l = 0; l < QC_HIST_LANES; l++) {
      float v = x[i + (size_t)l];
      int32_t t = (int32_t)(fabsf(v) * inv);
      lanes->c[l][v < 0 ? neg_base - t : t - first]++;
    }
  for (; i < n; i++) {
    float v = x[i];
    int32_t t = (int32_t)(fabsf(v) * inv);
    lanes->c[0][v < 0 ? neg_base - t : t - first]++;
  }
}

static void add_direct(uint64_t *counts, const float *x, size_t n, float inv, int32_t first) {
  const int32_t neg_base = -1 - first;
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    int32_t t = (int32_t)(fabsf(v) * inv);
    counts[v < 0 ? neg_base - t : t - first]++;
  }
}

void qc_hist_add_fast(uint64_t *counts, int len, const float *x, size_t n, float inv, int32_t first) {
  /* Short samples: the lanes would cost more to clear and fold than they
   * save. Without memory for the lanes, binning directly gives the same counts. */
  qc_hist_lanes *lanes = n < 4 * (size_t)len || n < 4096 ? NULL : malloc(sizeof *lanes);
  if (!lanes) {
    add_direct(counts, x, n, inv, first);
    return;
  }
  int avx2 = use_avx2();
  for (size_t done = 0; done < n; done += QC_HIST_CHUNK) {
    size_t m = n - done < QC_HIST_CHUNK ? n - done : QC_HIST_CHUNK;
    for (int l = 0; l < QC_HIST_LANES; l++)
      memset(lanes->c[l], 0, sizeof(uint32_t) * (size_t)len);
#if defined(__x86_64__) && defined(__GNUC__)
    if (avx2)
      qc_hist_lanes_add_avx2(lanes, x + done, m, inv, first);
    else
#endif
      lanes_add_portable(lanes, x + done, m, inv, first);
    for (int l = 0; l < QC_HIST_LANES; l++)
      for (int b = 0; b < len; b++)
        counts[b] += lanes->c[l][b];
  }
  (void)avx2;
  free(lanes);
}
