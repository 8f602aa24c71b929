/* Fuzz target: PNG bytes -> qc_png_decode -> qc_preprocess_image into a
 * fixed 1x3x32x32 float input (stretch), plus letterbox/crop on a gray
 * 1x1x32x48 uint8 input chosen by the first byte's low bit. */
#include <math.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "png_image.h"
#include "preprocess.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  qc_fuzz_setup();
  return 0;
}

static void run_spec(const qc_image *img, const qc_input_spec *spec, const qc_preprocess_opts *opts) {
  qc_preprocess_cfg cfg;
  int rc = qc_preprocess_resolve(opts, spec, &cfg);
  if (rc < 0) {
    fprintf(stderr, "fuzz: fixed spec did not resolve: %s\n", qc_last_error());
    abort();
  }
  qc_tensor t = {0};
  rc = qc_preprocess_image(&cfg, img, "fuzz.png", &t);
  qc_fuzz_check_status(rc);
  if (rc == 0) {
    if (t.numel != cfg.dims[0] * cfg.dims[1] * cfg.dims[2] * cfg.dims[3])
      abort();
    if (t.dtype == QC_DT_FLOAT)
      for (int64_t i = 0; i < t.numel; i++)
        if (!isfinite(qc_f32(&t)[i]))
          abort();
  }
  qc_tensor_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qc_image img;
  int rc = qc_png_decode(data, size, "fuzz.png", &img);
  qc_fuzz_check_status(rc);
  if (rc < 0)
    return 0;
  if (img.width < 1 || img.height < 1 || img.channels < 1 || img.channels > 4 || !img.pixels)
    abort();
  qc_input_spec rgb = {.name = "x", .dtype = QC_DT_FLOAT, .ndim = 4, .dims = {1, 3, 32, 32}};
  qc_preprocess_opts o = {0};
  run_spec(&img, &rgb, &o);
  qc_input_spec gray = {.name = "g", .dtype = QC_DT_UINT8, .ndim = 4, .dims = {1, 1, 32, 48}};
  qc_preprocess_opts o2 = {0};
  o2.resize = (size > 40 && (data[40] & 1)) ? QC_RESIZE_CROP : QC_RESIZE_LETTERBOX;
  run_spec(&img, &gray, &o2);
  qc_image_free(&img);
  return 0;
}
