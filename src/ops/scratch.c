/* Per-thread growing scratch buffers (see scratch.h). */
#include "scratch.h"

#include <stdlib.h>

typedef struct scratch_slot {
  void *p;
  size_t n;
} scratch_slot;

static _Thread_local scratch_slot slots[QC_SCRATCH_SLOTS];

void *qc_scratch(int slot, size_t bytes) {
  scratch_slot *s = &slots[slot];
  if (bytes <= s->n && s->p)
    return s->p;
  /* Grow by half again so a slowly growing sequence reallocates rarely. */
  size_t want = bytes + bytes / 2 + 64;
  want = (want + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, want);
  if (!p)
    return NULL;
  free(s->p);
  s->p = p;
  s->n = want;
  return p;
}
