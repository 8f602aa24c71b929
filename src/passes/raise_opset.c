/* Raises an older default-domain opset to the one the QDQ pass needs
 * (QC_QDQ_MIN_OPSET), rewriting the nodes whose meaning changed
 * (quant/opset_upgrade.c, docs/opset-upgrade.md). Counts the nodes rewritten. */
#include "../core/status.h"
#include "../quant/opset_upgrade.h"
#include "pass.h"

int qc_pass_raise_opset(qc_model *m, qc_pass_ctx *ctx, qc_pass_counts *counts) {
  (void)ctx;
  int rewritten = 0;
  QC_TRY(qc_pass_upgrade_opset(m, QC_QDQ_MIN_OPSET, &rewritten));
  counts->changed += rewritten;
  return QC_OK;
}
