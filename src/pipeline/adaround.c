/* --rounding adaround: learns the int8 rounding of the weights from the
 * calibration samples (src/quant/adaround.c) before the quantize passes, and
 * reports what it cost. See job_internal.h and docs/quantization.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/status.h"
#include "job_internal.h"

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int job_adaround(job_state *s) {
  const qc_job_options *o = s->o;
  if (o->rounding != QC_ROUNDING_ADAROUND)
    return QC_OK;
  if (!s->src) /* refused by qc_job_options_check already */
    return qc_fail(QC_EUSAGE, "--rounding adaround needs --calib samples");
  qc_adaround_opts ao;
  qc_adaround_opts_default(&ao);
  ao.per_tensor = o->per_tensor;
  ao.exclude = o->exclude;
  ao.n_exclude = o->n_exclude;
  ao.op_types = o->n_op_types ? o->op_types : NULL;
  ao.n_op_types = o->n_op_types;
  ao.nthreads = job_threads(o);
  qc_adaround_stats st;
  double t0 = now_seconds();
  if (o->progress)
    fprintf(stderr, "--rounding adaround: learning the weight rounding...\n");
  QC_TRY(qc_adaround(s->m, s->src, &ao, &s->rounding, &st));
  double seconds = now_seconds() - t0;
  s->q.rounding = &s->rounding;
  char note[512];
  int off = snprintf(note, sizeof note,
                     "adaround: %d layer%s, %d sample%s, %.1f s, reconstruction error %+.1f %% vs nearest (mean "
                     "over layers)",
                     st.layers, st.layers == 1 ? "" : "s", st.samples, st.samples == 1 ? "" : "s", seconds,
                     100.0 * (st.err_ratio - 1.0));
  if (st.skipped)
    snprintf(note + off, sizeof note - (size_t)off, "; %d weighted node%s round to nearest (ConvTranspose, "
             "shared or batched weights, inputs that do not fit, Gram matrix over 512 MB)", st.skipped, st.skipped == 1 ? "" : "s");
  free(s->rounding_note);
  s->rounding_note = strdup(note);
  return s->rounding_note ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
}

int job_adaround_note(job_state *s) {
  if (!s->rounding_note)
    return QC_OK;
  return qc_quant_summary_note(&s->summary, s->rounding_note);
}
