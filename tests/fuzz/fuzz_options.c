/* Fuzz target: preprocessing option text (qc_preprocess_set_option).
 * Input: lines "key=value" (mean, std, scale, size, pad, color, layout,
 * resize). Accepted options are resolved against a 1x3x32x32 float input
 * (or, with size=, against a dynamic 1x3xHxW one) and applied to a small
 * fixed image: whatever the options, accepted values must give finite
 * output of the resolved shape. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "preprocess.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  qc_fuzz_setup();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  qc_preprocess_opts o;
  memset(&o, 0, sizeof o);
  int ok = 1;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(line, '=');
    if (!eq)
      continue;
    *eq = 0;
    int rc = qc_preprocess_set_option(&o, line, eq + 1);
    qc_fuzz_check_status(rc);
    if (rc < 0)
      ok = 0;
  }
  free(text);
  if (!ok)
    return 0;
  /* Fixed spec unless a size was given (then a dynamic one). Keep the work small. */
  if ((int64_t)o.height * o.width > 256 * 256)
    return 0;
  qc_input_spec spec = {.name = "x", .dtype = QC_DT_FLOAT, .ndim = 4, .dims = {1, 3, 32, 32}};
  if (o.height) {
    spec.dims[2] = -1;
    spec.dims[3] = -1;
  }
  if (o.color == QC_COLOR_GRAY)
    spec.dims[1] = 1;
  else if (o.color == QC_COLOR_RGBA)
    spec.dims[1] = 4;
  if (o.layout == QC_LAYOUT_NHWC) {
    int64_t c = spec.dims[1];
    spec.dims[1] = spec.dims[2], spec.dims[2] = spec.dims[3], spec.dims[3] = c;
  }
  qc_preprocess_cfg cfg;
  int rc = qc_preprocess_resolve(&o, &spec, &cfg);
  qc_fuzz_check_status(rc);
  if (rc < 0)
    return 0;
  qc_image img;
  if (qc_image_alloc(&img, 7, 5, 3) < 0)
    abort();
  for (int i = 0; i < 7 * 5 * 3; i++)
    img.pixels[i] = (uint8_t)(i * 37); /* includes 0 and 255-ish extremes */
  img.pixels[0] = 0;
  img.pixels[1] = 255;
  qc_tensor t = {0};
  rc = qc_preprocess_image(&cfg, &img, "fixed", &t);
  qc_fuzz_check_status(rc);
  if (rc == 0) {
    for (int64_t i = 0; i < t.numel; i++)
      if (!isfinite(qc_f32(&t)[i])) {
        fprintf(stderr, "fuzz: accepted options produced a non-finite input value\n");
        abort();
      }
  }
  qc_tensor_release(&t);
  qc_image_free(&img);
  return 0;
}
