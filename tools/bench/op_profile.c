/* Per-node timing of qconvert's FP32 engine, through the engine's value
 * callback (the time between one node's callback and the previous one's is
 * that node's time; the first node also carries the run's setup).
 *
 *   op_profile MODEL INPUT.npy [THREADS [RUNS]]
 *
 * Prints time per op type (sum over nodes, median over runs) and the 15
 * slowest nodes. Float32 C-order .npy input only; one graph input.
 * Build (not part of the meson build; link against a build dir's library):
 *   B=/tmp/build; gcc -O2 -std=c11 -D_GNU_SOURCE -Isrc -I$B/proto tools/bench/op_profile.c \
 *     -L$B -lqconvert -Wl,-rpath,$B -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp \
 *     -lprotobuf-c -lm -o /tmp/op_profile
 * Run with OMP_WAIT_POLICY=PASSIVE OPENBLAS_CORETYPE=SkylakeX (the CLI sets these itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "io/model_io.h"
#include "ir/model.h"
#include "ir/graph.h"
#include "onnx.pb-c.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct prof {
  double last;
  double *node_ms; /* per node id, this run */
} prof;

static int on_value(void *user, int node, int value, const qc_tensor *t) {
  (void)value;
  (void)t;
  prof *p = user;
  double now = now_ms();
  p->node_ms[node] += now - p->last;
  p->last = now;
  return 0;
}

static int read_npy_f32(const char *path, qc_tensor *t) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  unsigned char pre[10];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1) {
    fclose(f);
    return -1;
  }
  int hlen = pre[8] | pre[9] << 8;
  char *h = calloc(1, (size_t)hlen + 1);
  if (fread(h, 1, (size_t)hlen, f) != (size_t)hlen || !strstr(h, "'<f4'") || strstr(h, "True")) {
    free(h);
    fclose(f);
    return -1;
  }
  int64_t dims[8];
  int nd = 0;
  for (char *s = strchr(strstr(h, "'shape'"), '(') + 1; *s && *s != ')' && nd < 8;) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s) {
      s++;
      continue;
    }
    dims[nd++] = v;
    s = end;
  }
  free(h);
  if (qc_tensor_alloc(t, QC_DT_FLOAT, nd, dims) < 0 ||
      fread(t->data, sizeof(float), (size_t)t->numel, f) != (size_t)t->numel) {
    fclose(f);
    return -1;
  }
  fclose(f);
  return 0;
}

typedef struct agg {
  const char *op;
  double ms;
  int count;
} agg;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: op_profile MODEL INPUT.npy [THREADS [RUNS]]\n");
    return 2;
  }
  int threads = argc > 3 ? atoi(argv[3]) : 2, runs = argc > 4 ? atoi(argv[4]) : 50;
  qc_model *m;
  qc_engine *e;
  qc_tensor in = {0};
  if (qc_model_load(argv[1], &m) < 0 || read_npy_f32(argv[2], &in) < 0) {
    fprintf(stderr, "op_profile: cannot load %s or %s\n", argv[1], argv[2]);
    return 1;
  }
  qc_engine_opts o = {.nthreads = threads};
  if (qc_engine_create(m, &o, &e) < 0) {
    fprintf(stderr, "op_profile: engine creation failed\n");
    return 1;
  }
  qc_graph *g = m->graph;
  int nn = g->n_nodes;
  qc_tensor *outs = calloc((size_t)g->n_outputs, sizeof *outs);
  qc_tensor *ins[1] = {&in};
  double *all = calloc((size_t)nn * (size_t)runs, sizeof *all), *total = calloc((size_t)runs, sizeof *total);
  prof p = {0, calloc((size_t)nn, sizeof(double))};
  qc_engine_run(e, ins, outs, NULL, NULL); /* warm-up */
  for (int r = 0; r < runs; r++) {
    memset(p.node_ms, 0, sizeof(double) * (size_t)nn);
    double t0 = now_ms();
    p.last = t0;
    if (qc_engine_run(e, ins, outs, on_value, &p) < 0) {
      fprintf(stderr, "op_profile: run failed\n");
      return 1;
    }
    total[r] = now_ms() - t0;
    for (int i = 0; i < nn; i++)
      all[(size_t)i * runs + r] = p.node_ms[i];
  }
  double *med = calloc((size_t)nn, sizeof *med);
  for (int i = 0; i < nn; i++) {
    qsort(all + (size_t)i * runs, (size_t)runs, sizeof(double), cmp_double);
    med[i] = all[(size_t)i * runs + runs / 2];
  }
  qsort(total, (size_t)runs, sizeof(double), cmp_double);
  agg *ag = calloc((size_t)nn, sizeof *ag);
  int na = 0;
  double sum = 0;
  for (int i = 0; i < nn; i++) {
    const char *op = g->nodes[i].proto->op_type;
    int j = 0;
    while (j < na && strcmp(ag[j].op, op) != 0)
      j++;
    if (j == na)
      ag[na++] = (agg){op, 0, 0};
    ag[j].ms += med[i];
    ag[j].count++;
    sum += med[i];
  }
  printf("%s threads=%d runs=%d: median run %.3f ms (sum of node medians %.3f ms)\n", argv[1], threads, runs,
         total[runs / 2], sum);
  for (int a = 0; a < na; a++)
    for (int b = a + 1; b < na; b++)
      if (ag[b].ms > ag[a].ms) {
        agg t = ag[a];
        ag[a] = ag[b];
        ag[b] = t;
      }
  printf("  %-22s %6s %10s %6s\n", "op", "nodes", "ms", "%");
  for (int a = 0; a < na; a++)
    printf("  %-22s %6d %10.3f %5.1f%%\n", ag[a].op, ag[a].count, ag[a].ms, 100 * ag[a].ms / sum);
  printf("  slowest nodes:\n");
  for (int k = 0; k < 15 && k < nn; k++) {
    int best = -1;
    for (int i = 0; i < nn; i++)
      if (med[i] >= 0 && (best < 0 || med[i] > med[best]))
        best = i;
    char label[256];
    printf("    %8.3f ms  %s\n", med[best], qc_node_label(g, best, label, sizeof label));
    med[best] = -1;
  }
  return 0;
}
