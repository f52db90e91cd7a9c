/* test_cli_batch.c — `vdmzip encode/decode` on batches, as zstd users run
 * them: several inputs, -r over nested folders (with a symlink loop),
 * --jobs N (bytes never depend on N), -c, --rm (only verified inputs go),
 * the summary line, and a bad file among good ones (named, skipped, exit
 * code 2, nothing else touched).  The 24 Kodak images with one corrupt PNG
 * are the check; the other tests use small crops of them. */
#include <criterion/criterion.h>
#include <sys/time.h>

#include "codec/png_io.h"
#include "codec_testutil.h"

#define VDMZIP VDM_BINARY_DIR "/vdmzip"
#define KODAK VDM_SHARED_DIR "/data/kodak"

static char *g_dir;

static void setup(void)
{
    g_dir = tu_tmpdir("clibatch");
    cr_assert_not_null(g_dir);
}

static void teardown(void)
{
    tu_run("rm -rf '%s'", g_dir);
    free(g_dir);
}

TestSuite(cli_batch, .init = setup, .fini = teardown, .timeout = 300);

static const char *P(const char *name)
{
    static char bufs[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(bufs[k], sizeof bufs[k], "%s/%s", g_dir, name);
    return bufs[k];
}

static int kodak_available(void)
{
    return tu_exists(KODAK "/kodim01.png") && tu_exists(KODAK "/kodim24.png");
}

/* Same image: size, type, depth, palette, samples (PNG bytes may differ). */
static int same_pixels(const char *a, const char *b)
{
    vdm_image *x = NULL, *y = NULL;
    int ok = vdm_png_read_file(a, &x) == VDM_OK && vdm_png_read_file(b, &y) == VDM_OK;
    if (ok)
        ok = x->width == y->width && x->height == y->height && x->color_type == y->color_type &&
             x->bit_depth == y->bit_depth && x->palette_size == y->palette_size &&
             !memcmp(x->data, y->data,
                     (size_t)vdm_image_sample_bytes(x->width, x->height, x->channels, x->bit_depth));
    vdm_image_free(x);
    vdm_image_free(y);
    return ok;
}

static int same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *x = tu_read_file(a, &na), *y = tu_read_file(b, &nb);
    int ok = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return ok;
}

/* The top-left w x h of Kodak image i as an RGB PNG at `path`. */
static void kodak_crop(int i, uint32_t w, uint32_t h, const char *path)
{
    char src[1024];
    snprintf(src, sizeof src, KODAK "/kodim%02d.png", i);
    vdm_image *img = NULL;
    cr_assert_eq(vdm_png_read_file(src, &img), VDM_OK, "cannot read %s", src);
    cr_assert(img->color_type == VDM_PNG_RGB && img->bit_depth == 8);
    uint16_t *s = malloc((size_t)w * h * 3 * sizeof *s);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w * 3; x++) s[(size_t)y * w * 3 + x] = img->data[(size_t)y * img->width * 3 + x];
    tu_png_desc d;
    memset(&d, 0, sizeof d);
    d.w = w;
    d.h = h;
    d.ct = 2;
    d.bd = 8;
    d.s = s;
    size_t n;
    uint8_t *png = tu_png(&d, &n);
    cr_assert_eq(tu_write_file(path, png, n), 0);
    free(png);
    free(s);
    vdm_image_free(img);
}

/* A PNG whose image data fails its CRC: a copy of `src` with a byte in the
 * middle flipped. */
static void corrupt_copy(const char *src, const char *dst)
{
    size_t n;
    uint8_t *b = tu_read_file(src, &n);
    cr_assert(b && n > 1000);
    b[n / 2] ^= 0x55;
    cr_assert_eq(tu_write_file(dst, b, n), 0);
    free(b);
}

static char *read_text(const char *path)
{
    size_t n;
    uint8_t *t = tu_read_file(path, &n);
    if (!t) return strdup("");
    t = realloc(t, n + 1);
    t[n] = 0;
    return (char *)t;
}

static int count_lines_with(const char *text, const char *needle)
{
    int k = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[4096];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        if (strstr(line, needle)) k++;
        p += len + (e ? 1 : 0);
    }
    return k;
}

static int count_lines(const char *text)
{
    int k = 0;
    for (; *text; text++) k += *text == '\n';
    return k;
}

/* ---- the check ------------------------------------------------------ */

Test(cli_batch, kodak_batch_with_one_corrupt_png, .timeout = 900)
{
    if (!kodak_available()) cr_skip_test("Kodak images not found under %s", KODAK);
    tu_run("mkdir -p %s/in", g_dir);
    char src[1024], dst[1024];
    for (int i = 1; i <= 24; i++) {
        snprintf(src, sizeof src, KODAK "/kodim%02d.png", i);
        snprintf(dst, sizeof dst, "%s/in/kodim%02d.png", g_dir, i);
        cr_assert_eq(tu_run("cp '%s' '%s'", src, dst), 0);
    }
    corrupt_copy(KODAK "/kodim05.png", P("in/broken.png"));
    /* the inputs' bytes and times before */
    struct stat before[25];
    for (int i = 0; i < 25; i++) {
        if (i < 24) snprintf(dst, sizeof dst, "%s/in/kodim%02d.png", g_dir, i + 1);
        else snprintf(dst, sizeof dst, "%s/in/broken.png", g_dir);
        cr_assert_eq(stat(dst, &before[i]), 0);
    }
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    /* --classical-only: with the model, images where its sampled tiles
     * predict a gain get the whole model's try (~10 s each and more) even
     * at --effort 0; the batch machinery is the same either way (the other
     * tests and the measurement run the model's path) */
    int rc = tu_run("%s encode --jobs 2 --effort 0 --classical-only %s/in/*.png 2>%s", VDMZIP, g_dir, P("err.txt"));
    gettimeofday(&t1, NULL);
    char *err = read_text(P("err.txt"));
    cr_log_info("24 Kodak + 1 corrupt, --jobs 2 --effort 0 --classical-only: %.1f s, exit %d\n%s",
                (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_usec - t0.tv_usec), rc, err);
    cr_assert_eq(rc, 2, "exit %d, want 2: %s", rc, err);
    /* the bad one named on one error line; the summary counts it */
    cr_assert_eq(count_lines_with(err, "broken.png"), 1, "stderr: %s", err);
    cr_assert_eq(count_lines_with(err, "vdmzip: "), 2, "one error line and the summary: %s", err);
    cr_assert(strstr(err, "25 files (1 failed)") != NULL, "no summary line: %s", err);
    cr_assert(strstr(err, "bits/sub-pixel") != NULL, "summary without bits/sub-pixel: %s", err);
    free(err);
    /* 24 .vdz, none for the bad one, nothing else in the folder */
    cr_assert(!tu_exists(P("in/broken.vdz")));
    cr_assert_eq(tu_count_entries(P("in")), 49, "leftovers in the input folder");
    /* inputs untouched */
    for (int i = 0; i < 25; i++) {
        struct stat now;
        if (i < 24) snprintf(dst, sizeof dst, "%s/in/kodim%02d.png", g_dir, i + 1);
        else snprintf(dst, sizeof dst, "%s/in/broken.png", g_dir);
        cr_assert_eq(stat(dst, &now), 0);
        cr_assert(now.st_size == before[i].st_size && now.st_mtim.tv_sec == before[i].st_mtim.tv_sec &&
                      now.st_mtim.tv_nsec == before[i].st_mtim.tv_nsec,
                  "%s was touched", dst);
        if (i < 24) {
            snprintf(src, sizeof src, KODAK "/kodim%02d.png", i + 1);
            cr_assert(same_bytes(src, dst), "%s changed", dst);
        }
    }
    /* each .vdz decodes to its PNG's pixels (decoded in another folder) */
    cr_assert_eq(tu_run("mkdir -p %s/dec && cp %s/in/*.vdz %s/dec/", g_dir, g_dir, g_dir), 0);
    rc = tu_run("%s decode -q --jobs 2 -r %s/dec", VDMZIP, g_dir);
    cr_assert_eq(rc, 0, "decode exit %d", rc);
    for (int i = 1; i <= 24; i++) {
        snprintf(src, sizeof src, KODAK "/kodim%02d.png", i);
        snprintf(dst, sizeof dst, "%s/dec/kodim%02d.png", g_dir, i);
        cr_assert(same_pixels(src, dst), "kodim%02d does not decode to its pixels", i);
    }
}

/* ---- --jobs ------------------------------------------------------------------ */

Test(cli_batch, jobs_never_change_the_bytes_or_the_messages)
{
    if (!kodak_available()) cr_skip_test("Kodak images not found");
    tu_run("mkdir -p %s/a %s/b", g_dir, g_dir);
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "a/c%d.png", i);
        kodak_crop(3 + 4 * i, 64 + 8 * (uint32_t)(i % 2), 64, P(name));
    }
    cr_assert_eq(tu_write_file(P("a/c5.png"), "not a png\n", 10), 0);   /* a bad one in the middle */
    kodak_crop(9, 40, 30, P("a/c6.png"));
    cr_assert_eq(tu_run("cp %s/a/*.png %s/b/", g_dir, g_dir), 0);
    /* the default path (the model's estimate, then the smaller file) */
    int r1 = tu_run("cd %s/a && %s encode --jobs 1 --effort 0 *.png 2>../e1.txt", g_dir, VDMZIP);
    int r3 = tu_run("cd %s/b && %s encode --jobs 3 --effort 0 *.png 2>../e3.txt", g_dir, VDMZIP);
    cr_assert_eq(r1, 2);
    cr_assert_eq(r3, 2);
    for (int i = 0; i < 7; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "a/c%d.vdz", i);
        snprintf(b, sizeof b, "b/c%d.vdz", i);
        if (i == 5) {
            cr_assert(!tu_exists(P(a)) && !tu_exists(P(b)));
            continue;
        }
        cr_assert(same_bytes(P(a), P(b)), "c%d.vdz differs between --jobs 1 and --jobs 3", i);
    }
    /* messages in input order, whatever the jobs: equal but for the time */
    char *e1 = read_text(P("e1.txt")), *e3 = read_text(P("e3.txt"));
    char *s1 = strstr(e1, "bits/sub-pixel, "), *s3 = strstr(e3, "bits/sub-pixel, ");
    cr_assert(s1 && s3, "no summary: %s / %s", e1, e3);
    *s1 = *s3 = 0;
    cr_assert_str_eq(e1, e3);
    cr_assert(strstr(e1, "c5.png") != NULL);
    free(e1);
    free(e3);
    /* decode: the same PNG bytes with any number of jobs */
    cr_assert_eq(tu_run("cd %s/a && %s decode -q --jobs 1 -f *.vdz", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s/b && %s decode -q --jobs 4 -f *.vdz", g_dir, VDMZIP), 0);
    for (int i = 0; i < 7; i++) {
        if (i == 5) continue;
        char a[64], b[64];
        snprintf(a, sizeof a, "a/c%d.png", i);
        snprintf(b, sizeof b, "b/c%d.png", i);
        cr_assert(same_bytes(P(a), P(b)), "c%d.png differs between decode --jobs 1 and 4", i);
    }
    /* the model's own file (--model-only), with per-file threads too */
    tu_run("mkdir -p %s/m1 %s/m2 && cp %s/a/c0.png %s/a/c1.png %s/a/c2.png %s/m1/ && cp %s/m1/*.png %s/m2/",
           g_dir, g_dir, g_dir, g_dir, g_dir, g_dir, g_dir, g_dir);
    cr_assert_eq(tu_run("cd %s/m1 && %s encode -q --model-only --jobs 1 *.png", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s/m2 && %s encode -q --model-only --jobs 3 --threads 2 *.png", g_dir, VDMZIP), 0);
    for (int i = 0; i < 3; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "m1/c%d.vdz", i);
        snprintf(b, sizeof b, "m2/c%d.vdz", i);
        cr_assert(same_bytes(P(a), P(b)), "--model-only c%d.vdz differs between --jobs 1 and 3", i);
    }
    if (tu_run("cd %s && %s info --json m1/c0.vdz | grep -q '\"needs_model\":true'", g_dir, VDMZIP) == 0) {
        cr_assert_eq(tu_run("cd %s/m2 && rm -f *.png && %s decode -q --jobs 3 *.vdz", g_dir, VDMZIP), 0);
        cr_assert(same_pixels(P("a/c0.png"), P("m2/c0.png")) && same_pixels(P("a/c2.png"), P("m2/c2.png")));
    } else {
        cr_log_warn("no model file found: --model-only coded with the classical coder");
    }
    /* usage errors */
    cr_assert_eq(tu_run("cd %s/a && %s encode -q --jobs 0 c0.png 2>/dev/null", g_dir, VDMZIP), 1);
    cr_assert_eq(tu_run("cd %s/a && %s encode -q --jobs 65 c0.png 2>/dev/null", g_dir, VDMZIP), 1);
}

/* ---- -r ------------------------------------------------------------------------ */

Test(cli_batch, recursive_nested_folders)
{
    if (!kodak_available()) cr_skip_test("Kodak images not found");
    tu_run("mkdir -p %s/r/sub/deeper %s/r/empty", g_dir, g_dir);
    kodak_crop(1, 64, 48, P("r/a.png"));
    kodak_crop(2, 48, 64, P("r/sub/b.PNG"));
    kodak_crop(4, 40, 40, P("r/sub/deeper/c.png"));
    cr_assert_eq(tu_write_file(P("r/sub/notes.txt"), "text\n", 5), 0);
    /* a symlink loop and a link to a folder outside: walked once each */
    cr_assert_eq(symlink("..", P("r/sub/deeper/loop")), 0);
    tu_run("mkdir -p %s/other && cp %s/r/a.png %s/other/o.png", g_dir, g_dir, g_dir);
    cr_assert_eq(symlink("../../other", P("r/sub/other")), 0);
    int rc = tu_run("cd %s && %s encode --classical-only -r --jobs 2 r 2>err.txt", g_dir, VDMZIP);
    char *err = read_text(P("err.txt"));
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    /* sorted walk: "a" < "sub" (b.PNG, deeper/c.png, other/o.png) */
    cr_assert(strstr(err, "4 files:") != NULL, "summary: %s", err);
    free(err);
    cr_assert(tu_exists(P("r/a.vdz")) && tu_exists(P("r/sub/b.vdz")) && tu_exists(P("r/sub/deeper/c.vdz")) &&
              tu_exists(P("other/o.vdz")));
    cr_assert(!tu_exists(P("r/sub/notes.txt.vdz")) && !tu_exists(P("r/sub/notes.vdz")));
    /* the messages come in walk order */
    rc = tu_run("cd %s && %s encode --classical-only -r r 2>err2.txt", g_dir, VDMZIP);
    cr_assert_eq(rc, 3);
    err = read_text(P("err2.txt"));
    const char *pa = strstr(err, "r/a.vdz"), *pb = strstr(err, "r/sub/b.vdz"),
               *pc = strstr(err, "r/sub/deeper/c.vdz"), *po = strstr(err, "r/sub/other/o.vdz");
    cr_assert(pa && pb && pc && po && pa < pb && pb < pc && pc < po, "order: %s", err);
    free(err);
    /* -o with a folder, a folder without -r */
    cr_assert_eq(tu_run("cd %s && %s encode -q -r -o x.vdz r 2>/dev/null", g_dir, VDMZIP), 1);
    cr_assert(!tu_exists(P("x.vdz")));
    rc = tu_run("cd %s && %s encode -q -f r r/a.png 2>err3.txt", g_dir, VDMZIP);
    err = read_text(P("err3.txt"));
    cr_assert_eq(rc, 3, "folder without -r: exit %d: %s", rc, err);
    cr_assert(strstr(err, "-r") != NULL && count_lines(err) == 1, "%s", err);   /* -q: no summary */
    free(err);
    /* decode -r takes the .vdz files; next to them */
    tu_run("cd %s && mkdir -p back && cp -r r back/", g_dir);
    tu_run("cd %s && find back -name '*.png' -o -name '*.PNG' | xargs rm -f", g_dir);
    cr_assert_eq(tu_run("cd %s && %s decode -q -r --jobs 3 back", g_dir, VDMZIP), 0);
    cr_assert(same_pixels(P("r/a.png"), P("back/r/a.png")));
    cr_assert(same_pixels(P("r/sub/b.PNG"), P("back/r/sub/b.png")));
    cr_assert(same_pixels(P("r/sub/deeper/c.png"), P("back/r/sub/deeper/c.png")));
    /* a folder with no .png in it */
    cr_assert_eq(tu_run("cd %s && %s encode -q -r r/empty 2>/dev/null", g_dir, VDMZIP), 1);
}

/* ---- -c ------------------------------------------------------------------------ */

Test(cli_batch, stdout_with_c)
{
    if (!kodak_available()) cr_skip_test("Kodak images not found");
    kodak_crop(7, 64, 48, P("s.png"));
    kodak_crop(8, 48, 64, P("t.png"));
    cr_assert_eq(tu_run("cd %s && %s encode -q -c s.png > c.vdz", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s encode -q --stdout s.png > c2.vdz", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s encode -q -o o.vdz s.png", g_dir, VDMZIP), 0);
    cr_assert(same_bytes(P("c.vdz"), P("o.vdz")) && same_bytes(P("c.vdz"), P("c2.vdz")));
    cr_assert(!tu_exists(P("s.vdz")));
    cr_assert_eq(tu_run("cd %s && %s decode -q -c c.vdz > c.png", g_dir, VDMZIP), 0);
    cr_assert(same_pixels(P("s.png"), P("c.png")));
    cr_assert(!tu_exists(P("s.png.png")));
    /* several inputs, -c with -o: refused before any work */
    int before = tu_count_entries(g_dir);
    cr_assert_eq(tu_run("cd %s && %s encode -q -c s.png t.png > /dev/null 2>err.txt", g_dir, VDMZIP), 1);
    char *err = read_text(P("err.txt"));
    cr_assert(strstr(err, "-c") != NULL && count_lines(err) == 1, "%s", err);
    free(err);
    unlink(P("err.txt"));
    cr_assert_eq(tu_run("cd %s && %s encode -q -c -o x.vdz s.png > /dev/null 2>&1", g_dir, VDMZIP), 1);
    cr_assert_eq(tu_count_entries(g_dir), before);
    /* --rm is ignored with -c: the input stays */
    cr_assert_eq(tu_run("cd %s && %s encode -q -c --rm s.png > c3.vdz", g_dir, VDMZIP), 0);
    cr_assert(tu_exists(P("s.png")) && same_bytes(P("c.vdz"), P("c3.vdz")));
}

/* ---- --rm ---------------------------------------------------------------------- */

Test(cli_batch, rm_removes_only_verified_inputs)
{
    if (!kodak_available()) cr_skip_test("Kodak images not found");
    tu_run("mkdir -p %s/w %s/keep", g_dir, g_dir);
    kodak_crop(10, 64, 64, P("w/p1.png"));
    kodak_crop(11, 64, 40, P("w/p2.png"));
    kodak_crop(12, 40, 64, P("w/p3.png"));
    corrupt_copy(P("w/p1.png"), P("w/p4.png"));
    kodak_crop(13, 50, 50, P("w/p5.png"));
    cr_assert_eq(tu_write_file(P("w/p5.vdz"), "already here", 12), 0);   /* p5's output exists */
    cr_assert_eq(tu_run("cp %s/w/*.png %s/keep/", g_dir, g_dir), 0);
    int rc = tu_run("cd %s/w && %s encode --rm --jobs 2 --effort 0 p1.png p2.png p3.png p4.png p5.png 2>../err.txt",
                    g_dir, VDMZIP);
    char *err = read_text(P("err.txt"));
    cr_assert_eq(rc, 2, "exit %d: %s", rc, err);   /* the first failure, p4 (bad input) */
    cr_assert(strstr(err, "p4.png") != NULL && strstr(err, "p5.vdz") != NULL, "%s", err);
    cr_assert(strstr(err, "5 files (2 failed)") != NULL, "%s", err);
    free(err);
    for (int i = 1; i <= 3; i++) {
        char png[64], vdz[64];
        snprintf(png, sizeof png, "w/p%d.png", i);
        snprintf(vdz, sizeof vdz, "w/p%d.vdz", i);
        cr_assert(!tu_exists(P(png)), "%s not removed", png);
        cr_assert(tu_exists(P(vdz)));
    }
    cr_assert(tu_exists(P("w/p4.png")) && !tu_exists(P("w/p4.vdz")), "bad input removed or output written");
    cr_assert(same_bytes(P("w/p4.png"), P("keep/p4.png")));
    cr_assert(tu_exists(P("w/p5.png")) && same_bytes(P("w/p5.png"), P("keep/p5.png")), "p5 touched");
    cr_assert_eq(tu_count_entries(P("w")), 6, "leftovers");   /* p1..3.vdz, p4.png, p5.png, p5.vdz */
    /* decode --rm: the PNGs come back, the .vdz go */
    cr_assert_eq(tu_run("cd %s/w && %s decode -q --rm --jobs 2 p1.vdz p2.vdz p3.vdz", g_dir, VDMZIP), 0);
    for (int i = 1; i <= 3; i++) {
        char png[64], vdz[64], orig[64];
        snprintf(png, sizeof png, "w/p%d.png", i);
        snprintf(vdz, sizeof vdz, "w/p%d.vdz", i);
        snprintf(orig, sizeof orig, "keep/p%d.png", i);
        cr_assert(!tu_exists(P(vdz)) && same_pixels(P(png), P(orig)), "p%d", i);
    }
    /* decode --rm of a bad .vdz: kept, exit 2 */
    cr_assert_eq(tu_run("cd %s/w && %s decode -q --rm -o bad.png p5.vdz 2>/dev/null", g_dir, VDMZIP), 2);
    cr_assert(tu_exists(P("w/p5.vdz")) && !tu_exists(P("w/bad.png")));
}

/* ---- summary, the classical coder's flag --------------------------------------- */

Test(cli_batch, summary_line_and_classical_only)
{
    if (!kodak_available()) cr_skip_test("Kodak images not found");
    kodak_crop(15, 64, 64, P("k.png"));
    kodak_crop(16, 64, 32, P("l.png"));
    /* one file: no summary; -v: one; -q: none even for a batch */
    cr_assert_eq(tu_run("cd %s && %s encode --classical-only -o a.vdz k.png 2>e1.txt", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s encode --fallback-only -o b.vdz k.png 2>/dev/null", g_dir, VDMZIP), 0);
    cr_assert(same_bytes(P("a.vdz"), P("b.vdz")), "--classical-only and --fallback-only differ");
    char *e = read_text(P("e1.txt"));
    cr_assert_str_eq(e, "");
    free(e);
    cr_assert_eq(tu_run("cd %s && %s encode -v --classical-only -o c.vdz k.png 2>e2.txt", g_dir, VDMZIP), 0);
    e = read_text(P("e2.txt"));
    cr_assert(strstr(e, "1 file: ") != NULL && strstr(e, "classical coder only") != NULL, "%s", e);
    free(e);
    cr_assert(same_bytes(P("a.vdz"), P("c.vdz")));
    cr_assert_eq(tu_run("cd %s && %s encode -q --classical-only k.png l.png 2>e3.txt", g_dir, VDMZIP), 0);
    e = read_text(P("e3.txt"));
    cr_assert_str_eq(e, "");
    free(e);
    cr_assert(same_bytes(P("a.vdz"), P("k.vdz")));
    cr_assert_eq(tu_run("cd %s && %s decode -f k.vdz l.vdz 2>e4.txt", g_dir, VDMZIP), 0);
    e = read_text(P("e4.txt"));
    cr_assert(strstr(e, "2 files: ") != NULL && strstr(e, "bits/sub-pixel") != NULL && count_lines(e) == 1, "%s", e);
    free(e);
    /* the help names the new flag; no "fallback" left in the codec's help */
    cr_assert_eq(tu_run("%s encode --help | grep -q -- --classical-only", VDMZIP), 0);
    cr_assert_eq(tu_run("%s encode --help | grep -qi fallback", VDMZIP), 1);
    cr_assert_eq(tu_run("%s decode --help | grep -qi fallback", VDMZIP), 1);
    cr_assert_eq(tu_run("cd %s && %s encode -f --classical-only --model-only k.png 2>/dev/null", g_dir, VDMZIP), 1);
}
