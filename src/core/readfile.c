/* Input files: open without blocking, refuse non-regular files, whole-file reads. */
#define _POSIX_C_SOURCE 200809L
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

static const char *kind_of_mode(mode_t m) {
  if (S_ISDIR(m))
    return "a directory";
  if (S_ISFIFO(m))
    return "a FIFO";
  if (S_ISCHR(m))
    return "a character device";
  if (S_ISBLK(m))
    return "a block device";
  if (S_ISSOCK(m))
    return "a socket";
  return "a special file";
}

static int fail_not_regular(const char *path, mode_t m) {
  return qc_fail(QC_EIO, "%s: is %s, not a regular file", path, kind_of_mode(m));
}

int qc_check_regular_mode(const char *path, unsigned mode) {
  return S_ISREG(mode) ? QC_OK : fail_not_regular(path, (mode_t)mode);
}

int qc_open_regular(const char *path, int *fd_out, uint64_t *size) {
  *fd_out = -1;
  /* A first stat spares devices the side effects of being opened (a tape
   * rewinds, a tty may become ours); the check that counts is the fstat below. */
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return fail_not_regular(path, st.st_mode);
  /* O_NONBLOCK: a FIFO swapped in after the stat must not wait for a writer.
   * It has no effect on reads from regular files. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return qc_fail(QC_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return qc_fail(QC_EIO, "%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return fail_not_regular(path, st.st_mode);
  }
  *fd_out = fd;
  if (size)
    *size = (uint64_t)st.st_size;
  return QC_OK;
}

int qc_fopen_regular(const char *path, FILE **f, uint64_t *size) {
  int fd;
  *f = NULL;
  QC_TRY(qc_open_regular(path, &fd, size));
  *f = fdopen(fd, "rb");
  if (!*f) {
    int e = errno;
    close(fd);
    return qc_fail(QC_ENOMEM, "%s: %s", path, strerror(e));
  }
  return QC_OK;
}

int qc_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len) {
  *data = NULL;
  *len = 0;
  int fd;
  uint64_t file_size;
  QC_TRY(qc_open_regular(path, &fd, &file_size));
  if (max_bytes && file_size > max_bytes) {
    close(fd);
    return qc_fail(QC_ELIMIT, "%s: file is %llu bytes, above the limit of %zu", path,
                   (unsigned long long)file_size, max_bytes);
  }
  if (file_size >= SIZE_MAX) {
    close(fd);
    return qc_fail(QC_ELIMIT, "%s: file is too large to read", path);
  }
  size_t size = (size_t)file_size;
  uint8_t *buf = malloc(size + 1);
  if (!buf) {
    close(fd);
    return qc_fail(QC_ENOMEM, "%s: out of memory reading %zu bytes", path, size);
  }
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      const char *why = r < 0 ? strerror(errno) : "the file shrank while being read";
      free(buf);
      close(fd);
      return qc_fail(QC_EIO, "%s: read failed: %s", path, why);
    }
    got += (size_t)r;
  }
  close(fd);
  buf[size] = 0;
  *data = buf;
  *len = size;
  return QC_OK;
}
