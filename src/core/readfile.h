/* Opening input files: every reader goes through qc_open_regular, so a FIFO,
 * device, socket or directory given where a file is expected is refused with
 * one line naming it, and never blocks the open. */
#ifndef QC_READFILE_H
#define QC_READFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Opens path read-only without blocking and refuses anything but a regular
 * file ("PATH: is a FIFO, not a regular file"), checked with fstat on the
 * opened descriptor so nothing can be swapped in between. *size gets the
 * file size (may be NULL). Errors are QC_EIO with a message naming the path
 * (a hard error: callers that skip corrupt files must not skip these). */
int qc_open_regular(const char *path, int *fd, uint64_t *size);
/* The same as a stdio stream ("rb"). */
int qc_fopen_regular(const char *path, FILE **f, uint64_t *size);
/* For directory walks that already have a stat: QC_OK for a regular file's
 * st_mode, else the same error as qc_open_regular. */
int qc_check_regular_mode(const char *path, unsigned mode);

/* Reads a whole regular file into a malloc'd buffer (NUL-terminated for
 * convenience; *len excludes it). Missing/unreadable files are QC_EIO with a
 * message naming the path. Files above max_bytes are QC_ELIMIT (0: no cap). */
int qc_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len);

#endif
