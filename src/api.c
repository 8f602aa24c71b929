/* The public API in qconvert.h, on top of the job code the CLI uses. */
#include <stdlib.h>
#include <string.h>

#include "cli/job.h"
#include "core/status.h"
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
  job_args *a = calloc(1, sizeof *a);
  if (!a)
    return qc_fail(QC_ENOMEM, "out of memory");
  a->mode = JOB_QUANTIZE;
  a->model = model_path;
  a->calib = o->calib;
  a->eval_dir = o->eval_dir;
  a->calib_count = o->calib_count;
  a->batch = o->batch > 0 ? o->batch : 1;
  a->threads = o->threads;
  a->quiet = 1;
  a->percentile = o->percentile > 0 ? o->percentile : QC_PERCENTILE_DEFAULT;
  a->save_stats = o->save_stats;
  if (o->load_stats)
    a->load_stats[a->n_load_stats++] = o->load_stats;
  if (o->input_shape)
    a->input_shapes[a->n_input_shapes++] = o->input_shape;
  if (o->report)
    a->reports[a->n_reports++] = o->report;
  a->q.act_scheme = o->activation_int8 ? QC_QS_INT8_SYMMETRIC : QC_QS_UINT8_AFFINE;
  a->q.per_tensor = o->per_tensor;
  a->q.weight_only = o->weight_only;
  a->q.no_equalize = o->no_equalize;
  a->observers[0] = QC_OBS_MSE;
  a->n_observers = 1;
  int rc = o->observer ? qc_observer_parse(o->observer, &a->observers[0]) : QC_OK;
  char *output = NULL;
  if (rc == QC_OK) {
    job_observer_cfg(a, a->observers[0], &a->q.observer);
    output = output_path ? strdup(output_path) : job_default_output_path(model_path);
    rc = output ? job_quantize(a, output, o->summary) : qc_fail(QC_ENOMEM, "out of memory");
  }
  free(output);
  free(a);
  return rc;
}
