/* The engine's memory plan (src/ops/buffer_pool.c):
 * 1. pool level: a recorded get/put sequence replayed from the arena gives
 *    buffers that never overlap while alive (each is filled with its own
 *    pattern and checked before it is given back), and a differing sequence
 *    falls back to malloc and replans;
 * 2. engine level: the demo models run repeatedly, alternating batch sizes, on
 *    one engine give byte-identical outputs to a fresh engine's first run (the
 *    malloc path), so planned runs, replans and the fallback compute the same.
 * Usage: test_memory_plan MODEL.onnx... */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/engine.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ops/buffer_pool.h"
#include "qc_test.h"

/* A fixed pseudo-random schedule of gets and puts (at most 12 alive), sizes
 * scaled by `scale`; every live buffer holds its id and is checked at put. */
static void run_schedule(qc_buffer_pool *pool, int scale, int *bad) {
  enum { STEPS = 400, MAXLIVE = 12 };
  unsigned char *live[MAXLIVE] = {0};
  size_t size[MAXLIVE];
  unsigned seed = 12345;
  int id = 0;
  for (int s = 0; s < STEPS; s++) {
    seed = seed * 1103515245u + 12345u;
    int slot = (int)((seed >> 8) % MAXLIVE);
    if (live[slot]) {
      for (size_t i = 0; i < size[slot]; i++)
        if (live[slot][i] != (unsigned char)(slot * 16 + 1)) {
          (*bad)++;
          break;
        }
      CHECK(qc_pool_put(pool, live[slot]) == 1);
      live[slot] = NULL;
    } else {
      size[slot] = (size_t)scale * (1 + (seed >> 16) % 5000);
      live[slot] = qc_pool_get(pool, size[slot]);
      CHECK(live[slot] != NULL && ((uintptr_t)live[slot] % 16) == 0);
      if (live[slot])
        memset(live[slot], slot * 16 + 1, size[slot]);
      id++;
    }
  }
  /* Half of what is left is given back, the rest is dropped (end_run frees it). */
  for (int slot = 0; slot < MAXLIVE; slot += 2)
    if (live[slot])
      CHECK(qc_pool_put(pool, live[slot]) == 1);
  qc_pool_end_run(pool);
}

static void pool_tests(void) {
  qc_buffer_pool pool = {0};
  int bad = 0;
  run_schedule(&pool, 1, &bad); /* records, then plans */
  CHECK(qc_pool_arena_bytes(&pool) > 0);
  size_t planned = qc_pool_arena_bytes(&pool);
  for (int r = 0; r < 3; r++)
    run_schedule(&pool, 1, &bad); /* replays from the arena */
  CHECK(qc_pool_arena_bytes(&pool) == planned, "the replay replanned");
  run_schedule(&pool, 3, &bad); /* other sizes: malloc, then a new plan */
  CHECK(qc_pool_arena_bytes(&pool) != planned);
  run_schedule(&pool, 3, &bad);
  run_schedule(&pool, 1, &bad);
  CHECK(bad == 0, "%d buffers were overwritten while alive", bad);
  CHECK(qc_pool_put(&pool, &bad) == 0, "a foreign pointer was accepted");
  qc_pool_release(&pool);
}

/* Batch-n input for graph input 0 (float, dims from the graph, batch = n). */
static int make_input(const qc_graph *g, int n, qc_tensor *t) {
  const qc_value *v = &g->values[g->inputs[0]];
  int64_t dims[QC_MAX_DIMS];
  for (int d = 0; d < v->ndim; d++)
    dims[d] = d == 0 ? n : v->dims[d];
  QC_TRY(qc_tensor_alloc(t, QC_DT_FLOAT, v->ndim, dims));
  for (int64_t i = 0; i < t->numel; i++)
    qc_f32(t)[i] = (float)((i * 7919) % 1000) / 1000.0f;
  return QC_OK;
}

static int same_outputs(const qc_tensor *a, const qc_tensor *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i].nbytes != b[i].nbytes || memcmp(a[i].data, b[i].data, a[i].nbytes) != 0)
      return 0;
  return 1;
}

static void engine_tests(const char *path) {
  qc_model *m = NULL;
  CHECK_OK(qc_model_load(path, &m));
  if (!m)
    return;
  const qc_graph *g = m->graph;
  const int nout = g->n_outputs;
  const int batches[] = {2, 2, 2, 3, 3, 2, 1, 2};
  const int nb = (int)(sizeof batches / sizeof batches[0]);
  qc_tensor in[4] = {{0}};
  qc_tensor ref[4][8] = {{{0}}}; /* fresh engine per batch size: the first-run (malloc) path */
  for (int b = 1; b <= 3; b++) {
    CHECK_OK(make_input(g, b, &in[b]));
    qc_engine *fresh = NULL;
    qc_engine_opts eo = {.nthreads = 2};
    CHECK_OK(qc_engine_create(m, &eo, &fresh));
    qc_tensor *ip = &in[b];
    if (fresh)
      CHECK_OK(qc_engine_run(fresh, &ip, ref[b], NULL, NULL));
    qc_engine_free(fresh);
  }
  qc_engine *e = NULL;
  qc_engine_opts eo = {.nthreads = 2};
  CHECK_OK(qc_engine_create(m, &eo, &e));
  for (int r = 0; e && r < nb; r++) {
    qc_tensor out[8] = {{0}};
    qc_tensor *ip = &in[batches[r]];
    CHECK_OK(qc_engine_run(e, &ip, out, NULL, NULL));
    CHECK(same_outputs(out, ref[batches[r]], nout), "%s: run %d (batch %d) differs from a fresh engine's", path, r,
          batches[r]);
    for (int i = 0; i < nout; i++)
      qc_tensor_release(&out[i]);
  }
  qc_engine_free(e);
  for (int b = 1; b <= 3; b++) {
    qc_tensor_release(&in[b]);
    for (int i = 0; i < nout; i++)
      qc_tensor_release(&ref[b][i]);
  }
  qc_model_free(m);
}

int main(int argc, char **argv) {
  pool_tests();
  for (int i = 1; i < argc; i++)
    engine_tests(argv[i]);
  return qc_test_finish("memory_plan");
}
