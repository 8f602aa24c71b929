/* qconvert MODEL --calib DIR [options]: the main job.
 *   load -> simplify -> calibrate (or load stats) -> choose qparams and
 *   rewrite to QDQ -> write atomically -> report. */
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/graph.h"
#include "../quant/calibrate.h"
#include "../quant/param_bytes.h"
#include "../quant/qdq.h"
#include "../quant/simplify.h"
#include "../report/report.h"
#include "cli.h"
#include "observer.h"
#include "preprocess.h"
#include "source.h"

#define MAX_LIST 256

typedef struct quantize_args {
  const char *model, *calib, *output;
  const char *reports[MAX_LIST];
  int n_reports;
  const char *load_stats[MAX_LIST];
  int n_load_stats;
  const char *save_stats;
  const char *input_shapes[MAX_LIST];
  int n_input_shapes;
  long calib_count, batch, threads;
  int quiet;
  qc_preprocess_opts pre;
  qc_quant_opts q;
  qc_observer_kind observer;
  double percentile;
  char *exclude_buf, *op_types_buf;
  const char *exclude[MAX_LIST], *op_types[MAX_LIST];
} quantize_args;

static void print_help(void) {
  printf(
      "usage: qconvert MODEL --calib DIR [options]\n"
      "\n"
      "Quantizes MODEL (FP32 ONNX) to int8 in QDQ form, calibrating activation ranges by running\n"
      "the model over the samples in DIR. Writes MODEL.int8.onnx beside MODEL unless -o is given.\n"
      "\n"
      "Input and output:\n"
      "  --calib DIR|LIST.txt    calibration samples (.png, .npy, .pb), DIR walked recursively in\n"
      "                          sorted order; multi-input models read DIR/<input_name>/...\n"
      "  -o, --output OUT        output model (default: MODEL with .int8.onnx)\n"
      "  --report FILE           write a report: .json, .csv or .txt (repeatable)\n"
      "  --calib-count N         use N samples evenly spaced over the sorted list\n"
      "  --batch N               samples per inference (default 1)\n"
      "  --threads N             threads (default: all cores)\n"
      "  --input-shape [NAME=]DIMS  fix dynamic dims, e.g. 1x3x224x224 (repeatable)\n"
      "  --save-stats FILE       save the collected statistics\n"
      "  --load-stats FILE       use saved statistics instead of running calibration (repeatable: merged)\n"
      "  --quiet                 no progress bar or preprocessing echo\n"
      "\n"
      "Image preprocessing (value = (pixel * scale - mean) / std):\n"
      "  --scale S               pixel multiplier (default 1/255)\n"
      "  --mean A[,B,C]  --std A[,B,C]   per-channel mean and std\n"
      "  --color gray|rgb|bgr|rgba       --layout nchw|nhwc\n"
      "  --resize-mode stretch|letterbox|crop   --pad-value V (letterbox fill, default 114)\n"
      "\n"
      "Quantization:\n"
      "  --observer minmax|ema|percentile|entropy|mse   activation range (default mse)\n"
      "  --percentile P          for --observer percentile (default 99.999)\n"
      "  --activation-type uint8|int8   uint8 affine (default) or int8 symmetric activations\n"
      "  --per-tensor            per-tensor weight scales (default per channel)\n"
      "  --weight-only           int8 weights behind DequantizeLinear, float activations\n"
      "  --exclude NODE,...      keep these nodes in FP32\n"
      "  --op-types A,B,...      quantize only these op types (supported: %s)\n",
      qc_qdq_supported_ops());
}

/* "a,b,c" -> list entries pointing into a strdup'd buffer. */
static int split_list(const char *opt, const char *s, char **buf, const char **items, int *n) {
  free(*buf);
  *buf = strdup(s);
  *n = 0;
  if (!*buf)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (char *save = NULL, *tok = strtok_r(*buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == MAX_LIST)
      return qc_fail(QC_EUSAGE, "%s: too many entries", opt);
    items[(*n)++] = tok;
  }
  if (*n == 0)
    return qc_fail(QC_EUSAGE, "%s: empty list", opt);
  return QC_OK;
}

/* Fails early, before any calibration work, if path's directory cannot take a new file. */
static int check_output_dir(const char *opt, const char *path) {
  char dir[4096];
  struct stat st;
  qc_dirname(path, dir, sizeof dir);
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return qc_fail(QC_EUSAGE, "%s %s: directory '%s' does not exist", opt, path, dir);
  if (access(dir, W_OK) != 0)
    return qc_fail(QC_EUSAGE, "%s %s: directory '%s' is not writable", opt, path, dir);
  return QC_OK;
}

enum {
  OPT_CALIB_COUNT = 256, OPT_BATCH, OPT_THREADS, OPT_INPUT_SHAPE, OPT_SAVE_STATS, OPT_LOAD_STATS, OPT_QUIET,
  OPT_SCALE, OPT_MEAN, OPT_STD, OPT_COLOR, OPT_LAYOUT, OPT_RESIZE, OPT_PAD, OPT_OBSERVER, OPT_PERCENTILE,
  OPT_ACT_TYPE, OPT_PER_TENSOR, OPT_WEIGHT_ONLY, OPT_EXCLUDE, OPT_OP_TYPES,
};

/* Returns 0 to run, 1 after --help, or a negative status (message set). */
static int parse_args(int argc, char **argv, quantize_args *a) {
  static const struct option opts[] = {
      {"calib", required_argument, 0, 'c'}, {"output", required_argument, 0, 'o'},
      {"report", required_argument, 0, 'R'}, {"help", no_argument, 0, 'h'},
      {"calib-count", required_argument, 0, OPT_CALIB_COUNT}, {"batch", required_argument, 0, OPT_BATCH},
      {"threads", required_argument, 0, OPT_THREADS}, {"input-shape", required_argument, 0, OPT_INPUT_SHAPE},
      {"save-stats", required_argument, 0, OPT_SAVE_STATS}, {"load-stats", required_argument, 0, OPT_LOAD_STATS},
      {"quiet", no_argument, 0, OPT_QUIET}, {"scale", required_argument, 0, OPT_SCALE},
      {"mean", required_argument, 0, OPT_MEAN}, {"std", required_argument, 0, OPT_STD},
      {"color", required_argument, 0, OPT_COLOR}, {"layout", required_argument, 0, OPT_LAYOUT},
      {"resize-mode", required_argument, 0, OPT_RESIZE}, {"pad-value", required_argument, 0, OPT_PAD},
      {"observer", required_argument, 0, OPT_OBSERVER}, {"percentile", required_argument, 0, OPT_PERCENTILE},
      {"activation-type", required_argument, 0, OPT_ACT_TYPE}, {"per-tensor", no_argument, 0, OPT_PER_TENSOR},
      {"weight-only", no_argument, 0, OPT_WEIGHT_ONLY}, {"exclude", required_argument, 0, OPT_EXCLUDE},
      {"op-types", required_argument, 0, OPT_OP_TYPES}, {0, 0, 0, 0}};
  static const struct {
    int opt;
    const char *key;
  } pre_keys[] = {{OPT_SCALE, "scale"}, {OPT_MEAN, "mean"}, {OPT_STD, "std"}, {OPT_COLOR, "color"},
                  {OPT_LAYOUT, "layout"}, {OPT_RESIZE, "resize"}, {OPT_PAD, "pad"}};
  int c;
  a->batch = 1;
  a->observer = QC_OBS_MSE;
  a->percentile = QC_PERCENTILE_DEFAULT;
  a->q.act_scheme = QC_QS_UINT8_AFFINE;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":c:o:R:h", opts, NULL)) != -1) {
    int rc = QC_OK;
    for (size_t i = 0; i < sizeof pre_keys / sizeof pre_keys[0]; i++)
      if (c == pre_keys[i].opt)
        QC_TRY(qc_preprocess_set_option(&a->pre, pre_keys[i].key, optarg));
    switch (c) {
    case 'c': a->calib = optarg; break;
    case 'o': a->output = optarg; break;
    case 'h': print_help(); return 1;
    case 'R':
    case OPT_LOAD_STATS:
    case OPT_INPUT_SHAPE: {
      const char **list = c == 'R' ? a->reports : c == OPT_LOAD_STATS ? a->load_stats : a->input_shapes;
      int *n = c == 'R' ? &a->n_reports : c == OPT_LOAD_STATS ? &a->n_load_stats : &a->n_input_shapes;
      if (*n == MAX_LIST)
        return qc_fail(QC_EUSAGE, "too many %s options", argv[optind - 2]);
      list[(*n)++] = optarg;
      break;
    }
    case OPT_CALIB_COUNT: rc = cli_parse_int("--calib-count", optarg, 1, 1L << 40, &a->calib_count); break;
    case OPT_BATCH: rc = cli_parse_int("--batch", optarg, 1, 4096, &a->batch); break;
    case OPT_THREADS: rc = cli_parse_int("--threads", optarg, 1, 1024, &a->threads); break;
    case OPT_SAVE_STATS: a->save_stats = optarg; break;
    case OPT_QUIET: a->quiet = 1; break;
    case OPT_OBSERVER: rc = qc_observer_parse(optarg, &a->observer); break;
    case OPT_PERCENTILE:
      rc = cli_parse_float("--percentile", optarg, &a->percentile);
      if (rc == QC_OK && !(a->percentile > 0 && a->percentile <= 100))
        rc = qc_fail(QC_EUSAGE, "--percentile: expected a value in (0, 100], got '%s'", optarg);
      break;
    case OPT_ACT_TYPE:
      if (strcmp(optarg, "uint8") == 0)
        a->q.act_scheme = QC_QS_UINT8_AFFINE;
      else if (strcmp(optarg, "int8") == 0)
        a->q.act_scheme = QC_QS_INT8_SYMMETRIC;
      else
        rc = qc_fail(QC_EUSAGE, "--activation-type: expected uint8 or int8, got '%s'", optarg);
      break;
    case OPT_PER_TENSOR: a->q.per_tensor = 1; break;
    case OPT_WEIGHT_ONLY: a->q.weight_only = 1; break;
    case OPT_EXCLUDE: rc = split_list("--exclude", optarg, &a->exclude_buf, a->exclude, &a->q.n_exclude); break;
    case OPT_OP_TYPES:
      rc = split_list("--op-types", optarg, &a->op_types_buf, a->op_types, &a->q.n_op_types);
      for (int i = 0; rc == QC_OK && i < a->q.n_op_types; i++)
        if (!qc_qdq_op_supported(a->op_types[i]))
          rc = qc_fail(QC_EUSAGE, "--op-types: '%s' cannot be quantized (supported: %s)", a->op_types[i],
                       qc_qdq_supported_ops());
      break;
    case '?':
    case ':': return -(cli_bad_option("", argv, c) + 1000);
    default:
      if (c < OPT_SCALE || c > OPT_PAD)
        return -(cli_bad_option("", argv, c) + 1000);
    }
    QC_TRY(rc);
  }
  if (optind >= argc)
    return -(cli_usage_error("", "missing MODEL") + 1000);
  if (optind < argc - 1)
    return -(cli_usage_error("", "unexpected argument '%s' (one MODEL at a time)", argv[optind + 1]) + 1000);
  a->model = argv[optind];
  if (!a->calib && !a->n_load_stats)
    return -(cli_usage_error("", "missing --calib DIR (or --load-stats FILE)") + 1000);
  for (int i = 0; i < a->n_reports; i++) {
    if (!qc_report_format_supported(a->reports[i]))
      return qc_fail(QC_EUSAGE, "--report %s: unknown report format (use .json, .csv or .txt)", a->reports[i]);
    QC_TRY(check_output_dir("--report", a->reports[i]));
  }
  if (a->output)
    QC_TRY(check_output_dir("-o", a->output));
  a->q.exclude = a->exclude;
  a->q.op_types = a->q.n_op_types ? a->op_types : NULL;
  qc_observer_cfg_default(&a->q.observer, a->observer, a->q.act_scheme);
  a->q.observer.percentile = a->percentile;
  return 0;
}

/* "dir/model.onnx" -> "dir/model.int8.onnx". */
static char *default_output_path(const char *model) {
  size_t n = strlen(model);
  const char *slash = strrchr(model, '/'), *dot = strrchr(model, '.');
  size_t stem = (dot && (!slash || dot > slash) && strcmp(dot, ".onnx") == 0) ? (size_t)(dot - model) : n;
  char *out = malloc(stem + sizeof ".int8.onnx");
  if (out) {
    memcpy(out, model, stem);
    strcpy(out + stem, ".int8.onnx");
  }
  return out;
}

/* Parses "1x3x224x224" into dims. */
static int parse_dims(const char *s, int64_t *dims, int *ndim) {
  *ndim = 0;
  while (*s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0 || v > (1LL << 31) || *ndim == QC_MAX_DIMS || (*end && *end != 'x'))
      return qc_fail(QC_EUSAGE, "--input-shape: bad dimensions '%s' (expected e.g. 1x3x224x224)", s);
    dims[(*ndim)++] = v;
    s = *end ? end + 1 : end;
  }
  return *ndim ? QC_OK : qc_fail(QC_EUSAGE, "--input-shape: empty shape");
}

/* Input specs for the calibration source: the model's input shapes with
 * --input-shape applied; the batch dim becomes 1 (samples are stacked later). */
static int build_input_specs(const quantize_args *a, const qc_graph *g, qc_input_spec *specs) {
  for (int i = 0; i < g->n_inputs; i++) {
    const qc_value *v = &g->values[g->inputs[i]];
    specs[i].name = v->name;
    specs[i].dtype = v->dtype ? v->dtype : QC_DT_FLOAT;
    specs[i].ndim = v->ndim < 0 ? 0 : v->ndim;
    memcpy(specs[i].dims, v->dims, sizeof v->dims);
  }
  for (int k = 0; k < a->n_input_shapes; k++) {
    const char *arg = a->input_shapes[k], *eq = strchr(arg, '=');
    int slot = 0;
    if (eq) {
      slot = -1;
      for (int i = 0; i < g->n_inputs; i++)
        if (strlen(specs[i].name) == (size_t)(eq - arg) && strncmp(specs[i].name, arg, (size_t)(eq - arg)) == 0)
          slot = i;
      if (slot < 0)
        return qc_fail(QC_EUSAGE, "--input-shape %s: the model has no input named '%.*s'", arg, (int)(eq - arg), arg);
    } else if (g->n_inputs != 1) {
      return qc_fail(QC_EUSAGE, "--input-shape %s: the model has %d inputs; use NAME=DIMS", arg, g->n_inputs);
    }
    int64_t dims[QC_MAX_DIMS];
    int ndim;
    QC_TRY(parse_dims(eq ? eq + 1 : arg, dims, &ndim));
    if (specs[slot].ndim && ndim != specs[slot].ndim)
      return qc_fail(QC_EUSAGE, "--input-shape %s: input '%s' has rank %d", arg, specs[slot].name, specs[slot].ndim);
    for (int d = 0; d < ndim; d++)
      if (specs[slot].ndim && specs[slot].dims[d] >= 0 && specs[slot].dims[d] != dims[d])
        return qc_fail(QC_EUSAGE, "--input-shape %s: dim %d of input '%s' is fixed at %lld", arg, d,
                       specs[slot].name, (long long)specs[slot].dims[d]);
    specs[slot].ndim = ndim;
    memcpy(specs[slot].dims, dims, sizeof(int64_t) * (size_t)ndim);
  }
  for (int i = 0; i < g->n_inputs; i++)
    if (specs[i].ndim > 0)
      specs[i].dims[0] = 1;
  return QC_OK;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Calibration: run the model over the samples, or merge saved statistics. */
static int collect_stats(const quantize_args *a, qc_model *m, qc_stats_set *stats, qc_calib_result *res) {
  char fingerprint[128];
  qc_model_fingerprint(m, fingerprint, sizeof fingerprint);
  QC_TRY(qc_calib_register_tensors(m, stats));
  if (a->n_load_stats) {
    for (int i = 0; i < a->n_load_stats; i++)
      QC_TRY(qc_stats_load(a->load_stats[i], fingerprint, stats));
    for (size_t i = 0; i < stats->count; i++)
      if ((int64_t)stats->stats[i]->samples > res->samples)
        res->samples = (int64_t)stats->stats[i]->samples;
    return QC_OK;
  }
  qc_graph *g = m->graph;
  qc_input_spec *specs = calloc((size_t)g->n_inputs + 1, sizeof *specs);
  qc_preprocess_opts *pre = calloc((size_t)g->n_inputs + 1, sizeof *pre);
  qc_calib_source *src = NULL;
  qc_engine *e = NULL;
  int rc = (specs && pre) ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    rc = build_input_specs(a, g, specs);
  for (int i = 0; rc == QC_OK && i < g->n_inputs; i++)
    pre[i] = a->pre;
  qc_source_opts so = {.path = a->calib, .count = a->calib_count, .preprocess = pre, .quiet = a->quiet};
  if (rc == QC_OK)
    rc = qc_calib_source_open(&so, specs, g->n_inputs, &src);
  for (int i = 0; rc == QC_OK && !a->quiet && i < g->n_inputs; i++) {
    char line[512];
    const char *d = qc_calib_source_describe(src, i, line, sizeof line);
    if (d && *d)
      fprintf(stderr, "preprocessing: %s\n", d);
  }
  int threads = a->threads > 0 ? (int)a->threads : omp_get_num_procs();
  qc_engine_opts eo = {.nthreads = threads};
  if (rc == QC_OK)
    rc = qc_engine_create(m, &eo, &e);
  qc_calib_opts co = {.batch = (int)a->batch, .nthreads = threads, .progress = !a->quiet && isatty(2)};
  if (rc == QC_OK)
    rc = qc_calibrate(m, e, src, &co, stats, res);
  if (rc == QC_OK && a->save_stats)
    rc = qc_stats_save(a->save_stats, fingerprint, stats);
  qc_engine_free(e);
  qc_calib_source_close(src);
  free(specs);
  free(pre);
  return rc;
}

static double file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (double)st.st_size : 0;
}

static int cmp_ops(const void *x, const void *y) {
  const qc_op_bytes *a = x, *b = y;
  if (a->fp32_bytes != b->fp32_bytes)
    return a->fp32_bytes < b->fp32_bytes ? 1 : -1;
  return strcmp(a->op_type, b->op_type);
}

static int run(quantize_args *a, const char *output) {
  double t0 = now_s();
  qc_model *m = NULL;
  qc_stats_set stats;
  qc_stats_set_init(&stats);
  qc_calib_result cres = {0};
  qc_quant_summary summary = {0};
  qc_simplify_stats sst = {0};
  qc_op_bytes *ops = NULL;
  int n_ops = 0, rc;
  if ((rc = qc_model_load(a->model, &m)) < 0)
    goto done;
  if (qc_same_file(a->model, output)) {
    rc = qc_fail(QC_EUSAGE, "output '%s' is the input model; refusing to overwrite it", output);
    goto done;
  }
  if ((rc = check_output_dir("output", output)) < 0)
    goto done;
  if ((rc = qc_engine_check_ops(m)) < 0 || (rc = qc_param_bytes(m, 0, &ops, &n_ops)) < 0)
    goto done;
  if ((rc = qc_pass_simplify(m, &sst)) < 0)
    goto done;
  if ((rc = collect_stats(a, m, &stats, &cres)) < 0)
    goto done;
  if ((rc = qc_pass_quantize(m, &stats, &a->q, &summary)) < 0)
    goto done;
  if ((rc = qc_model_save(m, output, QC_SAVE_INLINE_EXTERNAL)) < 0)
    goto done;
  int total = 0, quantized = 0;
  if ((rc = qc_param_bytes(m, 1, &ops, &n_ops)) < 0 || (rc = qc_count_nodes(m, &ops, &n_ops, &total, &quantized)) < 0)
    goto done;
  qsort(ops, (size_t)n_ops, sizeof *ops, cmp_ops);
  qc_quant_report r = {
      .model_path = a->model, .output_path = output, .fp32_bytes = file_size(a->model),
      .quantized_bytes = file_size(output), .ops = ops, .n_ops = n_ops, .nodes_total = total,
      .nodes_quantized = quantized, .observer = qc_observer_name(a->observer),
      .activation_type = a->q.act_scheme == QC_QS_UINT8_AFFINE ? "uint8" : "int8", .weight_type = "int8",
      .per_channel = !a->q.per_tensor, .weight_only = a->q.weight_only, .percentile = a->percentile,
      .calibration_samples = cres.samples, .calibration_seconds = cres.seconds,
      .threads = a->threads > 0 ? (int)a->threads : omp_get_num_procs(), .tensors = summary.tensors,
      .n_tensors = summary.n_tensors, .warnings = (const char **)summary.warnings, .n_warnings = summary.n_warnings};
  r.total_seconds = now_s() - t0;
  for (int i = 0; rc == QC_OK && i < a->n_reports; i++)
    rc = qc_report_write(a->reports[i], &r);
  if (rc == QC_OK)
    qc_report_print(stdout, &r);
done:
  qc_quant_summary_free(&summary);
  qc_stats_set_free(&stats);
  free(ops);
  qc_model_free(m);
  return rc;
}

int cmd_quantize(int argc, char **argv) {
  quantize_args *a = calloc(1, sizeof *a);
  if (!a)
    return cli_fail(qc_fail(QC_ENOMEM, "out of memory"));
  int rc = parse_args(argc, argv, a), exit_code = 0;
  if (rc <= -1000) {
    exit_code = -rc - 1000; /* usage message already printed */
  } else if (rc < 0) {
    exit_code = cli_fail(rc);
  } else if (rc == 0) {
    qc_install_signal_handlers();
    char *output = a->output ? strdup(a->output) : default_output_path(a->model);
    rc = output ? run(a, output) : qc_fail(QC_ENOMEM, "out of memory");
    if (rc < 0)
      exit_code = cli_fail(rc);
    free(output);
  }
  free(a->exclude_buf);
  free(a->op_types_buf);
  free(a);
  return exit_code;
}
