/* Uses only the public header: the command line's job options, mapped onto
 * qconvert_options by hand, so a test can run the same options through the
 * API and through `qconvert` and compare what they write.
 *
 *   api_tool [compare] MODEL OUT|- [--calib DIR] [--report FILE]... [--summary] [options]
 *
 * OUT "-" passes NULL (quantize: MODEL.int8.onnx; compare: no model).
 * Comma lists (--exclude, --op-types, --observers) become pointer + count;
 * --summary prints the summary to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qconvert.h"

#define MAX_LIST 64

typedef struct list {
  const char *items[MAX_LIST];
  int n;
} list;

static int add(list *l, const char *s) {
  if (l->n == MAX_LIST)
    return 0;
  l->items[l->n++] = s;
  return 1;
}

/* Splits a comma list in place (s is argv's own copy). */
static int split(list *l, char *s) {
  for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
    if (!add(l, tok))
      return 0;
  return 1;
}

int main(int argc, char **argv) {
  int compare = argc > 1 && strcmp(argv[1], "compare") == 0, a = 1 + compare;
  if (argc < a + 2) {
    fprintf(stderr, "usage: api_tool [compare] MODEL OUT|- [options]\n");
    return 2;
  }
  const char *model = argv[a], *out = strcmp(argv[a + 1], "-") == 0 ? NULL : argv[a + 1];
  list shapes = {0}, observers = {0}, exclude = {0}, op_types = {0}, load_stats = {0}, reports = {0};
  qconvert_options o;
  qconvert_options_init(&o);
  for (a += 2; a < argc; a++) {
    const char *k = argv[a];
    char *v = a + 1 < argc ? argv[a + 1] : NULL;
    int ok = 1, flag = 1;
    if (strcmp(k, "--summary") == 0)
      o.summary = stdout;
    else if (strcmp(k, "--per-tensor") == 0)
      o.per_tensor = 1;
    else if (strcmp(k, "--weight-only") == 0)
      o.weight_only = 1;
    else if (strcmp(k, "--no-equalize") == 0)
      o.no_equalize = 1;
    else if (strcmp(k, "--no-saturation-clip") == 0)
      o.no_saturation_clip = 1;
    else if (strcmp(k, "--no-bias-correction") == 0)
      o.no_bias_correction = 1;
    else if (strcmp(k, "--refine") == 0)
      o.refine = 1;
    else if (strcmp(k, "--verbose") == 0)
      o.verbose = 1;
    else
      flag = 0;
    if (flag)
      continue;
    if (!v) {
      fprintf(stderr, "api_tool: %s needs a value\n", k);
      return 2;
    }
    a++;
    if (strcmp(k, "--calib") == 0)
      o.calib = v;
    else if (strcmp(k, "--calib-count") == 0)
      o.calib_count = atol(v);
    else if (strcmp(k, "--input-shape") == 0)
      ok = add(&shapes, v);
    else if (strcmp(k, "--scale") == 0)
      o.scale = v;
    else if (strcmp(k, "--mean") == 0)
      o.mean = v;
    else if (strcmp(k, "--std") == 0)
      o.std = v;
    else if (strcmp(k, "--color") == 0)
      o.color = v;
    else if (strcmp(k, "--layout") == 0)
      o.layout = v;
    else if (strcmp(k, "--resize-mode") == 0)
      o.resize_mode = v;
    else if (strcmp(k, "--pad-value") == 0)
      o.pad_value = v;
    else if (strcmp(k, "--observer") == 0)
      o.observer = v;
    else if (strcmp(k, "--observers") == 0)
      ok = split(&observers, v);
    else if (strcmp(k, "--percentile") == 0)
      o.percentile = atof(v);
    else if (strcmp(k, "--activation-type") == 0)
      o.activation_int8 = strcmp(v, "int8") == 0;
    else if (strcmp(k, "--exclude") == 0)
      ok = split(&exclude, v);
    else if (strcmp(k, "--op-types") == 0)
      ok = split(&op_types, v);
    else if (strcmp(k, "--min-sqnr") == 0)
      o.min_sqnr = atof(v);
    else if (strcmp(k, "--fallback-budget") == 0)
      o.fallback_budget = atof(v);
    else if (strcmp(k, "--rounding") == 0)
      o.rounding = v;
    else if (strcmp(k, "--save-stats") == 0)
      o.save_stats = v;
    else if (strcmp(k, "--load-stats") == 0)
      ok = add(&load_stats, v);
    else if (strcmp(k, "--eval") == 0)
      o.eval_dir = v;
    else if (strcmp(k, "--report") == 0)
      ok = add(&reports, v);
    else if (strcmp(k, "--batch") == 0)
      o.batch = atoi(v);
    else if (strcmp(k, "--threads") == 0)
      o.threads = atoi(v);
    else
      ok = 0;
    if (!ok) {
      fprintf(stderr, "api_tool: bad option %s %s\n", k, v);
      return 2;
    }
  }
  o.input_shapes = shapes.items, o.n_input_shapes = shapes.n;
  o.observers = observers.items, o.n_observers = observers.n;
  o.exclude = exclude.items, o.n_exclude = exclude.n;
  o.op_types = op_types.items, o.n_op_types = op_types.n;
  o.load_stats = load_stats.items, o.n_load_stats = load_stats.n;
  o.reports = reports.items, o.n_reports = reports.n;
  int rc = compare ? qconvert_compare(model, out, &o) : qconvert_quantize(model, out, &o);
  if (rc != 0) {
    fprintf(stderr, "api_tool: %s\n", qconvert_last_error());
    return qconvert_exit_code(rc);
  }
  if (!o.summary)
    printf("qconvert %s: wrote %s\n", qconvert_version(), out ? out : "(default)");
  return 0;
}
