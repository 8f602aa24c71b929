/* Dense tensors: the one data type the engine, observers and passes share.
 *
 * dtype values are ONNX TensorProto.DataType numbers. Data is contiguous,
 * row-major (C order), little-endian, numel * qc_dtype_size(dtype) bytes.
 * BOOL is one byte per element (0/1). FLOAT16/BFLOAT16 are stored as raw uint16. */
#ifndef QC_TENSOR_H
#define QC_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define QC_MAX_DIMS 8

typedef enum qc_dtype {
  QC_DT_UNDEFINED = 0,
  QC_DT_FLOAT = 1,
  QC_DT_UINT8 = 2,
  QC_DT_INT8 = 3,
  QC_DT_UINT16 = 4,
  QC_DT_INT16 = 5,
  QC_DT_INT32 = 6,
  QC_DT_INT64 = 7,
  QC_DT_STRING = 8,
  QC_DT_BOOL = 9,
  QC_DT_FLOAT16 = 10,
  QC_DT_DOUBLE = 11,
  QC_DT_UINT32 = 12,
  QC_DT_UINT64 = 13,
  QC_DT_COMPLEX64 = 14,
  QC_DT_COMPLEX128 = 15,
  QC_DT_BFLOAT16 = 16,
  QC_DT_FLOAT8E4M3FN = 17,
  QC_DT_FLOAT8E4M3FNUZ = 18,
  QC_DT_FLOAT8E5M2 = 19,
  QC_DT_FLOAT8E5M2FNUZ = 20,
  QC_DT_UINT4 = 21,
  QC_DT_INT4 = 22,
  QC_DT_FLOAT4E2M1 = 23,
  QC_DT_COUNT
} qc_dtype;

typedef struct qc_tensor {
  qc_dtype dtype;
  int ndim;
  int64_t dims[QC_MAX_DIMS];
  int64_t numel;
  void *data;
  size_t nbytes;
  int owns_data; /* data is freed by qc_tensor_release */
} qc_tensor;

/* Bytes per element; 0 for STRING, sub-byte and unknown types. */
size_t qc_dtype_size(qc_dtype dt);
/* Real numeric or bool: the dtypes the engine's kernels compute with. */
int qc_dtype_is_computable(qc_dtype dt);
/* "float", "int8", ... ; "dtype(N)" style for unknown values is written to a static buffer. */
const char *qc_dtype_name(qc_dtype dt);
int qc_dtype_is_valid(int dt);

/* Process-wide cap on one tensor's bytes (default 4 GiB). Hitting it is QC_ELIMIT. */
void qc_set_tensor_byte_limit(size_t bytes);
size_t qc_tensor_byte_limit(void);

/* numel of a shape, overflow-checked; negative dims are QC_EINVAL. */
int qc_shape_numel(int ndim, const int64_t *dims, int64_t *numel);
/* numel * elem size within the byte cap. */
int qc_shape_bytes(qc_dtype dt, int ndim, const int64_t *dims, size_t *nbytes);

/* (Re)allocate t's storage for the given dtype and shape; contents zeroed.
 * Any previous owned data is released first. */
int qc_tensor_alloc(qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims);
/* Same, contents unspecified: for a caller that writes every element. */
int qc_tensor_alloc_uninit(qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims);
/* Same as qc_tensor_alloc, but the new tensor borrows `data` (not freed by release). */
void qc_tensor_wrap(qc_tensor *t, qc_dtype dt, int ndim, const int64_t *dims, void *data);
/* Frees owned data; leaves an empty tensor. Safe on a zeroed struct. */
void qc_tensor_release(qc_tensor *t);
/* Deep copy of src into dst (dst released first). */
int qc_tensor_copy(qc_tensor *dst, const qc_tensor *src);
/* Change dims without touching data; numel must be unchanged. */
int qc_tensor_set_shape(qc_tensor *t, int ndim, const int64_t *dims);
/* Formats "1x3x224x224" (or "scalar") into buf. */
const char *qc_shape_str(int ndim, const int64_t *dims, char *buf, size_t n);

/* Typed views. */
static inline float *qc_f32(const qc_tensor *t) { return (float *)t->data; }
static inline int64_t *qc_i64(const qc_tensor *t) { return (int64_t *)t->data; }
static inline int32_t *qc_i32(const qc_tensor *t) { return (int32_t *)t->data; }
static inline uint8_t *qc_u8(const qc_tensor *t) { return (uint8_t *)t->data; }
static inline int8_t *qc_s8(const qc_tensor *t) { return (int8_t *)t->data; }

/* Reads element i of any numeric tensor as double / int64 (for shape inputs etc). */
double qc_tensor_get_f64(const qc_tensor *t, int64_t i);
int64_t qc_tensor_get_i64(const qc_tensor *t, int64_t i);

/* Half-precision conversions (round to nearest even). */
float qc_half_to_float(uint16_t h);
uint16_t qc_float_to_half(float f);
float qc_bfloat16_to_float(uint16_t b);
uint16_t qc_float_to_bfloat16(float f);

#endif
