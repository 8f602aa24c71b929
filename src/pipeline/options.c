/* Job options: defaults and the checks that need no model. See options.h. */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"

void qc_job_options_default(qc_job_options *o) {
  memset(o, 0, sizeof *o);
  o->batch = 1;
  o->percentile = QC_PERCENTILE_DEFAULT;
  o->act_scheme = QC_QS_UINT8_AFFINE;
}

int qc_job_check_percentile(double percentile, const char *given) {
  if (!(percentile > 0 && percentile <= 100))
    return qc_fail(QC_EUSAGE, "--percentile: expected a value in (0, 100], got '%s'", given);
  return QC_OK;
}

int qc_job_check_min_sqnr(double db, const char *given) {
  if (!(db > 0 && db < 200))
    return qc_fail(QC_EUSAGE, "--min-sqnr: expected decibels in (0, 200), got '%s'", given);
  return QC_OK;
}

int qc_job_check_fallback_budget(double seconds, const char *given) {
  if (!(seconds > 0 && seconds <= 1e7))
    return qc_fail(QC_EUSAGE, "--fallback-budget: expected seconds in (0, 1e7], got '%s'", given);
  return QC_OK;
}

int qc_job_check_op_type(const char *op_type) {
  if (!qc_qdq_op_supported(op_type))
    return qc_fail(QC_EUSAGE, "--op-types: '%s' cannot be quantized (supported: %s)", op_type,
                   qc_qdq_supported_ops());
  return QC_OK;
}

int qc_job_parse_rounding(const char *s, int *rounding) {
  if (s && strcmp(s, "nearest") == 0)
    *rounding = QC_ROUNDING_NEAREST;
  else if (s && strcmp(s, "adaround") == 0)
    *rounding = QC_ROUNDING_ADAROUND;
  else
    return qc_fail(QC_EUSAGE, "--rounding: expected nearest or adaround, got '%s'", s ? s : "(null)");
  return QC_OK;
}

/* Nothing before, between or after the dimensions (no sign, space or trailing 'x'). */
int qc_job_parse_dims(const char *s, int64_t *dims, int *ndim) {
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

int qc_job_check_input_shape(const char *arg) {
  const char *eq = strchr(arg, '=');
  int64_t dims[QC_MAX_DIMS];
  int ndim;
  return qc_job_parse_dims(eq ? eq + 1 : arg, dims, &ndim);
}

static int check_range(const char *opt, long v, long min, long max) {
  if (v < min || v > max)
    return qc_fail(QC_EUSAGE, "%s: expected an integer in [%ld, %ld], got '%ld'", opt, min, max, v);
  return QC_OK;
}

/* A list given as pointer + count: no negative count, no missing entry. */
static int check_list(const char *opt, const char *const *items, int n) {
  if (n < 0 || (n > 0 && !items))
    return qc_fail(QC_EUSAGE, "%s: %d entries but no list", opt, n);
  for (int i = 0; i < n; i++)
    if (!items[i])
      return qc_fail(QC_EUSAGE, "%s: entry %d is missing", opt, i);
  return QC_OK;
}

int qc_job_options_check(const qc_job_options *o) {
  char given[64];
  if (!o->model)
    return qc_fail(QC_EUSAGE, "no model given");
  QC_TRY(check_list("--input-shape", o->input_shapes, o->n_input_shapes));
  QC_TRY(check_list("--load-stats", o->load_stats, o->n_load_stats));
  QC_TRY(check_list("--exclude", o->exclude, o->n_exclude));
  QC_TRY(check_list("--op-types", o->op_types, o->n_op_types));
  QC_TRY(check_list("--report", o->reports, o->n_reports));
  if (o->n_observers > 0 && !o->observers)
    return qc_fail(QC_EUSAGE, "--observers: %d entries but no list", o->n_observers);
  snprintf(given, sizeof given, "%g", o->percentile);
  QC_TRY(qc_job_check_percentile(o->percentile, given));
  snprintf(given, sizeof given, "%g", o->min_sqnr);
  if (o->min_sqnr != 0)
    QC_TRY(qc_job_check_min_sqnr(o->min_sqnr, given));
  snprintf(given, sizeof given, "%g", o->fallback_budget);
  if (o->fallback_budget != 0)
    QC_TRY(qc_job_check_fallback_budget(o->fallback_budget, given));
  if (o->fallback_budget != 0 && o->min_sqnr == 0)
    return qc_fail(QC_EUSAGE, "--fallback-budget: needs --min-sqnr (it bounds that search)");
  if (o->rounding != QC_ROUNDING_NEAREST && o->rounding != QC_ROUNDING_ADAROUND)
    return qc_fail(QC_EUSAGE, "--rounding: expected nearest or adaround");
  if (o->rounding == QC_ROUNDING_ADAROUND && o->n_load_stats)
    return qc_fail(QC_EUSAGE, "--rounding adaround: learns from the --calib samples, so it cannot run on --load-stats");
  QC_TRY(check_range("--batch", o->batch, 1, QC_JOB_MAX_BATCH));
  QC_TRY(check_range("--threads", o->threads, 0, QC_JOB_MAX_THREADS));
  QC_TRY(check_range("--calib-count", o->calib_count, 0, 1L << 40));
  if (o->act_scheme != QC_QS_UINT8_AFFINE && o->act_scheme != QC_QS_INT8_SYMMETRIC)
    return qc_fail(QC_EUSAGE, "--activation-type: expected uint8 or int8");
  QC_TRY(check_range("--observers: count", o->n_observers, 0, QC_OBS_COUNT));
  for (int i = 0; i < o->n_observers; i++)
    if ((int)o->observers[i] < 0 || o->observers[i] >= QC_OBS_COUNT)
      return qc_fail(QC_EUSAGE, "--observers: unknown observer #%d", (int)o->observers[i]);
  for (int i = 0; i < o->n_op_types; i++)
    QC_TRY(qc_job_check_op_type(o->op_types[i]));
  for (int i = 0; i < o->n_input_shapes; i++)
    QC_TRY(qc_job_check_input_shape(o->input_shapes[i]));
  return QC_OK;
}
