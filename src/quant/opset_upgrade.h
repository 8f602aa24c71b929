/* Raising a model's default-domain opset (QDQ per-channel needs 13).
 *
 * Bumping the opset number alone would change what some nodes mean (Clip,
 * Pad, Slice... moved attributes to inputs; Softmax-13 normalises over one
 * axis), so each such node is rewritten to its target-opset form. Nodes whose
 * old meaning cannot be expressed are QC_EUNSUPPORTED, naming op, node and
 * opsets. See docs/opset-upgrade.md. */
#ifndef QC_OPSET_UPGRADE_H
#define QC_OPSET_UPGRADE_H

#include "../io/model_io.h"

/* No-op (*nodes_rewritten = 0) if m->opset >= target; target must be <= 13.
 * On success the default-domain opset import is `target`. On error the
 * model may be partly rewritten: discard it. */
int qc_pass_upgrade_opset(qc_model *m, int target, int *nodes_rewritten);

#endif
