/* Shape manipulation: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Expand. */
#include <string.h>

#include "kernels.h"

/* dims argument for rank-0 allocations (memcpy must not get NULL, even for 0 bytes) */
static const int64_t no_dims[1] = {0};

static int input0(const qc_kernel *k, const qc_tensor **x) {
  *x = qc_in(k, 0);
  if (!*x)
    return qc_fail(QC_EINVAL, "missing input 0");
  if (qc_dtype_size((*x)->dtype) == 0)
    return qc_fail(QC_EUNSUPPORTED, "tensors of type %s are not supported", qc_dtype_name((*x)->dtype));
  return QC_OK;
}

/* Output = x's data under new dims. */
static int copy_reshaped(qc_kernel *k, const qc_tensor *x, int ndim, const int64_t *dims) {
  int64_t n;
  QC_TRY(qc_shape_numel(ndim, dims, &n));
  if (n != x->numel) {
    char a[128], b[128];
    return qc_fail(QC_EINVAL, "cannot reshape %s to %s", qc_shape_str(x->ndim, x->dims, a, sizeof a),
                   qc_shape_str(ndim, dims, b, sizeof b));
  }
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, x->dtype, ndim, dims));
  if (x->nbytes)
    memcpy(y->data, x->data, x->nbytes);
  return QC_OK;
}

/* ---- Shape / Size ---- */

int qc_shape_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input 0");
  int64_t start, end;
  QC_TRY(qc_attr_int(&k->attrs, "start", 0, &start));
  QC_TRY(qc_attr_int(&k->attrs, "end", INT64_MAX, &end));
  const int64_t r = x->ndim;
  /* Opset 15: negative values count from the back; both are clamped to [0, rank]. */
  if (start < 0)
    start += r;
  if (end < 0)
    end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t n = end > start ? end - start : 0;
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, QC_DT_INT64, 1, &n));
  for (int64_t i = 0; i < n; i++)
    qc_i64(y)[i] = x->dims[start + i];
  return QC_OK;
}

int qc_size_shape(qc_kernel *k) {
  const qc_tensor *x = qc_in(k, 0);
  if (!x)
    return qc_fail(QC_EINVAL, "missing input 0");
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, QC_DT_INT64, 0, no_dims));
  qc_i64(y)[0] = x->numel;
  return QC_OK;
}

/* ---- Reshape ---- */

int qc_reshape_shape(qc_kernel *k) {
  const qc_tensor *x, *s = qc_in(k, 1);
  QC_TRY(input0(k, &x));
  int64_t dims[QC_MAX_DIMS];
  int n;
  if (k->opset >= 5) {
    if (!s)
      return qc_fail(QC_EINVAL, "missing shape input");
    if (s->dtype != QC_DT_INT64)
      return qc_fail(QC_EINVAL, "shape must be int64, got %s", qc_dtype_name(s->dtype));
    QC_TRY(qc_sl_read_ints(s, "shape", dims, QC_MAX_DIMS, &n));
  } else {
    const int64_t *v;
    size_t cnt;
    QC_TRY(qc_attr_ints(&k->attrs, "shape", &v, &cnt));
    if (cnt > QC_MAX_DIMS)
      return qc_fail(QC_EUNSUPPORTED, "shape has %zu entries; at most %d supported", cnt, QC_MAX_DIMS);
    if (cnt)
      memcpy(dims, v, cnt * sizeof *v);
    n = (int)cnt;
  }
  int64_t allowzero = 0;
  if (k->opset >= 14)
    QC_TRY(qc_attr_int(&k->attrs, "allowzero", 0, &allowzero));
  int infer = -1;
  int64_t known = 1;
  for (int d = 0; d < n; d++) {
    if (dims[d] == 0 && !allowzero) {
      if (d >= x->ndim)
        return qc_fail(QC_EINVAL, "shape[%d] = 0 copies a dimension the rank-%d input lacks", d, x->ndim);
      dims[d] = x->dims[d];
    }
    if (dims[d] == -1) {
      if (infer >= 0)
        return qc_fail(QC_EINVAL, "shape has more than one -1");
      infer = d;
      continue;
    }
    if (dims[d] < 0)
      return qc_fail(QC_EINVAL, "shape[%d] = %lld is invalid", d, (long long)dims[d]);
    if (dims[d] != 0 && known > INT64_MAX / dims[d])
      return qc_fail(QC_ELIMIT, "shape element count overflows");
    known *= dims[d];
  }
  if (infer >= 0) {
    if (known == 0 || x->numel % known != 0) {
      char a[128];
      return qc_fail(QC_EINVAL, "cannot infer the -1 dimension reshaping %s (%lld elements) with known product %lld",
                     qc_shape_str(x->ndim, x->dims, a, sizeof a), (long long)x->numel, (long long)known);
    }
    dims[infer] = x->numel / known;
  }
  return copy_reshaped(k, x, n, dims);
}

/* ---- Flatten ---- */

int qc_flatten_shape(qc_kernel *k) {
  const qc_tensor *x;
  QC_TRY(input0(k, &x));
  int64_t axis_attr;
  int axis;
  QC_TRY(qc_attr_int(&k->attrs, "axis", 1, &axis_attr));
  QC_TRY(qc_sl_axis(axis_attr, x->ndim, 1, &axis));
  int64_t dims[2] = {1, 1};
  for (int d = 0; d < x->ndim; d++)
    dims[d >= axis] *= x->dims[d];
  return copy_reshaped(k, x, 2, dims);
}

/* ---- Squeeze / Unsqueeze ---- */

/* axes from the attribute (before opset 13) or input 1 (from 13). present=0 when absent. */
static int read_axes(const qc_kernel *k, int64_t *axes, int *n, int *present) {
  *present = 0;
  *n = 0;
  if (k->opset >= 13) {
    const qc_tensor *t = qc_in(k, 1);
    if (!t)
      return QC_OK;
    if (t->dtype != QC_DT_INT64)
      return qc_fail(QC_EINVAL, "axes must be int64, got %s", qc_dtype_name(t->dtype));
    QC_TRY(qc_sl_read_ints(t, "axes", axes, QC_MAX_DIMS, n));
  } else {
    const int64_t *v;
    size_t cnt;
    QC_TRY(qc_attr_ints(&k->attrs, "axes", &v, &cnt));
    if (!v)
      return QC_OK;
    if (cnt > QC_MAX_DIMS)
      return qc_fail(QC_EINVAL, "axes has too many entries (%zu)", cnt);
    memcpy(axes, v, cnt * sizeof *v);
    *n = (int)cnt;
  }
  *present = 1;
  return QC_OK;
}

int qc_squeeze_shape(qc_kernel *k) {
  const qc_tensor *x;
  QC_TRY(input0(k, &x));
  int64_t axes[QC_MAX_DIMS];
  int n, present, drop[QC_MAX_DIMS] = {0};
  QC_TRY(read_axes(k, axes, &n, &present));
  if (!present || n == 0) {
    for (int d = 0; d < x->ndim; d++)
      drop[d] = x->dims[d] == 1;
  } else {
    for (int i = 0; i < n; i++) {
      int a;
      QC_TRY(qc_sl_axis(axes[i], x->ndim, 0, &a));
      if (x->dims[a] != 1)
        return qc_fail(QC_EINVAL, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
      drop[a] = 1;
    }
  }
  int64_t dims[QC_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < x->ndim; d++)
    if (!drop[d])
      dims[nd++] = x->dims[d];
  return copy_reshaped(k, x, nd, dims);
}

int qc_unsqueeze_shape(qc_kernel *k) {
  const qc_tensor *x;
  QC_TRY(input0(k, &x));
  int64_t axes[QC_MAX_DIMS];
  int n, present;
  QC_TRY(read_axes(k, axes, &n, &present));
  if (!present)
    return qc_fail(QC_EINVAL, "Unsqueeze needs axes");
  const int out_rank = x->ndim + n;
  if (out_rank > QC_MAX_DIMS)
    return qc_fail(QC_EUNSUPPORTED, "Unsqueeze output rank %d exceeds %d", out_rank, QC_MAX_DIMS);
  int inserted[QC_MAX_DIMS] = {0};
  for (int i = 0; i < n; i++) {
    int a;
    QC_TRY(qc_sl_axis(axes[i], out_rank, 0, &a));
    if (inserted[a])
      return qc_fail(QC_EINVAL, "axis %d appears twice in Unsqueeze axes", a);
    inserted[a] = 1;
  }
  int64_t dims[QC_MAX_DIMS];
  for (int d = 0, src = 0; d < out_rank; d++)
    dims[d] = inserted[d] ? 1 : x->dims[src++];
  return copy_reshaped(k, x, out_rank, dims);
}

/* ---- Expand ---- */

int qc_expand_shape(qc_kernel *k) {
  const qc_tensor *x, *s = qc_in(k, 1);
  QC_TRY(input0(k, &x));
  if (!s)
    return qc_fail(QC_EINVAL, "missing shape input");
  int64_t shape[QC_MAX_DIMS];
  int ns;
  QC_TRY(qc_sl_read_ints(s, "shape", shape, QC_MAX_DIMS, &ns));
  /* Bidirectional (numpy) broadcast of x's dims with shape, right-aligned. */
  const int r = x->ndim > ns ? x->ndim : ns;
  int64_t dims[QC_MAX_DIMS], ss[QC_MAX_DIMS], in_stride = 1;
  for (int d = r - 1; d >= 0; d--) {
    int xi = d - (r - x->ndim), si = d - (r - ns);
    int64_t a = xi >= 0 ? x->dims[xi] : 1, b = si >= 0 ? shape[si] : 1;
    if (b < 0)
      return qc_fail(QC_EINVAL, "shape[%d] = %lld is negative", si, (long long)b);
    if (a != b && a != 1 && b != 1) {
      char sa[128];
      return qc_fail(QC_EINVAL, "cannot broadcast input %s: dimension %lld vs requested %lld",
                     qc_shape_str(x->ndim, x->dims, sa, sizeof sa), (long long)a, (long long)b);
    }
    dims[d] = a == 1 ? b : a;
    ss[d] = a == 1 ? 0 : in_stride;
    in_stride *= a;
  }
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, x->dtype, r, dims));
  if (y->numel)
    qc_sl_strided_copy(y->data, x->data, qc_dtype_size(x->dtype), r, dims, ss, 0);
  return QC_OK;
}
