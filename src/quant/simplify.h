/* Simplify passes run before calibration: remove Identity / inference
 * Dropout, fold BatchNormalization into the preceding Conv, ConvTranspose or
 * Gemm, and constant-fold cheap shape subgraphs. Each pass edits the model's
 * IR in place, keeps graph output names and topological order, and adds its
 * counts to *stats (which may be NULL). See docs/passes.md. */
#ifndef QC_SIMPLIFY_H
#define QC_SIMPLIFY_H

struct qc_model;

typedef struct qc_simplify_stats {
  int bn_folded, identities_removed, dropouts_removed, nodes_const_folded;
} qc_simplify_stats;

/* Runs remove_identity, fold_batchnorm, const_fold in that order, then prunes dead initializers. */
int qc_pass_simplify(struct qc_model *m, qc_simplify_stats *stats);
int qc_pass_remove_identity(struct qc_model *m, qc_simplify_stats *stats);
int qc_pass_fold_batchnorm(struct qc_model *m, qc_simplify_stats *stats);
int qc_pass_const_fold(struct qc_model *m, qc_simplify_stats *stats);

#endif
