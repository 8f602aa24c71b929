/* The job commands: `qconvert MODEL --calib DIR`, `compare` and `eval`.
 * Parse, install the signal handlers, run the job (src/pipeline), print its
 * result, map the status to an exit code. */
#include <stdlib.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "../pipeline/job.h"
#include "cli.h"

static void print_eval(const qc_job_options *o, const qc_eval_result *r) {
  printf("qconvert eval: %s%s%s on %s (%lld samples%s)\n", o->model, o->model2 ? " vs " : "",
         o->model2 ? o->model2 : "", o->eval_dir, (long long)r->samples, r->labeled ? ", labeled" : ", unlabeled");
  if (r->labeled) {
    printf("  top-1        fp32 %.2f%%", 100 * r->fp32_top1);
    if (o->model2)
      printf("   quantized %.2f%%   (%+.2f pt)", 100 * r->quant_top1, 100 * (r->quant_top1 - r->fp32_top1));
    printf("\n");
    if (r->fp32_top5 >= 0) {
      printf("  top-5        fp32 %.2f%%", 100 * r->fp32_top5);
      if (o->model2)
        printf("   quantized %.2f%%", 100 * r->quant_top5);
      printf("\n");
    }
  }
  if (o->model2) {
    printf("  agreement    %.2f%% (top-1 class)\n", 100 * r->agreement);
    printf("  output SQNR  %.2f dB   cosine %.6f\n", r->output_sqnr_db, r->cosine);
    printf("  time         fp32 %.3f ms/image   quantized %.3f ms/image\n", r->fp32_ms, r->quant_ms);
  } else {
    printf("  time         %.3f ms/image\n", r->fp32_ms);
  }
}

static int run(cli_job_mode mode, const qc_job_options *o) {
  qc_job_result res;
  int rc = mode == CLI_COMPARE ? qc_job_compare(o, &res)
           : mode == CLI_EVAL  ? qc_job_evaluate(o, &res)
                               : qc_job_quantize(o, &res);
  if (rc < 0)
    return rc;
  if (mode == CLI_COMPARE)
    qc_report_print_compare(stdout, &res.report, o->eval_dir ? o->eval_dir : "calibration samples");
  else if (mode == CLI_EVAL)
    print_eval(o, res.report.eval);
  else
    qc_report_print(stdout, &res.report);
  qc_job_result_free(&res);
  return QC_OK;
}

static int run_command(int argc, char **argv, cli_job_mode mode) {
  cli_job_args *a = calloc(1, sizeof *a);
  if (!a)
    return cli_fail(qc_fail(QC_ENOMEM, "out of memory"));
  int rc = cli_job_parse(argc, argv, mode, a), exit_code = 0;
  if (rc <= CLI_USAGE_PRINTED) {
    exit_code = CLI_USAGE_PRINTED - rc; /* the usage message is already printed */
  } else if (rc < 0) {
    exit_code = cli_fail(rc);
  } else if (rc == 0) {
    qc_install_signal_handlers();
    if ((rc = run(mode, &a->o)) < 0)
      exit_code = cli_fail(rc);
  }
  cli_job_args_free(a);
  free(a);
  return exit_code;
}

int cmd_quantize(int argc, char **argv) { return run_command(argc, argv, CLI_QUANTIZE); }
int cmd_compare(int argc, char **argv) { return run_command(argc, argv, CLI_COMPARE); }
int cmd_eval(int argc, char **argv) { return run_command(argc, argv, CLI_EVAL); }
