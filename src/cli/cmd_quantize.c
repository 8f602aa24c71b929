/* qconvert MODEL --calib DIR [options]: the main job (the pipeline itself is
 * job_quantize() in job_quantize.c, shared with the public API). */
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "cli.h"
#include "job.h"

static int run(const job_args *a) {
  char *output = a->output ? strdup(a->output) : job_default_output_path(a->model);
  int rc = output ? job_quantize(a, output, stdout) : qc_fail(QC_ENOMEM, "out of memory");
  free(output);
  return rc;
}

int cmd_quantize(int argc, char **argv) { return cli_run_job(argc, argv, JOB_QUANTIZE, run); }
