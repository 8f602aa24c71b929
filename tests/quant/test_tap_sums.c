/* Bias correction's layer means from per-tap input sums (src/quant/tap_sums.c)
 * against the layers themselves: for Conv (grouped, strided, dilated,
 * asymmetric pads, 1-D and depthwise), ConvTranspose (grouped, strided,
 * output_padding, SAME_UPPER), Gemm (transA, transB, alpha, beta, a row bias)
 * and MatMul (3-D input), the registered kernel runs on two random batches
 * with a non-zero mean, and the mean of each output channel over both is
 * computed here in double; qc_tap_sums_mean must give it. The quantized sums
 * must give the mean of the layer run on its input through Q -> DQ. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "quant/tap_sums.h"
#include "qc_test.h"
#include "onnx.pb-c.h"

static uint64_t rng_state = 777;
static double uniform(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static void fill(qc_tensor *t, int ndim, const int64_t *dims, double mean) {
  qc_tensor_alloc(t, QC_DT_FLOAT, ndim, dims);
  for (int64_t i = 0; i < t->numel; i++)
    qc_f32(t)[i] = (float)(mean + 2.0 * uniform() - 1.0);
}

typedef struct attr_set {
  Onnx__AttributeProto a[8];
  Onnx__AttributeProto *ptr[8];
  int64_t ints[8][6];
  int n;
} attr_set;

static void add_ints(attr_set *s, const char *name, int n, const int64_t *v) {
  Onnx__AttributeProto *a = &s->a[s->n];
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  memcpy(s->ints[s->n], v, sizeof(int64_t) * (size_t)n);
  a->ints = s->ints[s->n];
  a->n_ints = (size_t)n;
  s->ptr[s->n] = a;
  s->n++;
}
static void add_int(attr_set *s, const char *name, int64_t v) {
  Onnx__AttributeProto *a = &s->a[s->n];
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  a->i = v;
  a->has_i = 1;
  s->ptr[s->n] = a;
  s->n++;
}
static void add_float(attr_set *s, const char *name, float v) {
  Onnx__AttributeProto *a = &s->a[s->n];
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  a->f = v;
  a->has_f = 1;
  s->ptr[s->n] = a;
  s->n++;
}
static void add_string(attr_set *s, const char *name, const char *v) {
  Onnx__AttributeProto *a = &s->a[s->n];
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  a->s.data = (uint8_t *)v;
  a->s.len = strlen(v);
  a->has_s = 1;
  s->ptr[s->n] = a;
  s->n++;
}

/* The layer's output by its registered kernel. */
static int run_layer(const char *op, const qc_attrs *attrs, qc_tensor *x, qc_tensor *w, qc_tensor *b, qc_tensor *y) {
  const qc_op *o = qc_op_find(op, 13);
  if (!o)
    return qc_fail(QC_EUNSUPPORTED, "no kernel for %s", op);
  qc_tensor *ins[3] = {x, w, b}, *outs[1] = {y};
  qc_kernel k = {.op = o, .op_type = op, .node_name = "", .opset = 13, .attrs = *attrs, .ninputs = b ? 3 : 2,
                 .inputs = ins, .noutputs = 1, .outputs = outs};
  int rc = o->init ? o->init(&k) : QC_OK;
  if (rc == QC_OK)
    rc = o->shape(&k);
  if (rc == QC_OK && o->run)
    rc = o->run(&k);
  free(k.priv);
  return rc;
}

static void fake_quant(const qc_tensor *x, const qc_qparams *qp, qc_tensor *out) {
  qc_tensor_alloc(out, QC_DT_FLOAT, x->ndim, x->dims);
  for (int64_t i = 0; i < x->numel; i++)
    qc_f32(out)[i] = qc_dequantize_value(
        qc_quantize_value(qc_f32(x)[i], qp->scale, qp->zero_point, qp->qmin, qp->qmax), qp->scale, qp->zero_point);
}

/* Adds y's per-channel sums (channel axis `axis`) into sum; returns positions per channel. */
static double channel_sums(const qc_tensor *y, int axis, double *sum) {
  int64_t c_n = y->dims[axis], inner = 1;
  for (int d = axis + 1; d < y->ndim; d++)
    inner *= y->dims[d];
  int64_t outer = y->numel / (c_n * inner);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < c_n; c++)
      for (int64_t i = 0; i < inner; i++)
        sum[c] += qc_f32(y)[(o * c_n + c) * inner + i];
  return (double)(outer * inner);
}

/* One layer: two batches x1, x2 (shapes xd1, xd2), weight and bias; the means from
 * the sums against the kernel's outputs, FP32 and through Q -> DQ. */
static void check_layer(const char *label, const char *op, attr_set *as, int xndim, const int64_t *xd1,
                        const int64_t *xd2, int wndim, const int64_t *wd, int bndim, const int64_t *bd, int axis) {
  qc_attrs attrs = {.list = as->ptr, .n = (size_t)as->n};
  qc_tensor x[2] = {{0}}, w = {0}, b = {0};
  fill(&x[0], xndim, xd1, 0.4);
  fill(&x[1], xndim, xd2, 0.4);
  fill(&w, wndim, wd, 0.05);
  if (bndim)
    fill(&b, bndim, bd, 0.1);
  qc_qparams qp = {.scale = 0.05f, .zero_point = 100, .qmin = 0, .qmax = 255}; /* clips the top of x */
  qc_tap_sums t;
  CHECK_OK(qc_tap_sums_init(&t, op, &attrs, &w));
  double ref[2][64] = {{0}}, pos[2] = {0};
  for (int s = 0; s < 2; s++) {
    CHECK_OK(qc_tap_sums_add(&t, &x[s], &qp));
    for (int q = 0; q < 2; q++) {
      qc_tensor xq = {0}, y = {0};
      if (q)
        fake_quant(&x[s], &qp, &xq);
      int rc = run_layer(op, &attrs, q ? &xq : &x[s], &w, bndim ? &b : NULL, &y);
      CHECK(rc == QC_OK, "%s: %s", label, qc_last_error());
      if (y.ndim > axis && y.dims[axis] <= 64)
        pos[q] += channel_sums(&y, axis, ref[q]);
      qc_tensor_release(&xq);
      qc_tensor_release(&y);
    }
  }
  for (int q = 0; q < 2; q++) {
    double mean[64];
    int64_t m_n = 0;
    int rc = qc_tap_sums_mean(&t, q, &w, bndim ? &b : NULL, mean, &m_n);
    CHECK(rc == QC_OK, "%s: %s", label, qc_last_error());
    CHECK(m_n > 0 && m_n <= 64, "%s: %lld channels", label, (long long)m_n);
    CHECK(pos[q] == t.positions, "%s: positions %g, the layer's %g", label, t.positions, pos[q]);
    double worst = 0;
    for (int64_t c = 0; c < m_n && c < 64; c++)
      worst = fmax(worst, fabs(mean[c] - ref[q][c] / pos[q]) / (1e-3 + fabs(ref[q][c] / pos[q])));
    CHECK(worst < 1e-5, "%s (%s): worst relative error %.3g", label, q ? "quantized" : "fp32", worst);
  }
  qc_tap_sums_free(&t);
  qc_tensor_release(&x[0]);
  qc_tensor_release(&x[1]);
  qc_tensor_release(&w);
  qc_tensor_release(&b);
}

int main(void) {
  {
    attr_set a = {0};
    add_ints(&a, "strides", 2, (int64_t[]){2, 1});
    add_ints(&a, "dilations", 2, (int64_t[]){1, 2});
    add_ints(&a, "pads", 4, (int64_t[]){1, 0, 2, 1});
    add_int(&a, "group", 2);
    check_layer("conv grouped strided dilated", "Conv", &a, 4, (int64_t[]){2, 4, 9, 8}, (int64_t[]){1, 4, 7, 11}, 4,
                (int64_t[]){6, 2, 3, 2}, 1, (int64_t[]){6}, 1);
  }
  {
    attr_set a = {0};
    add_ints(&a, "strides", 2, (int64_t[]){2, 2});
    add_ints(&a, "pads", 4, (int64_t[]){1, 1, 1, 1});
    add_int(&a, "group", 3);
    check_layer("conv depthwise", "Conv", &a, 4, (int64_t[]){1, 3, 10, 9}, (int64_t[]){1, 3, 10, 9}, 4,
                (int64_t[]){3, 1, 3, 3}, 1, (int64_t[]){3}, 1);
  }
  {
    attr_set a = {0};
    add_string(&a, "auto_pad", "SAME_UPPER");
    check_layer("conv 1-D SAME_UPPER, no bias", "Conv", &a, 3, (int64_t[]){2, 3, 13}, (int64_t[]){1, 3, 6}, 3,
                (int64_t[]){5, 3, 4}, 0, NULL, 1);
  }
  {
    attr_set a = {0};
    add_ints(&a, "strides", 2, (int64_t[]){2, 2});
    add_ints(&a, "pads", 4, (int64_t[]){1, 0, 1, 1});
    add_ints(&a, "output_padding", 2, (int64_t[]){1, 1});
    add_int(&a, "group", 2);
    check_layer("convtranspose grouped strided", "ConvTranspose", &a, 4, (int64_t[]){1, 4, 5, 6},
                (int64_t[]){2, 4, 3, 3}, 4, (int64_t[]){4, 3, 3, 3}, 1, (int64_t[]){6}, 1);
  }
  {
    attr_set a = {0};
    add_ints(&a, "strides", 2, (int64_t[]){2, 2});
    add_string(&a, "auto_pad", "SAME_UPPER");
    check_layer("convtranspose SAME_UPPER", "ConvTranspose", &a, 4, (int64_t[]){1, 3, 4, 5}, (int64_t[]){1, 3, 4, 5},
                4, (int64_t[]){3, 2, 3, 3}, 0, NULL, 1);
  }
  {
    attr_set a = {0};
    add_int(&a, "transA", 1);
    add_int(&a, "transB", 1);
    add_float(&a, "alpha", 0.5f);
    add_float(&a, "beta", 2.0f);
    check_layer("gemm transA transB alpha beta", "Gemm", &a, 2, (int64_t[]){7, 5}, (int64_t[]){7, 3}, 2,
                (int64_t[]){4, 7}, 1, (int64_t[]){4}, 1);
  }
  {
    attr_set a = {0};
    check_layer("gemm row bias", "Gemm", &a, 2, (int64_t[]){3, 6}, (int64_t[]){3, 6}, 2, (int64_t[]){6, 4}, 2,
                (int64_t[]){1, 4}, 1);
  }
  {
    attr_set a = {0};
    check_layer("matmul 3-D", "MatMul", &a, 3, (int64_t[]){2, 3, 5}, (int64_t[]){1, 4, 5}, 2, (int64_t[]){5, 4}, 0,
                NULL, 2);
  }
  return qc_test_finish("tap_sums");
}
