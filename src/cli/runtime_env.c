/* Runtime environment for the qconvert executable.
 *
 * Two settings are read by libraries when they load, before main() runs, so
 * the only way to choose them is to set the variables and re-exec once:
 *   OMP_WAIT_POLICY=PASSIVE  idle OpenMP workers sleep instead of spinning;
 *       spinning workers steal the cores OpenBLAS and the other workers need
 *       (3-7x slower calibration measured on a shared 2-core machine).
 *   OPENBLAS_CORETYPE        OpenBLAS 0.3.21 does not know newer CPUs (e.g.
 *       Sapphire Rapids) and falls back to its slowest "Prescott" kernels;
 *       when the CPU has AVX-512 (or AVX2) we name the matching kernel family.
 * Variables the user already set are left alone.
 *
 * One setting is made in-process: glibc's allocator keeps freed memory. The
 * engine frees each intermediate after its last consumer and allocates it
 * again for the next image; by default glibc hands large blocks back to the
 * kernel and faults fresh zeroed pages in on every run (M-LSD large at batch 1:
 * 400k page faults in 5 runs, half the wall time on a shared VM). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

char *openblas_get_corename(void);

static const char *better_coretype(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  const char *core = openblas_get_corename();
  /* Only generic fallbacks are overridden; a recognised core is kept. */
  if (!core || (strcmp(core, "Prescott") != 0 && strcmp(core, "Core2") != 0 && strcmp(core, "Nehalem") != 0))
    return NULL;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return "Haswell";
#endif
  return NULL;
}

/* Under valgrind /proc/self/exe is valgrind's tool, not qconvert: no re-exec. */
static int under_valgrind(void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return 1; /* cannot tell what we would exec: don't */
  exe[n] = 0;
  return strstr(exe, "valgrind") != NULL;
}

/* Blocks up to 32 MiB (glibc's largest mmap threshold) come from the heap, and
 * the heap is not trimmed: peak RSS stays what the peak needs, and the next
 * run reuses the pages. Tuning the user set in MALLOC_*_ is left alone. */
static void keep_freed_memory(void) {
  if (!getenv("MALLOC_MMAP_THRESHOLD_"))
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
  if (!getenv("MALLOC_TRIM_THRESHOLD_"))
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (!getenv("MALLOC_TOP_PAD_"))
    mallopt(M_TOP_PAD, 64 << 20);
}

void cli_runtime_env(char **argv) {
  keep_freed_memory();
  if (getenv("QC_RUNTIME_ENV_DONE") || under_valgrind())
    return;
  int changed = 0;
  if (!getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = 1;
  }
  const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : better_coretype();
  if (core) {
    setenv("OPENBLAS_CORETYPE", core, 1);
    changed = 1;
  }
  setenv("QC_RUNTIME_ENV_DONE", "1", 1);
  if (changed)
    execv("/proc/self/exe", argv); /* on failure, carry on with the defaults */
}
