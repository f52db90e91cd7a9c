/* test_cli_codec.c — `vdmzip encode/decode/info` as a user runs them:
 * every PNG type through the binary, default names, no overwrite without -f,
 * stdin/stdout, exit codes for bad input with no output left behind,
 * info --json, all 24 Kodak images. */
#include <criterion/criterion.h>

#include "codec/png_io.h"
#include "codec_testutil.h"

#define VDMZIP VDM_BINARY_DIR "/vdmzip"

static char *g_dir;

static void setup(void)
{
    g_dir = tu_tmpdir("cli");
    cr_assert_not_null(g_dir);
}

static void teardown(void)
{
    tu_rmtree(g_dir);
    free(g_dir);
}

TestSuite(cli_codec, .init = setup, .fini = teardown, .timeout = 300);

static const char *P(const char *name)
{
    static char bufs[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(bufs[k], sizeof bufs[k], "%s/%s", g_dir, name);
    return bufs[k];
}

static int same_png_content(const char *a, const char *b)
{
    vdm_image *x = NULL, *y = NULL;
    int ok = vdm_png_read_file(a, &x) == VDM_OK && vdm_png_read_file(b, &y) == VDM_OK;
    if (ok) {
        ok = x->width == y->width && x->height == y->height && x->color_type == y->color_type &&
             x->bit_depth == y->bit_depth && x->interlace == y->interlace &&
             x->palette_size == y->palette_size && x->trns_count == y->trns_count &&
             x->nchunks == y->nchunks &&
             !memcmp(x->data, y->data, (size_t)vdm_image_sample_bytes(x->width, x->height, x->channels, x->bit_depth)) &&
             !memcmp(x->palette, y->palette, 3u * x->palette_size);
        for (uint32_t i = 0; ok && i < x->nchunks; i++)
            ok = !strcmp(x->chunks[i].name, y->chunks[i].name) && x->chunks[i].size == y->chunks[i].size &&
                 (!x->chunks[i].size || !memcmp(x->chunks[i].data, y->chunks[i].data, x->chunks[i].size));
    }
    vdm_image_free(x);
    vdm_image_free(y);
    return ok;
}

/* Write a generated PNG of the given type to NAME in the test directory. */
static void write_png(const char *name, int ct, int bd, uint32_t w, uint32_t h, int il, int meta)
{
    unsigned ch = tu_channels(ct);
    uint32_t maxv = bd == 16 ? 65535u : (1u << bd) - 1u;
    uint8_t pal[256][3];
    uint8_t trns[4] = { 0, 50, 100, 150 };
    tu_png_desc d;
    memset(&d, 0, sizeof d);
    if (ct == 3) {
        int np = (int)(1u << bd);
        for (int i = 0; i < np; i++) { pal[i][0] = (uint8_t)i; pal[i][1] = (uint8_t)(i * 5); pal[i][2] = (uint8_t)(255 - i); }
        d.pal = (const uint8_t(*)[3])pal;
        d.npal = np;
        d.trns = trns;
        d.ntrns = np < 4 ? np : 4;
    }
    uint16_t *s = tu_content(w, h, ch, maxv, (uint64_t)(ct * 100 + bd));
    static const uint8_t text[] = "Software\0test";
    static const uint8_t gama[4] = { 0, 0, 0xB1, 0x8F };
    const tu_chunk chunks[2] = { { "tEXt", 0, text, sizeof text - 1 }, { "gAMA", 0, gama, 4 } };
    d.w = w;
    d.h = h;
    d.ct = ct;
    d.bd = bd;
    d.interlace = il;
    d.s = s;
    d.chunks = chunks;
    d.nchunks = meta ? 2 : 0;
    size_t n;
    uint8_t *png = tu_png(&d, &n);
    cr_assert_eq(tu_write_file(P(name), png, n), 0);
    free(png);
    free(s);
}

Test(cli_codec, every_type_roundtrips_through_the_binary)
{
    static const int types[][2] = {
        { 0, 1 }, { 0, 2 }, { 0, 4 }, { 0, 8 }, { 0, 16 }, { 2, 8 }, { 2, 16 }, { 3, 1 },
        { 3, 2 }, { 3, 4 }, { 3, 8 }, { 4, 8 }, { 4, 16 }, { 6, 8 }, { 6, 16 },
    };
    for (int t = 0; t < 15; t++) {
        char name[64], vdz[64], out[64];
        snprintf(name, sizeof name, "t%d_%d.png", types[t][0], types[t][1]);
        snprintf(vdz, sizeof vdz, "t%d_%d.vdz", types[t][0], types[t][1]);
        snprintf(out, sizeof out, "t%d_%d.out.png", types[t][0], types[t][1]);
        uint32_t w = t % 3 == 0 ? 1 : 23 + (uint32_t)t, h = t % 3 == 0 ? 1 : 11;
        write_png(name, types[t][0], types[t][1], w, h, t % 2, t % 4 == 1);
        int rc = tu_run("cd %s && %s encode -q %s", g_dir, VDMZIP, name);
        cr_assert_eq(rc, 0, "encode %s: exit %d", name, rc);
        cr_assert(tu_exists(P(vdz)), "default output %s missing", vdz);
        rc = tu_run("cd %s && %s decode -q %s -o %s", g_dir, VDMZIP, vdz, out);
        cr_assert_eq(rc, 0, "decode %s: exit %d", vdz, rc);
        cr_assert(same_png_content(P(name), P(out)), "%s does not round-trip", name);
    }
}

Test(cli_codec, default_names_no_overwrite_and_force)
{
    write_png("a.png", 2, 8, 20, 10, 0, 1);
    cr_assert_eq(tu_run("cd %s && %s encode -q a.png", g_dir, VDMZIP), 0);
    size_t n1, n2;
    uint8_t *v1 = tu_read_file(P("a.vdz"), &n1);
    cr_assert_not_null(v1);
    /* exists: exit 3, file untouched, nothing left behind */
    int before = tu_count_entries(g_dir);
    cr_assert_eq(tu_run("cd %s && %s encode -q a.png 2>err.txt", g_dir, VDMZIP), 3);
    size_t en;
    uint8_t *err = tu_read_file(P("err.txt"), &en);
    cr_assert(en > 0 && strstr((char *)err, "-f") != NULL, "error line should mention -f");
    free(err);
    unlink(P("err.txt"));
    cr_assert_eq(tu_count_entries(g_dir), before);
    uint8_t *v2 = tu_read_file(P("a.vdz"), &n2);
    cr_assert(n1 == n2 && !memcmp(v1, v2, n1));
    free(v2);
    /* decode default name: a.png exists -> exit 3; with -f it is replaced by the same pixels */
    cr_assert_eq(tu_run("cd %s && %s decode -q a.vdz 2>/dev/null", g_dir, VDMZIP), 3);
    cr_assert_eq(tu_run("cp %s %s", P("a.png"), P("orig.png")), 0);
    cr_assert_eq(tu_run("cd %s && %s decode -q -f a.vdz", g_dir, VDMZIP), 0);
    cr_assert(same_png_content(P("a.png"), P("orig.png")));
    cr_assert_eq(tu_run("cd %s && %s encode -q --force a.png", g_dir, VDMZIP), 0);
    v2 = tu_read_file(P("a.vdz"), &n2);
    cr_assert(n1 == n2 && !memcmp(v1, v2, n1), "re-encoding gave other bytes");
    free(v1);
    free(v2);
    /* a name without .png gets .vdz appended; .VDZ is stripped case-insensitively */
    cr_assert_eq(tu_run("cd %s && cp a.png pic && %s encode -q pic && test -f pic.vdz", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && mv pic.vdz P.VDZ && %s decode -q P.VDZ && test -f P.png", g_dir, VDMZIP), 0);
    /* several inputs at once */
    write_png("b.png", 0, 8, 5, 5, 0, 0);
    write_png("c.png", 4, 8, 5, 5, 1, 0);
    cr_assert_eq(tu_run("cd %s && %s encode -q b.png c.png && test -f b.vdz && test -f c.vdz", g_dir, VDMZIP), 0);
    /* input and output the same file */
    cr_assert_eq(tu_run("cd %s && %s encode -q -f a.png -o a.png 2>/dev/null", g_dir, VDMZIP), 1);
    cr_assert(same_png_content(P("a.png"), P("orig.png")));
}

Test(cli_codec, stdin_and_stdout)
{
    write_png("s.png", 6, 16, 17, 9, 1, 1);
    cr_assert_eq(tu_run("cd %s && %s encode -q - < s.png > s.vdz", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s decode -q - < s.vdz > s2.png", g_dir, VDMZIP), 0);
    cr_assert(same_png_content(P("s.png"), P("s2.png")));
    cr_assert_eq(tu_run("cd %s && cat s.png | %s encode -q -o s3.vdz - && cmp -s s.vdz s3.vdz", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s decode -q -o - s3.vdz | cmp -s - s2.png", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s info - < s.vdz > info.txt", g_dir, VDMZIP), 0);
}

/* Each bad input: the exit code, one error line, no output, no temp file. */
static void expect_failure(const char *cmdline, int code, const char *must_not_exist)
{
    int before = tu_count_entries(g_dir);
    int rc = tu_run("cd %s && %s %s 2>err.txt >/dev/null", g_dir, VDMZIP, cmdline);
    size_t en = 0;
    uint8_t *err = tu_read_file(P("err.txt"), &en);
    int lines = 0;
    for (size_t i = 0; i < en; i++) lines += err[i] == '\n';
    cr_assert_eq(rc, code, "'%s': exit %d, want %d (%.*s)", cmdline, rc, code, (int)en, (char *)err);
    cr_assert_eq(lines, 1, "'%s': %d error lines: %.*s", cmdline, lines, (int)en, (char *)err);
    cr_assert(en > 9 && !memcmp(err, "vdmzip: ", 8), "'%s': message '%.*s'", cmdline, (int)en, (char *)err);
    free(err);
    unlink(P("err.txt"));
    if (must_not_exist) cr_assert(!tu_exists(P(must_not_exist)), "'%s' left %s", cmdline, must_not_exist);
    cr_assert_eq(tu_count_entries(g_dir), before, "'%s' left files behind", cmdline);
}

Test(cli_codec, bad_inputs_exit_codes_and_no_output)
{
    write_png("good.png", 2, 8, 30, 20, 0, 1);
    cr_assert_eq(tu_run("cd %s && %s encode -q good.png", g_dir, VDMZIP), 0);
    size_t n;
    uint8_t *v = tu_read_file(P("good.vdz"), &n);
    size_t pn;
    uint8_t *png = tu_read_file(P("good.png"), &pn);

    cr_assert_eq(tu_write_file(P("text.png"), "just some text\n", 15), 0);
    expect_failure("encode text.png", 2, "text.vdz");
    cr_assert_eq(tu_write_file(P("empty.png"), "", 0), 0);
    expect_failure("encode empty.png", 2, "empty.vdz");
    cr_assert_eq(tu_write_file(P("trunc.png"), png, pn / 2), 0);
    expect_failure("encode trunc.png", 2, "trunc.vdz");
    expect_failure("encode missing.png", 3, "missing.vdz");
    /* absurd dimensions in IHDR */
    uint8_t *huge = malloc(pn);
    memcpy(huge, png, pn);
    tu_be32(huge + 16, 100000);
    uLong c = crc32(0, huge + 12, 17);
    tu_be32(huge + 29, (uint32_t)c);
    cr_assert_eq(tu_write_file(P("huge.png"), huge, pn), 0);
    expect_failure("encode huge.png", 2, "huge.vdz");
    free(huge);

    cr_assert_eq(tu_write_file(P("t.vdz"), v, n - 7), 0);
    expect_failure("decode t.vdz", 2, "t.png");
    uint8_t *f = malloc(n);
    memcpy(f, v, n);
    f[n / 2] ^= 0x10;
    cr_assert_eq(tu_write_file(P("flip.vdz"), f, n), 0);
    expect_failure("decode flip.vdz", 2, "flip.png");
    memcpy(f, v, n);
    f[8] = 9;
    cr_assert_eq(tu_write_file(P("ver.vdz"), f, n), 0);
    expect_failure("decode ver.vdz", 2, "ver.png");
    expect_failure("info ver.vdz", 2, NULL);
    memcpy(f, v, n);
    vdm_put_le32(f + 12 + 8, 70000);   /* width, then a valid CRC */
    uint32_t len = vdm_get_le32(f + 12);
    vdm_put_le32(f + 12 + 8 + len, (uint32_t)crc32(0, f + 16, 4 + len));
    cr_assert_eq(tu_write_file(P("dim.vdz"), f, n), 0);
    expect_failure("decode dim.vdz", 2, "dim.png");
    free(f);
    cr_assert_eq(tu_write_file(P("png.vdz"), png, pn), 0);
    expect_failure("decode png.vdz", 2, "png.png");
    expect_failure("decode nothere.vdz", 3, "nothere.png");

    /* usage errors */
    expect_failure("encode", 1, NULL);
    expect_failure("encode --bogus good.png", 1, NULL);
    expect_failure("encode --steps 0 -f good.png", 1, NULL);
    expect_failure("encode --threads x -f good.png", 1, NULL);
    expect_failure("encode -o x.vdz good.png text.png", 1, "x.vdz");
    expect_failure("encode -f --model /nonexistent/model.vdm good.png", 4, NULL);
    free(v);
    free(png);
}

Test(cli_codec, help_info_and_verbose)
{
    cr_assert_eq(tu_run("%s encode --help | grep -q 'exit codes'", VDMZIP), 0);
    cr_assert_eq(tu_run("%s help decode | grep -q 'SHA-256'", VDMZIP), 0);
    cr_assert_eq(tu_run("%s info --help | grep -q json", VDMZIP), 0);
    write_png("i.png", 3, 4, 12, 7, 1, 1);
    cr_assert_eq(tu_run("cd %s && %s encode -v i.png 2>v.txt", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && grep -q 'bits/sub-pixel' v.txt && grep -q 'classical' v.txt", g_dir), 0);
    cr_assert_eq(tu_run("cd %s && %s info --json i.vdz > j.txt", g_dir, VDMZIP), 0);
    size_t n;
    uint8_t *j = tu_read_file(P("j.txt"), &n);
    cr_assert_not_null(j);
    j = realloc(j, n + 1);
    j[n] = 0;
    const char *want[] = { "\"format_version\":1", "\"width\":12", "\"height\":7", "\"color_type\":3",
                           "\"bit_depth\":4", "\"interlace\":1", "\"needs_model\":false",
                           "\"palette_size\":16", "\"chunks\":2" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr((char *)j, want[i]) != NULL, "info --json lacks %s: %s", want[i], (char *)j);
    cr_assert(j[0] == '{' && j[n - 2] == '}' && j[n - 1] == '\n');
    free(j);
    cr_assert_eq(tu_run("cd %s && %s info i.vdz | grep -q 'Adam7'", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s decode -v -o i2.png i.vdz 2>&1 | grep -q verified", g_dir, VDMZIP), 0);
}

/* info names every classical method a file can hold: the golden vectors of
 * methods 2 to 8 (v1_rgb8: the default method, 9) */
Test(cli_codec, info_names_each_classical_method)
{
    static const struct { const char *file, *name; } v[] = {
        { "v1_rgb8_m2.vdz", "cm" }, { "v1_rgb8_m3.vdz", "cm3" }, { "v1_rgb8_m4.vdz", "cm4" },
        { "v1_rgb8_m5.vdz", "cm5" }, { "v1_rgb8_m6.vdz", "cm6" }, { "v1_rgb8_m7.vdz", "cm7" },
        { "v1_rgb8_m8.vdz", "cm8" }, { "v1_rgb8.vdz", "cm9" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(tu_run("%s info --json %s/tests/vectors/%s | grep -q '\"fallback\":\\[{\"method\":\"%s\"'",
                            VDMZIP, VDM_SOURCE_DIR, v[i].file, v[i].name),
                     0, "%s: method not named %s", v[i].file, v[i].name);
}

Test(cli_codec, all_kodak_images_roundtrip, .timeout = 1700)
{
    int done = 0;
    for (int i = 1; i <= 24; i++) {
        char src[1024];
        snprintf(src, sizeof src, "%s/data/kodak/kodim%02d.png", VDM_SHARED_DIR, i);
        if (!tu_exists(src)) continue;
        /* The model costs ~10 s per Kodak image: two images take the default
         * path (model and classical coder compete; the shipped model is used when
         * present) and one of them the model alone; the rest the classical coder. */
        const char *mode = (i == 3) ? "--threads 2" : (i == 23) ? "--threads 2 --model-only" : "--classical-only";
        int rc = tu_run("cd %s && %s encode -q -f %s -o k.vdz %s && %s decode -q -f --threads 2 -o k.png k.vdz",
                        g_dir, VDMZIP, mode, src, VDMZIP);
        cr_assert_eq(rc, 0, "kodim%02d: exit %d", i, rc);
        cr_assert(same_png_content(src, P("k.png")), "kodim%02d differs", i);
        done++;
    }
    if (!done) cr_skip_test("Kodak images not found under %s", VDM_SHARED_DIR);
    cr_assert_eq(done, 24);
}

/* The model path end to end: a tiny model trained for a few updates (its
 * bound is poor, so --model-only forces the MODL section), decode needs that
 * exact model, another model or none is a model error (exit 4). */
Test(cli_codec, model_path_through_the_binary, .timeout = 300)
{
    write_png("m.png", 6, 8, 40, 30, 0, 1);
    int rc = tu_run("cd %s && %s train --data %s/data/photos --steps 3 --out tiny.vdm --iters 3 --width 4 "
                    "--blocks 1 --batch 1 --crop 16 --threads 1 --log-every 1000 >/dev/null 2>&1",
                    g_dir, VDMZIP, VDM_SHARED_DIR);
    cr_assert_eq(rc, 0, "could not train a tiny model (exit %d)", rc);
    /* a poor model loses to the classical coder: the file has no MODL */
    cr_assert_eq(tu_run("cd %s && %s encode -q --model tiny.vdm -o plain.vdz m.png", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s info --json plain.vdz | grep -q '\"needs_model\":false'", g_dir, VDMZIP), 0);
    /* forced: RGB through the model, alpha through the classical coder */
    cr_assert_eq(tu_run("cd %s && %s encode -q --model tiny.vdm --model-only -o m.vdz m.png", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s info --json m.vdz | grep -q '\"needs_model\":true'", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s info --json m.vdz | grep -q '\"steps\":3'", g_dir, VDMZIP), 0);
    cr_assert_eq(tu_run("cd %s && %s decode -q --model tiny.vdm -o m2.png m.vdz", g_dir, VDMZIP), 0);
    cr_assert(same_png_content(P("m.png"), P("m2.png")));
    /* the same bytes on a second encode with more threads */
    cr_assert_eq(tu_run("cd %s && %s encode -q --threads 2 --model tiny.vdm --model-only -o m3.vdz m.png && cmp -s m.vdz m3.vdz",
                        g_dir, VDMZIP), 0);
    unlink(P("m3.vdz"));
    unlink(P("plain.vdz"));
    /* no model / another model: exit 4, nothing written */
    expect_failure("decode -o out.png m.vdz", 4, "out.png");
    cr_assert_eq(tu_run("cd %s && cp tiny.vdm other.vdm && %s train --data %s/data/photos --steps 3 --out other.vdm "
                        "--iters 1 --seed 7 --width 4 --blocks 1 --batch 1 --crop 16 --threads 1 --log-every 1000 >/dev/null 2>&1 && rm -f other.vdm.ckpt",
                        g_dir, VDMZIP, VDM_SHARED_DIR), 0);
    expect_failure("decode --model other.vdm -o out.png m.vdz", 4, "out.png");
    expect_failure("encode -f --classical-only --model-only m.png", 1, NULL);
    expect_failure("encode -f --fallback-only --model-only m.png", 1, NULL);
}
