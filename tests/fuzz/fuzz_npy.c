/* Fuzz target: .npy bytes -> qc_npy_parse_header, then the file readers
 * (qc_npy_read_header, qc_npy_read) on the same bytes through a memfd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "npy.h"

QC_FUZZ_MEMFD_HARNESS("qc-fuzz-npy")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qc_npy_header h;
  int rc = qc_npy_parse_header(data, size, "fuzz.npy", &h);
  qc_fuzz_check_status(rc);
  if (rc == 0) {
    size_t nb;
    if (h.ndim < 0 || h.ndim > QC_MAX_DIMS || h.data_offset > size ||
        qc_shape_bytes(h.dtype, h.ndim, h.dims, &nb) < 0 || nb != h.data_bytes)
      abort();
  }
  if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
    abort();
  qc_npy_header h2;
  rc = qc_npy_read_header(memfd_path, &h2);
  qc_fuzz_check_status(rc);
  qc_tensor t = {0};
  rc = qc_npy_read(memfd_path, &t);
  qc_fuzz_check_status(rc);
  if (rc == 0) {
    if (t.nbytes != h.data_bytes || t.nbytes + h.data_offset != size)
      abort();
    if (t.dtype == QC_DT_BOOL)
      for (int64_t i = 0; i < t.numel; i++)
        if (qc_u8(&t)[i] > 1)
          abort();
  }
  qc_tensor_release(&t);
  return 0;
}
