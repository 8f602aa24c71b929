/* The public API in qconvert.h: qconvert_options mapped onto the pipeline's
 * qc_job_options, and the same job calls the command line makes. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "pipeline/job.h"
#include "qconvert.h"

const char *qconvert_version(void) { return QCONVERT_VERSION; }
const char *qconvert_last_error(void) { return qc_last_error(); }
int qconvert_exit_code(int status) { return qc_exit_code(status); }

void qconvert_options_init(qconvert_options *o) { memset(o, 0, sizeof *o); }

/* The preprocessing options as the command line spells them, parsed by the same code. */
static int set_preprocessing(const qconvert_options *o, qc_preprocess_opts *pre) {
  const struct {
    const char *key, *value;
  } given[] = {{"scale", o->scale},   {"mean", o->mean},          {"std", o->std},     {"color", o->color},
               {"layout", o->layout}, {"resize", o->resize_mode}, {"pad", o->pad_value}};
  for (size_t i = 0; i < sizeof given / sizeof given[0]; i++)
    if (given[i].value)
      QC_TRY(qc_preprocess_set_option(pre, given[i].key, given[i].value));
  return QC_OK;
}

/* fn names the API function in messages; kinds receives the parsed observers. */
static int job_options(const char *fn, int compare, const char *model_path, const char *output_path,
                       const qconvert_options *o, qc_job_options *jo, qc_observer_kind kinds[QC_OBS_COUNT]) {
  if (!model_path || !o)
    return qc_fail(QC_EUSAGE, "%s: model path and options are required", fn);
  if (!o->calib && !o->n_load_stats)
    return qc_fail(QC_EUSAGE, "%s: options.calib (or load_stats) is required", fn);
  if (compare && (o->observer || o->min_sqnr || o->rounding))
    return qc_fail(QC_EUSAGE, "%s: options.%s is for qconvert_quantize (compare takes options.observers)", fn,
                   o->observer ? "observer" : o->min_sqnr ? "min_sqnr" : "rounding");
  if (!compare && o->n_observers)
    return qc_fail(QC_EUSAGE, "%s: options.observers is for qconvert_compare (use options.observer)", fn);
  if (o->n_observers < 0 || o->n_observers > QC_OBS_COUNT || (o->n_observers && !o->observers))
    return qc_fail(QC_EUSAGE, "%s: options.observers: expected 1 to %d names", fn, QC_OBS_COUNT);
  qc_job_options_default(jo);
  jo->model = model_path;
  jo->output = output_path;
  jo->calib = o->calib;
  jo->calib_count = o->calib_count;
  jo->input_shapes = o->input_shapes;
  jo->n_input_shapes = o->n_input_shapes;
  QC_TRY(set_preprocessing(o, &jo->pre));
  jo->load_stats = o->load_stats;
  jo->n_load_stats = o->n_load_stats;
  jo->eval_dir = o->eval_dir;
  jo->n_observers = o->observer ? 1 : o->n_observers;
  for (int i = 0; i < jo->n_observers; i++)
    QC_TRY(qc_observer_parse(o->observer ? o->observer : o->observers[i], &kinds[i]));
  jo->observers = kinds;
  if (o->percentile)
    jo->percentile = o->percentile;
  jo->act_scheme = o->activation_int8 ? QC_QS_INT8_SYMMETRIC : QC_QS_UINT8_AFFINE;
  jo->per_tensor = o->per_tensor;
  jo->weight_only = o->weight_only;
  jo->no_equalize = o->no_equalize;
  jo->no_saturation_clip = o->no_saturation_clip;
  jo->refine = o->refine;
  jo->exclude = o->exclude;
  jo->n_exclude = o->n_exclude;
  jo->op_types = o->op_types;
  jo->n_op_types = o->n_op_types;
  jo->min_sqnr = o->min_sqnr;
  jo->fallback_budget = o->fallback_budget;
  if (o->rounding)
    QC_TRY(qc_job_parse_rounding(o->rounding, &jo->rounding));
  jo->no_bias_correction = o->no_bias_correction;
  jo->reports = o->reports;
  jo->n_reports = o->n_reports;
  jo->save_stats = o->save_stats;
  if (o->batch)
    jo->batch = o->batch;
  jo->threads = o->threads;
  jo->quiet = !o->verbose;
  jo->progress = o->progress;
  return QC_OK;
}

/* One job, quantize or (compare) compare, with its summary printed where asked.
 * fn names the API function in messages. */
static int run_job(const char *fn, int compare, const char *model_path, const char *output_path,
                   const qconvert_options *o) {
  qc_job_options jo;
  qc_observer_kind kinds[QC_OBS_COUNT];
  qc_job_result res;
  QC_TRY(job_options(fn, compare, model_path, output_path, o, &jo, kinds));
  QC_TRY(compare ? qc_job_compare(&jo, &res) : qc_job_quantize(&jo, &res));
  if (o->summary && compare)
    qc_report_print_compare(o->summary, &res.report, o->eval_dir ? o->eval_dir : "calibration samples");
  else if (o->summary)
    qc_report_print(o->summary, &res.report);
  qc_job_result_free(&res);
  return QC_OK;
}

int qconvert_quantize(const char *model_path, const char *output_path, const qconvert_options *o) {
  return run_job("qconvert_quantize", 0, model_path, output_path, o);
}

int qconvert_compare(const char *model_path, const char *best_output_path, const qconvert_options *o) {
  return run_job("qconvert_compare", 1, model_path, best_output_path, o);
}
