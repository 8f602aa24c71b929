/* Run-time fusion of a Conv with the Add and activation that follow it.
 *
 * ORT runs Conv(+Add)+Relu/Clip as one kernel; so does the engine when nobody
 * watches the intermediate value (a run without a value callback). The
 * Conv's GEMM applies the activation to each output tile while it is still
 * in cache (qc_conv_run_post), instead of a second pass over the whole
 * tensor. The activation is computed by the same scalar function as the
 * standalone op (postop.h), and x + r is the Add's sum (IEEE addition is
 * commutative), so the bits do not change. */
#ifndef QC_ENGINE_FUSION_H
#define QC_ENGINE_FUSION_H

#include "../core/tensor.h"
#include "../ops/postop.h"

struct qc_graph;

/* Nodes that run in a Conv's epilogue: y = act(conv + res), the
 * intermediate values never materialised. */
typedef struct qc_conv_fusion {
  int nodes;     /* following plan nodes fused: 0 (none), 1 or 2 */
  int res_value; /* value id of the tensor added (Conv -> Add), or -1 */
  qc_act act;
} qc_conv_fusion;

/* Plans the fusion of node `conv` with the next plan nodes next1 and next2
 * (-1 when absent; conv -1 for none): a Conv whose only output is used by next1 alone (and is
 * no graph output), where next1 is a float activation the epilogue computes
 * (Relu, Clip with constant bounds, LeakyRelu, HardSigmoid, HardSwish,
 * Sigmoid), or an Add of a second tensor, optionally followed the same way
 * by such an activation in next2. The added tensor's shape is known only at
 * run time: the engine fuses the Add only when it equals the Conv's output
 * (no broadcasting). consts holds the engine's constants by value id. */
void qc_plan_conv_fusion(const struct qc_graph *g, int conv, int next1, int next2, int opset, const qc_tensor *consts,
                         qc_conv_fusion *f);

#endif
