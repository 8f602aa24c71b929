/* The public API in qconvert.h, on the pipeline the command line uses. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "pipeline/job.h"
#include "qconvert.h"

const char *qconvert_version(void) { return QCONVERT_VERSION; }
const char *qconvert_last_error(void) { return qc_last_error(); }
int qconvert_exit_code(int status) { return qc_exit_code(status); }

void qconvert_options_init(qconvert_options *o) { memset(o, 0, sizeof *o); }

int qconvert_quantize(const char *model_path, const char *output_path, const qconvert_options *o) {
  if (!model_path || !o)
    return qc_fail(QC_EUSAGE, "qconvert_quantize: model path and options are required");
  if (!o->calib && !o->load_stats)
    return qc_fail(QC_EUSAGE, "qconvert_quantize: options.calib (or load_stats) is required");
  qc_job_options jo;
  qc_observer_kind observer;
  qc_job_options_default(&jo);
  jo.model = model_path;
  jo.output = output_path;
  jo.calib = o->calib;
  jo.eval_dir = o->eval_dir;
  jo.calib_count = o->calib_count;
  jo.batch = o->batch > 0 ? o->batch : 1;
  jo.threads = o->threads;
  jo.quiet = 1;
  jo.percentile = o->percentile > 0 ? o->percentile : QC_PERCENTILE_DEFAULT;
  jo.save_stats = o->save_stats;
  jo.load_stats = &o->load_stats;
  jo.n_load_stats = o->load_stats != NULL;
  jo.input_shapes = &o->input_shape;
  jo.n_input_shapes = o->input_shape != NULL;
  jo.reports = &o->report;
  jo.n_reports = o->report != NULL;
  jo.act_scheme = o->activation_int8 ? QC_QS_INT8_SYMMETRIC : QC_QS_UINT8_AFFINE;
  jo.per_tensor = o->per_tensor;
  jo.weight_only = o->weight_only;
  jo.no_equalize = o->no_equalize;
  if (o->observer) {
    QC_TRY(qc_observer_parse(o->observer, &observer));
    jo.observers = &observer;
    jo.n_observers = 1;
  }
  qc_job_result res;
  QC_TRY(qc_job_quantize(&jo, &res));
  if (o->summary)
    qc_report_print(o->summary, &res.report);
  qc_job_result_free(&res);
  return QC_OK;
}
