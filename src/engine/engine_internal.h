/* The engine's plan and run state, shared by engine.c (creation: plan,
 * constants, packing, fusion) and run.c (runs). Not part of the API. */
#ifndef QC_ENGINE_INTERNAL_H
#define QC_ENGINE_INTERNAL_H

#include <pthread.h>

#include "../io/model_io.h"
#include "../ops/buffer_pool.h"
#include "../ops/op.h"
#include "engine.h"
#include "fusion.h"

typedef struct plan_node {
  int node;
  int makes_graph_output; /* outputs are malloc'd for the caller, not pooled */
  int folded;             /* outputs computed once at creation, held in consts */
  qc_fusion fusion;       /* later plan nodes this one computes when no callback watches
                             the values (fusion.h) */
  qc_kernel tmpl;         /* op, attrs, names and priv; inputs/outputs filled per run */
} plan_node;

/* The state of one run, kept by the engine between runs so that the next
 * run reuses its value table and activation buffers. One per concurrent run. */
typedef struct run_state {
  qc_tensor **vals;      /* per value id: the tensor holding it, or NULL */
  qc_tensor *store;      /* per value id: tensors computed in this run */
  qc_tensor **kin, **kout;
  unsigned char *absorbed; /* per plan index: computed by an earlier node's fused kernel */
  qc_buffer_pool pool;
  struct run_state *next; /* free list */
} run_state;

struct qc_engine {
  qc_model *model;
  qc_graph *graph;
  plan_node *plan;
  int n_plan;
  qc_tensor *consts;      /* per value id: the graph's initializer view, borrowed (empty otherwise) */
  int *last_use;          /* per value id: plan index of the last consumer, -1 if none */
  unsigned char *pinned;  /* per value id: never freed during a run (inputs, constants, outputs) */
  int max_io;             /* most inputs or outputs of one node */
  int keep_freed_memory;  /* qc_engine_opts: passed to every run state's pool */
  pthread_mutex_t idle_lock;
  run_state *idle;        /* run states not in use by a run */
};

/* Frees a run state and its pool (run.c). */
void run_state_free(run_state *rs);

/* Output shapes, then the computation (a shape-only op has no run). */
static inline int kernel_exec(qc_kernel *k) {
  int rc = k->op->shape(k);
  if (rc == QC_OK && k->op->run)
    rc = k->op->run(k);
  return rc;
}

#endif
