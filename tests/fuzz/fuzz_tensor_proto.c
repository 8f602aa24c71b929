/* Fuzz target: TensorProto bytes (ONNX test data input_N.pb) ->
 * onnx__tensor_proto__unpack -> qc_tensor_from_proto, without and with an
 * external-data root (a private temp dir holding one small file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "io/tensor_proto.h"
#include "onnx.pb-c.h"

static char ext_dir[64];

/* libFuzzer ends with exit(), so the temp dir goes with it. */
static void remove_ext_dir(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/data.bin", ext_dir);
  unlink(path);
  rmdir(ext_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  qc_fuzz_setup();
  snprintf(ext_dir, sizeof ext_dir, "/tmp/qc-fuzz-ext-XXXXXX");
  if (!mkdtemp(ext_dir))
    abort();
  char path[128];
  snprintf(path, sizeof path, "%s/data.bin", ext_dir);
  FILE *f = fopen(path, "wb");
  if (!f)
    abort();
  for (int i = 0; i < 256; i++)
    fputc(i, f);
  fclose(f);
  atexit(remove_ext_dir);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, data);
  if (!tp)
    return 0;
  for (int pass = 0; pass < 2; pass++) {
    qc_tensor t;
    int rc = qc_tensor_from_proto(tp, pass ? ext_dir : NULL, &t);
    qc_fuzz_check_status(rc);
    if (rc == 0) {
      size_t nb;
      if (qc_shape_bytes(t.dtype, t.ndim, t.dims, &nb) < 0 || nb != t.nbytes || !t.data)
        abort();
      /* round trip through the writer */
      Onnx__TensorProto *back = NULL;
      rc = qc_tensor_to_proto(&t, tp->name, &back);
      qc_fuzz_check_status(rc);
      if (rc == 0 && (back->raw_data.len != t.nbytes || memcmp(back->raw_data.data, t.data, t.nbytes) != 0))
        abort();
      qc_tensor_proto_free(back);
    }
    qc_tensor_release(&t);
  }
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return 0;
}
