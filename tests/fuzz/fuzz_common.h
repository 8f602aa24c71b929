/* Shared setup for the fuzz harnesses (libFuzzer entry points, also linked
 * into the plain replay driver replay_main.c). */
#ifndef QC_FUZZ_COMMON_H
#define QC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h> /* memfd_create (_GNU_SOURCE is a project argument) */

#include "core/status.h"
#include "core/tensor.h"

/* Keep single allocations well under libFuzzer's 2 GiB RSS limit: an input
 * that asks for more must be refused with QC_ELIMIT, never allocated. */
#define QC_FUZZ_TENSOR_LIMIT ((size_t)64 << 20)

static inline void qc_fuzz_setup(void) {
  qc_set_tensor_byte_limit(QC_FUZZ_TENSOR_LIMIT);
}

/* An in-memory file for harnesses whose code under test opens a path:
 * returns the fd and writes "/proc/self/fd/N" to path; aborts on failure. */
static inline int qc_fuzz_memfd(const char *name, char *path, size_t path_len) {
  int fd = memfd_create(name, 0);
  if (fd < 0) {
    perror("memfd_create");
    abort();
  }
  snprintf(path, path_len, "/proc/self/fd/%d", fd);
  return fd;
}

/* The setup of a harness that reads through one in-memory file: defines
 * memfd and memfd_path and an LLVMFuzzerInitialize that opens them. */
#define QC_FUZZ_MEMFD_HARNESS(name)                                \
  static int memfd = -1;                                           \
  static char memfd_path[64];                                      \
  int LLVMFuzzerInitialize(int *argc, char ***argv) {              \
    (void)argc;                                                    \
    (void)argv;                                                    \
    qc_fuzz_setup();                                               \
    memfd = qc_fuzz_memfd(name, memfd_path, sizeof memfd_path);    \
    return 0;                                                      \
  }

/* Every failure must come with a status code in range and a message. */
static inline void qc_fuzz_check_status(int rc) {
  if (rc >= 0)
    return;
  if (rc < QC_EINTERNAL) {
    fprintf(stderr, "fuzz: status %d out of range\n", rc);
    abort();
  }
  if (rc == QC_EINTERNAL) {
    fprintf(stderr, "fuzz: internal error on untrusted input: %s\n", qc_last_error());
    abort();
  }
  const char *msg = qc_last_error();
  if (!msg || !*msg) {
    fprintf(stderr, "fuzz: status %d without a message\n", rc);
    abort();
  }
  qc_clear_error();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
