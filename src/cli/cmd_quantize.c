/* qconvert MODEL --calib DIR [options]: the main job (the pipeline itself is
 * job_quantize() in job_quantize.c, shared with the public API). */
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "cli.h"
#include "job.h"

int cmd_quantize(int argc, char **argv) {
  job_args *a = calloc(1, sizeof *a);
  if (!a)
    return cli_fail(qc_fail(QC_ENOMEM, "out of memory"));
  int rc = job_parse(argc, argv, JOB_QUANTIZE, a), exit_code = 0;
  if (rc <= JOB_USAGE_PRINTED) {
    exit_code = JOB_USAGE_PRINTED - rc;
  } else if (rc < 0) {
    exit_code = cli_fail(rc);
  } else if (rc == 0) {
    qc_install_signal_handlers();
    char *output = a->output ? strdup(a->output) : job_default_output_path(a->model);
    rc = output ? job_quantize(a, output, stdout) : qc_fail(QC_ENOMEM, "out of memory");
    if (rc < 0)
      exit_code = cli_fail(rc);
    free(output);
  }
  job_args_free(a);
  free(a);
  return exit_code;
}
