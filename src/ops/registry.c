/* The op registry: one table, sorted by (op_type, since_version).
 * Dispatch picks the highest since_version <= the model's opset.
 * tests/test_registry.c checks the ordering. */
#include <string.h>

#include "kernels.h"
#include "op.h"

static const qc_op op_table[] = {
    /* BEGIN ROWS */
    /* END ROWS */
};

static const size_t op_table_len = sizeof op_table / sizeof op_table[0];

size_t qc_op_count(void) { return op_table_len; }
const qc_op *qc_op_at(size_t i) { return i < op_table_len ? &op_table[i] : NULL; }

const qc_op *qc_op_find(const char *op_type, int opset) {
  /* The table is small and lookups happen once per node at plan time. */
  const qc_op *best = NULL;
  for (size_t i = 0; i < op_table_len; i++)
    if (strcmp(op_table[i].op_type, op_type) == 0 && op_table[i].since_version <= opset &&
        (!best || op_table[i].since_version > best->since_version))
      best = &op_table[i];
  return best;
}

int qc_op_known(const char *op_type) {
  for (size_t i = 0; i < op_table_len; i++)
    if (strcmp(op_table[i].op_type, op_type) == 0)
      return 1;
  return 0;
}
