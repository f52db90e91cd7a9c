/* main.c — `vdmzip` entry point: dispatch, --help, --version. */
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "kernels/device.h"

#ifndef VDMZIP_FORMAT_VERSION
#define VDMZIP_FORMAT_VERSION 1
#endif

static const struct { const char *name; int (*fn)(int, char **); const char *help; const char *summary; } cmds[] = {
    { "encode", vdm_cmd_encode, vdm_help_encode, "compress a PNG into a .vdz file" },
    { "decode", vdm_cmd_decode, vdm_help_decode, "restore the exact PNG from a .vdz file" },
    { "info",   vdm_cmd_info,   vdm_help_info,   "describe a .vdz file" },
    { "eval",   vdm_cmd_eval,   vdm_help_eval,   "model's negative VLB vs actual code length, bits per sub-pixel" },
    { "train",  vdm_cmd_train,  vdm_help_train,  "train a codec model on a folder of PNGs" },
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

int vdm_cli_exit_code(vdm_status s)
{
    switch (s) {
    case VDM_OK: return VDM_EXIT_OK;
    case VDM_ERR_ARG: return VDM_EXIT_USAGE;
    case VDM_ERR_FORMAT: case VDM_ERR_TRUNCATED: case VDM_ERR_CORRUPT: case VDM_ERR_CHECKSUM:
    case VDM_ERR_VERSION: case VDM_ERR_UNSUPPORTED: case VDM_ERR_LIMIT: case VDM_ERR_PNG:
        return VDM_EXIT_INPUT;
    case VDM_ERR_IO: case VDM_ERR_EXISTS: return VDM_EXIT_IO;
    case VDM_ERR_MODEL_MISMATCH: return VDM_EXIT_MODEL;
    default: return VDM_EXIT_INTERNAL;
    }
}

void vdm_cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("vdmzip: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *out)
{
    fprintf(out,
            "vdmzip %s — lossless image codec: a variational diffusion model + bits-back rANS\n\n"
            "usage: vdmzip COMMAND [options] [files]\n\ncommands:\n",
            VDMZIP_VERSION_STRING);
    for (size_t i = 0; i < NCMDS; i++) fprintf(out, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(out,
            "  help CMD  options of one command\n\n"
            "  -h, --help     this text\n"
            "  -V, --version  program and format versions, build features\n\n"
            "exit codes: 0 ok, 1 usage, 2 bad input, 3 I/O, 4 model, 5 internal error\n");
}

static void version(void)
{
    char gpu[256];
    int ngpu = vdm_cuda_device_count(gpu, sizeof gpu);
    printf("vdmzip %s\n", VDMZIP_VERSION_STRING);
    printf("container format: vdz %d\n", VDMZIP_FORMAT_VERSION);
    printf("features: cuda=%s", vdm_cuda_compiled() ? "compiled" : "off");
    if (vdm_cuda_compiled()) {
        if (ngpu > 0) printf(" (gpu: %s%s)", gpu, ngpu > 1 ? ", +more" : "");
        else printf(" (no gpu found)");
    }
    printf(" simd=%s blas=openblas\n", vdm_simd_name(vdm_cpu_simd_level()));
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return VDM_EXIT_USAGE; }
    const char *c = argv[1];
    if (!strcmp(c, "-h") || !strcmp(c, "--help")) { usage(stdout); return 0; }
    if (!strcmp(c, "-V") || !strcmp(c, "--version") || !strcmp(c, "version")) { version(); return 0; }
    if (!strcmp(c, "help")) {
        if (argc < 3) { usage(stdout); return 0; }
        for (size_t i = 0; i < NCMDS; i++)
            if (!strcmp(argv[2], cmds[i].name)) { fputs(cmds[i].help, stdout); return 0; }
        vdm_cli_error("unknown command '%s' (see vdmzip --help)", argv[2]);
        return VDM_EXIT_USAGE;
    }
    for (size_t i = 0; i < NCMDS; i++) {
        if (strcmp(c, cmds[i].name)) continue;
        for (int a = 2; a < argc; a++) {
            if (!strcmp(argv[a], "--")) break;
            if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) { fputs(cmds[i].help, stdout); return 0; }
        }
        return cmds[i].fn(argc - 1, argv + 1);
    }
    vdm_cli_error("unknown command '%s' (see vdmzip --help)", c);
    return VDM_EXIT_USAGE;
}
