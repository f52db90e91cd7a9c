/* cmd_model.c — `vdmzip train` and `vdmzip eval`: options, image loading,
 * the progress line and the result tables.  All maths is in model/. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "codec/bbcode.h"
#include "codec/vdz.h"
#include "codec/png_io.h"
#include "codec/hybrid.h"
#include "kernels/device.h"
#include "model/vdm_model.h"
#include "model/vdm_train.h"

#define VDM_STR_(x) #x
#define VDM_STR(x) VDM_STR_(x)

const char vdm_help_train[] =
    "usage: vdmzip train --data DIR --steps T --out MODEL [options]\n"
    "\n"
    "Train a codec model on the PNGs in DIR (random crops and horizontal flips),\n"
    "printing a progress line; at the end (or on Ctrl-C) write a checkpoint and\n"
    "the EMA weights to MODEL.\n"
    "\n"
    "  --data DIR          training PNGs (any PNG; converted to 8-bit RGB)\n"
    "  --val DIR           held-out PNGs: validation bound of the EMA weights\n"
    "  --steps T           diffusion steps to train for (0 = continuous time)\n"
    "  --out MODEL         weights file to write (EMA weights)\n"
    "  --checkpoint PATH   checkpoint file (default MODEL.ckpt)\n"
    "  --resume CKPT       continue a run exactly from a checkpoint (its settings win,\n"
    "                      except --lr-decay/--lr-final and --batch, which change the\n"
    "                      run from here, e.g. a CPU run continued on a GPU)\n"
    "  --init MODEL        start a new run from MODEL's weights: same width, Fourier\n"
    "                      features and schedule; this run may add blocks (they start\n"
    "                      as the identity), learned variances or coupling (they start\n"
    "                      neutral), so it starts where MODEL is\n"
    "  --minutes N         stop after N minutes of wall time\n"
    "  --iters N           stop after N updates in this run\n"
    "  --threads N         CPU threads (default 2)\n"
    "  --device D          where the network's forward/backward run: cpu (default) or\n"
    "                      cuda (GPU 0, cuBLAS; loss, Adam and EMA stay on the CPU).\n"
    "                      Checkpoints are the same either way: a run may move\n"
    "                      between devices with --resume (close, not bit-exact)\n"
    "  --tf32              with --device cuda: TF32 tensor-core convolutions (faster,\n"
    "                      ~1e-3 relative rounding; default plain FP32)\n"
    "  --seed S            random seed (default 1)\n"
    "  --coded-from K      train only what a hybrid chain stopped at t* = K/T uses of\n"
    "                      the network (vdmzip eval --hybrid K): the steps above K that\n"
    "                      it codes and step K (the network at t* gives the CM coder its\n"
    "                      denoised prediction), with the noise schedule frozen (z_t*'s\n"
    "                      noise stays as it is); validation then also reports the coded\n"
    "                      chain (prior + steps K+1..T).  1 <= K < T; use with --init\n"
    "model:\n"
    "  --width C           hidden channels (default 32)\n"
    "  --blocks B          residual blocks (default 4)\n"
    "  --emb E             gamma-embedding width (default 64)\n"
    "  --fourier LIST      Fourier exponents, e.g. 7,8 (default) or none\n"
    "  --act silu|relu     activation (default silu)\n"
    "  --schedule learned|linear   noise schedule (default learned)\n"
    "  --learned-var       learned reverse variances: the network also predicts the\n"
    "                      variance of p(z_s|z_t) per sub-pixel (discrete T only)\n"
    "  --coupled           learned variances plus channel coupling: p(z_s|z_t) codes\n"
    "                      R, then G given R, then B given R and G in each pixel\n"
    "  --gamma-min G0 --gamma-max G1   initial endpoints (default -13.3, 5)\n"
    "optimiser:\n"
    "  --batch N --crop P  N crops of PxP per update (default 8, 32)\n"
    "  --lr LR             Adam step (default 2e-3), --warmup N updates (default 200)\n"
    "  --lr-decay N        after warm-up, lower the step linearly to --lr-final (default\n"
    "                      0) by update N (default: no decay)\n"
    "  --wd W              decoupled weight decay (default 0.01)\n"
    "  --clip X            gradient-norm clip (default 1; 0 = off)\n"
    "  --ema D             EMA decay (default 0.999)\n"
    "reporting:\n"
    "  --log-every SEC     progress line period (default 10)\n"
    "  --val-every MIN     validation period (default 2)\n"
    "  --val-crops N --val-crop P   crops per validation image (default 4 of 64x64)\n"
    "  --val-steps T       steps of the validation bound (default T, or 64 if T = 0)\n"
    "  --ckpt-every MIN    checkpoint period (default 5)\n";

const char vdm_help_eval[] =
    "usage: vdmzip eval [--model MODEL] [--steps T] [options] IMG...\n"
    "\n"
    "Negative VLB of each image under the model, in bits per sub-pixel: the\n"
    "prior KL (exact), the reconstruction term, and the diffusion loss summed\n"
    "exactly over all T steps (only the noise is sampled), with Monte-Carlo\n"
    "standard errors over --samples draws.  Each tile is evaluated on its own,\n"
    "as the codec codes it; memory is bounded by the tile, not the image.\n"
    "\n"
    "  --model MODEL       weights file (default $VDMZIP_MODEL or models/default.vdm)\n"
    "  --steps T           steps (default: what the model was trained for)\n"
    "  --samples K         noise draws (default 2; 1 gives no standard error)\n"
    "  --tile N            tile side in pixels (default: the codec's, " VDM_STR(VDM_BB_DEFAULT_TILE) ")\n"
    "  --threads N         CPU threads (default 2)\n"
    "  --backend cpu|ref   network kernels (default cpu; ref is the coder's)\n"
    "  --seed S            noise seed (default 1)\n"
    "  --json              one JSON object on stdout instead of the table\n"
    "  --codelength        also code each image with the model (bits-back rANS,\n"
    "                      as `encode --model-only`), decode it again to verify,\n"
    "                      and print the actual bits per sub-pixel of the .vdz and\n"
    "                      its gap to the -VLB (all overhead included).  Like\n"
    "                      --model-only, the file starts its chain with CM tiles\n"
    "                      (CM/all: how many); \"coder\" is the model-coded tiles'\n"
    "                      share of the file against the coder's own -VLB of them\n"
    "  --grid G            with --codelength: latent grid step = std / G (default 2)\n"
    "  --per-step          also print the diffusion term of every step (bits per\n"
    "                      sub-pixel; in --json always given as \"steps\")\n"
    "  --hybrid K,K,...    the hybrid chain's bound for each truncation step k\n"
    "                      (0..T, or \"all\"): the chain above t* = k/T (prior +\n"
    "                      the steps i > k) plus the real code length of the\n"
    "                      context-mixing coder (CM3) given the latent z_t* and the\n"
    "                      network's denoised prediction (one draw of z), beside\n"
    "                      CM3 alone; k = T is CM3 given an almost pure-noise z\n"
    "  --no-xhat           with --hybrid: z only, without the denoised prediction\n"
    "  --verify            with --hybrid: decode each CM-given-z stream and compare\n"
    "  --cm 3|4|...|9      with --hybrid: the data term's coder (default 9, CM9,\n"
    "                      the classical coder's default)\n"
    "  --data-only         with --hybrid: skip the bound (chain terms print as 0):\n"
    "                      only the data terms and the CM coder alone\n";

/* ---- small helpers ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v == v)) return 0;
    *out = v;
    return 1;
}

static int has_png_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcasecmp(name + n - 4, ".png");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct {
    int n;
    char **names;
    vdm_rgb8 *img;
    uint8_t **px;
} image_set;

static void image_set_free(image_set *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->names[i]);
        free(s->px[i]);
    }
    free(s->names);
    free(s->img);
    free(s->px);
    memset(s, 0, sizeof *s);
}

static int load_png(const char *path, uint8_t **px, int *w, int *h)
{
    uint32_t uw, uh;
    vdm_status st = vdm_png_load_rgb8(path, px, &uw, &uh);
    if (st != VDM_OK) {
        const char *why = vdm_png_last_error();
        vdm_cli_error("%s: %s%s%s", path, vdm_error_name(st), *why ? ": " : "", why);
        return vdm_cli_exit_code(st);
    }
    *w = (int)uw;
    *h = (int)uh;
    return 0;
}

/* All *.png in dir, sorted by name (so runs are reproducible). */
static int load_dir(const char *dir, image_set *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    if (!d) {
        vdm_cli_error("%s: cannot open directory: %s", dir, strerror(errno));
        return VDM_EXIT_IO;
    }
    int cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_png_suffix(e->d_name)) continue;
        if (s->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = (char **)realloc(names, sizeof(char *) * (size_t)cap);
            if (!nn) { closedir(d); free(names); vdm_cli_error("out of memory"); return VDM_EXIT_INTERNAL; }
            names = nn;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[s->n] = (char *)malloc(len);
        if (!names[s->n]) { closedir(d); vdm_cli_error("out of memory"); return VDM_EXIT_INTERNAL; }
        snprintf(names[s->n], len, "%s/%s", dir, e->d_name);
        s->n++;
    }
    closedir(d);
    if (s->n == 0) {
        free(names);
        vdm_cli_error("%s: no .png files", dir);
        return VDM_EXIT_INPUT;
    }
    qsort(names, (size_t)s->n, sizeof(char *), cmp_str);
    s->names = names;
    s->img = (vdm_rgb8 *)calloc((size_t)s->n, sizeof(vdm_rgb8));
    s->px = (uint8_t **)calloc((size_t)s->n, sizeof(uint8_t *));
    if (!s->img || !s->px) { vdm_cli_error("out of memory"); return VDM_EXIT_INTERNAL; }
    for (int i = 0; i < s->n; i++) {
        int rc = load_png(names[i], &s->px[i], &s->img[i].width, &s->img[i].height);
        if (rc) return rc;
        s->img[i].px = s->px[i];
    }
    return 0;
}

static void fmt_time(char *buf, size_t n, double sec)
{
    long s = (long)sec;
    if (s >= 3600) snprintf(buf, n, "%ldh%02ldm%02lds", s / 3600, (s / 60) % 60, s % 60);
    else snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
}

/* ---- train -------------------------------------------------------------------- */

/* Fail before training, not after it, when an output cannot be written (the
 * writers go through PATH.tmp and rename). */
static int check_writable(const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        vdm_cli_error("train: cannot write %s: %s", path, strerror(errno));
        return VDM_EXIT_IO;
    }
    fclose(f);
    remove(tmp);
    return 0;
}

static volatile sig_atomic_t g_stop = 0;
static void on_sigint(int sig) { (void)sig; g_stop = 1; }

typedef struct {
    int n;            /* crops */
    int P;
    uint8_t *px;      /* n crops of P*P*3 */
} val_set;

static int make_val_set(const image_set *s, int per_img, int P, val_set *v)
{
    memset(v, 0, sizeof *v);
    v->P = P;
    v->px = (uint8_t *)malloc((size_t)s->n * per_img * P * P * 3);
    if (!v->px) { vdm_cli_error("out of memory"); return VDM_EXIT_INTERNAL; }
    for (int i = 0; i < s->n; i++) {
        const vdm_rgb8 *im = &s->img[i];
        if (im->width < P || im->height < P) continue;
        for (int c = 0; c < per_img; c++) {
            /* fixed positions spread over the image: row c, column shifted by half */
            int y0 = (int)((double)(im->height - P) * (c + 0.5) / per_img);
            int x0 = (int)((double)(im->width - P) * (((c + per_img / 2) % per_img) + 0.5) / per_img);
            uint8_t *dst = v->px + (size_t)v->n * P * P * 3;
            for (int y = 0; y < P; y++)
                memcpy(dst + (size_t)y * P * 3, im->px + ((size_t)(y0 + y) * im->width + x0) * 3, (size_t)P * 3);
            v->n++;
        }
    }
    if (v->n == 0) { vdm_cli_error("no validation image is at least %dx%d", P, P); return VDM_EXIT_INPUT; }
    return 0;
}

/* The EMA weights' bound on the validation crops, and in *coded what a
 * hybrid chain stopped at K/T (K = coded_from) codes with the network: the
 * prior + the steps above K (K = 0: prior + every step). */
static vdm_status run_validation(const vdm_trainer *t, const val_set *v, int T, int nthreads,
                                 int coded_from, vdm_bound *avg, double *coded)
{
    vdm_model *m;
    VDM_FORWARD(vdm_trainer_ema_model(t, &m));
    double *sb = calloc((size_t)T, sizeof *sb);
    if (!sb) { vdm_model_free(m); return VDM_ERR_NOMEM; }
    vdm_eval_options o = { T, 1, v->P, nthreads, VDM_BACKEND_CPU, 0x5EED0F5A11ull, sb, NULL };
    memset(avg, 0, sizeof *avg);
    *coded = 0.0;
    vdm_status st = VDM_OK;
    for (int i = 0; i < v->n && st == VDM_OK; i++) {
        vdm_bound b;
        st = vdm_eval_image(m, v->px + (size_t)i * v->P * v->P * 3, v->P, v->P, &o, &b);
        avg->prior += b.prior / v->n;
        avg->recon += b.recon / v->n;
        avg->diff += b.diff / v->n;
        avg->total += b.total / v->n;
        double c = b.prior;
        for (int k = coded_from; k < T; k++) c += sb[k];
        *coded += c / v->n;
    }
    free(sb);
    vdm_model_free(m);
    return st;
}

static void print_validation(uint64_t step, const vdm_bound *b, double coded, int coded_from,
                             int ncrops, long T)
{
    fprintf(stderr, "val   step %7llu  %.4f bpsp (prior %.4f recon %.4f diff %.4f; EMA, %d crops, T=%ld)",
            (unsigned long long)step, b->total, b->prior, b->recon, b->diff, ncrops, T);
    if (coded_from > 0) fprintf(stderr, "  coded chain (prior + steps %d..%ld) %.4f", coded_from + 1, T, coded);
    fputc('\n', stderr);
}

#define NEED_ARG() do { if (a + 1 >= argc) { vdm_cli_error("train: %s needs a value", argv[a]); return VDM_EXIT_USAGE; } } while (0)

int vdm_cmd_train(int argc, char **argv)
{
    vdm_train_config tc;
    vdm_train_config_default(&tc);
    const char *data = NULL, *val = NULL, *out = NULL, *resume = NULL, *ckpt = NULL, *init = NULL;
    long lr_decay = -1, batch_opt = -1;
    double lr_final = 0.0;
    long threads = 2, iters = -1, val_crops = 4, val_crop = 64, val_steps = -1;
    double minutes = -1, log_every = 10, val_every = 2, ckpt_every = 5;
    int have_steps = 0, model_opts = 0, use_cuda = 0, tf32 = 0;
    for (int a = 1; a < argc; a++) {
        const char *o = argv[a];
        long l;
        if (!strcmp(o, "--data")) { NEED_ARG(); data = argv[++a]; }
        else if (!strcmp(o, "--val")) { NEED_ARG(); val = argv[++a]; }
        else if (!strcmp(o, "--out")) { NEED_ARG(); out = argv[++a]; }
        else if (!strcmp(o, "--resume")) { NEED_ARG(); resume = argv[++a]; }
        else if (!strcmp(o, "--checkpoint")) { NEED_ARG(); ckpt = argv[++a]; }
        else if (!strcmp(o, "--init")) { NEED_ARG(); init = argv[++a]; }
        else if (!strcmp(o, "--learned-var")) { if (tc.net.var_out < 1) tc.net.var_out = 1; model_opts++; }
        else if (!strcmp(o, "--coupled")) { tc.net.var_out = 2; model_opts++; }
        else if (!strcmp(o, "--lr-decay")) { NEED_ARG(); if (!parse_long(argv[++a], 0, 2000000000L, &lr_decay)) goto bad; }
        else if (!strcmp(o, "--coded-from")) { NEED_ARG(); if (!parse_long(argv[++a], 1, VDM_MODEL_MAX_STEPS - 1, &l)) goto bad; tc.coded_from = (int32_t)l; model_opts++; }
        else if (!strcmp(o, "--lr-final")) { NEED_ARG(); if (!parse_double(argv[++a], &lr_final) || !(lr_final >= 0.0 && lr_final < 1.0)) goto bad; }
        else if (!strcmp(o, "--steps")) {
            NEED_ARG();
            if (!parse_long(argv[++a], 0, VDM_MODEL_MAX_STEPS, &l)) goto bad;
            tc.T = (int32_t)l;
            have_steps = 1;
        }
        else if (!strcmp(o, "--minutes")) { NEED_ARG(); if (!parse_double(argv[++a], &minutes) || minutes <= 0) goto bad; }
        else if (!strcmp(o, "--iters")) { NEED_ARG(); if (!parse_long(argv[++a], 1, 2000000000L, &iters)) goto bad; }
        else if (!strcmp(o, "--threads")) { NEED_ARG(); if (!parse_long(argv[++a], 1, 256, &threads)) goto bad; }
        else if (!strcmp(o, "--device")) {
            NEED_ARG();
            a++;
            if (!strcmp(argv[a], "cpu")) use_cuda = 0;
            else if (!strcmp(argv[a], "cuda")) use_cuda = 1;
            else goto bad;
        }
        else if (!strcmp(o, "--tf32")) tf32 = 1;
        else if (!strcmp(o, "--seed")) {
            NEED_ARG();
            char *end;
            errno = 0;
            unsigned long long s = strtoull(argv[++a], &end, 0);
            if (errno || *end || end == argv[a]) goto bad;
            tc.seed = s;
            model_opts++;
        }
        else if (!strcmp(o, "--width")) { NEED_ARG(); if (!parse_long(argv[++a], 1, 4096, &l)) goto bad; tc.net.width = (int32_t)l; model_opts++; }
        else if (!strcmp(o, "--blocks")) { NEED_ARG(); if (!parse_long(argv[++a], 1, 4096, &l)) goto bad; tc.net.blocks = (int32_t)l; model_opts++; }
        else if (!strcmp(o, "--emb")) { NEED_ARG(); if (!parse_long(argv[++a], 2, 4096, &l)) goto bad; tc.net.emb_dim = (int32_t)l; model_opts++; }
        else if (!strcmp(o, "--fourier")) {
            NEED_ARG();
            const char *s = argv[++a];
            tc.net.n_fourier = 0;
            memset(tc.net.fourier_exp, 0, sizeof tc.net.fourier_exp);
            if (strcmp(s, "none")) {
                char buf[128];
                snprintf(buf, sizeof buf, "%s", s);
                for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                    if (tc.net.n_fourier == VDM_NET_MAX_FOURIER || !parse_long(tok, -64, 64, &l)) goto bad;
                    tc.net.fourier_exp[tc.net.n_fourier++] = (int32_t)l;
                }
            }
            model_opts++;
        }
        else if (!strcmp(o, "--act")) {
            NEED_ARG();
            a++;
            if (!strcmp(argv[a], "silu")) tc.net.act = VDM_ACT_SILU;
            else if (!strcmp(argv[a], "relu")) tc.net.act = VDM_ACT_RELU;
            else goto bad;
            model_opts++;
        }
        else if (!strcmp(o, "--schedule")) {
            NEED_ARG();
            a++;
            if (!strcmp(argv[a], "learned")) tc.sched_kind = VDM_SCHED_LEARNED;
            else if (!strcmp(argv[a], "linear")) tc.sched_kind = VDM_SCHED_LINEAR;
            else goto bad;
            model_opts++;
        }
        else if (!strcmp(o, "--gamma-min")) { NEED_ARG(); if (!parse_double(argv[++a], &tc.g0)) goto bad; model_opts++; }
        else if (!strcmp(o, "--gamma-max")) { NEED_ARG(); if (!parse_double(argv[++a], &tc.g1)) goto bad; model_opts++; }
        else if (!strcmp(o, "--batch")) { NEED_ARG(); if (!parse_long(argv[++a], 1, 4096, &l)) goto bad; tc.batch = (int32_t)l; batch_opt = l; }
        else if (!strcmp(o, "--crop")) { NEED_ARG(); if (!parse_long(argv[++a], 4, 4096, &l)) goto bad; tc.crop = (int32_t)l; model_opts++; }
        else if (!strcmp(o, "--lr")) { NEED_ARG(); if (!parse_double(argv[++a], &tc.lr)) goto bad; model_opts++; }
        else if (!strcmp(o, "--warmup")) { NEED_ARG(); if (!parse_long(argv[++a], 0, 100000000L, &l)) goto bad; tc.warmup = (int32_t)l; model_opts++; }
        else if (!strcmp(o, "--wd")) { NEED_ARG(); if (!parse_double(argv[++a], &tc.weight_decay)) goto bad; model_opts++; }
        else if (!strcmp(o, "--clip")) { NEED_ARG(); if (!parse_double(argv[++a], &tc.clip_norm)) goto bad; model_opts++; }
        else if (!strcmp(o, "--ema")) { NEED_ARG(); if (!parse_double(argv[++a], &tc.ema_decay)) goto bad; model_opts++; }
        else if (!strcmp(o, "--log-every")) { NEED_ARG(); if (!parse_double(argv[++a], &log_every) || log_every < 0) goto bad; }
        else if (!strcmp(o, "--val-every")) { NEED_ARG(); if (!parse_double(argv[++a], &val_every) || val_every <= 0) goto bad; }
        else if (!strcmp(o, "--ckpt-every")) { NEED_ARG(); if (!parse_double(argv[++a], &ckpt_every) || ckpt_every <= 0) goto bad; }
        else if (!strcmp(o, "--val-crops")) { NEED_ARG(); if (!parse_long(argv[++a], 1, 1000, &val_crops)) goto bad; }
        else if (!strcmp(o, "--val-crop")) { NEED_ARG(); if (!parse_long(argv[++a], 4, 4096, &val_crop)) goto bad; }
        else if (!strcmp(o, "--val-steps")) { NEED_ARG(); if (!parse_long(argv[++a], 1, VDM_MODEL_MAX_STEPS, &val_steps)) goto bad; }
        else { vdm_cli_error("train: unknown option '%s' (see vdmzip help train)", o); return VDM_EXIT_USAGE; }
        continue;
    bad:
        vdm_cli_error("train: bad value '%s' for %s", argv[a], o);
        return VDM_EXIT_USAGE;
    }
    if (!data || !out || (!have_steps && !resume)) {
        vdm_cli_error("train: --data, --steps and --out are required (see vdmzip help train)");
        return VDM_EXIT_USAGE;
    }
    if (init && resume) {
        vdm_cli_error("train: --init starts a new run, --resume continues one: give one of them");
        return VDM_EXIT_USAGE;
    }
    if (lr_decay >= 0) {
        tc.lr_decay_steps = (int32_t)lr_decay;
        tc.lr_final = lr_final;
    }
    if (tc.net.var_out && tc.T == 0) {
        vdm_cli_error("train: --learned-var/--coupled need discrete steps (--steps T >= 1)");
        return VDM_EXIT_USAGE;
    }
    if (minutes < 0 && iters < 0) {
        vdm_cli_error("train: give --minutes N or --iters N (when to stop)");
        return VDM_EXIT_USAGE;
    }
    if (!resume && vdm_train_config_check(&tc) != VDM_OK) {
        vdm_cli_error("train: invalid model/optimiser settings (width 1..512, blocks 1..64, emb even, "
                      "Fourier exponents -8..12, gamma-min < gamma-max, 0 < lr < 1, ...)");
        return VDM_EXIT_USAGE;
    }
    if (tf32 && !use_cuda) {
        vdm_cli_error("train: --tf32 needs --device cuda");
        return VDM_EXIT_USAGE;
    }
    /* before loading any image: the device asked for does not exist here */
    if (use_cuda && !vdm_cuda_compiled()) {
        vdm_cli_error("train: --device cuda: this vdmzip was built without CUDA "
                      "(rebuild with -DVDMZIP_CUDA=ON, or use --device cpu)");
        return VDM_EXIT_USAGE;
    }
    if (use_cuda && vdm_cuda_device_count(NULL, 0) < 1) {
        vdm_cli_error("train: --device cuda: no usable CUDA GPU found (use --device cpu)");
        return VDM_EXIT_USAGE;
    }
    char ckpt_buf[4096];
    if (!ckpt) {
        snprintf(ckpt_buf, sizeof ckpt_buf, "%s.ckpt", out);
        ckpt = ckpt_buf;
    }

    int rc = check_writable(out);
    if (!rc) rc = check_writable(ckpt);
    if (rc) return rc;
    image_set train_set, val_imgs;
    memset(&val_imgs, 0, sizeof val_imgs);
    rc = load_dir(data, &train_set);
    if (rc) { image_set_free(&train_set); return rc; }
    val_set vs;
    memset(&vs, 0, sizeof vs);
    if (val) {
        rc = load_dir(val, &val_imgs);
        if (!rc) rc = make_val_set(&val_imgs, (int)val_crops, (int)val_crop, &vs);
        image_set_free(&val_imgs);
        if (rc) { image_set_free(&train_set); free(vs.px); return rc; }
    }

    vdm_trainer *t = NULL;
    vdm_status st;
    if (resume) {
        int changed = 0;
        st = vdm_trainer_resume(resume, train_set.img, train_set.n, (int)threads, &t, &changed);
        if (st == VDM_ERR_UNSUPPORTED) {
            vdm_cli_error("train: %s is a weights file, not a checkpoint (nothing to resume)", resume);
            image_set_free(&train_set);
            free(vs.px);
            return VDM_EXIT_INPUT;
        }
        if (st == VDM_OK) {
            if (changed) fprintf(stderr, "vdmzip: note: the training images differ from the checkpoint's; the run continues but no longer replays the original\n");
            if (model_opts) fprintf(stderr, "vdmzip: note: model/optimiser options are ignored with --resume (the checkpoint's settings are used)\n");
            if (lr_decay >= 0) st = vdm_trainer_set_lr_decay(t, (int32_t)lr_decay, lr_final);
            if (st == VDM_OK && batch_opt > 0 && (st = vdm_trainer_set_batch(t, (int32_t)batch_opt)) != VDM_OK) {
                vdm_cli_error("train: --batch %ld: %s", batch_opt, vdm_error_name(st));
                vdm_trainer_free(t);
                image_set_free(&train_set);
                free(vs.px);
                return vdm_cli_exit_code(st);
            }
            if (have_steps && tc.T != vdm_trainer_config(t)->T) {
                vdm_cli_error("train: --steps %d differs from the checkpoint's %d", tc.T, vdm_trainer_config(t)->T);
                vdm_trainer_free(t);
                image_set_free(&train_set);
                free(vs.px);
                return VDM_EXIT_USAGE;
            }
        }
    } else {
        st = vdm_trainer_create(&tc, train_set.img, train_set.n, (int)threads, &t);
        if (st == VDM_ERR_ARG) {
            vdm_cli_error("train: no training image is at least %dx%d", tc.crop, tc.crop);
            image_set_free(&train_set);
            free(vs.px);
            return VDM_EXIT_INPUT;
        }
        if (st == VDM_OK && init) {
            st = vdm_trainer_init_from(t, init);
            if (st != VDM_OK) {
                if (st == VDM_ERR_ARG)
                    vdm_cli_error("train: --init %s: its network/schedule/gamma range differ from this run's", init);
                else
                    vdm_cli_error("train: --init %s: %s", init, vdm_error_name(st));
                vdm_trainer_free(t);
                image_set_free(&train_set);
                free(vs.px);
                return st == VDM_ERR_ARG ? VDM_EXIT_USAGE : vdm_cli_exit_code(st);
            }
        }
    }
    if (st == VDM_OK && use_cuda && (st = vdm_trainer_set_backend(t, VDM_BACKEND_CUDA, tf32)) != VDM_OK) {
        vdm_cli_error("train: --device cuda: cannot run the network on the GPU (%s: out of device memory "
                      "for batch %dx%dx%d, or a CUDA failure)", vdm_error_name(st), vdm_trainer_config(t)->batch,
                      vdm_trainer_config(t)->crop, vdm_trainer_config(t)->crop);
        vdm_trainer_free(t);
        image_set_free(&train_set);
        free(vs.px);
        return vdm_cli_exit_code(st);
    }
    if (st != VDM_OK) {
        vdm_cli_error("train: %s: %s", resume ? resume : "cannot start", vdm_error_name(st));
        image_set_free(&train_set);
        free(vs.px);
        return vdm_cli_exit_code(st);
    }
    const vdm_train_config *c = vdm_trainer_config(t);
    char devdesc[320];
    if (use_cuda) {
        char gpu[256];
        if (vdm_cuda_device_count(gpu, sizeof gpu) < 1) gpu[0] = 0;
        snprintf(devdesc, sizeof devdesc, "cuda (%s, %s)", gpu[0] ? gpu : "GPU 0", tf32 ? "TF32" : "FP32");
    } else {
        snprintf(devdesc, sizeof devdesc, "%ld threads", threads);
    }
    if (val_steps < 0) val_steps = c->T > 0 ? c->T : 64;
    /* the coded chain is reported when the validation runs on the trained T */
    const int vcoded = c->coded_from > 0 && val_steps == c->T ? c->coded_from : 0;
    fprintf(stderr,
            "vdmzip train: %d images, %zu parameters (width %d, blocks %d, emb %d, fourier %d, %s), "
            "schedule %s, T=%d, batch %dx%dx%d, lr %.3g%s, %s%s%s\n",
            train_set.n, vdm_trainer_param_count(t), c->net.width, c->net.blocks, c->net.emb_dim,
            c->net.n_fourier, c->net.act == VDM_ACT_RELU ? "relu" : "silu",
            c->sched_kind == VDM_SCHED_LEARNED ? "learned" : "linear", c->T, c->batch, c->crop, c->crop,
            c->lr, c->lr_decay_steps > 0 ? " (decaying)" : "", devdesc, resume ? ", resumed" : "",
            c->net.var_out == 2 ? ", learned variances, channel coupling"
                                : c->net.var_out ? ", learned variances" : "");

    signal(SIGINT, on_sigint);
    const double t0 = now_s();
    double last_log = t0, last_val = t0, last_ckpt = t0;
    uint64_t done = 0, log_steps = 0;
    double log_loss = 0.0, log_prior = 0.0, log_recon = 0.0, log_diff = 0.0;
    vdm_train_stats s;
    memset(&s, 0, sizeof s);
    if (vs.n) {
        vdm_bound b;
        double coded;
        st = run_validation(t, &vs, (int)val_steps, (int)threads, vcoded, &b, &coded);
        if (st == VDM_OK) print_validation(vdm_trainer_steps(t), &b, coded, vcoded, vs.n, val_steps);
    }
    while (st == VDM_OK && !g_stop) {
        double tn = now_s();
        if (iters >= 0 && done >= (uint64_t)iters) break;
        if (minutes > 0 && tn - t0 >= minutes * 60.0) break;
        st = vdm_trainer_step(t, &s);
        if (st != VDM_OK) break;
        done++;
        log_steps++;
        log_loss += s.total;
        log_prior += s.prior;
        log_recon += s.recon;
        log_diff += s.diff;
        tn = now_s();
        if (tn - last_log >= log_every || (iters >= 0 && done == (uint64_t)iters)) {
            char el[32];
            fmt_time(el, sizeof el, tn - t0);
            double rate = (double)log_steps * c->batch / (tn - last_log > 1e-9 ? tn - last_log : 1e-9);
            fprintf(stderr,
                    "step %7llu  loss %.4f bpd (prior %.4f recon %.4f diff %.4f)  |g| %.3g  lr %.2e  "
                    "g0 %.2f g1 %.2f  %.1f patches/s  [%s]\n",
                    (unsigned long long)s.step, log_loss / log_steps, log_prior / log_steps,
                    log_recon / log_steps, log_diff / log_steps, s.grad_norm, s.lr, s.gamma0, s.gamma1,
                    rate, el);
            last_log = tn;
            log_steps = 0;
            log_loss = log_prior = log_recon = log_diff = 0.0;
        }
        if (vs.n && tn - last_val >= val_every * 60.0) {
            vdm_bound b;
            double coded;
            st = run_validation(t, &vs, (int)val_steps, (int)threads, vcoded, &b, &coded);
            if (st != VDM_OK) break;
            print_validation(s.step, &b, coded, vcoded, vs.n, val_steps);
            last_val = now_s();
        }
        if (now_s() - last_ckpt >= ckpt_every * 60.0) {
            st = vdm_trainer_save(t, ckpt);
            if (st != VDM_OK) { vdm_cli_error("train: cannot write %s: %s", ckpt, vdm_error_name(st)); break; }
            last_ckpt = now_s();
        }
    }
    signal(SIGINT, SIG_DFL);
    int exit_code = 0;
    if (st == VDM_ERR_INTERNAL) {
        vdm_cli_error("train: the loss or gradient became non-finite at step %llu; stopping (the last checkpoint is kept)",
                      (unsigned long long)vdm_trainer_steps(t) + 1);
        exit_code = VDM_EXIT_INTERNAL;
    } else if (st != VDM_OK) {
        vdm_cli_error("train: %s", vdm_error_name(st));
        exit_code = vdm_cli_exit_code(st);
    } else {
        if (vs.n) {
            vdm_bound b;
            double coded;
            if (run_validation(t, &vs, (int)val_steps, (int)threads, vcoded, &b, &coded) == VDM_OK)
                print_validation(vdm_trainer_steps(t), &b, coded, vcoded, vs.n, val_steps);
        }
        vdm_status s1 = vdm_trainer_save(t, ckpt);
        vdm_status s2 = vdm_trainer_export(t, out);
        if (s1 != VDM_OK) { vdm_cli_error("train: cannot write %s: %s", ckpt, vdm_error_name(s1)); exit_code = VDM_EXIT_IO; }
        if (s2 != VDM_OK) { vdm_cli_error("train: cannot write %s: %s", out, vdm_error_name(s2)); exit_code = VDM_EXIT_IO; }
        if (!exit_code) {
            char el[32];
            fmt_time(el, sizeof el, now_s() - t0);
            fprintf(stderr, "vdmzip train: %llu updates (%llu this run) in %s%s; wrote %s and %s\n",
                    (unsigned long long)vdm_trainer_steps(t), (unsigned long long)done, el,
                    g_stop ? " (interrupted)" : "", out, ckpt);
        }
    }
    vdm_trainer_free(t);
    image_set_free(&train_set);
    free(vs.px);
    return exit_code;
}

/* ---- eval --------------------------------------------------------------------- */

static void json_num(FILE *f, double v)
{
    if (v == v) fprintf(f, "%.6f", v);
    else fputs("null", f);
}

static void print_json_terms(FILE *f, const vdm_bound *b)
{
    fputs("\"prior\": ", f); json_num(f, b->prior);
    fputs(", \"recon\": ", f); json_num(f, b->recon);
    fputs(", \"diff\": ", f); json_num(f, b->diff);
    fputs(", \"total\": ", f); json_num(f, b->total);
    fputs(", \"se_recon\": ", f); json_num(f, b->se_recon);
    fputs(", \"se_diff\": ", f); json_num(f, b->se_diff);
    fputs(", \"se_total\": ", f); json_num(f, b->se_total);
}

/* Code one image with the model alone through the real container and the
 * bits-back coder, decode it again and compare: the actual code length
 * (file bits / sub-pixels, every byte of overhead included). */
typedef struct codelength {
    double bpsp, enc_s, dec_s;
    uint64_t cm_tiles, ntiles;
    double coder_gap;   /* model-coded tiles' bits (framing included) / the coder's own -VLB of them - 1 */
} codelength_result;

static int measure_codelength(const char *model_path, const char *file, int T, int tile, int grid, int threads,
                              codelength_result *cl)
{
    vdm_image *img = NULL, *back = NULL;
    vdm_status st = vdm_png_read_file(file, &img);
    if (st != VDM_OK) { vdm_cli_error("eval: %s: %s", file, vdm_error_name(st)); return vdm_cli_exit_code(st); }
    vdm_bb_params bp;
    vdm_bb_params_default(&bp);
    bp.tile_w = bp.tile_h = (uint32_t)tile;
    bp.grid = (uint32_t)grid;
    bp.tiles = VDM_BB_TILES_SEED;   /* as encode --model-only: CM only to start the chain */
    vdm_model_path mp;
    st = vdm_bb_path_open(model_path, &bp, (unsigned)threads, &mp);
    if (st != VDM_OK) {
        vdm_cli_error("eval: model %s: %s", model_path, vdm_error_name(st));
        vdm_image_free(img);
        return VDM_EXIT_MODEL;
    }
    if (!mp.channels_for(mp.ctx, img)) {
        vdm_cli_error("eval: %s: the model codes only 8-bit RGB(A) images", file);
        vdm_image_free(img);
        vdm_bb_path_close(&mp);
        return VDM_EXIT_INPUT;
    }
    vdm_encode_opts eo;
    vdm_encode_opts_default(&eo);
    eo.model = &mp;
    eo.steps = (uint32_t)T;
    eo.threads = (uint32_t)threads;
    eo.model_only = 1;
    eo.effort = 0;
    uint8_t *buf = NULL;
    size_t size = 0;
    vdm_encode_stats es;
    memset(cl, 0, sizeof *cl);
    double t0 = now_s();
    st = vdm_vdz_encode(img, &eo, &buf, &size, &es);
    cl->enc_s = now_s() - t0;
    if (st == VDM_OK) {
        vdm_bb_stats bs;
        vdm_bb_path_stats(&mp, &bs);
        cl->cm_tiles = bs.cm_tiles;
        cl->ntiles = (uint64_t)((img->width + tile - 1) / tile) * ((img->height + tile - 1) / tile);
        double model_bits = 8.0 * (double)es.model_bytes - (double)bs.cm_bits - 24.0 * (double)bs.cm_tiles;
        cl->coder_gap = es.neg_vlb_bits > 0 ? model_bits / es.neg_vlb_bits - 1 : 0;
    }
    if (st == VDM_OK) {
        vdm_decode_opts d = { &mp, (uint32_t)threads, NULL, NULL };
        t0 = now_s();
        st = vdm_vdz_decode(buf, size, &d, &back);
        cl->dec_s = now_s() - t0;
        if (st == VDM_OK && (back->width != img->width || back->height != img->height ||
                             memcmp(back->data, img->data, (size_t)img->width * img->height * img->channels)))
            st = VDM_ERR_INTERNAL;
    }
    cl->bpsp = 8.0 * (double)size / ((double)img->width * img->height * 3);
    if (st != VDM_OK) vdm_cli_error("eval: %s: coding with the model failed: %s (%s)", file, vdm_error_name(st),
                                    vdm_codec_last_error());
    free(buf);
    vdm_image_free(back);
    vdm_image_free(img);
    vdm_bb_path_close(&mp);
    return st == VDM_OK ? 0 : vdm_cli_exit_code(st);
}

int vdm_cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL;
    long T = -1, samples = 2, tile = VDM_BB_DEFAULT_TILE, threads = 2, grid = VDM_BB_DEFAULT_GRID;
    unsigned long long seed = 1;
    int json = 0, codelength = 0, per_step = 0, use_xhat = 1, verify = 0, data_only = 0;
    long cm_method = VDM_CLASSICAL_CM_DEFAULT;   /* the classical coder's default (CM9) */
    const char *hybrid_list = NULL;
    vdm_backend backend = VDM_BACKEND_CPU;
    int nfiles = 0;
    char **files = (char **)malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    if (!files) { vdm_cli_error("out of memory"); return VDM_EXIT_INTERNAL; }
    for (int a = 1; a < argc; a++) {
        const char *o = argv[a];
        if (!strcmp(o, "--")) { while (++a < argc) files[nfiles++] = argv[a]; break; }
        if (o[0] != '-' || !o[1]) { files[nfiles++] = argv[a]; continue; }
        if (!strcmp(o, "--json")) { json = 1; continue; }
        if (!strcmp(o, "--codelength")) { codelength = 1; continue; }
        if (!strcmp(o, "--per-step")) { per_step = 1; continue; }
        if (!strcmp(o, "--no-xhat")) { use_xhat = 0; continue; }
        if (!strcmp(o, "--verify")) { verify = 1; continue; }
        if (!strcmp(o, "--data-only")) { data_only = 1; continue; }
        if (a + 1 >= argc) { vdm_cli_error("eval: %s needs a value", o); free(files); return VDM_EXIT_USAGE; }
        const char *v = argv[++a];
        int ok = 1;
        if (!strcmp(o, "--model")) model_path = v;
        else if (!strcmp(o, "--steps")) ok = parse_long(v, 1, VDM_MODEL_MAX_STEPS, &T);
        else if (!strcmp(o, "--samples")) ok = parse_long(v, 1, 1000, &samples);
        else if (!strcmp(o, "--tile")) ok = parse_long(v, 8, 4096, &tile);
        else if (!strcmp(o, "--threads")) ok = parse_long(v, 1, 256, &threads);
        else if (!strcmp(o, "--grid")) ok = parse_long(v, 1, 1024, &grid);
        else if (!strcmp(o, "--hybrid")) hybrid_list = v;
        else if (!strcmp(o, "--cm")) ok = parse_long(v, VDM_CLASSICAL_CM3, VDM_CLASSICAL_MAX, &cm_method);
        else if (!strcmp(o, "--seed")) {
            char *end;
            errno = 0;
            seed = strtoull(v, &end, 0);
            ok = !errno && *end == 0 && end != v;
        }
        else if (!strcmp(o, "--backend")) {
            if (!strcmp(v, "cpu")) backend = VDM_BACKEND_CPU;
            else if (!strcmp(v, "ref")) backend = VDM_BACKEND_REF;
            else ok = 0;
        }
        else { vdm_cli_error("eval: unknown option '%s' (see vdmzip help eval)", o); free(files); return VDM_EXIT_USAGE; }
        if (!ok) { vdm_cli_error("eval: bad value '%s' for %s", v, o); free(files); return VDM_EXIT_USAGE; }
    }
    if (nfiles == 0) { vdm_cli_error("eval: no images given (see vdmzip help eval)"); free(files); return VDM_EXIT_USAGE; }
    if (!model_path) model_path = vdmzip_model_default_path();
    if (!model_path) {
        vdm_cli_error("eval: no model file found (give --model or set $VDMZIP_MODEL)");
        free(files);
        return VDM_EXIT_MODEL;
    }
    vdm_model *m = NULL;
    vdm_status st = vdm_model_load(model_path, &m);
    if (st != VDM_OK) {
        vdm_cli_error("eval: model %s: %s", model_path, vdm_error_name(st));
        free(files);
        return st == VDM_ERR_IO || st == VDM_ERR_NOMEM ? vdm_cli_exit_code(st) : VDM_EXIT_MODEL;
    }
    if (T < 0) {
        T = vdm_model_default_steps(m);
        if (T == 0) {
            vdm_cli_error("eval: the model was trained in continuous time; give --steps T");
            vdm_model_free(m);
            free(files);
            return VDM_EXIT_USAGE;
        }
    }
    /* --hybrid: the truncation steps */
    int nk = 0, *ks = NULL;
    if (hybrid_list) {
        ks = (int *)malloc(sizeof(int) * ((size_t)T + 1));
        int ok = ks != NULL;
        if (ok && !strcmp(hybrid_list, "all")) {
            for (int k = 0; k <= T; k++) ks[nk++] = k;
        } else if (ok) {
            const char *p = hybrid_list;
            while (ok && *p) {
                char *end;
                errno = 0;
                long k = strtol(p, &end, 10);
                ok = !errno && end != p && k >= 0 && k <= T && nk <= T && (*end == ',' || *end == 0);
                if (ok) ks[nk++] = (int)k;
                p = *end == ',' ? end + 1 : end;
            }
            ok = ok && nk > 0;
        }
        if (!ok) {
            vdm_cli_error("eval: bad --hybrid '%s' (steps 0..%ld, comma-separated, or all)", hybrid_list, T);
            free(ks);
            vdm_model_free(m);
            free(files);
            return VDM_EXIT_USAGE;
        }
    }
    double *steps = (double *)calloc((size_t)T, sizeof(double)), *steps_se = (double *)calloc((size_t)T, sizeof(double));
    double *steps_tot = (double *)calloc((size_t)T, sizeof(double));
    double *hy_chain = (double *)calloc((size_t)nk + 1, sizeof(double)), *hy_data = (double *)calloc((size_t)nk + 1, sizeof(double));
    double cm_alone_tot = 0;
    if (!steps || !steps_se || !steps_tot || !hy_chain || !hy_data) {
        vdm_cli_error("out of memory");
        return VDM_EXIT_INTERNAL;
    }
    uint8_t id[32];
    char hex[65];
    vdm_model_id(m, id);
    vdm_hex(hex, id, 32);
    vdm_eval_options eo = { (int)T, (int)samples, (int)tile, (int)threads, backend, seed, steps, steps_se };
    if (json) {
        printf("{\"model\": ");
        vdm_cli_json_string(stdout, model_path);
        printf(", \"model_sha256\": \"%s\", \"steps\": %ld, \"samples\": %ld, \"tile\": %ld, \"backend\": \"%s\", \"images\": [",
               hex, T, samples, tile, vdm_backend_name(backend));
    } else {
        printf("model %s (sha256 %.16s...), T=%ld, %ld samples, tile %ld, backend %s\n", model_path, hex, T,
               samples, tile, vdm_backend_name(backend));
        printf("negative VLB in bits per sub-pixel (+- Monte-Carlo standard error)\n");
        printf("%-28s %9s %9s %9s %9s %8s %7s", "image", "prior", "recon", "diff", "total", "+-se", "sec");
        if (codelength) printf(" %9s %8s %7s %7s %7s %8s", "file", "gap", "enc s", "dec s", "CM/all", "coder");
        printf("\n");
    }
    vdm_bound *results = (vdm_bound *)calloc((size_t)nfiles, sizeof(vdm_bound));
    if (!results) { vdm_cli_error("out of memory"); vdm_model_free(m); free(files); return VDM_EXIT_INTERNAL; }
    int nok = 0, exit_code = 0, first = 1, codelength_failed = 0;
    double cl_bits = 0, cl_dims = 0;
    for (int i = 0; i < nfiles; i++) {
        uint8_t *px = NULL;
        int w = 0, h = 0;
        int rc = load_png(files[i], &px, &w, &h);
        if (rc) { exit_code = rc; continue; }
        vdm_bound b;
        double t0 = now_s();
        if (data_only && nk) {
            memset(&b, 0, sizeof b);
            memset(steps, 0, sizeof(double) * (size_t)T);
            memset(steps_se, 0, sizeof(double) * (size_t)T);
            b.dims = (double)w * h * 3;
        } else {
            st = vdm_eval_image(m, px, w, h, &eo, &b);
        }
        double dt = now_s() - t0;
        if (st != VDM_OK) {
            free(px);
            vdm_cli_error("eval: %s: %s", files[i], vdm_error_name(st));
            exit_code = vdm_cli_exit_code(st);
            continue;
        }
        /* the hybrid: chain above each k + CM3 given z_{t_k} */
        double cm_alone = 0;
        vdm_hybrid_data *hd = nk ? (vdm_hybrid_data *)calloc((size_t)nk, sizeof *hd) : NULL;
        double *hsec = nk ? (double *)calloc((size_t)nk, sizeof(double)) : NULL;
        if (nk && (!hd || !hsec)) st = VDM_ERR_NOMEM;
        if (nk && st == VDM_OK) st = vdm_hybrid_cm_alone(px, w, h, (int)cm_method, &cm_alone);
        for (int q = 0; q < nk && st == VDM_OK; q++) {
            double t1 = now_s();
            st = vdm_hybrid_data_term(m, px, w, h, (int)T, ks[q], (int)tile, (int)threads, seed, use_xhat, verify,
                                      (int)cm_method, &hd[q]);
            hsec[q] = now_s() - t1;
        }
        free(px);
        if (st != VDM_OK) {
            vdm_cli_error("eval: %s: hybrid: %s", files[i], vdm_error_name(st));
            exit_code = vdm_cli_exit_code(st);
            free(hd);
            free(hsec);
            continue;
        }
        for (int s2 = 0; s2 < T; s2++) steps_tot[s2] += steps[s2] * b.dims;
        if (nk) cm_alone_tot += cm_alone;
        results[nok++] = b;
        codelength_result cl;
        memset(&cl, 0, sizeof cl);
        if (codelength) {
            int rc2 = measure_codelength(model_path, files[i], (int)T, (int)tile, (int)grid, (int)threads, &cl);
            if (rc2) { exit_code = rc2; codelength_failed = 1; }
            else { cl_bits += cl.bpsp * b.dims; cl_dims += b.dims; }
        }
        if (json) {
            printf("%s{\"file\": ", first ? "" : ", ");
            vdm_cli_json_string(stdout, files[i]);
            printf(", \"width\": %d, \"height\": %d, \"seconds\": %.3f, ", w, h, dt);
            if (codelength) {
                printf("\"file_bpsp\": ");
                json_num(stdout, cl.bpsp);
                printf(", \"gap\": ");
                json_num(stdout, b.total > 0 ? cl.bpsp / b.total - 1 : 0);
                printf(", \"coder_gap\": ");
                json_num(stdout, cl.coder_gap);
                printf(", \"cm_tiles\": %" PRIu64 ", \"tiles\": %" PRIu64 ", ", cl.cm_tiles, cl.ntiles);
                printf("\"encode_seconds\": %.3f, \"decode_seconds\": %.3f, ", cl.enc_s, cl.dec_s);
            }
            print_json_terms(stdout, &b);
            printf(", \"steps\": [");
            for (int s2 = 0; s2 < T; s2++) { printf(s2 ? ", " : ""); json_num(stdout, steps[s2]); }
            printf("], \"steps_se\": [");
            for (int s2 = 0; s2 < T; s2++) { printf(s2 ? ", " : ""); json_num(stdout, steps_se[s2]); }
            printf("]");
            if (nk) {
                printf(", \"cm_alone\": ");
                json_num(stdout, cm_alone / b.dims);
                printf(", \"hybrid\": [");
                for (int q = 0; q < nk; q++) {
                    double chain = b.prior;
                    for (int s2 = ks[q]; s2 < T; s2++) chain += steps[s2];
                    printf("%s{\"k\": %d, \"t\": %.6f, \"noise_px\": ", q ? ", " : "", ks[q], (double)ks[q] / T);
                    json_num(stdout, hd[q].noise_px);
                    printf(", \"chain\": "); json_num(stdout, chain);
                    printf(", \"data\": "); json_num(stdout, hd[q].bits / b.dims);
                    printf(", \"total\": "); json_num(stdout, chain + hd[q].bits / b.dims);
                    printf(", \"seconds\": %.3f}", hsec[q]);
                }
                printf("]");
            }
            printf("}");
            first = 0;
        } else {
            const char *base = strrchr(files[i], '/');
            base = base ? base + 1 : files[i];
            printf("%-28.28s %9.4f %9.4f %9.4f %9.4f %8.4f %7.1f", base, b.prior, b.recon, b.diff, b.total,
                   b.se_total, dt);
            if (codelength)
                printf(" %9.4f %+7.2f%% %7.1f %7.1f %3" PRIu64 "/%-3" PRIu64 " %+7.2f%%", cl.bpsp,
                       100.0 * (cl.bpsp / b.total - 1), cl.enc_s, cl.dec_s, cl.cm_tiles, cl.ntiles,
                       100.0 * cl.coder_gap);
            printf("\n");
            if (per_step)
                for (int s2 = 0; s2 < T; s2++)
                    printf("    step %3d  t %.4f  %9.5f +- %.5f\n", s2 + 1, (double)(s2 + 1) / T, steps[s2], steps_se[s2]);
            if (nk) {
                printf("    hybrid:  %4s %7s %9s %9s %9s %9s   (CM3 alone %.4f)\n", "k", "t*", "noise px", "chain",
                       "CM|z", "total", cm_alone / b.dims);
                for (int q = 0; q < nk; q++) {
                    double chain = b.prior;
                    for (int s2 = ks[q]; s2 < T; s2++) chain += steps[s2];
                    printf("             %4d %7.4f %9.3f %9.4f %9.4f %9.4f  %+6.2f%%  %5.1f s\n", ks[q], (double)ks[q] / T,
                           hd[q].noise_px, chain, hd[q].bits / b.dims, chain + hd[q].bits / b.dims,
                           100.0 * ((chain + hd[q].bits / b.dims) / (cm_alone / b.dims) - 1), hsec[q]);
                }
            }
        }
        if (nk) {
            for (int q = 0; q < nk; q++) {
                double chain = b.prior * b.dims;
                for (int s2 = ks[q]; s2 < T; s2++) chain += steps[s2] * b.dims;
                hy_chain[q] += chain;
                hy_data[q] += hd[q].bits;
            }
        }
        free(hd);
        free(hsec);
        fflush(stdout);
    }
    vdm_bound tot;
    vdm_bound_combine(results, nok, &tot);
    if (json) {
        printf("], \"total\": {\"images\": %d, \"subpixels\": %.0f, ", nok, tot.dims);
        if (codelength && !codelength_failed && cl_dims > 0) {
            printf("\"file_bpsp\": ");
            json_num(stdout, cl_bits / cl_dims);
            printf(", ");
        }
        print_json_terms(stdout, &tot);
        printf(", \"steps\": [");
        for (int s2 = 0; s2 < T; s2++) { printf(s2 ? ", " : ""); json_num(stdout, tot.dims > 0 ? steps_tot[s2] / tot.dims : 0); }
        printf("]");
        if (nk && tot.dims > 0) {
            printf(", \"cm_alone\": ");
            json_num(stdout, cm_alone_tot / tot.dims);
            printf(", \"hybrid\": [");
            for (int q = 0; q < nk; q++) {
                printf("%s{\"k\": %d, \"t\": %.6f, \"chain\": ", q ? ", " : "", ks[q], (double)ks[q] / T);
                json_num(stdout, hy_chain[q] / tot.dims);
                printf(", \"data\": "); json_num(stdout, hy_data[q] / tot.dims);
                printf(", \"total\": "); json_num(stdout, (hy_chain[q] + hy_data[q]) / tot.dims);
                printf("}");
            }
            printf("]");
        }
        printf("}}\n");
    } else if (nok > 0) {
        char label[40];
        snprintf(label, sizeof label, "total (%d image%s)", nok, nok == 1 ? "" : "s");
        printf("%-28s %9.4f %9.4f %9.4f %9.4f %8.4f", label, tot.prior, tot.recon, tot.diff, tot.total,
               tot.se_total);
        if (codelength && !codelength_failed && cl_dims > 0)
            printf(" %7s %9.4f %+7.2f%%", "", cl_bits / cl_dims, 100.0 * (cl_bits / cl_dims / tot.total - 1));
        printf("\n");
        if (nk) {
            printf("hybrid over all images: CM3 alone %.4f\n", cm_alone_tot / tot.dims);
            for (int q = 0; q < nk; q++)
                printf("    k %4d  t* %.4f  chain %.4f  CM|z %.4f  total %.4f  %+6.2f%%\n", ks[q], (double)ks[q] / T,
                       hy_chain[q] / tot.dims, hy_data[q] / tot.dims, (hy_chain[q] + hy_data[q]) / tot.dims,
                       100.0 * ((hy_chain[q] + hy_data[q]) / cm_alone_tot - 1));
        }
    }
    free(ks);
    free(steps);
    free(steps_se);
    free(steps_tot);
    free(hy_chain);
    free(hy_data);
    vdm_model_free(m);
    free(results);
    free(files);
    return exit_code;
}
