/* Gemm and MatMul (float32) on cblas_sgemm. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "kernels.h"

static int check_float(const qc_tensor *t, const char *what) {
  if (t->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "%s has type %s; only float is supported", what, qc_dtype_name(t->dtype));
  return QC_OK;
}

static int check_blas_dims(int64_t m, int64_t n, int64_t kk) {
  if (m > INT_MAX || n > INT_MAX || kk > INT_MAX)
    return qc_fail(QC_EUNSUPPORTED, "matrix product %lld x %lld x %lld is too large for BLAS", (long long)m,
                   (long long)n, (long long)kk);
  return QC_OK;
}

/* ---- Gemm: Y = alpha * A' * B' + beta * C ---- */

typedef struct gemm_priv {
  float alpha, beta;
  int64_t trans_a, trans_b;
} gemm_priv;

int qc_gemm_init(qc_kernel *k) {
  gemm_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  QC_TRY(qc_attr_float(k, "alpha", 1.0f, &p->alpha));
  QC_TRY(qc_attr_float(k, "beta", 1.0f, &p->beta));
  QC_TRY(qc_attr_int(k, "transA", 0, &p->trans_a));
  QC_TRY(qc_attr_int(k, "transB", 0, &p->trans_b));
  return QC_OK;
}

int qc_gemm_shape(qc_kernel *k) {
  const gemm_priv *p = k->priv;
  const qc_tensor *a = qc_in(k, 0), *b = qc_in(k, 1), *c = qc_in(k, 2);
  qc_tensor *y = qc_out(k, 0);
  if (!a || !b || !y)
    return qc_fail(QC_EINVAL, "Gemm needs inputs A, B and output Y");
  if (!c && k->opset < 11)
    return qc_fail(QC_EINVAL, "input C is required before opset 11");
  QC_TRY(check_float(a, "input A"));
  QC_TRY(check_float(b, "input B"));
  if (a->ndim != 2 || b->ndim != 2)
    return qc_fail(QC_EINVAL, "A and B must be matrices, got ranks %d and %d", a->ndim, b->ndim);
  const int64_t M = p->trans_a ? a->dims[1] : a->dims[0], K = p->trans_a ? a->dims[0] : a->dims[1];
  const int64_t KB = p->trans_b ? b->dims[1] : b->dims[0], N = p->trans_b ? b->dims[0] : b->dims[1];
  if (K != KB)
    return qc_fail(QC_EINVAL, "inner dimensions differ: A' is %lldx%lld, B' is %lldx%lld", (long long)M,
                   (long long)K, (long long)KB, (long long)N);
  if (c) {
    QC_TRY(check_float(c, "input C"));
    const int64_t cm = c->ndim == 2 ? c->dims[0] : 1, cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
    if (c->ndim > 2 || (cm != 1 && cm != M) || (cn != 1 && cn != N))
      return qc_fail(QC_EINVAL, "C of rank %d (%lldx%lld) does not broadcast to %lldx%lld", c->ndim, (long long)cm,
                     (long long)cn, (long long)M, (long long)N);
  }
  QC_TRY(check_blas_dims(M, N, K));
  const int64_t dims[2] = {M, N};
  return qc_tensor_alloc(y, QC_DT_FLOAT, 2, dims);
}

int qc_gemm_run(qc_kernel *k) {
  const gemm_priv *p = k->priv;
  const qc_tensor *a = qc_in(k, 0), *b = qc_in(k, 1), *c = qc_in(k, 2);
  qc_tensor *yt = qc_out(k, 0);
  const int64_t M = yt->dims[0], N = yt->dims[1], K = p->trans_a ? a->dims[0] : a->dims[1];
  float *y = qc_f32(yt);
  float blas_beta = 0.0f;
  if (c && p->beta != 0.0f) {
    const int64_t cm = c->ndim == 2 ? c->dims[0] : 1, cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
    const float *cv = qc_f32(c);
    const float beta = p->beta;
    const int side_threads = qc_blas_side_threads(); /* runs next to sgemm */
#pragma omp parallel for schedule(static) num_threads(side_threads) if (side_threads > 1)
    for (int64_t i = 0; i < M; i++) {
      const float *crow = cv + (cm == 1 ? 0 : i) * cn;
      float *yrow = y + i * N;
      if (cn == 1)
        for (int64_t j = 0; j < N; j++)
          yrow[j] = beta * crow[0];
      else
        for (int64_t j = 0; j < N; j++)
          yrow[j] = beta * crow[j];
    }
    blas_beta = 1.0f;
  } else {
    memset(y, 0, sizeof(float) * (size_t)(M * N));
  }
  if (M == 0 || N == 0 || K == 0)
    return QC_OK;
  cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans, p->trans_b ? CblasTrans : CblasNoTrans, (int)M,
              (int)N, (int)K, p->alpha, qc_f32(a), (int)a->dims[1], qc_f32(b), (int)b->dims[1], blas_beta, y,
              (int)N);
  return QC_OK;
}

/* ---- MatMul: numpy matmul semantics ---- */

typedef struct matmul_plan {
  int64_t M, N, K;
  int nbatch;                           /* broadcast batch rank */
  int64_t batch[QC_MAX_DIMS];           /* output batch dims */
  int64_t a_stride[QC_MAX_DIMS], b_stride[QC_MAX_DIMS]; /* 0 where broadcast */
  int64_t batch_count, a_batches, b_batches;
  int out_ndim;
  int64_t out_dims[QC_MAX_DIMS];
} matmul_plan;

/* Validates A and B and works out the broadcast batch layout. */
static int matmul_plan_make(const qc_kernel *k, matmul_plan *p) {
  const qc_tensor *a = qc_in(k, 0), *b = qc_in(k, 1);
  if (!a || !b || !qc_out(k, 0))
    return qc_fail(QC_EINVAL, "MatMul needs inputs A, B and output Y");
  QC_TRY(check_float(a, "input A"));
  QC_TRY(check_float(b, "input B"));
  if (a->ndim < 1 || b->ndim < 1)
    return qc_fail(QC_EINVAL, "MatMul inputs must have rank >= 1, got ranks %d and %d", a->ndim, b->ndim);
  /* 1-D operands are promoted to a row (A) or column (B) matrix. */
  const int64_t M = a->ndim == 1 ? 1 : a->dims[a->ndim - 2], K = a->dims[a->ndim - 1];
  const int64_t KB = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2], N = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
  if (K != KB) {
    char sa[96], sb[96];
    return qc_fail(QC_EINVAL, "inner dimensions differ: A is %s, B is %s", qc_shape_str(a->ndim, a->dims, sa, sizeof sa),
                   qc_shape_str(b->ndim, b->dims, sb, sizeof sb));
  }
  const int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
  const int nbatch = na > nb ? na : nb;
  int64_t ad[QC_MAX_DIMS], bd[QC_MAX_DIMS];
  for (int i = 0; i < nbatch; i++) {
    ad[i] = i < nbatch - na ? 1 : a->dims[i - (nbatch - na)];
    bd[i] = i < nbatch - nb ? 1 : b->dims[i - (nbatch - nb)];
    if (ad[i] != bd[i] && ad[i] != 1 && bd[i] != 1) {
      char sa[96], sb[96];
      return qc_fail(QC_EINVAL, "batch dimensions do not broadcast: A is %s, B is %s",
                     qc_shape_str(a->ndim, a->dims, sa, sizeof sa), qc_shape_str(b->ndim, b->dims, sb, sizeof sb));
    }
    p->batch[i] = ad[i] == 1 ? bd[i] : ad[i];
  }
  int64_t as = M * K, bs = K * N;
  p->a_batches = p->b_batches = p->batch_count = 1;
  for (int i = nbatch - 1; i >= 0; i--) {
    p->a_stride[i] = ad[i] == 1 ? 0 : as;
    p->b_stride[i] = bd[i] == 1 ? 0 : bs;
    as *= ad[i];
    bs *= bd[i];
    p->a_batches *= ad[i];
    p->b_batches *= bd[i];
    p->batch_count *= p->batch[i];
  }
  p->M = M;
  p->N = N;
  p->K = K;
  p->nbatch = nbatch;
  int nd = 0;
  for (int i = 0; i < nbatch; i++)
    p->out_dims[nd++] = p->batch[i];
  if (a->ndim > 1)
    p->out_dims[nd++] = M;
  if (b->ndim > 1)
    p->out_dims[nd++] = N;
  p->out_ndim = nd;
  return check_blas_dims(M, N, K);
}

int qc_matmul_shape(qc_kernel *k) {
  matmul_plan plan;
  QC_TRY(matmul_plan_make(k, &plan));
  return qc_tensor_alloc(qc_out(k, 0), QC_DT_FLOAT, plan.out_ndim, plan.out_dims);
}

int qc_matmul_run(qc_kernel *k) {
  matmul_plan plan;
  QC_TRY(matmul_plan_make(k, &plan));
  const matmul_plan *p = &plan;
  const float *a = qc_f32(qc_in(k, 0)), *b = qc_f32(qc_in(k, 1));
  float *y = qc_f32(qc_out(k, 0));
  const int64_t M = p->M, N = p->N, K = p->K;
  if (M == 0 || N == 0 || p->batch_count == 0)
    return QC_OK;
  if (K == 0) {
    memset(y, 0, sizeof(float) * (size_t)(p->batch_count * M * N));
    return QC_OK;
  }
  /* A batched against one B: stack A's batches into a single tall product. */
  if (p->b_batches == 1 && p->a_batches == p->batch_count && p->batch_count * M <= INT_MAX) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(p->batch_count * M), (int)N, (int)K, 1.0f, a,
                (int)K, b, (int)N, 0.0f, y, (int)N);
    return QC_OK;
  }
  for (int64_t t = 0; t < p->batch_count; t++) {
    int64_t rem = t, aoff = 0, boff = 0;
    for (int i = p->nbatch - 1; i >= 0; i--) {
      const int64_t idx = rem % p->batch[i];
      rem /= p->batch[i];
      aoff += idx * p->a_stride[i];
      boff += idx * p->b_stride[i];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, a + aoff, (int)K, b + boff,
                (int)N, 0.0f, y + t * M * N, (int)N);
  }
  return QC_OK;
}
