/* Evaluation and per-layer error. See eval.h. */
#define _POSIX_C_SOURCE 200809L
#include "eval.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/status.h"
#include "../engine/engine.h"
#include "../io/model_io.h"
#include "../ir/graph.h"
#include "qparams.h"
#include "source.h"

typedef struct eval_class {
  char *name;
  int label; /* -1 when unlabeled */
  qc_calib_source *src;
  int64_t count;
} eval_class;

struct qc_eval_data {
  char *dir;
  eval_class *classes;
  int n_classes;
  int labeled;
  int ninputs;
  int64_t total;
  int parity; /* -1: every sample; 0 or 1: only the samples of that index parity (per class) */
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_integer(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

/* Sorted non-hidden subdirectory names of dir; *has_files if it also holds files. */
static int list_subdirs(const char *dir, char ***names, int *n, int *has_files) {
  DIR *d = opendir(dir);
  *names = NULL;
  *n = 0;
  *has_files = 0;
  if (!d)
    return qc_fail(QC_EUSAGE, "%s: cannot open the directory", dir);
  struct dirent *de;
  int rc = QC_OK;
  while ((de = readdir(d)) && rc == QC_OK) {
    if (de->d_name[0] == '.')
      continue;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    if (stat(path, &st) != 0)
      continue;
    if (!S_ISDIR(st.st_mode)) {
      *has_files = 1;
      continue;
    }
    char **grown = realloc(*names, sizeof(char *) * (size_t)(*n + 1));
    if (!grown || !(grown[*n] = strdup(de->d_name))) {
      if (grown)
        *names = grown;
      rc = qc_fail(QC_ENOMEM, "out of memory");
      break;
    }
    *names = grown;
    (*n)++;
  }
  closedir(d);
  if (*n)
    qsort(*names, (size_t)*n, sizeof(char *), cmp_str);
  return rc;
}

int qc_eval_open(const char *dir, const qc_preprocess_opts *pre, const qc_input_spec *inputs, int ninputs,
                 int quiet, int64_t count, qc_eval_data **out) {
  *out = NULL;
  struct stat st;
  if (stat(dir, &st) != 0)
    return qc_fail(QC_EUSAGE, "%s: no such directory", dir);
  qc_eval_data *d = calloc(1, sizeof *d);
  if (!d)
    return qc_fail(QC_ENOMEM, "out of memory");
  d->ninputs = ninputs;
  d->parity = -1;
  d->dir = strdup(dir);
  char **subdirs = NULL;
  int n_sub = 0, has_files = 0;
  /* Not a directory: a LIST.txt (the calibration data may be one), unlabeled;
   * the source refuses anything else. */
  int rc = !d->dir                 ? qc_fail(QC_ENOMEM, "out of memory")
           : S_ISDIR(st.st_mode) ? list_subdirs(dir, &subdirs, &n_sub, &has_files)
                                 : QC_OK;
  /* Multi-input models keep DIR/<input_name>/ layouts: those are not classes. */
  d->labeled = rc == QC_OK && n_sub > 0 && !has_files && ninputs == 1;
  int all_int = 1;
  for (int i = 0; d->labeled && i < n_sub; i++)
    all_int &= is_integer(subdirs[i]);
  int n_classes = d->labeled ? n_sub : 1;
  d->classes = calloc((size_t)n_classes, sizeof *d->classes);
  if (rc == QC_OK && !d->classes)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  qc_preprocess_opts *per_input = calloc((size_t)ninputs + 1, sizeof *per_input);
  if (rc == QC_OK && !per_input)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  for (int i = 0; rc == QC_OK && i < ninputs; i++)
    per_input[i] = *pre;
  for (int c = 0; rc == QC_OK && c < n_classes; c++) {
    eval_class *ec = &d->classes[c];
    char path[4096];
    if (d->labeled)
      snprintf(path, sizeof path, "%s/%s", dir, subdirs[c]);
    else
      snprintf(path, sizeof path, "%s", dir);
    ec->name = strdup(d->labeled ? subdirs[c] : "");
    ec->label = d->labeled ? (all_int ? atoi(subdirs[c]) : c) : -1;
    qc_source_opts so = {.path = path, .count = count, .preprocess = per_input, .quiet = quiet,
                         .purpose = "evaluation"};
    rc = ec->name ? qc_calib_source_open(&so, inputs, ninputs, &ec->src) : qc_fail(QC_ENOMEM, "out of memory");
    if (rc < 0) {
      free(ec->name); /* not yet counted in n_classes, so qc_eval_close would miss it */
      ec->name = NULL;
      break;
    }
    ec->count = qc_calib_source_count(ec->src);
    d->total += ec->count;
    d->n_classes = c + 1;
  }
  for (int i = 0; i < n_sub; i++)
    free(subdirs[i]);
  free(subdirs);
  free(per_input);
  if (rc < 0) {
    qc_eval_close(d);
    return rc;
  }
  *out = d;
  return QC_OK;
}

void qc_eval_close(qc_eval_data *d) {
  if (!d)
    return;
  for (int c = 0; c < d->n_classes; c++) {
    qc_calib_source_close(d->classes[c].src);
    free(d->classes[c].name);
  }
  free(d->classes);
  free(d->dir);
  free(d);
}

int64_t qc_eval_count(const qc_eval_data *d) {
  if (d->parity < 0)
    return d->total;
  int64_t n = 0;
  for (int c = 0; c < d->n_classes; c++)
    n += (d->classes[c].count + (d->parity ? 0 : 1)) / 2;
  return n;
}

void qc_eval_keep_parity(qc_eval_data *d, int parity) { d->parity = parity; }

const char *qc_eval_sample_path(const qc_eval_data *d, int64_t index, int input) {
  for (int c = 0; c < d->n_classes; index -= d->classes[c].count, c++)
    if (index < d->classes[c].count)
      return qc_calib_source_path(d->classes[c].src, index, input);
  return "";
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Iterates over the data in batches: loads up to `batch` samples of one class. */
typedef struct batch_iter {
  qc_eval_data *d;
  int cls;
  int64_t next;
  int batch;
  qc_tensor *samples, *inputs;
  qc_tensor **in_ptrs;
  int count, label;
  int64_t spread;        /* > 0: only the samples at rows floor(i * total / spread) */
  int64_t spread_next;   /* the i of the next row taken */
  int64_t class_base;    /* row of the current class's first sample */
  const struct qc_eval_reference *cached; /* non-NULL: every batch's inputs are its own, nothing is read */
  int cached_next;       /* the next cached batch */
} batch_iter;

/* Samples are stacked along dim 0; a model whose inputs fix that dim (an
 * export with batch 1) is fed one sample at a time. */
static int model_batch(const qc_model *m, int batch) {
  const qc_graph *g = m->graph;
  for (int i = 0; i < g->n_inputs; i++) {
    const qc_value *v = &g->values[g->inputs[i]];
    if (v->ndim > 0 && v->dims[0] > 0)
      return 1;
  }
  return batch;
}

static int iter_init(batch_iter *it, qc_eval_data *d, int batch, int64_t spread) {
  memset(it, 0, sizeof *it);
  it->d = d;
  it->spread = spread > 0 && spread < d->total ? spread : 0;
  it->batch = batch > 0 ? batch : 1;
  it->samples = calloc((size_t)it->batch * (size_t)(d->ninputs + 1), sizeof(qc_tensor));
  it->inputs = calloc((size_t)d->ninputs + 1, sizeof(qc_tensor));
  it->in_ptrs = calloc((size_t)d->ninputs + 1, sizeof(qc_tensor *));
  if (!it->samples || !it->inputs || !it->in_ptrs)
    return qc_fail(QC_ENOMEM, "out of memory");
  for (int i = 0; i < d->ninputs; i++)
    it->in_ptrs[i] = &it->inputs[i];
  return QC_OK;
}

static void iter_release(batch_iter *it) {
  for (int i = 0; i < it->count * it->d->ninputs; i++)
    qc_tensor_release(&it->samples[i]);
  for (int i = 0; i < it->d->ninputs; i++)
    qc_tensor_release(&it->inputs[i]);
  it->count = 0;
}

static void iter_free(batch_iter *it) {
  if (it->d && it->samples)
    iter_release(it);
  free(it->samples);
  free(it->inputs);
  free(it->in_ptrs);
}

static int iter_next_cached(batch_iter *it);

/* Loads the next batch; returns 1 when one was loaded, 0 at the end. */
static int iter_next(batch_iter *it) {
  if (it->cached)
    return iter_next_cached(it);
  iter_release(it);
  qc_eval_data *d = it->d;
  while (it->cls < d->n_classes) {
    eval_class *ec = &d->classes[it->cls];
    while (it->count < it->batch && it->next < ec->count) {
      if (it->spread) { /* rows rise strictly with i, since spread < total */
        int64_t row = it->class_base + it->next;
        if (it->spread_next >= it->spread || row != it->spread_next * d->total / it->spread) {
          it->next++;
          continue;
        }
        it->spread_next++;
      }
      if (d->parity >= 0 && it->next % 2 != d->parity) {
        it->next++;
        continue;
      }
      int rc = qc_calib_source_load(ec->src, it->next++, &it->samples[(size_t)it->count * (size_t)d->ninputs]);
      if (rc < 0)
        return rc;
      if (rc == QC_OK)
        it->count++;
    }
    it->label = ec->label;
    if (it->next >= ec->count) {
      it->class_base += ec->count;
      it->cls++;
      it->next = 0;
    }
    if (it->count > 0) {
      QC_TRY(qc_stack_samples(it->samples, it->count, d->ninputs, it->inputs));
      return 1;
    }
  }
  return 0;
}

/* Every sample was skipped (each with a warning): a metric over nothing must
 * not read as a perfect score. */
static int no_usable_samples(const qc_eval_data *d) {
  return qc_fail(QC_EUSAGE, "no usable evaluation samples in %s", d->dir);
}

/* Indices of the k largest values of row (k <= 5). */
static void top_k(const float *row, int n, int k, int *idx) {
  for (int j = 0; j < k; j++) {
    int best = -1;
    for (int i = 0; i < n; i++) {
      int taken = 0;
      for (int t = 0; t < j; t++)
        taken |= idx[t] == i;
      if (!taken && (best < 0 || row[i] > row[best]))
        best = i;
    }
    idx[j] = best;
  }
}

/* The FP32 side of an evaluation, kept for the trials that compare many
 * quantized models against it: the FP32 outputs of every batch, in the order
 * the batches are read. Batches past max_bytes are not kept: a trial runs
 * the FP32 model on those again, so results never depend on the bound. */
struct qc_eval_reference {
  qc_model *fp32;
  qc_eval_data *d;
  qc_eval_opts o;
  int nout;
  int64_t spread;        /* > 0: only that many evenly spaced samples of d */
  int n_batches, n_kept; /* batches read; the first n_kept have their outputs in outs */
  qc_tensor *outs;       /* n_kept * nout */
  /* The reference-only sums over the kept batches, as a pass adds them up
   * when every quantized output matches (ref_prefix_sums): computed once. */
  double sum_ref2, *out_ref2;
  size_t bytes, max_bytes;
  double fp32_seconds;   /* the FP32 runs of every batch, when made */
  /* The inputs of every batch, as read (ninputs each), with their sample
   * count and label: a trial then reads and preprocesses no image. Kept
   * while they fit in max_bytes, and only when all of them do. */
  int n_in_kept;
  qc_tensor *ins;
  int *counts, *labels;
  size_t in_bytes;
};

/* The next batch from the reference's kept inputs (batch_iter.cached). */
static int iter_next_cached(batch_iter *it) {
  const qc_eval_reference *r = it->cached;
  int ni = it->d->ninputs;
  if (it->cached_next >= r->n_in_kept)
    return 0;
  for (int i = 0; i < ni; i++)
    it->in_ptrs[i] = &r->ins[(size_t)it->cached_next * (size_t)ni + (size_t)i];
  it->count = r->counts[it->cached_next];
  it->label = r->labels[it->cached_next];
  it->cached_next++;
  return 1;
}

/* Keeps batch b's inputs (taken from it) while every earlier batch's were
 * kept and the bound allows; else drops what was kept, since a trial uses
 * them only when it has them all. */
static int keep_inputs(qc_eval_reference *r, int b, batch_iter *it) {
  int ni = it->d->ninputs;
  size_t bytes = 0;
  for (int i = 0; i < ni; i++)
    bytes += it->inputs[i].nbytes;
  if (r->n_in_kept == b && r->in_bytes + bytes <= r->max_bytes) {
    qc_tensor *ins = realloc(r->ins, sizeof *ins * (size_t)(b + 1) * (size_t)ni);
    if (ins)
      r->ins = ins;
    int *counts = ins ? realloc(r->counts, sizeof *counts * (size_t)(b + 1)) : NULL;
    if (counts)
      r->counts = counts;
    int *labels = counts ? realloc(r->labels, sizeof *labels * (size_t)(b + 1)) : NULL;
    if (!labels)
      return qc_fail(QC_ENOMEM, "out of memory");
    r->labels = labels;
    for (int i = 0; i < ni; i++) {
      ins[(size_t)b * (size_t)ni + (size_t)i] = it->inputs[i];
      memset(&it->inputs[i], 0, sizeof it->inputs[i]);
    }
    r->counts[b] = it->count, r->labels[b] = it->label;
    r->n_in_kept = b + 1;
    r->in_bytes += bytes;
    return QC_OK;
  }
  for (size_t i = 0; i < (size_t)r->n_in_kept * (size_t)ni; i++)
    qc_tensor_release(&r->ins[i]);
  r->n_in_kept = 0;
  r->in_bytes = r->max_bytes + 1; /* no later batch is kept */
  return QC_OK;
}

/* One evaluation pass over the data: FP32 outputs from an engine (ef) or
 * from a reference, quantized outputs from eq (may be NULL); with fill, the
 * FP32 outputs (and the inputs) are kept in it. The sums are taken in the same order on
 * every path, so a cached evaluation gives the very same numbers. */
typedef struct eval_pass {
  qc_model *fp32;
  qc_engine *ef, *eq;
  qc_eval_reference *use, *fill;
  int64_t spread; /* > 0: that many evenly spaced samples of the data (batch_iter) */
} eval_pass;

/* Keeps batch b's FP32 outputs (taken from of) while every earlier batch was
 * kept and the bound allows. */
static int keep_outputs(qc_eval_reference *r, int b, qc_tensor *of) {
  size_t bytes = 0;
  for (int i = 0; i < r->nout; i++)
    bytes += of[i].nbytes;
  r->n_batches = b + 1;
  if (r->n_kept < b || r->bytes + bytes > r->max_bytes)
    return QC_OK;
  qc_tensor *grown = realloc(r->outs, sizeof *grown * (size_t)(r->n_kept + 1) * (size_t)r->nout);
  if (!grown)
    return qc_fail(QC_ENOMEM, "out of memory");
  r->outs = grown;
  for (int i = 0; i < r->nout; i++) {
    grown[(size_t)r->n_kept * (size_t)r->nout + (size_t)i] = of[i];
    memset(&of[i], 0, sizeof of[i]);
  }
  r->n_kept++;
  r->bytes += bytes;
  return QC_OK;
}

/* The sums of ref^2 over r's first n_batches kept batches, over all outputs (sum_ref2) and
 * per output (out_ref2), in the order evaluate_pass adds them: batch by
 * batch, output by output. matched[b * nout + i] == 0: the quantized output
 * i of batch b did not match and was left out; matched NULL: all matched. */
static void ref_prefix_sums(const qc_eval_reference *r, int n_batches, const unsigned char *matched,
                            double *sum_ref2, double *out_ref2) {
  *sum_ref2 = 0;
  for (int i = 0; i < r->nout; i++)
    out_ref2[i] = 0;
  for (int b = 0; b < n_batches && b < r->n_kept; b++)
    for (int i = 0; i < r->nout; i++) {
      const qc_tensor *of = &r->outs[(size_t)b * (size_t)r->nout + (size_t)i];
      if (of->dtype != QC_DT_FLOAT || (matched && !matched[(size_t)b * (size_t)r->nout + (size_t)i]))
        continue;
      double s = *sum_ref2, so = out_ref2[i];
      for (int64_t j = 0; j < of->numel; j++) {
        double a = qc_f32(of)[j];
        s += a * a, so += a * a;
      }
      *sum_ref2 = s, out_ref2[i] = so;
    }
}

static int evaluate_pass(eval_pass *p, qc_eval_data *d, const qc_eval_opts *o, qc_eval_result *res) {
  memset(res, 0, sizeof *res);
  res->labeled = d->labeled;
  res->n_classes = d->labeled ? d->n_classes : 0;
  qc_engine_opts eo = {.nthreads = o->nthreads};
  qc_engine *ef = p->ef, *eq = p->eq, *ef_own = NULL;
  batch_iter it;
  int rc = iter_init(&it, d, model_batch(p->fp32, o->batch), p->spread);
  if (p->use && p->use->n_in_kept && p->use->n_in_kept == p->use->n_batches)
    it.cached = p->use;
  int nout = p->fp32->graph->n_outputs;
  qc_tensor *own = calloc((size_t)nout + 1, sizeof *own), *oq = calloc((size_t)nout + 1, sizeof *oq);
  if (rc == QC_OK && (!own || !oq))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  double sum_ref2 = 0, sum_err2 = 0, sum_q2 = 0, sum_dot = 0, tf = 0, tq = 0;
  /* Per output, so a small-magnitude output (a score head beside box
   * regressors) is not hidden by a large one: the SQNR reported is the worst. */
  double *out_ref2 = calloc((size_t)nout + 1, sizeof(double)), *out_err2 = calloc((size_t)nout + 1, sizeof(double));
  if (rc == QC_OK && (!out_ref2 || !out_err2))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  /* Over a reference's kept batches the sums of ref^2 are its own, taken
   * once; unless a quantized output does not match (then left out, as
   * below), which `matched` records to add them up again. */
  const qc_eval_reference *use = p->use && p->use->n_kept && p->use->out_ref2 ? p->use : NULL;
  unsigned char *matched = use ? calloc((size_t)use->n_kept * (size_t)nout + 1, 1) : NULL;
  int all_matched = 1, batches = 0;
  if (rc == QC_OK && use && !matched)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  int64_t n = 0, top1_f = 0, top1_q = 0, top5_f = 0, top5_q = 0, agree = 0;
  for (int b = 0; rc == QC_OK && (rc = iter_next(&it)) == 1; b++) {
    rc = QC_OK;
    qc_tensor *of = own;
    if (p->use && b < p->use->n_kept) {
      of = &p->use->outs[(size_t)b * (size_t)nout];
    } else {
      if (!ef && (rc = qc_engine_create(p->fp32, &eo, &ef_own)) < 0)
        break;
      ef = ef ? ef : ef_own;
      double t0 = now_s();
      rc = qc_engine_run(ef, it.in_ptrs, own, NULL, NULL);
      tf += now_s() - t0;
    }
    if (rc == QC_OK && eq) {
      double t0 = now_s();
      rc = qc_engine_run(eq, it.in_ptrs, oq, NULL, NULL);
      tq += now_s() - t0;
    }
    if (rc < 0)
      break;
    int prefix = use && b < use->n_kept; /* the ref^2 sums are the reference's */
    for (int i = 0; eq && i < nout; i++) {
      if (of[i].dtype != QC_DT_FLOAT || oq[i].numel != of[i].numel) {
        all_matched &= !prefix || of[i].dtype != QC_DT_FLOAT;
        continue;
      }
      if (prefix) {
        matched[(size_t)b * (size_t)nout + (size_t)i] = 1;
        double se = sum_err2, sq = sum_q2, sd = sum_dot, oe = out_err2[i];
        for (int64_t j = 0; j < of[i].numel; j++) {
          double a = qc_f32(&of[i])[j], bq = qc_f32(&oq[i])[j];
          se += (a - bq) * (a - bq), sq += bq * bq, sd += a * bq, oe += (a - bq) * (a - bq);
        }
        sum_err2 = se, sum_q2 = sq, sum_dot = sd, out_err2[i] = oe;
        continue;
      }
      for (int64_t j = 0; j < of[i].numel; j++) {
        double a = qc_f32(&of[i])[j], bq = qc_f32(&oq[i])[j];
        sum_ref2 += a * a, sum_err2 += (a - bq) * (a - bq), sum_q2 += bq * bq, sum_dot += a * bq;
        out_ref2[i] += a * a, out_err2[i] += (a - bq) * (a - bq);
      }
    }
    /* Classification metrics from output 0: [batch, classes]. */
    const qc_tensor *lf = &of[0];
    int classes = lf->ndim >= 2 && lf->dims[0] == it.count ? (int)(lf->numel / it.count) : 0;
    for (int s = 0; classes > 0 && lf->dtype == QC_DT_FLOAT && s < it.count; s++) {
      /* Unlabeled, only the top-1 class is compared: the first index top_k
       * finds, whatever k. On a detector's 100 k-pixel map k = 5 cost most
       * of the evaluation's own time in a --min-sqnr trial (perf). */
      int tf5[5], tq5[5], k = !d->labeled ? 1 : classes < 5 ? classes : 5;
      top_k(qc_f32(lf) + (size_t)s * (size_t)classes, classes, k, tf5);
      if (eq)
        top_k(qc_f32(&oq[0]) + (size_t)s * (size_t)classes, classes, k, tq5);
      if (d->labeled) {
        top1_f += tf5[0] == it.label;
        top1_q += eq && tq5[0] == it.label;
        for (int t = 0; t < k; t++) {
          top5_f += tf5[t] == it.label;
          top5_q += eq && tq5[t] == it.label;
        }
      }
      agree += eq && tf5[0] == tq5[0];
    }
    n += it.count;
    batches = b + 1;
    if (eq && use && b == use->n_kept - 1) { /* the end of the kept batches: their ref^2 sums */
      if (all_matched) {
        sum_ref2 = use->sum_ref2;
        memcpy(out_ref2, use->out_ref2, sizeof(double) * (size_t)nout);
      } else {
        ref_prefix_sums(use, b + 1, matched, &sum_ref2, out_ref2);
      }
    }
    if (p->fill)
      rc = keep_outputs(p->fill, b, own);
    if (p->fill && rc == QC_OK)
      rc = keep_inputs(p->fill, b, &it);
    for (int i = 0; i < nout; i++) {
      qc_tensor_release(&own[i]);
      qc_tensor_release(&oq[i]);
    }
  }
  if (rc == 1 || rc == 0)
    rc = n > 0 ? QC_OK : no_usable_samples(d);
  if (rc == QC_OK && eq && use && batches < use->n_kept) /* fewer batches read than kept (samples gone) */
    ref_prefix_sums(use, batches, matched, &sum_ref2, out_ref2);
  if (rc == QC_OK) {
    res->samples = n;
    double dn = n ? (double)n : 1;
    res->fp32_top1 = d->labeled ? top1_f / dn : -1;
    res->quant_top1 = d->labeled && eq ? top1_q / dn : -1;
    res->fp32_top5 = d->labeled && d->n_classes >= 5 ? top5_f / dn : -1;
    res->quant_top5 = d->labeled && eq && d->n_classes >= 5 ? top5_q / dn : -1;
    res->agreement = eq ? agree / dn : -1;
    /* Without a quantized model there is nothing to compare: NaN (null in JSON). */
    res->output_sqnr_db = NAN;
    for (int i = 0; eq && i < nout; i++) {
      double db = out_err2[i] > 0 ? 10 * log10(out_ref2[i] / out_err2[i]) : INFINITY;
      if (out_ref2[i] > 0 && !(db >= res->output_sqnr_db))
        res->output_sqnr_db = db;
    }
    if (eq && isnan(res->output_sqnr_db))
      res->output_sqnr_db = INFINITY;
    res->cosine = !eq ? NAN : sum_ref2 > 0 && sum_q2 > 0 ? sum_dot / sqrt(sum_ref2 * sum_q2) : 1;
    /* A cached reference states the time of its own FP32 runs. */
    if (p->use)
      tf += p->use->fp32_seconds;
    res->fp32_ms = 1e3 * tf / dn;
    res->quant_ms = eq ? 1e3 * tq / dn : NAN;
    if (p->fill)
      p->fill->fp32_seconds = tf;
  }
  for (int i = 0; own && oq && i < nout; i++) {
    qc_tensor_release(&own[i]);
    qc_tensor_release(&oq[i]);
  }
  free(own);
  free(oq);
  free(out_ref2);
  free(out_err2);
  free(matched);
  iter_free(&it);
  qc_engine_free(ef_own);
  return rc;
}

int qc_evaluate(qc_model *fp32, qc_model *quant, qc_eval_data *d, const qc_eval_opts *o, qc_eval_result *res) {
  qc_engine_opts eo = {.nthreads = o->nthreads};
  eval_pass p = {.fp32 = fp32};
  int rc = qc_engine_create(fp32, &eo, &p.ef);
  if (rc == QC_OK && quant)
    rc = qc_engine_create(quant, &eo, &p.eq);
  if (rc == QC_OK)
    rc = evaluate_pass(&p, d, o, res);
  else
    memset(res, 0, sizeof *res);
  qc_engine_free(p.ef);
  qc_engine_free(p.eq);
  return rc;
}

int qc_eval_reference_open(qc_model *fp32, qc_eval_data *d, const qc_eval_opts *o, size_t max_bytes,
                           qc_eval_reference **out) {
  return qc_eval_reference_spread(fp32, d, o, max_bytes, 0, out);
}

int qc_eval_reference_spread(qc_model *fp32, qc_eval_data *d, const qc_eval_opts *o, size_t max_bytes,
                             int64_t count, qc_eval_reference **out) {
  *out = NULL;
  qc_eval_reference *r = calloc(1, sizeof *r);
  if (!r)
    return qc_fail(QC_ENOMEM, "out of memory");
  *r = (qc_eval_reference){.fp32 = fp32, .d = d, .o = *o, .spread = count, .nout = fp32->graph->n_outputs,
                           .max_bytes = max_bytes};
  qc_eval_result unused;
  qc_engine_opts eo = {.nthreads = o->nthreads};
  eval_pass p = {.fp32 = fp32, .fill = r, .spread = count};
  int rc = qc_engine_create(fp32, &eo, &p.ef);
  if (rc == QC_OK)
    rc = evaluate_pass(&p, d, o, &unused);
  qc_engine_free(p.ef);
  if (rc == QC_OK && !(r->out_ref2 = calloc((size_t)r->nout + 1, sizeof(double))))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  if (rc == QC_OK)
    ref_prefix_sums(r, r->n_kept, NULL, &r->sum_ref2, r->out_ref2);
  if (rc < 0) {
    qc_eval_reference_free(r);
    return rc;
  }
  *out = r;
  return QC_OK;
}

int qc_evaluate_cached(qc_eval_reference *r, qc_model *quant, qc_eval_result *res) {
  /* One trial of many: its engine reuses the heap pages the last one freed. */
  qc_engine_opts eo = {.nthreads = r->o.nthreads, .keep_freed_memory = 1};
  eval_pass p = {.fp32 = r->fp32, .use = r, .spread = r->spread};
  int rc = qc_engine_create(quant, &eo, &p.eq);
  if (rc == QC_OK)
    rc = evaluate_pass(&p, r->d, &r->o, res);
  else
    memset(res, 0, sizeof *res);
  qc_engine_free(p.eq);
  return rc;
}

void qc_refine_result_free(qc_refine_result *r) {
  for (int i = 0; r && i < r->n_changes; i++)
    free(r->changes[i].tensor);
  if (r) {
    free(r->changes);
    memset(r, 0, sizeof *r);
  }
}

void qc_error_entry_free(qc_error_entry *e) {
  if (!e)
    return;
  for (int i = 0; i < e->n_checkpoints; i++)
    free(e->checkpoints[i].tensor);
  for (int i = 0; i < e->n_steps; i++)
    free(e->steps[i].node), free(e->steps[i].tensor);
  free(e->checkpoints);
  free(e->steps);
  qc_layer_errors_free(e->tensors, e->n_tensors);
  memset(e, 0, sizeof *e);
}

size_t qc_eval_reference_bytes(const qc_eval_reference *r) { return r ? r->bytes : 0; }

void qc_eval_reference_free(qc_eval_reference *r) {
  if (!r)
    return;
  for (size_t i = 0; i < (size_t)r->n_kept * (size_t)r->nout; i++)
    qc_tensor_release(&r->outs[i]);
  free(r->outs);
  free(r->out_ref2);
  for (size_t i = 0; i < (size_t)r->n_in_kept * (size_t)r->d->ninputs; i++)
    qc_tensor_release(&r->ins[i]);
  free(r->ins);
  free(r->counts);
  free(r->labels);
  free(r);
}

/* ---- per-layer error ---- */

typedef struct layer_acc {
  int value;
  float scale;
  int32_t zp, qmin, qmax;
  double sig, err;
} layer_acc;

typedef struct layer_ctx {
  layer_acc *acc;
  int *acc_of_value;
} layer_ctx;

static int accumulate_layer(void *user, int node, int value, const qc_tensor *t) {
  (void)node;
  layer_ctx *ctx = user;
  int a = ctx->acc_of_value[value];
  if (a < 0 || t->dtype != QC_DT_FLOAT)
    return QC_OK;
  layer_acc *la = &ctx->acc[a];
  double sig = 0, err = 0;
  for (int64_t i = 0; i < t->numel; i++) {
    float x = qc_f32(t)[i];
    float fq = qc_dequantize_value(qc_quantize_value(x, la->scale, la->zp, la->qmin, la->qmax), la->scale, la->zp);
    sig += (double)x * x;
    err += (double)(x - fq) * (x - fq);
  }
  la->sig += sig;
  la->err += err;
  return QC_OK;
}

static int cmp_layer(const void *x, const void *y) {
  const qc_layer_error *a = x, *b = y;
  if (a->sqnr_db != b->sqnr_db)
    return a->sqnr_db < b->sqnr_db ? -1 : 1;
  return strcmp(a->name, b->name);
}

int qc_layer_errors(qc_model *fp32, const qc_layer_qparams *tensors, int n_tensors, qc_eval_data *d,
                    const qc_eval_opts *o, qc_layer_error **out, int *n_out) {
  *out = NULL;
  *n_out = 0;
  qc_graph *g = fp32->graph;
  layer_ctx ctx = {calloc((size_t)n_tensors + 1, sizeof(layer_acc)), malloc(sizeof(int) * ((size_t)g->n_values + 1))};
  qc_engine_opts eo = {.nthreads = o->nthreads};
  qc_engine *e = NULL;
  batch_iter it;
  int rc = iter_init(&it, d, model_batch(fp32, o->batch), 0);
  qc_tensor *outs = calloc((size_t)g->n_outputs + 1, sizeof *outs);
  if (rc == QC_OK && (!ctx.acc || !ctx.acc_of_value || !outs))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  for (int v = 0; rc == QC_OK && v < g->n_values; v++)
    ctx.acc_of_value[v] = -1;
  for (int i = 0; rc == QC_OK && i < n_tensors; i++) {
    layer_acc *la = &ctx.acc[i];
    la->value = qc_graph_find_value(g, tensors[i].name);
    la->scale = tensors[i].qp.scale;
    la->zp = tensors[i].qp.zero_point;
    la->qmin = tensors[i].qp.qmin;
    la->qmax = tensors[i].qp.qmax;
    if (la->value >= 0)
      ctx.acc_of_value[la->value] = i;
  }
  if (rc == QC_OK)
    rc = qc_engine_create(fp32, &eo, &e);
  int64_t samples = 0;
  while (rc == QC_OK && (rc = iter_next(&it)) == 1) {
    for (int i = 0; i < d->ninputs && rc == 1; i++) {
      int v = g->inputs[i];
      if (ctx.acc_of_value[v] >= 0)
        accumulate_layer(&ctx, -1, v, &it.inputs[i]);
    }
    rc = qc_engine_run(e, it.in_ptrs, outs, accumulate_layer, &ctx);
    for (int i = 0; i < g->n_outputs; i++)
      qc_tensor_release(&outs[i]);
    samples += it.count;
  }
  if (rc == 1 || rc == 0)
    rc = samples > 0 ? QC_OK : no_usable_samples(d);
  qc_layer_error *res = rc == QC_OK ? calloc((size_t)n_tensors + 1, sizeof *res) : NULL;
  if (rc == QC_OK && !res)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  int n = 0;
  for (int i = 0; rc == QC_OK && i < n_tensors; i++) {
    if (ctx.acc[i].value < 0 || ctx.acc[i].sig <= 0)
      continue;
    res[n].name = strdup(tensors[i].name);
    if (!res[n].name) {
      rc = qc_fail(QC_ENOMEM, "out of memory");
      break;
    }
    res[n].sqnr_db = ctx.acc[i].err > 0 ? 10 * log10(ctx.acc[i].sig / ctx.acc[i].err) : 200.0;
    n++;
  }
  if (rc == QC_OK) {
    qsort(res, (size_t)n, sizeof *res, cmp_layer);
    *out = res;
    *n_out = n;
  } else {
    qc_layer_errors_free(res, n);
  }
  free(outs);
  free(ctx.acc);
  free(ctx.acc_of_value);
  iter_free(&it);
  qc_engine_free(e);
  return rc;
}

void qc_layer_errors_free(qc_layer_error *e, int n) {
  for (int i = 0; e && i < n; i++)
    free(e[i].name);
  free(e);
}

/* ---- paired per-tensor error ---- */

typedef struct paired_ctx {
  int *slot_of_fp32, *slot_of_quant; /* value id -> tensor slot, or -1 */
  qc_tensor *kept;                   /* slot -> this sample's FP32 value */
  double *sig, *err;
  size_t bytes, max_bytes;
} paired_ctx;

static int keep_fp32(void *user, int node, int value, const qc_tensor *t) {
  (void)node;
  paired_ctx *c = user;
  int k = c->slot_of_fp32[value];
  if (k < 0 || t->dtype != QC_DT_FLOAT || c->bytes + t->nbytes > c->max_bytes)
    return QC_OK;
  qc_tensor_release(&c->kept[k]);
  QC_TRY(qc_tensor_copy(&c->kept[k], t));
  c->bytes += t->nbytes;
  return QC_OK;
}

static int compare_quant(void *user, int node, int value, const qc_tensor *t) {
  (void)node;
  paired_ctx *c = user;
  int k = c->slot_of_quant[value];
  if (k < 0 || t->dtype != QC_DT_FLOAT || c->kept[k].numel != t->numel || !c->kept[k].data)
    return QC_OK;
  const float *a = qc_f32(&c->kept[k]), *b = qc_f32(t);
  double sig = 0, err = 0;
  for (int64_t i = 0; i < t->numel; i++) {
    sig += (double)a[i] * a[i];
    err += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  }
  c->sig[k] += sig;
  c->err[k] += err;
  return QC_OK;
}

/* The value of quant that stands for FP32 tensor `name`: the output of the
 * DequantizeLinear after a QuantizeLinear of it, else the value of that name. */
static int quant_value_of(const qc_graph *g, const char *name) {
  int v = qc_graph_find_value(g, name);
  if (v < 0)
    return -1;
  for (int i = 0; i < g->values[v].n_consumers; i++) {
    int q = g->values[v].consumers[i];
    if (strcmp(qc_node_op(g, q), "QuantizeLinear") != 0 || g->nodes[q].outputs[0] < 0)
      continue;
    const qc_value *qv = &g->values[g->nodes[q].outputs[0]];
    for (int j = 0; j < qv->n_consumers; j++) {
      int dq = qv->consumers[j];
      if (strcmp(qc_node_op(g, dq), "DequantizeLinear") == 0 && g->nodes[dq].outputs[0] >= 0)
        return g->nodes[dq].outputs[0];
    }
  }
  return v;
}

int qc_paired_errors(qc_model *fp32, qc_model *quant, const char *const *tensors, int n_tensors, qc_eval_data *d,
                     const qc_eval_opts *o, size_t max_bytes, qc_layer_error **out, int *n_out) {
  *out = NULL;
  *n_out = 0;
  const qc_graph *gf = fp32->graph, *gq = quant->graph;
  paired_ctx c = {.slot_of_fp32 = malloc(sizeof(int) * ((size_t)gf->n_values + 1)),
                  .slot_of_quant = malloc(sizeof(int) * ((size_t)gq->n_values + 1)),
                  .kept = calloc((size_t)n_tensors + 1, sizeof(qc_tensor)),
                  .sig = calloc((size_t)n_tensors + 1, sizeof(double)),
                  .err = calloc((size_t)n_tensors + 1, sizeof(double)),
                  .max_bytes = max_bytes};
  qc_engine_opts eo = {.nthreads = o->nthreads};
  qc_engine *ef = NULL, *eq = NULL;
  batch_iter it;
  int rc = iter_init(&it, d, 1, 0);
  qc_tensor *of = calloc((size_t)gf->n_outputs + 1, sizeof *of), *oq = calloc((size_t)gq->n_outputs + 1, sizeof *oq);
  if (rc == QC_OK && (!c.slot_of_fp32 || !c.slot_of_quant || !c.kept || !c.sig || !c.err || !of || !oq))
    rc = qc_fail(QC_ENOMEM, "out of memory");
  for (int v = 0; rc == QC_OK && v < gf->n_values; v++)
    c.slot_of_fp32[v] = -1;
  for (int v = 0; rc == QC_OK && v < gq->n_values; v++)
    c.slot_of_quant[v] = -1;
  for (int k = 0; rc == QC_OK && k < n_tensors; k++) {
    int vf = qc_graph_find_value(gf, tensors[k]), vq = quant_value_of(gq, tensors[k]);
    if (vf >= 0 && vq >= 0)
      c.slot_of_fp32[vf] = k, c.slot_of_quant[vq] = k;
  }
  if (rc == QC_OK)
    rc = qc_engine_create(fp32, &eo, &ef);
  if (rc == QC_OK)
    rc = qc_engine_create(quant, &eo, &eq);
  int64_t samples = 0;
  while (rc == QC_OK && (rc = iter_next(&it)) == 1) {
    c.bytes = 0;
    for (int k = 0; k < n_tensors; k++)
      qc_tensor_release(&c.kept[k]);
    rc = qc_engine_run(ef, it.in_ptrs, of, keep_fp32, &c);
    if (rc == QC_OK)
      rc = qc_engine_run(eq, it.in_ptrs, oq, compare_quant, &c);
    samples += it.count;
  }
  if (rc == 1 || rc == 0)
    rc = samples > 0 ? QC_OK : no_usable_samples(d);
  qc_layer_error *res = rc == QC_OK ? calloc((size_t)n_tensors + 1, sizeof *res) : NULL;
  if (rc == QC_OK && !res)
    rc = qc_fail(QC_ENOMEM, "out of memory");
  int n = 0;
  for (int k = 0; rc == QC_OK && k < n_tensors; k++) {
    if (c.sig[k] <= 0)
      continue;
    if (!(res[n].name = strdup(tensors[k]))) {
      rc = qc_fail(QC_ENOMEM, "out of memory");
      break;
    }
    res[n].sqnr_db = c.err[k] > 0 ? 10 * log10(c.sig[k] / c.err[k]) : 200.0;
    n++;
  }
  if (rc == QC_OK) {
    qsort(res, (size_t)n, sizeof *res, cmp_layer);
    *out = res;
    *n_out = n;
  } else {
    qc_layer_errors_free(res, n);
  }
  for (int k = 0; c.kept && k < n_tensors; k++)
    qc_tensor_release(&c.kept[k]);
  for (int i = 0; of && i < gf->n_outputs; i++)
    qc_tensor_release(&of[i]);
  for (int i = 0; oq && i < gq->n_outputs; i++)
    qc_tensor_release(&oq[i]);
  free(of), free(oq);
  free(c.slot_of_fp32), free(c.slot_of_quant), free(c.kept), free(c.sig), free(c.err);
  iter_free(&it);
  qc_engine_free(ef);
  qc_engine_free(eq);
  return rc;
}
