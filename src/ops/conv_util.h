/* Window geometry shared by Conv, ConvTranspose and the pooling ops.
 *
 * All spatial loops work in 3-D: 1-D and 2-D inputs get leading spatial
 * dims of size 1 (kernel 1, stride 1, no padding), so one loop nest
 * serves every rank. Index 0 is depth, 1 height, 2 width. */
#ifndef QC_CONV_UTIL_H
#define QC_CONV_UTIL_H

#include <stdint.h>

#include "op.h"

#define QC_WIN_SP 3 /* spatial ranks handled: 1..3 */

/* Hot hand-written loops get AVX-512 and AVX2+FMA clones picked at load
 * time (ifunc), so the portable baseline build still runs fast. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* Chosen by instruction-set level, not CPU model, so newer CPUs get the AVX-512 clone too. */
#define QC_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define QC_MULTIVERSION
#endif

enum { QC_AUTOPAD_NOTSET, QC_AUTOPAD_SAME_UPPER, QC_AUTOPAD_SAME_LOWER, QC_AUTOPAD_VALID };

/* Window attributes as written on the node; n_* is 0 when absent. */
typedef struct qc_window_attrs {
  int auto_pad;
  int n_kernel, n_strides, n_dilations, n_pads;
  int64_t kernel[QC_WIN_SP], strides[QC_WIN_SP], dilations[QC_WIN_SP], pads[2 * QC_WIN_SP];
} qc_window_attrs;

/* Resolved geometry, padded to 3-D. `in` is the image side and `out`
 * the column side: image position = out_pos * stride - pad_begin + k * dil.
 * For Conv/pooling in = X and out = Y; for ConvTranspose in = Y and out = X. */
typedef struct qc_window_geom {
  int nsp; /* real spatial rank */
  int64_t in[QC_WIN_SP], out[QC_WIN_SP], kernel[QC_WIN_SP], stride[QC_WIN_SP], dil[QC_WIN_SP];
  int64_t pad_begin[QC_WIN_SP], pad_end[QC_WIN_SP];
} qc_window_geom;

/* Reads auto_pad, kernel_shape, strides, pads and (if with_dilations) dilations. */
int qc_window_attrs_read(const qc_kernel *k, int with_dilations, qc_window_attrs *a);
/* Conv's and ConvTranspose's shared attributes: the window (with dilations)
 * and `group` (>= 1). */
int qc_conv_attrs_read(const qc_kernel *k, qc_window_attrs *a, int64_t *group);

/* Checks the attribute list lengths against the spatial rank nsp. */
int qc_window_attrs_check(const qc_window_attrs *a, int nsp);

/* Forward (Conv/pool) geometry for spatial input in_sp and kernel kernel_sp
 * (nsp entries each). ceil_mode applies to explicit pads only. */
int qc_window_resolve(const qc_window_attrs *a, int nsp, const int64_t *in_sp, const int64_t *kernel_sp,
                      int ceil_mode, qc_window_geom *g);

/* A Conv's / ConvTranspose's resolved geometry and group for input x and
 * weight w under the node's attributes, as the kernel computes them (for
 * analyses outside the engine, e.g. bias correction's per-tap input sums). */
int qc_conv_geometry(const qc_attrs *attrs, const qc_tensor *x, const qc_tensor *w, qc_window_geom *g,
                     int64_t *group);
int qc_conv_transpose_geometry(const qc_attrs *attrs, const qc_tensor *x, const qc_tensor *w, qc_window_geom *g,
                               int64_t *group);
/* Their shared body: the kernel's init and geometry resolution on x and w
 * alone (no output computed). */
int qc_conv_family_geometry(const char *op_type, int (*init)(qc_kernel *),
                            int (*resolve)(const qc_kernel *, qc_window_geom *), const qc_attrs *attrs,
                            const qc_tensor *x, const qc_tensor *w, qc_window_geom *g);

/* Checks X is a float tensor of rank 3..5 (N, C, spatial...). */
int qc_check_spatial_input(const qc_tensor *x, const char *what);

/* Conv's and ConvTranspose's common input checks: X, W and Y present, X
 * a float spatial input, W float and of X's rank. */
int qc_conv_check_xw(const qc_kernel *k, const char *op_type);
/* kernel_shape, where given, equals W's spatial dims (first nsp of them). */
int qc_conv_check_kernel(const qc_window_attrs *a, int nsp, const qc_tensor *w);
/* The optional bias B is a float vector of M elements. */
int qc_conv_check_bias(const qc_tensor *b, int64_t M);

/* Output positions o in [0, n_out) with 0 <= o * stride + offset < n_in
 * form [*lo, *hi) (stride > 0). Used to skip padding without branches. */
static inline void qc_valid_range(int64_t offset, int64_t stride, int64_t n_in, int64_t n_out, int64_t *lo,
                                  int64_t *hi) {
  /* Stride 1 (most windows) needs no division; im2col calls this per row. */
  int64_t l = offset >= 0 ? 0 : stride == 1 ? -offset : (-offset + stride - 1) / stride;
  int64_t h = n_in - offset <= 0 ? 0 : stride == 1 ? n_in - offset : (n_in - offset + stride - 1) / stride;
  if (l > n_out)
    l = n_out;
  if (h > n_out)
    h = n_out;
  if (h < l)
    h = l;
  *lo = l;
  *hi = h;
}

static inline int64_t qc_geom_kernel_size(const qc_window_geom *g) {
  return g->kernel[0] * g->kernel[1] * g->kernel[2];
}
static inline int64_t qc_geom_in_size(const qc_window_geom *g) { return g->in[0] * g->in[1] * g->in[2]; }
static inline int64_t qc_geom_out_size(const qc_window_geom *g) { return g->out[0] * g->out[1] * g->out[2]; }

/* One im2col row: dst[p - p0] = img[c, id, ih, iw] (0 in the padding) for
 * the tap (kd, kh, kw) of one channel plane src and the flattened output
 * positions p = (od, oh, ow) in [p0, p0 + np). */
void qc_im2col_row(const float *src, float *dst, const qc_window_geom *g, int64_t kd, int64_t kh, int64_t kw,
                   int64_t p0, int64_t np);

/* The adjoint: img[c, id, ih, iw] += col[(c, kd, kh, kw), p] for every
 * in-range position, taps in row-major order (parallel over channels). */
void qc_col2im_add(const float *col, int64_t channels, const qc_window_geom *g, float *img);

#endif
