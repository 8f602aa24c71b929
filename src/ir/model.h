/* A model with its graph IR: loading builds the IR over the unpacked proto
 * (src/io/model_io.h), freeing drops both, serializing syncs the IR into the
 * proto first. */
#ifndef QC_MODEL_H
#define QC_MODEL_H

#include "../io/model_io.h"

/* Reads and unpacks the model, builds the IR. Errors: missing/unreadable
 * file (QC_EIO), empty / not protobuf / not a model (QC_EINVAL). */
int qc_model_load(const char *path, qc_model **out);
/* Builds a model from serialized bytes; path names it in messages and dir
 * resolves external data. */
int qc_model_load_buffer(const unsigned char *buf, size_t len, const char *path, const char *dir, qc_model **out);
void qc_model_free(qc_model *m);

/* Serializes the model (after syncing the IR) to path atomically. */
int qc_model_save(qc_model *m, const char *path, unsigned flags);
/* Serialized bytes (after syncing the IR); caller frees. */
int qc_model_pack(qc_model *m, unsigned flags, unsigned char **buf, size_t *len);

#endif
