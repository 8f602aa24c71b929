/* NumPy .npy files: read (v1/v2/v3 headers) and write.
 *
 * Read dtypes: '<f4' float, '<f8' double, '<f2' float16, '<i8' int64,
 * '<i4' int32, '|u1' uint8, '|i1' int8, '|b1' bool ('<' may also be '='; single bytes may use
 * '<', '=' or '|'). Data is kept in its own dtype; callers cast if needed.
 * Big-endian data and fortran_order True are rejected with a clear error. */
#ifndef QC_NPY_H
#define QC_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"

/* Parsed header: dtype, shape and where the data starts. */
typedef struct qc_npy_header {
  qc_dtype dtype;
  int ndim;
  int64_t dims[QC_MAX_DIMS];
  size_t data_offset; /* bytes from the start of the file */
  size_t data_bytes;  /* numel * element size */
} qc_npy_header;

/* Parses the header at the start of `data` (len bytes; may be only the first
 * part of a file). `name` is used in error messages. Does not check that the
 * data itself is present. */
int qc_npy_parse_header(const uint8_t *data, size_t len, const char *name, qc_npy_header *hdr);

/* Reads only the header of a file (cheap validation before a full load). */
int qc_npy_read_header(const char *path, qc_npy_header *hdr);

/* Reads a whole .npy file into an owned tensor; the file size must match the
 * header's shape exactly. */
int qc_npy_read(const char *path, qc_tensor *out);

/* Writes a version 1.0 .npy file atomically. Supported dtypes: float, double,
 * float16, int64, int32, uint8, int8, bool. */
int qc_npy_write(const char *path, const qc_tensor *t);

#endif
