/* Per-thread scratch buffers that persist across kernel calls, so hot
 * kernels (GEMM packing, padded planes) do not allocate on every run.
 * Each OS thread owns QC_SCRATCH_SLOTS buffers that only grow; a kernel uses
 * a slot only between two of its own statements (no slot is held across a
 * call into another kernel). Safe in OpenMP regions and with several engine
 * runs at once on different threads. */
#ifndef QC_SCRATCH_H
#define QC_SCRATCH_H

#include <stddef.h>

enum { QC_SCRATCH_PACK_A, QC_SCRATCH_PACK_B, QC_SCRATCH_PLANE, QC_SCRATCH_SLOTS };

/* A 64-byte aligned buffer of at least `bytes` for this thread, or NULL when
 * out of memory. Contents are unspecified. */
void *qc_scratch(int slot, size_t bytes);

#endif
