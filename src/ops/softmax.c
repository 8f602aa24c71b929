/* Softmax, LogSoftmax and Hardmax.
 *
 * Before opset 13 the input is coerced to 2-D at `axis` (default 1) and the
 * op normalises each row of the flattened [prod(dims[:axis]), prod(dims[axis:])]
 * matrix. From opset 13 it normalises along the single dimension `axis`
 * (default -1). Both reduce to: outer x n x inner, normalising over n. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "kernels.h"
#include "pmath.h"

/* Without FP-exception semantics gcc can if-convert the selects in the row
 * loops and vmath.h, so they vectorise. Nothing here reads FP flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "vmath.h"

#define PARALLEL_MIN 16384

enum { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX };

typedef struct softmax_priv {
  int kind;
  int64_t axis;
} softmax_priv;

int qc_softmax_init(qc_kernel *k) {
  if (k->ninputs != 1)
    return qc_fail(QC_EINVAL, "needs exactly one input, got %d", k->ninputs);
  softmax_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  p->kind = strcmp(k->op_type, "LogSoftmax") == 0 ? SM_LOGSOFTMAX
            : strcmp(k->op_type, "Hardmax") == 0  ? SM_HARDMAX
                                                  : SM_SOFTMAX;
  return qc_attr_int(&k->attrs, "axis", k->opset >= 13 ? -1 : 1, &p->axis);
}

int qc_softmax_shape(qc_kernel *k) {
  const softmax_priv *p = k->priv;
  QC_TRY(qc_require_io(k, 1));
  const qc_tensor *x = qc_in(k, 0);
  if (x->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EUNSUPPORTED, "%s tensors are not supported", qc_dtype_name(x->dtype));
  int64_t axis = p->axis < 0 ? p->axis + x->ndim : p->axis;
  /* Pre-13 coercion allows axis == rank (one column per row); 13+ does not. */
  int64_t max_axis = k->opset >= 13 ? x->ndim - 1 : x->ndim;
  if (axis < 0 || axis > max_axis || (k->opset >= 13 && x->ndim == 0))
    return qc_fail(QC_EINVAL, "axis %lld is out of range for rank %d", (long long)p->axis, x->ndim);
  return qc_out_alloc(k, qc_out(k, 0), x->dtype, x->ndim, x->dims);
}

/* Normalises one line of n values spaced `stride` apart. */
static void normalise_line(int kind, const float *x, float *y, int64_t n, int64_t stride) {
  float mx = -INFINITY;
  int64_t arg = 0;
  for (int64_t j = 0; j < n; j++)
    if (x[j * stride] > mx) {
      mx = x[j * stride];
      arg = j;
    }
  if (kind == SM_HARDMAX) { /* first occurrence of the maximum, per spec */
    for (int64_t j = 0; j < n; j++)
      y[j * stride] = j == arg ? 1.0f : 0.0f;
    return;
  }
  if (mx == -INFINITY)
    mx = 0; /* all -inf: avoid inf - inf */
  double sum = 0;
  if (kind == SM_SOFTMAX && stride == 1) { /* contiguous: vectorised exp, float partial sums */
    float fsum = 0;
    for (int64_t j = 0; j < n; j++) {
      float e = qc_vexpf(x[j] - mx);
      y[j] = e;
    }
    for (int64_t j = 0; j < n; j++)
      fsum += y[j];
    float inv = 1.0f / fsum;
    for (int64_t j = 0; j < n; j++)
      y[j] *= inv;
  } else if (kind == SM_SOFTMAX) {
    for (int64_t j = 0; j < n; j++) {
      float e = qc_vexpf(x[j * stride] - mx);
      y[j * stride] = e;
      sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n; j++)
      y[j * stride] *= inv;
  } else {
    for (int64_t j = 0; j < n; j++)
      sum += qc_exp_d(x[j * stride] - mx);
    float shift = mx + (float)qc_log_d(sum);
    for (int64_t j = 0; j < n; j++)
      y[j * stride] = x[j * stride] - shift;
  }
}

int qc_softmax_run(qc_kernel *k) {
  const softmax_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0);
  qc_tensor *y = qc_out(k, 0);
  int axis = (int)(p->axis < 0 ? p->axis + x->ndim : p->axis);
  int64_t outer = 1, n = 1, inner = 1;
  for (int d = 0; d < axis; d++)
    outer *= x->dims[d];
  if (k->opset >= 13) {
    n = x->dims[axis];
    for (int d = axis + 1; d < x->ndim; d++)
      inner *= x->dims[d];
  } else {
    for (int d = axis; d < x->ndim; d++)
      n *= x->dims[d];
  }
  if (x->numel == 0)
    return QC_OK;
  const float *in = qc_f32(x);
  float *out = qc_f32(y);
  int64_t lines = outer * inner;
#pragma omp parallel for schedule(static) if (x->numel > PARALLEL_MIN && lines > 1)
  for (int64_t l = 0; l < lines; l++) {
    int64_t o = l / inner, i = l % inner;
    int64_t base = o * n * inner + i;
    normalise_line(p->kind, in + base, out + base, n, inner);
  }
  return QC_OK;
}
