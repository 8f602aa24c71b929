/* Unit tests: qparams reference vectors, exact merges, EMA segments,
 * stats file roundtrip / merge-on-load / corruption, per-channel ranges. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/status.h"
#include "observer.h"
#include "qparams.h"
#include "ops/simd.h"
#include "stats.h"
#include "qc_test.h"

static uint64_t rng_state = 88172645463325252ull;
static double uniform(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static float gauss(void) {
  return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

static void test_qparams(void) {
  qc_qparams qp;
  CHECK(qc_qparams_compute(QC_QS_UINT8_AFFINE, -1, 3, &qp) == QC_OK && qp.scale == (float)(4.0 / 255) &&
            qp.zero_point == 64, "uint8 (-1,3): %.9g %d", qp.scale, qp.zero_point);
  CHECK(qc_qparams_compute(QC_QS_INT8_AFFINE, -1, 3, &qp) == QC_OK && qp.scale == (float)(4.0 / 255) &&
            qp.zero_point == -64, "int8 (-1,3): %.9g %d", qp.scale, qp.zero_point);
  CHECK(qc_qparams_compute(QC_QS_INT8_SYMMETRIC, -1, 3, &qp) == QC_OK &&
            qp.scale == (float)(6.0 / 254) && qp.zero_point == 0 &&
            fabsf(qp.scale - 0.0236220472f) < 1e-9f, "int8sym (-1,3): %.9g %d", qp.scale,
        qp.zero_point);
  /* ORT uint8 symmetric [0,254] and reduce_range int8 symmetric [-64,64]. */
  CHECK(qc_qparams_from_range(-1, 3, 0, 254, true, &qp) == QC_OK && qp.zero_point == 127 &&
            qp.scale == (float)(6.0 / 254), "uint8 sym: %.9g %d", qp.scale, qp.zero_point);
  CHECK(qc_qparams_from_range(-1, 3, -64, 64, true, &qp) == QC_OK && qp.scale == 0.046875f &&
            qp.zero_point == 0, "int8 reduce sym: %.9g", qp.scale);
  for (int q = 0; q < QC_QS_COUNT; q++) {
    CHECK(qc_qparams_compute((qc_qscheme)q, 0, 0, &qp) == QC_OK && qp.scale == 1.0f &&
              qp.zero_point == 0, "zero range scheme %d", q);
    CHECK(qc_qparams_compute((qc_qscheme)q, NAN, 1, &qp) == QC_EINVAL, "NaN rmin");
    CHECK(qc_qparams_compute((qc_qscheme)q, 0, INFINITY, &qp) == QC_EINVAL, "inf rmax");
    CHECK(qc_qparams_compute((qc_qscheme)q, 2, 1, &qp) == QC_EINVAL, "rmin > rmax");
  }
  /* Range widened to include 0. */
  CHECK(qc_qparams_compute(QC_QS_UINT8_AFFINE, 0.5f, 2.0f, &qp) == QC_OK &&
            qp.scale == (float)(2.0 / 255) && qp.zero_point == 0, "positive range");
  CHECK(qc_qparams_compute(QC_QS_UINT8_AFFINE, -2.0f, -0.5f, &qp) == QC_OK && qp.zero_point == 255,
        "negative range zp %d", qp.zero_point);
  const float x[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 200.0f, -200.0f};
  const int32_t want[8] = {0, 2, 2, 0, -2, -2, 127, -128};
  for (int i = 0; i < 8; i++)
    CHECK(qc_quantize_value(x[i], 1.0f, 0, -128, 127) == want[i], "rne(%g)", x[i]);
  CHECK(qc_quantize_value(INFINITY, 0.1f, 3, 0, 255) == 255, "inf saturates");
  CHECK(qc_quantize_value(-1e30f, 1e-30f, 3, 0, 255) == 0, "huge saturates");
  CHECK(qc_dequantize_value(70, 0.5f, 64) == 3.0f, "dequantize");
}

static int same_exact(const qc_stats *a, const qc_stats *b) {
  int len = qc_stats_hist_len(a);
  return a->count == b->count && a->nonfinite == b->nonfinite && a->zeros == b->zeros &&
         a->samples == b->samples && memcmp(&a->min, &b->min, 4) == 0 &&
         memcmp(&a->max, &b->max, 4) == 0 && a->hist.exp == b->hist.exp &&
         a->hist.first == b->hist.first && len == qc_stats_hist_len(b) &&
         memcmp(a->hist.counts, b->hist.counts, sizeof a->hist.counts) == 0;
}

static int ema_close(const qc_stats *a, const qc_stats *b) {
  double d1 = fabs(qc_stats_ema_min(a) - qc_stats_ema_min(b));
  double d2 = fabs(qc_stats_ema_max(a) - qc_stats_ema_max(b));
  double m = fmax(fabs(qc_stats_ema_min(a)), fabs(qc_stats_ema_max(a))) + 1e-300;
  return d1 <= 1e-12 * m && d2 <= 1e-12 * m;
}

#define NS 60
#define SS 500
static float data[NS][SS];

static void make_data(void) {
  for (int i = 0; i < NS; i++)
    for (int j = 0; j < SS; j++) {
      /* Growing scale and drifting offset force coarsening and window moves. */
      float v = gauss() * powf(1.3f, (float)(i % 25)) + (float)(i - 30) * 0.7f;
      if (j % 97 == 0)
        v = 0.0f;
      if (j % 131 == 5)
        v = -0.0f;
      data[i][j] = v;
    }
  data[7][3] = NAN;
  data[9][4] = INFINITY;
  data[9][5] = -INFINITY;
}

static void test_merge(void) {
  qc_stats *all = malloc(sizeof *all), *acc = malloc(sizeof *acc), *seg = malloc(sizeof *seg);
  qc_stats_init(all);
  for (int i = 0; i < NS; i++)
    CHECK(qc_stats_update(all, data[i], SS) == QC_OK, "update");
  CHECK(all->nonfinite == 3 && all->count == (uint64_t)NS * SS - 3, "nonfinite counted");
  CHECK(qc_stats_validate(all, "all") == QC_OK, "valid");
  /* Any ordered split into segments gives the same statistics. */
  const int cuts[][4] = {{30, 60, 60, 60}, {1, 2, 59, 60}, {17, 18, 40, 60}, {15, 30, 45, 60}};
  for (int c = 0; c < 4; c++) {
    qc_stats_init(acc);
    int start = 0;
    for (int k = 0; k < 4; k++) {
      qc_stats_init(seg);
      for (int i = start; i < cuts[c][k]; i++)
        qc_stats_update(seg, data[i], SS);
      CHECK(qc_stats_merge(acc, seg) == QC_OK, "merge");
      start = cuts[c][k];
    }
    CHECK(same_exact(all, acc), "split %d exact", c);
    CHECK(ema_close(all, acc), "split %d ema %.17g vs %.17g", c, qc_stats_ema_max(all),
          qc_stats_ema_max(acc));
  }
  /* Associativity: (A+B)+C == A+(B+C). */
  qc_stats *a = malloc(sizeof *a), *b = malloc(sizeof *b), *c3 = malloc(sizeof *c3);
  qc_stats_init(a), qc_stats_init(b), qc_stats_init(c3);
  for (int i = 0; i < NS; i++)
    qc_stats_update(i < 10 ? a : i < 45 ? b : c3, data[i], SS);
  qc_stats_init(acc);
  qc_stats_merge(acc, a), qc_stats_merge(acc, b), qc_stats_merge(acc, c3);
  qc_stats_merge(b, c3);
  qc_stats_merge(a, b);
  CHECK(same_exact(acc, a) && same_exact(acc, all) && ema_close(acc, a), "associative");
  /* Hand-computed EMA: per sample, c = 0.01. */
  double em = 0, eM = 0;
  int seen = 0;
  for (int i = 0; i < NS; i++) {
    float mn = INFINITY, mx = -INFINITY;
    for (int j = 0; j < SS; j++)
      if (isfinite(data[i][j]))
        mn = fminf(mn, data[i][j]), mx = fmaxf(mx, data[i][j]);
    em = seen ? em + 0.01 * (mn - em) : mn;
    eM = seen ? eM + 0.01 * (mx - eM) : mx;
    seen = 1;
  }
  CHECK(fabs(em - qc_stats_ema_min(all)) < 1e-12 * fabs(em) &&
            fabs(eM - qc_stats_ema_max(all)) < 1e-12 * fabs(eM), "ema loop %.17g %.17g", em,
        qc_stats_ema_min(all));
  /* A sample of only NaN does not count as an EMA step. */
  float nan3[3] = {NAN, NAN, INFINITY};
  qc_stats_init(seg);
  qc_stats_update(seg, nan3, 3);
  CHECK(seg->count == 0 && seg->samples == 0 && seg->nonfinite == 3, "nan-only sample");
  float lo, hi;
  qc_observer_cfg cfg;
  qc_observer_cfg_default(&cfg, QC_OBS_ENTROPY, QC_QS_UINT8_AFFINE);
  CHECK(qc_observer_range(&cfg, seg, &lo, &hi) == QC_OK && lo == 0 && hi == 0, "empty range");
  /* Constant tensor: every observer returns the constant. */
  float five[4] = {5, 5, 5, 5};
  qc_stats_init(seg);
  qc_stats_update(seg, five, 4);
  for (int k = 0; k < QC_OBS_COUNT; k++)
    for (int q = 0; q < QC_QS_COUNT; q++) {
      qc_observer_cfg_default(&cfg, (qc_observer_kind)k, (qc_qscheme)q);
      CHECK(qc_observer_range(&cfg, seg, &lo, &hi) == QC_OK && lo == 5 && hi == 5,
            "constant: %s/%s (%g,%g)", qc_observer_name(k), qc_qscheme_name(q), lo, hi);
    }
  cfg.percentile = 0;
  CHECK(qc_observer_range(&cfg, seg, &lo, &hi) == QC_EUSAGE, "bad percentile");
  free(all), free(acc), free(seg), free(a), free(b), free(c3);
}

/* qc_stats_update (vectorised scan, int32 binning in interleaved lanes, zeros
 * skipped) against the histogram's definition: the global finite min/max, the
 * canonical geometry, and qc_hist_bin per value. Sample sizes cover the
 * direct path, the lanes path and the vector tails; data covers -0, zeros,
 * subnormals, values far from 0 (the int64 fallback), NaN/Inf and constants. */
static float update_case_value(int kind, size_t i) {
  switch (kind) {
  case 0: return fmaxf(gauss(), 0.0f) * (i % 7 == 0 ? -0.0f : 1.0f); /* ReLU with -0 */
  case 1: return gauss() * 3.0f;
  case 2: return 1000.0f + gauss() * 1e-3f;                                /* far from 0 */
  case 3: return (i % 3 ? 1e-42f : -1e-44f) * (float)(i % 5);              /* subnormals, zeros */
  case 4: return i % 1000 == 1 ? (i % 2000 == 1 ? NAN : INFINITY) : gauss(); /* non-finite */
  case 5: return -2.5f;                                                     /* constant */
  case 6: return i % 997 == 0 ? 1e30f : gauss() * 1e-20f;                  /* huge span */
  default: return -fabsf(gauss()) * 1e-3f - 1e-3f * (i % 2);               /* negatives only */
  }
}

static void test_update_reference(void) {
  const size_t sizes[] = {1, 7, 8, 9, 100, 4095, 5000, 70001};
  const int nsizes = (int)(sizeof sizes / sizeof *sizes);
  size_t total = 0;
  for (int z = 0; z < nsizes; z++)
    total += sizes[z];
  float *x = malloc(total * sizeof *x);
  qc_stats *s = malloc(sizeof *s);
  uint64_t *ref = malloc(QC_HIST_BINS * sizeof *ref);
  for (int kind = 0; kind < 8; kind++) {
    for (size_t i = 0; i < total; i++)
      x[i] = update_case_value(kind, i);
    qc_stats_init(s);
    size_t off = 0;
    for (int z = 0; z < nsizes; z++) {
      CHECK_OK(qc_stats_update(s, x + off, sizes[z]));
      off += sizes[z];
    }
    float mn = INFINITY, mx = -INFINITY;
    uint64_t finite = 0, zeros = 0;
    for (size_t i = 0; i < total; i++)
      if (isfinite(x[i])) {
        float v = x[i] == 0.0f ? 0.0f : x[i];
        finite++, zeros += v == 0.0f;
        mn = v < mn ? v : mn, mx = v > mx ? v : mx;
      }
    int32_t exp = qc_hist_fit_exp(mn, mx, QC_HIST_EXP_MIN);
    int64_t first = qc_hist_bin(mn, exp);
    memset(ref, 0, QC_HIST_BINS * sizeof *ref);
    for (size_t i = 0; i < total; i++)
      if (isfinite(x[i]))
        ref[qc_hist_bin(x[i], exp) - first]++;
    CHECK(s->count == finite && s->zeros == zeros && s->nonfinite == total - finite &&
              s->samples == (uint64_t)nsizes, "case %d: counts", kind);
    CHECK(memcmp(&s->min, &mn, sizeof mn) == 0 && memcmp(&s->max, &mx, sizeof mx) == 0,
          "case %d: min/max bits %g %g vs %g %g", kind, s->min, s->max, mn, mx);
    CHECK(s->hist.exp == exp && s->hist.first == first, "case %d: geometry", kind);
    CHECK(memcmp(s->hist.counts, ref, QC_HIST_BINS * sizeof *ref) == 0, "case %d: histogram counts", kind);
    CHECK_OK(qc_stats_validate(s, "reference case"));
  }
  printf("stats update checked on the %s path\n", qc_isa_name(qc_simd_isa()));
  free(x), free(s), free(ref);
}

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static void reseal(uint8_t *d, size_t n) {
  uint64_t h = fnv(d, n - 8);
  for (int i = 0; i < 8; i++)
    d[n - 8 + i] = (uint8_t)(h >> (8 * i));
}

static void test_stats_file(const char *dir) {
  char p1[4096], p2[4096], bad[4096];
  snprintf(p1, sizeof p1, "%s/a.qcstats", dir);
  snprintf(p2, sizeof p2, "%s/b.qcstats", dir);
  snprintf(bad, sizeof bad, "%s/bad.qcstats", dir);
  qc_stats_set s1, s2, merged, loaded;
  qc_stats_set_init(&s1), qc_stats_set_init(&s2), qc_stats_set_init(&merged);
  const char *names[3] = {"conv1_out", "relu/out:0", "never_seen"};
  for (int t = 0; t < 3; t++) {
    qc_stats *x, *y, *m;
    qc_stats_set_get(&s1, names[t], &x);
    qc_stats_set_get(&s2, names[t], &y);
    qc_stats_set_get(&merged, names[t], &m);
    for (int i = 0; t < 2 && i < NS; i++) {
      qc_stats_update(i < 25 ? x : y, data[(i + 11 * t) % NS], SS);
      qc_stats_update(m, data[(i + 11 * t) % NS], SS);
    }
  }
  CHECK(qc_stats_save(p1, "model-sha:1234", &s1) == QC_OK, "save 1");
  CHECK(qc_stats_save(p2, "model-sha:1234", &s2) == QC_OK, "save 2");
  qc_stats_set_init(&loaded);
  CHECK(qc_stats_load(p1, "model-sha:1234", &loaded) == QC_OK && loaded.count == 3, "load 1");
  for (int t = 0; t < 3; t++)
    CHECK(same_exact(loaded.stats[t], s1.stats[t]) && !strcmp(loaded.names[t], names[t]) &&
              (t == 2 || (qc_stats_ema_min(loaded.stats[t]) == qc_stats_ema_min(s1.stats[t]))),
          "roundtrip %d", t);
  CHECK(qc_stats_load(p2, NULL, &loaded) == QC_OK, "load 2");
  for (int t = 0; t < 3; t++)
    CHECK(same_exact(loaded.stats[t], merged.stats[t]) &&
              (t == 2 || ema_close(loaded.stats[t], merged.stats[t])), "two files == merged %d", t);
  CHECK(qc_stats_load(p1, "other-model", &loaded) == QC_EINVAL, "fingerprint mismatch");
  uint64_t before = loaded.stats[0]->count;

  uint8_t *d;
  size_t n;
  CHECK(qc_read_file(p1, 0, &d, &n) == QC_OK, "read back");
  int truncated_ok = 1;
  for (size_t cut = 0; cut < n; cut += (cut < 200 ? 1 : 997)) {
    qc_write_file_atomic(bad, d, cut);
    if (qc_stats_load(bad, NULL, &loaded) >= 0)
      truncated_ok = 0;
  }
  CHECK(truncated_ok, "every truncation rejected");
  d[60] ^= 0x40;
  qc_write_file_atomic(bad, d, n);
  CHECK(qc_stats_load(bad, NULL, &loaded) == QC_EINVAL && strstr(qc_last_error(), "checksum"),
        "bit flip rejected");
  d[60] ^= 0x40;
  /* Valid checksum but inconsistent content: count of the first record + 1. */
  size_t count_off = 8 + 4 + 4 + 4 + strlen("model-sha:1234") + 4 + 4 + strlen(names[0]);
  d[count_off] ^= 1;
  reseal(d, n);
  qc_write_file_atomic(bad, d, n);
  CHECK(qc_stats_load(bad, NULL, &loaded) == QC_EINVAL && strstr(qc_last_error(), "conv1_out"),
        "inconsistent record rejected");
  d[count_off] ^= 1;
  d[8] = 2; /* version */
  reseal(d, n);
  qc_write_file_atomic(bad, d, n);
  CHECK(qc_stats_load(bad, NULL, &loaded) == QC_EUNSUPPORTED, "future version rejected");
  d[0] = 'X';
  qc_write_file_atomic(bad, d, n);
  CHECK(qc_stats_load(bad, NULL, &loaded) == QC_EINVAL && strstr(qc_last_error(), "magic"),
        "bad magic");
  CHECK(qc_stats_load("/nonexistent/x.qcstats", NULL, &loaded) == QC_EIO, "missing file");
  CHECK(loaded.count == 3 && loaded.stats[0]->count == before, "failed loads leave set unchanged");
  free(d);
  unlink(p1), unlink(p2), unlink(bad);
  qc_stats_set_free(&s1), qc_stats_set_free(&s2), qc_stats_set_free(&merged);
  qc_stats_set_free(&loaded);
}

static void test_channels(void) {
  float w[2 * 3 * 2] = {1, -2, 3, 4, -5, 6, /* out channel 0 */ 0.5f, 0.25f, -0.125f, 7, 8, -9};
  int64_t dims[3] = {2, 3, 2};
  qc_tensor t = {0};
  qc_tensor_wrap(&t, QC_DT_FLOAT, 3, dims, w);
  float mn[3], mx[3];
  CHECK(qc_channel_minmax(&t, 0, mn, mx) == QC_OK && mn[0] == -5 && mx[0] == 6 && mn[1] == -9 &&
            mx[1] == 8, "axis 0");
  CHECK(qc_channel_minmax(&t, -2, mn, mx) == QC_OK && mn[0] == -2 && mx[0] == 1 &&
            mn[1] == -0.125f && mx[1] == 7 && mn[2] == -9 && mx[2] == 8, "axis 1");
  CHECK(qc_channel_minmax(&t, 3, mn, mx) == QC_EINVAL, "bad axis");
  CHECK(qc_channel_mse_range(&t, 0, QC_QS_INT8_SYMMETRIC, mn, mx) == QC_OK && mn[0] >= -6 &&
            mx[0] <= 6 && fmaxf(-mn[0], mx[0]) > 4, "mse axis 0 (%g, %g)", mn[0], mx[0]);
  w[4] = NAN;
  CHECK(qc_channel_minmax(&t, 0, mn, mx) == QC_EINVAL, "NaN weight");
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  make_data();
  test_qparams();
  test_merge();
  test_update_reference();
  test_stats_file(dir);
  test_channels();
  return qc_test_finish("observers_unit");
}
