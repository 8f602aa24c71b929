/* Fuzz target: ONNX model bytes -> protobuf unpack -> IR build -> op check ->
 * engine creation (initializer decoding, kernel init) -> one run on
 * deterministic inputs when every input is small (shape inference and
 * kernels on fuzzed attributes and initializers) -> re-serialisation ->
 * the passes before calibration (simplify, decompose, equalize) when the ops
 * check passed, as the main job runs them -> re-serialisation. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "fuzz_common.h"
#include "io/model_io.h"
#include "ir/model.h"
#include "ir/graph.h"
#include "passes/pass.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  qc_fuzz_setup();
  return 0;
}

/* Runs the engine once when all inputs are numeric and small (dynamic dims
 * become 1); inputs hold a fixed ramp so division and log see varied values. */
static void run_once(qc_model *m, qc_engine *e) {
  const qc_graph *g = m->graph;
  enum { MAX_IO = 16 };
  if (g->n_inputs > MAX_IO || g->n_outputs > MAX_IO)
    return;
  qc_tensor in[MAX_IO], out[MAX_IO];
  qc_tensor *ptrs[MAX_IO];
  memset(in, 0, sizeof in);
  memset(out, 0, sizeof out);
  int ok = 1;
  for (int i = 0; ok && i < g->n_inputs; i++) {
    const qc_value *v = &g->values[g->inputs[i]];
    int64_t dims[QC_MAX_DIMS];
    int nd = v->ndim < 0 ? 0 : v->ndim;
    for (int k = 0; k < nd; k++)
      dims[k] = v->dims[k] < 0 ? 1 : v->dims[k];
    size_t nb;
    qc_dtype dt = v->dtype ? v->dtype : QC_DT_FLOAT;
    if (nd > QC_MAX_DIMS || qc_shape_bytes(dt, nd, dims, &nb) < 0 || nb > (1u << 16) ||
        qc_tensor_alloc(&in[i], dt, nd, dims) < 0) {
      qc_clear_error();
      ok = 0;
      break;
    }
    for (int64_t k = 0; k < in[i].numel; k++) {
      if (dt == QC_DT_FLOAT)
        qc_f32(&in[i])[k] = (float)(k % 7) - 2.5f;
      else if (dt == QC_DT_INT64)
        qc_i64(&in[i])[k] = k % 3;
      else if (dt == QC_DT_INT32)
        qc_i32(&in[i])[k] = (int32_t)(k % 3);
    }
    ptrs[i] = &in[i];
  }
  if (ok) {
    int rc = qc_engine_run(e, ptrs, out, NULL, NULL);
    qc_fuzz_check_status(rc);
  }
  for (int i = 0; i < MAX_IO; i++) {
    qc_tensor_release(&in[i]);
    qc_tensor_release(&out[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qc_model *m = NULL;
  /* External data resolves against a directory that does not exist. */
  int rc = qc_model_load_buffer(data, size, "fuzz.onnx", "/nonexistent-qc-fuzz-dir", &m);
  qc_fuzz_check_status(rc);
  if (rc < 0)
    return 0;
  rc = qc_engine_check_ops(m);
  qc_fuzz_check_status(rc);
  int ops_ok = rc == 0;
  if (ops_ok) {
    qc_engine_opts opts = {.nthreads = 1};
    qc_engine *e = NULL;
    rc = qc_engine_create(m, &opts, &e);
    qc_fuzz_check_status(rc);
    if (rc == 0)
      run_once(m, e);
    qc_engine_free(e);
  }
  unsigned char *buf = NULL;
  size_t len = 0;
  int rc_pack = qc_model_pack(m, 0, &buf, &len);
  qc_fuzz_check_status(rc_pack);
  free(buf);
  if (ops_ok) { /* the main job runs these passes only on models whose ops check passed */
    qc_quant_opts opts = {0};
    qc_pass_ctx ctx = {.opts = &opts};
    rc = qc_passes_run("prepare", m, &ctx, NULL);
    qc_fuzz_check_status(rc);
    if (rc == 0) {
      buf = NULL;
      rc = qc_model_pack(m, 0, &buf, &len);
      qc_fuzz_check_status(rc);
      free(buf);
    }
  }
  qc_model_free(m);
  return 0;
}
