/* Run-time fusion of a Conv with the activation that follows it.
 *
 * ORT runs Conv+Relu/Clip as one kernel; so does the engine when nobody
 * watches the intermediate value (a run without a value callback). The
 * Conv's GEMM applies the activation to each output tile while it is still
 * in cache (qc_conv_run_post), instead of a second pass over the whole
 * tensor. The activation is computed by the same scalar function as the
 * standalone op (postop.h), so the bits do not change. */
#ifndef QC_ENGINE_FUSION_H
#define QC_ENGINE_FUSION_H

#include "../core/tensor.h"
#include "../ops/postop.h"

struct qc_graph;

/* 1 and the activation in *out when node `conv` is a Conv whose only output is
 * used by node `act` alone (and is no graph output), and `act` is a float
 * activation the Conv epilogue computes (Relu, Clip with constant bounds,
 * LeakyRelu, HardSigmoid, HardSwish, Sigmoid).
 * consts holds the engine's constants by value id; opset is the model's. */
int qc_fusable_activation(const struct qc_graph *g, int conv, int act, int opset, const qc_tensor *consts,
                          qc_act *out);

#endif
