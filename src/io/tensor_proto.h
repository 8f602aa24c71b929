/* Conversions between ONNX TensorProto and qc_tensor, and .pb tensor files. */
#ifndef QC_TENSOR_PROTO_H
#define QC_TENSOR_PROTO_H

#include "../core/tensor.h"

struct Onnx__TensorProto;

/* Decodes raw_data or the typed fields (float_data, int32_data, int64_data,
 * double_data, uint64_data) into an owned tensor. External data is read from
 * model_dir (NULL: external data is an error); paths may not escape model_dir. */
int qc_tensor_from_proto(const struct Onnx__TensorProto *tp, const char *model_dir, qc_tensor *out);

/* The same tensor, but where the proto already holds its bytes in the
 * tensor's layout (raw_data, or float/double/int64 data, suitably aligned)
 * out borrows them (owns_data = 0) and stays valid only while tp's data
 * fields are unchanged; otherwise out owns a decoded copy as above. */
int qc_tensor_view_proto(const struct Onnx__TensorProto *tp, const char *model_dir, qc_tensor *out);

/* Builds a new heap TensorProto with raw_data (free with qc_tensor_proto_free). */
int qc_tensor_to_proto(const qc_tensor *t, const char *name, struct Onnx__TensorProto **out);
void qc_tensor_proto_free(struct Onnx__TensorProto *tp);

/* Whether the tensor stores its bytes in an external file. */
int qc_tensor_proto_is_external(const struct Onnx__TensorProto *tp);
/* Makes an external tensor inline: raw_data := the malloc'd data (tp takes
 * ownership) and the external references are dropped. */
void qc_tensor_proto_take_raw(struct Onnx__TensorProto *tp, void *data, size_t len);

/* Reads/writes a serialized TensorProto file (ONNX test data "input_0.pb").
 * *name (optional) receives a malloc'd copy of the tensor's name or NULL. */
int qc_tensor_read_pb(const char *path, qc_tensor *out, char **name);
int qc_tensor_write_pb(const char *path, const qc_tensor *t, const char *name);

/* Resolves an external-data location against model_dir, refusing absolute
 * paths, ".." components and symlinks that leave the directory.
 * Writes the resolved path into buf. */
int qc_resolve_external_path(const char *model_dir, const char *location, char *buf, size_t n);

#endif
