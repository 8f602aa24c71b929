/* ONNX backend conformance runner.
 *
 * Runs every test case (model.onnx + test_data_set_N/{input,output}_M.pb)
 * under the given directories whose ops qconvert supports, and compares at
 * the ONNX backend default tolerance: |got - want| <= atol + rtol * |want|,
 * rtol 1e-3, atol 1e-5 (exact for integer and bool outputs).
 * With --expected-unsupported FILE, a case that is unsupported but not listed
 * there is a failure, so regressions show. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "engine/engine.h"
#include "io/model_io.h"
#include "ir/model.h"
#include "io/tensor_proto.h"
#include "ir/graph.h"

static const double rel_tol = 1e-3, abs_tol = 1e-5;
static int verbose;

typedef struct name_list {
  char **items;
  size_t n;
} name_list;

static int list_has(const name_list *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i], s) == 0)
      return 1;
  return 0;
}

static void list_add(name_list *l, const char *s) {
  l->items = realloc(l->items, sizeof(char *) * (l->n + 1));
  l->items[l->n++] = strdup(s);
}

static void list_free(name_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i]);
  free(l->items);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted entries of dir whose names start with prefix. */
static void list_dir(const char *dir, const char *prefix, name_list *out) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.' && strncmp(de->d_name, prefix, strlen(prefix)) == 0)
      list_add(out, de->d_name);
  closedir(d);
  if (out->n > 1) /* items may be NULL */
    qsort(out->items, out->n, sizeof(char *), cmp_str);
}

/* Orders input_2.pb before input_10.pb. */
static int cmp_numbered(const void *a, const void *b) {
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  long nx = strtol(strchr(x, '_') + 1, NULL, 10), ny = strtol(strchr(y, '_') + 1, NULL, 10);
  return (nx > ny) - (nx < ny);
}

static int is_float(qc_dtype dt) {
  return dt == QC_DT_FLOAT || dt == QC_DT_DOUBLE || dt == QC_DT_FLOAT16 || dt == QC_DT_BFLOAT16;
}

/* 0 if equal within tolerance; else fills msg. */
static int compare(const qc_tensor *got, const qc_tensor *want, char *msg, size_t n) {
  char a[96], b[96];
  if (got->dtype != want->dtype) {
    snprintf(msg, n, "dtype %s, expected %s", qc_dtype_name(got->dtype), qc_dtype_name(want->dtype));
    return 1;
  }
  if (got->ndim != want->ndim || memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->ndim) != 0) {
    snprintf(msg, n, "shape %s, expected %s", qc_shape_str(got->ndim, got->dims, a, sizeof a),
             qc_shape_str(want->ndim, want->dims, b, sizeof b));
    return 1;
  }
  for (int64_t i = 0; i < got->numel; i++) {
    if (is_float(got->dtype)) {
      double x = qc_tensor_get_f64(got, i), y = qc_tensor_get_f64(want, i);
      if (isnan(x) && isnan(y))
        continue;
      if (x == y)
        continue;
      if (!(fabs(x - y) <= abs_tol + rel_tol * fabs(y))) {
        snprintf(msg, n, "element %lld: %.9g, expected %.9g", (long long)i, x, y);
        return 1;
      }
    } else {
      size_t es = qc_dtype_size(got->dtype);
      if (memcmp((char *)got->data + i * (int64_t)es, (char *)want->data + i * (int64_t)es, es) != 0) {
        snprintf(msg, n, "element %lld: %lld, expected %lld", (long long)i, (long long)qc_tensor_get_i64(got, i),
                 (long long)qc_tensor_get_i64(want, i));
        return 1;
      }
    }
  }
  return 0;
}

enum { CASE_PASS, CASE_FAIL, CASE_UNSUPPORTED };

static int run_data_set(qc_model *m, qc_engine *e, const char *set_dir, char *msg, size_t n) {
  qc_graph *g = m->graph;
  name_list ins = {0}, outs = {0};
  list_dir(set_dir, "input_", &ins);
  list_dir(set_dir, "output_", &outs);
  if (ins.n > 1)
    qsort(ins.items, ins.n, sizeof(char *), cmp_numbered);
  if (outs.n > 1)
    qsort(outs.items, outs.n, sizeof(char *), cmp_numbered);
  int result = CASE_PASS;
  qc_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
  qc_tensor **inp = calloc((size_t)g->n_inputs + 1, sizeof *inp);
  qc_tensor *got = calloc((size_t)g->n_outputs + 1, sizeof *got);
  char path[4096];
  if ((int)ins.n != g->n_inputs || (int)outs.n != g->n_outputs) {
    snprintf(msg, n, "test data has %zu inputs/%zu outputs, model has %d/%d", ins.n, outs.n, g->n_inputs,
             g->n_outputs);
    result = CASE_UNSUPPORTED;
    goto done;
  }
  for (int i = 0; i < g->n_inputs; i++) {
    snprintf(path, sizeof path, "%s/%s", set_dir, ins.items[i]);
    int rc = qc_tensor_read_pb(path, &in[i], NULL);
    if (rc < 0) {
      snprintf(msg, n, "%s", qc_last_error());
      result = rc == QC_EUNSUPPORTED ? CASE_UNSUPPORTED : CASE_FAIL;
      goto done;
    }
    /* The ONNX test data stores bfloat16 tensors with the uint16 type tag. */
    if (in[i].dtype == QC_DT_UINT16 && g->values[g->inputs[i]].dtype == QC_DT_BFLOAT16)
      in[i].dtype = QC_DT_BFLOAT16;
    inp[i] = &in[i];
  }
  int rc = qc_engine_run(e, inp, got, NULL, NULL);
  if (rc < 0) {
    snprintf(msg, n, "%s", qc_last_error());
    result = rc == QC_EUNSUPPORTED ? CASE_UNSUPPORTED : CASE_FAIL;
    goto done;
  }
  for (int i = 0; i < g->n_outputs && result == CASE_PASS; i++) {
    qc_tensor want = {0};
    snprintf(path, sizeof path, "%s/%s", set_dir, outs.items[i]);
    if (qc_tensor_read_pb(path, &want, NULL) < 0) {
      snprintf(msg, n, "%s", qc_last_error());
      result = CASE_UNSUPPORTED;
      break;
    }
    if (want.dtype == QC_DT_UINT16 && got[i].dtype == QC_DT_BFLOAT16)
      want.dtype = QC_DT_BFLOAT16;
    char cmsg[256];
    if (compare(&got[i], &want, cmsg, sizeof cmsg)) {
      snprintf(msg, n, "output %d ('%s'): %s", i, g->values[g->outputs[i]].name, cmsg);
      result = CASE_FAIL;
    }
    qc_tensor_release(&want);
  }
done:
  for (int i = 0; i < g->n_inputs; i++)
    qc_tensor_release(&in[i]);
  for (int i = 0; i < g->n_outputs; i++)
    qc_tensor_release(&got[i]);
  free(in);
  free(inp);
  free(got);
  list_free(&ins);
  list_free(&outs);
  return result;
}

static int run_case(const char *case_dir, char *msg, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/model.onnx", case_dir);
  qc_model *m = NULL;
  qc_engine *e = NULL;
  int rc = qc_model_load(path, &m);
  if (rc < 0) {
    snprintf(msg, n, "%s", qc_last_error());
    return rc == QC_EUNSUPPORTED ? CASE_UNSUPPORTED : CASE_FAIL;
  }
  rc = qc_engine_create(m, NULL, &e);
  if (rc < 0) {
    snprintf(msg, n, "%s", qc_last_error());
    qc_model_free(m);
    return rc == QC_EUNSUPPORTED ? CASE_UNSUPPORTED : CASE_FAIL;
  }
  name_list sets = {0};
  list_dir(case_dir, "test_data_set_", &sets);
  int result = sets.n ? CASE_PASS : CASE_UNSUPPORTED;
  if (!sets.n)
    snprintf(msg, n, "no test data sets");
  for (size_t i = 0; i < sets.n && result == CASE_PASS; i++) {
    snprintf(path, sizeof path, "%s/%s", case_dir, sets.items[i]);
    result = run_data_set(m, e, path, msg, n);
  }
  list_free(&sets);
  qc_engine_free(e);
  qc_model_free(m);
  return result;
}

/* One case id per line; '#' starts a comment. */
static int read_list(const char *path, name_list *out) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "qc_conformance: cannot read %s\n", path);
    return -1;
  }
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n# ")] = 0;
    if (line[0])
      list_add(out, line);
  }
  fclose(f);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "usage: qc_conformance [--filter SUBSTR] [--verbose] [--threads N]\n"
             "                      [--expected-unsupported FILE] [--write-unsupported FILE] [--known-bad FILE] DIR...\n");
}

int main(int argc, char **argv) {
  const char *filter = NULL, *expected_path = NULL, *write_path = NULL, *known_bad_path = NULL;
  int threads = 0;
  static const struct option opts[] = {{"filter", required_argument, 0, 'f'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"threads", required_argument, 0, 't'},
                                       {"expected-unsupported", required_argument, 0, 'e'},
                                       {"write-unsupported", required_argument, 0, 'w'},
                                       {"known-bad", required_argument, 0, 'k'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "f:vt:e:w:k:h", opts, NULL)) != -1) {
    switch (c) {
    case 'f': filter = optarg; break;
    case 'v': verbose = 1; break;
    case 't': threads = atoi(optarg); break;
    case 'e': expected_path = optarg; break;
    case 'w': write_path = optarg; break;
    case 'k': known_bad_path = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return 2;
  }
  qc_set_threads(threads);
  name_list expected = {0}, unsupported = {0}, known_bad = {0};
  if ((expected_path && read_list(expected_path, &expected) < 0) || (known_bad_path && read_list(known_bad_path, &known_bad) < 0))
    return 2;
  int passed = 0, failed = 0, skipped = 0, newly_unsupported = 0, bad_data = 0;
  for (int a = optind; a < argc; a++) {
    name_list cases = {0};
    list_dir(argv[a], "", &cases);
    const char *suite = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
    if (!*suite) suite = argv[a];
    for (size_t i = 0; i < cases.n; i++) {
      char case_dir[4096], model[4200], id[512], msg[1024] = "";
      snprintf(case_dir, sizeof case_dir, "%s/%s", argv[a], cases.items[i]);
      snprintf(model, sizeof model, "%s/model.onnx", case_dir);
      struct stat st;
      if (stat(model, &st) != 0)
        continue;
      snprintf(id, sizeof id, "%s/%s", suite, cases.items[i]);
      if (filter && !strstr(id, filter))
        continue;
      if (list_has(&known_bad, id)) {
        bad_data++;
        continue;
      }
      int r = run_case(case_dir, msg, sizeof msg);
      if (r == CASE_PASS) {
        passed++;
        if (verbose)
          printf("PASS %s\n", id);
        if (list_has(&expected, id))
          printf("NOW-SUPPORTED %s (remove it from the expected-unsupported list)\n", id);
      } else if (r == CASE_FAIL) {
        failed++;
        printf("FAIL %s: %s\n", id, msg);
      } else {
        skipped++;
        list_add(&unsupported, id);
        if (expected_path && !list_has(&expected, id)) {
          newly_unsupported++;
          printf("UNSUPPORTED-REGRESSION %s: %s\n", id, msg);
        } else if (verbose) {
          printf("UNSUPPORTED %s: %s\n", id, msg);
        }
      }
      fflush(stdout);
    }
    list_free(&cases);
  }
  if (write_path) {
    FILE *f = fopen(write_path, "w");
    if (f) {
      fprintf(f, "# ONNX backend tests that qconvert does not support (generated by qc_conformance --write-unsupported)\n");
      for (size_t i = 0; i < unsupported.n; i++)
        fprintf(f, "%s\n", unsupported.items[i]);
      fclose(f);
    }
  }
  printf("conformance: %d passed, %d failed, %d unsupported, %d skipped for bad test data", passed, failed, skipped,
         bad_data);
  if (expected_path)
    printf(" (%d not in the expected-unsupported list)", newly_unsupported);
  printf("\n");
  list_free(&expected);
  list_free(&unsupported);
  list_free(&known_bad);
  return (failed || newly_unsupported) ? 1 : 0;
}
