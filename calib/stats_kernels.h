/* The two loops of qc_stats_update over a sample, with an AVX2 path picked
 * at run time (the active ISA of ops/simd.h, so QC_ISA=default forces the
 * portable loops). Every path gives the same integers and min/max bits. */
#ifndef QC_STATS_KERNELS_H
#define QC_STATS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* What one pass over a sample finds. min/max are over finite values, with
 * -0 reported as +0 (+inf / -inf when there is none). */
typedef struct qc_sample_scan {
  float min, max;
  uint64_t finite, zeros, nonfinite;
} qc_sample_scan;

void qc_stats_scan(const float *x, size_t n, qc_sample_scan *out);

/* Largest |bin index| the int32 binning path takes (see qc_hist_add_fast). */
#define QC_HIST_FAST_INDEX_MAX (1 << 30)

/* counts[bin(x[i], exp) - first] += 1 for every x[i], where every x[i] is
 * finite and inside the histogram, inv = 2^-exp is a normal float
 * (-126 <= exp <= 126) and every |x[i]| * inv < QC_HIST_FAST_INDEX_MAX. Then
 * |x| * inv is exact in float (or below 1 when it underflows), so truncating
 * it gives the same bin as qc_hist_bin's double arithmetic. */
void qc_hist_add_fast(uint64_t *counts, int len, const float *x, size_t n, float inv, int32_t first);

/* Consecutive increments of one bin wait on each other (store forwarding),
 * and activations put long runs into few bins; four interleaved 32-bit
 * histograms keep four increments in flight. Samples longer than this are
 * binned in chunks so the 32-bit counts cannot overflow. */
#define QC_HIST_LANES 4
#define QC_HIST_CHUNK ((size_t)1 << 28)
typedef struct qc_hist_lanes {
  uint32_t c[QC_HIST_LANES][4096];
} qc_hist_lanes;

/* The AVX2 loops (stats_avx2.c); only called when the CPU has AVX2. They
 * bin at most QC_HIST_CHUNK values into lanes (zeroed over [0, len)). */
void qc_stats_scan_avx2(const float *x, size_t n, qc_sample_scan *out);
void qc_hist_lanes_add_avx2(qc_hist_lanes *lanes, const float *x, size_t n, float inv, int32_t first);

#endif
