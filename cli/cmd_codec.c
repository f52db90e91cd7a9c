/* cmd_codec.c — `vdmzip encode`, `decode` and `info`.
 *
 * Behaviour users of zstd/cjxl expect: default output next to the input
 * (IN.png -> IN.vdz, IN.vdz -> IN.png), "-" for stdin/stdout, never replace
 * a file without -f, atomic output (cli_util.c), one error line per failure,
 * exit codes of cli.h.  Several inputs may be given when -o is not. */
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "codec/bbcode.h"
#include "codec/png_io.h"
#include "codec/vdz.h"
#include "kernels/device.h"
#include "model/vdm_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char vdm_help_encode[] =
    "usage: vdmzip encode [options] IN.png [IN2.png ...]\n"
    "\n"
    "Compress PNG files losslessly into .vdz files.  Every PNG colour type and\n"
    "bit depth is accepted; the decoder gives back the same pixels, colour type,\n"
    "bit depth, palette, transparency, interlacing and ancillary chunks.\n"
    "\n"
    "  -o, --output OUT   output file (default: IN with .png replaced by .vdz;\n"
    "                     \"-\" writes to standard output; only with one input)\n"
    "  -                  as input: read the PNG from standard input (then the\n"
    "                     output defaults to standard output)\n"
    "  -f, --force        overwrite existing output files; write binary data to a\n"
    "                     terminal\n"
    "  -v, --verbose      print sizes, bits per sub-pixel and timings\n"
    "  -q, --quiet        no progress line\n"
    "      --steps T      diffusion steps T for the model coder (1..16384,\n"
    "                     default: the model's own)\n"
    "      --model M      model weights file (default: $VDMZIP_MODEL, else the\n"
    "                     shipped models/default.vdm)\n"
    "      --threads N    worker threads (1..256, default 1); never changes the output\n"
    "      --device D     where the model's network runs: cpu (default) or cuda\n"
    "                     (GPU 0); never changes the output\n"
    "      --fallback-only  code without the model (the classical coder only)\n"
    "      --model-only   keep the model's coding even where the fallback coder\n"
    "                     would give a smaller file (to measure the model)\n"
    "      --model-try W  auto (default): first code 6 sampled tiles with the model\n"
    "                     and skip the model's whole-image try (most of the encode\n"
    "                     time) when they predict it cannot beat the classical\n"
    "                     file; always: try it on every image (the smaller file\n"
    "                     is kept either way)\n"
    "      --tiles MODE   how the model's file uses CM tiles (tiles coded by the\n"
    "                     context-modelled coder inside the model's chain):\n"
    "                     choose (default): per 64x64 tile the smaller of the two;\n"
    "                     seed (default with --model-only): only to start the\n"
    "                     chain, the model codes every other tile; model: no CM\n"
    "                     tiles (the older layout, the chain's start pays initial bits)\n"
    "      --effort E     fallback effort: 0 fast (context modelling, method 2),\n"
    "                     1 default (also context mixing, method 3, ~2 s per\n"
    "                     megapixel, and zstd where it may win), 2 zstd at max\n"
    "      --strip        drop ancillary PNG chunks (text, ICC profile, ...)\n"
    "\n"
    "8-bit RGB(A) images are coded with the model (bits-back ANS over the\n"
    "diffusion chain) when a model file is found; alpha, gray, palette, 16-bit\n"
    "and low-depth images, and any image where the model would lose, use the\n"
    "fallback coder (context-modelled prediction + arithmetic coding, filtered\n"
    "rows + zstd, or stored: whichever is smallest).  Without a model file the\n"
    "fallback coder is used for everything (-v says so).\n"
    "\n"
    "exit codes: 0 ok, 1 usage, 2 bad input, 3 I/O (or output exists), 4 model,\n"
    "5 internal error\n";

const char vdm_help_decode[] =
    "usage: vdmzip decode [options] IN.vdz [IN2.vdz ...]\n"
    "\n"
    "Restore the exact PNG image from .vdz files.  The decoded pixels are checked\n"
    "against the SHA-256 stored in the file; nothing is written if they differ.\n"
    "\n"
    "  -o, --output OUT   output file (default: IN with .vdz replaced by .png;\n"
    "                     \"-\" writes to standard output; only with one input)\n"
    "  -                  as input: read from standard input (output then\n"
    "                     defaults to standard output)\n"
    "  -f, --force        overwrite existing output files; write to a terminal\n"
    "  -v, --verbose      print sizes and timings\n"
    "  -q, --quiet        no progress line\n"
    "      --model M      model weights file, for files coded with the model\n"
    "                     (default: $VDMZIP_MODEL, else models/default.vdm)\n"
    "      --threads N    worker threads (1..256)\n"
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

typedef struct {
    const char *output;
    int force, verbose, quiet, fallback_only, model_only, json, strip, effort;
    int tiles;                   /* VDM_BB_TILES_*, -1: by --model-only */
    int model_try;               /* VDM_MODEL_TRY_* */
    long steps, threads;
    int device;              /* VDM_DEVICE_* */
    const char *model;
    const char **inputs;
    int ninputs;
    /* the loaded model path (encode: at start; decode: when a file needs it) */
    vdm_model_path mp;
    int have_mp;
    const char *mp_file;     /* which file it came from */
    const char *no_model;    /* encode: why the fallback coder is used alone */
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

/* Returns -1 on success, else an exit code. */
static int parse_opts(const char *cmd, int argc, char **argv, opts *o, int allow_codec_opts)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->effort = 1;
    o->tiles = -1;
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
        const int is_flag = !strcmp(name, "--json") || !strcmp(name, "-f") ||
                            !strcmp(name, "--force") || !strcmp(name, "-v") ||
                            !strcmp(name, "--verbose") || !strcmp(name, "-q") ||
                            !strcmp(name, "--quiet") || !strcmp(name, "--fallback-only") ||
                            !strcmp(name, "--model-only") ||
                            !strcmp(name, "--strip");
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
            if (!strcmp(val, "cpu")) o->device = VDM_DEVICE_CPU;
            else if (!strcmp(val, "cuda")) o->device = VDM_DEVICE_CUDA;
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
        } else if (allow_codec_opts == 2 && !strcmp(name, "--fallback-only")) {
            o->fallback_only = 1;
        } else if (allow_codec_opts == 2 && !strcmp(name, "--model-only")) {
            o->model_only = 1;
        } else if (allow_codec_opts == 2 && !strcmp(name, "--model-try")) {
            NEEDS_VALUE();
            if (!strcmp(val, "auto")) o->model_try = VDM_MODEL_TRY_AUTO;
            else if (!strcmp(val, "always")) o->model_try = VDM_MODEL_TRY_ALWAYS;
            else {
                vdm_cli_error("%s: --model-try must be auto or always, not '%s'", cmd, val);
                return VDM_EXIT_USAGE;
            }
        } else if (allow_codec_opts == 2 && !strcmp(name, "--tiles")) {
            NEEDS_VALUE();
            if (!strcmp(val, "choose")) o->tiles = VDM_BB_TILES_CHOOSE;
            else if (!strcmp(val, "seed")) o->tiles = VDM_BB_TILES_SEED;
            else if (!strcmp(val, "model")) o->tiles = VDM_BB_TILES_MODEL;
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
    if (o->fallback_only && o->model_only) {
        vdm_cli_error("%s: --fallback-only and --model-only exclude each other", cmd);
        return VDM_EXIT_USAGE;
    }
    if (o->output && o->ninputs > 1) {
        vdm_cli_error("%s: -o needs exactly one input file", cmd);
        return VDM_EXIT_USAGE;
    }
    /* Say it before any work (and even when no file ends up needing the
     * model): the device asked for does not exist here. */
    if (o->device == VDM_DEVICE_CUDA && !vdm_cuda_compiled()) {
        vdm_cli_error("%s: --device cuda: this vdmzip was built without CUDA "
                      "(rebuild with -DVDMZIP_CUDA=ON, or use --device cpu)", cmd);
        return VDM_EXIT_USAGE;
    }
    if (o->device == VDM_DEVICE_CUDA && vdm_cuda_device_count(NULL, 0) < 1) {
        vdm_cli_error("%s: --device cuda: no usable CUDA GPU found (use --device cpu)", cmd);
        return VDM_EXIT_USAGE;
    }
    return -1;
}

/* "vdmzip: NAME: reason" where reason is the library's detail if any. */
static int fail(const char *name, vdm_status st, const char *detail)
{
    if (!detail || !*detail) detail = vdm_error_name(st);
    if (st == VDM_ERR_EXISTS)
        vdm_cli_error("%s: output exists (use -f to overwrite)", name);
    else
        vdm_cli_error("%s: %s", name, detail);
    return vdm_cli_exit_code(st);
}

static const char *color_name(unsigned ct)
{
    switch (ct) {
    case VDM_PNG_GRAY: return "gray";
    case VDM_PNG_RGB: return "RGB";
    case VDM_PNG_PALETTE: return "palette";
    case VDM_PNG_GRAY_ALPHA: return "gray+alpha";
    case VDM_PNG_RGBA: return "RGBA";
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
    default: return "none";
    }
}

static const char *disp(const char *path) { return strcmp(path, "-") ? path : "<stdin>"; }

/* Load the model path from `file` (once).  Any failure is a model error
 * (exit 4) with one line naming the file and the reason. */
static int load_model(const char *cmd, opts *o, const char *file)
{
    if (o->have_mp) return -1;
    vdm_bb_params bp;
    vdm_bb_params_default(&bp);
    if (o->tiles >= 0) bp.tiles = o->tiles;
    else if (o->model_only) bp.tiles = VDM_BB_TILES_SEED;   /* CM only to start the chain */
    vdm_model *m = NULL;
    vdm_status st = vdm_model_load(file, &m);
    if (st != VDM_OK) {
        const char *why = st == VDM_ERR_IO ? "cannot read it" : vdm_error_name(st);
        vdm_cli_error("%s: model '%s': %s", cmd, file, why);
        return VDM_EXIT_MODEL;
    }
    if (o->device != VDM_DEVICE_CPU && (st = vdm_model_set_device(m, (vdm_device)o->device)) != VDM_OK) {
        vdm_cli_error("%s: --device cuda: cannot run model '%s' on the GPU: %s", cmd, file, vdm_error_name(st));
        vdm_model_free(m);
        return st == VDM_ERR_NOMEM ? VDM_EXIT_INTERNAL : VDM_EXIT_USAGE;
    }
    st = vdm_bb_path_wrap(m, &bp, (unsigned)o->threads, &o->mp); /* takes m, also on failure */
    if (st != VDM_OK) {
        vdm_cli_error("%s: model '%s': %s", cmd, file, vdm_error_name(st));
        return VDM_EXIT_MODEL;
    }
    o->have_mp = 1;
    o->mp_file = file;
    return -1;
}

static void unload_model(opts *o)
{
    if (o->have_mp) vdm_bb_path_close(&o->mp);
    o->have_mp = 0;
}

/* encode: an explicitly named model must load; the default one is used when
 * it exists, else the fallback coder codes everything (said under -v). */
static int prepare_encode_model(opts *o)
{
    if (o->fallback_only) {
        o->no_model = "--fallback-only";
        return -1;
    }
    if (o->model) {
        if (!vdm_cli_exists(o->model)) {
            vdm_cli_error("encode: model file '%s' not found", o->model);
            return VDM_EXIT_MODEL;
        }
        return load_model("encode", o, o->model);
    }
    const char *def = vdm_cli_default_model();
    if (!vdm_cli_exists(def)) {
        o->no_model = "no model file found (set --model or $VDMZIP_MODEL)";
        return -1;
    }
    return load_model("encode", o, def);
}

/* ---- shared start of encode_one / decode_one ------------------------------ */

/* Output name (default: IN with from_ext replaced by to_ext; *owned_out is
 * freed by the caller), the checks every job makes before any work (no
 * overwrite without -f, no binary data to a terminal, input != output), and
 * reading the whole input into *buf (caller frees).  Returns -1 to go on,
 * else the exit code to return. */
static int start_job(const char *in, const opts *o, const char *from_ext, const char *to_ext,
                     const char *what, const char **out_p, char **owned_out, uint8_t **buf, size_t *n)
{
    const char *out = o->output;
    if (!out) {
        if (!strcmp(in, "-")) out = "-";
        else out = *owned_out = vdm_cli_default_output(in, from_ext, to_ext);
        if (!out) return fail(in, VDM_ERR_NOMEM, NULL);
    }
    *out_p = out;
    if (strcmp(out, "-") && !o->force && vdm_cli_exists(out)) return fail(out, VDM_ERR_EXISTS, NULL);
    if (!strcmp(out, "-") && vdm_cli_stdout_is_tty() && !o->force) {
        vdm_cli_error("%s: refusing to write %s to a terminal (use -o or -f)", disp(in), what);
        return VDM_EXIT_USAGE;
    }
    if (strcmp(in, "-") && strcmp(out, "-") && vdm_cli_same_file(in, out)) {
        vdm_cli_error("%s: input and output are the same file", in);
        return VDM_EXIT_USAGE;
    }
    const char *why;
    vdm_status st = vdm_cli_read_all(in, VDM_MAX_INPUT_FILE_BYTES, buf, n, &why);
    if (st != VDM_OK) return fail(disp(in), st, why);
    return -1;
}

/* ---- encode ---------------------------------------------------------------- */

static int encode_one(const char *in, opts *o)
{
    char *owned_out = NULL;
    const char *out = NULL;
    uint8_t *buf = NULL, *vdz = NULL;
    size_t n = 0, vn = 0;
    vdm_image *img = NULL;
    vdm_status st = VDM_OK;
    const char *why = NULL;
    double t0 = vdm_cli_now();
    int rc = start_job(in, o, ".png", ".vdz", "compressed data", &out, &owned_out, &buf, &n);
    if (rc >= 0) goto done;
    rc = VDM_EXIT_OK;
    st = vdm_png_read_mem(buf, n, &img);
    if (st != VDM_OK) { rc = fail(disp(in), st, vdm_png_last_error()); goto done; }
    free(buf);
    buf = NULL;
    double t_read = vdm_cli_now();

    vdm_encode_opts eo;
    vdm_encode_opts_default(&eo);
    eo.steps = (uint32_t)o->steps;
    eo.threads = (uint32_t)o->threads;
    eo.effort = o->effort;
    eo.keep_metadata = !o->strip;
    eo.model = o->have_mp ? &o->mp : NULL;
    eo.model_only = o->model_only;
    eo.model_try = o->model_try;
    vdm_cli_progress prog;
    vdm_cli_progress_init(&prog, "vdmzip: encoding", o->quiet);
    eo.progress = vdm_cli_progress_cb;
    eo.progress_user = &prog;
    vdm_encode_stats s;
    st = vdm_vdz_encode(img, &eo, &vdz, &vn, &s);
    vdm_cli_progress_done(&prog);
    if (st != VDM_OK) { rc = fail(disp(in), st, vdm_codec_last_error()); goto done; }
    double t_enc = vdm_cli_now();
    st = vdm_cli_write_atomic(out, vdz, vn, o->force, &why);
    if (st != VDM_OK) { rc = fail(strcmp(out, "-") ? out : "<stdout>", st, why); goto done; }
    if (o->verbose) {
        double bpsp = 8.0 * (double)s.file_bytes / (double)s.samples;
        fprintf(stderr,
                "%s: %ux%u %s %u-bit%s, %" PRIu64 " sub-pixels -> %s: %" PRIu64 " bytes, "
                "%.4f bits/sub-pixel (%.1f%% of the packed pixels)\n",
                disp(in), img->width, img->height, color_name(img->color_type), img->bit_depth,
                img->interlace ? " interlaced" : "", s.samples, strcmp(out, "-") ? out : "<stdout>",
                s.file_bytes, bpsp, 100.0 * (double)s.file_bytes / (double)(s.packed_bytes ? s.packed_bytes : 1));
        if (s.estimated) {
            const vdm_model_estimate *e = &s.estimate;
            fprintf(stderr, "  model estimate (%.1f s): on %u of %u tiles the model %.4f vs CM %.4f bits/sub-pixel, "
                            "wins %u; predicted saving %.2f%% of the CM tiles (threshold %.1f%%) -> %s\n",
                    e->seconds, e->sampled, e->ntiles,
                    e->model_bits / (e->sampled_dims > 0 ? e->sampled_dims : 1.0),
                    e->cm_sampled_bits / (e->sampled_dims > 0 ? e->sampled_dims : 1.0), e->model_wins,
                    e->cm_bits > 0 ? 100.0 * e->gain_bits / e->cm_bits : 0.0, 100.0 * VDM_MODEL_TRY_MIN_GAIN,
                    e->try_model ? "tried the model" : "skipped the model's try (--model-try always to force it)");
        }
        if (s.used_model) {
            vdm_bb_stats bs;
            vdm_bb_path_stats(&o->mp, &bs);
            /* the section's bits less the CM tiles' bytes and length fields:
             * what the model-coded tiles cost, framing included */
            double dims = bs.dims ? (double)bs.dims : 1.0;
            double model_bits = 8.0 * (double)s.model_bytes - (double)bs.cm_bits - 24.0 * (double)bs.cm_tiles;
            fprintf(stderr, "  model %s: %" PRIu64 " sub-pixels, -VLB %.4f bits/sub-pixel; they cost %.4f "
                            "bits/sub-pixel in the model section (%+.2f%% vs -VLB, %" PRIu64 " initial bits)\n",
                    o->mp_file, bs.dims, s.neg_vlb_bits / dims, model_bits / dims,
                    s.neg_vlb_bits > 0 ? 100.0 * (model_bits / s.neg_vlb_bits - 1.0) : 0.0, bs.initial_bits);
            if (bs.cm_tiles)
                fprintf(stderr, "  CM tiles: %" PRIu64 " (%" PRIu64 " sub-pixels, %.4f bits/sub-pixel), coded "
                                "where smaller than the model%s\n",
                        bs.cm_tiles, bs.cm_dims, (double)bs.cm_bits / (double)bs.cm_dims,
                        o->tiles == VDM_BB_TILES_SEED || (o->tiles < 0 && o->model_only)
                            ? " and the chain had too few bits to start" : "");
        } else if (s.estimated && !s.estimate.try_model) {
            fprintf(stderr, "  -VLB n/a: classical coder (the model's try was predicted to lose)\n");
        } else if (o->have_mp) {
            vdm_bb_stats bs;
            vdm_bb_path_stats(&o->mp, &bs);
            if (bs.dims + bs.cm_dims)
                fprintf(stderr, "  fallback coder: smaller than the model's try (its chains: %.4f bits/sub-pixel, "
                                "%" PRIu64 " of its %" PRIu64 " sub-pixels in CM tiles)\n",
                        (double)bs.stream_bits / (double)(bs.dims + bs.cm_dims), bs.cm_dims, bs.dims + bs.cm_dims);
            else
                fprintf(stderr, "  -VLB n/a: fallback coder (the model cannot code this image type)\n");
        } else {
            fprintf(stderr, "  -VLB n/a: fallback coder only (%s)\n", o->no_model ? o->no_model : "no model");
        }
        fprintf(stderr,
                "  sections: header %" PRIu64 " B, metadata %" PRIu64 " B (%u chunks), model %" PRIu64
                " B, fallback %" PRIu64 " B (method %s)\n",
                s.header_bytes, s.meta_bytes, o->strip ? 0u : img->nchunks, s.model_bytes,
                s.fallback_bytes, method_name(s.fallback_method));
        fprintf(stderr, "  time: read %.3f s, encode %.3f s, total %.3f s\n", t_read - t0, t_enc - t_read,
                vdm_cli_now() - t0);
    }
done:
    free(buf);
    free(vdz);
    vdm_image_free(img);
    free(owned_out);
    return rc;
}

int vdm_cmd_encode(int argc, char **argv)
{
    opts o;
    int rc = parse_opts("encode", argc, argv, &o, 2);
    if (rc < 0) rc = prepare_encode_model(&o);
    if (rc >= 0) { unload_model(&o); free(o.inputs); return rc; }
    int worst = VDM_EXIT_OK;
    for (int i = 0; i < o.ninputs; i++) {
        int r = encode_one(o.inputs[i], &o);
        if (r != VDM_EXIT_OK && worst == VDM_EXIT_OK) worst = r;
    }
    unload_model(&o);
    free(o.inputs);
    return worst;
}

/* ---- decode ---------------------------------------------------------------- */

static int decode_one(const char *in, opts *o)
{
    char *owned_out = NULL;
    const char *out = NULL;
    uint8_t *buf = NULL, *png = NULL;
    size_t n = 0, pn = 0;
    vdm_image *img = NULL;
    vdm_status st = VDM_OK;
    const char *why = NULL;
    double t0 = vdm_cli_now();
    int rc = start_job(in, o, ".vdz", ".png", "PNG data", &out, &owned_out, &buf, &n);
    if (rc >= 0) goto done;
    rc = VDM_EXIT_OK;
    /* Which model does the file need?  Known before any pixel work. */
    vdm_vdz_info hi;
    st = vdm_vdz_probe_header(buf, n, &hi);
    if (st != VDM_OK) { rc = fail(disp(in), st, vdm_codec_last_error()); goto done; }
    if (hi.needs_model && !o->have_mp) {
        const char *file = o->model ? o->model : vdm_cli_default_model();
        if (!vdm_cli_exists(file)) {
            char hex[65];
            vdm_hex(hex, hi.model_id, 32);
            vdm_cli_error("%s: needs model %.16s…; no model file at '%s' (use --model)", disp(in), hex, file);
            rc = VDM_EXIT_MODEL;
            goto done;
        }
        rc = load_model("decode", o, file);
        if (rc >= 0) goto done;
        rc = VDM_EXIT_OK;
    }
    vdm_decode_opts dopts;
    memset(&dopts, 0, sizeof dopts);
    dopts.model = hi.needs_model ? &o->mp : NULL;
    dopts.threads = (uint32_t)o->threads;
    vdm_cli_progress prog;
    vdm_cli_progress_init(&prog, "vdmzip: decoding", o->quiet);
    dopts.progress = vdm_cli_progress_cb;
    dopts.progress_user = &prog;
    st = vdm_vdz_decode(buf, n, &dopts, &img);
    vdm_cli_progress_done(&prog);
    if (st != VDM_OK) { rc = fail(disp(in), st, vdm_codec_last_error()); goto done; }
    double t_dec = vdm_cli_now();
    st = vdm_png_write_mem(img, &png, &pn);
    if (st != VDM_OK) { rc = fail(disp(in), st, vdm_png_last_error()); goto done; }
    st = vdm_cli_write_atomic(out, png, pn, o->force, &why);
    if (st != VDM_OK) { rc = fail(strcmp(out, "-") ? out : "<stdout>", st, why); goto done; }
    if (o->verbose) {
        uint64_t samples = (uint64_t)img->width * img->height * img->channels;
        fprintf(stderr,
                "%s: %zu bytes, %.4f bits/sub-pixel -> %s: %ux%u %s %u-bit%s, %zu bytes; pixels "
                "verified (SHA-256)\n",
                disp(in), n, 8.0 * (double)n / (double)samples, strcmp(out, "-") ? out : "<stdout>",
                img->width, img->height, color_name(img->color_type), img->bit_depth,
                img->interlace ? " interlaced" : "", pn);
        fprintf(stderr, "  time: decode %.3f s, PNG write %.3f s\n", t_dec - t0, vdm_cli_now() - t_dec);
    }
done:
    free(buf);
    free(png);
    vdm_image_free(img);
    free(owned_out);
    return rc;
}

int vdm_cmd_decode(int argc, char **argv)
{
    opts o;
    int rc = parse_opts("decode", argc, argv, &o, 1);
    if (rc < 0 && o.model && !vdm_cli_exists(o.model)) {
        vdm_cli_error("decode: model file '%s' not found", o.model);
        rc = VDM_EXIT_MODEL;
    }
    if (rc >= 0) { free(o.inputs); return rc; }
    int worst = VDM_EXIT_OK;
    for (int i = 0; i < o.ninputs; i++) {
        int r = decode_one(o.inputs[i], &o);
        if (r != VDM_EXIT_OK && worst == VDM_EXIT_OK) worst = r;
    }
    unload_model(&o);
    free(o.inputs);
    return worst;
}

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
               "\"fallback\":[",
               in->file_bytes, in->version, in->width, in->height, in->color_type,
               color_name(in->color_type), in->bit_depth, in->channels, in->interlace,
               in->palette_size, in->trns_count, sha, in->needs_model ? "true" : "false",
               in->needs_model ? "\"" : "", in->needs_model ? mid : "null",
               in->needs_model ? "\"" : "", bpsp, in->header_bytes, in->meta_bytes,
               in->meta_chunks, in->meta_raw_bytes,
               in->meta_bytes ? (in->meta_method ? "zstd" : "stored") : "none");
        for (uint32_t i = 0; i < in->nfallback; i++)
            printf("%s{\"method\":\"%s\",\"channel_mask\":%u,\"region\":%u,\"bytes\":%" PRIu64 "}",
                   i ? "," : "", method_name(in->fallback[i].method), in->fallback[i].channel_mask,
                   in->fallback[i].region, in->fallback[i].bytes);
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
    else printf("  model            none (fallback coder only)\n");
    if (in->meta_bytes)
        printf("  metadata         %u PNG chunk%s, %u bytes raw, %s, section %" PRIu64 " bytes\n",
               in->meta_chunks, in->meta_chunks > 1 ? "s" : "", in->meta_raw_bytes,
               in->meta_method ? "zstd" : "stored", in->meta_bytes);
    else
        printf("  metadata         none\n");
    for (uint32_t i = 0; i < in->nfallback; i++)
        printf("  fallback         channels 0x%x, method %s, region %u, %" PRIu64 " bytes\n",
               in->fallback[i].channel_mask, method_name(in->fallback[i].method),
               in->fallback[i].region, in->fallback[i].bytes);
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
            int r = fail(disp(in), st, why);
            if (worst == VDM_EXIT_OK) worst = r;
        }
    }
    fflush(stdout);
    free(o.inputs);
    return worst;
}
