/* The passes' view of node attributes through the kernels' qc_attr_* accessors. */
#ifndef QC_SIMPLIFY_INTERNAL_H
#define QC_SIMPLIFY_INTERNAL_H

#include "../ir/graph.h"
#include "../ops/op.h"

/* A kernel view of the node's attributes, for the qc_attr_* accessors. */
void qc_simplify_attr_view(const qc_graph *g, int node, qc_kernel *k);

#endif
