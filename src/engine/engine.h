/* The FP32 inference engine: runs a model's graph node by node.
 *
 * qc_engine_create checks every node against the op registry (an unknown op
 * is an error naming op, opset and node), takes the graph's decoded
 * initializers (borrowed: free the engine before the model, and do not
 * rewrite the graph while an engine exists) and runs each kernel's init().
 * qc_engine_run is reentrant: several threads may run
 * the same engine at once on different inputs. Intermediate tensors are
 * freed right after their last consumer. */
#ifndef QC_ENGINE_H
#define QC_ENGINE_H

#include "../core/tensor.h"

struct qc_model;
typedef struct qc_engine qc_engine;

/* Called after every node for each of its outputs; return < 0 to abort the run. */
typedef int (*qc_value_callback)(void *user, int node, int value, const qc_tensor *t);

typedef struct qc_engine_opts {
  int nthreads; /* 0: all cores */
  /* 1: planning the activation arena keeps the heap's freed pages instead of
   * handing them back to the system; for engines created one after another
   * on the same data (search trials), each reusing the pages of the last. */
  int keep_freed_memory;
} qc_engine_opts;

int qc_engine_create(struct qc_model *m, const qc_engine_opts *opts, qc_engine **out);
void qc_engine_free(qc_engine *e);

/* Checks that every node's op is registered for the model's opset, without
 * creating kernels. The first unsupported node is the error. */
int qc_engine_check_ops(const struct qc_model *m);

/* inputs[i] for the i-th graph input (qc_graph.inputs order). outputs must
 * hold one (empty) tensor per graph output; the caller releases them. */
int qc_engine_run(qc_engine *e, qc_tensor *const *inputs, qc_tensor *outputs, qc_value_callback cb, void *user);
/* How many nodes a run without a callback computes inside another node's
 * kernel (run-time fusion, fusion.h), of them `fake_quant` DequantizeLinear
 * nodes whose QuantizeLinear is never materialised; for tests and profiles. */
void qc_engine_fused_counts(const qc_engine *e, int *absorbed, int *fake_quant);

/* Evaluates node `node` of g once on the given inputs, as the engine runs it
 * (the registered kernel for opset: init, shapes, run, teardown), filling the
 * first noutputs outputs (empty tensors; the caller releases them). No kernel
 * for the op is QC_EUNSUPPORTED. Constant folding uses it. */
struct qc_graph;
int qc_engine_eval_node(const struct qc_graph *g, int node, int opset, qc_tensor **inputs, qc_tensor **outputs,
                        int noutputs);

/* Sets the OpenMP thread count (0: all cores). Returns the count used. */
int qc_set_threads(int nthreads);

#endif
