/* Test helper: list and load calibration samples like the driver does.
 *   source_tool PATH COUNT OUTDIR|- [--quiet] [--input NAME:DTYPE:D0,D1,...]... [key=value ...]
 * Prints "count N", one "sample I: PATH..." line per sample, loads all
 * samples in parallel (OpenMP) writing OUTDIR/I_K.npy, then "skipped S". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "npy.h"
#include "qc_test.h"
#include "source.h"

#define MAX_INPUTS 8

static int run(int argc, char **argv) {
  if (argc < 4)
    return qc_fail(QC_EUSAGE, "usage: source_tool PATH COUNT OUTDIR|- [--quiet] [--input N:T:D,..] [k=v]");
  qc_input_spec inputs[MAX_INPUTS];
  char names[MAX_INPUTS][64];
  qc_preprocess_opts pre[MAX_INPUTS];
  memset(pre, 0, sizeof pre);
  int ninputs = 0, quiet = 0;
  for (int i = 4; i < argc; i++) {
    if (strcmp(argv[i], "--quiet") == 0) {
      quiet = 1;
    } else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc && ninputs < MAX_INPUTS) {
      char dtype[16];
      char dims[128];
      qc_input_spec *in = &inputs[ninputs];
      memset(in, 0, sizeof *in);
      if (sscanf(argv[++i], "%63[^:]:%15[^:]:%127s", names[ninputs], dtype, dims) != 3)
        return qc_fail(QC_EUSAGE, "bad --input '%s'", argv[i]);
      in->name = names[ninputs];
      in->dtype = strcmp(dtype, "int64") == 0 ? QC_DT_INT64 : strcmp(dtype, "uint8") == 0 ? QC_DT_UINT8 : QC_DT_FLOAT;
      for (char *s = dims, *end; *s && in->ndim < QC_MAX_DIMS; s = *end == ',' ? end + 1 : end)
        in->dims[in->ndim++] = strtoll(s, &end, 10);
      ninputs++;
    } else {
      char key[64];
      const char *value;
      QC_TRY(qc_tool_key_value(argv[i], key, sizeof key, &value));
      for (int k = 0; k < MAX_INPUTS; k++)
        QC_TRY(qc_preprocess_set_option(&pre[k], key, value));
    }
  }
  qc_source_opts opts = {.path = argv[1], .count = atoll(argv[2]), .preprocess = pre, .warn = stdout, .quiet = quiet};
  qc_calib_source *src;
  QC_TRY(qc_calib_source_open(&opts, inputs, ninputs, &src));
  int64_t n = qc_calib_source_count(src);
  printf("count %lld\n", (long long)n);
  for (int k = 0; k < ninputs; k++) {
    char line[512];
    if (*qc_calib_source_describe(src, k, line, sizeof line))
      printf("%s\n", line);
  }
  for (int64_t i = 0; i < n; i++) {
    printf("sample %lld:", (long long)i);
    for (int k = 0; k < ninputs; k++)
      printf(" %s", qc_calib_source_path(src, i, k));
    printf("\n");
  }
  fflush(stdout);
  int fatal = QC_OK;
  const char *outdir = argv[3];
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < n; i++) {
    qc_tensor t[MAX_INPUTS];
    int rc = qc_calib_source_load(src, i, t);
    if (rc == QC_OK && strcmp(outdir, "-") != 0) {
      for (int k = 0; k < ninputs && rc == QC_OK; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%lld_%d.npy", outdir, (long long)i, k);
        rc = qc_npy_write(path, &t[k]);
      }
    }
    if (rc == QC_OK)
      for (int k = 0; k < ninputs; k++)
        qc_tensor_release(&t[k]);
    if (rc < 0) {
#pragma omp critical
      {
        fprintf(stderr, "error: %s\n", qc_last_error());
        fatal = rc;
      }
    }
  }
  printf("skipped %lld\n", (long long)qc_calib_source_skipped(src));
  int rc = fatal < 0 ? fatal : qc_calib_source_finish(src);
  qc_calib_source_close(src);
  return rc;
}

int main(int argc, char **argv) {
  int rc = run(argc, argv);
  return rc < 0 ? qc_tool_fail("error", rc) : 0;
}
