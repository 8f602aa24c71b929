/* Helpers shared by the simplify passes (simplify.c, fold_bn.c, const_fold.c). */
#ifndef QC_SIMPLIFY_INTERNAL_H
#define QC_SIMPLIFY_INTERNAL_H

#include "../core/tensor.h"
#include "../ir/graph.h"
#include "../ops/op.h"

/* A kernel view of the node's attributes, for the qc_attr_* accessors. */
void qc_simplify_attr_view(const qc_graph *g, int node, qc_kernel *k);
/* Whether any node carries a subgraph (If/Loop/Scan bodies may reference
 * outer values by name, which the IR does not index; passes then do nothing). */
int qc_simplify_has_subgraphs(const qc_graph *g);
/* A malloc'd copy of g's node order (*n entries), for passes that add or
 * remove nodes while they walk it. */
int qc_simplify_order_snapshot(const qc_graph *g, int **order, int *n);
/* Whether value v is an initializer the engine treats as a constant. */
int qc_simplify_is_const_init(const qc_graph *g, int v);
/* Makes output `slot` of `node` the value `name` (which must have no
 * producer); readers of the old output read `name` instead. */
int qc_simplify_rename_output(qc_graph *g, int node, int slot, const char *name);
/* qc_graph_set_initializer, plus the graph-input entry IR < 4 requires for new initializers. */
int qc_simplify_set_initializer(qc_graph *g, const char *name, const qc_tensor *t);

#endif
