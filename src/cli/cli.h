/* Shared pieces of the qconvert command line. */
#ifndef QC_CLI_H
#define QC_CLI_H

#include <stdint.h>
#include <stdio.h>

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

struct job_args;
/* Parses a job command (job_mode from job.h), runs it, returns the exit code. */
int cli_run_job(int argc, char **argv, int mode, int (*run)(const struct job_args *a));

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_eval(int argc, char **argv);

#endif
