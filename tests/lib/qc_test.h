/* The one C test harness (tests/lib): CHECK counts checks and failures,
 * qc_test_finish prints the "N passed, N failed" summary every test prints and
 * gives main's exit status. Header-only: each C test is one translation unit.
 *
 *   CHECK(cond);                        FAIL file:line: cond
 *   CHECK(cond, "got %d", v);           FAIL file:line: cond: got 7
 *   CHECK_OK(call);                     FAIL file:line: call: <qc_last_error()>
 *   return qc_test_finish("ir");        ir: 60 passed, 0 failed
 * The helper tools next to the tests end a failed run with qc_tool_fail.
 */
#ifndef QC_TEST_H
#define QC_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"

static int qc_test_checks;
static int qc_test_failures;

/* Prints one failure; fmt starts with the " " CHECK prepends, so that
 * CHECK(cond) with no message still passes a non-empty format. */
__attribute__((format(printf, 4, 5), unused)) static void qc_test_fail(const char *file, int line,
                                                                      const char *cond, const char *fmt, ...) {
  qc_test_failures++;
  fprintf(stderr, "FAIL %s:%d: %s", file, line, cond);
  if (fmt[1]) {
    va_list ap;
    va_start(ap, fmt);
    fputc(':', stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
}

#define CHECK(cond, ...)                                       \
  do {                                                         \
    qc_test_checks++;                                          \
    if (!(cond))                                               \
      qc_test_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__); \
  } while (0)

/* A library call that must return a non-negative status. */
#define CHECK_OK(expr)                                                      \
  do {                                                                      \
    qc_test_checks++;                                                       \
    if ((expr) < 0)                                                         \
      qc_test_fail(__FILE__, __LINE__, #expr, " %s", qc_last_error());      \
  } while (0)

/* Prints "<name>: N passed, N failed" and returns main's exit status. */
__attribute__((unused)) static int qc_test_finish(const char *name) {
  int passed = qc_test_checks - qc_test_failures;
  fprintf(qc_test_failures ? stderr : stdout, "%s: %d passed, %d failed\n", name, passed, qc_test_failures);
  return qc_test_failures ? 1 : 0;
}

/* A helper tool's exit after a failed status: prints "<prefix>: <error>" and
 * returns the CLI's exit code for the status. */
__attribute__((unused)) static int qc_tool_fail(const char *prefix, int rc) {
  fprintf(stderr, "%s: %s\n", prefix, qc_last_error());
  return qc_exit_code(rc);
}

/* Splits a helper tool's "key=value" argument: key (NUL-terminated, at most
 * key_size - 1 bytes) and *value (pointing into arg); QC_EUSAGE otherwise. */
__attribute__((unused)) static int qc_tool_key_value(const char *arg, char *key, size_t key_size,
                                                     const char **value) {
  const char *eq = strchr(arg, '=');
  if (!eq || (size_t)(eq - arg) >= key_size)
    return qc_fail(QC_EUSAGE, "expected key=value, got '%s'", arg);
  memcpy(key, arg, (size_t)(eq - arg));
  key[eq - arg] = 0;
  *value = eq + 1;
  return QC_OK;
}

#endif
