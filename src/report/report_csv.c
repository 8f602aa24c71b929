/* CSV report: the calibrated-tensor table only, one row per tensor, RFC 4180
 * (CRLF line ends, quotes doubled). Text cells come from the model, so they
 * are defused for spreadsheets (see csv_text). The summary lives in the
 * .json and .txt reports. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "report_internal.h"

/* A cell starting with one of these is run as a formula by spreadsheet
 * programs (OWASP "CSV injection"); leading spaces are skipped in case an
 * importer trims them. TAB and CR cannot survive csv_text's escaping but are
 * listed as OWASP lists them. */
static int starts_like_formula(const char *s) {
  while (*s == ' ')
    s++;
  return *s && strchr("=+-@\t\r", *s) != NULL;
}

/* A text cell (name, qtype), always quoted. Its text is shown as in the .txt
 * report: control characters as \n, \r, \t or \xHH (so no raw ESC, CR or LF
 * reaches a terminal or spreadsheet) and invalid UTF-8 as U+FFFD. A cell that
 * would start like a formula gets a leading ' so it stays text. Numeric cells
 * never come through here, so negative numbers stay numbers. */
static void csv_text(qc_report_buf *b, const char *s) {
  qc_report_buf shown = {0};
  qc_rb_text(&shown, s ? s : "");
  if (shown.oom)
    b->oom = 1;
  const char *text = shown.data ? shown.data : "";
  qc_rb_append(b, "\"", 1);
  if (starts_like_formula(text))
    qc_rb_append(b, "'", 1);
  for (const char *quote; (quote = strchr(text, '"')); text = quote + 1) {
    qc_rb_append(b, text, (size_t)(quote - text));
    qc_rb_append(b, "\"\"", 2);
  }
  qc_rb_puts(b, text);
  qc_rb_append(b, "\"", 1);
  qc_rb_free(&shown);
}

/* nan/inf/-inf are what Python's float(), numpy and pandas read back. */
static void csv_float(qc_report_buf *b, float v) {
  if (isnan(v))
    qc_rb_puts(b, "nan");
  else if (isinf(v))
    qc_rb_puts(b, v > 0 ? "inf" : "-inf");
  else
    qc_rb_number(b, "%.9g", v);
}

int qc_report_render_csv(qc_report_buf *b, const qc_quant_report *r) {
  qc_rb_puts(b, "name,rmin,rmax,scale,zero_point,qtype,nonfinite\r\n");
  int n = r->tensors ? r->n_tensors : 0;
  for (int i = 0; i < n; i++) {
    const qc_tensor_report *t = &r->tensors[i];
    csv_text(b, t->name);
    qc_rb_append(b, ",", 1);
    csv_float(b, t->rmin);
    qc_rb_append(b, ",", 1);
    csv_float(b, t->rmax);
    qc_rb_append(b, ",", 1);
    csv_float(b, t->scale);
    qc_rb_printf(b, ",%" PRId32 ",", t->zero_point);
    csv_text(b, t->qtype);
    qc_rb_printf(b, ",%" PRIu64 "\r\n", t->nonfinite);
  }
  return QC_OK;
}
