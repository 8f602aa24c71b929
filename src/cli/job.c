/* Shared job code for the main command and `compare`. See job.h. */
#include "job.h"

#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/graph.h"
#include "cli.h"
#include "source.h"

double job_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "a,b,c" -> entries pointing into a strdup'd buffer. */
static int split_list(const char *opt, const char *s, char **buf, const char **items, int max, int *n) {
  free(*buf);
  *buf = strdup(s);
  *n = 0;
  if (!*buf)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (char *save = NULL, *tok = strtok_r(*buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == max)
      return qc_fail(QC_EUSAGE, "%s: too many entries", opt);
    items[(*n)++] = tok;
  }
  return *n ? QC_OK : qc_fail(QC_EUSAGE, "%s: empty list", opt);
}

/* Parses "1x3x224x224" into dims: positive decimal numbers joined by single
 * 'x's, nothing before, between or after (no sign, space or trailing 'x'). */
static int parse_dims(const char *s, int64_t *dims, int *ndim) {
  const char *p = s;
  *ndim = 0;
  do {
    char *end = (char *)p;
    long long v = *p >= '0' && *p <= '9' ? strtoll(p, &end, 10) : 0;
    if (v <= 0 || v > (1LL << 31) || *ndim == QC_MAX_DIMS || (*end && *end != 'x'))
      return qc_fail(QC_EUSAGE, "--input-shape: bad dimensions '%s' (expected e.g. 1x3x224x224)", s);
    dims[(*ndim)++] = v;
    p = *end ? end + 1 : end;
  } while (*p || p[-1] == 'x');
  return QC_OK;
}

enum {
  OPT_CALIB_COUNT = 256, OPT_BATCH, OPT_THREADS, OPT_INPUT_SHAPE, OPT_SAVE_STATS, OPT_LOAD_STATS, OPT_QUIET,
  OPT_SCALE, OPT_MEAN, OPT_STD, OPT_COLOR, OPT_LAYOUT, OPT_RESIZE, OPT_PAD, OPT_OBSERVER, OPT_OBSERVERS,
  OPT_PERCENTILE, OPT_ACT_TYPE, OPT_PER_TENSOR, OPT_WEIGHT_ONLY, OPT_NO_EQUALIZE, OPT_EXCLUDE, OPT_OP_TYPES, OPT_EVAL, OPT_DATA,
  OPT_MIN_SQNR,
};

static void print_help(job_mode mode) {
  if (mode == JOB_EVAL) {
    printf("usage: qconvert eval FP32.onnx [QUANT.onnx] --data DIR [options]\n"
           "\n"
           "Runs the model(s) in qconvert's engine over DIR. Class subfolders give labels (integer names\n"
           "are class indices, other names are numbered in sorted order): FP32 and quantized top-1, top-5\n"
           "(with >= 5 classes). Always: top-1 agreement, output SQNR (dB), cosine similarity, ms/image.\n"
           "\n"
           "  --data DIR              evaluation samples (.png, .npy, .pb)\n"
           "  --report FILE           write the results (.json, .csv, .txt, .html, .png)\n"
           "  --batch N  --threads N  --input-shape [NAME=]DIMS  --quiet\n"
           "  --scale --mean --std --color --layout --resize-mode --pad-value   as for the main job\n");
    return;
  }
  if (mode == JOB_COMPARE)
    printf("usage: qconvert compare MODEL --calib DIR [--observers minmax,ema,percentile,entropy,mse]\n"
           "                        [--eval DIR] [-o BEST_OUT] [--report FILE]... [options]\n"
           "\n"
           "Runs ONE calibration pass, then builds the quantized model in memory for each observer,\n"
           "evaluates it against FP32 (top-1 with a labeled --eval DIR, else agreement and output SQNR)\n"
           "and prints a table marking the best. -o writes the best model.\n\n");
  else
    printf("usage: qconvert MODEL --calib DIR [options]\n"
           "\n"
           "Quantizes MODEL (FP32 ONNX) to int8 in QDQ form, calibrating activation ranges by running\n"
           "the model over the samples in DIR. Writes MODEL.int8.onnx beside MODEL unless -o is given.\n\n");
  printf("Input and output:\n"
         "  --calib DIR|LIST.txt    calibration samples (.png, .npy, .pb), DIR walked recursively in\n"
         "                          sorted order; multi-input models read DIR/<input_name>/...\n"
         "  -o, --output OUT        output model%s\n"
         "  --report FILE           write a report: .json, .csv, .txt, .html or .png (repeatable)\n"
         "  --eval DIR              evaluate FP32 vs INT8: class subfolders give labels (top-1/top-5);\n"
         "                          a flat DIR gives agreement and output SQNR only\n"
         "  --calib-count N         use N samples evenly spaced over the sorted list\n"
         "  --batch N               samples per inference (default 1)\n"
         "  --threads N             threads (default: all cores)\n"
         "  --input-shape [NAME=]DIMS  fix dynamic dims, e.g. 1x3x224x224 (repeatable)\n"
         "  --save-stats FILE       save the statistics: the collected ones or, with --load-stats, the\n"
         "                          merged ones (merges shards into one file)\n"
         "  --load-stats FILE       use saved statistics instead of calibrating (repeatable: merged)\n"
         "  --quiet                 no progress bar or preprocessing echo\n"
         "  Outputs (-o, --report, --save-stats) are written all together once the run succeeds, and\n"
         "  never over an input; a FIFO or character device (e.g. -o /dev/null) is written through.\n"
         "\n"
         "Image preprocessing (value = (pixel * scale - mean) / std):\n"
         "  --scale S               pixel multiplier (default 1/255)\n"
         "  --mean A[,B,C]  --std A[,B,C]   per-channel mean and std\n"
         "  --color gray|rgb|bgr|rgba       --layout nchw|nhwc\n"
         "  --resize-mode stretch|letterbox|crop   --pad-value V (letterbox fill, default 114)\n"
         "\n"
         "Quantization:\n",
         mode == JOB_COMPARE ? " for the best observer (default: none written)" : " (default: MODEL with .int8.onnx)");
  if (mode == JOB_COMPARE)
    printf("  --observers A,B,...     observers to compare (default minmax,ema,percentile,entropy,mse)\n");
  else
    printf("  --observer NAME         minmax|ema|percentile|entropy|mse (default mse: it minimises the\n"
           "                          expected quantization error directly and clips rare outliers)\n");
  printf("  --percentile P          for the percentile observer (default 99.999)\n"
         "  --activation-type uint8|int8   uint8 affine (default) or int8 symmetric activations\n"
         "  --per-tensor            per-tensor weight scales (default per channel)\n"
         "  --weight-only           int8 weights behind DequantizeLinear, float activations\n"
         "  --no-equalize           skip cross-layer equalization of Conv -> [Relu] -> Conv pairs\n"
         "  --exclude NODE,...      keep these nodes in FP32\n"
         "  --op-types A,B,...      quantize only these op types (supported: %s)\n",
         qc_qdq_supported_ops());
  if (mode == JOB_QUANTIZE)
    printf("  --min-sqnr DB           keep the most sensitive nodes in FP32 until the output SQNR vs FP32\n"
           "                          (on --eval data, else 64 calibration samples) reaches DB\n");
}

static int usage(const char *cmd, const char *fmt, const char *arg) {
  return JOB_USAGE_PRINTED - cli_usage_error(cmd, fmt, arg);
}

int job_parse(int argc, char **argv, job_mode mode, job_args *a) {
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
      {"observer", required_argument, 0, OPT_OBSERVER}, {"observers", required_argument, 0, OPT_OBSERVERS},
      {"percentile", required_argument, 0, OPT_PERCENTILE}, {"activation-type", required_argument, 0, OPT_ACT_TYPE},
      {"per-tensor", no_argument, 0, OPT_PER_TENSOR}, {"weight-only", no_argument, 0, OPT_WEIGHT_ONLY},
      {"no-equalize", no_argument, 0, OPT_NO_EQUALIZE},
      {"exclude", required_argument, 0, OPT_EXCLUDE}, {"op-types", required_argument, 0, OPT_OP_TYPES},
      {"eval", required_argument, 0, OPT_EVAL}, {"data", required_argument, 0, OPT_DATA},
      {"min-sqnr", required_argument, 0, OPT_MIN_SQNR}, {0, 0, 0, 0}};
  static const struct {
    int opt;
    const char *key;
  } pre_keys[] = {{OPT_SCALE, "scale"}, {OPT_MEAN, "mean"}, {OPT_STD, "std"}, {OPT_COLOR, "color"},
                  {OPT_LAYOUT, "layout"}, {OPT_RESIZE, "resize"}, {OPT_PAD, "pad"}};
  const char *cmd = mode == JOB_COMPARE ? "compare " : mode == JOB_EVAL ? "eval " : "";
  const char *cmd_name = mode == JOB_COMPARE ? "compare" : mode == JOB_EVAL ? "eval" : "";
  int c;
  a->mode = mode;
  a->batch = 1;
  a->percentile = QC_PERCENTILE_DEFAULT;
  a->q.act_scheme = QC_QS_UINT8_AFFINE;
  if (mode == JOB_COMPARE)
    for (a->n_observers = 0; a->n_observers < QC_OBS_COUNT; a->n_observers++)
      a->observers[a->n_observers] = (qc_observer_kind)a->n_observers;
  else
    a->observers[0] = QC_OBS_MSE, a->n_observers = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":c:o:R:h", opts, NULL)) != -1) {
    int rc = QC_OK;
    const char *list_items[QC_OBS_COUNT + 1];
    int n_items = 0;
    for (size_t i = 0; i < sizeof pre_keys / sizeof pre_keys[0]; i++)
      if (c == pre_keys[i].opt)
        QC_TRY(qc_preprocess_set_option(&a->pre, pre_keys[i].key, optarg));
    if (c >= OPT_SCALE && c <= OPT_PAD)
      continue;
    switch (c) {
    case 'c': a->calib = optarg; break;
    case 'o': a->output = optarg; break;
    case OPT_EVAL:
    case OPT_DATA:
      if ((c == OPT_DATA) != (mode == JOB_EVAL))
        return usage(cmd, "unknown option '%s'", argv[optind - 1]);
      a->eval_dir = optarg;
      break;
    case 'h': print_help(mode); return 1;
    case 'R':
    case OPT_LOAD_STATS:
    case OPT_INPUT_SHAPE: {
      const char **list = c == 'R' ? a->reports : c == OPT_LOAD_STATS ? a->load_stats : a->input_shapes;
      int *n = c == 'R' ? &a->n_reports : c == OPT_LOAD_STATS ? &a->n_load_stats : &a->n_input_shapes;
      if (*n == JOB_MAX_LIST)
        return qc_fail(QC_EUSAGE, "too many %s options", argv[optind - 2]);
      list[(*n)++] = optarg;
      break;
    }
    case OPT_CALIB_COUNT: rc = cli_parse_int("--calib-count", optarg, 1, 1L << 40, &a->calib_count); break;
    case OPT_BATCH: rc = cli_parse_int("--batch", optarg, 1, 4096, &a->batch); break;
    case OPT_THREADS: rc = cli_parse_int("--threads", optarg, 1, 1024, &a->threads); break;
    case OPT_SAVE_STATS: a->save_stats = optarg; break;
    case OPT_QUIET: a->quiet = 1; break;
    case OPT_OBSERVER:
      if (mode == JOB_COMPARE)
        return usage(cmd, "unknown option '%s' (did you mean --observers?)", "--observer");
      rc = qc_observer_parse(optarg, &a->observers[0]);
      break;
    case OPT_OBSERVERS:
      if (mode != JOB_COMPARE)
        return usage(cmd, "unknown option '%s' (compare observers with 'qconvert compare')", "--observers");
      rc = split_list("--observers", optarg, &a->observers_buf, list_items, QC_OBS_COUNT, &n_items);
      for (int i = 0; rc == QC_OK && i < n_items; i++)
        rc = qc_observer_parse(list_items[i], &a->observers[i]);
      if (rc == QC_OK)
        a->n_observers = n_items;
      break;
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
    case OPT_MIN_SQNR:
      if (mode != JOB_QUANTIZE)
        return usage(cmd, "unknown option '%s'", "--min-sqnr");
      rc = cli_parse_float("--min-sqnr", optarg, &a->min_sqnr);
      if (rc == QC_OK && !(a->min_sqnr > 0 && a->min_sqnr < 200))
        rc = qc_fail(QC_EUSAGE, "--min-sqnr: expected decibels in (0, 200), got '%s'", optarg);
      break;
    case OPT_PER_TENSOR: a->q.per_tensor = 1; break;
    case OPT_WEIGHT_ONLY: a->q.weight_only = 1; break;
    case OPT_NO_EQUALIZE: a->q.no_equalize = 1; break;
    case OPT_EXCLUDE:
      rc = split_list("--exclude", optarg, &a->exclude_buf, a->exclude, JOB_MAX_LIST, &a->q.n_exclude);
      break;
    case OPT_OP_TYPES:
      rc = split_list("--op-types", optarg, &a->op_types_buf, a->op_types, JOB_MAX_LIST, &a->q.n_op_types);
      for (int i = 0; rc == QC_OK && i < a->q.n_op_types; i++)
        if (!qc_qdq_op_supported(a->op_types[i]))
          rc = qc_fail(QC_EUSAGE, "--op-types: '%s' cannot be quantized (supported: %s)", a->op_types[i],
                       qc_qdq_supported_ops());
      break;
    default: return JOB_USAGE_PRINTED - cli_bad_option(cmd_name, argv, c);
    }
    QC_TRY(rc);
  }
  if (optind >= argc)
    return usage(cmd, "missing MODEL%s", "");
  int max_models = mode == JOB_EVAL ? 2 : 1;
  if (optind < argc - max_models)
    return usage(cmd, "unexpected argument '%s'", argv[optind + max_models]);
  a->model = argv[optind];
  a->model2 = optind + 1 < argc ? argv[optind + 1] : NULL;
  if (mode == JOB_EVAL && !a->eval_dir)
    return usage(cmd, "missing --data DIR%s", "");
  if (mode != JOB_EVAL && !a->calib && !a->n_load_stats)
    return usage(cmd, "missing --calib DIR (or --load-stats FILE)%s", "");
  for (int i = 0; i < a->n_input_shapes; i++) {
    const char *eq = strchr(a->input_shapes[i], '=');
    int64_t dims[QC_MAX_DIMS];
    int ndim;
    QC_TRY(parse_dims(eq ? eq + 1 : a->input_shapes[i], dims, &ndim));
  }
  a->q.exclude = a->exclude;
  a->q.op_types = a->q.n_op_types ? a->op_types : NULL;
  job_observer_cfg(a, a->observers[0], &a->q.observer);
  return 0;
}

void job_args_free(job_args *a) {
  free(a->exclude_buf);
  free(a->op_types_buf);
  free(a->observers_buf);
}

void job_observer_cfg(const job_args *a, qc_observer_kind kind, qc_observer_cfg *cfg) {
  qc_observer_cfg_default(cfg, kind, a->q.act_scheme);
  cfg->percentile = a->percentile;
}

int job_input_specs(const job_args *a, const qc_graph *g, qc_input_spec *specs) {
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
      if (specs[slot].ndim && specs[slot].dims[d] >= 0 && specs[slot].dims[d] != dims[d] && d > 0)
        return qc_fail(QC_EUSAGE, "--input-shape %s: dim %d of input '%s' is fixed at %lld", arg, d,
                       specs[slot].name, (long long)specs[slot].dims[d]);
    specs[slot].ndim = ndim;
    memcpy(specs[slot].dims, dims, sizeof(int64_t) * (size_t)ndim);
  }
  for (int i = 0; i < g->n_inputs; i++)
    if (specs[i].ndim > 0)
      specs[i].dims[0] = 1; /* samples carry batch 1; the driver stacks them */
  return QC_OK;
}

static int threads_of(const job_args *a) { return a->threads > 0 ? (int)a->threads : omp_get_num_procs(); }

int job_open_calib(const job_args *a, const qc_model *m, job_files *f, qc_calib_source **src) {
  *src = NULL;
  if (a->n_load_stats)
    return QC_OK;
  const qc_graph *g = m->graph;
  qc_input_spec *specs = calloc((size_t)g->n_inputs + 1, sizeof *specs);
  qc_preprocess_opts *pre = calloc((size_t)g->n_inputs + 1, sizeof *pre);
  int rc = (specs && pre) ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    rc = job_input_specs(a, g, specs);
  for (int i = 0; rc == QC_OK && i < g->n_inputs; i++)
    pre[i] = a->pre;
  /* --quiet drops progress and echo only: warnings about skipped files always show. */
  qc_source_opts so = {.path = a->calib, .count = a->calib_count, .preprocess = pre, .quiet = 0};
  if (rc == QC_OK)
    rc = qc_calib_source_open(&so, specs, g->n_inputs, src);
  for (int i = 0; rc == QC_OK && !a->quiet && i < g->n_inputs; i++) {
    char line[512];
    const char *d = qc_calib_source_describe(*src, i, line, sizeof line);
    if (d && *d)
      fprintf(stderr, "preprocessing: %s\n", d);
  }
  if (rc == QC_OK)
    rc = job_files_add_source(f, *src, g->n_inputs);
  free(specs);
  free(pre);
  return rc;
}

/* --save-stats: whatever the statistics came from (calibration, or the merged
 * --load-stats files, which makes it a way to merge shards into one file). */
static int save_stats(const job_args *a, const char *fingerprint, const qc_stats_set *stats, job_files *f) {
  uint8_t *data;
  size_t len;
  QC_TRY(qc_stats_pack(a->save_stats, fingerprint, stats, &data, &len));
  int rc = qc_outputs_write(f->outputs, f->stats_out, data, len);
  free(data);
  return rc;
}

int job_collect_stats(const job_args *a, qc_model *m, qc_calib_source *src, job_files *f, qc_stats_set *stats,
                      qc_calib_result *res) {
  char fingerprint[128];
  qc_model_fingerprint(m, fingerprint, sizeof fingerprint);
  QC_TRY(qc_calib_register_tensors(m, stats));
  if (a->n_load_stats) {
    for (int i = 0; i < a->n_load_stats; i++)
      QC_TRY(qc_stats_load(a->load_stats[i], fingerprint, stats));
    for (size_t i = 0; i < stats->count; i++)
      if ((int64_t)stats->stats[i]->samples > res->samples)
        res->samples = (int64_t)stats->stats[i]->samples;
  } else {
    qc_engine *e = NULL;
    qc_engine_opts eo = {.nthreads = threads_of(a)};
    qc_calib_opts co = {.batch = (int)a->batch, .nthreads = threads_of(a), .progress = !a->quiet && isatty(2)};
    int rc = qc_engine_create(m, &eo, &e);
    if (rc == QC_OK)
      rc = qc_calibrate(m, e, src, &co, stats, res);
    qc_engine_free(e);
    QC_TRY(rc);
  }
  return a->save_stats ? save_stats(a, fingerprint, stats, f) : QC_OK;
}

int job_open_eval_data(const job_args *a, const qc_model *m, int use_calib, job_files *f, qc_eval_data **out) {
  const qc_graph *g = m->graph;
  const char *dir = use_calib ? a->calib : a->eval_dir;
  if (!dir)
    return qc_fail(QC_EUSAGE, "no data to evaluate on: give --eval DIR (or --calib DIR)");
  qc_input_spec *specs = calloc((size_t)g->n_inputs + 1, sizeof *specs);
  if (!specs)
    return qc_fail(QC_ENOMEM, "out of memory");
  int rc = job_input_specs(a, g, specs);
  if (rc == QC_OK)
    /* Skipped --eval files are warned about even with --quiet, as calibration files are (those
     * were warned about during calibration, so a reread of them stays quiet). */
    rc = qc_eval_open(dir, &a->pre, specs, g->n_inputs, use_calib, use_calib ? 64 : 0, out);
  if (rc < 0 && !use_calib && a->mode != JOB_EVAL)
    rc = qc_fail_context(rc, "--eval");
  if (rc == QC_OK)
    rc = job_files_add_eval(f, *out, g->n_inputs);
  free(specs);
  return rc;
}

int job_layer_errors(qc_model *fp32, const qc_quant_summary *summary, qc_eval_data *data, const qc_eval_opts *eo,
                     qc_layer_error **out, int *n_out) {
  qc_layer_qparams *lq = calloc((size_t)summary->n_tensors + 1, sizeof *lq);
  if (!lq)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int i = 0; i < summary->n_tensors; i++) {
    const qc_tensor_report *t = &summary->tensors[i];
    int is_u8 = strcmp(t->qtype, "uint8") == 0;
    lq[i].name = t->name;
    lq[i].qp = (qc_qparams){.scale = t->scale, .zero_point = t->zero_point, .qmin = is_u8 ? 0 : -128,
                            .qmax = is_u8 ? 255 : 127, .symmetric = !is_u8};
  }
  int rc = qc_layer_errors(fp32, lq, summary->n_tensors, data, eo, out, n_out);
  free(lq);
  return rc;
}

void job_hist_views_free(qc_hist_view *h, int n) {
  for (int i = 0; h && i < n; i++) {
    free(h[i].tensor);
    free(h[i].counts);
  }
  free(h);
}

/* Display histogram of at most 120 bins from the stats' exact bins. */
int job_hist_views(const job_args *a, const qc_stats_set *stats, const qc_layer_error *layers, int n_layers, int n,
                   qc_hist_view **out, int *n_out) {
  *out = NULL;
  *n_out = 0;
  if (n > n_layers)
    n = n_layers;
  qc_hist_view *hv = calloc((size_t)n + 1, sizeof *hv);
  if (!hv)
    return qc_fail(QC_ENOMEM, "out of memory");
  int k = 0, rc = QC_OK;
  for (int i = 0; i < n && rc == QC_OK; i++) {
    const qc_stats *s = qc_stats_set_find(stats, layers[i].name);
    int len = s ? qc_stats_hist_len(s) : 0;
    if (len <= 0)
      continue;
    double w = ldexp(1.0, s->hist.exp);
    int group = (len + 119) / 120, nb = (len + group - 1) / group;
    qc_hist_view *v = &hv[k];
    v->tensor = strdup(layers[i].name);
    v->counts = calloc((size_t)nb, sizeof(double));
    if (!v->tensor || !v->counts) {
      rc = qc_fail(QC_ENOMEM, "out of memory");
      k++;
      break;
    }
    v->nbins = nb;
    v->lo = (double)s->hist.first * w;
    v->hi = (double)(s->hist.first + (int64_t)nb * group) * w;
    for (int b = 0; b < len; b++)
      v->counts[b / group] += (double)s->hist.counts[b];
    for (int o = 0; o < QC_OBS_COUNT && v->n_ranges < 8; o++) {
      qc_observer_cfg cfg;
      job_observer_cfg(a, (qc_observer_kind)o, &cfg);
      float rmin, rmax;
      if (qc_observer_range(&cfg, s, &rmin, &rmax) == QC_OK) {
        v->ranges[v->n_ranges].observer = qc_observer_name((qc_observer_kind)o);
        v->ranges[v->n_ranges].rmin = rmin;
        v->ranges[v->n_ranges].rmax = rmax;
        v->n_ranges++;
      }
    }
    k++;
  }
  if (rc < 0) {
    job_hist_views_free(hv, k);
    return rc;
  }
  *out = hv;
  *n_out = k;
  return QC_OK;
}
