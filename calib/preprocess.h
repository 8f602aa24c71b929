/* Image preprocessing: a decoded image -> one sample tensor for a model input.
 *
 *   value = (pixel * scale - mean[c]) / std[c]        (float / float16 inputs)
 *
 * pixel is the 0..255 value after colour conversion and resizing; c is the
 * output channel (so for bgr, mean[0] applies to blue). uint8 inputs receive
 * the pixels unchanged. Resizing reproduces PIL's Image.resize(size,
 * Image.BILINEAR) bit for bit (separable triangle filter whose support grows
 * with the downscale factor, 22-bit fixed point, 8-bit intermediate).
 * See docs/preprocessing.md. */
#ifndef QC_PREPROCESS_H
#define QC_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"
#include "png_image.h"

/* A model input as the calibration code sees it (no engine/IR types).
 * dims[i] < 0 means dynamic. */
typedef struct qc_input_spec {
  const char *name;
  qc_dtype dtype;
  int ndim;
  int64_t dims[QC_MAX_DIMS];
} qc_input_spec;

typedef enum qc_color { QC_COLOR_AUTO = 0, QC_COLOR_GRAY, QC_COLOR_RGB, QC_COLOR_BGR, QC_COLOR_RGBA } qc_color;
typedef enum qc_layout { QC_LAYOUT_AUTO = 0, QC_LAYOUT_NCHW, QC_LAYOUT_NHWC } qc_layout;
typedef enum qc_resize_mode { QC_RESIZE_STRETCH = 0, QC_RESIZE_LETTERBOX, QC_RESIZE_CROP } qc_resize_mode;

/* User options. A zeroed struct means "all defaults / infer from the model". */
typedef struct qc_preprocess_opts {
  int scale_set;
  double scale; /* default 1/255 */
  int nmean;    /* 0 (all 0), 1 (broadcast) or one per channel */
  double mean[4];
  int nstd; /* 0 (all 1), 1 or one per channel */
  double std[4];
  qc_color color;
  qc_layout layout;
  int height, width; /* 0: from the model's fixed dims */
  qc_resize_mode resize;
  int pad_set;
  int pad_value; /* letterbox fill, a pixel value 0..255; default 114 */
} qc_preprocess_opts;

/* Fully resolved preprocessing for one input. */
typedef struct qc_preprocess_cfg {
  char input_name[128];
  qc_dtype dtype; /* FLOAT, FLOAT16 or UINT8 */
  qc_color color;
  int channels;
  qc_layout layout;
  int height, width;
  qc_resize_mode resize;
  double scale;
  double mean[4], std[4];
  int pad_value;
  int ndim; /* 3 (CHW/HWC) or 4 (batch 1) */
  int64_t dims[4];
} qc_preprocess_cfg;

/* Sets one option from text, for CLI flags and config files:
 *   scale=0.0039 | scale=1/255   mean=0.485,0.456,0.406   std=0.229,0.224,0.225
 *   color=gray|rgb|bgr|rgba      layout=nchw|nhwc         size=224x224 (HxW)
 *   resize=stretch|letterbox|crop                         pad=114
 * Bad values are QC_EUSAGE naming the option. */
int qc_preprocess_set_option(qc_preprocess_opts *opts, const char *key, const char *value);

/* Combines options with the model input's shape and dtype (inference rules in
 * docs/preprocessing.md). A dynamic H/W without an explicit size is QC_EUSAGE
 * asking for --input-shape. */
int qc_preprocess_resolve(const qc_preprocess_opts *opts, const qc_input_spec *input, qc_preprocess_cfg *cfg);

/* Converts, resizes and normalises `img` into a new owned tensor of shape
 * cfg->dims. `name` (the image path) is used in error messages. Thread-safe. */
int qc_preprocess_image(const qc_preprocess_cfg *cfg, const qc_image *img, const char *name, qc_tensor *out);

/* One line echoing the effective preprocessing, e.g.
 * "input 'x': 1x3x224x224 float nchw rgb, stretch to 224x224 (bilinear, PIL-exact), value = (pixel*0.00392157 - [0,0,0]) / [1,1,1]" */
const char *qc_preprocess_describe(const qc_preprocess_cfg *cfg, char *buf, size_t n);

/* Lower-level pieces, exposed for tests and other tools. */

/* Converts channels: 1/2/3/4-channel input to gray (1), rgb (3) or rgba (4).
 * RGB->gray is PIL's convert('L'): (R*19595 + G*38470 + B*7471 + 32768) >> 16. */
int qc_image_convert(const qc_image *in, int out_channels, qc_image *out);

/* PIL-exact bilinear resize of `in` to full size full_w x full_h, returning
 * only the window [x0, x0+out_w) x [y0, y0+out_h) of that result (so a centre
 * crop never materialises the full resized image). */
int qc_image_resize_window(const qc_image *in, int64_t full_w, int64_t full_h, int64_t x0, int64_t y0, int out_w,
                           int out_h, qc_image *out);

#endif
