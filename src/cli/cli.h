/* Shared pieces of the qconvert command line. */
#ifndef QC_CLI_H
#define QC_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "../pipeline/options.h"

/* Prints "qconvert: error: <last error>" and returns the exit code for status. */
int cli_fail(int status);
/* Prints a usage error naming the problem, plus a hint, and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...);
/* Message for getopt_long's '?' (unknown option) or ':' (missing value; the
 * optstring must start with ':'), naming the offending argument. Returns 2. */
int cli_bad_option(const char *cmd, char **argv, int getopt_result);

int cli_parse_int(const char *opt, const char *s, long min, long max, long *out);
int cli_parse_float(const char *opt, const char *s, double *out);

/* Sets OMP_WAIT_POLICY / OPENBLAS_CORETYPE when unset and re-execs once
 * (see runtime_env.c). Call first thing in main(). */
void cli_runtime_env(char **argv);

/* ---- the job commands: the main job, `compare`, `eval` ---- */
typedef enum { CLI_QUANTIZE, CLI_COMPARE, CLI_EVAL } cli_job_mode;

#define CLI_MAX_LIST 256
/* The parsed options and the storage their lists point into. */
typedef struct cli_job_args {
  qc_job_options o;
  const char *reports[CLI_MAX_LIST], *load_stats[CLI_MAX_LIST], *input_shapes[CLI_MAX_LIST];
  const char *exclude[CLI_MAX_LIST], *op_types[CLI_MAX_LIST];
  qc_observer_kind observers[QC_OBS_COUNT];
  char *exclude_buf, *op_types_buf, *observers_buf;
} cli_job_args;

/* Returns 0 to run, 1 after --help, a negative status (message set), or
 * CLI_USAGE_PRINTED - exit_code when a usage message was already printed. */
#define CLI_USAGE_PRINTED (-1000)
int cli_job_parse(int argc, char **argv, cli_job_mode mode, cli_job_args *a);
void cli_job_args_free(cli_job_args *a);

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_eval(int argc, char **argv);

#endif
