/* qc_attr_* accessors over the node's AttributeProto list. */
#include <stdio.h>
#include <string.h>

#include "../io/tensor_proto.h"
#include "../ops/op.h"
#include "onnx.pb-c.h"

static const Onnx__AttributeProto *find_attr(const qc_kernel *k, const char *name) {
  for (size_t i = 0; i < k->n_attrs; i++)
    if (k->attrs[i]->name && strcmp(k->attrs[i]->name, name) == 0)
      return k->attrs[i];
  return NULL;
}

static int wrong_type(const char *name, const char *want) {
  return qc_fail(QC_EINVAL, "attribute '%s' is not of type %s", name, want);
}

int qc_attr_has(const qc_kernel *k, const char *name) { return find_attr(k, name) != NULL; }

int qc_attr_int(const qc_kernel *k, const char *name, int64_t def, int64_t *out) {
  const Onnx__AttributeProto *a = find_attr(k, name);
  if (!a) {
    *out = def;
    return QC_OK;
  }
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
    return wrong_type(name, "INT");
  *out = a->i;
  return QC_OK;
}

int qc_attr_float(const qc_kernel *k, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a = find_attr(k, name);
  if (!a) {
    *out = def;
    return QC_OK;
  }
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
    return wrong_type(name, "FLOAT");
  *out = a->f;
  return QC_OK;
}

int qc_attr_string(const qc_kernel *k, const char *name, const char *def, char *buf, size_t n) {
  const Onnx__AttributeProto *a = find_attr(k, name);
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

int qc_attr_ints(const qc_kernel *k, const char *name, const int64_t **vals, size_t *n) {
  const Onnx__AttributeProto *a = find_attr(k, name);
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

int qc_attr_floats(const qc_kernel *k, const char *name, const float **vals, size_t *n) {
  const Onnx__AttributeProto *a = find_attr(k, name);
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

int qc_attr_tensor(const qc_kernel *k, const char *name, qc_tensor *out) {
  const Onnx__AttributeProto *a = find_attr(k, name);
  if (!a)
    return qc_fail(QC_EINVAL, "missing attribute '%s'", name);
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR || !a->t)
    return wrong_type(name, "TENSOR");
  QC_TRY(qc_tensor_from_proto(a->t, k->model_dir, out));
  if (!qc_dtype_is_computable(out->dtype)) {
    qc_dtype dt = out->dtype;
    qc_tensor_release(out);
    return qc_fail(QC_EUNSUPPORTED, "attribute '%s' holds %s data, which the engine does not compute with", name,
                   qc_dtype_name(dt));
  }
  return QC_OK;
}
