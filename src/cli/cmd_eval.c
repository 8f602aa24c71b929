/* qconvert eval FP32.onnx [QUANT.onnx] --data DIR: accuracy of one model, or
 * FP32 vs quantized (agreement, output SQNR, cosine), in qconvert's engine. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../io/model_io.h"
#include "../ir/model.h"
#include "cli.h"
#include "job.h"

static void print_eval(const job_args *a, const qc_eval_result *r) {
  printf("qconvert eval: %s%s%s on %s (%lld samples%s)\n", a->model, a->model2 ? " vs " : "",
         a->model2 ? a->model2 : "", a->eval_dir, (long long)r->samples, r->labeled ? ", labeled" : ", unlabeled");
  if (r->labeled) {
    printf("  top-1        fp32 %.2f%%", 100 * r->fp32_top1);
    if (a->model2)
      printf("   quantized %.2f%%   (%+.2f pt)", 100 * r->quant_top1, 100 * (r->quant_top1 - r->fp32_top1));
    printf("\n");
    if (r->fp32_top5 >= 0) {
      printf("  top-5        fp32 %.2f%%", 100 * r->fp32_top5);
      if (a->model2)
        printf("   quantized %.2f%%", 100 * r->quant_top5);
      printf("\n");
    }
  }
  if (a->model2) {
    printf("  agreement    %.2f%% (top-1 class)\n", 100 * r->agreement);
    printf("  output SQNR  %.2f dB   cosine %.6f\n", r->output_sqnr_db, r->cosine);
    printf("  time         fp32 %.3f ms/image   quantized %.3f ms/image\n", r->fp32_ms, r->quant_ms);
  } else {
    printf("  time         %.3f ms/image\n", r->fp32_ms);
  }
}

static int run(const job_args *a) {
  qc_model *m = NULL, *q = NULL;
  qc_eval_data *data = NULL;
  qc_eval_result r = {0};
  job_files files;
  /* The reports' destinations and every file read are checked before evaluating. */
  int rc = job_files_open(a, NULL, &files);
  if (rc == QC_OK && (rc = qc_model_load(a->model, &m)) == QC_OK)
    rc = job_files_add_model(&files, m);
  if (rc == QC_OK && a->model2 && (rc = qc_model_load(a->model2, &q)) == QC_OK)
    rc = job_files_add_model(&files, q);
  if (rc == QC_OK)
    rc = job_open_eval_data(a, m, 0, &files, &data);
  qc_eval_opts eo = {.batch = a->batch > 1 ? (int)a->batch : 32,
                     .nthreads = a->threads > 0 ? (int)a->threads : omp_get_num_procs(), .quiet = a->quiet};
  if (rc == QC_OK)
    rc = qc_evaluate(m, q, data, &eo, &r);
  if (rc == QC_OK) {
    qc_quant_report rep = {.model_path = a->model, .output_path = a->model2 ? a->model2 : "",
                           .fp32_bytes = (double)m->file_bytes, .quantized_bytes = q ? (double)q->file_bytes : 0,
                           .eval = &r, .observer = "", .activation_type = "", .weight_type = ""};
    if ((rc = job_files_write_reports(a, &files, &rep)) == QC_OK && (rc = qc_outputs_commit(files.outputs)) == QC_OK)
      print_eval(a, &r);
  }
  job_files_close(&files);
  qc_eval_close(data);
  qc_model_free(m);
  qc_model_free(q);
  return rc;
}

int cmd_eval(int argc, char **argv) { return cli_run_job(argc, argv, JOB_EVAL, run); }
