/* Node attributes, type-checked. An absent attribute gives the default; a
 * present one of the wrong type is QC_EINVAL naming it. Kernels (through
 * qc_kernel.attrs, ops/op.h), the graph passes and the opset upgrade all read
 * attributes through these. */
#ifndef QC_ATTR_H
#define QC_ATTR_H

#include <stddef.h>
#include <stdint.h>

#include "../core/status.h"
#include "../core/tensor.h"

struct Onnx__AttributeProto;
struct qc_graph;

/* A node's attribute list (borrowed from its NodeProto). */
typedef struct qc_attrs {
  struct Onnx__AttributeProto *const *list;
  size_t n;
  const char *model_dir; /* resolves tensor attributes' external data */
} qc_attrs;

/* The attributes of IR node `node`. */
qc_attrs qc_node_attrs(const struct qc_graph *g, int node);

typedef enum {
  QC_ATTR_ABSENT,
  QC_ATTR_INT,
  QC_ATTR_FLOAT,
  QC_ATTR_STRING,
  QC_ATTR_INTS,
  QC_ATTR_FLOATS,
  QC_ATTR_TENSOR,
  QC_ATTR_OTHER /* graphs, strings lists, ... */
} qc_attr_type_t;

int qc_attr_has(const qc_attrs *a, const char *name);
/* The attribute's type, for readers of ops whose attribute type changed
 * across opsets (Cast-1's string `to`, LpPool-1's float `p`). */
qc_attr_type_t qc_attr_type(const qc_attrs *a, const char *name);
int qc_attr_int(const qc_attrs *a, const char *name, int64_t def, int64_t *out);
int qc_attr_float(const qc_attrs *a, const char *name, float def, float *out);
/* Copies the string attribute (NUL-terminated, truncated to n-1) into buf, or def if absent. */
int qc_attr_string(const qc_attrs *a, const char *name, const char *def, char *buf, size_t n);
/* Borrowed views of INTS / FLOATS attributes; *n = 0 when absent. */
int qc_attr_ints(const qc_attrs *a, const char *name, const int64_t **vals, size_t *n);
int qc_attr_floats(const qc_attrs *a, const char *name, const float **vals, size_t *n);
/* Decodes a TENSOR attribute into out (owned copy). QC_EINVAL if absent. */
int qc_attr_tensor(const qc_attrs *a, const char *name, qc_tensor *out);

#endif
