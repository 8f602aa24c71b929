#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "cli.h"

int cli_fail(int status) {
  fprintf(stderr, "qconvert: error: %s\n", qc_last_error());
  return qc_exit_code(status);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "qconvert: error: %s (see 'qconvert %s--help')\n", msg, cmd && *cmd ? cmd : "");
  return 2;
}

int cli_bad_option(const char *cmd, char **argv, int getopt_result) {
  const char *arg = argv[optind - 1];
  char spaced[64] = "";
  if (cmd && *cmd)
    snprintf(spaced, sizeof spaced, "%s ", cmd);
  if (getopt_result == ':')
    return cli_usage_error(spaced, "option '%s' needs a value", arg);
  return cli_usage_error(spaced, "unknown option '%s'", arg);
}

int cli_parse_int(const char *opt, const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return qc_fail(QC_EUSAGE, "%s: expected an integer in [%ld, %ld], got '%s'", opt, min, max, s);
  *out = v;
  return QC_OK;
}

int cli_parse_float(const char *opt, const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v))
    return qc_fail(QC_EUSAGE, "%s: expected a number, got '%s'", opt, s);
  *out = v;
  return QC_OK;
}
