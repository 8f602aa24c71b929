/* qconvert MODEL --calib DIR [-o OUT] [--report FILE]...: the main job. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "cli.h"

typedef struct quantize_args {
  const char *model;
  const char *calib;
  const char *output;
  const char **reports;
  int n_reports;
} quantize_args;

static void print_help(void) {
  printf("usage: qconvert MODEL --calib DIR [-o OUT] [--report FILE]...\n"
         "\n"
         "Quantizes MODEL (FP32 ONNX) to int8 QDQ, calibrating activations on the samples in DIR.\n"
         "\n"
         "  --calib DIR|LIST.txt  calibration samples (.png, .npy, .pb), walked recursively\n"
         "  -o, --output OUT      output model (default: MODEL with .int8.onnx, beside it)\n"
         "  --report FILE         write a report; the format follows the extension (repeatable)\n");
}

/* "dir/model.onnx" -> "dir/model.int8.onnx". */
static char *default_output_path(const char *model) {
  size_t n = strlen(model);
  const char *slash = strrchr(model, '/');
  const char *dot = strrchr(model, '.');
  size_t stem = (dot && (!slash || dot > slash) && strcmp(dot, ".onnx") == 0) ? (size_t)(dot - model) : n;
  char *out = malloc(stem + sizeof ".int8.onnx");
  if (out) {
    memcpy(out, model, stem);
    strcpy(out + stem, ".int8.onnx");
  }
  return out;
}

static int parse_args(int argc, char **argv, quantize_args *a) {
  static const struct option opts[] = {{"calib", required_argument, 0, 'c'},
                                       {"output", required_argument, 0, 'o'},
                                       {"report", required_argument, 0, 'R'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  int c;
  opterr = 0;
  a->reports = calloc((size_t)argc + 1, sizeof *a->reports);
  if (!a->reports)
    return qc_fail(QC_ENOMEM, "out of memory");
  while ((c = getopt_long(argc, argv, ":c:o:R:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': a->calib = optarg; break;
    case 'o': a->output = optarg; break;
    case 'R': a->reports[a->n_reports++] = optarg; break;
    case 'h': print_help(); return 1;
    default: return -cli_bad_option("", argv, c) - 100;
    }
  }
  if (optind >= argc)
    return -cli_usage_error("", "missing MODEL") - 100;
  if (optind < argc - 1)
    return -cli_usage_error("", "unexpected argument '%s' (one MODEL at a time)", argv[optind + 1]) - 100;
  a->model = argv[optind];
  if (!a->calib)
    return -cli_usage_error("", "missing --calib DIR (calibration samples are required)") - 100;
  return 0;
}

int cmd_quantize(int argc, char **argv) {
  quantize_args a = {0};
  int rc = parse_args(argc, argv, &a);
  if (rc != 0) {
    free(a.reports);
    return rc == 1 ? 0 : (rc <= -100 ? -(rc + 100) : cli_fail(rc));
  }
  char *output = a.output ? strdup(a.output) : default_output_path(a.model);
  qc_model *m = NULL;
  int exit_code = 0;
  if (!output) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = qc_model_load(a.model, &m)) < 0)
    goto fail;
  if (qc_same_file(a.model, output)) {
    rc = qc_fail(QC_EUSAGE, "output '%s' is the input model; refusing to overwrite it", output);
    goto fail;
  }
  if ((rc = qc_engine_check_ops(m)) < 0)
    goto fail;
  struct stat st;
  if (stat(a.calib, &st) != 0) {
    rc = qc_fail(QC_EUSAGE, "--calib %s: no such file or directory", a.calib);
    goto fail;
  }
  rc = qc_fail(QC_EINTERNAL, "quantization is not implemented in this build yet (%s would be written)", output);
fail:
  exit_code = rc < 0 ? cli_fail(rc) : 0;
  qc_model_free(m);
  free(output);
  free(a.reports);
  return exit_code;
}
