/* ConvTranspose (float32): per image and group one deterministic GEMM
 *   col (M/g*k x in) = W_g^T (M/g*k x C/g) * X_g (C/g x in)
 * (fmaf over the input channels in order), then col2im adds col into Y,
 * which starts at the bias, tap by tap in row-major order. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "gemm.h"
#include "kernels.h"
#include "scratch.h"

typedef struct conv_transpose_priv {
  qc_window_attrs attrs;
  int64_t group;
  int n_output_padding, n_output_shape;
  int64_t output_padding[QC_WIN_SP], output_shape[QC_WIN_SP + 2];
} conv_transpose_priv; /* read-only after init: the engine may run one node on several threads */

int qc_conv_transpose_init(qc_kernel *k) {
  conv_transpose_priv *p = calloc(1, sizeof *p);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory");
  k->priv = p;
  QC_TRY(qc_conv_attrs_read(k, &p->attrs, &p->group));
  const int64_t *vals;
  size_t n;
  QC_TRY(qc_attr_ints(&k->attrs, "output_padding", &vals, &n));
  if (n > QC_WIN_SP)
    return qc_fail(QC_EUNSUPPORTED, "output_padding has %zu values; at most %d spatial dims are supported", n,
                   QC_WIN_SP);
  for (size_t i = 0; i < n; i++) {
    if (vals[i] < 0 || vals[i] >= ((int64_t)1 << 31))
      return qc_fail(QC_EINVAL, "output_padding value %lld is out of range", (long long)vals[i]);
    p->output_padding[i] = vals[i];
  }
  p->n_output_padding = (int)n;
  QC_TRY(qc_attr_ints(&k->attrs, "output_shape", &vals, &n));
  if (n > QC_WIN_SP + 2)
    return qc_fail(QC_EUNSUPPORTED, "output_shape has %zu values; at most %d spatial dims are supported", n,
                   QC_WIN_SP);
  for (size_t i = 0; i < n; i++) {
    if (vals[i] < 0 || vals[i] >= ((int64_t)1 << 40))
      return qc_fail(QC_EINVAL, "output_shape value %lld is out of range", (long long)vals[i]);
    p->output_shape[i] = vals[i];
  }
  p->n_output_shape = (int)n;
  return QC_OK;
}

/* Validates the inputs and resolves the geometry (in = Y side, out = X side). */
static int conv_transpose_resolve(const qc_kernel *k, qc_window_geom *g) {
  const conv_transpose_priv *p = k->priv;
  const qc_window_attrs *a = &p->attrs;
  const qc_tensor *x = qc_in(k, 0), *w = qc_in(k, 1), *b = qc_in(k, 2);
  QC_TRY(qc_conv_check_xw(k, "ConvTranspose"));
  const int nsp = x->ndim - 2;
  const int64_t C = x->dims[1], G = p->group, M = w->dims[1] * G;
  if (w->dims[0] != C || C % G != 0)
    return qc_fail(QC_EINVAL, "X has %lld channels but W dim 0 is %lld (group %lld)", (long long)C,
                   (long long)w->dims[0], (long long)G);
  QC_TRY(qc_window_attrs_check(a, nsp));
  QC_TRY(qc_conv_check_kernel(a, nsp, w));
  if (p->n_output_padding && p->n_output_padding != nsp)
    return qc_fail(QC_EINVAL, "output_padding has %d values but the input has %d spatial dims",
                   p->n_output_padding, nsp);
  /* output_shape may list only the spatial dims or the full shape. */
  const int64_t *out_shape = NULL;
  if (p->n_output_shape == nsp || p->n_output_shape == nsp + 2)
    out_shape = p->output_shape + (p->n_output_shape - nsp);
  else if (p->n_output_shape)
    return qc_fail(QC_EINVAL, "output_shape has %d values but the input has %d spatial dims", p->n_output_shape,
                   nsp);
  QC_TRY(qc_conv_check_bias(b, M));

  g->nsp = nsp;
  for (int i = 0; i < QC_WIN_SP; i++) {
    g->in[i] = g->out[i] = g->kernel[i] = g->stride[i] = g->dil[i] = 1;
    g->pad_begin[i] = g->pad_end[i] = 0;
  }
  const int same = a->auto_pad == QC_AUTOPAD_SAME_UPPER || a->auto_pad == QC_AUTOPAD_SAME_LOWER;
  for (int j = 0; j < nsp; j++) {
    const int i = QC_WIN_SP - nsp + j;
    const int64_t in = x->dims[2 + j], kern = w->dims[2 + j];
    const int64_t s = a->n_strides ? a->strides[j] : 1, d = a->n_dilations ? a->dilations[j] : 1;
    const int64_t op = p->n_output_padding ? p->output_padding[j] : 0;
    if (kern < 1 || kern >= ((int64_t)1 << 31))
      return qc_fail(QC_EINVAL, "kernel size %lld along spatial dim %d is out of range", (long long)kern, j);
    if (in < 1)
      return qc_fail(QC_EINVAL, "spatial dim %d of X is empty", j);
    const int64_t full = s * (in - 1) + op + (kern - 1) * d + 1;
    int64_t out, pb, pe;
    if (out_shape || same) {
      out = out_shape ? out_shape[j] : in * s;
      const int64_t total = full - out;
      /* Odd padding goes to the end for SAME_UPPER, to the start otherwise.
       * Halves round down (as in the ONNX reference), so a negative total
       * (output_shape larger than the natural size) extends the end. */
      const int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);
      if (a->auto_pad == QC_AUTOPAD_SAME_UPPER) {
        pb = half;
        pe = total - pb;
      } else {
        pe = half;
        pb = total - pe;
      }
    } else {
      pb = pe = 0;
      if (a->auto_pad == QC_AUTOPAD_NOTSET && a->n_pads) {
        pb = a->pads[j];
        pe = a->pads[j + nsp];
      }
      out = full - pb - pe;
    }
    if (out < 0)
      return qc_fail(QC_EINVAL, "output size along spatial dim %d would be %lld", j, (long long)out);
    g->in[i] = out;
    g->out[i] = in;
    g->kernel[i] = kern;
    g->stride[i] = s;
    g->dil[i] = d;
    g->pad_begin[i] = pb;
    g->pad_end[i] = pe;
  }
  return QC_OK;
}

int qc_conv_transpose_geometry(const qc_attrs *attrs, const qc_tensor *x, const qc_tensor *w, qc_window_geom *g,
                               int64_t *group) {
  QC_TRY(qc_attr_int(attrs, "group", 1, group));
  return qc_conv_family_geometry("ConvTranspose", qc_conv_transpose_init, conv_transpose_resolve, attrs, x, w, g);
}

int qc_conv_transpose_shape(qc_kernel *k) {
  const conv_transpose_priv *p = k->priv;
  const qc_tensor *x = qc_in(k, 0), *w = qc_in(k, 1);
  qc_window_geom g;
  QC_TRY(conv_transpose_resolve(k, &g));
  const int nsp = x->ndim - 2;
  int64_t dims[QC_MAX_DIMS] = {x->dims[0], w->dims[1] * p->group};
  for (int j = 0; j < nsp; j++)
    dims[2 + j] = g.in[QC_WIN_SP - nsp + j];
  return qc_out_alloc(k, qc_out(k, 0), QC_DT_FLOAT, x->ndim, dims);
}

int qc_conv_transpose_run(qc_kernel *k) {
  const conv_transpose_priv *p = k->priv;
  qc_window_geom geom;
  QC_TRY(conv_transpose_resolve(k, &geom));
  const qc_window_geom *g = &geom;
  const qc_tensor *xt = qc_in(k, 0), *wt = qc_in(k, 1), *bt = qc_in(k, 2);
  qc_tensor *yt = qc_out(k, 0);
  const float *x = qc_f32(xt), *w = qc_f32(wt), *b = bt ? qc_f32(bt) : NULL;
  float *y = qc_f32(yt);
  const int64_t N = xt->dims[0], C = xt->dims[1], G = p->group, Cg = C / G, Mg = wt->dims[1], M = Mg * G;
  const int64_t ksize = qc_geom_kernel_size(g), xsize = qc_geom_out_size(g), ysize = qc_geom_in_size(g);
  const int64_t rows = Mg * ksize;
  if (N == 0 || M == 0 || ysize == 0)
    return QC_OK;
#pragma omp parallel for schedule(static) if (N * M * ysize > 65536)
  for (int64_t nm = 0; nm < N * M; nm++) {
    float *row = y + nm * ysize;
    const float v = b ? b[nm % M] : 0.0f;
    for (int64_t i = 0; i < ysize; i++)
      row[i] = v;
  }
  if (Cg == 0 || rows == 0 || xsize == 0)
    return QC_OK;
  const int64_t col_dims[2] = {rows, xsize};
  size_t nbytes;
  QC_TRY(qc_shape_bytes(QC_DT_FLOAT, 2, col_dims, &nbytes));
  float *col = qc_scratch(QC_SCRATCH_PLANE, nbytes);
  if (!col)
    return qc_fail(QC_ENOMEM, "out of memory for a %zu-byte col2im buffer", nbytes);
  for (int64_t n = 0; n < N; n++) {
    for (int64_t gi = 0; gi < G; gi++) {
      const qc_gemm_desc d = {.M = rows, .N = xsize, .K = Cg, .a = w + gi * Cg * rows, .lda = rows, .a_trans = 1,
                              .b_kind = QC_BSRC_MATRIX, .b = x + (n * C + gi * Cg) * xsize, .ldb = xsize,
                              .c = col, .ldc = xsize, .y = col};
      QC_TRY(qc_gemm_exec(&d, 1, NULL, NULL));
      qc_col2im_add(col, Mg, g, y + (n * M + gi * Mg) * ysize);
    }
  }
  return QC_OK;
}
