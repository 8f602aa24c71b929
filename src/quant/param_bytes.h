/* Parameter bytes per op type, for the size report. An initializer counts for
 * the op type of the node that consumes it; through a DequantizeLinear, for
 * the node that consumes the dequantized value. Initializers read only by
 * QuantizeLinear (activation scales and zero points) count as "QuantizeLinear". */
#ifndef QC_PARAM_BYTES_H
#define QC_PARAM_BYTES_H

#include <stdint.h>

struct qc_model;
struct Onnx__TensorProto;

/* Parameter bytes of one op type before and after quantization. */
typedef struct qc_op_bytes {
  char op_type[64];
  int64_t params;          /* parameter elements owned by nodes of this type */
  double fp32_bytes;
  double quant_bytes;
  int nodes, nodes_quantized;
} qc_op_bytes;

/* Calls fn for every parameter tensor of the model: each initializer and the
 * `value` tensor of each Constant node (exporters such as paddle2onnx keep
 * weights there). value is the IR value the tensor defines. Stops at fn < 0. */
int qc_for_each_parameter(const struct qc_model *m,
                          int (*fn)(void *user, int value, const struct Onnx__TensorProto *t), void *user);
/* Element count and bytes of a TensorProto from its dims and data type. */
void qc_tensor_proto_size(const struct Onnx__TensorProto *t, int64_t *elements, double *bytes);

/* Adds the model's parameter elements and bytes into ops (matched by op type,
 * appended when new): into fp32_bytes/params when `after` is 0, else into
 * quant_bytes. */
int qc_param_bytes(const struct qc_model *m, int after, qc_op_bytes **ops, int *n_ops);

/* Counts the compute nodes (not Q/DQ) per op type in the final model, and
 * those that read a dequantized input (they run in int8 after fusion). */
int qc_count_nodes(const struct qc_model *m, qc_op_bytes **ops, int *n_ops, int *total, int *quantized);

#endif
