/* A model with its graph IR. See model.h. */
#include "model.h"

#include <stdlib.h>

#include "../core/fileio.h"
#include "../core/status.h"
#include "graph.h"

/* Builds the IR of a freshly read model; frees the model on failure. */
static int with_graph(qc_model *m, qc_model **out) {
  int rc = qc_graph_build(m, &m->graph);
  if (rc < 0) {
    const char *path = m->path;
    rc = qc_fail_context(rc, "%s", path);
    qc_model_free(m);
    return rc;
  }
  *out = m;
  return QC_OK;
}

int qc_model_load_buffer(const unsigned char *buf, size_t len, const char *path, const char *dir, qc_model **out) {
  qc_model *m;
  *out = NULL;
  QC_TRY(qc_model_proto_load_buffer(buf, len, path, dir, &m));
  return with_graph(m, out);
}

int qc_model_load(const char *path, qc_model **out) {
  qc_model *m;
  *out = NULL;
  QC_TRY(qc_model_proto_load(path, &m));
  return with_graph(m, out);
}

void qc_model_free(qc_model *m) {
  if (!m)
    return;
  qc_graph_free(m->graph);
  m->graph = NULL;
  qc_model_proto_free(m);
}

int qc_model_pack(qc_model *m, unsigned flags, unsigned char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  QC_TRY(qc_graph_sync(m->graph));
  if (flags & QC_SAVE_INLINE_EXTERNAL)
    QC_TRY(qc_graph_inline_external(m->graph)); /* from the decoded views; the io layer does the rest */
  return qc_model_proto_pack(m, flags, buf, len);
}

int qc_model_save(qc_model *m, const char *path, unsigned flags) {
  unsigned char *buf;
  size_t len;
  QC_TRY(qc_model_pack(m, flags, &buf, &len));
  int rc = qc_write_file_atomic(path, buf, len);
  free(buf);
  return rc;
}
