/* `qconvert eval` and the per-layer error of quantize and compare. */
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../ir/model.h"
#include "job_internal.h"

int job_layer_errors(job_state *s, const qc_quant_summary *sum, qc_layer_error **out, int *n_out) {
  qc_layer_qparams *lq = calloc((size_t)sum->n_tensors + 1, sizeof *lq);
  if (!lq)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int i = 0; i < sum->n_tensors; i++) {
    const qc_tensor_report *t = &sum->tensors[i];
    int is_u8 = strcmp(t->qtype, "uint8") == 0;
    lq[i].name = t->name;
    lq[i].qp = (qc_qparams){.scale = t->scale, .zero_point = t->zero_point, .qmin = is_u8 ? 0 : -128,
                            .qmax = is_u8 ? 255 : 127, .symmetric = !is_u8};
  }
  qc_eval_opts eo = job_eval_opts(s->o);
  int rc = qc_layer_errors(s->fp32, lq, sum->n_tensors, s->data, &eo, out, n_out);
  free(lq);
  return rc;
}

int qc_job_evaluate(const qc_job_options *o, qc_job_result *res) {
  memset(res, 0, sizeof *res);
  job_state *s;
  QC_TRY(job_state_new(o, JOB_EVAL, &s));
  /* The reports' destinations and every file read are checked before evaluating. */
  int rc = job_files_open(o, NULL, &s->files);
  if (rc == QC_OK && (rc = qc_model_load(o->model, &s->m)) == QC_OK) {
    s->input_bytes = s->m->file_bytes;
    rc = job_files_add_model(&s->files, s->m);
  }
  if (rc == QC_OK && o->model2 && (rc = qc_model_load(o->model2, &s->model2)) == QC_OK)
    rc = job_files_add_model(&s->files, s->model2);
  if (rc == QC_OK)
    rc = job_open_eval_data(s, 0);
  qc_eval_opts eo = {.batch = o->batch > 1 ? (int)o->batch : 32, .nthreads = job_threads(o), .quiet = o->quiet};
  if (rc == QC_OK && (rc = qc_evaluate(s->m, s->model2, s->data, &eo, &s->eval)) == QC_OK)
    s->evaluated = 1;
  if (rc < 0 || (rc = job_finish(s, res)) < 0)
    job_state_free(s);
  return rc;
}
