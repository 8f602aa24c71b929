/* The bias correction step of the main job (src/quant/bias_correction.h):
 * after the quantize passes, and on the --min-sqnr fallback's final model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"
#include "../quant/bias_correction.h"
#include "job_internal.h"

int job_bias_correct(job_state *s, qc_model *quant) {
  const qc_job_options *o = s->o;
  if (o->no_bias_correction)
    return QC_OK;
  if (!s->src) /* --load-stats: no samples to measure on */
    return qc_quant_summary_note(&s->summary, "bias correction: skipped, no calibration samples (--load-stats); "
                                 "give --calib DIR to correct biases");
  if (quant != s->m)
    return qc_fail(QC_EINTERNAL, "bias correction: not the job's model");
  if (!s->fp32)
    QC_TRY(qc_model_load_buffer(s->base, s->base_len, o->model, s->m->dir, &s->fp32));
  qc_bias_correction_opts bo = {.nthreads = job_threads(o)};
  qc_bias_correction_result r;
  QC_TRY(qc_bias_correct(s->fp32, quant, s->src, &bo, &r));
  if (!r.corrected && !r.skipped)
    return QC_OK; /* no quantized weighted layer */
  char note[1024];
  int off = snprintf(note, sizeof note,
                     "bias correction: %d layer%s corrected (%d bias%s added) over %d sample%s, each on its FP32 "
                     "input; largest |delta| %.4g on %s",
                     r.corrected, r.corrected == 1 ? "" : "s", r.added, r.added == 1 ? "" : "es", r.samples,
                     r.samples == 1 ? "" : "s", r.max_delta, r.max_node[0] ? r.max_node : "no layer");
  if (r.skipped && off < (int)sizeof note)
    snprintf(note + off, sizeof note - (size_t)off, "; %d left alone (no bias to correct, e.g. %s)", r.skipped,
             r.first_skipped);
  return qc_quant_summary_note(&s->summary, note);
}
