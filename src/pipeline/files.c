/* Every file a job reads and every file it writes, in one place (job_internal.h).
 *
 * Destinations are checked and reserved (a temp file beside each) before the
 * model is even loaded; each time the job learns of more input files (the
 * model's external data, the calibration and evaluation samples once listed)
 * every destination is checked against them again, so no output can replace
 * an input, whatever name it is reached by. All outputs are committed
 * together at the end (qc_outputs_commit in src/core/fileio.c). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../io/model_io.h"
#include "../io/tensor_proto.h"
#include "job_internal.h"
#include "onnx.pb-c.h"

/* ---- inputs ---- */

static int add_tensor(qc_file_set *in, const qc_model *m, const Onnx__TensorProto *tp) {
  if (!tp || !qc_tensor_proto_is_external(tp))
    return QC_OK;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *kv = tp->external_data[i];
    char path[PATH_MAX];
    /* A location that does not resolve is refused when the tensor is read. */
    if (kv->key && strcmp(kv->key, "location") == 0 &&
        qc_resolve_external_path(m->dir, kv->value, path, sizeof path) == QC_OK)
      QC_TRY(qc_file_set_add(in, path));
  }
  return QC_OK;
}

static int add_sparse(qc_file_set *in, const qc_model *m, const Onnx__SparseTensorProto *sp) {
  if (!sp)
    return QC_OK;
  QC_TRY(add_tensor(in, m, sp->values));
  return add_tensor(in, m, sp->indices);
}

static int add_graph(qc_file_set *in, const qc_model *m, const Onnx__GraphProto *g);

static int add_nodes(qc_file_set *in, const qc_model *m, Onnx__NodeProto *const *nodes, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < nodes[i]->n_attribute; k++) {
      const Onnx__AttributeProto *a = nodes[i]->attribute[k];
      QC_TRY(add_tensor(in, m, a->t));
      QC_TRY(add_sparse(in, m, a->sparse_tensor));
      QC_TRY(add_graph(in, m, a->g));
      for (size_t j = 0; j < a->n_tensors; j++)
        QC_TRY(add_tensor(in, m, a->tensors[j]));
      for (size_t j = 0; j < a->n_sparse_tensors; j++)
        QC_TRY(add_sparse(in, m, a->sparse_tensors[j]));
      for (size_t j = 0; j < a->n_graphs; j++)
        QC_TRY(add_graph(in, m, a->graphs[j]));
    }
  return QC_OK;
}

/* Recursion depth is bounded by the loader's nesting check (QC_MAX_PROTO_DEPTH). */
static int add_graph(qc_file_set *in, const qc_model *m, const Onnx__GraphProto *g) {
  if (!g)
    return QC_OK;
  for (size_t i = 0; i < g->n_initializer; i++)
    QC_TRY(add_tensor(in, m, g->initializer[i]));
  for (size_t i = 0; i < g->n_sparse_initializer; i++)
    QC_TRY(add_sparse(in, m, g->sparse_initializer[i]));
  return add_nodes(in, m, g->node, g->n_node);
}

int job_files_add_model(job_files *f, const qc_model *m) {
  const Onnx__ModelProto *p = m->proto;
  QC_TRY(qc_file_set_add(&f->inputs, m->path));
  QC_TRY(add_graph(&f->inputs, m, p->graph));
  for (size_t i = 0; i < p->n_functions; i++)
    QC_TRY(add_nodes(&f->inputs, m, p->functions[i]->node, p->functions[i]->n_node));
  return qc_outputs_check_inputs(f->outputs, &f->inputs);
}

int job_files_add_source(job_files *f, const qc_calib_source *src, int ninputs) {
  for (int64_t i = 0; src && i < qc_calib_source_count(src); i++)
    for (int k = 0; k < ninputs; k++)
      QC_TRY(qc_file_set_add(&f->inputs, qc_calib_source_path(src, i, k)));
  return qc_outputs_check_inputs(f->outputs, &f->inputs);
}

int job_files_add_eval(job_files *f, const qc_eval_data *d, int ninputs) {
  for (int64_t i = 0; d && i < qc_eval_count(d); i++)
    for (int k = 0; k < ninputs; k++)
      QC_TRY(qc_file_set_add(&f->inputs, qc_eval_sample_path(d, i, k)));
  return qc_outputs_check_inputs(f->outputs, &f->inputs);
}

/* ---- destinations ---- */

int job_files_open(const qc_job_options *o, const char *output, job_files *f) {
  memset(f, 0, sizeof *f);
  f->model_out = f->stats_out = -1;
  QC_TRY(qc_outputs_create(&f->outputs));
  if (!(f->report_out = calloc((size_t)o->n_reports + 1, sizeof *f->report_out)))
    return qc_fail(QC_ENOMEM, "out of memory");
  /* Inputs named in the options; a --calib LIST.txt is one too (a directory
   * is skipped). The model's own files come with job_files_add_model. */
  const char *named[] = {o->model, o->model2, o->calib};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    QC_TRY(qc_file_set_add(&f->inputs, named[i]));
  for (int i = 0; i < o->n_load_stats; i++)
    QC_TRY(qc_file_set_add(&f->inputs, o->load_stats[i]));
  if (output)
    QC_TRY(qc_outputs_add(f->outputs, o->output ? "-o" : "output", output, &f->model_out));
  for (int i = 0; i < o->n_reports; i++) {
    if (!qc_report_format_supported(o->reports[i]))
      return qc_fail(QC_EUSAGE, "--report %s: unknown report format (use .json, .csv, .txt, .html or .png)",
                     o->reports[i]);
    QC_TRY(qc_outputs_add(f->outputs, "--report", o->reports[i], &f->report_out[i]));
  }
  if (o->save_stats)
    QC_TRY(qc_outputs_add(f->outputs, "--save-stats", o->save_stats, &f->stats_out));
  return qc_outputs_check_inputs(f->outputs, &f->inputs);
}

int job_files_write_reports(const qc_job_options *o, job_files *f, const qc_quant_report *r) {
  for (int i = 0; i < o->n_reports; i++) {
    char *data;
    size_t len;
    QC_TRY(qc_report_render(o->reports[i], r, &data, &len));
    int rc = qc_outputs_write(f->outputs, f->report_out[i], data, len);
    free(data);
    QC_TRY(rc);
  }
  return QC_OK;
}

void job_files_close(job_files *f) {
  qc_outputs_free(f->outputs);
  qc_file_set_free(&f->inputs);
  free(f->report_out);
  memset(f, 0, sizeof *f);
  f->model_out = f->stats_out = -1;
}
