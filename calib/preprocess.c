/* Image preprocessing: channel conversion, PIL-exact bilinear resampling,
 * letterbox/crop geometry and normalisation into a model input tensor. */
#include "preprocess.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/status.h"

/* ---- option parsing ---------------------------------------------------- */

static int parse_double(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  if (end == s)
    return 0;
  if (*end == '/') { /* "1/255" */
    const char *d = end + 1;
    double den = strtod(d, &end);
    if (end == d || den == 0.0)
      return 0;
    *v /= den;
  }
  return *end == 0 && isfinite(*v);
}

static int parse_list(const char *key, const char *value, double *out, int *n) {
  char buf[256];
  *n = 0;
  if ((size_t)snprintf(buf, sizeof buf, "%s", value) >= sizeof buf) /* never parse a truncated list */
    return qc_fail(QC_EUSAGE, "preprocessing option %s: value is too long (%zu characters)", key, strlen(value));
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == 4 || !parse_double(tok, &out[*n]))
      return qc_fail(QC_EUSAGE, "preprocessing option %s=%s: expected 1 to 4 comma-separated numbers", key, value);
    (*n)++;
  }
  if (*n == 0)
    return qc_fail(QC_EUSAGE, "preprocessing option %s is empty", key);
  return QC_OK;
}

int qc_preprocess_set_option(qc_preprocess_opts *o, const char *key, const char *value) {
  if (strcmp(key, "scale") == 0) {
    if (!parse_double(value, &o->scale) || o->scale == 0.0)
      return qc_fail(QC_EUSAGE, "preprocessing option scale=%s: expected a non-zero number such as 1/255", value);
    o->scale_set = 1;
  } else if (strcmp(key, "mean") == 0) {
    QC_TRY(parse_list(key, value, o->mean, &o->nmean));
  } else if (strcmp(key, "std") == 0) {
    QC_TRY(parse_list(key, value, o->std, &o->nstd));
    for (int i = 0; i < o->nstd; i++)
      if (o->std[i] == 0.0)
        return qc_fail(QC_EUSAGE, "preprocessing option std=%s: values must be non-zero", value);
  } else if (strcmp(key, "color") == 0) {
    static const char *names[] = {"gray", "rgb", "bgr", "rgba"};
    o->color = QC_COLOR_AUTO;
    for (int i = 0; i < 4; i++)
      if (strcasecmp(value, names[i]) == 0)
        o->color = (qc_color)(QC_COLOR_GRAY + i);
    if (o->color == QC_COLOR_AUTO)
      return qc_fail(QC_EUSAGE, "preprocessing option color=%s: expected gray, rgb, bgr or rgba", value);
  } else if (strcmp(key, "layout") == 0) {
    if (strcasecmp(value, "nchw") == 0 || strcasecmp(value, "chw") == 0)
      o->layout = QC_LAYOUT_NCHW;
    else if (strcasecmp(value, "nhwc") == 0 || strcasecmp(value, "hwc") == 0)
      o->layout = QC_LAYOUT_NHWC;
    else
      return qc_fail(QC_EUSAGE, "preprocessing option layout=%s: expected nchw or nhwc", value);
  } else if (strcmp(key, "size") == 0) {
    /* strtol, not sscanf("%d"): out-of-range input is undefined there and
     * glibc wraps it ("4294967297x4" would become 1x4). */
    char *end;
    errno = 0;
    long h = strtol(value, &end, 10), w = -1;
    if (end != value && (*end == 'x' || *end == ',')) {
      const char *p = end + 1;
      w = strtol(p, &end, 10);
      if (end == p || *end)
        w = -1;
    }
    if (errno || !isdigit((unsigned char)value[0]) || h < 1 || w < 1 || h > QC_IMAGE_MAX_SIDE ||
        w > QC_IMAGE_MAX_SIDE)
      return qc_fail(QC_EUSAGE, "preprocessing option size=%s: expected HxW, e.g. 224x224", value);
    o->height = h;
    o->width = w;
  } else if (strcmp(key, "resize") == 0) {
    if (strcasecmp(value, "stretch") == 0)
      o->resize = QC_RESIZE_STRETCH;
    else if (strcasecmp(value, "letterbox") == 0)
      o->resize = QC_RESIZE_LETTERBOX;
    else if (strcasecmp(value, "crop") == 0)
      o->resize = QC_RESIZE_CROP;
    else
      return qc_fail(QC_EUSAGE, "preprocessing option resize=%s: expected stretch, letterbox or crop", value);
  } else if (strcmp(key, "pad") == 0) {
    double v;
    if (!parse_double(value, &v) || v < 0 || v > 255 || v != floor(v))
      return qc_fail(QC_EUSAGE, "preprocessing option pad=%s: expected an integer pixel value 0..255", value);
    o->pad_value = (int)v;
    o->pad_set = 1;
  } else {
    return qc_fail(QC_EUSAGE, "unknown preprocessing option '%s' (scale, mean, std, color, layout, size, resize, pad)",
                   key);
  }
  return QC_OK;
}

/* ---- resolving against the model input --------------------------------- */

static int color_channels(qc_color c) { return c == QC_COLOR_GRAY ? 1 : c == QC_COLOR_RGBA ? 4 : 3; }
static const char *color_name(qc_color c) {
  static const char *names[] = {"auto", "gray", "rgb", "bgr", "rgba"};
  return names[c];
}
static int is_channel_count(int64_t d) { return d == 1 || d == 3 || d == 4; }

int qc_preprocess_resolve(const qc_preprocess_opts *o, const qc_input_spec *in, qc_preprocess_cfg *cfg) {
  memset(cfg, 0, sizeof *cfg);
  const char *name = in->name ? in->name : "?";
  snprintf(cfg->input_name, sizeof cfg->input_name, "%s", name);
  char shape[160];
  qc_shape_str(in->ndim, in->dims, shape, sizeof shape);
  if (in->dtype != QC_DT_FLOAT && in->dtype != QC_DT_FLOAT16 && in->dtype != QC_DT_UINT8)
    return qc_fail(QC_EUSAGE, "input '%s' is %s: images can only feed float, float16 or uint8 inputs (use .npy/.pb)",
                   name, qc_dtype_name(in->dtype));
  if (in->ndim != 3 && in->ndim != 4)
    return qc_fail(QC_EUSAGE, "input '%s' has shape %s: images need a 3-D (CHW/HWC) or 4-D (NCHW/NHWC) input", name,
                   shape);
  int b = in->ndim - 3; /* index of the first non-batch dim */
  qc_layout layout = o->layout;
  if (layout == QC_LAYOUT_AUTO) {
    if (is_channel_count(in->dims[b]))
      layout = QC_LAYOUT_NCHW;
    else if (is_channel_count(in->dims[b + 2]))
      layout = QC_LAYOUT_NHWC;
    else
      return qc_fail(QC_EUSAGE, "input '%s' has shape %s: images give 1, 3 or 4 channels but neither dim %d (NCHW) "
                     "nor dim %d (NHWC) has that many; feed .npy/.pb samples, or set layout=nchw or nhwc",
                     name, shape, b, b + 2);
  }
  int cdim = layout == QC_LAYOUT_NCHW ? b : b + 2;
  int hdim = layout == QC_LAYOUT_NCHW ? b + 1 : b;
  int64_t model_c = in->dims[cdim];
  qc_color color = o->color;
  if (color == QC_COLOR_AUTO) {
    color = model_c == 1 ? QC_COLOR_GRAY : model_c == 4 ? QC_COLOR_RGBA : QC_COLOR_RGB;
    if (model_c >= 0 && !is_channel_count(model_c))
      return qc_fail(QC_EUSAGE, "input '%s' has %lld channels (shape %s); images give 1, 3 or 4", name,
                     (long long)model_c, shape);
  } else if (model_c >= 0 && model_c != color_channels(color)) {
    return qc_fail(QC_EUSAGE, "color=%s gives %d channels but input '%s' has %lld (shape %s)", color_name(color),
                   color_channels(color), name, (long long)model_c, shape);
  }
  int64_t mh = in->dims[hdim], mw = in->dims[hdim + 1];
  int h = o->height, w = o->width;
  if (h == 0 || w == 0) {
    if (mh <= 0 || mw <= 0)
      return qc_fail(QC_EUSAGE,
                     "input '%s' has a dynamic height/width (shape %s): pass --input-shape %s:<dims> with a fixed size",
                     name, shape, name);
    if (mh > QC_IMAGE_MAX_SIDE || mw > QC_IMAGE_MAX_SIDE)
      return qc_fail(QC_EUSAGE, "input '%s' size %lldx%lld exceeds %d per side", name, (long long)mh, (long long)mw,
                     QC_IMAGE_MAX_SIDE);
    h = (int)mh;
    w = (int)mw;
  } else if ((mh > 0 && mh != h) || (mw > 0 && mw != w)) {
    return qc_fail(QC_EUSAGE, "size %dx%d does not match input '%s' (shape %s)", h, w, name, shape);
  }
  if (in->ndim == 4 && in->dims[0] > 1)
    return qc_fail(QC_EUSAGE, "input '%s' has a fixed batch of %lld (shape %s); calibration images are fed one per "
                   "batch, so pass --input-shape with batch 1", name, (long long)in->dims[0], shape);

  int nc = color_channels(color);
  if (o->nmean > 1 && o->nmean != nc)
    return qc_fail(QC_EUSAGE, "mean has %d values but input '%s' has %d channels", o->nmean, name, nc);
  if (o->nstd > 1 && o->nstd != nc)
    return qc_fail(QC_EUSAGE, "std has %d values but input '%s' has %d channels", o->nstd, name, nc);
  for (int c = 0; c < nc; c++) {
    cfg->mean[c] = o->nmean == 0 ? 0.0 : o->mean[o->nmean == 1 ? 0 : c];
    cfg->std[c] = o->nstd == 0 ? 1.0 : o->std[o->nstd == 1 ? 0 : c];
  }
  cfg->dtype = in->dtype;
  cfg->color = color;
  cfg->channels = nc;
  cfg->layout = layout;
  cfg->height = h;
  cfg->width = w;
  cfg->resize = o->resize;
  cfg->scale = o->scale_set ? o->scale : 1.0 / 255.0;
  cfg->pad_value = o->pad_set ? o->pad_value : 114;
  /* The value is affine in the pixel, so pixels 0 and 255 bound it: refuse
   * options that would overflow the input type (e.g. a huge scale or a tiny std). */
  if (in->dtype != QC_DT_UINT8) {
    double vmax = in->dtype == QC_DT_FLOAT16 ? 65504.0 : (double)FLT_MAX;
    for (int c = 0; c < nc; c++)
      for (int p = 0; p <= 255; p += 255) {
        double v = ((double)p * cfg->scale - cfg->mean[c]) / cfg->std[c];
        if (!(fabs(v) <= vmax))
          return qc_fail(QC_EUSAGE, "preprocessing (pixel*%g - %g) / %g gives %g for pixel %d, outside the %s range of "
                         "input '%s'; check scale, mean and std", cfg->scale, cfg->mean[c], cfg->std[c], v, p,
                         qc_dtype_name(in->dtype), name);
      }
  }
  cfg->ndim = in->ndim;
  int64_t *d = cfg->dims;
  if (in->ndim == 4)
    *d++ = 1;
  if (layout == QC_LAYOUT_NCHW) {
    d[0] = nc, d[1] = h, d[2] = w;
  } else {
    d[0] = h, d[1] = w, d[2] = nc;
  }
  return QC_OK;
}

const char *qc_preprocess_describe(const qc_preprocess_cfg *cfg, char *buf, size_t n) {
  static const char *modes[] = {"stretch", "letterbox", "crop"};
  char shape[96], pad[32] = "", mean[96] = "", std[96] = "";
  qc_shape_str(cfg->ndim, cfg->dims, shape, sizeof shape);
  if (cfg->resize == QC_RESIZE_LETTERBOX)
    snprintf(pad, sizeof pad, " pad %d", cfg->pad_value);
  for (int c = 0, m = 0, s = 0; c < cfg->channels; c++) {
    m += snprintf(mean + m, sizeof mean - (size_t)m, "%s%g", c ? "," : "", cfg->mean[c]);
    s += snprintf(std + s, sizeof std - (size_t)s, "%s%g", c ? "," : "", cfg->std[c]);
  }
  char formula[256];
  if (cfg->dtype == QC_DT_UINT8)
    snprintf(formula, sizeof formula, "value = pixel (uint8 input, no normalisation)");
  else
    snprintf(formula, sizeof formula, "value = (pixel*%g - [%s]) / [%s]", cfg->scale, mean, std);
  snprintf(buf, n, "input '%s': %s %s %s %s, %s to %dx%d%s (bilinear, PIL-exact), %s", cfg->input_name, shape,
           qc_dtype_name(cfg->dtype), cfg->layout == QC_LAYOUT_NCHW ? (cfg->ndim == 4 ? "nchw" : "chw")
                                                                    : (cfg->ndim == 4 ? "nhwc" : "hwc"),
           color_name(cfg->color), modes[cfg->resize], cfg->height, cfg->width, pad, formula);
  return buf;
}

/* ---- channel conversion ------------------------------------------------- */

int qc_image_convert(const qc_image *in, int oc, qc_image *out) {
  if (oc != 1 && oc != 3 && oc != 4)
    return qc_fail(QC_EINTERNAL, "qc_image_convert: bad channel count %d", oc);
  QC_TRY(qc_image_alloc(out, in->width, in->height, oc));
  size_t npix = (size_t)in->width * (size_t)in->height;
  int ic = in->channels;
  const uint8_t *s = in->pixels;
  uint8_t *d = out->pixels;
  for (size_t i = 0; i < npix; i++, s += ic, d += oc) {
    uint8_t r = s[0], g = ic >= 3 ? s[1] : s[0], b = ic >= 3 ? s[2] : s[0];
    uint8_t a = ic == 2 ? s[1] : ic == 4 ? s[3] : 255;
    if (oc == 1) {
      /* PIL's rgb2l (ITU-R 601-2 luma in 16-bit fixed point, rounded). */
      d[0] = ic >= 3 ? (uint8_t)(((uint32_t)r * 19595 + (uint32_t)g * 38470 + (uint32_t)b * 7471 + 0x8000) >> 16) : r;
    } else {
      d[0] = r, d[1] = g, d[2] = b;
      if (oc == 4)
        d[3] = a;
    }
  }
  return QC_OK;
}

/* ---- PIL-exact bilinear resampling (Pillow's libImaging/Resample.c) ------ */

#define PRECISION_BITS (32 - 8 - 2)

typedef struct axis_coeffs {
  int ksize;
  int *start, *count; /* per output index: first source index and tap count */
  int32_t *weights;   /* out_count * ksize fixed-point taps */
} axis_coeffs;

static void axis_coeffs_free(axis_coeffs *c) {
  free(c->start);
  free(c->count);
  free(c->weights);
}

static double triangle(double x) {
  x = fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* Taps for output indices first .. first+out_count-1 of a full_size-long
 * resampling of in_size samples, exactly as Pillow's precompute_coeffs and
 * normalize_coeffs_8bpc compute them. */
static int axis_coeffs_build(int in_size, int64_t full_size, int64_t first, int out_count, axis_coeffs *c) {
  memset(c, 0, sizeof *c);
  double scale = (double)in_size / (double)full_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  c->ksize = (int)ceil(support) * 2 + 1;
  double *k = malloc(sizeof(double) * (size_t)c->ksize);
  c->start = malloc(sizeof(int) * (size_t)out_count);
  c->count = malloc(sizeof(int) * (size_t)out_count);
  c->weights = calloc((size_t)out_count * (size_t)c->ksize, sizeof(int32_t));
  if (!k || !c->start || !c->count || !c->weights) {
    free(k);
    axis_coeffs_free(c);
    return qc_fail(QC_ENOMEM, "out of memory for resize coefficients");
  }
  for (int i = 0; i < out_count; i++) {
    double center = ((double)(first + i) + 0.5) * scale;
    double ww = 0.0, ss = 1.0 / filterscale;
    int xmin = (int)(center - support + 0.5);
    if (xmin < 0)
      xmin = 0;
    int xmax = (int)(center + support + 0.5);
    if (xmax > in_size)
      xmax = in_size;
    xmax -= xmin;
    if (xmax > c->ksize) /* cannot happen; guards the buffer */
      xmax = c->ksize;
    for (int x = 0; x < xmax; x++) {
      k[x] = triangle((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    int32_t *kk = c->weights + (size_t)i * (size_t)c->ksize;
    for (int x = 0; x < xmax; x++) {
      double v = ww != 0.0 ? k[x] / ww : k[x];
      kk[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS)) : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
    }
    c->start[i] = xmin;
    c->count[i] = xmax < 0 ? 0 : xmax;
  }
  free(k);
  return QC_OK;
}

static inline uint8_t clip8(int32_t v) {
  v >>= PRECISION_BITS;
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

int qc_image_resize_window(const qc_image *in, int64_t full_w, int64_t full_h, int64_t x0, int64_t y0, int out_w,
                           int out_h, qc_image *out) {
  if (full_w < 1 || full_h < 1 || x0 < 0 || y0 < 0 || out_w < 1 || out_h < 1 || x0 + out_w > full_w ||
      y0 + out_h > full_h)
    return qc_fail(QC_EINTERNAL, "resize window out of range");
  const int ch = in->channels;
  axis_coeffs hc = {0}, vc = {0};
  qc_image tmp = {0};
  int rc = axis_coeffs_build(in->width, full_w, x0, out_w, &hc);
  if (rc == QC_OK)
    rc = axis_coeffs_build(in->height, full_h, y0, out_h, &vc);
  /* Source rows the vertical pass reads; the horizontal pass only does those. */
  int row_first = 0, row_end = 0;
  if (rc == QC_OK) {
    row_first = vc.start[0];
    row_end = vc.start[out_h - 1] + vc.count[out_h - 1];
    if (row_end <= row_first)
      row_end = row_first + 1;
    rc = qc_image_alloc(&tmp, out_w, row_end - row_first, ch);
  }
  if (rc == QC_OK)
    rc = qc_image_alloc(out, out_w, out_h, ch);
  if (rc < 0) {
    axis_coeffs_free(&hc);
    axis_coeffs_free(&vc);
    qc_image_free(&tmp);
    return rc;
  }
  /* Pillow skips a pass whose size is unchanged; the taps are then an exact
   * identity anyway, so running it gives the same bytes. */
  for (int y = row_first; y < row_end; y++) {
    const uint8_t *src = in->pixels + (size_t)y * (size_t)in->width * (size_t)ch;
    uint8_t *dst = tmp.pixels + (size_t)(y - row_first) * (size_t)out_w * (size_t)ch;
    for (int x = 0; x < out_w; x++) {
      const int32_t *k = hc.weights + (size_t)x * (size_t)hc.ksize;
      const uint8_t *s = src + (size_t)hc.start[x] * (size_t)ch;
      for (int c = 0; c < ch; c++) {
        int32_t acc = 1 << (PRECISION_BITS - 1);
        for (int t = 0; t < hc.count[x]; t++)
          acc += (int32_t)s[(size_t)t * (size_t)ch + (size_t)c] * k[t];
        dst[(size_t)x * (size_t)ch + (size_t)c] = clip8(acc);
      }
    }
  }
  size_t row_bytes = (size_t)out_w * (size_t)ch;
  for (int y = 0; y < out_h; y++) {
    const int32_t *k = vc.weights + (size_t)y * (size_t)vc.ksize;
    const uint8_t *s = tmp.pixels + (size_t)(vc.start[y] - row_first) * row_bytes;
    uint8_t *dst = out->pixels + (size_t)y * row_bytes;
    for (size_t i = 0; i < row_bytes; i++) {
      int32_t acc = 1 << (PRECISION_BITS - 1);
      for (int t = 0; t < vc.count[y]; t++)
        acc += (int32_t)s[(size_t)t * row_bytes + i] * k[t];
      dst[i] = clip8(acc);
    }
  }
  axis_coeffs_free(&hc);
  axis_coeffs_free(&vc);
  qc_image_free(&tmp);
  return QC_OK;
}

/* ---- geometry and normalisation ---------------------------------------- */

/* round(a * b / c) for positive values, half away from zero, in integers. */
static int64_t scaled_round(int64_t a, int64_t b, int64_t c) { return (2 * a * b + c) / (2 * c); }

typedef struct placement {
  int64_t full_w, full_h; /* size of the resized image */
  int64_t src_x, src_y;   /* window of the resized image that is used */
  int win_w, win_h;
  int dst_x, dst_y; /* where the window lands in the output */
} placement;

static void compute_placement(const qc_preprocess_cfg *cfg, int w, int h, placement *p) {
  int64_t W = cfg->width, H = cfg->height;
  memset(p, 0, sizeof *p);
  if (cfg->resize == QC_RESIZE_STRETCH) {
    p->full_w = W, p->full_h = H;
  } else {
    /* letterbox fits the whole image inside (smaller ratio); crop covers the
     * target (larger ratio). Ratio W/w vs H/h compared exactly as W*h vs H*w. */
    int width_bound = (W * h <= H * w) == (cfg->resize == QC_RESIZE_LETTERBOX);
    if (width_bound) {
      p->full_w = W;
      p->full_h = scaled_round(h, W, w);
    } else {
      p->full_h = H;
      p->full_w = scaled_round(w, H, h);
    }
    if (p->full_w < 1)
      p->full_w = 1;
    if (p->full_h < 1)
      p->full_h = 1;
    if (cfg->resize == QC_RESIZE_LETTERBOX) {
      if (p->full_w > W)
        p->full_w = W;
      if (p->full_h > H)
        p->full_h = H;
      p->dst_x = (int)((W - p->full_w) / 2);
      p->dst_y = (int)((H - p->full_h) / 2);
    } else {
      if (p->full_w < W)
        p->full_w = W;
      if (p->full_h < H)
        p->full_h = H;
      p->src_x = (p->full_w - W) / 2;
      p->src_y = (p->full_h - H) / 2;
    }
  }
  p->win_w = (int)(cfg->resize == QC_RESIZE_CROP ? W : p->full_w);
  p->win_h = (int)(cfg->resize == QC_RESIZE_CROP ? H : p->full_h);
}

int qc_preprocess_image(const qc_preprocess_cfg *cfg, const qc_image *img, const char *name, qc_tensor *out) {
  qc_image conv = {0}, win = {0};
  placement p;
  int rc = qc_image_convert(img, cfg->channels, &conv);
  if (rc == QC_OK) {
    compute_placement(cfg, img->width, img->height, &p);
    rc = qc_image_resize_window(&conv, p.full_w, p.full_h, p.src_x, p.src_y, p.win_w, p.win_h, &win);
  }
  qc_image_free(&conv);
  if (rc == QC_OK)
    rc = qc_tensor_alloc(out, cfg->dtype, cfg->ndim, cfg->dims);
  if (rc < 0) {
    qc_image_free(&win);
    return qc_fail_context(rc, "%s", name);
  }
  const int C = cfg->channels, H = cfg->height, W = cfg->width;
  const int nchw = cfg->layout == QC_LAYOUT_NCHW;
  float lut[4][256]; /* value for each channel and pixel value */
  for (int c = 0; c < C; c++)
    for (int v = 0; v < 256; v++)
      lut[c][v] = (float)(((double)v * cfg->scale - cfg->mean[c]) / cfg->std[c]);
  for (int y = 0; y < H; y++) {
    for (int x = 0; x < W; x++) {
      int wy = y - p.dst_y, wx = x - p.dst_x;
      int inside = wy >= 0 && wy < win.height && wx >= 0 && wx < win.width;
      const uint8_t *px = inside ? win.pixels + ((size_t)wy * (size_t)win.width + (size_t)wx) * (size_t)C : NULL;
      for (int c = 0; c < C; c++) {
        /* bgr reverses the first three channels of the rgb image. */
        int sc = cfg->color == QC_COLOR_BGR ? 2 - c : c;
        uint8_t v = inside ? px[sc] : (uint8_t)cfg->pad_value;
        size_t at = nchw ? ((size_t)c * (size_t)H + (size_t)y) * (size_t)W + (size_t)x
                         : ((size_t)y * (size_t)W + (size_t)x) * (size_t)C + (size_t)c;
        if (cfg->dtype == QC_DT_UINT8)
          qc_u8(out)[at] = v;
        else if (cfg->dtype == QC_DT_FLOAT16)
          ((uint16_t *)out->data)[at] = qc_float_to_half(lut[c][v]);
        else
          qc_f32(out)[at] = lut[c][v];
      }
    }
  }
  qc_image_free(&win);
  return QC_OK;
}
