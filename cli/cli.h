/* cli.h — the vdmzip command: shared helpers and the subcommand table.
 *
 * Exit codes (documented in README.md and `vdmzip --help`):
 *   0 success
 *   1 usage error (bad option, missing argument)
 *   2 bad input (not a PNG/.vdz, corrupt, truncated, unsupported, over a limit)
 *   3 I/O error (cannot read or write; output exists without -f)
 *   4 model error (model missing, corrupt, or not the one the file needs)
 *   5 internal error or out of memory */
#ifndef VDM_CLI_H
#define VDM_CLI_H
#include "common/vdm_common.h"

enum { VDM_EXIT_OK = 0, VDM_EXIT_USAGE = 1, VDM_EXIT_INPUT = 2, VDM_EXIT_IO = 3,
       VDM_EXIT_MODEL = 4, VDM_EXIT_INTERNAL = 5 };

/* Map a library status to the documented exit code. */
int vdm_cli_exit_code(vdm_status s);
/* Print "vdmzip: <message>" to stderr (printf-style), one line. */
void vdm_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Subcommands: each parses its own options, returns an exit code. */
int vdm_cmd_encode(int argc, char **argv);
int vdm_cmd_decode(int argc, char **argv);
int vdm_cmd_info(int argc, char **argv);
int vdm_cmd_eval(int argc, char **argv);
int vdm_cmd_train(int argc, char **argv);

/* Per-subcommand help text (printed by `vdmzip help CMD` and `CMD --help`). */
extern const char vdm_help_encode[], vdm_help_decode[], vdm_help_info[],
                  vdm_help_eval[], vdm_help_train[];

/* The default model is the library's: vdmzip_model_default_path()
 * ($VDMZIP_MODEL, else PREFIX/share/vdmzip/default.vdm beside the installed
 * program or library, else the source tree's models/default.vdm). */
#endif
