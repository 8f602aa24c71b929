#define _POSIX_C_SOURCE 200809L
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

/* The temp file currently being written, so a signal handler can remove it. */
static volatile sig_atomic_t interrupted_flag;
static char pending_tmp[4096];
static volatile sig_atomic_t pending_tmp_set;

static void on_signal(int sig) {
  interrupted_flag = 1;
  if (pending_tmp_set)
    unlink(pending_tmp);
  /* Second signal: default action (terminate) after cleanup. */
  signal(sig, SIG_DFL);
}

void qc_install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int qc_interrupted(void) { return interrupted_flag != 0; }

void qc_dirname(const char *path, char *buf, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(buf, n, ".");
  } else if (slash == path) {
    snprintf(buf, n, "/");
  } else {
    size_t len = (size_t)(slash - path);
    if (len >= n)
      len = n - 1;
    memcpy(buf, path, len);
    buf[len] = 0;
  }
}

int qc_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
    return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int qc_atomic_open(qc_atomic_file *f, const char *path) {
  char dir[4096];
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  f->fd = -1;
  if (strlen(path) + 16 >= sizeof f->tmp_path)
    return qc_fail(QC_EUSAGE, "%s: output path too long", path);
  qc_dirname(path, dir, sizeof dir);
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return qc_fail(QC_EIO, "%s: output directory '%s' does not exist", path, dir);
  snprintf(f->final_path, sizeof f->final_path, "%s", path);
  snprintf(f->tmp_path, sizeof f->tmp_path, "%s/.%s.tmp-XXXXXX", dir, base);
  f->fd = mkstemp(f->tmp_path);
  if (f->fd < 0)
    return qc_fail(QC_EIO, "%s: cannot create a file in '%s': %s", path, dir, strerror(errno));
  memcpy(pending_tmp, f->tmp_path, sizeof pending_tmp);
  pending_tmp_set = 1;
  return QC_OK;
}

int qc_atomic_write(qc_atomic_file *f, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len) {
    ssize_t w = write(f->fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = errno;
      qc_atomic_abort(f);
      return qc_fail(QC_EIO, "%s: write failed: %s", f->final_path, strerror(e));
    }
    p += w;
    len -= (size_t)w;
  }
  return QC_OK;
}

void qc_atomic_abort(qc_atomic_file *f) {
  if (f->fd >= 0) {
    close(f->fd);
    f->fd = -1;
    unlink(f->tmp_path);
  }
  pending_tmp_set = 0;
}

int qc_atomic_commit(qc_atomic_file *f) {
  if (qc_interrupted()) {
    qc_atomic_abort(f);
    return qc_fail(QC_EINTERRUPTED, "%s: interrupted; nothing written", f->final_path);
  }
  /* mkstemp makes 0600 files; give outputs the usual umask-derived mode. */
  mode_t mask = umask(0);
  umask(mask);
  if (fchmod(f->fd, 0666 & ~mask) != 0 || fsync(f->fd) != 0) {
    int e = errno;
    qc_atomic_abort(f);
    return qc_fail(QC_EIO, "%s: %s", f->final_path, strerror(e));
  }
  if (close(f->fd) != 0) {
    int e = errno;
    f->fd = -1;
    unlink(f->tmp_path);
    pending_tmp_set = 0;
    return qc_fail(QC_EIO, "%s: %s", f->final_path, strerror(e));
  }
  f->fd = -1;
  if (rename(f->tmp_path, f->final_path) != 0) {
    int e = errno;
    unlink(f->tmp_path);
    pending_tmp_set = 0;
    return qc_fail(QC_EIO, "%s: cannot rename into place: %s", f->final_path, strerror(e));
  }
  pending_tmp_set = 0;
  return QC_OK;
}

int qc_write_file_atomic(const char *path, const void *data, size_t len) {
  qc_atomic_file f;
  QC_TRY(qc_atomic_open(&f, path));
  QC_TRY(qc_atomic_write(&f, data, len));
  return qc_atomic_commit(&f);
}
