/* Fuzz target: saved statistics files (--load-stats, calib/stats_file.c).
 * The input is the file body without its trailing FNV-1a checksum; the
 * harness appends the right checksum so the fuzzer gets past it and reaches
 * the record parser. Loaded twice into one set to exercise merging. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "stats.h"

QC_FUZZ_MEMFD_HARNESS("qc-fuzz-stats")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; i++) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  uint8_t sum[8];
  for (int i = 0; i < 8; i++)
    sum[i] = (uint8_t)(h >> (8 * i));
  if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size ||
      pwrite(memfd, sum, 8, (off_t)size) != 8)
    abort();
  qc_stats_set set;
  qc_stats_set_init(&set);
  int rc = qc_stats_load(memfd_path, NULL, &set);
  qc_fuzz_check_status(rc);
  if (rc == 0) {
    rc = qc_stats_load(memfd_path, NULL, &set); /* merge with itself */
    qc_fuzz_check_status(rc);
  }
  qc_stats_set_free(&set);
  return 0;
}
