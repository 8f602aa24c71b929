/* Calibration samples: which files feed which model input, and loading them.
 *
 *   --calib DIR        DIR is walked recursively in sorted order (strcmp on
 *                      relative paths; hidden files and dirs skipped). With
 *                      several inputs each input reads DIR/<input_name>/...,
 *                      and sample i takes the i-th file of every subdir.
 *   --calib LIST.txt   one sample per line (paths relative to the list's dir;
 *                      blank lines and #comments ignored); with several inputs
 *                      a line holds one path per input separated by tabs.
 * Files: .png (decoded + preprocessed), .npy, .pb (TensorProto). Others are
 * counted and reported in one warning line. See docs/preprocessing.md. */
#ifndef QC_SOURCE_H
#define QC_SOURCE_H

#include <stdint.h>
#include <stdio.h>

#include "core/tensor.h"
#include "preprocess.h"

/* Returned (positive) by qc_calib_source_load when the sample is unusable (a
 * corrupt PNG): a warning naming the file was written; skip the sample. */
#define QC_CALIB_SKIPPED 1

typedef struct qc_source_opts {
  const char *path;    /* DIR or LIST.txt */
  int64_t count;       /* calib_count: 0 = all; else N evenly spaced samples */
  const qc_preprocess_opts *preprocess; /* per input (ninputs entries); NULL = defaults */
  FILE *warn;          /* warnings; NULL = stderr */
  int quiet;           /* suppress warnings */
  const char *purpose; /* "calibration" (NULL) or "evaluation": the word used in messages */
} qc_source_opts;

typedef struct qc_calib_source qc_calib_source;

/* Lists the samples, picks calib_count of them (index floor(i*total/N)),
 * resolves preprocessing for inputs that receive images, and checks PNG
 * headers and .npy headers of the picked files. PNGs with a bad header are
 * dropped with a warning; none left is QC_EUSAGE "no usable calibration
 * samples in PATH". A missing path, mismatched per-input counts or a .npy whose
 * shape does not fit the input are QC_EUSAGE/QC_EINVAL naming the file. */
int qc_calib_source_open(const qc_source_opts *opts, const qc_input_spec *inputs, int ninputs,
                         qc_calib_source **out);
void qc_calib_source_close(qc_calib_source *src);

int64_t qc_calib_source_count(const qc_calib_source *src);
/* Path of input `input`'s file for sample `index` (for messages). */
const char *qc_calib_source_path(const qc_calib_source *src, int64_t index, int input);
/* The effective preprocessing of an input, one line (or "" when the input
 * only received tensors). */
const char *qc_calib_source_describe(const qc_calib_source *src, int input, char *buf, size_t n);

/* Loads sample `index` into per_input_out[0..ninputs-1]: owned tensors with
 * the input's dtype and a batch dim of 1 (4-D image inputs: 1xCxHxW /
 * 1xHxWxC; tensor files without the batch dim get one added). Tensors in
 * another numeric dtype are converted to the input's. Thread-safe for
 * distinct indices. Returns QC_OK, QC_CALIB_SKIPPED (corrupt PNG; outputs
 * empty) or a negative error. A sample once skipped is skipped again without
 * a second warning (evaluation reads the same source several times). */
int qc_calib_source_load(qc_calib_source *src, int64_t index, qc_tensor *per_input_out);

/* Call after all loads: QC_EUSAGE "no usable calibration samples in PATH" if
 * every load was skipped; QC_OK otherwise. */
int qc_calib_source_finish(const qc_calib_source *src);
/* Samples skipped so far by load (corrupt PNGs). */
int64_t qc_calib_source_skipped(const qc_calib_source *src);

/* Stacks count samples (samples[b * ninputs + i]: input i of sample b, batch
 * dim 1) into one tensor per input with batch dim count. */
int qc_stack_samples(const qc_tensor *samples, int count, int ninputs, qc_tensor *inputs);

#endif
