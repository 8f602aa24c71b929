#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

void qc_fail_message(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  /* Keep errors one line. */
  for (char *p = last_error; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
}

int qc_fail_context(int code, const char *fmt, ...) {
  char prefix[512], old[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, last_error, sizeof old);
  snprintf(last_error, sizeof last_error, "%s: %s", prefix, old[0] ? old : qc_status_name(code));
  return code;
}

const char *qc_last_error(void) { return last_error[0] ? last_error : "unknown error"; }

void qc_clear_error(void) { last_error[0] = 0; }

int qc_exit_code(int status) {
  switch (status) {
  case QC_OK: return 0;
  case QC_ENOMEM:
  case QC_EINTERNAL: return 1;
  case QC_EINTERRUPTED: return 130;
  default: return 2;
  }
}

const char *qc_status_name(int status) {
  switch (status) {
  case QC_OK: return "ok";
  case QC_EUSAGE: return "usage error";
  case QC_EINVAL: return "invalid input";
  case QC_EIO: return "i/o error";
  case QC_ENOMEM: return "out of memory";
  case QC_EUNSUPPORTED: return "unsupported";
  case QC_ELIMIT: return "resource limit exceeded";
  case QC_EINTERRUPTED: return "interrupted";
  case QC_EINTERNAL: return "internal error";
  default: return "error";
  }
}
