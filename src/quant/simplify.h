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
  int decomposed, equalized_pairs; /* qc_pass_prepare only */
} qc_simplify_stats;

/* Runs remove_identity, fold_batchnorm, const_fold in that order, then prunes dead initializers. */
int qc_pass_simplify(struct qc_model *m, qc_simplify_stats *stats);
int qc_pass_remove_identity(struct qc_model *m, qc_simplify_stats *stats);
int qc_pass_fold_batchnorm(struct qc_model *m, qc_simplify_stats *stats);
int qc_pass_const_fold(struct qc_model *m, qc_simplify_stats *stats);

struct qc_quant_opts;
/* Everything the main job does to the FP32 model before calibration:
 * qc_pass_simplify, then qc_pass_decompose_for_int8 and qc_pass_equalize
 * (decompose.h, equalize.h), which depend on the quantization options. */
int qc_pass_prepare(struct qc_model *m, const struct qc_quant_opts *opts, qc_simplify_stats *stats);

#endif
