/* qconvert run MODEL --input FILE... --output-dir DIR: one FP32 inference
 * with the engine, outputs written as TensorProto .pb files. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/model.h"
#include "../io/tensor_proto.h"
#include "../ir/graph.h"
#include "cli.h"
#include "npy.h"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads a .pb (TensorProto) or .npy tensor file. */
static int read_tensor_file(const char *path, qc_tensor *t) {
  if (ends_with(path, ".npy"))
    return qc_npy_read(path, t);
  if (ends_with(path, ".pb"))
    return qc_tensor_read_pb(path, t, NULL);
  return qc_fail(QC_EUSAGE, "%s: input files must be .pb (ONNX TensorProto) or .npy", path);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void print_help(void) {
  printf("usage: qconvert run MODEL --input [NAME=]FILE... --output-dir DIR [options]\n"
         "\n"
         "Runs MODEL once with qconvert's FP32 engine and writes output_0.pb, output_1.pb, ...\n"
         "(ONNX TensorProto, in graph output order) into DIR.\n"
         "\n"
         "  --input [NAME=]FILE  an input tensor, .pb (TensorProto) or .npy (float32 etc., C order);\n"
         "                       without NAME=, inputs are taken in graph input order\n"
         "  --output-dir DIR     where to write the outputs (created if missing)\n"
         "  --repeat N           run N times and print the median milliseconds per run\n"
         "  --threads N          threads (default: all cores)\n");
}

int cmd_run(int argc, char **argv) {
  static const struct option opts[] = {{"input", required_argument, 0, 'i'},
                                       {"output-dir", required_argument, 0, 'o'},
                                       {"repeat", required_argument, 0, 'r'},
                                       {"threads", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char **input_args = calloc((size_t)argc + 1, sizeof *input_args);
  int n_input_args = 0;
  const char *out_dir = NULL;
  long repeat = 0, threads = 0;
  int c, rc = QC_OK, exit_code = 0;
  qc_model *m = NULL;
  qc_engine *e = NULL;
  qc_tensor *inputs = NULL, *outputs = NULL;
  qc_tensor **in_ptrs = NULL;
  double *times = NULL;
  opterr = 0;
  if (!input_args)
    return cli_fail(qc_fail(QC_ENOMEM, "out of memory"));
  while ((c = getopt_long(argc, argv, ":i:o:r:t:h", opts, NULL)) != -1) {
    switch (c) {
    case 'i': input_args[n_input_args++] = optarg; break;
    case 'o': out_dir = optarg; break;
    case 'r':
      if ((rc = cli_parse_int("--repeat", optarg, 1, 1000000, &repeat)) < 0)
        goto fail_rc;
      break;
    case 't':
      if ((rc = cli_parse_int("--threads", optarg, 1, 1024, &threads)) < 0)
        goto fail_rc;
      break;
    case 'h': print_help(); free(input_args); return 0;
    default: free(input_args); return cli_bad_option("run", argv, c);
    }
  }
  if (optind != argc - 1) {
    free(input_args);
    return cli_usage_error("run ", optind >= argc ? "missing MODEL" : "expected one MODEL");
  }
  if (!out_dir) {
    free(input_args);
    return cli_usage_error("run ", "missing --output-dir");
  }
  if ((rc = qc_model_load(argv[optind], &m)) < 0 || (rc = qc_engine_check_ops(m)) < 0)
    goto fail_rc; /* unsupported ops fail before any input is read */
  qc_graph *g = m->graph;
  inputs = calloc((size_t)g->n_inputs + 1, sizeof *inputs);
  in_ptrs = calloc((size_t)g->n_inputs + 1, sizeof *in_ptrs);
  outputs = calloc((size_t)g->n_outputs + 1, sizeof *outputs);
  if (!inputs || !in_ptrs || !outputs) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto fail_rc;
  }
  /* Map --input arguments to graph inputs: by NAME= or by position. */
  int next_pos = 0;
  for (int a = 0; a < n_input_args; a++) {
    const char *arg = input_args[a], *eq = strchr(arg, '='), *path = arg;
    int slot = -1;
    if (eq) {
      char name[512];
      snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
      for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->values[g->inputs[i]].name, name) == 0)
          slot = i;
      if (slot < 0) {
        rc = qc_fail(QC_EUSAGE, "--input %s: the model has no input named '%s'", arg, name);
        goto fail_rc;
      }
      path = eq + 1;
    } else {
      while (next_pos < g->n_inputs && in_ptrs[next_pos])
        next_pos++;
      slot = next_pos;
      if (slot >= g->n_inputs) {
        rc = qc_fail(QC_EUSAGE, "--input %s: the model has only %d inputs", arg, g->n_inputs);
        goto fail_rc;
      }
    }
    if ((rc = read_tensor_file(path, &inputs[slot])) < 0)
      goto fail_rc;
    in_ptrs[slot] = &inputs[slot];
  }
  for (int i = 0; i < g->n_inputs; i++)
    if (!in_ptrs[i]) {
      rc = qc_fail(QC_EUSAGE, "missing --input for model input '%s'", g->values[g->inputs[i]].name);
      goto fail_rc;
    }
  qc_engine_opts eo = {.nthreads = (int)threads};
  if ((rc = qc_engine_create(m, &eo, &e)) < 0)
    goto fail_rc;
  int runs = repeat > 0 ? (int)repeat : 1;
  times = calloc((size_t)runs, sizeof *times);
  if (!times) {
    rc = qc_fail(QC_ENOMEM, "out of memory");
    goto fail_rc;
  }
  if (repeat > 0 && (rc = qc_engine_run(e, in_ptrs, outputs, NULL, NULL)) < 0) /* warm-up */
    goto fail_rc;
  for (int r = 0; r < runs; r++) {
    double t0 = now_ms();
    if ((rc = qc_engine_run(e, in_ptrs, outputs, NULL, NULL)) < 0)
      goto fail_rc;
    times[r] = now_ms() - t0;
  }
  struct stat st;
  if (stat(out_dir, &st) != 0 && mkdir(out_dir, 0777) != 0) {
    rc = qc_fail(QC_EIO, "%s: cannot create the output directory", out_dir);
    goto fail_rc;
  }
  for (int i = 0; i < g->n_outputs; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/output_%d.pb", out_dir, i);
    if ((rc = qc_tensor_write_pb(path, &outputs[i], g->values[g->outputs[i]].name)) < 0)
      goto fail_rc;
  }
  if (repeat > 0) {
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    printf("median %.3f ms per run over %d runs\n", times[runs / 2], runs);
  }
  goto done;
fail_rc:
  exit_code = cli_fail(rc);
done:
  if (inputs && m)
    for (int i = 0; i < m->graph->n_inputs; i++)
      qc_tensor_release(&inputs[i]);
  if (outputs && m)
    for (int i = 0; i < m->graph->n_outputs; i++)
      qc_tensor_release(&outputs[i]);
  free(inputs);
  free(outputs);
  free(in_ptrs);
  free(times);
  free(input_args);
  qc_engine_free(e);
  qc_model_free(m);
  return exit_code;
}
