/* Pass before calibration: cross-layer equalization of Conv -> [Relu] -> Conv
 * pairs (equalize.c, docs/quantization.md). Exact in float; skipped with
 * --weight-only and --no-equalize. *n_pairs counts the pairs equalized. */
#ifndef QC_EQUALIZE_H
#define QC_EQUALIZE_H

#include "qdq.h"

struct qc_model;

int qc_pass_equalize(struct qc_model *m, const qc_quant_opts *opts, int *n_pairs);

#endif
