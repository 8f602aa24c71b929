/* QDQ pass: rewrites a calibrated FP32 model into the QuantizeLinear /
 * DequantizeLinear form that onnxruntime's CPU provider fuses into int8
 * kernels (QLinearConv, QGemm, QLinearMatMul, QLinearAdd, ...).
 * Placement rules and their sources: docs/quantization.md. */
#ifndef QC_QDQ_H
#define QC_QDQ_H

#include "../../calib/observer.h"
#include "../../calib/qparams.h"
#include "../../calib/stats.h"

struct qc_model;
struct qc_graph;

/* One calibrated activation tensor and the qparams chosen for it. */
typedef struct qc_tensor_report {
  char *name;
  float rmin, rmax;     /* observer's range (before widening to include 0) */
  float scale;
  int32_t zero_point;
  const char *qtype;    /* "uint8" or "int8" */
  uint64_t nonfinite;   /* NaN/Inf values seen during calibration (excluded) */
} qc_tensor_report;

/* A region of discrete post-processing kept in float by design (comparison,
 * selection and index ops and every tensor they read, back to the weighted
 * ops that produce them; docs/quantization.md). */
typedef struct qc_float_region {
  char *decided_by;   /* its first decision op: "Equal 'name'" */
  char **nodes;       /* its nodes in graph order ("op 'name'") */
  int n_nodes;
  char **boundary;    /* weighted producers it starts at: int8 inputs and weights, float output */
  int n_boundary;
  int n_tensors;      /* float activation tensors kept float */
  double float_bytes; /* their size per calibration sample in float32 (int8 would be a quarter) */
} qc_float_region;

/* An activation range clipped to where its saturating consumers' outputs
 * still move (docs/quantization.md). */
typedef struct qc_saturation_clip {
  char *tensor;
  const char *consumer;             /* "Sigmoid", "Tanh", "HardSigmoid", "Add+Clip" */
  float observed_min, observed_max; /* the observer's range */
  float lo, hi;                     /* the range quantized */
} qc_saturation_clip;

/* The observer's range of each statistics entry, kept across QDQ passes over
 * the same statistics and observer: the --min-sqnr trials quantize the same
 * model hundreds of times, and an mse search costs milliseconds per tensor. */
typedef struct qc_range_memo {
  size_t n;           /* entries: the statistics set's count when made */
  signed char *known; /* per entry: 0 not yet, 1 usable, -1 none */
  float *lo, *hi;
} qc_range_memo;
int qc_range_memo_init(qc_range_memo *m, size_t n);
void qc_range_memo_free(qc_range_memo *m);

typedef struct qc_quant_opts {
  qc_observer_cfg observer;   /* activation range selection */
  qc_qscheme act_scheme;      /* QC_QS_UINT8_AFFINE (default) or QC_QS_INT8_SYMMETRIC */
  int per_tensor;             /* weights per tensor instead of per channel */
  int weight_only;            /* int8 weights behind DQ, float activations */
  int no_equalize;            /* skip cross-layer equalization (equalize.c) */
  int no_saturation_clip;     /* keep observer ranges before saturating consumers */
  const char *const *exclude; /* node names kept in FP32 */
  int n_exclude;
  const char *const *op_types; /* op types to quantize; NULL = all supported */
  int n_op_types;
  const unsigned char *node_mask; /* per IR node id: 0 keeps the node in FP32; NULL = all allowed */
  int n_node_mask;
  qc_range_memo *range_memo; /* ranges kept across passes over the same statistics; NULL = this pass only */
  const struct qc_weight_rounding *rounding; /* learned weight rounding (adaround.h); NULL = round to nearest */
} qc_quant_opts;

typedef struct qc_quant_summary {
  int nodes_total;     /* nodes before the QDQ pass (after the opset raise) */
  int nodes_quantized; /* compute nodes now running in int8 (weighted, fused, shared-scale) */
  int relu_absorbed;   /* Relu/Clip folded into the producer's output range */
  qc_tensor_report *tensors; /* activations given Q/DQ, in graph order */
  int n_tensors;
  char **warnings;
  int n_warnings;
  qc_float_region *regions; /* float by design, in graph order */
  int n_regions;
  qc_saturation_clip *clips; /* in graph order */
  int n_clips;
} qc_quant_summary;

/* Whether a node runs as an int8 kernel of its own when quantized (weighted
 * and fused ops, not shared-scale followers or rescales): the unit of FP32 fallback. */
int qc_qdq_node_is_compute(const struct qc_graph *g, int node);
/* The nodes the QDQ pass keeps float by design in g (the float regions'
 * nodes, docs/quantization.md), whatever the node mask: mask_out (g->n_nodes
 * entries) gets 1 for each, 0 elsewhere. Returns their number, or a negative
 * status. With opts->weight_only there are no regions. */
int qc_qdq_float_region_nodes(const struct qc_graph *g, const qc_stats_set *stats, const qc_quant_opts *opts,
                              unsigned char *mask_out);
/* Whether op_type can be quantized by this pass (for --op-types validation). */
int qc_qdq_op_supported(const char *op_type);
/* Comma-separated list of the supported op types. */
const char *qc_qdq_supported_ops(void);

/* Opset 13 is the first with per-axis Q/DQ; the raise_opset pass
 * (src/passes) rewrites older models to their opset-13 form first. */
#define QC_QDQ_MIN_OPSET 13

/* The QDQ rewrite of a model at opset >= QC_QDQ_MIN_OPSET (run as the
 * insert_qdq pass, src/passes). */
int qc_pass_quantize(struct qc_model *m, const qc_stats_set *stats, const qc_quant_opts *opts,
                     qc_quant_summary *out);
void qc_quant_summary_free(qc_quant_summary *s);
/* Appends a copy of text to s's warnings (the notes every report shows). */
int qc_quant_summary_note(qc_quant_summary *s, const char *text);

#endif
