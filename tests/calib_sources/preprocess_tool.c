/* Test helper: decode + preprocess one image, or round-trip a .npy file.
 *   preprocess_tool image IN.png OUT.npy SHAPE DTYPE [key=value ...]
 *       SHAPE like 1,3,224,224 (-1 for dynamic); DTYPE float|float16|uint8;
 *       prints the describe line on stdout.
 *   preprocess_tool decode IN.png OUT.npy     (HxWxC uint8 pixels)
 *   preprocess_tool npy IN.npy OUT.npy        (read, then write back) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "npy.h"
#include "png_image.h"
#include "preprocess.h"
#include "qc_test.h"

static int parse_shape(const char *s, qc_input_spec *in) {
  char *end;
  in->ndim = 0;
  while (*s && in->ndim < QC_MAX_DIMS) {
    in->dims[in->ndim++] = strtoll(s, &end, 10);
    if (end == s)
      return qc_fail(QC_EUSAGE, "bad shape");
    s = *end == ',' ? end + 1 : end;
  }
  return QC_OK;
}

static qc_dtype parse_dtype(const char *s) {
  return strcmp(s, "uint8") == 0 ? QC_DT_UINT8 : strcmp(s, "float16") == 0 ? QC_DT_FLOAT16
       : strcmp(s, "int64") == 0 ? QC_DT_INT64 : QC_DT_FLOAT;
}

static int run(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "npy") == 0) {
    qc_tensor t = {0};
    QC_TRY(qc_npy_read(argv[2], &t));
    int rc = qc_npy_write(argv[3], &t);
    printf("%s %d\n", qc_dtype_name(t.dtype), t.ndim);
    qc_tensor_release(&t);
    return rc;
  }
  if (argc >= 4 && strcmp(argv[1], "decode") == 0) {
    qc_image img;
    QC_TRY(qc_png_read(argv[2], &img));
    qc_tensor t = {0};
    int64_t dims[3] = {img.height, img.width, img.channels};
    qc_tensor_wrap(&t, QC_DT_UINT8, 3, dims, img.pixels);
    int rc = qc_npy_write(argv[3], &t);
    qc_image_free(&img);
    return rc;
  }
  if (argc >= 6 && strcmp(argv[1], "image") == 0) {
    qc_input_spec in = {.name = "input", .dtype = parse_dtype(argv[5])};
    QC_TRY(parse_shape(argv[4], &in));
    qc_preprocess_opts opts = {0};
    for (int i = 6; i < argc; i++) {
      char key[64];
      const char *value;
      QC_TRY(qc_tool_key_value(argv[i], key, sizeof key, &value));
      QC_TRY(qc_preprocess_set_option(&opts, key, value));
    }
    qc_preprocess_cfg cfg;
    QC_TRY(qc_preprocess_resolve(&opts, &in, &cfg));
    char line[512];
    printf("%s\n", qc_preprocess_describe(&cfg, line, sizeof line));
    qc_image img;
    QC_TRY(qc_png_read(argv[2], &img));
    qc_tensor t = {0};
    int rc = qc_preprocess_image(&cfg, &img, argv[2], &t);
    qc_image_free(&img);
    if (rc == QC_OK)
      rc = qc_npy_write(argv[3], &t);
    qc_tensor_release(&t);
    return rc;
  }
  return qc_fail(QC_EUSAGE, "usage: preprocess_tool image|decode|npy ...");
}

int main(int argc, char **argv) {
  int rc = run(argc, argv);
  return rc < 0 ? qc_tool_fail("error", rc) : 0;
}
