/* Runs the passes of one stage in table order and records what each did. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/status.h"
#include "../ir/graph.h"
#include "pass.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int log_add(qc_pass_log *log, const qc_pass_record *r) {
  qc_pass_record *grown = realloc(log->records, sizeof *grown * (size_t)(log->n + 1));
  if (!grown)
    return qc_fail(QC_ENOMEM, "out of memory");
  log->records = grown;
  log->records[log->n++] = *r;
  return QC_OK;
}

int qc_passes_run(const char *stage, qc_model *m, qc_pass_ctx *ctx, qc_pass_log *log) {
  int n, found = 0;
  const qc_pass *table = qc_passes_table(&n);
  for (int i = 0; i < n; i++) {
    if (strcmp(table[i].stage, stage) != 0)
      continue;
    found = 1;
    qc_pass_counts counts = {0};
    double t0 = now_ms();
    QC_TRY(table[i].run(m, ctx, &counts));
    /* Every pass leaves the proto in step with the IR. */
    QC_TRY(qc_graph_sync(m->graph));
    qc_pass_record r = {table[i].name, table[i].stage, counts.changed, now_ms() - t0};
    if (log)
      QC_TRY(log_add(log, &r));
  }
  if (!found)
    return qc_fail(QC_EINTERNAL, "no pass stage named '%s'", stage);
  return QC_OK;
}

int qc_pass_log_append(qc_pass_log *dst, const qc_pass_log *src) {
  for (int i = 0; i < src->n; i++)
    QC_TRY(log_add(dst, &src->records[i]));
  return QC_OK;
}

void qc_pass_log_free(qc_pass_log *log) {
  free(log->records);
  memset(log, 0, sizeof *log);
}
