/* The job commands' options (the main job, `compare`, `eval`): getopt into
 * a qc_job_options, and their --help text. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/status.h"
#include "cli.h"

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

enum {
  OPT_CALIB_COUNT = 256, OPT_BATCH, OPT_THREADS, OPT_INPUT_SHAPE, OPT_SAVE_STATS, OPT_LOAD_STATS, OPT_QUIET,
  OPT_SCALE, OPT_MEAN, OPT_STD, OPT_COLOR, OPT_LAYOUT, OPT_RESIZE, OPT_PAD, OPT_OBSERVER, OPT_OBSERVERS,
  OPT_PERCENTILE, OPT_ACT_TYPE, OPT_PER_TENSOR, OPT_WEIGHT_ONLY, OPT_NO_EQUALIZE, OPT_NO_SAT_CLIP, OPT_REFINE, OPT_EXCLUDE, OPT_OP_TYPES, OPT_EVAL, OPT_DATA,
  OPT_MIN_SQNR, OPT_FALLBACK_BUDGET, OPT_ROUNDING, OPT_NO_BIAS_CORRECTION,
};

static void print_help(cli_job_mode mode) {
  if (mode == CLI_EVAL) {
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
  if (mode == CLI_COMPARE)
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
         mode == CLI_COMPARE ? " for the best observer (default: none written)" : " (default: MODEL with .int8.onnx)");
  if (mode == CLI_COMPARE)
    printf("  --observers A,B,...     observers to compare (default minmax,ema,percentile,entropy,mse)\n");
  else
    printf("  --observer NAME         minmax|ema|percentile|entropy|mse (default mse: it minimises the\n"
           "                          expected quantization error directly and clips rare outliers)\n");
  printf("  --percentile P          for the percentile observer (default 99.999)\n"
         "  --activation-type uint8|int8   uint8 affine (default) or int8 symmetric activations\n"
         "  --per-tensor            per-tensor weight scales (default per channel)\n"
         "  --weight-only           int8 weights behind DequantizeLinear, float activations\n"
         "  --no-equalize           skip cross-layer equalization of Conv -> [Relu] -> Conv pairs\n"
         "  --no-saturation-clip    keep the observer's range for tensors read only by Sigmoid, Tanh or\n"
         "                          HardSigmoid (default: clipped to where their outputs still move)\n"
         "  --exclude NODE,...      keep these nodes in FP32\n"
         "  --op-types A,B,...      quantize only these op types (supported: %s)\n",
         qc_qdq_supported_ops());
  if (mode == CLI_QUANTIZE)
    printf("  --min-sqnr DB           keep the most sensitive nodes in FP32 until the output SQNR vs FP32\n"
           "                          (on --eval data, else 64 calibration samples) reaches DB\n"
           "  --fallback-budget SEC   stop the --min-sqnr search after SEC seconds and keep the best model\n"
           "                          found so far (with a warning; the result then depends on speed)\n"
           "  --rounding nearest|adaround  int8 weight rounding: to nearest (default), or learned per layer\n"
           "                          (AdaRound) to minimise each layer's output error on 16 calibration\n"
           "                          samples; slower (seconds to minutes), see docs/quantization.md\n"
           "  --no-bias-correction    keep the quantized biases as they are (default: each quantized Conv,\n"
           "                          ConvTranspose, Gemm and MatMul has its per-channel output mean shift,\n"
           "                          measured on up to 32 calibration samples, corrected in its bias)\n"
           "  --refine                output-driven range refinement (off by default): on 8 calibration\n"
           "                          samples, try other clipping ranges for the tensors nearest the outputs\n"
           "                          and saturating ops; keep those that raise the output SQNR on 8 others\n");
}

static int usage(const char *cmd, const char *fmt, const char *arg) {
  return CLI_USAGE_PRINTED - cli_usage_error(cmd, fmt, arg);
}

int cli_job_parse(int argc, char **argv, cli_job_mode mode, cli_job_args *a) {
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
      {"no-equalize", no_argument, 0, OPT_NO_EQUALIZE}, {"no-saturation-clip", no_argument, 0, OPT_NO_SAT_CLIP},
      {"refine", no_argument, 0, OPT_REFINE},
      {"exclude", required_argument, 0, OPT_EXCLUDE}, {"op-types", required_argument, 0, OPT_OP_TYPES},
      {"eval", required_argument, 0, OPT_EVAL}, {"data", required_argument, 0, OPT_DATA},
      {"min-sqnr", required_argument, 0, OPT_MIN_SQNR},
      {"fallback-budget", required_argument, 0, OPT_FALLBACK_BUDGET},
      {"rounding", required_argument, 0, OPT_ROUNDING},
      {"no-bias-correction", no_argument, 0, OPT_NO_BIAS_CORRECTION}, {0, 0, 0, 0}};
  static const struct {
    int opt;
    const char *key;
  } pre_keys[] = {{OPT_SCALE, "scale"}, {OPT_MEAN, "mean"}, {OPT_STD, "std"}, {OPT_COLOR, "color"},
                  {OPT_LAYOUT, "layout"}, {OPT_RESIZE, "resize"}, {OPT_PAD, "pad"}};
  const char *cmd = mode == CLI_COMPARE ? "compare " : mode == CLI_EVAL ? "eval " : "";
  const char *cmd_name = mode == CLI_COMPARE ? "compare" : mode == CLI_EVAL ? "eval" : "";
  qc_job_options *o = &a->o;
  int c;
  qc_job_options_default(o);
  o->observers = a->observers; /* n_observers 0: the job's default (mse; compare: all five) */
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":c:o:R:h", opts, NULL)) != -1) {
    int rc = QC_OK;
    const char *list_items[QC_OBS_COUNT + 1];
    int n_items = 0;
    for (size_t i = 0; i < sizeof pre_keys / sizeof pre_keys[0]; i++)
      if (c == pre_keys[i].opt)
        QC_TRY(qc_preprocess_set_option(&o->pre, pre_keys[i].key, optarg));
    if (c >= OPT_SCALE && c <= OPT_PAD)
      continue;
    switch (c) {
    case 'c': o->calib = optarg; break;
    case 'o': o->output = optarg; break;
    case OPT_EVAL:
    case OPT_DATA:
      if ((c == OPT_DATA) != (mode == CLI_EVAL))
        return usage(cmd, "unknown option '%s'", argv[optind - 1]);
      o->eval_dir = optarg;
      break;
    case 'h': print_help(mode); return 1;
    case 'R':
    case OPT_LOAD_STATS:
    case OPT_INPUT_SHAPE: {
      const char **list = c == 'R' ? a->reports : c == OPT_LOAD_STATS ? a->load_stats : a->input_shapes;
      int *n = c == 'R' ? &o->n_reports : c == OPT_LOAD_STATS ? &o->n_load_stats : &o->n_input_shapes;
      if (*n == CLI_MAX_LIST)
        return qc_fail(QC_EUSAGE, "too many %s options", argv[optind - 2]);
      list[(*n)++] = optarg;
      break;
    }
    case OPT_CALIB_COUNT: rc = cli_parse_int("--calib-count", optarg, 1, 1L << 40, &o->calib_count); break;
    case OPT_BATCH: rc = cli_parse_int("--batch", optarg, 1, QC_JOB_MAX_BATCH, &o->batch); break;
    case OPT_THREADS: rc = cli_parse_int("--threads", optarg, 1, QC_JOB_MAX_THREADS, &o->threads); break;
    case OPT_SAVE_STATS: o->save_stats = optarg; break;
    case OPT_QUIET: o->quiet = 1; break;
    case OPT_OBSERVER:
      if (mode == CLI_COMPARE)
        return usage(cmd, "unknown option '%s' (did you mean --observers?)", "--observer");
      rc = qc_observer_parse(optarg, &a->observers[0]);
      o->n_observers = rc == QC_OK;
      break;
    case OPT_OBSERVERS:
      if (mode != CLI_COMPARE)
        return usage(cmd, "unknown option '%s' (compare observers with 'qconvert compare')", "--observers");
      rc = split_list("--observers", optarg, &a->observers_buf, list_items, QC_OBS_COUNT, &n_items);
      for (int i = 0; rc == QC_OK && i < n_items; i++)
        rc = qc_observer_parse(list_items[i], &a->observers[i]);
      if (rc == QC_OK)
        o->n_observers = n_items;
      break;
    case OPT_PERCENTILE:
      rc = cli_parse_float("--percentile", optarg, &o->percentile);
      if (rc == QC_OK)
        rc = qc_job_check_percentile(o->percentile, optarg);
      break;
    case OPT_ACT_TYPE:
      if (strcmp(optarg, "uint8") == 0)
        o->act_scheme = QC_QS_UINT8_AFFINE;
      else if (strcmp(optarg, "int8") == 0)
        o->act_scheme = QC_QS_INT8_SYMMETRIC;
      else
        rc = qc_fail(QC_EUSAGE, "--activation-type: expected uint8 or int8, got '%s'", optarg);
      break;
    case OPT_MIN_SQNR:
      if (mode != CLI_QUANTIZE)
        return usage(cmd, "unknown option '%s'", "--min-sqnr");
      rc = cli_parse_float("--min-sqnr", optarg, &o->min_sqnr);
      if (rc == QC_OK)
        rc = qc_job_check_min_sqnr(o->min_sqnr, optarg);
      break;
    case OPT_FALLBACK_BUDGET:
      if (mode != CLI_QUANTIZE)
        return usage(cmd, "unknown option '%s'", "--fallback-budget");
      rc = cli_parse_float("--fallback-budget", optarg, &o->fallback_budget);
      if (rc == QC_OK)
        rc = qc_job_check_fallback_budget(o->fallback_budget, optarg);
      break;
    case OPT_ROUNDING:
      if (mode != CLI_QUANTIZE)
        return usage(cmd, "unknown option '%s'", "--rounding");
      rc = qc_job_parse_rounding(optarg, &o->rounding);
      break;
    case OPT_NO_BIAS_CORRECTION:
      if (mode != CLI_QUANTIZE)
        return usage(cmd, "unknown option '%s'", "--no-bias-correction");
      o->no_bias_correction = 1;
      break;
    case OPT_PER_TENSOR: o->per_tensor = 1; break;
    case OPT_WEIGHT_ONLY: o->weight_only = 1; break;
    case OPT_NO_EQUALIZE: o->no_equalize = 1; break;
    case OPT_NO_SAT_CLIP: o->no_saturation_clip = 1; break;
    case OPT_REFINE: o->refine = 1; break;
    case OPT_EXCLUDE:
      rc = split_list("--exclude", optarg, &a->exclude_buf, a->exclude, CLI_MAX_LIST, &o->n_exclude);
      break;
    case OPT_OP_TYPES:
      rc = split_list("--op-types", optarg, &a->op_types_buf, a->op_types, CLI_MAX_LIST, &o->n_op_types);
      for (int i = 0; rc == QC_OK && i < o->n_op_types; i++)
        rc = qc_job_check_op_type(a->op_types[i]);
      break;
    default: return CLI_USAGE_PRINTED - cli_bad_option(cmd_name, argv, c);
    }
    QC_TRY(rc);
  }
  if (optind >= argc)
    return usage(cmd, "missing MODEL%s", "");
  int max_models = mode == CLI_EVAL ? 2 : 1;
  if (optind < argc - max_models)
    return usage(cmd, "unexpected argument '%s'", argv[optind + max_models]);
  o->model = argv[optind];
  o->model2 = optind + 1 < argc ? argv[optind + 1] : NULL;
  if (mode == CLI_EVAL && !o->eval_dir)
    return usage(cmd, "missing --data DIR%s", "");
  if (mode != CLI_EVAL && !o->calib && !o->n_load_stats)
    return usage(cmd, "missing --calib DIR (or --load-stats FILE)%s", "");
  for (int i = 0; i < o->n_input_shapes; i++)
    QC_TRY(qc_job_check_input_shape(a->input_shapes[i]));
  o->reports = a->reports;
  o->load_stats = a->load_stats;
  o->input_shapes = a->input_shapes;
  o->exclude = a->exclude;
  o->op_types = a->op_types;
  o->progress = !o->quiet && isatty(2);
  return 0;
}

void cli_job_args_free(cli_job_args *a) {
  free(a->exclude_buf);
  free(a->op_types_buf);
  free(a->observers_buf);
}
