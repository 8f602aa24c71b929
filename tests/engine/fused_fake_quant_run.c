/* Helper of test_fused_fake_quant.py: runs MODEL on raw float32 inputs (one
 * file per graph input, shapes from the graph) once without a callback (the
 * fused kernels, fusion.h) and once with a callback that watches every value
 * (per-node kernels), and checks the outputs are the same bytes.
 *
 *   fused_fake_quant_run MODEL OUT_PREFIX IN0.f32 [IN1.f32 ...]
 *
 * Prints "absorbed A fake_quant F" (the engine's fusion counts), writes each
 * fused output as OUT_PREFIX<i>.f32 for the numpy reference, and ends with
 * the test summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/engine.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "qc_test.h"

enum { MAX_IO = 8 };

static int watch_value(void *user, int node, int value, const qc_tensor *t) {
  (void)node, (void)value, (void)t;
  ++*(int *)user;
  return QC_OK;
}

static int read_input(const qc_value *v, const char *path, qc_tensor *t) {
  QC_TRY(qc_tensor_alloc(t, QC_DT_FLOAT, v->ndim, v->dims));
  FILE *f = fopen(path, "rb");
  if (!f)
    return qc_fail(QC_EIO, "%s: cannot open", path);
  size_t got = fread(t->data, 1, t->nbytes, f);
  fclose(f);
  return got == t->nbytes ? QC_OK : qc_fail(QC_EIO, "%s: %zu bytes, want %zu", path, got, t->nbytes);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: fused_fake_quant_run MODEL OUT_PREFIX IN0.f32 [IN1.f32 ...]\n");
    return 2;
  }
  qc_model *m = NULL;
  CHECK_OK(qc_model_load(argv[1], &m));
  if (!m)
    return qc_test_finish("fused_fake_quant");
  const qc_graph *g = m->graph;
  CHECK(g->n_inputs == argc - 3 && g->n_inputs <= MAX_IO && g->n_outputs <= MAX_IO, "%s: %d inputs, %d files",
        argv[1], g->n_inputs, argc - 3);
  qc_tensor in[MAX_IO] = {{0}}, fused[MAX_IO] = {{0}}, watched[MAX_IO] = {{0}};
  qc_tensor *ip[MAX_IO];
  for (int i = 0; i < g->n_inputs && i < argc - 3; i++) {
    CHECK_OK(read_input(&g->values[g->inputs[i]], argv[3 + i], &in[i]));
    ip[i] = &in[i];
  }
  qc_engine *e = NULL;
  qc_engine_opts eo = {.nthreads = 2};
  CHECK_OK(qc_engine_create(m, &eo, &e));
  if (e && !qc_test_failures) {
    int absorbed, fake_quant, seen = 0;
    qc_engine_fused_counts(e, &absorbed, &fake_quant);
    printf("absorbed %d fake_quant %d\n", absorbed, fake_quant);
    CHECK_OK(qc_engine_run(e, ip, fused, NULL, NULL));
    CHECK_OK(qc_engine_run(e, ip, watched, watch_value, &seen));
    CHECK(seen > 0, "the callback saw no value");
    for (int i = 0; i < g->n_outputs; i++) {
      const char *name = g->values[g->outputs[i]].name;
      CHECK(fused[i].nbytes == watched[i].nbytes && fused[i].dtype == watched[i].dtype &&
                memcmp(fused[i].data, watched[i].data, fused[i].nbytes) == 0,
            "%s: output '%s' of the fused run differs from the per-node run", argv[1], name);
      char path[4096];
      snprintf(path, sizeof path, "%s%d.f32", argv[2], i);
      FILE *f = fopen(path, "wb");
      CHECK(f && fwrite(fused[i].data, 1, fused[i].nbytes, f) == fused[i].nbytes, "%s: cannot write", path);
      if (f)
        fclose(f);
    }
  }
  for (int i = 0; i < MAX_IO; i++) {
    qc_tensor_release(&in[i]);
    qc_tensor_release(&fused[i]);
    qc_tensor_release(&watched[i]);
  }
  qc_engine_free(e);
  qc_model_free(m);
  return qc_test_finish("fused_fake_quant");
}
