/* idx2png: export IDX (MNIST / Fashion-MNIST) images as 8-bit gray PNGs.
 *
 *   idx2png IMAGES.idx3-ubyte[.gz] [LABELS.idx1-ubyte[.gz]] OUTDIR
 *           [--count N] [--start K] [--by-class]
 *
 * Files are named by their index in the IDX file (OUTDIR/000123.png), or
 * OUTDIR/<label>/000123.png with --by-class, so evaluation can take the
 * class from the folder name. Errors print one line and exit 2.
 */
#include <errno.h>
#include <png.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("idx2png: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Whole file into memory; gzopen reads plain files transparently too. */
static unsigned char *slurp(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            die("out of memory");
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            continue;
        }
        int r = gzread(f, buf + n, (unsigned)(cap - n));
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            die("%s: read error: %s", path, msg);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    /* A cut-off gzip stream is not a read error: gzread just stops early
     * and flags Z_BUF_ERROR. */
    int zerr;
    gzerror(f, &zerr);
    if (zerr == Z_BUF_ERROR)
        die("%s: truncated gzip stream", path);
    if (zerr != Z_OK)
        die("%s: corrupt gzip stream", path);
    gzclose(f);
    *len = n;
    return buf;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parse an unsigned-byte IDX header; returns pointer to the data and fills dims. */
static const unsigned char *idx_parse(const char *path, const unsigned char *buf,
                                      size_t len, unsigned want_ndim, uint32_t *dims)
{
    if (len < 4 || buf[0] != 0 || buf[1] != 0)
        die("%s: bad magic (not an IDX file)", path);
    if (buf[2] != 0x08)
        die("%s: unsupported IDX element type 0x%02x (need unsigned byte)", path, buf[2]);
    if (buf[3] != want_ndim)
        die("%s: expected %u dimensions, file has %u", path, want_ndim, buf[3]);
    size_t hdr = 4 + 4 * (size_t)want_ndim;
    if (len < hdr)
        die("%s: truncated header", path);
    uint64_t total = 1;
    for (unsigned i = 0; i < want_ndim; i++) {
        dims[i] = be32(buf + 4 + 4 * i);
        total *= dims[i];
    }
    if (len - hdr < total)
        die("%s: truncated: need %llu data bytes, have %zu", path,
            (unsigned long long)total, len - hdr);
    return buf + hdr;
}

static void mkdir_p1(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        die("mkdir %s: %s", dir, strerror(errno));
}

/* mkdir -p: create each missing parent in turn. */
static void mkdir_p(const char *dir)
{
    char *tmp = strdup(dir);
    if (!tmp)
        die("out of memory");
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir_p1(tmp);
            *p = '/';
        }
    }
    mkdir_p1(tmp);
    free(tmp);
}

static void write_png(const char *path, const unsigned char *pix, uint32_t w, uint32_t h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info)
        die("libpng init failed");
    if (setjmp(png_jmpbuf(png)))
        die("%s: libpng write error", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(pix + (size_t)y * w));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
}

static unsigned long parse_count(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || *s == '-' || *end || errno)
        die("%s needs a non-negative integer", opt);
    return v;
}

static void usage(void)
{
    fputs("usage: idx2png IMAGES.idx3-ubyte[.gz] [LABELS.idx1-ubyte[.gz]] OUTDIR\n"
          "               [--count N] [--start K] [--by-class]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *pos[3];
    int npos = 0, by_class = 0;
    unsigned long count = (unsigned long)-1, start = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--count"))
            count = parse_count("--count", ++i < argc ? argv[i] : NULL);
        else if (!strcmp(argv[i], "--start"))
            start = parse_count("--start", ++i < argc ? argv[i] : NULL);
        else if (!strcmp(argv[i], "--by-class"))
            by_class = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            usage();
        else if (argv[i][0] == '-' && argv[i][1])
            die("unknown option %s", argv[i]);
        else if (npos < 3)
            pos[npos++] = argv[i];
        else
            usage();
    }
    if (npos < 2)
        usage();
    const char *img_path = pos[0];
    const char *lbl_path = npos == 3 ? pos[1] : NULL;
    const char *outdir = pos[npos - 1];
    if (by_class && !lbl_path)
        die("--by-class needs a labels file");

    size_t ilen, llen = 0;
    unsigned char *ibuf = slurp(img_path, &ilen);
    uint32_t idims[3], ldims[1];
    const unsigned char *pix = idx_parse(img_path, ibuf, ilen, 3, idims);
    unsigned char *lbuf = NULL;
    const unsigned char *labels = NULL;
    if (lbl_path) {
        lbuf = slurp(lbl_path, &llen);
        labels = idx_parse(lbl_path, lbuf, llen, 1, ldims);
        if (ldims[0] != idims[0])
            die("%s has %u labels but %s has %u images", lbl_path, ldims[0],
                img_path, idims[0]);
    }

    uint32_t n = idims[0], h = idims[1], w = idims[2];
    if (start > n)
        die("--start %lu is past the %u images", start, n);
    unsigned long end = start + (count < n - start ? count : n - start);

    mkdir_p(outdir);
    size_t plen = strlen(outdir) + 32;
    char *path = malloc(plen);
    if (!path)
        die("out of memory");
    int made[256] = {0};
    for (unsigned long i = start; i < end; i++) {
        const unsigned char *img = pix + (size_t)i * h * w;
        if (by_class) {
            unsigned lab = labels[i];
            snprintf(path, plen, "%s/%u", outdir, lab);
            if (!made[lab]) {
                mkdir_p1(path);
                made[lab] = 1;
            }
            snprintf(path, plen, "%s/%u/%06lu.png", outdir, lab, i);
        } else {
            snprintf(path, plen, "%s/%06lu.png", outdir, i);
        }
        write_png(path, img, w, h);
    }
    printf("idx2png: wrote %lu images (%ux%u) to %s\n", end - start, w, h, outdir);
    free(path);
    free(ibuf);
    free(lbuf);
    return 0;
}
