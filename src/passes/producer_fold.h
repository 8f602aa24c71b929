/* Folding a per-channel affine y = s * x + t that follows a Conv,
 * ConvTranspose or Gemm into that producer's weight and bias:
 *   W' = W * s (per output channel),  b' = b * s + t  (Gemm: C' = s * C + t / beta).
 * Computed in double, stored as float. Shared by fold_batchnorm (s, t from
 * BatchNormalization) and fold_affine (s, t from a constant Mul, Add, Sub or Div). */
#ifndef QC_PRODUCER_FOLD_H
#define QC_PRODUCER_FOLD_H

#include "../core/tensor.h"
#include "../ir/graph.h"

typedef enum { QC_PROD_CONV, QC_PROD_CONV_TRANSPOSE, QC_PROD_GEMM } qc_producer_kind;

typedef struct qc_producer_fold {
  int follower, producer;
  qc_producer_kind kind;
  float beta;               /* Gemm beta */
  int64_t group, trans_b;   /* ConvTranspose group; Gemm transB */
  int64_t channels;         /* M: output channels of the producer */
  int out_rank;             /* rank of the producer's output */
  double *s, *t;            /* per channel: y = s * x + t (s = 1, t = 0 after load) */
  qc_tensor w;              /* the weight, an owned copy (scaled in place) */
  const qc_tensor *bias;    /* optional bias / Gemm C: the graph's view, or NULL */
} qc_producer_fold;

/* Whether value x, read by node `follower`, is the only use of the output of
 * a Conv, ConvTranspose or Gemm with constant float weight (and bias) whose
 * parameters can be folded into; fills f's producer fields. */
int qc_producer_fold_match(const qc_graph *g, int follower, int x, qc_producer_fold *f);
/* Decodes W and the bias, checks their shapes and sets s = 1, t = 0;
 * *ok = 0 when the producer cannot take a fold. */
int qc_producer_fold_load(const qc_graph *g, qc_producer_fold *f, int *ok);
/* Rewrites the producer's W and bias with s and t (new initializer names end
 * in w_suffix / b_suffix when shared), removes the follower and gives the
 * producer the follower's output name. */
int qc_producer_fold_apply(qc_graph *g, qc_producer_fold *f, const char *w_suffix, const char *b_suffix);
void qc_producer_fold_release(qc_producer_fold *f);
/* Stores t as input `slot` of node: in place when only it reads the
 * initializer, else under a fresh name from base. */
int qc_fold_store_input(qc_graph *g, int node, int slot, const qc_tensor *t, const char *base);
/* Folds node id if it is a BatchNormalization that can be folded (fold_batchnorm.c). */
int qc_fold_batchnorm_node(qc_graph *g, int id, void *arg, int *changed);
/* A malformed attribute leaves the node alone (the engine reports it later). */
void qc_fold_attr_ok(int rc, int *ok);
int qc_fold_is_float_const(const qc_graph *g, int v);

#endif
