/* The command wrapper shared by the main job, `compare` and `eval`: parse,
 * install the signal handlers, run, map the status to an exit code. */
#include <stdlib.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "cli.h"
#include "job.h"

int cli_run_job(int argc, char **argv, int mode, int (*run)(const job_args *a)) {
  job_args *a = calloc(1, sizeof *a);
  if (!a)
    return cli_fail(qc_fail(QC_ENOMEM, "out of memory"));
  int rc = job_parse(argc, argv, (job_mode)mode, a), exit_code = 0;
  if (rc <= JOB_USAGE_PRINTED) {
    exit_code = JOB_USAGE_PRINTED - rc; /* the usage message is already printed */
  } else if (rc < 0) {
    exit_code = cli_fail(rc);
  } else if (rc == 0) {
    qc_install_signal_handlers();
    if ((rc = run(a)) < 0)
      exit_code = cli_fail(rc);
  }
  job_args_free(a);
  free(a);
  return exit_code;
}
