/* Fuzz target: ONNX model bytes -> protobuf unpack -> IR build -> op check ->
 * engine creation (initializer decoding, kernel init) -> re-serialisation. */
#include <stdlib.h>

#include "engine/engine.h"
#include "fuzz_common.h"
#include "io/model_io.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  qc_fuzz_setup();
  return 0;
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
  if (rc == 0) {
    qc_engine_opts opts = {.nthreads = 1};
    qc_engine *e = NULL;
    rc = qc_engine_create(m, &opts, &e);
    qc_fuzz_check_status(rc);
    qc_engine_free(e);
  }
  unsigned char *buf = NULL;
  size_t len = 0;
  rc = qc_model_pack(m, 0, &buf, &len);
  qc_fuzz_check_status(rc);
  free(buf);
  qc_model_free(m);
  return 0;
}
