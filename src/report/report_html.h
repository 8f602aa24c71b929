/* Helpers shared by the HTML report's page (report_html.c) and its SVG
 * charts (report_html_charts.c). Every model-supplied string goes through
 * qc_html_text or qc_html_text_clip. */
#ifndef QC_REPORT_HTML_H
#define QC_REPORT_HTML_H

#include "report_internal.h"

enum { QC_HTML_CHART_W = 880, QC_HTML_N_COLORS = 8 };

/* Observer colours, shared by histogram lines and legends. */
extern const char *const qc_html_palette[QC_HTML_N_COLORS];

/* Escaped text: & < > " ' as entities, control characters as \n, \xHH (like
 * the .txt report), invalid UTF-8 as U+FFFD; NULL as "-". */
void qc_html_text(qc_report_buf *b, const char *s);
/* qc_html_text of at most max_chars characters; a longer s loses its start
 * (keep_tail: tensor names differ at the end) or its end, shown as an ellipsis. */
void qc_html_text_clip(qc_report_buf *b, const char *s, int max_chars, int keep_tail);
/* A number in fmt, '.' whatever the locale; non-finite as nan, inf, -inf. */
void qc_html_num(qc_report_buf *b, const char *fmt, double v);
/* An SVG coordinate with one decimal (non-finite as 0). */
void qc_html_coord(qc_report_buf *b, double v);
/* "416.8 KiB", "3.4 MiB". */
void qc_html_bytes(qc_report_buf *b, double bytes);
/* A fraction as "91.60%"; negative (not measured) as a dash. */
void qc_html_percent(qc_report_buf *b, double fraction);
/* op_type as a terminated string (the field may fill its array). */
void qc_html_op_type(char out[sizeof(((qc_op_bytes *)0)->op_type) + 1], const qc_op_bytes *op);
void qc_html_section_open(qc_report_buf *b, const char *id, const char *title);
void qc_html_svg_open(qc_report_buf *b, int w, int h, const char *label);
/* A colour swatch and an escaped label, inside a <div class="legend">. */
void qc_html_legend_item(qc_report_buf *b, const char *color, const char *label);

/* Charts (report_html_charts.c). */
/* Bar pairs for the op types that own parameters; returns how many. */
int qc_html_sizes_chart(qc_report_buf *b, const qc_quant_report *r);
void qc_html_layers_section(qc_report_buf *b, const qc_quant_report *r);
void qc_html_histograms_section(qc_report_buf *b, const qc_quant_report *r);
/* Output accuracy (report_html_accuracy.c): range refinement. */
void qc_html_refine_section(qc_report_buf *b, const qc_quant_report *r);
void qc_html_error_entry_section(qc_report_buf *b, const qc_quant_report *r);
/* Compare entries are ranked by top-1 when all are labeled, else by output SQNR. */
int qc_html_compare_uses_top1(const qc_quant_report *r);
double qc_html_compare_metric(const qc_compare_entry *c, int top1);
void qc_html_compare_chart(qc_report_buf *b, const qc_quant_report *r, int top1);

#endif
