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

/* Streaming variant: chunks go to a temp file beside path; commit renames it
 * into place, abort removes it. */
typedef struct qc_atomic_file {
  struct qc_outputs *group;
} qc_atomic_file;
int qc_atomic_open(qc_atomic_file *f, const char *path);
int qc_atomic_write(qc_atomic_file *f, const void *data, size_t len);
int qc_atomic_commit(qc_atomic_file *f);
void qc_atomic_abort(qc_atomic_file *f);

/* Directory part of path ("." if none), into buf. */
void qc_dirname(const char *path, char *buf, size_t n);

/* ---- every file a job reads ----
 * Identities (device + inode) of the input files, so that no destination can
 * be one of them, whatever name (symlink, hard link) it is reached by. */
#include <sys/types.h>
typedef struct qc_file_id {
  dev_t dev;
  ino_t ino;
  char *path;
} qc_file_id;
typedef struct qc_file_set {
  qc_file_id *items;
  size_t n, cap;
} qc_file_set;
/* Adds the regular file path leads to (symlinks followed); anything else
 * (missing, a directory) is skipped: it cannot be overwritten by a file. */
int qc_file_set_add(qc_file_set *s, const char *path);
void qc_file_set_free(qc_file_set *s);

/* ---- outputs committed as a group ----
 * Each destination is checked when added: its directory exists and takes a
 * new file (a temp file is created there right away), the name fits
 * NAME_MAX, it is not a directory, socket or block device, and it names no
 * other destination of the group. Symlinks are resolved: the file they point
 * to is the destination. An existing character device or FIFO is a stream:
 * its bytes are kept in memory and written through at commit, never renamed
 * over. Regular destinations get their bytes in the temp file. Commit writes
 * the streams, then renames every temp file into place; any failure before
 * that (or freeing an uncommitted group) removes every temp file and changes
 * no destination. Temp files are named ".qconvert.tmp-XXXXXXXXXX" and are
 * removed by the SIGINT/SIGTERM/SIGHUP handler too. One thread only. */
typedef struct qc_outputs qc_outputs;
int qc_outputs_create(qc_outputs **out);
/* opt names the option in messages ("-o", "--report"; NULL: the path alone).
 * *id receives the output's index for qc_outputs_write. */
int qc_outputs_add(qc_outputs *g, const char *opt, const char *path, int *id);
/* QC_EUSAGE if any destination is one of the files in inputs. */
int qc_outputs_check_inputs(const qc_outputs *g, const qc_file_set *inputs);
/* Appends bytes to output id (ENOSPC, EFBIG, ... fail here, naming the file). */
int qc_outputs_write(qc_outputs *g, int id, const void *data, size_t len);
/* Bytes this run has written to output id. */
uint64_t qc_outputs_bytes(const qc_outputs *g, int id);
int qc_outputs_commit(qc_outputs *g);
/* Removes the temp files of an uncommitted group; NULL is a no-op. */
void qc_outputs_free(qc_outputs *g);

/* Installs SIGINT/SIGTERM/SIGHUP handlers that set a flag and remove every
 * pending temp file, and ignores SIGXFSZ and SIGPIPE so that a write past
 * `ulimit -f` or into a closed pipe fails with an error instead of killing
 * the process. qc_interrupted() polls the flag. */
void qc_install_signal_handlers(void);
int qc_interrupted(void);

#endif
