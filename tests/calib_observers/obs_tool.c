/* obs_tool: observe a float32 .npy (or raw float32 file) sample by sample and
 * print every observer's range and qparams for every scheme as JSON.
 *
 *   obs_tool [--sample-size N] [--segments K] [--percentile P] [--hist]
 *            [--save PATH [--fingerprint S]] [--load PATH]... [FILE]
 *
 * Samples are the leading dimension of the .npy (or N values for raw files).
 * --segments K observes K contiguous runs of samples separately and merges
 * them in order, as per-thread statistics would be. --load reads stats files
 * (merged in order) instead of data. Test helper, not installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/status.h"
#include "observer.h"
#include "qparams.h"
#include "stats.h"
#include "qc_test.h"

/* Minimal .npy reader: little-endian float32, C order. */
static int read_npy(const uint8_t *d, size_t n, const float **values, size_t *count,
                    size_t *leading) {
  if (n < 10 || memcmp(d, "\x93NUMPY", 6) != 0)
    return qc_fail(QC_EINVAL, "not a .npy file");
  size_t hlen, off;
  if (d[6] == 1) {
    hlen = d[8] | (size_t)d[9] << 8;
    off = 10;
  } else {
    if (n < 12)
      return qc_fail(QC_EINVAL, "truncated .npy header");
    hlen = d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
    off = 12;
  }
  if (off + hlen > n)
    return qc_fail(QC_EINVAL, "truncated .npy header");
  char *h = strndup((const char *)d + off, hlen);
  if (!h)
    return qc_fail(QC_ENOMEM, "out of memory");
  int ok = strstr(h, "'<f4'") && strstr(h, "'fortran_order': False");
  char *shape = strstr(h, "'shape': (");
  size_t total = 1, first = 0;
  if (ok && shape) {
    char *p = shape + 10;
    int dims = 0;
    while (*p && *p != ')') {
      char *end;
      unsigned long long v = strtoull(p, &end, 10);
      if (end == p)
        break;
      if (dims++ == 0)
        first = v;
      total *= v;
      p = end;
      while (*p == ',' || *p == ' ')
        p++;
    }
    if (dims == 0)
      first = 1;
  }
  free(h);
  if (!ok || !shape)
    return qc_fail(QC_EUNSUPPORTED, ".npy must be little-endian float32 in C order");
  if (off + hlen + total * 4 > n)
    return qc_fail(QC_EINVAL, ".npy data truncated");
  *values = (const float *)(d + off + hlen);
  *count = total;
  *leading = first;
  return QC_OK;
}

static void print_range(const char *obs, float lo, float hi, const qc_qparams *qp, int last) {
  printf("      \"%s\": {\"rmin\": %.9g, \"rmax\": %.9g, \"scale\": %.9g, \"zp\": %d}%s\n", obs, lo,
         hi, qp->scale, (int)qp->zero_point, last ? "" : ",");
}

static int report(const qc_stats *s, double percentile, int with_hist) {
  printf("{\n  \"count\": %llu, \"nonfinite\": %llu, \"zeros\": %llu, \"samples\": %llu,\n",
         (unsigned long long)s->count, (unsigned long long)s->nonfinite,
         (unsigned long long)s->zeros, (unsigned long long)s->samples);
  printf("  \"min\": %.9g, \"max\": %.9g, \"ema_min\": %.17g, \"ema_max\": %.17g,\n",
         s->count ? s->min : 0.0f, s->count ? s->max : 0.0f,
         s->samples ? qc_stats_ema_min(s) : 0.0, s->samples ? qc_stats_ema_max(s) : 0.0);
  if (with_hist) {
    int len = qc_stats_hist_len(s);
    printf("  \"hist\": {\"exp\": %d, \"first\": %lld, \"counts\": [", (int)s->hist.exp,
           (long long)s->hist.first);
    for (int i = 0; i < len; i++)
      printf("%s%llu", i ? "," : "", (unsigned long long)s->hist.counts[i]);
    printf("]},\n");
  }
  printf("  \"results\": {\n");
  for (int q = 0; q < QC_QS_COUNT; q++) {
    printf("    \"%s\": {\n", qc_qscheme_name((qc_qscheme)q));
    for (int k = 0; k < QC_OBS_COUNT; k++) {
      qc_observer_cfg cfg;
      qc_observer_cfg_default(&cfg, (qc_observer_kind)k, (qc_qscheme)q);
      cfg.percentile = percentile;
      float lo, hi;
      qc_qparams qp;
      QC_TRY(qc_observer_range(&cfg, s, &lo, &hi));
      QC_TRY(qc_qparams_compute((qc_qscheme)q, lo, hi, &qp));
      print_range(qc_observer_name((qc_observer_kind)k), lo, hi, &qp, k == QC_OBS_COUNT - 1);
    }
    printf("    }%s\n", q == QC_QS_COUNT - 1 ? "" : ",");
  }
  printf("  }\n}\n");
  return QC_OK;
}

static int observe(const char *path, size_t sample_size, int segments, qc_stats *result) {
  uint8_t *data;
  size_t size, count = 0, leading = 0;
  const float *values = NULL;
  QC_TRY(qc_read_file(path, 0, &data, &size));
  int rc = QC_OK;
  size_t len = strlen(path);
  if (len > 4 && strcmp(path + len - 4, ".npy") == 0) {
    rc = read_npy(data, size, &values, &count, &leading);
  } else {
    values = (const float *)data;
    count = size / 4;
  }
  if (rc == QC_OK && !sample_size)
    sample_size = leading ? count / leading : count;
  if (rc == QC_OK && (!sample_size || count % sample_size))
    rc = qc_fail(QC_EUSAGE, "%s: %zu values do not split into samples of %zu", path, count,
                 sample_size);
  size_t nsamples = rc == QC_OK ? count / sample_size : 0;
  qc_stats *seg = malloc(sizeof *seg);
  if (!seg && rc == QC_OK)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  for (int k = 0; rc == QC_OK && k < segments; k++) {
    /* Segment k holds samples [k*n/K, (k+1)*n/K). */
    size_t lo = nsamples * k / segments, hi = nsamples * (k + 1) / segments;
    qc_stats_init(seg);
    for (size_t i = lo; rc == QC_OK && i < hi; i++)
      rc = qc_stats_update(seg, values + i * sample_size, sample_size);
    if (rc == QC_OK)
      rc = qc_stats_merge(result, seg);
  }
  free(seg);
  free(data);
  return rc;
}

int main(int argc, char **argv) {
  size_t sample_size = 0;
  int segments = 1, with_hist = 0, nloads = 0;
  double percentile = QC_PERCENTILE_DEFAULT;
  const char *save = NULL, *fingerprint = "", *input = NULL, *loads[64];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--sample-size") && v)
      sample_size = strtoull(v, NULL, 10), i++;
    else if (!strcmp(a, "--segments") && v)
      segments = atoi(v), i++;
    else if (!strcmp(a, "--percentile") && v)
      percentile = atof(v), i++;
    else if (!strcmp(a, "--save") && v)
      save = v, i++;
    else if (!strcmp(a, "--fingerprint") && v)
      fingerprint = v, i++;
    else if (!strcmp(a, "--load") && v && nloads < 64)
      loads[nloads++] = v, i++;
    else if (!strcmp(a, "--hist"))
      with_hist = 1;
    else if (a[0] != '-' && !input)
      input = a;
    else {
      fprintf(stderr, "usage: obs_tool [--sample-size N] [--segments K] [--percentile P] [--hist]"
                      " [--save PATH [--fingerprint S]] [--load PATH]... [FILE]\n");
      return 2;
    }
  }
  if (segments < 1 || (!input && !nloads)) {
    fprintf(stderr, "obs_tool: need an input file or --load, and --segments >= 1\n");
    return 2;
  }
  qc_stats_set set;
  qc_stats_set_init(&set);
  qc_stats *s = NULL;
  int rc = QC_OK;
  for (int i = 0; rc == QC_OK && i < nloads; i++)
    rc = qc_stats_load(loads[i], NULL, &set);
  if (rc == QC_OK)
    rc = qc_stats_set_get(&set, "x", &s);
  if (rc == QC_OK && input)
    rc = observe(input, sample_size, segments, s);
  if (rc == QC_OK && save)
    rc = qc_stats_save(save, fingerprint, &set);
  if (rc == QC_OK)
    rc = report(s, percentile, with_hist);
  qc_stats_set_free(&set);
  if (rc < 0)
    return qc_tool_fail("obs_tool", rc);
  return 0;
}
