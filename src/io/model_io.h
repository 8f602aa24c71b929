/* Reading and writing ONNX model protos.
 *
 * The unpacked ModelProto is the single owner of all model data; the IR
 * (src/ir/graph.h) indexes it and rewrites it in place with malloc'd parts,
 * so anything a pass did not touch is written back exactly as read. This
 * layer knows nothing of the IR: a model with its graph is loaded, freed and
 * serialized by src/ir/model.h, which builds on the functions here. */
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

/* Reads and unpacks the model file; m->graph stays NULL. Errors: missing or
 * unreadable file (QC_EIO), empty / not protobuf / not a model (QC_EINVAL). */
int qc_model_proto_load(const char *path, qc_model **out);
/* The same from serialized bytes; path names it in messages and dir
 * resolves external data. */
int qc_model_proto_load_buffer(const unsigned char *buf, size_t len, const char *path, const char *dir,
                               qc_model **out);
/* Frees the proto and the model (its graph must be freed already). */
void qc_model_proto_free(qc_model *m);

enum {
  QC_SAVE_INLINE_EXTERNAL = 1, /* copy external tensor bytes into raw_data */
};
/* Serialized bytes of the proto as it stands (the IR synced into it first);
 * caller frees. */
int qc_model_proto_pack(qc_model *m, unsigned flags, unsigned char **buf, size_t *len);

/* Whether a node's or opset import's domain is the default ONNX domain: NULL, "" or "ai.onnx". */
int qc_domain_is_default(const char *domain);
/* Opset of a domain (qc_domain_is_default: the default domain); 0 if not imported. */
int qc_model_opset(const qc_model *m, const char *domain);
/* Sets the default-domain opset import (adds it if missing). */
int qc_model_set_opset(qc_model *m, int version);
/* Whether any initializer (or Constant attribute) keeps its bytes externally. */
int qc_model_uses_external_data(const qc_model *m);

#endif
