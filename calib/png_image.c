/* PNG decoding via libpng's progressive-free "read whole image" API from a
 * memory buffer. libpng reports errors by longjmp; the jump buffer and all
 * state that must survive it live in a decode_ctx (memory, not registers). */
#include "png_image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/readfile.h"
#include "core/status.h"
#include "core/tensor.h"

/* Largest ancillary chunk libpng may allocate (metadata only). */
#define QC_PNG_CHUNK_MAX ((png_alloc_size_t)8 << 20)

/* A chunk (tEXt, iCCP, ...) may declare up to 2 GiB, which libpng allocates
 * before it reads the data and finds the file short (fuzzing found a 186-byte
 * file costing 2 GiB). The file is in memory, so check every chunk header
 * against the bytes that remain before libpng sees it. */
static int check_chunk_lengths(const uint8_t *data, size_t len, const char *name) {
  size_t off = 8;
  while (off + 8 <= len) {
    uint32_t n = (uint32_t)data[off] << 24 | (uint32_t)data[off + 1] << 16 | (uint32_t)data[off + 2] << 8 | data[off + 3];
    char type[5] = {(char)data[off + 4], (char)data[off + 5], (char)data[off + 6], (char)data[off + 7], 0};
    if ((uint64_t)n + 12 > len - off)
      return qc_fail(QC_EINVAL, "%s: corrupt PNG: chunk '%s' claims %u bytes, past the end of the file", name,
                     type, n);
    if (memcmp(type, "IEND", 4) == 0)
      return QC_OK;
    off += (size_t)n + 12;
  }
  return QC_OK; /* a truncated tail is reported by libpng */
}

int qc_image_alloc(qc_image *img, int width, int height, int channels) {
  memset(img, 0, sizeof *img);
  if (width < 1 || height < 1 || width > QC_IMAGE_MAX_SIDE || height > QC_IMAGE_MAX_SIDE)
    return qc_fail(QC_ELIMIT, "image size %dx%d is outside 1..%d per side", width, height, QC_IMAGE_MAX_SIDE);
  if (channels < 1 || channels > 4)
    return qc_fail(QC_EINVAL, "images must have 1 to 4 channels, not %d", channels);
  int64_t dims[3] = {height, width, channels};
  size_t nbytes;
  QC_TRY(qc_shape_bytes(QC_DT_UINT8, 3, dims, &nbytes));
  img->pixels = calloc(nbytes, 1);
  if (!img->pixels)
    return qc_fail(QC_ENOMEM, "out of memory for a %dx%d image", width, height);
  img->width = width;
  img->height = height;
  img->channels = channels;
  return QC_OK;
}

void qc_image_free(qc_image *img) {
  free(img->pixels);
  memset(img, 0, sizeof *img);
}

typedef struct decode_ctx {
  jmp_buf jump;
  char message[256];
  const uint8_t *data;
  size_t len, pos;
  png_bytep *rows;
} decode_ctx;

static void on_png_error(png_structp png, png_const_charp msg) {
  decode_ctx *ctx = png_get_error_ptr(png);
  snprintf(ctx->message, sizeof ctx->message, "%s", msg);
  longjmp(ctx->jump, 1);
}

/* Benign issues (e.g. odd iCCP profiles) do not affect the pixels we read. */
static void on_png_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static void read_from_memory(png_structp png, png_bytep out, size_t n) {
  decode_ctx *ctx = png_get_io_ptr(png);
  if (n > ctx->len - ctx->pos)
    png_error(png, "file is truncated");
  memcpy(out, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

int qc_png_decode(const uint8_t *data, size_t len, const char *name, qc_image *out) {
  memset(out, 0, sizeof *out);
  if (len < 8 || png_sig_cmp(data, 0, 8) != 0)
    return qc_fail(QC_EINVAL, "%s: not a PNG file (bad signature)", name);
  QC_TRY(check_chunk_lengths(data, len, name));
  decode_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.data = data;
  ctx.len = len;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
  if (!png)
    return qc_fail(QC_ENOMEM, "%s: cannot create a PNG decoder", name);
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return qc_fail(QC_ENOMEM, "%s: cannot create a PNG decoder", name);
  }
  if (setjmp(ctx.jump)) {
    png_destroy_read_struct(&png, &info, NULL);
    free(ctx.rows);
    qc_image_free(out);
    return qc_fail(QC_EINVAL, "%s: corrupt PNG: %s", name, ctx.message);
  }
  png_set_read_fn(png, &ctx, read_from_memory);
  /* Belt and braces with check_chunk_lengths: cap libpng's ancillary chunk
   * buffers and how many it keeps. */
  png_set_chunk_malloc_max(png, QC_PNG_CHUNK_MAX);
  png_set_chunk_cache_max(png, 128);
  png_read_info(png, info);

  png_uint_32 width, height;
  int bit_depth, color_type;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
  if (width > QC_IMAGE_MAX_SIDE || height > QC_IMAGE_MAX_SIDE) {
    png_destroy_read_struct(&png, &info, NULL);
    return qc_fail(QC_ELIMIT, "%s: image size %ux%u exceeds %d per side", name, (unsigned)width,
                   (unsigned)height, QC_IMAGE_MAX_SIDE);
  }
  /* Deflate cannot expand data more than 1032:1, so a file this short cannot
   * hold the declared pixels: refuse before allocating them (a 100-byte file
   * must not reserve gigabytes). */
  uint64_t raw_bytes = (uint64_t)height * (1 + (uint64_t)png_get_rowbytes(png, info));
  if (raw_bytes / 1032 > (uint64_t)len) {
    png_destroy_read_struct(&png, &info, NULL);
    return qc_fail(QC_EINVAL, "%s: corrupt PNG: file is truncated (%zu bytes cannot hold a %ux%u image)", name, len,
                   (unsigned)width, (unsigned)height);
  }
  if (color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS))
    png_set_tRNS_to_alpha(png);
  if (bit_depth == 16)
    png_set_scale_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  int channels = png_get_channels(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  int rc = qc_image_alloc(out, (int)width, (int)height, channels);
  if (rc == QC_OK && rowbytes != (size_t)width * (size_t)channels)
    rc = qc_fail(QC_EINTERNAL, "%s: unexpected PNG row size %zu", name, rowbytes);
  if (rc == QC_OK && !(ctx.rows = malloc(sizeof(png_bytep) * height)))
    rc = qc_fail(QC_ENOMEM, "%s: out of memory", name);
  if (rc < 0) {
    png_destroy_read_struct(&png, &info, NULL);
    qc_image_free(out);
    return qc_fail_context(rc, "%s", name);
  }
  for (png_uint_32 y = 0; y < height; y++)
    ctx.rows[y] = out->pixels + (size_t)y * rowbytes;
  png_read_image(png, ctx.rows);
  /* Trailing chunks after the image data cannot change the pixels; we do not
   * call png_read_end so a missing IEND is tolerated (as PIL does). */
  png_destroy_read_struct(&png, &info, NULL);
  free(ctx.rows);
  return QC_OK;
}

int qc_png_read(const char *path, qc_image *out) {
  uint8_t *data;
  size_t len;
  memset(out, 0, sizeof *out);
  QC_TRY(qc_read_file(path, qc_tensor_byte_limit(), &data, &len));
  int rc = qc_png_decode(data, len, path, out);
  free(data);
  return rc;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int qc_png_check_header(const char *path, int *width, int *height) {
  FILE *f;
  QC_TRY(qc_fopen_regular(path, &f, NULL));
  uint8_t h[33];
  size_t got = fread(h, 1, sizeof h, f);
  fclose(f);
  if (got < 8 || png_sig_cmp(h, 0, 8) != 0)
    return qc_fail(QC_EINVAL, "%s: not a PNG file (bad signature)", path);
  if (got < sizeof h || be32(h + 8) != 13 || memcmp(h + 12, "IHDR", 4) != 0)
    return qc_fail(QC_EINVAL, "%s: corrupt PNG: missing or truncated IHDR", path);
  uint32_t w = be32(h + 16), ht = be32(h + 20);
  int depth = h[24], type = h[25];
  int depth_ok = 0;
  switch (type) {
  case 0: depth_ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16; break;
  case 3: depth_ok = depth == 1 || depth == 2 || depth == 4 || depth == 8; break;
  case 2: case 4: case 6: depth_ok = depth == 8 || depth == 16; break;
  default: break;
  }
  if (!depth_ok)
    return qc_fail(QC_EINVAL, "%s: corrupt PNG: invalid colour type %d / bit depth %d", path, type, depth);
  if (w == 0 || ht == 0)
    return qc_fail(QC_EINVAL, "%s: corrupt PNG: zero image size", path);
  if (w > QC_IMAGE_MAX_SIDE || ht > QC_IMAGE_MAX_SIDE)
    return qc_fail(QC_ELIMIT, "%s: image size %ux%u exceeds %d per side", path, (unsigned)w, (unsigned)ht,
                   QC_IMAGE_MAX_SIDE);
  if (width)
    *width = (int)w;
  if (height)
    *height = (int)ht;
  return QC_OK;
}
