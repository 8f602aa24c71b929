/* Pass before calibration: rewrites HardSwish, HardSigmoid and Div-by-constant
 * into Mul/Add/Clip, which onnxruntime runs as integer kernels (see decompose.c
 * and docs/quantization.md). Skipped with --weight-only, for --exclude'd nodes,
 * and when --op-types leaves out Mul or Add. */
#ifndef QC_DECOMPOSE_H
#define QC_DECOMPOSE_H

#include "qdq.h"
#include "simplify.h"

struct qc_model;

/* Adds the number of nodes rewritten to stats->decomposed (stats may be NULL). */
int qc_pass_decompose_for_int8(struct qc_model *m, const qc_quant_opts *opts, qc_simplify_stats *stats);

#endif
