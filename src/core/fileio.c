#define _POSIX_C_SOURCE 200809L
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

/* Temp files not yet renamed into place, for the signal handler: a name in an
 * open directory each, so removing one is a single async-signal-safe unlinkat.
 * Writers on several threads (the .npy writer) claim slots atomically. */
#define MAX_PENDING 512
enum { SLOT_FREE, SLOT_FILLING, SLOT_ACTIVE };
static struct {
  atomic_int state;
  int dir_fd;
  char name[32];
} pending[MAX_PENDING];
static volatile sig_atomic_t interrupted_flag;
/* Groups being renamed into place: removing their temp files half-way would
 * leave some destinations new and others old, so the renames finish. */
static atomic_int committing;

static void on_signal(int sig) {
  interrupted_flag = 1;
  for (int i = 0; !atomic_load(&committing) && i < MAX_PENDING; i++)
    if (atomic_load(&pending[i].state) == SLOT_ACTIVE)
      unlinkat(pending[i].dir_fd, pending[i].name, 0);
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
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
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


/* ---- input files ---- */

int qc_file_set_add(qc_file_set *s, const char *path) {
  struct stat st;
  if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return QC_OK;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    qc_file_id *items = realloc(s->items, cap * sizeof *items);
    if (!items)
      return qc_fail(QC_ENOMEM, "out of memory");
    s->items = items;
    s->cap = cap;
  }
  char *copy = strdup(path);
  if (!copy)
    return qc_fail(QC_ENOMEM, "out of memory");
  s->items[s->n++] = (qc_file_id){.dev = st.st_dev, .ino = st.st_ino, .path = copy};
  return QC_OK;
}

void qc_file_set_free(qc_file_set *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->items[i].path);
  free(s->items);
  memset(s, 0, sizeof *s);
}

/* ---- outputs committed as a group ---- */

typedef struct output {
  char *label;         /* "-o out.onnx" or the path alone, for messages */
  char *dir, *base;    /* where the file goes, symlinks resolved */
  int dir_fd;
  dev_t dir_dev;
  ino_t dir_ino;
  int exists;          /* the destination exists: its identity */
  dev_t dev;
  ino_t ino;
  int stream;          /* character device or FIFO: written through at commit */
  int fd;              /* the temp file while it is being written, else -1 */
  int slot;            /* pending[] slot of the temp file, -1 when there is none */
  char tmp[32];        /* the temp file's name in dir_fd */
  unsigned char *buf;  /* a stream's bytes until commit */
  size_t len, cap;
  uint64_t bytes;      /* bytes this run wrote */
} output;

struct qc_outputs {
  output *items;
  int n, cap;
};

static uint64_t random_bits(void) {
  static atomic_ullong counter;
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
  }
  return r ^ ((atomic_fetch_add(&counter, 1) + 1) * 0x9E3779B97F4A7C15ull);
}

/* A new temp file in the output's directory. A short fixed prefix and a random
 * suffix keep the name within NAME_MAX whatever the destination is called. It
 * is shown to the signal handler once it exists (never earlier, so the handler
 * can only remove files this process created). */
static int create_temp(output *o) {
  int slot = -1;
  for (int i = 0; i < MAX_PENDING && slot < 0; i++) {
    int expected = SLOT_FREE;
    if (atomic_compare_exchange_strong(&pending[i].state, &expected, SLOT_FILLING))
      slot = i;
  }
  if (slot < 0) {
    errno = EMFILE;
    return -1;
  }
  for (int attempt = 0; attempt < 64; attempt++) {
    snprintf(o->tmp, sizeof o->tmp, ".qconvert.tmp-%010llx", (unsigned long long)(random_bits() & 0xffffffffffull));
    int fd = openat(o->dir_fd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      memcpy(pending[slot].name, o->tmp, sizeof o->tmp);
      pending[slot].dir_fd = o->dir_fd;
      atomic_store(&pending[slot].state, SLOT_ACTIVE);
      o->fd = fd;
      o->slot = slot;
      return 0;
    }
    if (errno != EEXIST)
      break;
  }
  int e = errno;
  atomic_store(&pending[slot].state, SLOT_FREE);
  errno = e;
  return -1;
}

/* The temp file is gone (renamed or removed): hide it from the signal handler. */
static void forget_temp(output *o) {
  atomic_store(&pending[o->slot].state, SLOT_FREE);
  o->slot = -1;
}

static void output_release(output *o) {
  if (o->fd >= 0)
    close(o->fd);
  if (o->slot >= 0) {
    unlinkat(o->dir_fd, o->tmp, 0);
    forget_temp(o);
  }
  if (o->dir_fd >= 0)
    close(o->dir_fd);
  free(o->label);
  free(o->dir);
  free(o->base);
  free(o->buf);
  memset(o, 0, sizeof *o);
}

static int same_destination(const output *a, const output *b) {
  if (a->exists && b->exists)
    return a->dev == b->dev && a->ino == b->ino;
  return a->dir_dev == b->dir_dev && a->dir_ino == b->dir_ino && strcmp(a->base, b->base) == 0;
}

static const char *file_kind(mode_t mode) {
  return S_ISSOCK(mode) ? "socket" : S_ISBLK(mode) ? "block device" : S_ISDIR(mode) ? "directory" : "special file";
}

/* Checks one destination and prepares it (see fileio.h). */
static int open_destination(output *o, const char *path, const qc_outputs *g) {
  size_t n = strlen(path);
  if (n == 0)
    return qc_fail(QC_EUSAGE, "%s: empty file name", o->label);
  if (n >= PATH_MAX)
    return qc_fail(QC_EUSAGE, "%s: path longer than %d bytes", o->label, PATH_MAX - 1);
  char target[PATH_MAX], dir[PATH_MAX];
  struct stat st;
  memcpy(target, path, n + 1);
  /* A symlink names the file it points to: that file is written, the link is
   * never replaced (/dev/stdout must stay a link). A link to a device or FIFO
   * is opened through as it is (/proc/self/fd/1 of a pipe has no real path). */
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
    if (stat(path, &st) != 0)
      return qc_fail(QC_EUSAGE, "%s: a symbolic link to a missing file (%s)", o->label, strerror(errno));
    if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode) && !realpath(path, target))
      return qc_fail(QC_EUSAGE, "%s: %s", o->label, strerror(errno));
  }
  const char *slash = strrchr(target, '/');
  const char *base = slash ? slash + 1 : target;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
    return qc_fail(QC_EUSAGE, "%s: names a directory, not a file", o->label);
  qc_dirname(target, dir, sizeof dir);
  o->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (o->dir_fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return qc_fail(QC_EUSAGE, "%s: directory '%s' does not exist", o->label, dir);
    return qc_fail(QC_EUSAGE, "%s: cannot open directory '%s': %s", o->label, dir, strerror(errno));
  }
  long name_max = fpathconf(o->dir_fd, _PC_NAME_MAX);
  if (name_max <= 0)
    name_max = NAME_MAX;
  if (strlen(base) > (size_t)name_max)
    return qc_fail(QC_EUSAGE, "%s: file name is %zu bytes, above this file system's limit of %ld", o->label,
                   strlen(base), name_max);
  o->dir = strdup(dir);
  o->base = strdup(base);
  if (!o->dir || !o->base)
    return qc_fail(QC_ENOMEM, "out of memory");
  if (fstat(o->dir_fd, &st) != 0)
    return qc_fail(QC_EIO, "%s: directory '%s': %s", o->label, dir, strerror(errno));
  o->dir_dev = st.st_dev;
  o->dir_ino = st.st_ino;
  if (fstatat(o->dir_fd, base, &st, 0) == 0) {
    o->exists = 1;
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
      o->stream = 1;
    else if (!S_ISREG(st.st_mode))
      return qc_fail(QC_EUSAGE, "%s: is a %s; refusing to write to it", o->label, file_kind(st.st_mode));
  } else if (errno != ENOENT) {
    return qc_fail(QC_EUSAGE, "%s: %s", o->label, strerror(errno));
  }
  for (int i = 0; i < g->n; i++)
    if (same_destination(o, &g->items[i]))
      return qc_fail(QC_EUSAGE, "%s: the same file as %s", o->label, g->items[i].label);
  if (o->stream) {
    if (faccessat(o->dir_fd, base, W_OK, 0) != 0)
      return qc_fail(QC_EUSAGE, "%s: not writable: %s", o->label, strerror(errno));
    return QC_OK;
  }
  if (create_temp(o) != 0) {
    int e = errno;
    if (e == EACCES || e == EPERM || e == EROFS)
      return qc_fail(QC_EUSAGE, "%s: directory '%s' is not writable (%s)", o->label, dir, strerror(e));
    return qc_fail(QC_EIO, "%s: cannot create a file in '%s': %s", o->label, dir, strerror(e));
  }
  return QC_OK;
}

int qc_outputs_create(qc_outputs **out) {
  *out = calloc(1, sizeof **out);
  return *out ? QC_OK : qc_fail(QC_ENOMEM, "out of memory");
}

int qc_outputs_add(qc_outputs *g, const char *opt, const char *path, int *id) {
  if (g->n == g->cap) {
    int cap = g->cap ? 2 * g->cap : 8;
    output *items = realloc(g->items, (size_t)cap * sizeof *items);
    if (!items)
      return qc_fail(QC_ENOMEM, "out of memory");
    g->items = items;
    g->cap = cap;
  }
  output *o = &g->items[g->n];
  memset(o, 0, sizeof *o);
  o->fd = o->slot = o->dir_fd = -1;
  if (!path)
    path = "";
  size_t n = strlen(path) + (opt ? strlen(opt) + 1 : 0) + 1;
  o->label = malloc(n);
  if (!o->label)
    return qc_fail(QC_ENOMEM, "out of memory");
  snprintf(o->label, n, "%s%s%s", opt ? opt : "", opt ? " " : "", path);
  int rc = open_destination(o, path, g);
  if (rc < 0) {
    output_release(o);
    return rc;
  }
  *id = g->n++;
  return QC_OK;
}

int qc_outputs_check_inputs(const qc_outputs *g, const qc_file_set *inputs) {
  for (int i = 0; i < g->n; i++) {
    const output *o = &g->items[i];
    for (size_t k = 0; o->exists && k < inputs->n; k++)
      if (inputs->items[k].dev == o->dev && inputs->items[k].ino == o->ino)
        return qc_fail(QC_EUSAGE, "%s: is the input file %s; refusing to overwrite it", o->label,
                       inputs->items[k].path);
  }
  return QC_OK;
}

static int fail_interrupted(void) { return qc_fail(QC_EINTERRUPTED, "interrupted; nothing written"); }

static int fail_write(const output *o, int e) {
  return qc_fail(QC_EIO, "%s: cannot write: %s%s", o->label, strerror(e),
                 e == EFBIG ? " (the file-size limit, see ulimit -f)" : "");
}

/* write() all of data to fd; EINTR from a signal that asked us to stop ends it. */
static int write_all(const output *o, int fd, const unsigned char *p, size_t len, uint64_t *written) {
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR && !qc_interrupted())
      continue;
    if (w < 0)
      return errno == EINTR ? fail_interrupted() : fail_write(o, errno);
    p += w;
    len -= (size_t)w;
    if (written)
      *written += (uint64_t)w;
  }
  return QC_OK;
}

int qc_outputs_write(qc_outputs *g, int id, const void *data, size_t len) {
  output *o = &g->items[id];
  if (!o->stream) {
    if (o->fd < 0)
      return qc_fail(QC_EINTERNAL, "%s: written after commit", o->label);
    return write_all(o, o->fd, data, len, &o->bytes);
  }
  if (len > o->cap - o->len) {
    size_t cap = o->cap ? o->cap : 65536;
    while (cap - o->len < len) {
      if (cap > SIZE_MAX / 2)
        return qc_fail(QC_ENOMEM, "%s: out of memory", o->label);
      cap *= 2;
    }
    unsigned char *buf = realloc(o->buf, cap);
    if (!buf)
      return qc_fail(QC_ENOMEM, "%s: out of memory keeping %zu bytes", o->label, cap);
    o->buf = buf;
    o->cap = cap;
  }
  if (len)
    memcpy(o->buf + o->len, data, len);
  o->len += len;
  o->bytes += len;
  return QC_OK;
}

uint64_t qc_outputs_bytes(const qc_outputs *g, int id) { return g->items[id].bytes; }

/* Writes a stream's bytes through: the destination is opened as it is now and
 * must still be a character device or FIFO (a FIFO's open waits for a reader;
 * a signal ends the wait). */
static int write_stream(output *o) {
  int fd;
  do
    fd = openat(o->dir_fd, o->base, O_WRONLY | O_NOCTTY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR && !qc_interrupted());
  if (fd < 0)
    return errno == EINTR ? fail_interrupted() : qc_fail(QC_EIO, "%s: %s", o->label, strerror(errno));
  struct stat st;
  int rc = QC_OK;
  if (fstat(fd, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))
    rc = qc_fail(QC_EIO, "%s: no longer a device or FIFO; nothing written", o->label);
  if (rc == QC_OK)
    rc = write_all(o, fd, o->buf, o->len, NULL);
  if (close(fd) != 0 && rc == QC_OK && errno != EINTR)
    rc = fail_write(o, errno);
  return rc;
}

int qc_outputs_commit(qc_outputs *g) {
  mode_t mask = umask(0);
  umask(mask);
  /* 1. Every temp file complete on disk (a full disk shows up here at the latest). */
  for (int i = 0; i < g->n; i++) {
    output *o = &g->items[i];
    if (qc_interrupted())
      return fail_interrupted();
    if (o->stream)
      continue;
    /* mkstemp-style files are 0600; outputs get the usual umask-derived mode. */
    if (fchmod(o->fd, 0666 & ~mask) != 0 || fsync(o->fd) != 0)
      return fail_write(o, errno);
    int closed = close(o->fd);
    o->fd = -1;
    if (closed != 0)
      return fail_write(o, errno);
  }
  /* 2. A destination that became a FIFO, device or directory during the run is never renamed over. */
  for (int i = 0; i < g->n; i++) {
    output *o = &g->items[i];
    struct stat st;
    if (!o->stream && fstatat(o->dir_fd, o->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) &&
        !S_ISLNK(st.st_mode))
      return qc_fail(QC_EIO, "%s: became a %s during the run; nothing written", o->label,
                     S_ISCHR(st.st_mode) ? "character device" : S_ISFIFO(st.st_mode) ? "FIFO" : file_kind(st.st_mode));
  }
  /* 3. Streams cannot be taken back: they go before the renames, which only
   * fail if the file system changed under us. */
  for (int i = 0; i < g->n; i++)
    if (g->items[i].stream)
      QC_TRY(write_stream(&g->items[i]));
  /* 4. The renames, all or (before the first) none. */
  atomic_fetch_add(&committing, 1);
  int rc = qc_interrupted() ? fail_interrupted() : QC_OK;
  for (int i = 0; i < g->n && rc == QC_OK; i++) {
    output *o = &g->items[i];
    if (o->stream)
      continue;
    if (renameat(o->dir_fd, o->tmp, o->dir_fd, o->base) != 0)
      rc = qc_fail(QC_EIO, "%s: cannot rename into place: %s", o->label, strerror(errno));
    else
      forget_temp(o);
  }
  atomic_fetch_sub(&committing, 1);
  return rc;
}

void qc_outputs_free(qc_outputs *g) {
  if (!g)
    return;
  for (int i = 0; i < g->n; i++)
    output_release(&g->items[i]);
  free(g->items);
  free(g);
}

/* ---- single files ---- */

int qc_atomic_open(qc_atomic_file *f, const char *path) {
  int id, rc = qc_outputs_create(&f->group);
  if (rc == QC_OK && (rc = qc_outputs_add(f->group, NULL, path, &id)) < 0)
    qc_atomic_abort(f);
  return rc;
}

int qc_atomic_write(qc_atomic_file *f, const void *data, size_t len) {
  if (!f->group)
    return qc_fail(QC_EINTERNAL, "write to a closed output");
  int rc = qc_outputs_write(f->group, 0, data, len);
  if (rc < 0)
    qc_atomic_abort(f);
  return rc;
}

int qc_atomic_commit(qc_atomic_file *f) {
  if (!f->group)
    return qc_fail(QC_EINTERNAL, "commit of a closed output");
  int rc = qc_outputs_commit(f->group);
  qc_atomic_abort(f);
  return rc;
}

void qc_atomic_abort(qc_atomic_file *f) {
  qc_outputs_free(f->group);
  f->group = NULL;
}

int qc_write_file_atomic(const char *path, const void *data, size_t len) {
  qc_atomic_file f;
  QC_TRY(qc_atomic_open(&f, path));
  QC_TRY(qc_atomic_write(&f, data, len));
  return qc_atomic_commit(&f);
}
