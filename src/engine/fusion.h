/* Run-time fusion: a node computes some of the nodes after it in one pass.
 *
 * ORT runs Conv(+Add)+Relu/Clip as one kernel; so does the engine when nobody
 * watches the intermediate values (a run without a value callback). The
 * Conv's GEMM applies the activation to each output tile while it is still
 * in cache (qc_conv_run_post), instead of a second pass over the whole
 * tensor. The activation is computed by the same scalar function as the
 * standalone op (postop.h), and x + r is the Add's sum (IEEE addition is
 * commutative), so the bits do not change.
 *
 * A QuantizeLinear whose readers are all DequantizeLinear nodes (the fake
 * quantization of a QDQ model) is computed the same way: its 8-bit tensor is
 * never stored, each reader's float output is computed from the float input
 * in one pass (qc_postop_run), or in the epilogue of the Conv that makes
 * the input, with the operations of the two kernels (postop.h). */
#ifndef QC_ENGINE_FUSION_H
#define QC_ENGINE_FUSION_H

#include "../core/tensor.h"
#include "../ops/postop.h"

struct qc_graph;

#define QC_FUSE_MAX 6

typedef enum qc_fusion_kind {
  QC_FUSE_NONE,
  QC_FUSE_CONV,       /* y = fq(act(conv + res)): the last absorbed node's output */
  QC_FUSE_FAKE_QUANT, /* each absorbed DequantizeLinear's output from the Q's input */
  QC_FUSE_BINARY,     /* a float Add/Sub/Mul/Div then act.fq: the absorbed DequantizeLinear's output */
  QC_FUSE_MATMUL,     /* MatMul then act.fq, the same */
  QC_FUSE_ACT,        /* an activation (act) then act.fq, the same */
} qc_fusion_kind;

/* The later plan nodes a node computes; their intermediate values are never
 * materialised. */
typedef struct qc_fusion {
  qc_fusion_kind kind;
  int n_absorbed;
  int absorbed[QC_FUSE_MAX]; /* plan indices, ascending */
  int res_value;             /* QC_FUSE_CONV: value id of the tensor added (Conv -> Add), or -1 */
  qc_act act;                /* QC_FUSE_CONV: the epilogue */
  qc_fake_quant fq[QC_FUSE_MAX]; /* QC_FUSE_FAKE_QUANT: per absorbed DequantizeLinear */
} qc_fusion;

/* Plans the fusion of plan node p (graph node plan_node[p]; plan_index maps
 * node ids back, -1 for nodes that do not run) with nodes after it:
 * - a Conv whose only output is used by one node alone (and is no graph
 *   output) that is a float activation the epilogue computes (Relu, Clip with
 *   constant bounds, LeakyRelu, HardSigmoid, HardSwish, Sigmoid), or an Add
 *   of a second tensor computed before p, optionally followed the same way by
 *   such an activation; then optionally a QuantizeLinear -> DequantizeLinear
 *   pair as below with one reader. The added tensor's shape is known only at
 *   run time: the engine fuses the Add only when it equals the Conv's output
 *   (no broadcasting).
 * - a QuantizeLinear to int8/uint8 with a constant per-tensor float scale and
 *   zero point, whose output is no graph output and is read only by
 *   DequantizeLinear nodes (at most QC_FUSE_MAX) with the same zero point and
 *   their own constant per-tensor float scales. The engine fuses it when its
 *   input is float.
 * - an Add, Sub, Mul, Div, MatMul or an activation as above whose only
 *   reader is such a QuantizeLinear with one DequantizeLinear reader: the
 *   engine fuses it when the output (an activation's input) is float.
 * consts holds the engine's constants by value id. */
void qc_plan_fusion(const struct qc_graph *g, int p, const int *plan_node, int n_plan, const int *plan_index,
                    int opset, const qc_tensor *consts, qc_fusion *f);

#endif
