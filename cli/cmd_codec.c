/* TEMPORARY scaffolding, replaced by the codec layer's real commands. */
#include "cli/cli.h"
const char vdm_help_encode[] = "usage: vdmzip encode ... (not built yet)\n";
int vdm_cmd_encode(int argc, char **argv) { (void)argc; (void)argv; vdm_cli_error("encode: not available in this build yet"); return VDM_EXIT_INTERNAL; }
const char vdm_help_decode[] = "usage: vdmzip decode ... (not built yet)\n";
int vdm_cmd_decode(int argc, char **argv) { (void)argc; (void)argv; vdm_cli_error("decode: not available in this build yet"); return VDM_EXIT_INTERNAL; }
const char vdm_help_info[] = "usage: vdmzip info ... (not built yet)\n";
int vdm_cmd_info(int argc, char **argv) { (void)argc; (void)argv; vdm_cli_error("info: not available in this build yet"); return VDM_EXIT_INTERNAL; }
