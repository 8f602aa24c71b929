/* qc_evaluate_cached against qc_evaluate: the same result, bit for bit,
 * whatever part of the FP32 outputs the reference keeps, and on every reuse;
 * and a reference over a spread subset (qc_eval_reference_spread) against
 * qc_evaluate on the same subset picked by the source itself.
 *
 *   eval_cache FP32.onnx QUANT.onnx DATA_DIR FLAT_DIR    (driven by test_eval_cache.py) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "qc_test.h"

/* Same bits, or both NaN (an unlabeled metric). */
static int same(double a, double b) { return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b)); }

static void check_same(const qc_eval_result *a, const qc_eval_result *b, const char *what) {
  CHECK(a->samples == b->samples, "%s: %lld vs %lld samples", what, (long long)a->samples, (long long)b->samples);
  CHECK(same(a->output_sqnr_db, b->output_sqnr_db), "%s: SQNR %.17g vs %.17g", what, a->output_sqnr_db,
        b->output_sqnr_db);
  CHECK(same(a->cosine, b->cosine), "%s: cosine %.17g vs %.17g", what, a->cosine, b->cosine);
  CHECK(same(a->agreement, b->agreement) && same(a->fp32_top1, b->fp32_top1) && same(a->quant_top1, b->quant_top1) &&
            same(a->fp32_top5, b->fp32_top5) && same(a->quant_top5, b->quant_top5),
        "%s: accuracy differs", what);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: eval_cache FP32.onnx QUANT.onnx DATA_DIR FLAT_DIR\n");
    return 2;
  }
  qc_model *fp32 = NULL, *quant = NULL;
  qc_eval_data *d = NULL;
  CHECK_OK(qc_model_load(argv[1], &fp32));
  CHECK_OK(qc_model_load(argv[2], &quant));
  if (!fp32 || !quant)
    return qc_test_finish("eval_cache");
  const qc_value *v = &fp32->graph->values[fp32->graph->inputs[0]];
  qc_input_spec spec = {.name = v->name, .dtype = QC_DT_FLOAT, .ndim = v->ndim};
  memcpy(spec.dims, v->dims, sizeof spec.dims);
  spec.dims[0] = 1;
  qc_preprocess_opts pre = {0};
  CHECK_OK(qc_eval_open(argv[3], &pre, &spec, 1, 1, 0, &d));
  if (!d)
    return qc_test_finish("eval_cache");
  qc_eval_opts o = {.batch = 7, .nthreads = 2, .quiet = 1};
  qc_eval_result plain, cached;
  CHECK_OK(qc_evaluate(fp32, quant, d, &o, &plain));
  CHECK(plain.samples > 14 && isfinite(plain.output_sqnr_db), "%lld samples, %g dB", (long long)plain.samples,
        plain.output_sqnr_db);
  /* Everything kept, about half kept (later batches run again), nothing kept. */
  size_t full = (size_t)plain.samples * 10 * sizeof(float);
  size_t bounds[] = {SIZE_MAX, full / 2, 0};
  for (int k = 0; k < 3; k++) {
    qc_eval_reference *r = NULL;
    CHECK_OK(qc_eval_reference_open(fp32, d, &o, bounds[k], &r));
    if (!r)
      continue;
    size_t kept = qc_eval_reference_bytes(r);
    CHECK(k == 0 ? kept == full : k == 1 ? kept > 0 && kept <= full / 2 : kept == 0, "bound %zu keeps %zu bytes",
          bounds[k], kept);
    for (int reuse = 0; reuse < 2; reuse++) {
      char what[64];
      snprintf(what, sizeof what, "bound %d, use %d", k, reuse);
      CHECK_OK(qc_evaluate_cached(r, quant, &cached));
      check_same(&plain, &cached, what);
    }
    /* The FP32 model against itself: no error at all. */
    CHECK_OK(qc_evaluate_cached(r, fp32, &cached));
    CHECK(isinf(cached.output_sqnr_db) && cached.agreement == 1, "FP32 vs FP32: %g dB", cached.output_sqnr_db);
    qc_eval_reference_free(r);
  }
  qc_eval_close(d);
  /* A subset: 5 evenly spaced samples of the flat directory, as the source
   * picks them (rows floor(i * total / 5)); batch 2 splits them unevenly. */
  qc_eval_data *all = NULL, *five = NULL;
  CHECK_OK(qc_eval_open(argv[4], &pre, &spec, 1, 1, 0, &all));
  CHECK_OK(qc_eval_open(argv[4], &pre, &spec, 1, 1, 5, &five));
  qc_eval_opts o2 = {.batch = 2, .nthreads = 2, .quiet = 1};
  if (all && five) {
    CHECK(qc_eval_count(all) > 10 && qc_eval_count(five) == 5, "%lld and %lld samples",
          (long long)qc_eval_count(all), (long long)qc_eval_count(five));
    CHECK_OK(qc_evaluate(fp32, quant, five, &o2, &plain));
    int64_t counts[] = {5, 0, qc_eval_count(all)}; /* then every sample, twice */
    qc_eval_result whole;
    CHECK_OK(qc_evaluate(fp32, quant, all, &o2, &whole));
    for (int k = 0; k < 3; k++) {
      qc_eval_reference *r = NULL;
      CHECK_OK(qc_eval_reference_spread(fp32, all, &o2, SIZE_MAX, counts[k], &r));
      if (!r)
        continue;
      CHECK_OK(qc_evaluate_cached(r, quant, &cached));
      check_same(k == 0 ? &plain : &whole, &cached, k == 0 ? "spread 5" : "spread over all");
      qc_eval_reference_free(r);
    }
    CHECK(plain.output_sqnr_db != whole.output_sqnr_db, "the subset measures %.17g dB, as the whole",
          plain.output_sqnr_db);
  }
  qc_eval_close(all);
  qc_eval_close(five);
  qc_model_free(fp32);
  qc_model_free(quant);
  return qc_test_finish("eval_cache");
}
