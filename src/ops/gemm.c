/* Deterministic GEMM driver (see gemm.h): tiling, packing, threading and
 * the epilogue. The arithmetic is in the per-ISA micro-kernels (gemm_*.c).
 *
 * Work items are (problem, MC-row tile, NC-column tile); threads take whole
 * items, each owning its output tile for the full K, which is walked in KC
 * blocks in increasing order. Inside an item: for each KC block, A is packed
 * into MR-row slivers (unless pre-packed), B into NR-column slivers (unless
 * it is a plain row-major matrix whose rows can be read in place), and the
 * micro-kernel runs over NR column slivers (outer, B sliver stays in L1)
 * and MR row slivers (inner). */
#include "gemm.h"

#include <omp.h>
#include <string.h>

#include "scratch.h"
#include "simd.h"

enum {
  KC = 256,       /* reduction block: a KC x NR sliver of B stays in L1 */
  MC_TARGET = 128, /* rows per tile (rounded to MR) */
  NC_MAX = 512,   /* columns per tile */
};

/* Below this many multiply-adds a product runs on one thread: waking the
 * OpenMP workers costs more than the work. A passive-wait region costs
 * 12 us on the 2-vCPU VM under load (an empty one; docs/engine.md,
 * Threading), about what one thread needs for 2^19 multiply-adds in this
 * GEMM, so splitting pays only from about twice that. */
#define PARALLEL_MIN_MACS ((int64_t)1 << 20)

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Packs rows [m0, m0+mc) x columns [k0, k0+kc) of A into MR-row slivers:
 * dst[(i / MR) * kc * MR + k * MR + i % MR], rows past mc zero. */
static void pack_a_block(const float *a, int64_t lda, int trans, int64_t m0, int64_t mc, int64_t k0, int64_t kc,
                         int MR, float *dst) {
  for (int64_t s = 0; s < mc; s += MR) {
    float *d = dst + (s / MR) * kc * MR;
    const int rows = (int)min64(MR, mc - s);
    if (rows < MR)
      memset(d, 0, sizeof(float) * (size_t)(kc * MR));
    for (int i = 0; i < rows; i++) {
      const int64_t m = m0 + s + i;
      if (trans)
        for (int64_t k = 0; k < kc; k++)
          d[k * MR + i] = a[(k0 + k) * lda + m];
      else
        for (int64_t k = 0; k < kc; k++)
          d[k * MR + i] = a[m * lda + k0 + k];
    }
  }
}

size_t qc_gemm_packed_a_bytes(int64_t M, int64_t K) {
  const int MR = qc_simd()->mr;
  return sizeof(float) * (size_t)((M + MR - 1) / MR * MR) * (size_t)(K ? K : 1);
}

void qc_gemm_pack_a(const float *a, int64_t lda, int trans, int64_t M, int64_t K, float *dst) {
  pack_a_block(a, lda, trans, 0, M, 0, K, qc_simd()->mr, dst);
}

/* Spreads one row of nc values into the NR-column slivers of a packed
 * block (row kk of kc), zero-filling the last sliver's tail. */
static void scatter_row(const float *row, int64_t nc, int64_t kk, int64_t kc, int NR, float *dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    float *d = dst + (j0 / NR) * kc * NR + kk * NR;
    const int cols = (int)min64(NR, nc - j0);
    memcpy(d, row + j0, sizeof(float) * (size_t)cols);
    for (int j = cols; j < NR; j++)
      d[j] = 0.0f;
  }
}

/* Writes rows [k0, k0+kc) x columns [n0, n0+nc) of an im2col B row-major
 * into dst (row stride ncp >= nc, columns past nc zero), which the
 * micro-kernel then reads in place: one pass over the columns instead of
 * im2col into a row buffer and a scatter into NR-column slivers. */
static void im2col_block(const qc_gemm_desc *d, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t ncp,
                         float *dst) {
  const qc_window_geom *g = d->geom;
  const int64_t KD = g->kernel[0], KH = g->kernel[1], KW = g->kernel[2], ksize = qc_geom_kernel_size(g);
  const int64_t isize = qc_geom_in_size(g), t0 = k0 % ksize;
  /* Row k0 + kk is (channel c, tap kd, kh, kw), stepped without divisions
   * (five 64-bit divisions per row were 10 % of the ResNet demo's run). */
  int64_t c = k0 / ksize, kd = t0 / (KH * KW), kh = (t0 / KW) % KH, kw = t0 % KW;
  for (int64_t kk = 0; kk < kc; kk++) {
    float *row = dst + kk * ncp;
    qc_im2col_row(d->b + c * isize, row, g, kd, kh, kw, n0, nc);
    for (int64_t j = nc; j < ncp; j++)
      row[j] = 0.0f;
    if (++kw == KW) {
      kw = 0;
      if (++kh == KH) {
        kh = 0;
        if (++kd == KD) {
          kd = 0;
          c++;
        }
      }
    }
  }
}

/* Packs rows [k0, k0+kc) x columns [n0, n0+nc) of a matrix B into NR-column
 * slivers dst[(j / NR) * kc * NR + k * NR + j % NR]. */
static void pack_b_block(const qc_gemm_desc *d, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int NR, float *dst) {
  if (!d->b_trans) {
    for (int64_t kk = 0; kk < kc; kk++)
      scatter_row(d->b + (k0 + kk) * d->ldb + n0, nc, kk, kc, NR, dst);
  } else {
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
      float *s = dst + (j0 / NR) * kc * NR;
      const int cols = (int)min64(NR, nc - j0);
      for (int j = 0; j < NR; j++) {
        if (j < cols) {
          const float *src = d->b + (n0 + j0 + j) * d->ldb + k0;
          for (int64_t kk = 0; kk < kc; kk++)
            s[kk * NR + j] = src[kk];
        } else {
          for (int64_t kk = 0; kk < kc; kk++)
            s[kk * NR + j] = 0.0f;
        }
      }
    }
  }
}

size_t qc_gemm_packed_b_bytes(int64_t K, int64_t N) {
  const int NR = qc_simd()->nr;
  return sizeof(float) * (size_t)((N + NR - 1) / NR * NR) * (size_t)(K ? K : 1);
}

void qc_gemm_pack_b(const float *b, int64_t ldb, int trans, int64_t K, int64_t N, float *dst) {
  const qc_gemm_desc d = {.b_kind = QC_BSRC_MATRIX, .b = b, .ldb = ldb, .b_trans = trans};
  pack_b_block(&d, 0, K, 0, N, qc_simd()->nr, dst);
}

/* Writes the initial values of the tile rows [m0, m0+mc) x [n0, n0+nc). */
static void init_tile(const qc_gemm_desc *d, int64_t m0, int64_t mc, int64_t n0, int64_t nc) {
  for (int64_t m = m0; m < m0 + mc; m++) {
    float *c = d->c + m * d->ldc + n0;
    if (!d->init) {
      memset(c, 0, sizeof(float) * (size_t)nc);
    } else if (d->init_cs == 0) {
      const float v = d->init[m * d->init_rs];
      for (int64_t j = 0; j < nc; j++)
        c[j] = v;
    } else {
      const float *src = d->init + m * d->init_rs + n0 * d->init_cs;
      for (int64_t j = 0; j < nc; j++)
        c[j] = src[j * d->init_cs];
    }
  }
}

static int has_epilogue(const qc_gemm_desc *d) { return d->res || d->act.kind != QC_ACT_NONE || d->act.fq.on; }

/* One work item: the full reduction for one output tile. */
static int run_tile(const qc_simd_ops *ops, const qc_gemm_desc *d, int64_t m0, int64_t mc, int64_t n0, int64_t nc) {
  const int MR = ops->mr, NR = ops->nr;
  const int64_t K = d->K, kcmax = min64(K, KC);
  const int64_t ncp = (nc + NR - 1) / NR * NR;
  float *bufa = NULL, *bufb = NULL;
  if (!d->a_packed && K > 0)
    bufa = qc_scratch(QC_SCRATCH_PACK_A, sizeof(float) * (size_t)(((mc + MR - 1) / MR * MR) * kcmax));
  if (K > 0 && !d->b_packed) {
    bufb = qc_scratch(QC_SCRATCH_PACK_B, sizeof(float) * (size_t)(ncp * kcmax));
    if (!bufb)
      return -1;
  }
  if (K > 0 && !d->a_packed && !bufa)
    return -1;
  /* A row-major B with whole slivers is read in place; a pre-packed B is
   * read at its slivers (n0 is a multiple of NR); an im2col block is read
   * from its row-major copy in bufb (row stride ncp). */
  const int direct_b = !d->b_packed && d->b_kind == QC_BSRC_MATRIX && !d->b_trans;
  const int im2col = !d->b_packed && d->b_kind == QC_BSRC_IM2COL;
  init_tile(d, m0, mc, n0, nc);
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = min64(KC, K - k0);
    const float *ablk;
    int64_t a_sliver;
    if (d->a_packed) {
      ablk = d->a_packed + (m0 / MR) * K * MR + k0 * MR;
      a_sliver = K * MR;
    } else {
      pack_a_block(d->a, d->lda, d->a_trans, m0, mc, k0, kc, MR, bufa);
      ablk = bufa;
      a_sliver = kc * MR;
    }
    if (im2col)
      im2col_block(d, k0, kc, n0, nc, ncp, bufb);
    else if (!direct_b && !d->b_packed)
      pack_b_block(d, k0, kc, n0, nc, NR, bufb);
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
      const int nr = (int)min64(NR, nc - j0);
      const float *bs;
      int64_t ldb;
      if (d->b_packed) {
        bs = d->b_packed + ((n0 + j0) / NR) * K * NR + k0 * NR;
        ldb = NR;
      } else if (im2col) {
        bs = bufb + j0;
        ldb = ncp;
      } else if (!direct_b) {
        bs = bufb + (j0 / NR) * kc * NR;
        ldb = NR;
      } else if (nr == NR) {
        bs = d->b + k0 * d->ldb + n0 + j0;
        ldb = d->ldb;
      } else { /* partial sliver: pack so the kernel can read NR columns */
        for (int64_t kk = 0; kk < kc; kk++)
          scatter_row(d->b + (k0 + kk) * d->ldb + n0 + j0, nr, kk, kc, NR, bufb);
        bs = bufb;
        ldb = NR;
      }
      for (int64_t i0 = 0; i0 < mc; i0 += MR)
        ops->ukernel(kc, ablk + (i0 / MR) * a_sliver, bs, ldb, d->c + (m0 + i0) * d->ldc + n0 + j0, d->ldc,
                     (int)min64(MR, mc - i0), nr);
    }
  }
  if (has_epilogue(d))
    for (int64_t m = m0; m < m0 + mc; m++) {
      const int64_t off = m * d->ldc + n0;
      ops->post_row(d->c + off, d->res ? d->res + off : NULL, d->y + off, nc, &d->act);
    }
  return 0;
}

int qc_gemm_exec(const qc_gemm_desc *base, int64_t count, qc_gemm_setup_fn setup, const void *ctx) {
  const qc_simd_ops *ops = qc_simd();
  const int64_t M = base->M, N = base->N, K = base->K;
  if (count <= 0 || M <= 0 || N <= 0)
    return QC_OK;
  const int MR = ops->mr, NR = ops->nr;
  const int64_t mc_full = (MC_TARGET + MR - 1) / MR * MR;
  const int64_t mtiles = (M + mc_full - 1) / mc_full;
  const int nthreads = omp_get_max_threads();
  const int64_t macs = count * M * N * (K ? K : 1);
  const int parallel = nthreads > 1 && macs >= PARALLEL_MIN_MACS;
  /* Narrow the column tiles until every thread gets a few items. */
  int64_t nc_tile = (min64(N, NC_MAX) + NR - 1) / NR * NR;
  while (parallel && nc_tile > NR && count * mtiles * ((N + nc_tile - 1) / nc_tile) < 4 * nthreads)
    nc_tile = (nc_tile / 2 + NR - 1) / NR * NR;
  const int64_t ntiles = (N + nc_tile - 1) / nc_tile, per_problem = mtiles * ntiles;
  int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t item = 0; item < count * per_problem; item++) {
    const int64_t t = item / per_problem, mi = (item % per_problem) / ntiles, ni = item % ntiles;
    qc_gemm_desc d = *base;
    if (setup)
      setup(ctx, t, &d);
    const int64_t m0 = mi * mc_full, n0 = ni * nc_tile;
    if (run_tile(ops, &d, m0, min64(mc_full, M - m0), n0, min64(nc_tile, N - n0)) < 0) {
#pragma omp atomic write
      failed = 1;
    }
  }
  if (failed)
    return qc_fail(QC_ENOMEM, "out of memory for matrix product buffers");
  return QC_OK;
}
