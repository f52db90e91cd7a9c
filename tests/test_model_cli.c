/* test_model_cli.c — `vdmzip train` and `vdmzip eval` end to end through the
 * real binary: a few updates on two small PNGs, resume, eval in text and
 * JSON, and the documented exit codes for usage errors and bad models. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "codec/png_io.h"

static char g_dir[64];

static void write_png(const char *path, int w, int h, int seed)
{
    vdm_image *img = NULL;
    cr_assert_eq(vdm_image_create((uint32_t)w, (uint32_t)h, VDM_PNG_RGB, 8, &img), VDM_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img->data[((size_t)y * w + x) * 3 + c] = (uint8_t)(x * 3 + y * (5 + seed) + c * 40 + (x * y) % 7);
    uint8_t *buf;
    size_t n;
    cr_assert_eq(vdm_png_write_mem(img, &buf, &n), VDM_OK);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
    vdm_image_free(img);
}

static void setup(void)
{
    strcpy(g_dir, "/tmp/vdm_cli_model_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    char p[256];
    snprintf(p, sizeof p, "%s/data", g_dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/data/a.png", g_dir);
    write_png(p, 40, 36, 0);
    snprintf(p, sizeof p, "%s/data/b.png", g_dir);
    write_png(p, 33, 48, 1);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli_model, .init = setup, .fini = teardown, .timeout = 120);

/* Run a shell command; return its exit code and (optionally) its stdout. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = 0;
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out && n + k < cap) { memcpy(out + n, buf, k); n += k; }
    }
    if (out) out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define BIN VDM_BINARY_DIR "/vdmzip"
#define SMALL "--width 8 --blocks 1 --emb 8 --batch 2 --crop 16 --log-every 0 --threads 1"

Test(cli_model, train_resume_eval)
{
    char out[16384];
    int rc = run(out, sizeof out, "%s train --data %s/data --steps 4 --out %s/m.vdm --iters 5 " SMALL " 2>&1",
                 BIN, g_dir, g_dir);
    cr_assert_eq(rc, 0, "train failed: %s", out);
    cr_assert(strstr(out, "step       5") != NULL, "progress line missing: %s", out);
    cr_assert(strstr(out, "patches/s") != NULL);
    /* resume continues the step count */
    rc = run(out, sizeof out, "%s train --data %s/data --steps 4 --out %s/m.vdm --iters 2 --resume %s/m.vdm.ckpt "
             "--log-every 0 --threads 1 2>&1", BIN, g_dir, g_dir, g_dir);
    cr_assert_eq(rc, 0, "resume failed: %s", out);
    cr_assert(strstr(out, "7 updates (2 this run)") != NULL, "%s", out);

    rc = run(out, sizeof out, "%s eval --model %s/m.vdm --samples 2 --tile 16 %s/data/a.png %s/data/b.png", BIN,
             g_dir, g_dir, g_dir);
    cr_assert_eq(rc, 0, "eval failed: %s", out);
    cr_assert(strstr(out, "a.png") && strstr(out, "b.png") && strstr(out, "total (2 images)"), "%s", out);
    cr_assert(strstr(out, "T=4") != NULL, "default T must come from the model: %s", out);

    rc = run(out, sizeof out, "%s eval --model %s/m.vdm --steps 3 --samples 1 --json %s/data/a.png", BIN, g_dir,
             g_dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(out[0] == '{' && strstr(out, "\"steps\": 3") && strstr(out, "\"total\": {"), "%s", out);
    cr_assert(strstr(out, "\"se_total\": null") != NULL, "one sample has no standard error: %s", out);
}

Test(cli_model, continuous_time)
{
    char out[8192];
    int rc = run(out, sizeof out, "%s train --data %s/data --steps 0 --out %s/c.vdm --iters 3 " SMALL
                 " --schedule linear 2>&1", BIN, g_dir, g_dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "T=0") != NULL, "%s", out);
    /* a continuous-time model needs an explicit T to be evaluated */
    cr_assert_eq(run(out, sizeof out, "%s eval --model %s/c.vdm %s/data/a.png 2>&1", BIN, g_dir, g_dir), 1);
    rc = run(out, sizeof out, "%s eval --model %s/c.vdm --steps 5 --tile 32 %s/data/a.png 2>&1", BIN, g_dir, g_dir);
    cr_assert_eq(rc, 0, "%s", out);
}

Test(cli_model, errors_and_exit_codes)
{
    char out[8192];
    /* usage */
    cr_assert_eq(run(out, sizeof out, "%s train --data %s/data --out x.vdm --iters 1 2>&1", BIN, g_dir), 1);
    cr_assert_eq(run(out, sizeof out, "%s train --data %s/data --steps 4 --out %s/x.vdm 2>&1", BIN, g_dir, g_dir), 1,
                 "no stop condition");
    cr_assert_eq(run(out, sizeof out, "%s train --bogus 2>&1", BIN), 1);
    cr_assert_eq(run(out, sizeof out, "%s eval --model x 2>&1", BIN), 1, "no images");
    /* a missing model is an I/O error; a damaged one is a model error */
    cr_assert_eq(run(out, sizeof out, "%s eval --model %s/none.vdm %s/data/a.png 2>&1", BIN, g_dir, g_dir), 3);
    char p[300];
    snprintf(p, sizeof p, "%s/bad.vdm", g_dir);
    FILE *f = fopen(p, "wb");
    fputs("\x89VDMW\r\n\x1a this is not a model", f);
    fclose(f);
    cr_assert_eq(run(out, sizeof out, "%s eval --model %s %s/data/a.png 2>&1", BIN, p, g_dir), 4, "%s", out);
    cr_assert(strstr(out, "bad.vdm") != NULL, "the message names the file: %s", out);
    /* no image large enough for the crop */
    cr_assert_eq(run(out, sizeof out, "%s train --data %s/data --steps 4 --out %s/y.vdm --iters 1 --crop 64 "
                     "--log-every 0 2>&1", BIN, g_dir, g_dir), 2, "%s", out);
    /* an output that cannot be written is refused before training */
    cr_assert_eq(run(out, sizeof out, "%s train --data %s/data --steps 4 --out %s/nodir/y.vdm --iters 1 2>&1", BIN,
                     g_dir, g_dir), 3, "%s", out);
    /* an empty data folder */
    snprintf(p, sizeof p, "%s/empty", g_dir);
    mkdir(p, 0700);
    cr_assert_eq(run(out, sizeof out, "%s train --data %s --steps 4 --out %s/y.vdm --iters 1 2>&1", BIN, p, g_dir),
                 2);
}
