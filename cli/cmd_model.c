/* TEMPORARY scaffolding, replaced by the model layer's real commands. */
#include "cli/cli.h"
const char vdm_help_eval[] = "usage: vdmzip eval ... (not built yet)\n";
int vdm_cmd_eval(int argc, char **argv) { (void)argc; (void)argv; vdm_cli_error("eval: not available in this build yet"); return VDM_EXIT_INTERNAL; }
const char vdm_help_train[] = "usage: vdmzip train ... (not built yet)\n";
int vdm_cmd_train(int argc, char **argv) { (void)argc; (void)argv; vdm_cli_error("train: not available in this build yet"); return VDM_EXIT_INTERNAL; }
