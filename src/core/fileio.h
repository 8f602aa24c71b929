/* Atomic writes (temp file in the target dir + rename); reads are in readfile.h. */
#ifndef QC_FILEIO_H
#define QC_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Reading input files (qc_read_file, qc_open_regular) lives in readfile.h. */
#include "readfile.h"

/* Writes data to `path` atomically: a temp file beside it, fsync, rename.
 * On any failure the temp file is removed and the target is untouched. */
int qc_write_file_atomic(const char *path, const void *data, size_t len);

/* Streaming variant: open a temp file beside path, write chunks, commit or abort. */
typedef struct qc_atomic_file {
  int fd;
  char tmp_path[4096];
  char final_path[4096];
} qc_atomic_file;
int qc_atomic_open(qc_atomic_file *f, const char *path);
int qc_atomic_write(qc_atomic_file *f, const void *data, size_t len);
int qc_atomic_commit(qc_atomic_file *f);
void qc_atomic_abort(qc_atomic_file *f);

/* 1 if a and b name the same existing file (same device and inode). */
int qc_same_file(const char *a, const char *b);
/* Directory part of path ("." if none), into buf. */
void qc_dirname(const char *path, char *buf, size_t n);

/* Installs SIGINT/SIGTERM handlers that set a flag and remove any temp file
 * being written. qc_interrupted() polls the flag. */
void qc_install_signal_handlers(void);
int qc_interrupted(void);

#endif
