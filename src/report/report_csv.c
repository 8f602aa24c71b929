/* CSV report: the calibrated-tensor table only, one row per tensor, RFC 4180
 * (CRLF line ends; fields with ',', '"', CR or LF quoted, quotes doubled).
 * The summary lives in the .json and .txt reports. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "report_internal.h"

/* Invalid UTF-8 becomes U+FFFD so the file always decodes as UTF-8. */
static void csv_field(qc_report_buf *b, const char *s) {
  if (!s)
    s = "";
  int quote = strpbrk(s, ",\"\r\n") != NULL || (*s && (s[0] == ' ' || s[strlen(s) - 1] == ' '));
  if (quote)
    qc_rb_append(b, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int n = qc_utf8_seq_len(p);
    if (n == 0) {
      qc_rb_append(b, "\xEF\xBF\xBD", 3);
      p++;
    } else if (*p == '"') {
      qc_rb_append(b, "\"\"", 2);
      p++;
    } else {
      qc_rb_append(b, p, (size_t)n);
      p += n;
    }
  }
  if (quote)
    qc_rb_append(b, "\"", 1);
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
    csv_field(b, t->name);
    qc_rb_append(b, ",", 1);
    csv_float(b, t->rmin);
    qc_rb_append(b, ",", 1);
    csv_float(b, t->rmax);
    qc_rb_append(b, ",", 1);
    csv_float(b, t->scale);
    qc_rb_printf(b, ",%" PRId32 ",", t->zero_point);
    csv_field(b, t->qtype);
    qc_rb_printf(b, ",%" PRIu64 "\r\n", t->nonfinite);
  }
  return QC_OK;
}
