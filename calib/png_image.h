/* PNG decoding into 8-bit interleaved pixels (libpng).
 *
 * Every PNG colour type and bit depth is accepted. Output channels follow the
 * file: gray 1, gray+alpha 2, RGB 3, RGBA 4. Palette images become RGB, or
 * RGBA when they carry a tRNS chunk; gray/RGB with tRNS gain an alpha channel.
 * 1/2/4-bit gray is scaled to 0..255 (v * 255 / (2^bits - 1)); 16-bit samples
 * are reduced with libpng's png_set_scale_16, i.e. round(v * 255 / 65535).
 * No gamma or colour-profile correction is applied (same as PIL). */
#ifndef QC_PNG_IMAGE_H
#define QC_PNG_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define QC_IMAGE_MAX_SIDE 32768

typedef struct qc_image {
  int width, height;
  int channels;   /* 1..4 */
  uint8_t *pixels; /* height * width * channels bytes, row-major, interleaved */
} qc_image;

/* Allocates a zeroed image; dimensions are checked against QC_IMAGE_MAX_SIDE
 * and the tensor byte cap. */
int qc_image_alloc(qc_image *img, int width, int height, int channels);
void qc_image_free(qc_image *img);

/* Decodes a PNG file. Corrupt or truncated files are QC_EINVAL with a message
 * naming the path; oversized ones QC_ELIMIT. */
int qc_png_read(const char *path, qc_image *out);
/* Same from memory; `name` is used in messages. */
int qc_png_decode(const uint8_t *data, size_t len, const char *name, qc_image *out);

/* Cheap check of the signature and IHDR (first 33 bytes) without decoding:
 * catches non-PNG files and bad dimensions before a full load. */
int qc_png_check_header(const char *path, int *width, int *height);

#endif
