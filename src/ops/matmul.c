/* Gemm and MatMul (float32) on the deterministic GEMM (gemm.h). */
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"

static int check_float(const qc_tensor *t, const char *what) {
  if (t->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "%s has type %s; only float is supported", what, qc_dtype_name(t->dtype));
  return QC_OK;
}

/* ---- Gemm: Y = alpha * A' * B' + beta * C ---- */

typedef struct gemm_priv {
  float alpha, beta;
  int64_t trans_a, trans_b;
  /* With a constant B (qc_gemm_prepack): B' in the GEMM's packed-B layout,
   * made from the data at packed_from; runs reading that data skip packing
   * (for transB a strided transpose of all of B on every run). */
  const float *packed_from;
  float packed[];
} gemm_priv;

int qc_gemm_init(qc_kernel *k) {
  gemm_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  QC_TRY(qc_attr_float(&k->attrs, "alpha", 1.0f, &p->alpha));
  QC_TRY(qc_attr_float(&k->attrs, "beta", 1.0f, &p->beta));
  QC_TRY(qc_attr_int(&k->attrs, "transA", 0, &p->trans_a));
  QC_TRY(qc_attr_int(&k->attrs, "transB", 0, &p->trans_b));
  return QC_OK;
}

int qc_gemm_prepack(qc_kernel *k) {
  const gemm_priv *p = k->priv;
  const qc_tensor *b = qc_in(k, 1);
  if (!b || b->dtype != QC_DT_FLOAT || b->ndim != 2)
    return QC_OK;
  const int64_t K = p->trans_b ? b->dims[1] : b->dims[0], N = p->trans_b ? b->dims[0] : b->dims[1];
  gemm_priv *np = realloc(k->priv, sizeof *np + qc_gemm_packed_b_bytes(K, N));
  if (!np)
    return qc_fail(QC_ENOMEM, "out of memory for the packed weights");
  k->priv = np;
  qc_gemm_pack_b(qc_f32(b), b->dims[1], np->trans_b != 0, K, N, np->packed);
  np->packed_from = qc_f32(b);
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
  const int64_t dims[2] = {M, N};
  return qc_out_alloc(k, y, QC_DT_FLOAT, 2, dims);
}

/* With alpha = 1 and beta in {0, 1} C is the reduction's initial value;
 * otherwise the product starts from 0 and y = alpha * acc + beta * c after. */
int qc_gemm_run(qc_kernel *k) {
  const gemm_priv *p = k->priv;
  const qc_tensor *a = qc_in(k, 0), *b = qc_in(k, 1), *c = qc_in(k, 2);
  qc_tensor *yt = qc_out(k, 0);
  const int64_t M = yt->dims[0], N = yt->dims[1], K = p->trans_a ? a->dims[0] : a->dims[1];
  float *y = qc_f32(yt);
  const int use_c = c && p->beta != 0.0f && c->numel > 0;
  const int64_t cm = use_c && c->ndim == 2 ? c->dims[0] : 1, cn = use_c && c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
  const int c_is_init = use_c && p->alpha == 1.0f && p->beta == 1.0f;
  qc_gemm_desc d = {.M = M, .N = N, .K = K, .a = qc_f32(a), .lda = a->dims[1], .a_trans = p->trans_a != 0,
                    .b_kind = QC_BSRC_MATRIX, .b = qc_f32(b), .ldb = b->dims[1], .b_trans = p->trans_b != 0,
                    .c = y, .ldc = N, .y = y};
  if (p->packed_from && p->packed_from == d.b)
    d.b_packed = p->packed;
  if (c_is_init) {
    d.init = qc_f32(c);
    d.init_rs = cm == 1 ? 0 : cn;
    d.init_cs = cn == 1 ? 0 : 1;
  }
  QC_TRY(qc_gemm_exec(&d, 1, NULL, NULL));
  if (c_is_init || (p->alpha == 1.0f && !use_c))
    return QC_OK;
  const float alpha = p->alpha, beta = p->beta;
  const float *cv = use_c ? qc_f32(c) : NULL;
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      float v = alpha * y[i * N + j];
      if (cv)
        v = v + beta * cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
      y[i * N + j] = v;
    }
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
  return QC_OK;
}

int qc_matmul_shape(qc_kernel *k) {
  matmul_plan plan;
  QC_TRY(matmul_plan_make(k, &plan));
  return qc_out_alloc(k, qc_out(k, 0), QC_DT_FLOAT, plan.out_ndim, plan.out_dims);
}

typedef struct matmul_ctx {
  const matmul_plan *p;
  const float *a, *b;
  float *y;
} matmul_ctx;

/* Problem t of a batched product: its A and B follow the broadcast strides. */
static void matmul_setup(const void *vctx, int64_t t, qc_gemm_desc *d) {
  const matmul_ctx *c = vctx;
  const matmul_plan *p = c->p;
  int64_t rem = t, aoff = 0, boff = 0;
  for (int i = p->nbatch - 1; i >= 0; i--) {
    const int64_t idx = rem % p->batch[i];
    rem /= p->batch[i];
    aoff += idx * p->a_stride[i];
    boff += idx * p->b_stride[i];
  }
  d->a = c->a + aoff;
  d->b = c->b + boff;
  d->c = d->y = c->y + t * p->M * p->N;
}

int qc_matmul_run(qc_kernel *k) { return qc_matmul_run_post(k, NULL); }

int qc_matmul_run_post(qc_kernel *k, const qc_act *post) {
  matmul_plan plan;
  QC_TRY(matmul_plan_make(k, &plan));
  const matmul_plan *p = &plan;
  const float *a = qc_f32(qc_in(k, 0)), *b = qc_f32(qc_in(k, 1));
  float *y = qc_f32(qc_out(k, 0));
  const int64_t M = p->M, N = p->N, K = p->K;
  if (M == 0 || N == 0 || p->batch_count == 0)
    return QC_OK;
  qc_gemm_desc d = {.M = M, .N = N, .K = K, .a = a, .lda = K, .b_kind = QC_BSRC_MATRIX, .b = b, .ldb = N,
                    .c = y, .ldc = N, .y = y};
  if (post)
    d.act = *post;
  /* A batched against one B: stack A's batches into a single tall product. */
  if (p->b_batches == 1 && p->a_batches == p->batch_count) {
    d.M = p->batch_count * M;
    return qc_gemm_exec(&d, 1, NULL, NULL);
  }
  const matmul_ctx ctx = {p, a, b, y};
  return qc_gemm_exec(&d, p->batch_count, matmul_setup, &ctx);
}
