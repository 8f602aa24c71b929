/* Status codes and the thread-local error message.
 *
 * Every fallible function returns an int: QC_OK (0) or a negative QC_E* code,
 * and records a one-line message naming the file, node or tensor involved. */
#ifndef QC_STATUS_H
#define QC_STATUS_H

enum {
  QC_OK = 0,
  QC_EUSAGE = -1,       /* bad command line / option value */
  QC_EINVAL = -2,       /* invalid input data: not ONNX, bad tensor, bad shape */
  QC_EIO = -3,          /* file system error */
  QC_ENOMEM = -4,       /* allocation failed */
  QC_EUNSUPPORTED = -5, /* valid ONNX we do not handle (op, dtype, attribute) */
  QC_ELIMIT = -6,       /* a resource cap was hit (tensor bytes, recursion) */
  QC_EINTERRUPTED = -7, /* SIGINT / SIGTERM */
  QC_EINTERNAL = -8,    /* a bug in qconvert */
};

#if defined(__GNUC__)
#define QC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QC_PRINTF(a, b)
#endif

/* Records the message and returns code, so callers can `return qc_fail(...)`.
 * A macro, so that the compiler sees the code a failure returns: where a
 * callee is inlined, the caller's QC_TRY is then known to return before it
 * reads an output the failing callee left unset. */
#define qc_fail(code, ...) (qc_fail_message(__VA_ARGS__), (code))
void qc_fail_message(const char *fmt, ...) QC_PRINTF(1, 2);
/* Prefixes the current message with context ("node 'conv1': ..."), returns code. */
int qc_fail_context(int code, const char *fmt, ...) QC_PRINTF(2, 3);
const char *qc_last_error(void);
void qc_clear_error(void);
/* Process exit code for a status: 0 ok, 1 internal/out-of-memory, 2 user error, 130 interrupted. */
int qc_exit_code(int status);
const char *qc_status_name(int status);

#define QC_TRY(expr)            \
  do {                          \
    int qc_try_rc_ = (expr);    \
    if (qc_try_rc_ < 0)         \
      return qc_try_rc_;        \
  } while (0)

#endif
