/* Fills two realistic reports and writes them as .html and .png:
 *   report_visual_tool OUTDIR
 * OUTDIR/quant.{html,png}: a quantization job with --eval (ops, tensors with
 * awkward names, eval, 30 layers, 3 histograms with 5 observer ranges);
 * OUTDIR/compare.{html,png}: the same plus 5 `qconvert compare` entries.
 * OUTDIR/unlabeled.{html,png}: no labels, no eval-dependent extras, no regions or clips.
 * Exit code: qc_exit_code of the first failure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "report/report.h"

static qc_tensor_report tensors[] = {
    {"input", -2.1179f, 2.64f, 0.0186584f, 114, "uint8", 0},
    {"/features/features.0/Conv_output_0", -8.25f, 9.5f, 0.0696078f, 119, "uint8", 0},
    {"<script>alert('x')</script> & \"quoted\"", 0.0f, 6.0f, 0.0235294f, 0, "uint8", 0},
    {"/features/features.3/Relu_output_0", 0.0f, 4.75f, 0.0186275f, 0, "uint8", 0},
    {"layer<&\">", -1.0f, 1.0f, 0.00784314f, 128, "uint8", 0},
    {"\xc3\xbc" "nicode\xe2\x86\x92" "name", -3.0f, 3.0f, 0.0235294f, 128, "uint8", 0},
    {"bad\xff" "utf8", -1.0f, 1.0f, 0.00784314f, 128, "uint8", 0},
    {"nan_range", NAN, INFINITY, NAN, 0, "uint8", 42},
    {"/classifier/Gemm_output_0", -12.5f, 15.25f, 0.108824f, 115, "uint8", 0},
};

static qc_op_bytes ops[] = {
    {"Conv", 2223872, 8895488, 2231040, 52, 52},
    {"Gemm", 1281000, 5124000, 1285000, 1, 1},
    {"BatchNormalization", 0, 0, 0, 0, 0},
    {"Odd<Op>&", 4096, 16384, 4352, 2, 2},
    {"Relu", 0, 0, 0, 35, 0},
};

static const char *warnings[] = {
    "node 'softmax_1': Softmax kept in float",
    "tensor 'nan_range': 42 NaN/Inf values excluded",
    "op type <Odd&Op> has \"odd\" chars",
};

/* quant and compare: one float region and two saturation clips (names to escape). */
static char *region_nodes[] = {"Sigmoid 'sigmoid'", "MaxPool 'maxpool'", "Equal 'peak<&>'", "Cast 'cast'",
                               "Mul 'mul'"};
static char *region_boundary[] = {"Conv 'head'"};
static qc_float_region regions[] = {
    {"Equal 'peak<&>'", region_nodes, 5, region_boundary, 1, 3, 12288.0},
};
static qc_saturation_clip clips[] = {
    {"/head/Conv_output_0", "Sigmoid", -17.25f, 9.5f, -8.75f, 8.75f},
    {"gate<&>", "HardSigmoid", -6.5f, 7.0f, -3.0f, 3.0f},
};

enum { N_LAYERS = 30, N_HISTS = 3, N_BINS = 128, N_COMPARE = 5 };
static char layer_names[N_LAYERS][96];
static qc_layer_error layers[N_LAYERS];
static double hist_counts[N_HISTS][N_BINS];
static qc_hist_view hists[N_HISTS];
static qc_compare_entry compare[N_COMPARE];
static const char *observers[N_COMPARE] = {"minmax", "ema", "percentile", "entropy", "mse"};

static qc_eval_result labeled_eval = {
    .labeled = 1, .n_classes = 10, .samples = 500, .fp32_top1 = 0.916, .quant_top1 = 0.908,
    .fp32_top5 = 0.994, .quant_top5 = 0.992, .agreement = 0.962, .output_sqnr_db = 27.4,
    .cosine = 0.99905, .fp32_ms = 12.8, .quant_ms = 4.9};

static void fill_layers(void) {
  for (int i = 0; i < N_LAYERS; i++) {
    if (i == 3)
      snprintf(layer_names[i], sizeof layer_names[i], "layer<&\">");
    else
      snprintf(layer_names[i], sizeof layer_names[i],
               "/features/features.%d/conv/conv.%d/Conv_output_0", i, i % 3);
    layers[i].name = layer_names[i];
    layers[i].sqnr_db = 12.0 + i * 1.15; /* worst first: red, amber, then green */
  }
}

static void fill_hists(void) {
  static const char *names[N_HISTS] = {"/classifier/Gemm_output_0", "layer<&\">",
                                       "/features/features.3/Relu_output_0"};
  for (int h = 0; h < N_HISTS; h++) {
    qc_hist_view *v = &hists[h];
    v->tensor = (char *)names[h];
    v->lo = h == 2 ? 0 : -12.5;
    v->hi = 15.25;
    v->nbins = N_BINS;
    v->counts = hist_counts[h];
    double mid = h == 2 ? 0.5 : 0.0;
    for (int i = 0; i < N_BINS; i++) {
      double x = v->lo + (i + 0.5) * (v->hi - v->lo) / N_BINS;
      /* heavy-tailed: a Laplace-like bulk plus sparse outliers */
      hist_counts[h][i] = floor(50000 * exp(-fabs(x - mid) * (1.2 + h * 0.4))) + (i % 17 == 0);
    }
    v->n_ranges = 5;
    const float rmin[5] = {(float)v->lo, (float)v->lo * 0.9f, -4.0f, -3.1f, -3.5f};
    const float rmax[5] = {(float)v->hi, 13.0f, 5.0f, 3.8f, 4.2f};
    for (int k = 0; k < 5; k++) {
      v->ranges[k].observer = observers[k];
      v->ranges[k].rmin = h == 2 ? fmaxf(rmin[k], 0) : rmin[k];
      v->ranges[k].rmax = rmax[k];
    }
  }
}

static void fill_compare(void) {
  const double top1[N_COMPARE] = {0.874, 0.889, 0.908, 0.903, 0.905};
  const double sqnr[N_COMPARE] = {19.8, 22.5, 27.4, 26.1, 26.9};
  for (int i = 0; i < N_COMPARE; i++) {
    qc_compare_entry *c = &compare[i];
    c->observer = observers[i];
    c->size_bytes = 3523072 + i * 64;
    c->eval = labeled_eval;
    c->eval.quant_top1 = top1[i];
    c->eval.output_sqnr_db = sqnr[i];
    c->eval.agreement = 0.93 + i * 0.007;
    snprintf(c->worst_layer, sizeof c->worst_layer, "%s", i == 1 ? "layer<&\">" : layer_names[0]);
    c->worst_sqnr_db = 9.5 + i;
    c->best = i == 2;
  }
}

static void fill(qc_quant_report *r) {
  memset(r, 0, sizeof *r);
  r->model_path = "models/mobilenet<v2>&.onnx";
  r->output_path = "out/mobilenet_v2.int8.onnx";
  r->fp32_bytes = 14025000;
  r->quantized_bytes = 3523072;
  r->ops = ops;
  r->n_ops = (int)(sizeof ops / sizeof ops[0]);
  r->nodes_total = 155;
  r->nodes_quantized = 55;
  r->observer = "percentile";
  r->percentile = 99.99;
  r->activation_type = "uint8";
  r->weight_type = "int8";
  r->per_channel = 1;
  r->calibration_samples = 200;
  r->calibration_seconds = 8.4;
  r->total_seconds = 14.2;
  r->threads = 8;
  r->tensors = tensors;
  r->n_tensors = (int)(sizeof tensors / sizeof tensors[0]);
  r->warnings = warnings;
  r->n_warnings = (int)(sizeof warnings / sizeof warnings[0]);
  r->eval = &labeled_eval;
  r->layers = layers;
  r->n_layers = N_LAYERS;
  r->hists = hists;
  r->n_hists = N_HISTS;
}

static int write_both(const char *dir, const char *stem, const qc_quant_report *r) {
  static const char *exts[2] = {".html", ".png"};
  for (int i = 0; i < 2; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, stem, exts[i]);
    int rc = qc_report_write(path, r);
    if (rc != QC_OK) {
      fprintf(stderr, "report_visual_tool: %s\n", qc_last_error());
      return rc;
    }
  }
  return QC_OK;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: report_visual_tool OUTDIR\n");
    return 2;
  }
  fill_layers();
  fill_hists();
  fill_compare();
  qc_quant_report r;
  fill(&r);
  r.regions = regions;
  r.n_regions = (int)(sizeof regions / sizeof regions[0]);
  r.clips = clips;
  r.n_clips = (int)(sizeof clips / sizeof clips[0]);
  int rc = write_both(argv[1], "quant", &r);

  if (rc == QC_OK) {
    r.compare = compare;
    r.n_compare = N_COMPARE;
    rc = write_both(argv[1], "compare", &r);
  }

  if (rc == QC_OK) { /* unlabeled eval, no per-layer data, no histograms */
    static qc_eval_result unlabeled;
    unlabeled = labeled_eval;
    unlabeled.labeled = 0;
    unlabeled.fp32_top1 = unlabeled.quant_top1 = -1;
    unlabeled.fp32_top5 = unlabeled.quant_top5 = -1;
    fill(&r);
    r.eval = &unlabeled;
    r.layers = NULL;
    r.n_layers = 0;
    r.hists = NULL;
    r.n_hists = 0;
    rc = write_both(argv[1], "unlabeled", &r);
  }
  return qc_exit_code(rc);
}
