/* Activation memory plan (see buffer_pool.h). */
#include "buffer_pool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "op.h"

/* Sizes and offsets are multiples of this, which keeps vector loads aligned. */
#define POOL_ALIGN 64

static int grow(void **arr, int64_t *alloc, int64_t need, size_t elem) {
  if (need <= *alloc)
    return 0;
  int64_t n = *alloc ? *alloc : 64;
  while (n < need)
    n *= 2;
  void *p = realloc(*arr, (size_t)n * elem);
  if (!p)
    return -1;
  *arr = p;
  *alloc = n;
  return 0;
}

static int grow_int(void **arr, int *alloc, int need, size_t elem) {
  int64_t a = *alloc;
  int rc = grow(arr, &a, need, elem);
  *alloc = (int)a;
  return rc;
}

/* Appends an event; on the plan's path it must equal the planned one. */
static void record_event(qc_buffer_pool *pool, int64_t ev) {
  if (!pool->diverged &&
      (pool->n_events >= pool->n_plan_events || pool->plan_events[pool->n_events] != ev))
    pool->diverged = 1;
  if (grow((void **)&pool->events, &pool->events_alloc, pool->n_events + 1, sizeof *pool->events) < 0) {
    pool->failed = 1;
    return;
  }
  pool->events[pool->n_events++] = ev;
}

void *qc_pool_get(qc_buffer_pool *pool, size_t bytes) {
  if (bytes > SIZE_MAX / 2)
    return NULL;
  const size_t size = bytes ? (bytes + POOL_ALIGN - 1) / POOL_ALIGN * POOL_ALIGN : POOL_ALIGN;
  if (grow_int((void **)&pool->reqs, &pool->reqs_alloc, pool->n_reqs + 1, sizeof *pool->reqs) < 0 ||
      grow_int((void **)&pool->live, &pool->live_alloc, pool->n_live + 1, sizeof *pool->live) < 0)
    return NULL;
  const int r = pool->n_reqs;
  record_event(pool, (int64_t)r + 1);
  if (!pool->diverged && (r >= pool->n_plan || pool->plan[r].size != size))
    pool->diverged = 1;
  void *data;
  int from_arena = !pool->diverged && pool->arena;
  if (from_arena) {
    data = pool->arena + pool->plan[r].offset;
  } else {
    /* Plain malloc, not aligned_alloc: glibc's memalign splits chunks and
     * fragmented the heap (BlazeFace batch 8 peaked at 42 MiB instead of 22). */
    data = malloc(size);
    if (!data) {
      pool->failed = pool->diverged = 1; /* the event log no longer matches the requests */
      return NULL;
    }
  }
  pool->reqs[r] = (qc_pool_request){.size = size, .start = pool->n_events - 1, .end = -1};
  pool->n_reqs++;
  pool->live[pool->n_live++] = (qc_pool_live){data, r, from_arena};
  return data;
}

int qc_pool_put(qc_buffer_pool *pool, void *data) {
  for (int i = pool->n_live - 1; i >= 0; i--) {
    qc_pool_live l = pool->live[i];
    if (l.data != data)
      continue;
    pool->live[i] = pool->live[--pool->n_live];
    if (!l.from_arena)
      free(l.data);
    record_event(pool, -((int64_t)l.request + 1));
    pool->reqs[l.request].end = pool->n_events - 1;
    return 1;
  }
  return 0;
}

static int by_size_desc(const void *a, const void *b) {
  const qc_pool_request *x = *(qc_pool_request *const *)a, *y = *(qc_pool_request *const *)b;
  if (x->size != y->size)
    return x->size > y->size ? -1 : 1;
  return x->start < y->start ? -1 : x->start > y->start;
}

static int by_offset(const void *a, const void *b) {
  const qc_pool_request *x = *(qc_pool_request *const *)a, *y = *(qc_pool_request *const *)b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Greedy by size: largest request first, each at the lowest offset where it
 * overlaps no placed request alive at the same time. Returns the arena size. */
static int plan_offsets(qc_pool_request *reqs, int n, size_t *arena_bytes) {
  qc_pool_request **order = malloc(sizeof *order * (size_t)(n ? n : 1));
  qc_pool_request **overlap = malloc(sizeof *overlap * (size_t)(n ? n : 1));
  if (!order || !overlap) {
    free(order);
    free(overlap);
    return -1;
  }
  for (int i = 0; i < n; i++)
    order[i] = &reqs[i];
  qsort(order, (size_t)n, sizeof *order, by_size_desc);
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    qc_pool_request *r = order[i];
    int m = 0;
    for (int j = 0; j < i; j++)
      if (order[j]->start < r->end && r->start < order[j]->end)
        overlap[m++] = order[j];
    qsort(overlap, (size_t)m, sizeof *overlap, by_offset);
    size_t off = 0;
    for (int j = 0; j < m; j++) {
      if (overlap[j]->offset >= off + r->size)
        break; /* the gap below this one fits */
      if (overlap[j]->offset + overlap[j]->size > off)
        off = overlap[j]->offset + overlap[j]->size;
    }
    r->offset = off;
    if (off + r->size > total)
      total = off + r->size;
  }
  free(order);
  free(overlap);
  *arena_bytes = total;
  return 0;
}

/* Makes this run's sequence the plan. On failure the pool just has no plan. */
static void replan(qc_buffer_pool *pool) {
  free(pool->arena);
  pool->arena = NULL;
  pool->arena_bytes = 0;
  pool->n_plan = 0;
  pool->n_plan_events = 0;
  if (pool->failed)
    return;
  qc_pool_request *plan = malloc(sizeof *plan * (size_t)(pool->n_reqs ? pool->n_reqs : 1));
  int64_t *events = malloc(sizeof *events * (size_t)(pool->n_events ? pool->n_events : 1));
  size_t bytes = 0;
  if (!plan || !events) {
    free(plan);
    free(events);
    return;
  }
  memcpy(plan, pool->reqs, sizeof *plan * (size_t)pool->n_reqs);
  memcpy(events, pool->events, sizeof *events * (size_t)pool->n_events);
  for (int i = 0; i < pool->n_reqs; i++)
    if (plan[i].end < 0)
      plan[i].end = pool->n_events; /* freed by end_run: alive to the end */
  unsigned char *arena = NULL;
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  /* The run's malloc'd buffers are free now but kept by malloc (the CLI sets a
   * high trim threshold); hand them back so the arena does not add to them.
   * Unless the owner keeps them: engines created one after another (the
   * --min-sqnr trials) would fault the same pages in again every time, a
   * fifth of such a search's cycles (docs/engine.md).
   * Not under ASan: its allocator replaces glibc's, whose arena malloc_trim
   * would walk uninitialised (a SEGV seen when calibration threads replan). */
  if (!pool->keep_freed_memory)
    malloc_trim(0);
#endif
  if (plan_offsets(plan, pool->n_reqs, &bytes) == 0)
    arena = aligned_alloc(POOL_ALIGN, bytes ? bytes : POOL_ALIGN);
  if (!arena) {
    free(plan);
    free(events);
    return;
  }
  free(pool->plan);
  free(pool->plan_events);
  pool->plan = plan;
  pool->n_plan = pool->n_reqs;
  pool->plan_events = events;
  pool->n_plan_events = pool->n_events;
  pool->arena = arena;
  pool->arena_bytes = bytes;
}

void qc_pool_end_run(qc_buffer_pool *pool) {
  /* Buffers a kernel dropped without giving back stay live to here. */
  while (pool->n_live > 0)
    qc_pool_put(pool, pool->live[pool->n_live - 1].data);
  if (pool->n_events != pool->n_plan_events)
    pool->diverged = 1;
  if (pool->diverged)
    replan(pool);
  pool->n_reqs = 0;
  pool->n_events = 0;
  pool->diverged = 0;
  pool->failed = 0;
}

void qc_pool_release(qc_buffer_pool *pool) {
  for (int i = 0; i < pool->n_live; i++)
    if (!pool->live[i].from_arena)
      free(pool->live[i].data);
  free(pool->plan);
  free(pool->plan_events);
  free(pool->arena);
  free(pool->reqs);
  free(pool->events);
  free(pool->live);
  memset(pool, 0, sizeof *pool);
}

size_t qc_pool_arena_bytes(const qc_buffer_pool *pool) { return pool->arena_bytes; }

/* ---- Kernel outputs (op.h) ---- */

static int out_alloc(const qc_kernel *k, qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims) {
  if (!k->pool)
    return qc_tensor_alloc_uninit(t, dt, ndim, dims);
  size_t nbytes;
  QC_TRY(qc_shape_bytes(dt, ndim, dims, &nbytes));
  void *p = qc_pool_get(k->pool, nbytes);
  if (!p)
    return qc_fail(QC_ENOMEM, "out of memory allocating %zu bytes", nbytes);
  qc_tensor_wrap(t, dt, ndim, dims, p); /* the engine gives p back to the pool */
  return QC_OK;
}

int qc_out_alloc(const qc_kernel *k, qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims) {
  QC_TRY(out_alloc(k, t, dt, ndim, dims));
#ifdef QC_POISON_OUTPUTS
  /* Audit build: an element a kernel forgets to write reads as NaN / 0xff. */
  memset(t->data, 0xff, t->nbytes);
#endif
  return QC_OK;
}

int qc_out_alloc_zeroed(const qc_kernel *k, qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims) {
  QC_TRY(out_alloc(k, t, dt, ndim, dims));
  memset(t->data, 0, t->nbytes);
  return QC_OK;
}
