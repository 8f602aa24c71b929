/* Multidirectional broadcasting: shape rules, collapsed iteration plans and
 * a parallel row driver. See broadcast.h. */
#include "broadcast.h"

#include <string.h>

#include "../core/status.h"
#include "simd.h"

/* Elements per parallel work item; long rows split into chunks this size. */
#define BCAST_CHUNK 32768
#define BCAST_PARALLEL_MIN 65536

int qc_bcast_shape(int nin, const qc_tensor *const *ins, int *ndim, int64_t *dims) {
  int nd = 0;
  for (int i = 0; i < nin; i++)
    if (ins[i] && ins[i]->ndim > nd)
      nd = ins[i]->ndim;
  if (nd > QC_MAX_DIMS)
    return qc_fail(QC_EUNSUPPORTED, "broadcast rank %d exceeds the supported maximum %d", nd, QC_MAX_DIMS);
  for (int k = 0; k < nd; k++) {
    int64_t d = 1;
    int first = -1; /* the input that fixed d, for the error message */
    for (int i = 0; i < nin; i++) {
      const qc_tensor *t = ins[i];
      if (!t)
        continue;
      int off = nd - t->ndim;
      int64_t id = k < off ? 1 : t->dims[k - off];
      if (id == 1)
        continue;
      if (d == 1) {
        d = id;
        first = i;
      } else if (id != d) {
        char s1[128], s2[128];
        return qc_fail(QC_EINVAL, "shapes %s (input %d) and %s (input %d) cannot be broadcast together",
                       qc_shape_str(ins[first]->ndim, ins[first]->dims, s1, sizeof s1), first,
                       qc_shape_str(t->ndim, t->dims, s2, sizeof s2), i);
      }
    }
    dims[k] = d;
  }
  *ndim = nd;
  return QC_OK;
}

int qc_bcast_is_unidirectional(const qc_tensor *t, int ndim, const int64_t *dims) {
  if (t->ndim > ndim)
    return 0;
  int off = ndim - t->ndim;
  for (int k = 0; k < t->ndim; k++)
    if (t->dims[k] != 1 && t->dims[k] != dims[k + off])
      return 0;
  return 1;
}

int qc_bcast_plan(qc_bcast *p, int nin, const qc_tensor *const *ins, int out_ndim, const int64_t *out_dims) {
  if (nin < 1 || nin > QC_BCAST_MAX_INPUTS)
    return qc_fail(QC_EINTERNAL, "broadcast plan for %d inputs (max %d)", nin, QC_BCAST_MAX_INPUTS);
  memset(p, 0, sizeof *p);
  p->nin = nin;
  QC_TRY(qc_shape_numel(out_ndim, out_dims, &p->numel));
  int full[QC_BCAST_MAX_INPUTS][QC_MAX_DIMS];
  int nd = 0;
  for (int k = 0; k < out_ndim; k++) {
    int f[QC_BCAST_MAX_INPUTS];
    for (int i = 0; i < nin; i++) {
      const qc_tensor *t = ins[i];
      int off = out_ndim - t->ndim;
      int64_t id = k < off ? 1 : t->dims[k - off];
      if (off < 0 || (id != out_dims[k] && id != 1)) {
        char s1[128], s2[128];
        return qc_fail(QC_EINVAL, "input %d of shape %s does not broadcast to %s", i,
                       qc_shape_str(t->ndim, t->dims, s1, sizeof s1),
                       qc_shape_str(out_ndim, out_dims, s2, sizeof s2));
      }
      f[i] = id == out_dims[k];
    }
    if (out_dims[k] == 1)
      continue; /* size-1 output dims never move any index */
    int merge = nd > 0;
    for (int i = 0; i < nin && merge; i++)
      if (full[i][nd - 1] != f[i])
        merge = 0;
    if (merge) {
      p->dims[nd - 1] *= out_dims[k];
    } else {
      p->dims[nd] = out_dims[k];
      for (int i = 0; i < nin; i++)
        full[i][nd] = f[i];
      nd++;
    }
  }
  if (nd == 0) { /* scalar-shaped output: one row of one element */
    p->dims[0] = 1;
    for (int i = 0; i < nin; i++)
      full[i][0] = 1;
    nd = 1;
  }
  p->ndim = nd;
  for (int i = 0; i < nin; i++) {
    int64_t s = 1;
    for (int g = nd - 1; g >= 0; g--) {
      p->strides[i][g] = full[i][g] ? s : 0;
      if (full[i][g])
        s *= p->dims[g];
    }
  }
  p->inner = p->dims[nd - 1];
  p->rows = 1;
  for (int g = 0; g < nd - 1; g++)
    p->rows *= p->dims[g];
  return QC_OK;
}

void qc_bcast_row_offsets(const qc_bcast *p, int64_t row, int64_t *offs) {
  for (int i = 0; i < p->nin; i++)
    offs[i] = 0;
  for (int g = p->ndim - 2; g >= 0 && row > 0; g--) {
    int64_t idx = row % p->dims[g];
    row /= p->dims[g];
    for (int i = 0; i < p->nin; i++)
      offs[i] += idx * p->strides[i][g];
  }
}

void qc_bcast_for_each(const qc_bcast *p, qc_bcast_chunk_fn fn, void *ctx, int64_t parallel_min) {
  if (p->numel == 0)
    return;
  int64_t per_row = (p->inner + BCAST_CHUNK - 1) / BCAST_CHUNK;
  int64_t total = p->rows * per_row;
#pragma omp parallel for schedule(static) if (p->numel > parallel_min && total > 1)
  for (int64_t t = 0; t < total; t++) {
    int64_t row = t / per_row, start = (t % per_row) * BCAST_CHUNK;
    int64_t n = p->inner - start < BCAST_CHUNK ? p->inner - start : BCAST_CHUNK;
    int64_t offs[QC_BCAST_MAX_INPUTS];
    qc_bcast_row_offsets(p, row, offs);
    for (int i = 0; i < p->nin; i++)
      offs[i] += start * qc_bcast_step(p, i);
    fn(ctx, p, offs, row * p->inner + start, n);
  }
}

typedef struct binary_ctx {
  const char *a, *b;
  char *out;
  size_t a_size, b_size, out_size;
  qc_binary_row_fn fn;
  const qc_act *post; /* or NULL */
} binary_ctx;

static void binary_chunk(void *vctx, const qc_bcast *p, const int64_t *offs, int64_t out_offset, int64_t n) {
  const binary_ctx *c = vctx;
  c->fn(c->a + (size_t)offs[0] * c->a_size, c->b + (size_t)offs[1] * c->b_size,
        c->out + (size_t)out_offset * c->out_size, n, qc_bcast_step(p, 0), qc_bcast_step(p, 1));
  if (c->post) {
    float *o = (float *)(void *)c->out + out_offset;
    qc_simd()->post_row(o, NULL, o, n, c->post);
  }
}

int qc_bcast_binary(const qc_tensor *a, const qc_tensor *b, qc_tensor *out, qc_binary_row_fn fn) {
  return qc_bcast_binary_post(a, b, out, fn, NULL);
}

int qc_bcast_binary_post(const qc_tensor *a, const qc_tensor *b, qc_tensor *out, qc_binary_row_fn fn,
                         const qc_act *post) {
  if (post && out->dtype != QC_DT_FLOAT)
    return qc_fail(QC_EINTERNAL, "an epilogue needs a float output, got %s", qc_dtype_name(out->dtype));
  const qc_tensor *ins[2] = {a, b};
  qc_bcast plan;
  QC_TRY(qc_bcast_plan(&plan, 2, ins, out->ndim, out->dims));
  binary_ctx c = {a->data, b->data, out->data, qc_dtype_size(a->dtype), qc_dtype_size(b->dtype),
                  qc_dtype_size(out->dtype), fn, post};
  qc_bcast_for_each(&plan, binary_chunk, &c, BCAST_PARALLEL_MIN);
  return QC_OK;
}

int qc_require_io(const qc_kernel *k, int n_inputs) {
  for (int i = 0; i < n_inputs; i++)
    if (!qc_in(k, i))
      return qc_fail(QC_EINVAL, "input %d is missing", i);
  if (!qc_out(k, 0))
    return qc_fail(QC_EINVAL, "output 0 is not used; nothing to compute");
  return QC_OK;
}
