/* cmd_codec.c — `vdmzip encode`, `decode` and `info`.
 *
 * encode and decode are clients of the public API (include/vdmzip.h): one
 * shared, immutable vdmzip_model, one encoder/decoder context per worker.
 * `info` prints internal detail of the container and uses the internal probe.
 *
 * Behaviour users of zstd/cjxl expect: default output next to the input
 * (IN.png -> IN.vdz, IN.vdz -> IN.png), "-" for stdin/stdout, -c for
 * stdout, never replace a file without -f, atomic output (cli_util.c), one
 * error line per failure, exit codes of cli.h.
 *
 * Batches: several inputs, -r walks folders (sorted, so messages come in a
 * fixed order), --jobs N codes N files at once.  A bad file gets one error
 * line and is skipped; the batch goes on and exits with the first failing
 * file's code (in input order, so the code does not depend on N).  Each
 * file's messages are collected and printed whole, in input order, when the
 * file and all before it are done.  Output bytes never depend on N: each
 * file is coded by the same library call whatever thread runs it. */
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "codec/vdz.h"          /* info: the internal probe (internal detail) */
#include "kernels/device.h"     /* --device cuda: refused before any work */
#include "vdmzip.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char vdm_help_encode[] =
    "usage: vdmzip encode [options] IN.png|DIR [IN2.png ...]\n"
    "\n"
    "Compress PNG files losslessly into .vdz files.  Every PNG colour type and\n"
    "bit depth is accepted; the decoder gives back the same pixels, colour type,\n"
    "bit depth, palette, transparency, interlacing and ancillary chunks.\n"
    "\n"
    "  -o, --output OUT   output file (default: IN with .png replaced by .vdz, next\n"
    "                     to IN; \"-\" writes to standard output; only with one input)\n"
    "  -c, --stdout       write to standard output (only with one input)\n"
    "  -                  as input: read the PNG from standard input (then the\n"
    "                     output defaults to standard output)\n"
    "  -r, --recursive    code the *.png files in the folders given, and in their\n"
    "                     subfolders (each IN.vdz next to its IN.png)\n"
    "  -f, --force        overwrite existing output files; write binary data to a\n"
    "                     terminal\n"
    "      --rm           remove each input once its output is written and verified\n"
    "                     (the .vdz read back and decoded: the decoder checks the\n"
    "                     input's pixel SHA-256 stored in it); a failed file keeps\n"
    "                     its input; ignored when writing to standard output\n"
    "  -j, --jobs N       code N files at once (1..64, default 1); never changes\n"
    "                     the output\n"
    "  -v, --verbose      print sizes, bits per sub-pixel and timings per file, and\n"
    "                     the summary line also for one file\n"
    "  -q, --quiet        no progress line, no summary line\n"
    "      --steps T      diffusion steps T for the model coder (1..16384,\n"
    "                     default: the model's own)\n"
    "      --model M      model weights file (default: $VDMZIP_MODEL, else the\n"
    "                     installed default.vdm)\n"
    "      --threads N    worker threads per file (1..256, default 1); never changes\n"
    "                     the output\n"
    "      --device D     where the model's network runs: cpu (default) or cuda\n"
    "                     (GPU 0); never changes the output\n"
    "      --classical-only  code without the model (the classical coder only)\n"
    "      --model-only   keep the model's coding even where the classical coder\n"
    "                     would give a smaller file (to measure the model)\n"
    "      --model-try W  auto (default): first code 6 sampled tiles with the model\n"
    "                     (2 when it clearly loses both) and skip the model's\n"
    "                     whole-image try (most of the encode time) when they\n"
    "                     predict it cannot beat the classical file; always: try\n"
    "                     it on every image (the smaller file is kept either way)\n"
    "      --tiles MODE   how the model's file uses CM tiles (tiles coded by the\n"
    "                     context-modelled coder inside the model's chain):\n"
    "                     choose (default): per 64x64 tile the smaller of the two;\n"
    "                     seed (default with --model-only): only to start the\n"
    "                     chain, the model codes every other tile; model: no CM\n"
    "                     tiles (the older layout, the chain's start pays initial bits)\n"
    "      --effort E     classical coder's effort: 0 fast (context modelling,\n"
    "                     method 2), 1 default (also context mixing, CM9, ~11-15\n"
    "                     s per megapixel, and zstd where it may win), 2 zstd at max\n"
    "      --strip        drop ancillary PNG chunks (text, ICC profile, ...)\n"
    "\n"
    "8-bit RGB(A) images are coded with the model (bits-back ANS over the\n"
    "diffusion chain) when a model file is found; alpha, gray, palette, 16-bit\n"
    "and low-depth images, and any image where the model would lose, use the\n"
    "classical coder (context mixing / context-modelled prediction + arithmetic\n"
    "coding, filtered rows + zstd, or stored: whichever is smallest).  Without a\n"
    "model file the classical coder codes everything (-v says so).\n"
    "\n"
    "A bad file is named on stderr and skipped; the others are still coded and\n"
    "the exit code is the first failing file's.\n"
    "\n"
    "exit codes: 0 ok, 1 usage, 2 bad input, 3 I/O (or output exists), 4 model,\n"
    "5 internal error\n";

const char vdm_help_decode[] =
    "usage: vdmzip decode [options] IN.vdz|DIR [IN2.vdz ...]\n"
    "\n"
    "Restore the exact PNG image from .vdz files.  The decoded pixels are checked\n"
    "against the SHA-256 stored in the file; nothing is written if they differ.\n"
    "\n"
    "  -o, --output OUT   output file (default: IN with .vdz replaced by .png, next\n"
    "                     to IN; \"-\" writes to standard output; only with one input)\n"
    "  -c, --stdout       write to standard output (only with one input)\n"
    "  -                  as input: read from standard input (output then\n"
    "                     defaults to standard output)\n"
    "  -r, --recursive    decode the *.vdz files in the folders given, and in their\n"
    "                     subfolders\n"
    "  -f, --force        overwrite existing output files; write to a terminal\n"
    "      --rm           remove each input once its PNG is written and read back\n"
    "                     identical; ignored when writing to standard output\n"
    "  -j, --jobs N       decode N files at once (1..64, default 1)\n"
    "  -v, --verbose      print sizes and timings, and the summary line\n"
    "  -q, --quiet        no progress line, no summary line\n"
    "      --model M      model weights file, for files coded with the model\n"
    "                     (default: $VDMZIP_MODEL, else the installed default.vdm)\n"
    "      --threads N    worker threads per file (1..256)\n"
    "      --device D     where the model's network runs: cpu (default) or cuda;\n"
    "                     files decode the same on either, whichever encoded them\n"
    "\n"
    "exit codes: 0 ok, 1 usage, 2 bad input, 3 I/O (or output exists), 4 model,\n"
    "5 internal error\n";

const char vdm_help_info[] =
    "usage: vdmzip info [--json] FILE.vdz [FILE2.vdz ...]\n"
    "\n"
    "Check a .vdz file's structure and checksums (without decoding pixels) and\n"
    "print its header: format version, image size, colour type, bit depth,\n"
    "interlacing, palette, the model it needs, metadata and payload sections,\n"
    "bits per sub-pixel.  \"-\" reads standard input.\n"
    "\n"
    "      --json         one JSON object per file, on one line\n"
    "\n"
    "exit codes: 0 ok, 1 usage, 2 bad input, 3 I/O\n";

/* ---- option parsing ------------------------------------------------------- */

enum { TILES_UNSET = -1 };

typedef struct {
    const char *output;
    int force, verbose, quiet, classical_only, model_only, json, strip, effort;
    int recursive, to_stdout, rm;
    int tiles;                   /* vdmzip_options.tiles, TILES_UNSET: by --model-only */
    int model_try;               /* vdmzip_options.model_try */
    long steps, threads, jobs;
    int device;                  /* VDMZIP_DEVICE_* */
    const char *model;
    const char **inputs;
    int ninputs;
} opts;

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* allow_codec_opts: 0 info, 1 decode, 2 encode.  Returns -1 on success,
 * else an exit code. */
static int parse_opts(const char *cmd, int argc, char **argv, opts *o, int allow_codec_opts)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->jobs = 1;
    o->effort = 1;
    o->tiles = TILES_UNSET;
    o->inputs = calloc((size_t)argc + 1, sizeof *o->inputs);
    if (!o->inputs) { vdm_cli_error("out of memory"); return VDM_EXIT_INTERNAL; }
    int only_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_files || a[0] != '-' || !strcmp(a, "-")) {
            o->inputs[o->ninputs++] = a;
            continue;
        }
        if (!strcmp(a, "--")) { only_files = 1; continue; }
        /* --name=value or --name value */
        const char *val = NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (a[1] == '-' && eq) {
            size_t k = (size_t)(eq - a);
            if (k >= sizeof name) k = sizeof name - 1;
            memcpy(name, a, k);
            name[k] = 0;
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
#define NEEDS_VALUE()                                                              \
    do {                                                                           \
        if (!val) {                                                                \
            if (i + 1 >= argc) {                                                   \
                vdm_cli_error("%s: option %s needs a value", cmd, name);           \
                return VDM_EXIT_USAGE;                                             \
            }                                                                      \
            val = argv[++i];                                                       \
        }                                                                          \
    } while (0)
        static const char *const flags[] = {
            "--json", "-f", "--force", "-v", "--verbose", "-q", "--quiet", "--fallback-only",
            "--classical-only", "--model-only", "--strip", "-r", "--recursive", "-c",
            "--stdout", "--rm",
        };
        int is_flag = 0;
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) is_flag |= !strcmp(name, flags[k]);
        if (is_flag && val) {
            vdm_cli_error("%s: option %s takes no value", cmd, name);
            return VDM_EXIT_USAGE;
        }
        if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
            NEEDS_VALUE();
            o->output = val;
        } else if (!strcmp(name, "--json") && !allow_codec_opts) {
            o->json = 1;
        } else if (allow_codec_opts && (!strcmp(name, "-f") || !strcmp(name, "--force"))) {
            o->force = 1;
        } else if (allow_codec_opts && (!strcmp(name, "-v") || !strcmp(name, "--verbose"))) {
            o->verbose = 1;
        } else if (allow_codec_opts && (!strcmp(name, "-q") || !strcmp(name, "--quiet"))) {
            o->quiet = 1;
        } else if (allow_codec_opts && (!strcmp(name, "-r") || !strcmp(name, "--recursive"))) {
            o->recursive = 1;
        } else if (allow_codec_opts && (!strcmp(name, "-c") || !strcmp(name, "--stdout"))) {
            o->to_stdout = 1;
        } else if (allow_codec_opts && !strcmp(name, "--rm")) {
            o->rm = 1;
        } else if (allow_codec_opts && (!strcmp(name, "-j") || !strcmp(name, "--jobs"))) {
            NEEDS_VALUE();
            if (!parse_long(val, 1, 64, &o->jobs)) {
                vdm_cli_error("%s: --jobs must be an integer in 1..64, not '%s'", cmd, val);
                return VDM_EXIT_USAGE;
            }
        } else if (allow_codec_opts && !strcmp(name, "--model")) {
            NEEDS_VALUE();
            o->model = val;
        } else if (allow_codec_opts && !strcmp(name, "--threads")) {
            NEEDS_VALUE();
            if (!parse_long(val, 1, 256, &o->threads)) {
                vdm_cli_error("%s: --threads must be an integer in 1..256, not '%s'", cmd, val);
                return VDM_EXIT_USAGE;
            }
        } else if (allow_codec_opts && !strcmp(name, "--device")) {
            NEEDS_VALUE();
            if (!strcmp(val, "cpu")) o->device = VDMZIP_DEVICE_CPU;
            else if (!strcmp(val, "cuda")) o->device = VDMZIP_DEVICE_CUDA;
            else {
                vdm_cli_error("%s: --device must be cpu or cuda, not '%s'", cmd, val);
                return VDM_EXIT_USAGE;
            }
        } else if (allow_codec_opts == 2 && !strcmp(name, "--steps")) {
            NEEDS_VALUE();
            if (!parse_long(val, 1, VDM_VDZ_MAX_STEPS, &o->steps)) {
                vdm_cli_error("%s: --steps must be an integer in 1..%u, not '%s'", cmd,
                              VDM_VDZ_MAX_STEPS, val);
                return VDM_EXIT_USAGE;
            }
        } else if (allow_codec_opts == 2 &&
                   (!strcmp(name, "--classical-only") || !strcmp(name, "--fallback-only"))) {
            o->classical_only = 1;   /* --fallback-only: the flag's old name */
        } else if (allow_codec_opts == 2 && !strcmp(name, "--model-only")) {
            o->model_only = 1;
        } else if (allow_codec_opts == 2 && !strcmp(name, "--model-try")) {
            NEEDS_VALUE();
            if (!strcmp(val, "auto")) o->model_try = 0;
            else if (!strcmp(val, "always")) o->model_try = 1;
            else {
                vdm_cli_error("%s: --model-try must be auto or always, not '%s'", cmd, val);
                return VDM_EXIT_USAGE;
            }
        } else if (allow_codec_opts == 2 && !strcmp(name, "--tiles")) {
            NEEDS_VALUE();
            if (!strcmp(val, "choose")) o->tiles = 0;
            else if (!strcmp(val, "seed")) o->tiles = 1;
            else if (!strcmp(val, "model")) o->tiles = 2;
            else {
                vdm_cli_error("%s: --tiles must be choose, seed or model, not '%s'", cmd, val);
                return VDM_EXIT_USAGE;
            }
        } else if (allow_codec_opts == 2 && !strcmp(name, "--strip")) {
            o->strip = 1;
        } else if (allow_codec_opts == 2 && !strcmp(name, "--effort")) {
            NEEDS_VALUE();
            long e;
            if (!parse_long(val, 0, 2, &e)) {
                vdm_cli_error("%s: --effort must be 0, 1 or 2, not '%s'", cmd, val);
                return VDM_EXIT_USAGE;
            }
            o->effort = (int)e;
        } else {
            vdm_cli_error("%s: unknown option '%s' (see vdmzip help %s)", cmd, a, cmd);
            return VDM_EXIT_USAGE;
        }
#undef NEEDS_VALUE
    }
    if (o->ninputs == 0) {
        vdm_cli_error("%s: no input file (see vdmzip help %s)", cmd, cmd);
        return VDM_EXIT_USAGE;
    }
    if (o->classical_only && o->model_only) {
        vdm_cli_error("%s: --classical-only and --model-only exclude each other", cmd);
        return VDM_EXIT_USAGE;
    }
    if (o->to_stdout && o->output) {
        vdm_cli_error("%s: -c (standard output) and -o exclude each other", cmd);
        return VDM_EXIT_USAGE;
    }
    if (o->to_stdout && o->ninputs > 1) {
        vdm_cli_error("%s: -c needs exactly one input file (a .vdz/PNG holds one image; "
                      "several would be concatenated)", cmd);
        return VDM_EXIT_USAGE;
    }
    if (o->output && o->ninputs > 1) {
        vdm_cli_error("%s: -o needs exactly one input file", cmd);
        return VDM_EXIT_USAGE;
    }
    if (o->to_stdout) o->output = "-";
    /* Say it before any work (and even when no file ends up needing the
     * model): the device asked for does not exist here. */
    if (o->device == VDMZIP_DEVICE_CUDA && !vdm_cuda_compiled()) {
        vdm_cli_error("%s: --device cuda: this vdmzip was built without CUDA "
                      "(rebuild with -DVDMZIP_CUDA=ON, or use --device cpu)", cmd);
        return VDM_EXIT_USAGE;
    }
    if (o->device == VDMZIP_DEVICE_CUDA && vdm_cuda_device_count(NULL, 0) < 1) {
        vdm_cli_error("%s: --device cuda: no usable CUDA GPU found (use --device cpu)", cmd);
        return VDM_EXIT_USAGE;
    }
    return -1;
}

/* ---- messages ---------------------------------------------------------------- */

/* Map an API error to the documented exit code (cli.h). */
static int api_exit_code(vdmzip_error e)
{
    switch (e) {
    case VDMZIP_OK: return VDM_EXIT_OK;
    case VDMZIP_ERROR_ARGUMENT: case VDMZIP_ERROR_DEVICE: return VDM_EXIT_USAGE;
    case VDMZIP_ERROR_FORMAT: case VDMZIP_ERROR_TRUNCATED: case VDMZIP_ERROR_CORRUPT:
    case VDMZIP_ERROR_CHECKSUM: case VDMZIP_ERROR_VERSION: case VDMZIP_ERROR_UNSUPPORTED:
    case VDMZIP_ERROR_LIMIT: case VDMZIP_ERROR_PNG:
        return VDM_EXIT_INPUT;
    case VDMZIP_ERROR_IO: case VDMZIP_ERROR_EXISTS: return VDM_EXIT_IO;
    case VDMZIP_ERROR_MODEL_MISMATCH: return VDM_EXIT_MODEL;
    default: return VDM_EXIT_INTERNAL;
    }
}

/* One "vdmzip: ..." line to a file's message stream. */
static void emsg(FILE *ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emsg(FILE *ms, const char *fmt, ...)
{
    va_list ap;
    fputs("vdmzip: ", ms);
    va_start(ap, fmt);
    vfprintf(ms, fmt, ap);
    va_end(ap);
    fputc('\n', ms);
}

/* "vdmzip: NAME: reason" (the library's detail if any); returns the exit code. */
static int fail_api(FILE *ms, const char *name, vdmzip_error e, const char *detail)
{
    if (!detail || !*detail) detail = vdmzip_error_string(e);
    if (e == VDMZIP_ERROR_EXISTS) emsg(ms, "%s: output exists (use -f to overwrite)", name);
    else emsg(ms, "%s: %s", name, detail);
    return api_exit_code(e);
}

/* The same for the CLI's own helpers (cli_util.h), which speak vdm_status. */
static int fail_st(FILE *ms, const char *name, vdm_status st, const char *detail)
{
    if (!detail || !*detail) detail = vdm_error_name(st);
    if (st == VDM_ERR_EXISTS) emsg(ms, "%s: output exists (use -f to overwrite)", name);
    else emsg(ms, "%s: %s", name, detail);
    return vdm_cli_exit_code(st);
}

static const char *color_name(unsigned ct)
{
    switch (ct) {
    case VDMZIP_COLOR_GRAY: return "gray";
    case VDMZIP_COLOR_RGB: return "RGB";
    case VDMZIP_COLOR_PALETTE: return "palette";
    case VDMZIP_COLOR_GRAY_ALPHA: return "gray+alpha";
    case VDMZIP_COLOR_RGBA: return "RGBA";
    default: return "?";
    }
}

static const char *method_name(int m)
{
    switch (m) {
    case 0: return "stored";
    case 1: return "zstd";
    case 2: return "cm";
    case 3: return "cm3";
    case 4: return "cm4";
    case 5: return "cm5";
    case 6: return "cm6";
    case 7: return "cm7";
    case 8: return "cm8";
    case 9: return "cm9";
    default: return "none";
    }
}

static const char *disp(const char *path) { return strcmp(path, "-") ? path : "<stdin>"; }
static const char *disp_out(const char *path) { return strcmp(path, "-") ? path : "<stdout>"; }

/* ---- the batch: inputs ------------------------------------------------------ */

typedef struct job {
    const char *in;          /* the path as given or found ("-": stdin) */
    char *in_owned;          /* found by -r (freed with the batch) */
    int pre_rc;              /* != 0: failed while listing (message in pre_msg) */
    char *pre_msg;
    /* results, written by the worker that codes the file */
    char *msg;               /* the file's whole messages (open_memstream) */
    size_t msg_len;
    int rc, done;
    uint64_t in_bytes, out_bytes, subpixels;
    uint64_t vdz_bytes;      /* the .vdz side, for bits per sub-pixel */
} job;

typedef struct batch {
    const char *cmd;         /* "encode" / "decode" */
    int encode;
    opts *o;
    job *jobs;
    int njobs, cap;
    /* directories walked by -r, to skip symlink loops */
    struct { dev_t dev; ino_t ino; } *seen;
    int nseen, seen_cap;
    pthread_mutex_t mu;      /* next, next_print, jobs[].done, printing */
    int next, next_print;
    int progress;            /* a progress line is allowed (one job) */
    /* the shared model: loaded before the workers start (encode) or by the
     * first file that needs it (decode, under model_mu); immutable after */
    pthread_mutex_t model_mu;
    vdmzip_model *model;
    const char *model_file;
    int model_failed;        /* decode: the load failed (each file says so) */
    const char *no_model;    /* encode: why the classical coder codes alone */
} batch;

static job *add_job(batch *b, const char *in, char *owned)
{
    if (b->njobs == b->cap) {
        int nc = b->cap ? 2 * b->cap : 16;
        job *nj = realloc(b->jobs, (size_t)nc * sizeof *nj);
        if (!nj) { free(owned); return NULL; }
        b->jobs = nj;
        b->cap = nc;
    }
    job *j = &b->jobs[b->njobs++];
    memset(j, 0, sizeof *j);
    j->in = owned ? owned : in;
    j->in_owned = owned;
    return j;
}

/* A failure found while listing the inputs, reported in its place. */
static int add_failed(batch *b, const char *in, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add_failed(batch *b, const char *in, int rc, const char *fmt, ...)
{
    job *j = add_job(b, in, NULL);
    if (!j) return -1;
    char line[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    j->pre_msg = strdup(line);
    j->pre_rc = rc;
    return 0;
}

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && !strcasecmp(name + n - e, ext);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns 1 if the directory was seen before (a symlink loop or a folder
 * named twice), else records it. */
static int seen_dir(batch *b, const struct stat *sb)
{
    for (int i = 0; i < b->nseen; i++)
        if (b->seen[i].dev == sb->st_dev && b->seen[i].ino == sb->st_ino) return 1;
    if (b->nseen == b->seen_cap) {
        int nc = b->seen_cap ? 2 * b->seen_cap : 16;
        void *ns = realloc(b->seen, (size_t)nc * sizeof *b->seen);
        if (!ns) return 1;
        b->seen = ns;
        b->seen_cap = nc;
    }
    b->seen[b->nseen].dev = sb->st_dev;
    b->seen[b->nseen].ino = sb->st_ino;
    b->nseen++;
    return 0;
}

/* -r: the files of `dir` ending in ext, and its subfolders', in sorted
 * order (folders and files sorted together by name).  Returns -1 on OOM. */
static int walk(batch *b, const char *dir, const char *ext)
{
    DIR *d = opendir(dir);
    if (!d) {
        return add_failed(b, dir, VDM_EXIT_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) { rc = -1; break; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) { rc = -1; break; }
        n++;
    }
    closedir(d);
    if (rc == 0) qsort(names, n, sizeof *names, cmp_str);
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] == '/';
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t pl = dl + 1 + strlen(names[i]) + 1;
        char *p = malloc(pl);
        if (!p) { rc = -1; break; }
        snprintf(p, pl, "%s%s%s", dir, slash ? "" : "/", names[i]);
        struct stat sb;
        if (stat(p, &sb) != 0) {           /* a dangling link: not a file to code */
            free(p);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            if (!seen_dir(b, &sb)) rc = walk(b, p, ext);
            free(p);
        } else if (S_ISREG(sb.st_mode) && has_ext(names[i], ext)) {
            if (!add_job(b, NULL, p)) rc = -1;
        } else {
            free(p);
        }
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

/* The inputs as jobs: files as given, folders walked with -r. */
static int list_inputs(batch *b)
{
    const char *ext = b->encode ? ".png" : ".vdz";
    int any_dir = 0;
    for (int i = 0; i < b->o->ninputs; i++) {
        const char *in = b->o->inputs[i];
        struct stat sb;
        int r = 0;
        if (strcmp(in, "-") && stat(in, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            any_dir = 1;
            if (!b->o->recursive)
                r = add_failed(b, in, VDM_EXIT_IO, "%s: is a folder (use -r to %s the %s files in it)",
                               in, b->cmd, ext);
            else if (!seen_dir(b, &sb))
                r = walk(b, in, ext);
        } else {
            r = add_job(b, in, NULL) ? 0 : -1;
        }
        if (r < 0) { vdm_cli_error("out of memory"); return VDM_EXIT_INTERNAL; }
    }
    if (b->o->output && any_dir && b->o->recursive) {
        vdm_cli_error("%s: %s needs exactly one input file, not a folder", b->cmd,
                      b->o->to_stdout ? "-c" : "-o");
        return VDM_EXIT_USAGE;
    }
    if (b->njobs == 0) {
        vdm_cli_error("%s: no %s file found in the folders given", b->cmd, ext);
        return VDM_EXIT_USAGE;
    }
    return -1;
}

/* ---- the batch: per-file work ------------------------------------------------ */

typedef struct worker {
    batch *b;
    vdmzip_encoder *enc;
    vdmzip_decoder *dec;
    const vdmzip_model *dec_model;   /* the model dec was made with */
    vdm_cli_progress prog;
} worker;

static int progress_fn(void *user, double fraction)
{
    vdm_cli_progress_cb(user, fraction);
    return 0;                /* Ctrl-C ends the program (cli_util.c's handler) */
}

static void base_options(const batch *b, worker *w, vdmzip_options *vo)
{
    const opts *o = b->o;
    vdmzip_options_init(vo);
    vo->threads = (unsigned)o->threads;
    vo->effort = o->effort;
    vo->mode = o->classical_only ? VDMZIP_MODE_CLASSICAL
               : o->model_only   ? VDMZIP_MODE_MODEL
                                 : VDMZIP_MODE_AUTO;
    vo->steps = (unsigned)o->steps;
    vo->keep_metadata = !o->strip;
    vo->model_try = o->model_try;
    /* --model-only measures the model: CM tiles only to seed the chain */
    vo->tiles = o->tiles != TILES_UNSET ? o->tiles : o->model_only ? 1 : 0;
    if (b->progress) {
        vo->progress = progress_fn;
        vo->progress_user = &w->prog;
    }
}

/* The worker's decoder, made with `model` (NULL: for files that need none). */
static vdmzip_error get_decoder(worker *w, const vdmzip_model *model)
{
    if (w->dec && w->dec_model == model) return VDMZIP_OK;
    vdmzip_decoder_free(w->dec);
    w->dec = NULL;
    vdmzip_options vo;
    base_options(w->b, w, &vo);
    vdmzip_error e = vdmzip_decoder_create(model, &vo, &w->dec);
    if (e == VDMZIP_OK) w->dec_model = model;
    return e;
}

/* Load a model from `file`, on the device asked for.  Any failure is a
 * model error (exit 4) with one line naming the file and the reason (a
 * device failure: exit 1, as a bad --device). */
static int load_model(FILE *ms, const char *cmd, const opts *o, const char *file, vdmzip_model **out)
{
    vdmzip_model *m = NULL;
    vdmzip_error e = vdmzip_model_load_file(file, &m);
    if (e != VDMZIP_OK) {
        emsg(ms, "%s: model '%s': %s", cmd, file,
             e == VDMZIP_ERROR_IO ? "cannot read it" : vdmzip_error_string(e));
        return e == VDMZIP_ERROR_NOMEM ? VDM_EXIT_INTERNAL : VDM_EXIT_MODEL;
    }
    if (o->device != VDMZIP_DEVICE_CPU && (e = vdmzip_model_set_device(m, o->device)) != VDMZIP_OK) {
        emsg(ms, "%s: --device cuda: cannot run model '%s' on the GPU: %s", cmd, file,
             vdmzip_error_string(e));
        vdmzip_model_free(m);
        return e == VDMZIP_ERROR_NOMEM ? VDM_EXIT_INTERNAL : VDM_EXIT_USAGE;
    }
    *out = m;
    return -1;
}

/* Output name (default: IN with from_ext replaced by to_ext, next to IN;
 * *owned_out is freed by the caller), the checks every file gets before any
 * work (no overwrite without -f, no binary data to a terminal, input !=
 * output), and reading the whole input into *buf (caller frees).  Returns -1
 * to go on, else the exit code. */
static int start_file(FILE *ms, const char *in, const opts *o, const char *from_ext,
                      const char *to_ext, const char *what, const char **out_p, char **owned_out,
                      uint8_t **buf, size_t *n)
{
    const char *out = o->output;
    if (!out) {
        if (!strcmp(in, "-")) out = "-";
        else out = *owned_out = vdm_cli_default_output(in, from_ext, to_ext);
        if (!out) return fail_st(ms, in, VDM_ERR_NOMEM, NULL);
    }
    *out_p = out;
    if (strcmp(out, "-") && !o->force && vdm_cli_exists(out)) return fail_st(ms, out, VDM_ERR_EXISTS, NULL);
    if (!strcmp(out, "-") && vdm_cli_stdout_is_tty() && !o->force) {
        emsg(ms, "%s: refusing to write %s to a terminal (use -o or -f)", disp(in), what);
        return VDM_EXIT_USAGE;
    }
    if (strcmp(in, "-") && strcmp(out, "-") && vdm_cli_same_file(in, out)) {
        emsg(ms, "%s: input and output are the same file", in);
        return VDM_EXIT_USAGE;
    }
    const char *why;
    vdm_status st = vdm_cli_read_all(in, VDM_MAX_INPUT_FILE_BYTES, buf, n, &why);
    if (st != VDM_OK) return fail_st(ms, disp(in), st, why);
    return -1;
}

/* --rm: read the written file back and compare it with the bytes meant for
 * it; then remove the input.  Returns -1 on success, else an exit code (the
 * input is kept). */
static int verify_written_and_remove(FILE *ms, const char *in, const char *out, const void *data,
                                     size_t size)
{
    uint8_t *back = NULL;
    size_t bn = 0;
    const char *why;
    vdm_status st = vdm_cli_read_all(out, (uint64_t)size + 1, &back, &bn, &why);
    int same = st == VDM_OK && bn == size && !memcmp(back, data, size);
    free(back);
    if (!same) {
        emsg(ms, "%s: %s does not read back as written (%s); removed it, input kept", disp(in), out,
             st != VDM_OK ? why : "other bytes");
        unlink(out);
        return VDM_EXIT_IO;
    }
    if (unlink(in)) {
        emsg(ms, "%s: cannot remove it (--rm): %s", in, strerror(errno));
        return VDM_EXIT_IO;
    }
    return -1;
}

static int encode_file(worker *w, job *j, FILE *ms)
{
    batch *b = w->b;
    const opts *o = b->o;
    const char *in = j->in;
    char *owned_out = NULL;
    const char *out = NULL;
    uint8_t *buf = NULL;
    void *vdz = NULL, *png_back = NULL;
    size_t n = 0, vn = 0, pbn = 0;
    vdmzip_error e;
    double t0 = vdm_cli_now();
    int rc = start_file(ms, in, o, ".png", ".vdz", "compressed data", &out, &owned_out, &buf, &n);
    if (rc >= 0) goto done;
    rc = VDM_EXIT_OK;
    double t_read = vdm_cli_now();
    if (!w->enc) {
        vdmzip_options vo;
        base_options(b, w, &vo);
        if ((e = vdmzip_encoder_create(b->model, &vo, &w->enc)) != VDMZIP_OK) {
            rc = fail_api(ms, disp(in), e, NULL);
            goto done;
        }
    }
    vdm_cli_progress_init(&w->prog, "vdmzip: encoding", o->quiet || !b->progress);
    e = vdmzip_encode_png(w->enc, buf, n, &vdz, &vn);
    vdm_cli_progress_done(&w->prog);
    if (e != VDMZIP_OK) { rc = fail_api(ms, disp(in), e, vdmzip_encoder_error_detail(w->enc)); goto done; }
    vdmzip_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    vdmzip_encoder_stats(w->enc, &s);
    double t_enc = vdm_cli_now();
    const char *why;
    vdm_status st = vdm_cli_write_atomic(out, vdz, vn, o->force, &why);
    if (st != VDM_OK) { rc = fail_st(ms, disp_out(out), st, why); goto done; }
    j->in_bytes = n;
    j->out_bytes = j->vdz_bytes = vn;
    j->subpixels = s.subpixels;
    double t_verify = 0;
    if (o->rm && strcmp(in, "-") && strcmp(out, "-")) {
        /* Verified = the written bytes read back identical, and they decode:
         * the decoder checks the decoded pixels against the SHA-256 the
         * encoder stored, computed from this input's pixels, so a clean
         * decode proves the file holds exactly the input's image. */
        double tv = vdm_cli_now();
        e = get_decoder(w, b->model);
        if (e == VDMZIP_OK) e = vdmzip_decode_png(w->dec, vdz, vn, &png_back, &pbn);
        if (e != VDMZIP_OK) {
            emsg(ms, "%s: the written %s does not decode (%s); removed it, input kept", disp(in), out,
                 w->dec ? vdmzip_decoder_error_detail(w->dec) : vdmzip_error_string(e));
            unlink(out);
            rc = VDM_EXIT_INTERNAL;
            goto done;
        }
        int r = verify_written_and_remove(ms, in, out, vdz, vn);
        if (r >= 0) { rc = r; goto done; }
        t_verify = vdm_cli_now() - tv;
    }
    if (o->verbose) {
        vdmzip_info info;
        memset(&info, 0, sizeof info);
        vdmzip_get_info(vdz, vn, &info);
        uint64_t packed = ((uint64_t)info.width * (uint64_t)info.channels * (uint64_t)info.bit_depth + 7) / 8 *
                          info.height;
        fprintf(ms,
                "%s: %ux%u %s %d-bit%s, %" PRIu64 " sub-pixels -> %s: %" PRIu64 " bytes, "
                "%.4f bits/sub-pixel (%.1f%% of the packed pixels)\n",
                disp(in), info.width, info.height, color_name((unsigned)info.color_type), info.bit_depth,
                info.interlaced ? " interlaced" : "", s.subpixels, disp_out(out), s.file_bytes,
                s.bits_per_subpixel, 100.0 * (double)s.file_bytes / (double)(packed ? packed : 1));
        if (s.model_estimated) {
            double sd = s.estimate_subpixels > 0 ? s.estimate_subpixels : 1.0;
            fprintf(ms, "  model estimate (%.1f s): on %u of %u tiles the model %.4f vs CM %.4f bits/sub-pixel, "
                        "wins %u; predicted saving %.2f%% of the CM tiles (threshold %.1f%%) -> %s\n",
                    s.estimate_seconds, s.estimate_sampled, s.estimate_tiles, s.estimate_model_bits / sd,
                    s.estimate_cm_bits / sd, s.estimate_model_wins, 100.0 * s.predicted_gain,
                    100.0 * VDM_MODEL_TRY_MIN_GAIN,
                    s.model_tried ? "tried the model" : "skipped the model's try (--model-try always to force it)");
        }
        if (s.used_model) {
            /* the section's bits less the CM tiles' bytes and their 24-bit
             * length fields: what the model-coded tiles cost, framing included */
            double dims = s.model_subpixels ? (double)s.model_subpixels : 1.0;
            double model_bits = 8.0 * (double)s.model_bytes - (double)s.cm_bits - 24.0 * (double)s.cm_tiles;
            fprintf(ms, "  model %s: %" PRIu64 " sub-pixels, -VLB %.4f bits/sub-pixel; they cost %.4f "
                        "bits/sub-pixel in the model section (%+.2f%% vs -VLB, %" PRIu64 " initial bits)\n",
                    b->model_file, s.model_subpixels, s.neg_vlb_bits / dims, model_bits / dims,
                    s.neg_vlb_bits > 0 ? 100.0 * (model_bits / s.neg_vlb_bits - 1.0) : 0.0, s.initial_bits);
            if (s.cm_tiles)
                fprintf(ms, "  CM tiles: %" PRIu64 " (%" PRIu64 " sub-pixels, %.4f bits/sub-pixel), coded where "
                            "smaller than the model%s\n",
                        s.cm_tiles, s.cm_subpixels, (double)s.cm_bits / (double)(s.cm_subpixels ? s.cm_subpixels : 1),
                        o->tiles == 1 || (o->tiles == TILES_UNSET && o->model_only)
                            ? " and the chain had too few bits to start" : "");
        } else if (s.model_estimated && !s.model_tried) {
            fprintf(ms, "  -VLB n/a: classical coder (the model's try was predicted to lose)\n");
        } else if (s.model_tried) {
            fprintf(ms, "  classical coder: smaller than the model's try (its chains: %.4f bits/sub-pixel over "
                        "%" PRIu64 " sub-pixels)\n",
                    s.model_try_bits / (double)(s.model_try_subpixels ? s.model_try_subpixels : 1),
                    s.model_try_subpixels);
        } else if (b->model) {
            fprintf(ms, "  -VLB n/a: classical coder (the model cannot code this image type)\n");
        } else {
            fprintf(ms, "  -VLB n/a: classical coder only (%s)\n", b->no_model ? b->no_model : "no model");
        }
        fprintf(ms,
                "  sections: header %" PRIu64 " B, metadata %" PRIu64 " B (%u chunks), model %" PRIu64
                " B, classical %" PRIu64 " B (method %s)\n",
                s.header_bytes, s.metadata_bytes, s.metadata_chunks, s.model_bytes, s.classical_bytes,
                method_name(s.classical_method));
        fprintf(ms, "  time: read %.3f s, encode %.3f s", t_read - t0, t_enc - t_read);
        if (t_verify > 0) fprintf(ms, ", verify %.3f s (input removed)", t_verify);
        fprintf(ms, ", total %.3f s\n", vdm_cli_now() - t0);
    }
done:
    free(buf);
    vdmzip_free(vdz);
    vdmzip_free(png_back);
    free(owned_out);
    return rc;
}

/* decode: the shared model, loaded by the first file that needs it. */
static int decode_model(worker *w, FILE *ms, const char *in, const vdmzip_info *hi)
{
    batch *b = w->b;
    int rc = -1;
    pthread_mutex_lock(&b->model_mu);
    if (!b->model) {
        const char *file = b->o->model ? b->o->model : vdmzip_model_default_path();
        if (!file || !vdm_cli_exists(file)) {
            char hex[65];
            vdm_hex(hex, hi->model_id, 32);
            if (file)
                emsg(ms, "%s: needs model %.16s…; no model file at '%s' (use --model)", disp(in), hex, file);
            else
                emsg(ms, "%s: needs model %.16s…; no model file found (use --model or $VDMZIP_MODEL)",
                     disp(in), hex);
            rc = VDM_EXIT_MODEL;
        } else if (b->model_failed) {
            emsg(ms, "%s: needs the model '%s', which failed to load", disp(in), file);
            rc = VDM_EXIT_MODEL;
        } else {
            /* the path string may change on another call: keep a copy */
            char *keep = strdup(file);
            rc = keep ? load_model(ms, b->cmd, b->o, keep, &b->model) : VDM_EXIT_INTERNAL;
            if (rc >= 0) {
                b->model_failed = 1;
                free(keep);
            } else {
                b->model_file = keep;
            }
        }
    }
    pthread_mutex_unlock(&b->model_mu);
    return rc;
}

static int decode_file(worker *w, job *j, FILE *ms)
{
    batch *b = w->b;
    const opts *o = b->o;
    const char *in = j->in;
    char *owned_out = NULL;
    const char *out = NULL;
    uint8_t *buf = NULL;
    void *png = NULL;
    size_t n = 0, pn = 0;
    vdmzip_error e;
    double t0 = vdm_cli_now();
    int rc = start_file(ms, in, o, ".vdz", ".png", "PNG data", &out, &owned_out, &buf, &n);
    if (rc >= 0) goto done;
    rc = VDM_EXIT_OK;
    /* Which model does the file need?  Known before any pixel work. */
    vdmzip_info hi;
    if ((e = vdmzip_get_info(buf, n, &hi)) != VDMZIP_OK) {
        rc = fail_api(ms, disp(in), e, NULL);
        goto done;
    }
    const vdmzip_model *model = NULL;
    if (hi.needs_model) {
        rc = decode_model(w, ms, in, &hi);
        if (rc >= 0) goto done;
        rc = VDM_EXIT_OK;
        model = b->model;
    }
    if ((e = get_decoder(w, model)) != VDMZIP_OK) { rc = fail_api(ms, disp(in), e, NULL); goto done; }
    vdm_cli_progress_init(&w->prog, "vdmzip: decoding", o->quiet || !b->progress);
    e = vdmzip_decode_png(w->dec, buf, n, &png, &pn);
    vdm_cli_progress_done(&w->prog);
    if (e != VDMZIP_OK) { rc = fail_api(ms, disp(in), e, vdmzip_decoder_error_detail(w->dec)); goto done; }
    double t_dec = vdm_cli_now();
    const char *why;
    vdm_status st = vdm_cli_write_atomic(out, png, pn, o->force, &why);
    if (st != VDM_OK) { rc = fail_st(ms, disp_out(out), st, why); goto done; }
    uint64_t samples = (uint64_t)hi.width * hi.height * (uint64_t)hi.channels;
    j->in_bytes = j->vdz_bytes = n;
    j->out_bytes = pn;
    j->subpixels = samples;
    /* --rm: the decoder checked the pixels against the stored SHA-256; the
     * written PNG must read back as the bytes it was given */
    if (o->rm && strcmp(in, "-") && strcmp(out, "-")) {
        int r = verify_written_and_remove(ms, in, out, png, pn);
        if (r >= 0) { rc = r; goto done; }
    }
    if (o->verbose) {
        fprintf(ms,
                "%s: %zu bytes, %.4f bits/sub-pixel -> %s: %ux%u %s %d-bit%s, %zu bytes; pixels "
                "verified (SHA-256)%s\n",
                disp(in), n, 8.0 * (double)n / (double)(samples ? samples : 1), disp_out(out), hi.width,
                hi.height, color_name((unsigned)hi.color_type), hi.bit_depth,
                hi.interlaced ? " interlaced" : "", pn,
                o->rm && strcmp(in, "-") && strcmp(out, "-") ? "; input removed" : "");
        fprintf(ms, "  time: decode %.3f s, PNG write %.3f s\n", t_dec - t0, vdm_cli_now() - t_dec);
    }
done:
    free(buf);
    vdmzip_free(png);
    free(owned_out);
    return rc;
}

/* ---- the batch: workers, ordered messages, summary ---------------------------- */

/* Print the messages of every finished file whose predecessors are all
 * printed (caller holds b->mu). */
static void flush_ready(batch *b)
{
    while (b->next_print < b->njobs && b->jobs[b->next_print].done) {
        job *j = &b->jobs[b->next_print++];
        if (j->msg_len) fwrite(j->msg, 1, j->msg_len, stderr);
        fflush(stderr);
        free(j->msg);
        j->msg = NULL;
    }
}

static void run_job(worker *w, job *j)
{
    batch *b = w->b;
    FILE *ms = open_memstream(&j->msg, &j->msg_len);
    FILE *to = ms ? ms : stderr;     /* out of memory: print directly */
    if (j->pre_rc) {
        fprintf(to, "vdmzip: %s\n", j->pre_msg ? j->pre_msg : j->in);
        j->rc = j->pre_rc;
    } else {
        j->rc = b->encode ? encode_file(w, j, to) : decode_file(w, j, to);
    }
    if (ms) fclose(ms);
    pthread_mutex_lock(&b->mu);
    j->done = 1;
    flush_ready(b);
    pthread_mutex_unlock(&b->mu);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    batch *b = w->b;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int i = b->next < b->njobs ? b->next++ : -1;
        pthread_mutex_unlock(&b->mu);
        if (i < 0) break;
        run_job(w, &b->jobs[i]);
    }
    vdmzip_encoder_free(w->enc);
    vdmzip_decoder_free(w->dec);
    w->enc = NULL;
    w->dec = NULL;
    return NULL;
}

static int run_batch(batch *b)
{
    const opts *o = b->o;
    int nw = (int)o->jobs < b->njobs ? (int)o->jobs : b->njobs;
    b->progress = nw == 1;
    double t0 = vdm_cli_now();
    worker *ws = calloc((size_t)nw, sizeof *ws);
    pthread_t *tids = calloc((size_t)nw, sizeof *tids);
    if (!ws || !tids) {
        free(ws);
        free(tids);
        vdm_cli_error("out of memory");
        return VDM_EXIT_INTERNAL;
    }
    int started = 0;
    for (int i = 0; i < nw; i++) ws[i].b = b;
    for (int i = 1; i < nw; i++) {
        if (pthread_create(&tids[i], NULL, worker_main, &ws[i]) != 0) break;
        started = i;
    }
    worker_main(&ws[0]);   /* the main thread is worker 0 */
    for (int i = 1; i <= started; i++) pthread_join(tids[i], NULL);
    free(ws);
    free(tids);

    int first = VDM_EXIT_OK, failed = 0;
    uint64_t in_b = 0, out_b = 0, vdz_b = 0, sp = 0;
    for (int i = 0; i < b->njobs; i++) {
        const job *j = &b->jobs[i];
        if (j->rc != VDM_EXIT_OK) {
            failed++;
            if (first == VDM_EXIT_OK) first = j->rc;
            continue;
        }
        in_b += j->in_bytes;
        out_b += j->out_bytes;
        vdz_b += j->vdz_bytes;
        sp += j->subpixels;
    }
    if ((b->njobs > 1 && !o->quiet) || o->verbose) {
        char fails[48] = "";
        if (failed) snprintf(fails, sizeof fails, " (%d failed)", failed);
        fprintf(stderr,
                "vdmzip: %s: %d file%s%s: %" PRIu64 " bytes -> %" PRIu64 " bytes, %.4f bits/sub-pixel, "
                "%.2f s\n",
                b->cmd, b->njobs, b->njobs > 1 ? "s" : "", fails, in_b, out_b,
                sp ? 8.0 * (double)vdz_b / (double)sp : 0.0, vdm_cli_now() - t0);
    }
    return first;
}

static int cmd_batch(const char *cmd, int encode, int argc, char **argv)
{
    opts o;
    batch b;
    memset(&b, 0, sizeof b);
    b.cmd = cmd;
    b.encode = encode;
    b.o = &o;
    pthread_mutex_init(&b.mu, NULL);
    pthread_mutex_init(&b.model_mu, NULL);
    char *model_file_owned = NULL;
    int rc = parse_opts(cmd, argc, argv, &o, encode ? 2 : 1);
    if (rc < 0) rc = list_inputs(&b);
    if (rc < 0 && o.model && !vdm_cli_exists(o.model)) {
        vdm_cli_error("%s: model file '%s' not found", cmd, o.model);
        rc = VDM_EXIT_MODEL;
    }
    if (rc < 0 && encode) {
        /* An explicitly named model must load; the default one is used when
         * it exists, else the classical coder codes everything (-v says so). */
        const char *file = NULL;
        if (o.classical_only) {
            b.no_model = "--classical-only";
        } else if (o.model) {
            file = o.model;
        } else {
            file = vdmzip_model_default_path();
            if (!file || !vdm_cli_exists(file)) {
                file = NULL;
                b.no_model = "no model file found (set --model or $VDMZIP_MODEL)";
            }
        }
        if (file) {
            model_file_owned = strdup(file);
            rc = model_file_owned ? load_model(stderr, cmd, &o, model_file_owned, &b.model)
                                  : VDM_EXIT_INTERNAL;
            b.model_file = model_file_owned;
        }
    }
    if (rc < 0) rc = run_batch(&b);
    for (int i = 0; i < b.njobs; i++) {
        free(b.jobs[i].in_owned);
        free(b.jobs[i].pre_msg);
        free(b.jobs[i].msg);
    }
    free(b.jobs);
    free(b.seen);
    vdmzip_model_free(b.model);
    if (!encode) free((char *)b.model_file);
    free(model_file_owned);
    free(o.inputs);
    pthread_mutex_destroy(&b.mu);
    pthread_mutex_destroy(&b.model_mu);
    return rc;
}

int vdm_cmd_encode(int argc, char **argv) { return cmd_batch("encode", 1, argc, argv); }
int vdm_cmd_decode(int argc, char **argv) { return cmd_batch("decode", 0, argc, argv); }

/* ---- info ------------------------------------------------------------------ */

static void print_info(const char *name, const vdm_vdz_info *in, int json)
{
    char sha[65], mid[65];
    vdm_hex(sha, in->pixel_sha256, 32);
    vdm_hex(mid, in->model_id, 32);
    uint64_t samples = (uint64_t)in->width * in->height * in->channels;
    double bpsp = 8.0 * (double)in->file_bytes / (double)samples;
    if (json) {
        printf("{\"file\":");
        vdm_cli_json_string(stdout, name);
        printf(",\"file_bytes\":%" PRIu64 ",\"format_version\":%u,\"width\":%u,\"height\":%u,"
               "\"color_type\":%u,\"color\":\"%s\",\"bit_depth\":%u,\"channels\":%u,\"interlace\":%u,"
               "\"palette_size\":%u,\"trns_count\":%u,\"pixel_sha256\":\"%s\",\"needs_model\":%s,"
               "\"model_id\":%s%s%s,\"bits_per_subpixel\":%.6f,\"header_bytes\":%" PRIu64
               ",\"meta\":{\"bytes\":%" PRIu64 ",\"chunks\":%u,\"raw_bytes\":%u,\"method\":\"%s\"},"
               "\"fallback\":[",   /* the classical sections; the key keeps its historical name */
               in->file_bytes, in->version, in->width, in->height, in->color_type,
               color_name(in->color_type), in->bit_depth, in->channels, in->interlace,
               in->palette_size, in->trns_count, sha, in->needs_model ? "true" : "false",
               in->needs_model ? "\"" : "", in->needs_model ? mid : "null",
               in->needs_model ? "\"" : "", bpsp, in->header_bytes, in->meta_bytes,
               in->meta_chunks, in->meta_raw_bytes,
               in->meta_bytes ? (in->meta_method ? "zstd" : "stored") : "none");
        for (uint32_t i = 0; i < in->nclassical; i++)
            printf("%s{\"method\":\"%s\",\"channel_mask\":%u,\"region\":%u,\"bytes\":%" PRIu64 "}",
                   i ? "," : "", method_name(in->classical[i].method), in->classical[i].channel_mask,
                   in->classical[i].region, in->classical[i].bytes);
        printf("]");
        if (in->has_model_section)
            printf(",\"model\":{\"bytes\":%" PRIu64 ",\"steps\":%u,\"channel_mask\":%u,\"flags\":%u,"
                   "\"data_prec\":%u,\"latent_prec\":%u,\"prior_prec\":%u,\"tile_w\":%u,\"tile_h\":%u,"
                   "\"tiles\":%u,\"cm_tiles\":%u,\"chains\":%u,\"initial_bits\":%" PRIu64
                   ",\"stream_bytes\":%" PRIu64 ",\"neg_vlb_bits\":%.3f,\"model_subpixels\":%" PRIu64 "}",
                   in->model_bytes, in->steps, in->model_channel_mask, in->model_flags,
                   in->data_prec, in->latent_prec, in->prior_prec, in->tile_w, in->tile_h,
                   in->ntiles, in->nskipped_tiles, in->nchains, in->initial_bits,
                   in->stream_bytes, in->neg_vlb_bits, in->model_dims);
        else
            printf(",\"model\":null");
        printf("}\n");
        return;
    }
    printf("%s:\n", name);
    printf("  file size        %" PRIu64 " bytes, %.4f bits/sub-pixel\n", in->file_bytes, bpsp);
    printf("  format version   %u\n", in->version);
    printf("  image            %u x %u, %s (colour type %u), %u-bit, %u channel%s, %s\n", in->width,
           in->height, color_name(in->color_type), in->color_type, in->bit_depth, in->channels,
           in->channels > 1 ? "s" : "", in->interlace ? "Adam7 interlaced" : "not interlaced");
    if (in->palette_size || in->trns_count)
        printf("  palette / tRNS   %u entries / %u\n", in->palette_size, in->trns_count);
    printf("  pixel SHA-256    %s\n", sha);
    if (in->needs_model) printf("  model            needs %s\n", mid);
    else printf("  model            none (classical coder only)\n");
    if (in->meta_bytes)
        printf("  metadata         %u PNG chunk%s, %u bytes raw, %s, section %" PRIu64 " bytes\n",
               in->meta_chunks, in->meta_chunks > 1 ? "s" : "", in->meta_raw_bytes,
               in->meta_method ? "zstd" : "stored", in->meta_bytes);
    else
        printf("  metadata         none\n");
    for (uint32_t i = 0; i < in->nclassical; i++)
        printf("  classical        channels 0x%x, method %s, region %u, %" PRIu64 " bytes\n",
               in->classical[i].channel_mask, method_name(in->classical[i].method),
               in->classical[i].region, in->classical[i].bytes);
    if (in->has_model_section) {
        printf("  model payload    %" PRIu64 " bytes, T=%u, channels 0x%x, XOR cleaning %s\n",
               in->model_bytes, in->steps, in->model_channel_mask, (in->model_flags & 1) ? "on" : "off");
        printf("  coder precision  data %u, latent %u, prior %u bits\n", in->data_prec,
               in->latent_prec, in->prior_prec);
        printf("  tiles            %u x %u px, %u tile%s (%u coded with CM), %u chain%s, initial bits %" PRIu64 "\n",
               in->tile_w, in->tile_h, in->ntiles, in->ntiles > 1 ? "s" : "", in->nskipped_tiles, in->nchains,
               in->nchains > 1 ? "s" : "", in->initial_bits);
        if (in->neg_vlb_bits > 0 && in->nskipped_tiles == 0)
            printf("  -VLB             %.4f bits/sub-pixel (file is %+.2f%%)\n",
                   in->neg_vlb_bits / (double)samples,
                   100.0 * (8.0 * (double)in->file_bytes / in->neg_vlb_bits - 1.0));
        else if (in->neg_vlb_bits > 0 && in->model_dims)
            printf("  -VLB             %.4f bits/sub-pixel of the %" PRIu64 " model-coded sub-pixels "
                   "(the CM tiles' share of the stream is not known before decoding)\n",
                   in->neg_vlb_bits / (double)in->model_dims, in->model_dims);
    }
    printf("  header+framing   %" PRIu64 " bytes\n", in->header_bytes);
}

int vdm_cmd_info(int argc, char **argv)
{
    opts o;
    int rc = parse_opts("info", argc, argv, &o, 0);
    if (rc >= 0) { free(o.inputs); return rc; }
    if (o.output) {
        vdm_cli_error("info: -o is not an option of info");
        free(o.inputs);
        return VDM_EXIT_USAGE;
    }
    int worst = VDM_EXIT_OK;
    for (int i = 0; i < o.ninputs; i++) {
        const char *in = o.inputs[i];
        uint8_t *buf = NULL;
        size_t n = 0;
        const char *why;
        vdm_status st = vdm_cli_read_all(in, VDM_MAX_INPUT_FILE_BYTES, &buf, &n, &why);
        vdm_vdz_info info;
        if (st == VDM_OK) {
            st = vdm_vdz_probe(buf, n, &info);
            if (st == VDM_OK) print_info(disp(in), &info, o.json);
            else why = vdm_codec_last_error();
        }
        free(buf);
        if (st != VDM_OK) {
            int r = fail_st(stderr, disp(in), st, why);
            if (worst == VDM_EXIT_OK) worst = r;
        }
    }
    fflush(stdout);
    free(o.inputs);
    return worst;
}
