/* Internals shared by the report writers: a growable output buffer and the
 * text helpers every format needs (UTF-8 checking, number formatting).
 * Writers render into a buffer; qc_report_write commits it atomically. */
#ifndef QC_REPORT_INTERNAL_H
#define QC_REPORT_INTERNAL_H

#include <stddef.h>

#include "../core/status.h"
#include "report.h"

/* Output buffer with a sticky out-of-memory flag, so renderers can append
 * freely and check once at the end. */
typedef struct qc_report_buf {
  char *data;
  size_t len, cap;
  int oom;
} qc_report_buf;

void qc_rb_free(qc_report_buf *b);
void qc_rb_append(qc_report_buf *b, const void *data, size_t len);
void qc_rb_puts(qc_report_buf *b, const char *s);
void qc_rb_printf(qc_report_buf *b, const char *fmt, ...) QC_PRINTF(2, 3);
/* Appends n spaces. */
void qc_rb_spaces(qc_report_buf *b, int n);

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 if the bytes
 * there are not valid UTF-8 (bad lead, truncated, overlong, surrogate). */
int qc_utf8_seq_len(const unsigned char *s);
/* Printable form of s for text output: control characters as \n, \t, \r or
 * \xHH, invalid UTF-8 as U+FFFD. NULL is written as "-". */
void qc_rb_text(qc_report_buf *b, const char *s);
/* Display width (code points) of what qc_rb_text writes for s. */
int qc_text_width(const char *s);
/* qc_rb_text padded with spaces to width columns (left or right aligned). */
void qc_rb_text_padded(qc_report_buf *b, const char *s, int width, int right_align);

/* printf of a single floating-point value that always uses '.' as the
 * decimal point, whatever LC_NUMERIC says. Caller ensures it is finite. */
void qc_rb_number(qc_report_buf *b, const char *fmt, double v);

/* Renderers, one per format (see the table in report.c). */
typedef int (*qc_report_renderer)(qc_report_buf *out, const qc_quant_report *r);
int qc_report_render_json(qc_report_buf *out, const qc_quant_report *r);
int qc_report_render_csv(qc_report_buf *out, const qc_quant_report *r);
int qc_report_render_txt(qc_report_buf *out, const qc_quant_report *r);
int qc_report_render_html(qc_report_buf *out, const qc_quant_report *r);
int qc_report_render_png(qc_report_buf *out, const qc_quant_report *r);
/* The summary qc_report_print shows (also the start of the .txt report). */
void qc_report_render_summary(qc_report_buf *out, const qc_quant_report *r);

#endif
