/* qc_attr_* accessors over a node's AttributeProto list (attr.h). */
#include "attr.h"

#include <stdio.h>
#include <string.h>

#include "../io/model_io.h"
#include "../io/tensor_proto.h"
#include "graph.h"
#include "onnx.pb-c.h"

qc_attrs qc_node_attrs(const qc_graph *g, int node) {
  const Onnx__NodeProto *np = g->nodes[node].proto;
  return (qc_attrs){.list = np->attribute, .n = np->n_attribute, .model_dir = g->model->dir};
}

static const Onnx__AttributeProto *find_attr(const qc_attrs *attrs, const char *name) {
  for (size_t i = 0; i < attrs->n; i++)
    if (attrs->list[i]->name && strcmp(attrs->list[i]->name, name) == 0)
      return attrs->list[i];
  return NULL;
}

static int wrong_type(const char *name, const char *want) {
  return qc_fail(QC_EINVAL, "attribute '%s' is not of type %s", name, want);
}

int qc_attr_has(const qc_attrs *attrs, const char *name) { return find_attr(attrs, name) != NULL; }

qc_attr_type_t qc_attr_type(const qc_attrs *attrs, const char *name) {
  const Onnx__AttributeProto *a = find_attr(attrs, name);
  if (!a)
    return QC_ATTR_ABSENT;
  switch (a->type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return QC_ATTR_INT;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return QC_ATTR_FLOAT;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return QC_ATTR_STRING;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return QC_ATTR_INTS;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return QC_ATTR_FLOATS;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return QC_ATTR_TENSOR;
  default: return QC_ATTR_OTHER;
  }
}

int qc_attr_int(const qc_attrs *attrs, const char *name, int64_t def, int64_t *out) {
  const Onnx__AttributeProto *a = find_attr(attrs, name);
  if (!a) {
    *out = def;
    return QC_OK;
  }
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
    return wrong_type(name, "INT");
  *out = a->i;
  return QC_OK;
}

int qc_attr_float(const qc_attrs *attrs, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a = find_attr(attrs, name);
  if (!a) {
    *out = def;
    return QC_OK;
  }
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
    return wrong_type(name, "FLOAT");
  *out = a->f;
  return QC_OK;
}

int qc_attr_string(const qc_attrs *attrs, const char *name, const char *def, char *buf, size_t n) {
  const Onnx__AttributeProto *a = find_attr(attrs, name);
  if (n == 0)
    return QC_OK;
  if (!a) {
    snprintf(buf, n, "%s", def ? def : "");
    return QC_OK;
  }
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
    return wrong_type(name, "STRING");
  size_t len = a->s.len < n - 1 ? a->s.len : n - 1;
  if (len)
    memcpy(buf, a->s.data, len);
  buf[len] = 0;
  return QC_OK;
}

int qc_attr_ints(const qc_attrs *attrs, const char *name, const int64_t **vals, size_t *n) {
  const Onnx__AttributeProto *a = find_attr(attrs, name);
  *vals = NULL;
  *n = 0;
  if (!a)
    return QC_OK;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
    return wrong_type(name, "INTS");
  *vals = a->ints;
  *n = a->n_ints;
  return QC_OK;
}

int qc_attr_floats(const qc_attrs *attrs, const char *name, const float **vals, size_t *n) {
  const Onnx__AttributeProto *a = find_attr(attrs, name);
  *vals = NULL;
  *n = 0;
  if (!a)
    return QC_OK;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
    return wrong_type(name, "FLOATS");
  *vals = a->floats;
  *n = a->n_floats;
  return QC_OK;
}

int qc_attr_tensor(const qc_attrs *attrs, const char *name, qc_tensor *out) {
  const Onnx__AttributeProto *a = find_attr(attrs, name);
  if (!a)
    return qc_fail(QC_EINVAL, "missing attribute '%s'", name);
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR || !a->t)
    return wrong_type(name, "TENSOR");
  QC_TRY(qc_tensor_from_proto(a->t, attrs->model_dir, out));
  if (!qc_dtype_is_computable(out->dtype)) {
    qc_dtype dt = out->dtype;
    qc_tensor_release(out);
    return qc_fail(QC_EUNSUPPORTED, "attribute '%s' holds %s data, which the engine does not compute with", name,
                   qc_dtype_name(dt));
  }
  return QC_OK;
}
