/* Op registry invariants (src/ops/registry.c): the table is sorted by
 * (op_type, since_version) with no duplicate row, every row has a shape
 * function, and lookup picks the row with the highest since_version <= the
 * model's opset: each row is found at its own since_version and one below
 * it gives the previous row of the same op (or none).
 * `test_registry --list` prints "op_type since_version" per row instead, for
 * test_registry_docs.py. */
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "qc_test.h"

int main(int argc, char **argv) {
  size_t n = qc_op_count();
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < n; i++)
      printf("%s %d\n", qc_op_at(i)->op_type, qc_op_at(i)->since_version);
    return 0;
  }
  CHECK(n > 0, "the registry is empty");
  CHECK(qc_op_at(n) == NULL, "qc_op_at(%zu) past the end", n);
  for (size_t i = 0; i < n; i++) {
    const qc_op *op = qc_op_at(i);
    CHECK(op->shape != NULL, "%s-%d has no shape function", op->op_type, op->since_version);
    CHECK(op->since_version >= 1, "%s since_version %d", op->op_type, op->since_version);
    if (i > 0) {
      const qc_op *prev = qc_op_at(i - 1);
      int order = strcmp(prev->op_type, op->op_type);
      CHECK(order < 0 || (order == 0 && prev->since_version < op->since_version),
            "row %zu %s-%d is not after row %zu %s-%d", i, op->op_type, op->since_version, i - 1, prev->op_type,
            prev->since_version);
    }
    CHECK(qc_op_known(op->op_type), "%s not known", op->op_type);
    CHECK(qc_op_find(op->op_type, op->since_version) == op, "%s at opset %d does not find its own row",
          op->op_type, op->since_version);
    const qc_op *older = qc_op_find(op->op_type, op->since_version - 1);
    const qc_op *want = i > 0 && strcmp(qc_op_at(i - 1)->op_type, op->op_type) == 0 ? qc_op_at(i - 1) : NULL;
    CHECK(older == want, "%s at opset %d finds %s-%d", op->op_type, op->since_version - 1,
          older ? older->op_type : "nothing", older ? older->since_version : 0);
  }
  CHECK(!qc_op_known("NoSuchOp") && qc_op_find("NoSuchOp", 1000) == NULL, "an unknown op is found");
  return qc_test_finish("registry");
}
