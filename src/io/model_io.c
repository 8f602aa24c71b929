#define _POSIX_C_SOURCE 200809L
#include "model_io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../core/readfile.h"
#include "../core/status.h"
#include "onnx.pb-c.h"
#include "tensor_proto.h"

/* protobuf's hard limit for a single message is 2 GiB. */
#define QC_MAX_MODEL_BYTES ((size_t)2 << 30)

int qc_domain_is_default(const char *d) { return !d || !*d || strcmp(d, "ai.onnx") == 0; }

int qc_model_opset(const qc_model *m, const char *domain) {
  const Onnx__ModelProto *p = m->proto;
  for (size_t i = 0; i < p->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = p->opset_import[i];
    int match = qc_domain_is_default(domain) ? qc_domain_is_default(o->domain)
                                          : (o->domain && strcmp(o->domain, domain) == 0);
    if (match && o->has_version)
      return (int)o->version;
  }
  return 0;
}

int qc_model_set_opset(qc_model *m, int version) {
  Onnx__ModelProto *p = m->proto;
  for (size_t i = 0; i < p->n_opset_import; i++) {
    Onnx__OperatorSetIdProto *o = p->opset_import[i];
    if (qc_domain_is_default(o->domain)) {
      o->has_version = 1;
      o->version = version;
      m->opset = version;
      return QC_OK;
    }
  }
  Onnx__OperatorSetIdProto *o = malloc(sizeof *o);
  Onnx__OperatorSetIdProto **arr = realloc(p->opset_import, sizeof *arr * (p->n_opset_import + 1));
  if (!o || !arr) {
    free(o);
    if (arr)
      p->opset_import = arr;
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  onnx__operator_set_id_proto__init(o);
  o->domain = strdup("");
  o->has_version = 1;
  o->version = version;
  arr[p->n_opset_import++] = o;
  p->opset_import = arr;
  m->opset = version;
  return o->domain ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
}

int qc_model_uses_external_data(const qc_model *m) {
  const Onnx__GraphProto *g = m->proto->graph;
  for (size_t i = 0; g && i < g->n_initializer; i++)
    if (qc_tensor_proto_is_external(g->initializer[i]))
      return 1;
  return 0;
}

/* protobuf-c unpacks nested messages recursively, so a crafted model with
 * thousands of subgraphs inside subgraphs (If in If in ...) overflows the
 * stack. Before unpacking, walk the wire format iteratively, following the
 * message-typed fields of the schema, and refuse nesting deeper than this
 * (protobuf's own default recursion limit; a graph level costs 3). */
#define QC_MAX_PROTO_DEPTH 100

static int wire_varint(const unsigned char *buf, size_t end, size_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
    unsigned char b = buf[(*pos)++];
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 1;
    }
  }
  return 0;
}

/* QC_ELIMIT if nesting is too deep. Malformed wire data is left to the
 * unpacker to report, so this returns QC_OK for it. */
static int check_proto_depth(const unsigned char *buf, size_t len, const char *path) {
  const ProtobufCMessageDescriptor *desc[QC_MAX_PROTO_DEPTH];
  size_t end[QC_MAX_PROTO_DEPTH];
  int depth = 0;
  size_t pos = 0;
  desc[0] = &onnx__model_proto__descriptor;
  end[0] = len;
  while (depth >= 0) {
    if (pos >= end[depth]) {
      if (pos > end[depth])
        return QC_OK;
      depth--;
      continue;
    }
    uint64_t tag, v;
    if (!wire_varint(buf, end[depth], &pos, &tag))
      return QC_OK;
    switch (tag & 7) {
    case 0:
      if (!wire_varint(buf, end[depth], &pos, &v))
        return QC_OK;
      break;
    case 1:
    case 5: {
      size_t n = (tag & 7) == 1 ? 8 : 4;
      if (end[depth] - pos < n)
        return QC_OK;
      pos += n;
      break;
    }
    case 2: {
      if (!wire_varint(buf, end[depth], &pos, &v) || v > end[depth] - pos)
        return QC_OK;
      const ProtobufCFieldDescriptor *f =
          (tag >> 3) <= 0x1fffffff ? protobuf_c_message_descriptor_get_field(desc[depth], (unsigned)(tag >> 3)) : NULL;
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (depth + 1 >= QC_MAX_PROTO_DEPTH)
          return qc_fail(QC_ELIMIT, "%s: messages nested more than %d deep (subgraphs inside subgraphs); refusing to load",
                         path, QC_MAX_PROTO_DEPTH);
        depth++;
        desc[depth] = f->descriptor;
        end[depth] = pos + (size_t)v;
      } else {
        pos += (size_t)v;
      }
      break;
    }
    default: /* groups are not used by ONNX; protobuf-c rejects them */
      return QC_OK;
    }
  }
  return QC_OK;
}

int qc_model_proto_load_buffer(const unsigned char *buf, size_t len, const char *path, const char *dir,
                               qc_model **out) {
  *out = NULL;
  if (len == 0)
    return qc_fail(QC_EINVAL, "%s: empty file, not an ONNX model", path);
  QC_TRY(check_proto_depth(buf, len, path));
  Onnx__ModelProto *proto = onnx__model_proto__unpack(NULL, len, buf);
  if (!proto)
    return qc_fail(QC_EINVAL, "%s: not an ONNX model (protobuf parse failed: truncated or corrupt file)", path);
  if (!proto->graph || !proto->has_ir_version) {
    int no_graph = !proto->graph;
    onnx__model_proto__free_unpacked(proto, NULL);
    return qc_fail(QC_EINVAL, "%s: not an ONNX model (no %s)", path, no_graph ? "graph" : "ir_version");
  }
  qc_model *m = calloc(1, sizeof *m);
  if (!m) {
    onnx__model_proto__free_unpacked(proto, NULL);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  m->proto = proto;
  m->file_bytes = len;
  m->path = strdup(path);
  m->dir = strdup(dir);
  if (!m->path || !m->dir) {
    qc_model_proto_free(m);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  m->opset = qc_model_opset(m, "");
  *out = m;
  return QC_OK;
}

int qc_model_proto_load(const char *path, qc_model **out) {
  *out = NULL;
  uint8_t *buf;
  size_t len;
  QC_TRY(qc_read_file(path, QC_MAX_MODEL_BYTES, &buf, &len));
  char *dir = malloc(strlen(path) + 2);
  if (!dir) {
    free(buf);
    return qc_fail(QC_ENOMEM, "out of memory");
  }
  qc_dirname(path, dir, strlen(path) + 2);
  int rc = qc_model_proto_load_buffer(buf, len, path, dir, out);
  free(buf);
  free(dir);
  return rc;
}

void qc_model_proto_free(qc_model *m) {
  if (!m)
    return;
  if (m->proto)
    onnx__model_proto__free_unpacked(m->proto, NULL);
  free(m->path);
  free(m->dir);
  free(m);
}

/* Replaces external references with raw_data in place. */
static int inline_external(qc_model *m) {
  Onnx__GraphProto *g = m->proto->graph;
  for (size_t i = 0; i < g->n_initializer; i++) {
    Onnx__TensorProto *tp = g->initializer[i];
    if (!qc_tensor_proto_is_external(tp))
      continue;
    qc_tensor t;
    QC_TRY(qc_tensor_from_proto(tp, m->dir, &t));
    qc_tensor_proto_take_raw(tp, t.data, t.nbytes);
    t.owns_data = 0;
    qc_tensor_release(&t);
  }
  return QC_OK;
}

int qc_model_proto_pack(qc_model *m, unsigned flags, unsigned char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  if (flags & QC_SAVE_INLINE_EXTERNAL)
    QC_TRY(inline_external(m));
  size_t n = onnx__model_proto__get_packed_size(m->proto);
  if (n > QC_MAX_MODEL_BYTES)
    return qc_fail(QC_ELIMIT, "model would be %zu bytes, above protobuf's 2 GiB limit", n);
  unsigned char *b = malloc(n ? n : 1);
  if (!b)
    return qc_fail(QC_ENOMEM, "out of memory serializing %zu bytes", n);
  onnx__model_proto__pack(m->proto, b);
  *buf = b;
  *len = n;
  return QC_OK;
}
