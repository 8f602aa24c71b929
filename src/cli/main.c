/* qconvert: command dispatch. `qconvert MODEL --calib DIR` is the main job;
 * `inspect` and `run` are subcommands. */
#include <stdio.h>
#include <string.h>

#include "../qconvert.h"
#include "cli.h"

static void print_help(FILE *f) {
  fprintf(f,
          "qconvert %s - offline post-training quantizer for ONNX models\n"
          "\n"
          "usage:\n"
          "  qconvert MODEL --calib DIR [-o OUT] [--report FILE]...   quantize MODEL to int8 (QDQ)\n"
          "  qconvert inspect MODEL                                    summarize a model\n"
          "  qconvert run MODEL --input FILE... --output-dir DIR       run a model with the FP32 engine\n"
          "  qconvert eval FP32 [QUANT] --data DIR                    accuracy, agreement, SQNR\n"
          "  qconvert compare MODEL --calib DIR [--eval DIR]          compare observers from one calibration\n"
          "\n"
          "  qconvert COMMAND --help    options of a command (qconvert --help-quantize for the main job)\n"
          "  qconvert --version\n",
          QCONVERT_VERSION);
}

int main(int argc, char **argv) {
  cli_runtime_env(argv);
  if (argc < 2) {
    print_help(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    print_help(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    printf("qconvert %s\n", QCONVERT_VERSION);
    return 0;
  }
  if (strcmp(cmd, "inspect") == 0)
    return cmd_inspect(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "eval") == 0)
    return cmd_eval(argc - 1, argv + 1);
  if (strcmp(cmd, "compare") == 0)
    return cmd_compare(argc - 1, argv + 1);
  if (strcmp(cmd, "--help-quantize") == 0) {
    char *hargv[] = {argv[0], "--help", NULL};
    return cmd_quantize(2, hargv);
  }
  /* Anything else is the main job: qconvert MODEL [options]. */
  return cmd_quantize(argc, argv);
}
