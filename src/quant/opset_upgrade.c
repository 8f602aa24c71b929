/* Opset upgrade: rewrites default-domain nodes whose schema changed meaning
 * between the model's opset and the target (<= 13), then sets the import.
 * Each rule fires when the model's opset is below the version that changed
 * the op; rules check every boundary they cover with crosses(). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/status.h"
#include "../ir/attr.h"
#include "../ir/attr.h"
#include "../ir/pass_util.h"
#include "onnx.pb-c.h"
#include "opset_upgrade.h"

typedef struct up {
  qc_graph *g;
  int from, target;
} up;

static int crosses(const up *u, int v) { return u->from < v && v <= u->target; }

/* "cannot raise opset 9 → 13: Foo node 'x' <why>; re-export the model at opset 13" */
static int refuse(const up *u, int node, const char *fmt, ...) QC_PRINTF(3, 4);
static int refuse(const up *u, int node, const char *fmt, ...) {
  char label[256], why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return qc_fail(QC_EUNSUPPORTED, "cannot raise opset %d → %d: %s %s; re-export the model at opset %d", u->from,
                 u->target, qc_node_label(u->g, node, label, sizeof label), why, u->target);
}

static int has_attr(const qc_graph *g, int node, const char *name) {
  qc_attrs a = qc_node_attrs(g, node);
  return qc_attr_has(&a, name);
}

/* A typed attribute read (ir/attr.h) failed: the accessor named the attribute, this names the node. */
static int attr_error(const up *u, int node, int rc) {
  char label[256];
  return qc_fail_context(rc, "%s", qc_node_label(u->g, node, label, sizeof label));
}
#define ATTR_TRY(u, node, read)              \
  do {                                       \
    int rc_ = (read);                        \
    if (rc_ < 0)                             \
      return attr_error((u), (node), rc_);   \
  } while (0)

/* Removes the attribute if present; returns 1 if it was there. */
static int drop_attr(qc_graph *g, int node, const char *name) {
  Onnx__NodeProto *np = g->nodes[node].proto;
  for (size_t i = 0; i < np->n_attribute; i++)
    if (np->attribute[i]->name && strcmp(np->attribute[i]->name, name) == 0) {
      onnx__attribute_proto__free_unpacked(np->attribute[i], NULL);
      memmove(&np->attribute[i], &np->attribute[i + 1], sizeof *np->attribute * (np->n_attribute - i - 1));
      np->n_attribute--;
      return 1;
    }
  return 0;
}

static int value_used(const qc_graph *g, int v) {
  return v >= 0 && (g->values[v].n_consumers || (g->values[v].flags & QC_VALUE_GRAPH_OUTPUT));
}

/* A fresh value name derived from the node (its name, else its first output). */
static void fresh_name(const qc_graph *g, int node, const char *suffix, char *buf, size_t n) {
  const char *base = qc_node_name(g, node);
  if (!*base && g->nodes[node].noutputs > 0 && g->nodes[node].outputs[0] >= 0)
    base = g->values[g->nodes[node].outputs[0]].name;
  char want[512];
  snprintf(want, sizeof want, "%s_%s", base, suffix);
  qc_graph_unique_name(g, want, buf, n);
}

/* Input `slot` of node := a new initializer holding t. */
static int const_input(up *u, int node, int slot, const char *suffix, const qc_tensor *t) {
  char name[600];
  fresh_name(u->g, node, suffix, name, sizeof name);
  QC_TRY(qc_graph_put_initializer(u->g, name, t));
  return qc_node_set_input(u->g, node, slot, name);
}

static int ints_input(up *u, int node, int slot, const char *suffix, const int64_t *v, size_t n) {
  qc_tensor t = {0};
  int64_t d = (int64_t)n;
  QC_TRY(qc_tensor_alloc(&t, QC_DT_INT64, 1, &d));
  if (n)
    memcpy(t.data, v, sizeof(int64_t) * n);
  int rc = const_input(u, node, slot, suffix, &t);
  qc_tensor_release(&t);
  return rc;
}

/* A scalar of dtype dt (the float types the pre-11 Clip/Pad allowed). */
static int scalar_input(up *u, int node, int slot, const char *suffix, qc_dtype dt, float v) {
  qc_tensor t = {0};
  if (dt == QC_DT_UNDEFINED)
    dt = QC_DT_FLOAT;
  if (dt != QC_DT_FLOAT && dt != QC_DT_DOUBLE && dt != QC_DT_FLOAT16)
    return refuse(u, node, "has a %s input, which its old form did not allow", qc_dtype_name(dt));
  int64_t none = 0; /* rank 0: dims unused */
  QC_TRY(qc_tensor_alloc(&t, dt, 0, &none));
  if (dt == QC_DT_FLOAT)
    *qc_f32(&t) = v;
  else if (dt == QC_DT_DOUBLE)
    *(double *)t.data = v;
  else
    *(uint16_t *)t.data = qc_float_to_half(v);
  int rc = const_input(u, node, slot, suffix, &t);
  qc_tensor_release(&t);
  return rc;
}

/* Moves INTS attribute `name` to input `slot` (int64 1-D). Returns 1 if present. */
static int ints_attr_to_input(up *u, int node, const char *name, int slot) {
  qc_attrs a = qc_node_attrs(u->g, node);
  const int64_t *v;
  size_t n;
  if (!qc_attr_has(&a, name))
    return 0;
  ATTR_TRY(u, node, qc_attr_ints(&a, name, &v, &n));
  QC_TRY(ints_input(u, node, slot, name, v, n));
  drop_attr(u->g, node, name);
  return 1;
}

static qc_dtype input_dtype(const up *u, int node) {
  int x = u->g->nodes[node].ninputs > 0 ? u->g->nodes[node].inputs[0] : -1;
  return x >= 0 ? u->g->values[x].dtype : QC_DT_UNDEFINED;
}

/* Output 0 of node moves to a fresh value; a new node `op` (inputs: that
 * value, then extra) takes over the old output name right after node. */
static int append_after(up *u, int node, const char *op, const char *suffix, const char *const *extra, int nextra,
                        int *added) {
  qc_graph *g = u->g;
  char mid[600], out[600], nname[600];
  const char *ins[4];
  snprintf(out, sizeof out, "%s", g->values[g->nodes[node].outputs[0]].name);
  fresh_name(g, node, suffix, mid, sizeof mid);
  snprintf(nname, sizeof nname, "%s", mid);
  QC_TRY(qc_node_set_output(g, node, 0, mid));
  ins[0] = mid;
  for (int i = 0; i < nextra && i < 3; i++)
    ins[i + 1] = extra[i];
  int before = -1;
  for (int k = 0; k + 1 < g->n_order; k++)
    if (g->order[k] == node) {
      before = g->order[k + 1];
      break;
    }
  const char *outs[1] = {out};
  return qc_graph_add_node(g, op, nname, ins, nextra + 1, outs, 1, before, added);
}

/* ---- rules; each returns 1 if it rewrote the node, 0 if not, < 0 on error ---- */

static int r_clip(up *u, int node) {
  if (!crosses(u, 11))
    return 0;
  qc_dtype dt = input_dtype(u, node);
  qc_attrs a = qc_node_attrs(u->g, node);
  int mn = qc_attr_has(&a, "min"), mx = qc_attr_has(&a, "max");
  float lo, hi;
  ATTR_TRY(u, node, qc_attr_float(&a, "min", 0, &lo));
  ATTR_TRY(u, node, qc_attr_float(&a, "max", 0, &hi));
  if (mn)
    QC_TRY(scalar_input(u, node, 1, "min", dt, lo));
  if (mx)
    QC_TRY(scalar_input(u, node, 2, "max", dt, hi));
  drop_attr(u->g, node, "min");
  drop_attr(u->g, node, "max");
  return mn || mx;
}

static int r_slice(up *u, int node) {
  if (!crosses(u, 10))
    return 0;
  if (!has_attr(u->g, node, "starts") || !has_attr(u->g, node, "ends"))
    return refuse(u, node, "lacks the starts/ends attributes its opset %d form requires", u->from);
  QC_TRY(ints_attr_to_input(u, node, "starts", 1));
  QC_TRY(ints_attr_to_input(u, node, "ends", 2));
  QC_TRY(ints_attr_to_input(u, node, "axes", 3));
  return 1;
}

static int r_pad(up *u, int node) {
  if (!crosses(u, 11))
    return 0;
  const char *pads = crosses(u, 2) && has_attr(u->g, node, "paddings") ? "paddings" : "pads";
  if (!has_attr(u->g, node, pads))
    return refuse(u, node, "lacks the pads attribute its opset %d form requires", u->from);
  QC_TRY(ints_attr_to_input(u, node, pads, 1));
  qc_attrs a = qc_node_attrs(u->g, node);
  char mode[32];
  float value;
  ATTR_TRY(u, node, qc_attr_string(&a, "mode", "constant", mode, sizeof mode));
  ATTR_TRY(u, node, qc_attr_float(&a, "value", 0.0f, &value));
  if (strcmp(mode, "constant") == 0)
    QC_TRY(scalar_input(u, node, 2, "value", input_dtype(u, node), value));
  drop_attr(u->g, node, "value");
  return 1;
}

/* Squeeze, Unsqueeze, ReduceSum: axes; Split: split (all -> input 1 at 13). */
static int r_axes13(up *u, int node) {
  if (!crosses(u, 13))
    return 0;
  int is_split = strcmp(qc_node_op(u->g, node), "Split") == 0;
  if (is_split && crosses(u, 2) && u->g->nodes[node].ninputs > 1)
    return refuse(u, node, "takes 'split' as an input, which opset 2 removed");
  int rc = ints_attr_to_input(u, node, is_split ? "split" : "axes", 1);
  return rc;
}

static int r_topk(up *u, int node) {
  if (!crosses(u, 10))
    return 0;
  qc_attrs a = qc_node_attrs(u->g, node);
  int64_t kv;
  if (!qc_attr_has(&a, "k"))
    return refuse(u, node, "lacks the k attribute its opset %d form requires", u->from);
  ATTR_TRY(u, node, qc_attr_int(&a, "k", 0, &kv));
  QC_TRY(ints_input(u, node, 1, "k", &kv, 1));
  drop_attr(u->g, node, "k");
  return 1;
}

/* Pre-13 Softmax/LogSoftmax/Hardmax coerce the input to 2-D at `axis` and
 * normalise over all trailing dims; 13 normalises over one axis. */
static int r_softmax(up *u, int node) {
  if (!crosses(u, 13))
    return 0;
  qc_graph *g = u->g;
  qc_attrs a = qc_node_attrs(g, node);
  int64_t axis;
  ATTR_TRY(u, node, qc_attr_int(&a, "axis", 1, &axis));
  int x = g->nodes[node].inputs[0];
  const qc_value *xv = &g->values[x];
  if (xv->ndim >= 0) {
    int64_t r = xv->ndim, ax = axis < 0 ? axis + r : axis;
    int trailing_ones = ax >= 0 && ax < r;
    for (int64_t d = ax + 1; d < r && trailing_ones; d++)
      trailing_ones = xv->dims[d] == 1;
    if (trailing_ones) {
      QC_TRY(qc_node_set_attr_int(g, node, "axis", ax == r - 1 ? -1 : ax));
      return 1;
    }
  }
  /* Exact in general: Flatten(axis) -> op(axis=1) -> Reshape(Shape(x)). */
  char xname[600], shp[600], flat[600];
  const char *ins[1], *outs[1];
  snprintf(xname, sizeof xname, "%s", xv->name);
  fresh_name(g, node, "shape", shp, sizeof shp);
  ins[0] = xname, outs[0] = shp;
  QC_TRY(qc_graph_add_node(g, "Shape", shp, ins, 1, outs, 1, node, NULL));
  fresh_name(g, node, "flat", flat, sizeof flat);
  outs[0] = flat;
  int fl;
  QC_TRY(qc_graph_add_node(g, "Flatten", flat, ins, 1, outs, 1, node, &fl));
  QC_TRY(qc_node_set_attr_int(g, fl, "axis", axis));
  QC_TRY(qc_node_set_input(g, node, 0, flat));
  QC_TRY(qc_node_set_attr_int(g, node, "axis", 1));
  const char *extra[1] = {shp};
  QC_TRY(append_after(u, node, "Reshape", "2d", extra, 1, NULL));
  return 1;
}

/* Scales of an Upsample / Resize-10 node: attribute(s) or a constant input. */
static int const_scales(up *u, int node, qc_tensor *s) {
  qc_graph *g = u->g;
  qc_attrs at = qc_node_attrs(g, node);
  int has_scales = qc_attr_has(&at, "scales"), has_hw = qc_attr_has(&at, "height_scale") && qc_attr_has(&at, "width_scale");
  if (has_scales || has_hw) {
    const float *scales = NULL;
    size_t n_scales = 0;
    float h, w;
    ATTR_TRY(u, node, qc_attr_floats(&at, "scales", &scales, &n_scales));
    ATTR_TRY(u, node, qc_attr_float(&at, "height_scale", 1.0f, &h));
    ATTR_TRY(u, node, qc_attr_float(&at, "width_scale", 1.0f, &w));
    int64_t n = has_scales ? (int64_t)n_scales : 4;
    QC_TRY(qc_tensor_alloc(s, QC_DT_FLOAT, 1, &n));
    float *d = qc_f32(s);
    if (has_scales)
      memcpy(d, scales, sizeof(float) * (size_t)n);
    else
      d[0] = d[1] = 1.0f, d[2] = h, d[3] = w; /* Upsample-1 was NCHW only */
    return QC_OK;
  }
  int v = g->nodes[node].ninputs > 1 ? g->nodes[node].inputs[1] : -1;
  qc_tensor t = {0};
  if (qc_value_is_const_init(g, v)) {
    const qc_tensor *view;
    QC_TRY(qc_graph_initializer_view(g, v, &view));
    qc_tensor_wrap(&t, view->dtype, view->ndim, view->dims, view->data);
  } else if (v >= 0 && g->values[v].producer >= 0 && strcmp(qc_node_op(g, g->values[v].producer), "Constant") == 0) {
    qc_attrs a = qc_node_attrs(g, g->values[v].producer);
    QC_TRY(qc_attr_tensor(&a, "value", &t));
  } else {
    return refuse(u, node, "has non-constant scales, which its opset 13 replacement (Resize) cannot reproduce");
  }
  int rc = QC_OK;
  if (t.dtype != QC_DT_FLOAT || t.ndim != 1)
    rc = refuse(u, node, "has scales that are not a 1-D float tensor");
  if (rc == QC_OK)
    rc = qc_tensor_copy(s, &t);
  qc_tensor_release(&t);
  return rc;
}

/* Upsample (deprecated at 10) and Resize-10 -> Resize-13 with the same
 * sampling: asymmetric coordinates; nearest rounds like onnxruntime's
 * pre-11 mode (floor when upsampling, ceil when downsampling). */
static int r_upsample(up *u, int node) {
  int is_resize = strcmp(qc_node_op(u->g, node), "Resize") == 0;
  if (is_resize ? !crosses(u, 11) : u->target < 10)
    return 0;
  qc_graph *g = u->g;
  char mode[32];
  qc_attrs a = qc_node_attrs(g, node);
  ATTR_TRY(u, node, qc_attr_string(&a, "mode", "nearest", mode, sizeof mode));
  if (strcasecmp(mode, "bilinear") == 0 || strcasecmp(mode, "linear") == 0)
    strcpy(mode, "linear");
  else if (strcasecmp(mode, "nearest") == 0)
    strcpy(mode, "nearest");
  else
    return refuse(u, node, "has mode '%s', which has no opset 13 Resize equivalent", mode);
  qc_tensor s = {0};
  QC_TRY(const_scales(u, node, &s));
  int up_ = 0, down = 0;
  for (int64_t i = 0; i < s.numel; i++)
    up_ |= qc_f32(&s)[i] > 1.0f, down |= qc_f32(&s)[i] < 1.0f;
  int rc = QC_OK;
  if (up_ && down && strcmp(mode, "nearest") == 0)
    rc = refuse(u, node, "both up- and downsamples in nearest mode, which rounds per axis before opset 11");
  if (rc == QC_OK)
    rc = const_input(u, node, 2, "scales", &s);
  qc_tensor_release(&s);
  QC_TRY(rc);
  QC_TRY(qc_node_set_input(g, node, 1, ""));
  drop_attr(g, node, "scales");
  drop_attr(g, node, "height_scale");
  drop_attr(g, node, "width_scale");
  QC_TRY(qc_node_set_op(g, node, "Resize"));
  QC_TRY(qc_node_set_attr_string(g, node, "mode", mode));
  QC_TRY(qc_node_set_attr_string(g, node, "coordinate_transformation_mode", "asymmetric"));
  if (strcmp(mode, "nearest") == 0)
    QC_TRY(qc_node_set_attr_string(g, node, "nearest_mode", down ? "ceil" : "floor"));
  return 1;
}

static int r_resize(up *u, int node) {
  if (u->from < 11)
    return r_upsample(u, node);
  qc_attrs a = qc_node_attrs(u->g, node);
  char ctm[32];
  ATTR_TRY(u, node, qc_attr_string(&a, "coordinate_transformation_mode", "", ctm, sizeof ctm));
  if (crosses(u, 13) && strcmp(ctm, "tf_half_pixel_for_nn") == 0)
    return refuse(u, node, "uses coordinate_transformation_mode tf_half_pixel_for_nn, which opset 13 removed");
  return 0;
}

static int r_dropout(up *u, int node) {
  const qc_node *n = &u->g->nodes[node];
  if (crosses(u, 10) && n->noutputs > 1 && value_used(u->g, n->outputs[1]))
    return refuse(u, node, "uses its mask output, whose type changed at opset 10");
  int changed = 0;
  if (crosses(u, 12)) /* ratio only matters in training */
    changed |= drop_attr(u->g, node, "ratio");
  if (crosses(u, 7))
    changed |= drop_attr(u->g, node, "is_test");
  return changed;
}

static int r_batchnorm(up *u, int node) {
  qc_attrs a = qc_node_attrs(u->g, node);
  int64_t spatial;
  ATTR_TRY(u, node, qc_attr_int(&a, "spatial", 1, &spatial));
  if (crosses(u, 9) && spatial != 1)
    return refuse(u, node, "has spatial=%lld, which opset 9 removed", (long long)spatial);
  const qc_node *n = &u->g->nodes[node];
  for (int i = 1; crosses(u, 7) && i < n->noutputs; i++)
    if (value_used(u->g, n->outputs[i]))
      return refuse(u, node, "uses its training outputs, whose meaning changed at opset 7");
  int changed = 0;
  if (crosses(u, 9))
    changed |= drop_attr(u->g, node, "spatial");
  if (crosses(u, 7))
    changed |= drop_attr(u->g, node, "is_test");
  return changed;
}

/* Opset < 7 elementwise ops broadcast B only with broadcast=1, aligned at
 * `axis` of A; numpy-style broadcasting (7+) aligns at the end. */
static int r_broadcast(up *u, int node) {
  if (!crosses(u, 7))
    return 0;
  qc_graph *g = u->g;
  qc_attrs at = qc_node_attrs(g, node);
  int64_t on, axis;
  int has_axis = qc_attr_has(&at, "axis");
  ATTR_TRY(u, node, qc_attr_int(&at, "broadcast", 0, &on));
  ATTR_TRY(u, node, qc_attr_int(&at, "axis", 0, &axis));
  int changed = drop_attr(g, node, "broadcast") | drop_attr(g, node, "axis");
  if (!on || !has_axis || strcmp(qc_node_op(g, node), "Gemm") == 0)
    return changed;
  const qc_node *n = &g->nodes[node];
  if (n->ninputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0)
    return changed;
  int a = n->inputs[0], b = n->inputs[1];
  int ra = g->values[a].ndim, rb = g->values[b].ndim;
  if (ra < 0 || rb < 0)
    return refuse(u, node, "broadcasts at axis %lld with input ranks unknown, and opset 7 changed broadcasting",
                  (long long)axis);
  int64_t trailing = ra - (axis < 0 ? axis + ra : axis) - rb;
  if (trailing < 0 || rb + trailing > QC_MAX_DIMS)
    return refuse(u, node, "has a broadcast axis %lld that does not fit its inputs", (long long)axis);
  if (trailing == 0)
    return 1;
  int64_t axes[QC_MAX_DIMS];
  for (int64_t i = 0; i < trailing; i++)
    axes[i] = rb + i;
  if (qc_value_is_const_init(g, b)) { /* reshape the constant: [dims..., 1...] */
    const qc_tensor *view;
    QC_TRY(qc_graph_initializer_view(g, b, &view));
    qc_tensor t = {0}; /* the same bytes under the new shape */
    qc_tensor_wrap(&t, view->dtype, view->ndim, view->dims, view->data);
    int64_t dims[QC_MAX_DIMS];
    memcpy(dims, t.dims, sizeof(int64_t) * (size_t)t.ndim);
    for (int64_t i = 0; i < trailing; i++)
      dims[t.ndim + i] = 1;
    int rc = qc_tensor_set_shape(&t, t.ndim + (int)trailing, dims);
    if (rc == QC_OK)
      rc = const_input(u, node, 1, "bcast", &t);
    qc_tensor_release(&t);
    return rc < 0 ? rc : 1;
  }
  char bname[600], out[600], uname[600];
  snprintf(bname, sizeof bname, "%s", g->values[b].name);
  fresh_name(g, node, "bcast", out, sizeof out);
  fresh_name(g, node, "bcast_axes", uname, sizeof uname);
  qc_tensor t = {0};
  int64_t d = trailing;
  QC_TRY(qc_tensor_alloc(&t, QC_DT_INT64, 1, &d));
  memcpy(t.data, axes, sizeof(int64_t) * (size_t)trailing);
  int rc = qc_graph_put_initializer(g, uname, &t);
  qc_tensor_release(&t);
  QC_TRY(rc);
  const char *ins[2] = {bname, uname}, *outs[1] = {out};
  QC_TRY(qc_graph_add_node(g, "Unsqueeze", out, ins, 2, outs, 1, node, NULL));
  QC_TRY(qc_node_set_input(g, node, 1, out));
  return 1;
}

static int r_concat(up *u, int node) {
  if (!crosses(u, 4) || has_attr(u->g, node, "axis"))
    return 0;
  QC_TRY(qc_node_set_attr_int(u->g, node, "axis", 1)); /* the opset 1 default */
  return 1;
}

static int r_reshape(up *u, int node) {
  if (!crosses(u, 5))
    return 0;
  if (u->g->nodes[node].ninputs < 2 && !has_attr(u->g, node, "shape"))
    return refuse(u, node, "has no shape");
  return ints_attr_to_input(u, node, "shape", 1);
}

static int r_cast(up *u, int node) {
  static const char *const names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16",
                                      "INT32", "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE",
                                      "UINT32", "UINT64", "COMPLEX64", "COMPLEX128"};
  qc_attrs a = qc_node_attrs(u->g, node);
  if (!crosses(u, 6) || qc_attr_type(&a, "to") != QC_ATTR_STRING) /* opset 6 made 'to' an int */
    return 0;
  char s[32];
  ATTR_TRY(u, node, qc_attr_string(&a, "to", "", s, sizeof s));
  for (int i = 1; i < (int)(sizeof names / sizeof names[0]); i++)
    if (strcasecmp(s, names[i]) == 0) {
      QC_TRY(qc_node_set_attr_int(u->g, node, "to", i));
      return 1;
    }
  return refuse(u, node, "casts to '%s', which has no opset 6 type number", s);
}

static int r_selu(up *u, int node) { /* opset 6 changed the default constants */
  if (!crosses(u, 6))
    return 0;
  int changed = 0;
  if (!has_attr(u->g, node, "alpha") && ++changed)
    QC_TRY(qc_node_set_attr_float(u->g, node, "alpha", 1.6732f));
  if (!has_attr(u->g, node, "gamma") && ++changed)
    QC_TRY(qc_node_set_attr_float(u->g, node, "gamma", 1.0507f));
  return changed > 0;
}

static int r_lppool(up *u, int node) { /* opset 2 made p an int */
  qc_attrs a = qc_node_attrs(u->g, node);
  float p;
  if (!crosses(u, 2) || qc_attr_type(&a, "p") != QC_ATTR_FLOAT)
    return 0;
  ATTR_TRY(u, node, qc_attr_float(&a, "p", 2.0f, &p));
  if (p != (float)(int64_t)p)
    return refuse(u, node, "has a non-integer p, which opset 2 made an int");
  QC_TRY(qc_node_set_attr_int(u->g, node, "p", (int64_t)p));
  return 1;
}

static int r_rnn(up *u, int node) { return crosses(u, 7) && drop_attr(u->g, node, "output_sequence"); }

static int r_scatter(up *u, int node) { /* deprecated at 11; ScatterElements means the same */
  if (!crosses(u, 11))
    return 0;
  QC_TRY(qc_node_set_op(u->g, node, "ScatterElements"));
  return 1;
}

/* Experimental op dropped from ONNX: y = scale * x + bias[c] (NCHW). */
static int r_imagescaler(up *u, int node) {
  qc_graph *g = u->g;
  qc_attrs a = qc_node_attrs(g, node);
  float scale;
  const float *bias;
  size_t n_bias;
  ATTR_TRY(u, node, qc_attr_float(&a, "scale", 1.0f, &scale));
  ATTR_TRY(u, node, qc_attr_floats(&a, "bias", &bias, &n_bias));
  QC_TRY(scalar_input(u, node, 1, "scale", QC_DT_FLOAT, scale));
  QC_TRY(qc_node_set_op(g, node, "Mul"));
  if (n_bias) {
    qc_tensor t = {0};
    int64_t dims[4] = {1, (int64_t)n_bias, 1, 1};
    QC_TRY(qc_tensor_alloc(&t, QC_DT_FLOAT, 4, dims));
    memcpy(t.data, bias, sizeof(float) * n_bias);
    char name[600];
    fresh_name(g, node, "bias", name, sizeof name);
    int rc = qc_graph_put_initializer(g, name, &t);
    qc_tensor_release(&t);
    QC_TRY(rc);
    const char *extra[1] = {name};
    QC_TRY(append_after(u, node, "Add", "scaled", extra, 1, NULL));
  }
  drop_attr(g, node, "scale");
  drop_attr(g, node, "bias");
  return 1;
}

static int r_changed(up *u, int node, int version) {
  return refuse(u, node, "changed meaning at opset %d", version);
}
static int r_tile(up *u, int node) { return r_changed(u, node, 6); }
static int r_scan(up *u, int node) { return r_changed(u, node, 9); }
static int r_mvn(up *u, int node) { return r_changed(u, node, 9); }
static int r_removed(up *u, int node) {
  return refuse(u, node, "is an experimental op that ONNX no longer defines");
}

typedef int (*rule_fn)(up *u, int node);
/* since: the first opset at which the op changed; the rule runs when from < since. */
static const struct {
  const char *op;
  int since;
  rule_fn fn;
} k_rules[] = {
    {"Clip", 11, r_clip},          {"Slice", 10, r_slice},           {"Pad", 11, r_pad},
    {"Squeeze", 13, r_axes13},     {"Unsqueeze", 13, r_axes13},      {"Split", 13, r_axes13},
    {"ReduceSum", 13, r_axes13},   {"TopK", 10, r_topk},             {"Softmax", 13, r_softmax},
    {"LogSoftmax", 13, r_softmax}, {"Hardmax", 13, r_softmax},       {"Upsample", 100, r_upsample},
    {"Resize", 13, r_resize},      {"Dropout", 12, r_dropout},       {"BatchNormalization", 9, r_batchnorm},
    {"Add", 7, r_broadcast},       {"Sub", 7, r_broadcast},          {"Mul", 7, r_broadcast},
    {"Div", 7, r_broadcast},       {"Pow", 7, r_broadcast},          {"And", 7, r_broadcast},
    {"Or", 7, r_broadcast},        {"Xor", 7, r_broadcast},          {"Equal", 7, r_broadcast},
    {"Greater", 7, r_broadcast},   {"Less", 7, r_broadcast},         {"Gemm", 7, r_broadcast},
    {"Concat", 4, r_concat},       {"Reshape", 5, r_reshape},        {"Cast", 6, r_cast},
    {"Selu", 6, r_selu},           {"LpPool", 2, r_lppool},          {"GlobalLpPool", 2, r_lppool},
    {"GRU", 7, r_rnn},             {"LSTM", 7, r_rnn},               {"RNN", 7, r_rnn},
    {"Scatter", 11, r_scatter},    {"Tile", 6, r_tile},              {"Scan", 9, r_scan},
    {"MeanVarianceNormalization", 9, r_mvn}, {"ImageScaler", 100, r_imagescaler},
    {"Affine", 100, r_removed},    {"ConstantFill", 100, r_removed}, {"Crop", 100, r_removed},
    {"DynamicSlice", 100, r_removed}, {"GivenTensorFill", 100, r_removed}, {"GRUUnit", 100, r_removed},
    {"ParametricSoftplus", 100, r_removed}, {"Scale", 100, r_removed}, {"ScaledTanh", 100, r_removed},
};

static int rule_for(const char *op, int from) {
  for (int i = 0; i < (int)(sizeof k_rules / sizeof k_rules[0]); i++)
    if (strcmp(op, k_rules[i].op) == 0)
      return from < k_rules[i].since ? i : -1;
  return -1;
}

/* Subgraph bodies are not in the IR: refuse if one holds a node we would rewrite. */
static int check_subgraph(const up *u, int node, const Onnx__GraphProto *sg) {
  for (size_t i = 0; sg && i < sg->n_node; i++) {
    const Onnx__NodeProto *np = sg->node[i];
    if (qc_domain_is_default(np->domain) && np->op_type && rule_for(np->op_type, u->from) >= 0)
      return refuse(u, node, "has a subgraph with a %s node, which opsets up to %d changed", np->op_type, u->target);
    for (size_t a = 0; a < np->n_attribute; a++) {
      QC_TRY(check_subgraph(u, node, np->attribute[a]->g));
      for (size_t k = 0; k < np->attribute[a]->n_graphs; k++)
        QC_TRY(check_subgraph(u, node, np->attribute[a]->graphs[k]));
    }
  }
  return QC_OK;
}

int qc_pass_upgrade_opset(qc_model *m, int target, int *nodes_rewritten) {
  *nodes_rewritten = 0;
  if (m->opset >= target)
    return QC_OK;
  if (target > 13)
    return qc_fail(QC_EUNSUPPORTED, "cannot raise opset %d → %d: only targets up to 13 are known", m->opset, target);
  up u = {.g = m->graph, .from = m->opset, .target = target};
  qc_graph *g = u.g;
  /* Rules add nodes: walk a snapshot of the original order. */
  int n, *order;
  QC_TRY(qc_graph_order_snapshot(g, &order, &n));
  int rc = QC_OK;
  for (int k = 0; k < n && rc == QC_OK; k++) {
    int id = order[k];
    const Onnx__NodeProto *np = g->nodes[id].proto;
    if (!qc_domain_is_default(np->domain))
      continue;
    for (size_t a = 0; a < np->n_attribute && rc == QC_OK; a++) {
      rc = check_subgraph(&u, id, np->attribute[a]->g);
      for (size_t s = 0; s < np->attribute[a]->n_graphs && rc == QC_OK; s++)
        rc = check_subgraph(&u, id, np->attribute[a]->graphs[s]);
    }
    if (rc < 0)
      break;
    int changed = crosses(&u, 6) && drop_attr(g, id, "consumed_inputs"); /* legacy, no meaning */
    int r = rule_for(np->op_type, u.from);
    if (r >= 0) {
      rc = k_rules[r].fn(&u, id);
      changed |= rc > 0;
    }
    if (rc >= 0) {
      rc = QC_OK;
      *nodes_rewritten += changed;
    }
  }
  free(order);
  QC_TRY(rc);
  QC_TRY(qc_graph_sync(g));
  return qc_model_set_opset(m, target);
}
