/* Pass before calibration: cross-layer equalization of Conv -> [Relu] -> Conv
 * pairs (equalize.c, docs/quantization.md). Exact in float; skipped with
 * --weight-only and --no-equalize. Adds the pairs equalized to
 * stats->equalized_pairs (stats may be NULL). */
#ifndef QC_EQUALIZE_H
#define QC_EQUALIZE_H

#include "qdq.h"
#include "simplify.h"

struct qc_model;

int qc_pass_equalize(struct qc_model *m, const qc_quant_opts *opts, qc_simplify_stats *stats);

#endif
