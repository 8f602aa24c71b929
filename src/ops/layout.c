/* Data movement: Transpose, Concat, Split, Slice, Pad, Tile, Gather, GatherElements,
 * DepthToSpace, SpaceToDepth. All are dtype-generic (bytes moved by element size). */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* ---- shared helpers ---- */

int qc_sl_axis(int64_t axis, int rank, int inclusive_end, int *out) {
  int64_t hi = inclusive_end ? rank : rank - 1;
  if (axis < -(int64_t)rank || axis > hi)
    return qc_fail(QC_EINVAL, "axis %lld is out of range for rank %d", (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return QC_OK;
}

int qc_sl_read_ints(const qc_tensor *t, const char *what, int64_t *vals, int max, int *n) {
  if (t->dtype != QC_DT_INT64 && t->dtype != QC_DT_INT32)
    return qc_fail(QC_EINVAL, "'%s' must be int64 or int32, got %s", what, qc_dtype_name(t->dtype));
  if (t->ndim > 1)
    return qc_fail(QC_EINVAL, "'%s' must be 1-D, got rank %d", what, t->ndim);
  if (t->numel > max)
    return qc_fail(QC_EUNSUPPORTED, "'%s' has %lld values; at most %d are supported", what, (long long)t->numel, max);
  for (int64_t i = 0; i < t->numel; i++)
    vals[i] = qc_tensor_get_i64(t, i);
  *n = (int)t->numel;
  return QC_OK;
}

static void copy_strided_row(char *o, const char *in, size_t es, int64_t n, int64_t step) {
  if (step == 1) {
    memcpy(o, in, (size_t)n * es);
    return;
  }
  const int64_t sb = step * (int64_t)es; /* byte step, may be 0 or negative */
  switch (es) {
  case 1: for (int64_t j = 0; j < n; j++) ((uint8_t *)o)[j] = *(const uint8_t *)(in + j * sb); break;
  case 2: for (int64_t j = 0; j < n; j++) memcpy(o + j * 2, in + j * sb, 2); break;
  case 4: for (int64_t j = 0; j < n; j++) memcpy(o + j * 4, in + j * sb, 4); break;
  case 8: for (int64_t j = 0; j < n; j++) memcpy(o + j * 8, in + j * sb, 8); break;
  default: for (int64_t j = 0; j < n; j++) memcpy(o + (size_t)j * es, in + j * sb, es); break;
  }
}

void qc_sl_strided_copy(void *dst, const void *src, size_t es, int ndim, const int64_t *out_dims,
                        const int64_t *src_strides, int64_t src_base) {
  /* Drop size-1 dims and merge dims that are contiguous in the source too. */
  int64_t dims[QC_MAX_DIMS + 1], ss[QC_MAX_DIMS + 1];
  int nd = 0;
  for (int d = 0; d < ndim; d++) {
    if (out_dims[d] == 0)
      return;
    if (out_dims[d] == 1)
      continue;
    if (nd > 0 && ss[nd - 1] == src_strides[d] * out_dims[d]) {
      dims[nd - 1] *= out_dims[d];
      ss[nd - 1] = src_strides[d];
      continue;
    }
    dims[nd] = out_dims[d];
    ss[nd] = src_strides[d];
    nd++;
  }
  if (nd == 0) {
    memcpy(dst, (const char *)src + src_base * (int64_t)es, es);
    return;
  }
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; d++)
    rows *= dims[d];
  const int64_t inner = dims[nd - 1], step = ss[nd - 1];
#pragma omp parallel for schedule(static) if (rows * inner > 65536 && rows > 1)
  for (int64_t r = 0; r < rows; r++) {
    int64_t off = src_base, rem = r;
    for (int d = nd - 2; d >= 0; d--) {
      off += (rem % dims[d]) * ss[d];
      rem /= dims[d];
    }
    copy_strided_row((char *)dst + r * inner * (int64_t)es, (const char *)src + off * (int64_t)es, es, inner, step);
  }
}

static void contiguous_strides(const qc_tensor *t, int64_t *strides) {
  int64_t s = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    strides[d] = s;
    s *= t->dims[d];
  }
}

static int need_input(const qc_kernel *k, int i, const qc_tensor **out) {
  *out = qc_in(k, i);
  if (!*out)
    return qc_fail(QC_EINVAL, "missing input %d", i);
  if (qc_dtype_size((*out)->dtype) == 0)
    return qc_fail(QC_EUNSUPPORTED, "tensors of type %s are not supported", qc_dtype_name((*out)->dtype));
  return QC_OK;
}

/* Allocates Y (X's type and rank, the given dims) for Tile and Pad, which
 * fill it row by row along the last axis. *rows is 0 when no row is left to
 * fill (Y is empty, or a scalar now copied from X); otherwise it counts the
 * output rows and in_strides holds X's contiguous strides. */
static int alloc_row_output(qc_kernel *k, const qc_tensor *x, const int64_t *dims, qc_tensor **y,
                            int64_t *in_strides, int64_t *rows) {
  *y = qc_out(k, 0);
  *rows = 0;
  QC_TRY(qc_out_alloc(k, *y, x->dtype, x->ndim, dims));
  if ((*y)->numel == 0)
    return QC_OK;
  if (x->ndim == 0) {
    memcpy((*y)->data, x->data, qc_dtype_size(x->dtype));
    return QC_OK;
  }
  contiguous_strides(x, in_strides);
  *rows = 1;
  for (int d = 0; d < x->ndim - 1; d++)
    *rows *= dims[d];
  return QC_OK;
}

/* The products of the dims before and after axis: the data viewed as
 * [outer, dims[axis], inner]. */
static void around_axis(int ndim, const int64_t *dims, int axis, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < axis; d++)
    *outer *= dims[d];
  for (int d = axis + 1; d < ndim; d++)
    *inner *= dims[d];
}

/* ---- Transpose ---- */

int qc_transpose_shape(qc_kernel *k) {
  const qc_tensor *x;
  QC_TRY(need_input(k, 0, &x));
  const int64_t *perm_attr;
  size_t np;
  QC_TRY(qc_attr_ints(&k->attrs, "perm", &perm_attr, &np));
  int perm[QC_MAX_DIMS], seen[QC_MAX_DIMS] = {0};
  if (perm_attr && (int)np != x->ndim)
    return qc_fail(QC_EINVAL, "perm has %zu entries for a rank-%d input", np, x->ndim);
  for (int d = 0; d < x->ndim; d++) {
    int64_t p = perm_attr ? perm_attr[d] : x->ndim - 1 - d;
    if (p < 0 || p >= x->ndim || seen[p])
      return qc_fail(QC_EINVAL, "perm is not a permutation of 0..%d", x->ndim - 1);
    seen[p] = 1;
    perm[d] = (int)p;
  }
  int64_t in_strides[QC_MAX_DIMS], out_dims[QC_MAX_DIMS], ss[QC_MAX_DIMS];
  contiguous_strides(x, in_strides);
  for (int d = 0; d < x->ndim; d++) {
    out_dims[d] = x->dims[perm[d]];
    ss[d] = in_strides[perm[d]];
  }
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, x->dtype, x->ndim, out_dims));
  qc_sl_strided_copy(y->data, x->data, qc_dtype_size(x->dtype), x->ndim, out_dims, ss, 0);
  return QC_OK;
}

/* ---- Concat ---- */

int qc_concat_shape(qc_kernel *k) {
  const qc_tensor *x0;
  QC_TRY(need_input(k, 0, &x0));
  int64_t axis_attr;
  QC_TRY(qc_attr_int(&k->attrs, "axis", 1, &axis_attr));
  if (k->opset >= 4 && !qc_attr_has(&k->attrs, "axis"))
    return qc_fail(QC_EINVAL, "missing attribute 'axis'");
  if (x0->ndim == 0)
    return qc_fail(QC_EINVAL, "cannot concatenate scalars");
  int axis;
  QC_TRY(qc_sl_axis(axis_attr, x0->ndim, 0, &axis));
  int64_t dims[QC_MAX_DIMS];
  memcpy(dims, x0->dims, sizeof dims);
  dims[axis] = 0;
  for (int i = 0; i < k->ninputs; i++) {
    const qc_tensor *xi;
    QC_TRY(need_input(k, i, &xi));
    if (xi->dtype != x0->dtype || xi->ndim != x0->ndim)
      return qc_fail(QC_EINVAL, "input %d has type/rank %s/%d, expected %s/%d", i, qc_dtype_name(xi->dtype), xi->ndim,
                     qc_dtype_name(x0->dtype), x0->ndim);
    for (int d = 0; d < x0->ndim; d++)
      if (d != axis && xi->dims[d] != x0->dims[d])
        return qc_fail(QC_EINVAL, "input %d dimension %d is %lld, expected %lld", i, d, (long long)xi->dims[d],
                       (long long)x0->dims[d]);
    if (xi->dims[axis] > INT64_MAX - dims[axis])
      return qc_fail(QC_ELIMIT, "concatenated dimension overflows");
    dims[axis] += xi->dims[axis];
  }
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, x0->dtype, x0->ndim, dims));
  const size_t es = qc_dtype_size(x0->dtype);
  int64_t outer, inner;
  around_axis(x0->ndim, dims, axis, &outer, &inner);
  const size_t out_row = (size_t)(dims[axis] * inner) * es;
  size_t col = 0;
  for (int i = 0; i < k->ninputs; i++) {
    const qc_tensor *xi = k->inputs[i];
    const size_t chunk = (size_t)(xi->dims[axis] * inner) * es;
    if (chunk)
      for (int64_t o = 0; o < outer; o++)
        memcpy((char *)y->data + (size_t)o * out_row + col, (const char *)xi->data + (size_t)o * chunk, chunk);
    col += chunk;
  }
  return QC_OK;
}

/* ---- Split ---- */

int qc_split_shape(qc_kernel *k) {
  const qc_tensor *x;
  QC_TRY(need_input(k, 0, &x));
  int64_t axis_attr, num_outputs;
  int axis;
  QC_TRY(qc_attr_int(&k->attrs, "axis", 0, &axis_attr));
  QC_TRY(qc_sl_axis(axis_attr, x->ndim, 0, &axis));
  QC_TRY(qc_attr_int(&k->attrs, "num_outputs", 0, &num_outputs));
  const int n = k->noutputs;
  if (n < 1)
    return qc_fail(QC_EINVAL, "Split has no outputs");
  int64_t *sizes = calloc((size_t)n, sizeof *sizes);
  if (!sizes)
    return qc_fail(QC_ENOMEM, "out of memory");
  const int64_t dim = x->dims[axis];
  int rc = QC_OK;
  const qc_tensor *split_in = k->opset >= 13 ? qc_in(k, 1) : NULL;
  const int64_t *split_attr = NULL;
  size_t nsplit_attr = 0;
  if (k->opset < 13 && (rc = qc_attr_ints(&k->attrs, "split", &split_attr, &nsplit_attr)) < 0)
    goto done;
  if (split_in && split_in->numel == 0 && split_in->ndim == 1 && n != 0)
    split_in = NULL; /* an empty split list means "not given" */
  if (split_in || split_attr) {
    int64_t cnt = split_in ? split_in->numel : (int64_t)nsplit_attr;
    if (split_in && split_in->dtype != QC_DT_INT64 && split_in->dtype != QC_DT_INT32) {
      rc = qc_fail(QC_EINVAL, "'split' must be int64");
      goto done;
    }
    if (cnt != n) {
      rc = qc_fail(QC_EINVAL, "'split' has %lld entries for %d outputs", (long long)cnt, n);
      goto done;
    }
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
      sizes[i] = split_in ? qc_tensor_get_i64(split_in, i) : split_attr[i];
      if (sizes[i] < 0 || sizes[i] > dim - total) {
        rc = qc_fail(QC_EINVAL, "'split' sizes do not sum to dimension %lld", (long long)dim);
        goto done;
      }
      total += sizes[i];
    }
    if (total != dim) {
      rc = qc_fail(QC_EINVAL, "'split' sizes sum to %lld, expected %lld", (long long)total, (long long)dim);
      goto done;
    }
  } else if (num_outputs > 0) {
    if (num_outputs != n) {
      rc = qc_fail(QC_EINVAL, "num_outputs=%lld but the node has %d outputs", (long long)num_outputs, n);
      goto done;
    }
    /* Opset 18: chunks of ceil(dim / n), the last one smaller. */
    int64_t chunk = (dim + n - 1) / n, left = dim;
    for (int i = 0; i < n; i++) {
      sizes[i] = left < chunk ? left : chunk;
      left -= sizes[i];
    }
  } else {
    if (dim % n != 0) {
      rc = qc_fail(QC_EINVAL, "dimension %lld cannot be split evenly into %d outputs", (long long)dim, n);
      goto done;
    }
    for (int i = 0; i < n; i++)
      sizes[i] = dim / n;
  }
  const size_t es = qc_dtype_size(x->dtype);
  int64_t outer, inner;
  around_axis(x->ndim, x->dims, axis, &outer, &inner);
  const size_t in_row = (size_t)(dim * inner) * es;
  size_t col = 0;
  for (int i = 0; i < n; i++) {
    const size_t chunk = (size_t)(sizes[i] * inner) * es;
    qc_tensor *y = qc_out(k, i);
    if (y) {
      int64_t dims[QC_MAX_DIMS];
      memcpy(dims, x->dims, sizeof dims);
      dims[axis] = sizes[i];
      if ((rc = qc_out_alloc(k, y, x->dtype, x->ndim, dims)) < 0)
        goto done;
      if (chunk)
        for (int64_t o = 0; o < outer; o++)
          memcpy((char *)y->data + (size_t)o * chunk, (const char *)x->data + (size_t)o * in_row + col, chunk);
    }
    col += chunk;
  }
done:
  free(sizes);
  return rc;
}

/* ---- Slice ---- */

/* Reads one of Slice's list inputs/attributes into vals. present=0 when absent. */
static int slice_list(const qc_kernel *k, int input, const char *attr, int64_t *vals, int *n, int *present) {
  *present = 0;
  *n = 0;
  if (k->opset >= 10) {
    const qc_tensor *t = qc_in(k, input);
    if (!t)
      return QC_OK;
    QC_TRY(qc_sl_read_ints(t, attr, vals, QC_MAX_DIMS, n));
  } else {
    const int64_t *v;
    size_t cnt;
    QC_TRY(qc_attr_ints(&k->attrs, attr, &v, &cnt));
    if (!v)
      return QC_OK;
    if (cnt > QC_MAX_DIMS)
      return qc_fail(QC_EINVAL, "'%s' has too many entries (%zu)", attr, cnt);
    memcpy(vals, v, cnt * sizeof *v);
    *n = (int)cnt;
  }
  *present = 1;
  return QC_OK;
}

int qc_slice_shape(qc_kernel *k) {
  const qc_tensor *x;
  QC_TRY(need_input(k, 0, &x));
  int64_t starts[QC_MAX_DIMS], ends[QC_MAX_DIMS], axes_v[QC_MAX_DIMS], steps_v[QC_MAX_DIMS];
  int ns, ne, na, nst, has_s, has_e, has_a, has_st;
  QC_TRY(slice_list(k, 1, "starts", starts, &ns, &has_s));
  QC_TRY(slice_list(k, 2, "ends", ends, &ne, &has_e));
  QC_TRY(slice_list(k, 3, "axes", axes_v, &na, &has_a));
  QC_TRY(slice_list(k, 4, "steps", steps_v, &nst, &has_st));
  if (!has_s || !has_e)
    return qc_fail(QC_EINVAL, "Slice needs starts and ends");
  if (ns != ne || (has_a && na != ns) || (has_st && nst != ns))
    return qc_fail(QC_EINVAL, "starts/ends/axes/steps lengths differ (%d/%d/%d/%d)", ns, ne, has_a ? na : ns,
                   has_st ? nst : ns);
  int64_t lo[QC_MAX_DIMS], step[QC_MAX_DIMS], out_dims[QC_MAX_DIMS];
  int seen[QC_MAX_DIMS] = {0};
  for (int d = 0; d < x->ndim; d++) {
    lo[d] = 0;
    step[d] = 1;
    out_dims[d] = x->dims[d];
  }
  if (ns > x->ndim)
    return qc_fail(QC_EINVAL, "%d slice entries for a rank-%d input", ns, x->ndim);
  for (int i = 0; i < ns; i++) {
    int axis;
    QC_TRY(qc_sl_axis(has_a ? axes_v[i] : i, x->ndim, 0, &axis));
    if (seen[axis])
      return qc_fail(QC_EINVAL, "axis %d appears twice in Slice axes", axis);
    seen[axis] = 1;
    const int64_t dim = x->dims[axis], st = has_st ? steps_v[i] : 1;
    if (st == 0)
      return qc_fail(QC_EINVAL, "Slice step must be nonzero");
    if (st == INT64_MIN)
      return qc_fail(QC_EINVAL, "Slice step out of range");
    int64_t s = starts[i], e = ends[i];
    if (s < 0)
      s += dim;
    if (e < 0)
      e += dim;
    int64_t len;
    if (st > 0) {
      s = s < 0 ? 0 : s > dim ? dim : s;
      e = e < 0 ? 0 : e > dim ? dim : e;
      len = e > s ? (e - s - 1) / st + 1 : 0;
    } else {
      s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
      e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
      len = s > e ? (s - e - 1) / (-st) + 1 : 0;
    }
    lo[axis] = s;
    step[axis] = st;
    out_dims[axis] = len;
  }
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, x->dtype, x->ndim, out_dims));
  if (y->numel == 0)
    return QC_OK;
  int64_t in_strides[QC_MAX_DIMS], ss[QC_MAX_DIMS], base = 0;
  contiguous_strides(x, in_strides);
  for (int d = 0; d < x->ndim; d++) {
    ss[d] = in_strides[d] * step[d];
    base += lo[d] * in_strides[d];
  }
  qc_sl_strided_copy(y->data, x->data, qc_dtype_size(x->dtype), x->ndim, out_dims, ss, base);
  return QC_OK;
}

/* ---- Tile ---- */

int qc_tile_shape(qc_kernel *k) {
  const qc_tensor *x, *r;
  QC_TRY(need_input(k, 0, &x));
  QC_TRY(need_input(k, 1, &r));
  int64_t reps[QC_MAX_DIMS], dims[QC_MAX_DIMS];
  int n;
  QC_TRY(qc_sl_read_ints(r, "repeats", reps, QC_MAX_DIMS, &n));
  if (n != x->ndim)
    return qc_fail(QC_EINVAL, "repeats has %d entries for a rank-%d input", n, x->ndim);
  for (int d = 0; d < n; d++) {
    if (reps[d] < 0)
      return qc_fail(QC_EINVAL, "repeats[%d] = %lld is negative", d, (long long)reps[d]);
    if (reps[d] != 0 && x->dims[d] > INT64_MAX / reps[d])
      return qc_fail(QC_ELIMIT, "tiled dimension overflows");
    dims[d] = x->dims[d] * reps[d];
  }
  qc_tensor *y;
  int64_t in_strides[QC_MAX_DIMS], rows;
  QC_TRY(alloc_row_output(k, x, dims, &y, in_strides, &rows));
  if (rows == 0)
    return QC_OK;
  const size_t es = qc_dtype_size(x->dtype);
  const int64_t in_last = x->dims[n - 1], out_last = dims[n - 1];
  const size_t row_bytes = (size_t)in_last * es;
#pragma omp parallel for schedule(static) if (y->numel > 65536 && rows > 1)
  for (int64_t row = 0; row < rows; row++) {
    int64_t off = 0, rem = row;
    for (int d = n - 2; d >= 0; d--) {
      off += (rem % dims[d]) % x->dims[d] * in_strides[d];
      rem /= dims[d];
    }
    char *o = (char *)y->data + (size_t)(row * out_last) * es;
    for (int64_t t = 0; t < reps[n - 1]; t++)
      memcpy(o + (size_t)t * row_bytes, (const char *)x->data + (size_t)off * es, row_bytes);
  }
  return QC_OK;
}

/* ---- Gather / GatherElements ---- */

/* Validates and normalizes every index against dim into a new int64 array. */
static int normalize_indices(const qc_tensor *ind, int64_t dim, int64_t **out) {
  if (ind->dtype != QC_DT_INT64 && ind->dtype != QC_DT_INT32)
    return qc_fail(QC_EINVAL, "indices must be int32 or int64, got %s", qc_dtype_name(ind->dtype));
  int64_t *v = malloc(sizeof *v * (size_t)(ind->numel ? ind->numel : 1));
  if (!v)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int64_t i = 0; i < ind->numel; i++) {
    int64_t idx = qc_tensor_get_i64(ind, i);
    if (idx < -dim || idx >= dim) {
      free(v);
      return qc_fail(QC_EINVAL, "index %lld is out of range for dimension %lld", (long long)idx, (long long)dim);
    }
    v[i] = idx < 0 ? idx + dim : idx;
  }
  *out = v;
  return QC_OK;
}

/* Gather's and GatherElements' data and indices, and their `axis` as written. */
static int gather_inputs(const qc_kernel *k, const qc_tensor **x, const qc_tensor **ind, int64_t *axis_attr) {
  QC_TRY(need_input(k, 0, x));
  QC_TRY(need_input(k, 1, ind));
  return qc_attr_int(&k->attrs, "axis", 0, axis_attr);
}

int qc_gather_shape(qc_kernel *k) {
  const qc_tensor *x, *ind;
  int64_t axis_attr;
  int axis;
  QC_TRY(gather_inputs(k, &x, &ind, &axis_attr));
  if (x->ndim == 0)
    return qc_fail(QC_EINVAL, "Gather data must have rank >= 1");
  QC_TRY(qc_sl_axis(axis_attr, x->ndim, 0, &axis));
  int out_rank = x->ndim - 1 + ind->ndim;
  if (out_rank > QC_MAX_DIMS)
    return qc_fail(QC_EUNSUPPORTED, "Gather output rank %d exceeds %d", out_rank, QC_MAX_DIMS);
  int64_t dims[QC_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < axis; d++)
    dims[nd++] = x->dims[d];
  for (int d = 0; d < ind->ndim; d++)
    dims[nd++] = ind->dims[d];
  for (int d = axis + 1; d < x->ndim; d++)
    dims[nd++] = x->dims[d];
  int64_t *idx;
  QC_TRY(normalize_indices(ind, x->dims[axis], &idx));
  qc_tensor *y = qc_out(k, 0);
  int rc = qc_out_alloc(k, y, x->dtype, out_rank, dims);
  if (rc == QC_OK && y->numel > 0) {
    const size_t es = qc_dtype_size(x->dtype);
    int64_t outer, inner;
    around_axis(x->ndim, x->dims, axis, &outer, &inner);
    const size_t chunk = (size_t)inner * es;
    const int64_t nidx = ind->numel, dim = x->dims[axis];
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < nidx; i++)
        memcpy((char *)y->data + (size_t)(o * nidx + i) * chunk, (const char *)x->data + (size_t)(o * dim + idx[i]) * chunk,
               chunk);
  }
  free(idx);
  return rc;
}

int qc_gather_elements_shape(qc_kernel *k) {
  const qc_tensor *x, *ind;
  int64_t axis_attr;
  int axis;
  QC_TRY(gather_inputs(k, &x, &ind, &axis_attr));
  if (x->ndim == 0 || ind->ndim != x->ndim)
    return qc_fail(QC_EINVAL, "GatherElements needs data and indices of the same rank >= 1");
  QC_TRY(qc_sl_axis(axis_attr, x->ndim, 0, &axis));
  for (int d = 0; d < x->ndim; d++)
    if (d != axis && ind->dims[d] > x->dims[d])
      return qc_fail(QC_EINVAL, "indices dimension %d (%lld) exceeds data dimension (%lld)", d, (long long)ind->dims[d],
                     (long long)x->dims[d]);
  int64_t *idx;
  QC_TRY(normalize_indices(ind, x->dims[axis], &idx));
  qc_tensor *y = qc_out(k, 0);
  int rc = qc_out_alloc(k, y, x->dtype, ind->ndim, ind->dims);
  if (rc == QC_OK) {
    const size_t es = qc_dtype_size(x->dtype);
    int64_t in_strides[QC_MAX_DIMS];
    contiguous_strides(x, in_strides);
    for (int64_t i = 0; i < ind->numel; i++) {
      int64_t rem = i, off = 0;
      for (int d = ind->ndim - 1; d >= 0; d--) {
        int64_t c = rem % ind->dims[d];
        rem /= ind->dims[d];
        off += (d == axis ? idx[i] : c) * in_strides[d];
      }
      memcpy((char *)y->data + (size_t)i * es, (const char *)x->data + (size_t)off * es, es);
    }
  }
  free(idx);
  return rc;
}

/* ---- DepthToSpace / SpaceToDepth ---- */

/* DepthToSpace's and SpaceToDepth's 4-D input X and attribute blocksize b. */
static int block_input(const qc_kernel *k, const qc_tensor **xp, int64_t *b) {
  QC_TRY(need_input(k, 0, xp));
  const qc_tensor *x = *xp;
  QC_TRY(qc_attr_int(&k->attrs, "blocksize", 0, b));
  if (*b <= 0 || *b > 4096)
    return qc_fail(QC_EINVAL, "blocksize must be positive, got %lld", (long long)*b);
  if (x->ndim != 4)
    return qc_fail(QC_EINVAL, "input must be 4-D, got rank %d", x->ndim);
  if (x->dims[2] > INT64_MAX / *b || x->dims[3] > INT64_MAX / *b || x->dims[1] > INT64_MAX / (*b * *b))
    return qc_fail(QC_ELIMIT, "blocksize %lld overflows the output shape", (long long)*b);
  return QC_OK;
}

/* Allocates the 4-D output odims and fills it in order from X read as the
 * 6-D view dims6 with source strides ss. */
static int rearrange_4d(qc_kernel *k, const qc_tensor *x, const int64_t odims[4], const int64_t dims6[6],
                        const int64_t ss[6]) {
  qc_tensor *y = qc_out(k, 0);
  QC_TRY(qc_out_alloc(k, y, x->dtype, 4, odims));
  qc_sl_strided_copy(y->data, x->data, qc_dtype_size(x->dtype), 6, dims6, ss, 0);
  return QC_OK;
}

int qc_depth_to_space_shape(qc_kernel *k) {
  const qc_tensor *x;
  int64_t b;
  QC_TRY(block_input(k, &x, &b));
  char mode[8];
  QC_TRY(qc_attr_string(&k->attrs, "mode", "DCR", mode, sizeof mode));
  int crd = strcmp(mode, "CRD") == 0;
  if (!crd && strcmp(mode, "DCR") != 0)
    return qc_fail(QC_EINVAL, "unknown DepthToSpace mode '%s'", mode);
  const int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
  if (C % (b * b) != 0)
    return qc_fail(QC_EINVAL, "channels %lld not divisible by blocksize^2 %lld", (long long)C, (long long)(b * b));
  const int64_t Co = C / (b * b), HW = H * W;
  const int64_t odims[4] = {N, Co, H * b, W * b};
  /* Output viewed as [N, Co, H, b1, W, b2]. */
  const int64_t dims6[6] = {N, Co, H, b, W, b};
  const int64_t ss[6] = {C * HW, crd ? b * b * HW : HW, W, crd ? b * HW : b * Co * HW, 1, crd ? HW : Co * HW};
  return rearrange_4d(k, x, odims, dims6, ss);
}

int qc_space_to_depth_shape(qc_kernel *k) {
  const qc_tensor *x;
  int64_t b;
  QC_TRY(block_input(k, &x, &b));
  const int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
  if (H % b != 0 || W % b != 0)
    return qc_fail(QC_EINVAL, "spatial size %lldx%lld not divisible by blocksize %lld", (long long)H, (long long)W,
                   (long long)b);
  const int64_t odims[4] = {N, C * b * b, H / b, W / b};
  /* Output viewed as [N, b1, b2, C, H/b, W/b]. */
  const int64_t dims6[6] = {N, b, b, C, H / b, W / b};
  const int64_t ss[6] = {C * H * W, W, 1, H * W, b * W, b};
  return rearrange_4d(k, x, odims, dims6, ss);
}

/* ---- Pad ---- */

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

/* Source index for padded position i (already shifted by the begin pad); -1 = constant. */
static int64_t pad_source(int64_t i, int64_t n, pad_mode mode) {
  if (i >= 0 && i < n)
    return i;
  switch (mode) {
  case PAD_EDGE: return i < 0 ? 0 : n - 1;
  case PAD_WRAP: return ((i % n) + n) % n;
  case PAD_REFLECT: {
    if (n == 1)
      return 0;
    const int64_t period = 2 * (n - 1);
    int64_t m = ((i % period) + period) % period;
    return m < n ? m : period - m;
  }
  default: return -1;
  }
}

int qc_pad_shape(qc_kernel *k) {
  const qc_tensor *x;
  QC_TRY(need_input(k, 0, &x));
  char mode_s[16];
  QC_TRY(qc_attr_string(&k->attrs, "mode", "constant", mode_s, sizeof mode_s));
  pad_mode mode;
  if (strcmp(mode_s, "constant") == 0)
    mode = PAD_CONSTANT;
  else if (strcmp(mode_s, "reflect") == 0)
    mode = PAD_REFLECT;
  else if (strcmp(mode_s, "edge") == 0)
    mode = PAD_EDGE;
  else if (strcmp(mode_s, "wrap") == 0)
    mode = PAD_WRAP;
  else
    return qc_fail(QC_EINVAL, "unknown Pad mode '%s'", mode_s);
  const size_t es = qc_dtype_size(x->dtype);
  const int r = x->ndim;
  int64_t pads[2 * QC_MAX_DIMS], axes[QC_MAX_DIMS];
  int np, na = r;
  unsigned char value[16] = {0};
  if (k->opset >= 11) {
    const qc_tensor *tp, *tv = qc_in(k, 2), *ta = k->opset >= 18 ? qc_in(k, 3) : NULL;
    QC_TRY(need_input(k, 1, &tp));
    QC_TRY(qc_sl_read_ints(tp, "pads", pads, 2 * QC_MAX_DIMS, &np));
    if (tv && tv->numel > 0) {
      if (tv->dtype != x->dtype)
        return qc_fail(QC_EINVAL, "constant_value type %s differs from data type %s", qc_dtype_name(tv->dtype),
                       qc_dtype_name(x->dtype));
      memcpy(value, tv->data, es);
    }
    if (ta)
      QC_TRY(qc_sl_read_ints(ta, "axes", axes, QC_MAX_DIMS, &na));
    else
      for (int d = 0; d < r; d++)
        axes[d] = d;
  } else {
    const int64_t *v;
    size_t cnt;
    QC_TRY(qc_attr_ints(&k->attrs, "pads", &v, &cnt));
    if (!v || cnt > 2 * QC_MAX_DIMS)
      return qc_fail(QC_EINVAL, "Pad needs a 'pads' attribute of at most %d entries", 2 * QC_MAX_DIMS);
    memcpy(pads, v, cnt * sizeof *v);
    np = (int)cnt;
    float fv;
    QC_TRY(qc_attr_float(&k->attrs, "value", 0.0f, &fv));
    QC_TRY(qc_sl_store_f64(x->dtype, fv, value));
    for (int d = 0; d < r; d++)
      axes[d] = d;
  }
  if (np != 2 * na)
    return qc_fail(QC_EINVAL, "pads has %d entries, expected %d", np, 2 * na);
  int64_t begin[QC_MAX_DIMS] = {0}, dims[QC_MAX_DIMS];
  int64_t end[QC_MAX_DIMS] = {0};
  int seen[QC_MAX_DIMS] = {0};
  for (int i = 0; i < na; i++) {
    int a;
    QC_TRY(qc_sl_axis(axes[i], r, 0, &a));
    if (seen[a])
      return qc_fail(QC_EINVAL, "axis %d appears twice in Pad axes", a);
    seen[a] = 1;
    begin[a] = pads[i];
    end[a] = pads[i + na];
  }
  for (int d = 0; d < r; d++) {
    const int64_t lim = (int64_t)1 << 48;
    if (begin[d] < -lim || begin[d] > lim || end[d] < -lim || end[d] > lim)
      return qc_fail(QC_EINVAL, "pad amount out of range on axis %d", d);
    dims[d] = x->dims[d] + begin[d] + end[d];
    if (dims[d] < 0)
      return qc_fail(QC_EINVAL, "pads shrink axis %d below zero", d);
    if (mode != PAD_CONSTANT && x->dims[d] == 0 && dims[d] > 0)
      return qc_fail(QC_EINVAL, "cannot %s-pad empty axis %d", mode_s, d);
  }
  qc_tensor *y;
  int64_t in_strides[QC_MAX_DIMS], rows;
  QC_TRY(alloc_row_output(k, x, dims, &y, in_strides, &rows));
  if (rows == 0)
    return QC_OK;
  const int64_t out_last = dims[r - 1], in_last = x->dims[r - 1], b = begin[r - 1];
  /* Interior of the last axis: a single memcpy per row. */
  const int64_t lo = b > 0 ? b : 0, hi = (b + in_last < out_last) ? b + in_last : out_last;
#pragma omp parallel for schedule(static) if (y->numel > 65536 && rows > 1)
  for (int64_t row = 0; row < rows; row++) {
    char *o = (char *)y->data + (size_t)(row * out_last) * es;
    int64_t off = 0, rem = row;
    int outside = 0;
    for (int d = r - 2; d >= 0; d--) {
      int64_t src = pad_source(rem % dims[d] - begin[d], x->dims[d], mode);
      rem /= dims[d];
      if (src < 0)
        outside = 1;
      else
        off += src * in_strides[d];
    }
    const char *in = (const char *)x->data + (size_t)off * es;
    for (int64_t j = 0; j < out_last; j++) {
      if (j == lo && hi > lo && !outside) {
        memcpy(o + (size_t)j * es, in + (size_t)(j - b) * es, (size_t)(hi - lo) * es);
        j = hi - 1;
        continue;
      }
      int64_t src = outside ? -1 : pad_source(j - b, in_last, mode);
      memcpy(o + (size_t)j * es, src < 0 ? (const char *)value : in + (size_t)src * es, es);
    }
  }
  return QC_OK;
}
