/* Plain driver for the fuzz harnesses: feeds every file named on the command
 * line (directories are walked, sorted, one level deep) through
 * LLVMFuzzerTestOneInput. A crash or abort fails the meson test; with the
 * sanitizer build (tools/sanitize.sh) so does any memory error or leak. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      fclose(f);
      return -1;
    }
    len += fread(buf + len, 1, cap - len, f);
    if (len < cap)
      break;
    cap *= 2;
    buf = realloc(buf, cap);
  }
  fclose(f);
  /* Exact-size copy so ASan catches reads past the end of the input. */
  uint8_t *exact = malloc(len ? len : 1);
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  int files = 0, errors = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      errors++;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      errors += run_file(argv[i]) < 0;
      files++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) {
      errors++;
      continue;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
      if (e->d_name[0] == '.')
        continue;
      names = realloc(names, sizeof *names * (n + 1));
      names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 1)
      qsort(names, n, sizeof *names, by_name);
    for (size_t k = 0; k < n; k++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], names[k]);
      if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        fprintf(stderr, "replay: %s\n", path);
        errors += run_file(path) < 0;
        files++;
      }
      free(names[k]);
    }
    free(names);
  }
  printf("replayed %d files, %d unreadable\n", files, errors);
  return errors ? 1 : 0;
}
