/* QuantizeLinear / DequantizeLinear against hand-computed values:
 * round-half-to-even, saturation, per-tensor and per-axis parameters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "ops/op.h"
#include "qc_test.h"

/* dims argument for rank-0 allocations (memcpy must not get NULL, even for 0 bytes) */
static const int64_t no_dims[1] = {0};

/* Allocates t with the given type and shape and copies its numel values from vals. */
static void tensor_init(qc_tensor *t, qc_dtype dtype, int ndim, const int64_t *dims, const void *vals) {
  CHECK_OK(qc_tensor_alloc(t, dtype, ndim, dims));
  if (t->data)
    memcpy(t->data, vals, (size_t)t->numel * qc_dtype_size(dtype));
}

/* Runs op (registry lookup at opset) with up to 3 inputs and one INT attribute. */
static int run_op(const char *op_type, int opset, qc_tensor **inputs, int ninputs, const char *attr_name,
                  int64_t attr_value, qc_tensor *out) {
  const qc_op *op = qc_op_find(op_type, opset);
  if (!op) {
    fprintf(stderr, "%s not registered\n", op_type);
    return QC_EINTERNAL;
  }
  Onnx__AttributeProto attr;
  onnx__attribute_proto__init(&attr);
  attr.name = (char *)attr_name;
  attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  attr.i = attr_value;
  Onnx__AttributeProto *attrs[1] = {&attr};
  qc_tensor *outputs[1] = {out};
  qc_kernel k = {0};
  k.op = op;
  k.op_type = op_type;
  k.node_name = "test";
  k.opset = opset;
  k.attrs = (qc_attrs){.list = attrs, .n = attr_name ? 1 : 0};
  k.ninputs = ninputs;
  k.inputs = inputs;
  k.noutputs = 1;
  k.outputs = outputs;
  int rc = QC_OK;
  if (op->init)
    rc = op->init(&k);
  if (rc == QC_OK)
    rc = op->shape(&k);
  if (rc == QC_OK && op->run)
    rc = op->run(&k);
  return rc;
}

static void test_vector_int8(int opset) {
  const float xv[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 200.0f, -200.0f};
  const int8_t want[8] = {0, 2, 2, 0, -2, -2, 127, -128};
  int64_t d8 = 8;
  qc_tensor x = {0}, s = {0}, z = {0}, y = {0};
  tensor_init(&x, QC_DT_FLOAT, 1, &d8, xv);
  tensor_init(&s, QC_DT_FLOAT, 0, no_dims, &(float){1.0f});
  tensor_init(&z, QC_DT_INT8, 0, no_dims, &(int8_t){0});
  qc_tensor *in[3] = {&x, &s, &z};
  int rc = run_op("QuantizeLinear", opset, in, 3, NULL, 0, &y);
  CHECK(rc == QC_OK, "opset %d quantize failed: %s", opset, qc_last_error());
  if (rc == QC_OK) {
    CHECK(y.dtype == QC_DT_INT8 && y.numel == 8, "opset %d: bad output type/shape", opset);
    for (int i = 0; i < 8; i++)
      CHECK(qc_s8(&y)[i] == want[i], "opset %d: y[%d] = %d, want %d", opset, i, qc_s8(&y)[i], want[i]);
  }
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
  qc_tensor_release(&y);
}

static void test_missing_zero_point_is_uint8(void) {
  const float xv[4] = {-1.0f, 0.4f, 127.5f, 300.0f};
  const uint8_t want[4] = {0, 0, 128, 255};
  int64_t d4 = 4;
  qc_tensor x = {0}, s = {0}, y = {0};
  tensor_init(&x, QC_DT_FLOAT, 1, &d4, xv);
  tensor_init(&s, QC_DT_FLOAT, 0, no_dims, &(float){1.0f});
  qc_tensor *in[2] = {&x, &s};
  int rc = run_op("QuantizeLinear", 13, in, 2, NULL, 0, &y);
  CHECK(rc == QC_OK && y.dtype == QC_DT_UINT8, "uint8 default failed: %s", qc_last_error());
  if (rc == QC_OK)
    for (int i = 0; i < 4; i++)
      CHECK(qc_u8(&y)[i] == want[i], "uint8 y[%d] = %d, want %d", i, qc_u8(&y)[i], want[i]);
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&y);
}

/* x is [2, 3, 2], quantized along axis 1 (also given as -2) with 3 scales/zero points. */
static void test_per_axis(int64_t axis) {
  const float xv[12] = {1.5f, -3.2f, 2.25f, -1.0f, 7.0f, -300.0f, 0.5f, 127.6f, 100.0f, 0.75f, -4.9f, 3.0f};
  const float sv[3] = {1.0f, 0.5f, 2.0f};
  const int8_t zv[3] = {0, 10, -5};
  const int8_t want_q[12] = {2, -3, 14, 8, -1, -128, 0, 127, 127, 12, -7, -3};
  const float want_dq[12] = {2, -3, 2, -1, 8, -246, 0, 127, 58.5f, 1, -4, 4};
  int64_t xd[3] = {2, 3, 2}, d3 = 3;
  qc_tensor x = {0}, s = {0}, z = {0}, y = {0}, back = {0};
  tensor_init(&x, QC_DT_FLOAT, 3, xd, xv);
  tensor_init(&s, QC_DT_FLOAT, 1, &d3, sv);
  tensor_init(&z, QC_DT_INT8, 1, &d3, zv);
  qc_tensor *in[3] = {&x, &s, &z};
  int rc = run_op("QuantizeLinear", 13, in, 3, "axis", axis, &y);
  CHECK(rc == QC_OK, "per-axis quantize (axis %lld) failed: %s", (long long)axis, qc_last_error());
  if (rc == QC_OK)
    for (int i = 0; i < 12; i++)
      CHECK(qc_s8(&y)[i] == want_q[i], "axis %lld: q[%d] = %d, want %d", (long long)axis, i, qc_s8(&y)[i], want_q[i]);
  qc_tensor *din[3] = {&y, &s, &z};
  rc = run_op("DequantizeLinear", 13, din, 3, "axis", axis, &back);
  CHECK(rc == QC_OK, "per-axis dequantize failed: %s", qc_last_error());
  if (rc == QC_OK)
    for (int i = 0; i < 12; i++)
      CHECK(qc_f32(&back)[i] == want_dq[i], "axis %lld: dq[%d] = %g, want %g", (long long)axis, i,
            (double)qc_f32(&back)[i], (double)want_dq[i]);
  /* Wrong axis: dimension 0 has 2 entries, scale has 3. */
  qc_tensor bad = {0};
  rc = run_op("QuantizeLinear", 13, in, 3, "axis", 0, &bad);
  CHECK(rc == QC_EINVAL, "mismatched per-axis scale accepted (rc %d)", rc);
  /* Blocked quantization is rejected with a clear status. */
  rc = run_op("QuantizeLinear", 21, in, 3, "block_size", 2, &bad);
  CHECK(rc == QC_EUNSUPPORTED, "block_size accepted (rc %d)", rc);
  qc_tensor_release(&bad);
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
  qc_tensor_release(&y);
  qc_tensor_release(&back);
}

static void test_dequantize_int32(void) {
  const int32_t xv[3] = {-1000000, 0, 123456};
  int64_t d3 = 3;
  qc_tensor x = {0}, s = {0}, y = {0};
  tensor_init(&x, QC_DT_INT32, 1, &d3, xv);
  tensor_init(&s, QC_DT_FLOAT, 0, no_dims, &(float){0.25f});
  qc_tensor *in[2] = {&x, &s};
  int rc = run_op("DequantizeLinear", 10, in, 2, NULL, 0, &y);
  CHECK(rc == QC_OK, "int32 dequantize failed: %s", qc_last_error());
  if (rc == QC_OK)
    for (int i = 0; i < 3; i++)
      CHECK(qc_f32(&y)[i] == (float)xv[i] * 0.25f, "int32 dq[%d] = %g", i, (double)qc_f32(&y)[i]);
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&y);
}

/* The vectorised 8-bit rows against the formula, element by element: halfway
 * points, values far outside the range, NaN and infinities, over enough
 * elements that the work splits into several pieces and threads. */
static void test_rows_match_formula(qc_dtype out_dt, float zero_point) {
  const int64_t n = 200003;
  const float scale = 0.37f, lo = out_dt == QC_DT_INT8 ? -128.0f : 0.0f, hi = out_dt == QC_DT_INT8 ? 127.0f : 255.0f;
  float *xv = malloc(sizeof(float) * (size_t)n);
  if (!xv)
    return;
  for (int64_t i = 0; i < n; i++) {
    switch (i % 7) {
    case 0: xv[i] = ((float)(i % 601) - 300.0f + 0.5f) * scale; break; /* near halfway points */
    case 1: xv[i] = (float)((i * 7919) % 100000) / 50.0f - 1000.0f; break;
    case 2: xv[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY; break;
    case 3: xv[i] = (float)(i % 2 ? 1 : -1) * 3e38f; break;
    default: xv[i] = ((float)(i % 257) - 128.0f) * scale * 0.999f; break;
    }
  }
  qc_tensor x = {0}, s = {0}, z = {0}, y = {0};
  tensor_init(&x, QC_DT_FLOAT, 1, &n, xv);
  tensor_init(&s, QC_DT_FLOAT, 0, no_dims, &scale);
  if (out_dt == QC_DT_INT8)
    tensor_init(&z, QC_DT_INT8, 0, no_dims, &(int8_t){(int8_t)zero_point});
  else
    tensor_init(&z, QC_DT_UINT8, 0, no_dims, &(uint8_t){(uint8_t)zero_point});
  qc_tensor *in[3] = {&x, &s, &z};
  int rc = run_op("QuantizeLinear", 13, in, 3, NULL, 0, &y);
  CHECK(rc == QC_OK, "quantize failed: %s", qc_last_error());
  int bad = 0;
  for (int64_t i = 0; rc == QC_OK && i < n; i++) {
    float v = nearbyintf(xv[i] / scale) + zero_point;
    v = isnan(v) ? zero_point : v < lo ? lo : v > hi ? hi : v;
    int got = out_dt == QC_DT_INT8 ? qc_s8(&y)[i] : qc_u8(&y)[i];
    if (got != (int)v && bad++ < 5)
      CHECK(got == (int)v, "%s x[%lld] = %g: got %d, want %d", qc_dtype_name(out_dt), (long long)i, xv[i], got, (int)v);
  }
  CHECK(bad == 0, "%s: %d elements differ from the formula", qc_dtype_name(out_dt), bad);
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
  qc_tensor_release(&y);
  free(xv);
}

int main(void) {
  test_rows_match_formula(QC_DT_INT8, 3.0f);
  test_rows_match_formula(QC_DT_UINT8, 128.0f);
  test_vector_int8(10);
  test_vector_int8(13);
  test_vector_int8(19);
  test_vector_int8(21);
  test_missing_zero_point_is_uint8();
  test_per_axis(1);
  test_per_axis(-2);
  test_dequantize_int32();
  return qc_test_finish("quantize");
}
