/* The QDQ rewrite (quant/qdq.c) as a pass of the quantize stage: fills
 * ctx->summary; counts the nodes now quantized. */
#include "../core/status.h"
#include "pass.h"

int qc_pass_insert_qdq(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts) {
  if (!ctx->stats || !ctx->summary)
    return qc_fail(QC_EINTERNAL, "insert_qdq: no statistics or summary in the pass context");
  QC_TRY(qc_pass_quantize(m, ctx->stats, ctx->opts, ctx->summary));
  counts->changed += ctx->summary->nodes_quantized;
  return QC_OK;
}
