/* Builds a qc_quant_report with awkward content and writes it.
 *   report_tool [--empty] write PATH...   write each report (exit code = qc_exit_code)
 *   report_tool [--empty] print           qc_report_print to stdout
 *   report_tool supported PATH            prints 1 or 0
 * --empty: no ops, tensors or warnings; NULL strings; zero sizes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "qc_test.h"
#include "report/report.h"

static qc_tensor_report tensors[] = {
    {"plain", -1.5f, 2.25f, 0.0147058824f, 102, "uint8", 0},
    {"with \"quotes\"", 0.0f, 6.0f, 0.0235294122f, 0, "uint8", 0},
    {"a,b,c", -3.0f, 3.0f, 0.0236220472f, 0, "int8", 0},
    {"line1\nline2\r\nend", -0.1f, 0.1f, 0.000787401571f, 0, "int8", 0},
    {"tab\there back\\slash", 1e-30f, 3.4e38f, 1.33e36f, -128, "int8", 0},
    {"\xc3\xbc" "n\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9\xe2\x86\x92\xe5\x90\x8d\xf0\x9f\x98\x80", -2, 2, 0.0157f, 128, "uint8", 0},
    {"ctl\x01\x1f" "x", -1, 1, 0.0078f, 128, "uint8", 0},
    {"bad\xff" "utf8\xc3", -1, 1, 0.0078f, 128, "uint8", 0},
    {"nan_range", NAN, INFINITY, NAN, 0, "uint8", 12345678901234ULL},
    {" spaced ", -INFINITY, 0, 1, 0, "int8", 7},
    /* spreadsheet formula injection (CSV) and terminal escapes */
    {"=cmd|' /C calc'!A0", -7.25f, 1, 0.0078f, 128, "uint8", 0},
    {"+1", -1, 1, 0.0078f, 128, "uint8", 0},
    {"-2", -2, 2, 0.0157f, 0, "int8", 0},
    {"@SUM(1)", -1, 1, 0.0078f, 128, "uint8", 0},
    {"  =spaced(1)", -1, 1, 0.0078f, 128, "uint8", 0},
    {"\tcmd", -1, 1, 0.0078f, 128, "uint8", 0},
    {"\x1b[31mred\x1b[0m", -1, 1, 0.0078f, 128, "uint8", 0},
    {"cr\rover", -1, 1, 0.0078f, 128, "uint8", 0},
};

static qc_op_bytes ops[] = {
    {"Conv", 104000, 416000, 104520, 12, 12},
    {"MatMul", 51200, 204800, 51456, 2, 2},
    {"Relu", 0, 0, 0, 12, 0},
};

static const char *warnings[] = {
    "node 'softmax_1': Softmax kept in float",
    "tensor 'nan_range': 12345678901234 NaN/Inf values\nexcluded",
};

static void fill(qc_quant_report *r, int empty) {
  memset(r, 0, sizeof *r);
  if (empty)
    return;
  r->model_path = "models/m\"odel.onnx";
  r->output_path = "out/model.int8.onnx";
  r->fp32_bytes = 426803;
  r->quantized_bytes = 110899;
  r->ops = ops;
  r->n_ops = 3;
  r->nodes_total = 52;
  r->nodes_quantized = 14;
  r->observer = "percentile";
  r->percentile = 99.999;
  r->activation_type = "uint8";
  r->weight_type = "int8";
  r->per_channel = 1;
  r->weight_only = 0;
  r->calibration_samples = 100;
  r->calibration_seconds = 3.25;
  r->total_seconds = 5.5;
  r->threads = 4;
  r->tensors = tensors;
  r->n_tensors = (int)(sizeof tensors / sizeof tensors[0]);
  r->warnings = warnings;
  r->n_warnings = 2;
}

int main(int argc, char **argv) {
  int arg = 1, empty = 0;
  if (arg < argc && strcmp(argv[arg], "--empty") == 0) {
    empty = 1;
    arg++;
  }
  if (arg >= argc) {
    fprintf(stderr, "usage: report_tool [--empty] write PATH... | print | supported PATH\n");
    return 2;
  }
  qc_quant_report r;
  fill(&r, empty);
  const char *cmd = argv[arg++];
  if (strcmp(cmd, "print") == 0) {
    qc_report_print(stdout, &r);
    return 0;
  }
  if (strcmp(cmd, "supported") == 0 && arg < argc) {
    printf("%d\n", qc_report_format_supported(argv[arg]));
    return 0;
  }
  if (strcmp(cmd, "write") != 0)
    return 2;
  for (; arg < argc; arg++) {
    int rc = qc_report_write(argv[arg], &r);
    if (rc != QC_OK)
      return qc_tool_fail("qconvert", rc);
  }
  return 0;
}
