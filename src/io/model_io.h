/* Loading and saving ONNX models.
 *
 * The unpacked ModelProto is the single owner of all model data; the IR
 * (src/ir/graph.h) indexes it and rewrites it in place with malloc'd parts,
 * so anything a pass did not touch is written back exactly as read. */
#ifndef QC_MODEL_IO_H
#define QC_MODEL_IO_H

#include <stddef.h>

struct Onnx__ModelProto;
struct qc_graph;

typedef struct qc_model {
  struct Onnx__ModelProto *proto;
  char *path;      /* as given */
  char *dir;       /* directory of the model file (external data root) */
  size_t file_bytes;
  int opset;       /* default-domain ("" / "ai.onnx") opset, 0 if absent */
  struct qc_graph *graph;
} qc_model;

/* Reads and unpacks the model, builds the IR. Errors: missing/unreadable
 * file (QC_EIO), empty / not protobuf / not a model (QC_EINVAL). */
int qc_model_load(const char *path, qc_model **out);
void qc_model_free(qc_model *m);
/* Builds a model from serialized bytes; path names it in messages and dir
 * resolves external data. */
int qc_model_load_buffer(const unsigned char *buf, size_t len, const char *path, const char *dir, qc_model **out);

enum {
  QC_SAVE_INLINE_EXTERNAL = 1, /* copy external tensor bytes into raw_data */
};
/* Serializes the model (after syncing the IR) to path atomically. */
int qc_model_save(qc_model *m, const char *path, unsigned flags);
/* Serialized bytes (after syncing the IR); caller frees. */
int qc_model_pack(qc_model *m, unsigned flags, unsigned char **buf, size_t *len);

/* Opset of a domain ("" and "ai.onnx" are the default domain); 0 if not imported. */
int qc_model_opset(const qc_model *m, const char *domain);
/* Sets the default-domain opset import (adds it if missing). */
int qc_model_set_opset(qc_model *m, int version);
/* Whether any initializer (or Constant attribute) keeps its bytes externally. */
int qc_model_uses_external_data(const qc_model *m);

#endif
