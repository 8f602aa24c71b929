/* The jobs behind `qconvert MODEL --calib DIR`, `qconvert compare` and
 * `qconvert eval`, for the command line and the public API alike: each takes
 * a qc_job_options and fills a qc_job_result that the caller prints from.
 *
 * Every destination is checked and reserved before any work and all of them
 * are written together once the job succeeded (docs/security.md); a failed
 * job leaves no output and an empty result. Progress and preprocessing notes
 * go to stderr unless options.quiet; the result is never printed here. */
#ifndef QC_JOB_H
#define QC_JOB_H

#include "../report/report.h"
#include "options.h"

typedef struct qc_job_result {
  /* quantize, compare: everything the summary and the reports show (compare:
   * report.compare holds one entry per observer, the best one marked).
   * eval: the models (output_path is the quantized one, or ""), their sizes
   * and report.eval. */
  qc_quant_report report;
  struct job_state *state; /* owns what report points at */
} qc_job_result;

/* The main job: load -> check -> prepare -> calibrate (or load statistics)
 * -> quantize -> FP32 fallback (min_sqnr) -> write -> evaluate -> report. */
int qc_job_quantize(const qc_job_options *o, qc_job_result *res);
/* One calibration pass, then one quantized model per observer, each
 * evaluated against FP32; the best one is written when options.output is set. */
int qc_job_compare(const qc_job_options *o, qc_job_result *res);
/* The FP32 model's accuracy, or FP32 vs options.model2, on options.eval_dir. */
int qc_job_evaluate(const qc_job_options *o, qc_job_result *res);
void qc_job_result_free(qc_job_result *res);

#endif
