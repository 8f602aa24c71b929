/* Uses only the public header: api_tool MODEL OUT CALIB [OBSERVER]. */
#include <stdio.h>

#include "qconvert.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: api_tool MODEL OUT CALIB [OBSERVER]\n");
    return 2;
  }
  qconvert_options o;
  qconvert_options_init(&o);
  o.calib = argv[3];
  o.observer = argc > 4 ? argv[4] : NULL;
  int rc = qconvert_quantize(argv[1], argv[2], &o);
  if (rc != 0) {
    fprintf(stderr, "api_tool: %s\n", qconvert_last_error());
    return qconvert_exit_code(rc);
  }
  printf("qconvert %s: wrote %s\n", qconvert_version(), argv[2]);
  return 0;
}
