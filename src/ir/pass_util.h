/* Rewrite helpers shared by the graph passes (src/passes) and the opset
 * upgrade; they need only the IR. */
#ifndef QC_PASS_UTIL_H
#define QC_PASS_UTIL_H

#include "../core/tensor.h"
#include "graph.h"

/* Whether any node carries a subgraph (If/Loop/Scan bodies may reference
 * outer values by name, which the IR does not index; passes then do nothing). */
int qc_graph_has_subgraphs(const qc_graph *g);
/* A malloc'd copy of g's node order (*n entries), for passes that add or
 * remove nodes while they walk it. */
int qc_graph_order_snapshot(const qc_graph *g, int **order, int *n);
/* The walk the rewrite passes share. A graph with subgraphs is left alone.
 * Otherwise each node, in the order of a snapshot taken first (topological
 * when `topo`, else the graph's order), that is still live when its turn
 * comes is given to visit(g, node, arg, &changed); a failure gets the node's
 * label after `doing` ("folding", ...) and stops the walk. Then initializers
 * and value_info left without users are pruned. *changed adds up the
 * visits' counts. */
typedef int (*qc_node_visit)(qc_graph *g, int node, void *arg, int *changed);
int qc_pass_walk(qc_graph *g, int topo, const char *doing, qc_node_visit visit, void *arg, int *changed);
/* Whether value v is an initializer the engine treats as a constant. */
int qc_value_is_const_init(const qc_graph *g, int v);
/* Makes output `slot` of `node` the value `name` (which must have no
 * producer); readers of the old output read `name` instead. */
int qc_node_rename_output(qc_graph *g, int node, int slot, const char *name);
/* qc_graph_set_initializer, plus the graph-input entry IR < 4 requires for new initializers. */
int qc_graph_put_initializer(qc_graph *g, const char *name, const qc_tensor *t);

#endif
