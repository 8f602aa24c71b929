/* IR internals shared by graph.c and rewrite.c. */
#ifndef QC_GRAPH_INTERNAL_H
#define QC_GRAPH_INTERNAL_H

#include "graph.h"

int qc_graph_intern_value(qc_graph *g, const char *name, int *id);
int qc_graph_bind_node(qc_graph *g, int id);
int qc_graph_push_node(qc_graph *g, struct Onnx__NodeProto *np, int *id);
/* Drops value's cached initializer view: call before its proto's data changes or is freed. */
void qc_graph_drop_view(qc_graph *g, int value);

#endif
