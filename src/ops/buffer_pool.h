/* The memory plan of one engine run: where every activation buffer lives.
 *
 * A run asks for buffers (qc_pool_get, through qc_out_alloc in op.h) and
 * gives them back after their last consumer (qc_pool_put). The first run
 * takes them from malloc and records the sequence of requests and returns.
 * At its end the pool plans that sequence: every buffer gets an offset in
 * one arena such that buffers alive at the same time never overlap (greedy
 * by size, largest first, each at the lowest offset that fits). Later runs
 * replay the sequence and take their buffers from the arena: no malloc, no
 * free, no zeroing, no page fault. A run whose sequence differs (other input
 * shapes) is served from malloc from the first difference on, and its
 * sequence becomes the new plan. Not thread-safe: the engine keeps one pool
 * per concurrent run. */
#ifndef QC_BUFFER_POOL_H
#define QC_BUFFER_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct qc_pool_request {
  size_t size;   /* rounded up to the arena alignment */
  size_t offset; /* in the arena (planned requests) */
  int64_t start, end; /* event numbers of get and put (end = number of events if never put) */
} qc_pool_request;

typedef struct qc_pool_live {
  void *data;
  int request;
  int from_arena;
} qc_pool_live;

typedef struct qc_buffer_pool {
  /* The plan: requests, their event sequence, the arena. */
  qc_pool_request *plan;
  int n_plan;
  int64_t *plan_events; /* +(request+1) for a get, -(request+1) for a put */
  int64_t n_plan_events;
  unsigned char *arena;
  size_t arena_bytes;
  /* This run. */
  qc_pool_request *reqs;
  int n_reqs, reqs_alloc;
  int64_t *events;
  int64_t n_events, events_alloc;
  qc_pool_live *live;
  int n_live, live_alloc;
  int diverged; /* the run left the plan: later gets come from malloc */
  int failed;   /* out of memory while recording: do not plan this run */
  int keep_freed_memory; /* set by the owner: planning does not hand freed heap pages back (malloc_trim) */
} qc_buffer_pool;

/* A buffer of at least `bytes` (contents unspecified; 64-byte aligned in the
 * arena, malloc's alignment otherwise), or NULL when out of memory. */
void *qc_pool_get(qc_buffer_pool *pool, size_t bytes);
/* Gives back a buffer from qc_pool_get; returns 0 if `data` is not a live one. */
int qc_pool_put(qc_buffer_pool *pool, void *data);
/* End of a run: frees what is still live and (re)plans if the run left the plan. */
void qc_pool_end_run(qc_buffer_pool *pool);
void qc_pool_release(qc_buffer_pool *pool);
/* Bytes of the arena (0 before the first plan). */
size_t qc_pool_arena_bytes(const qc_buffer_pool *pool);

#endif
