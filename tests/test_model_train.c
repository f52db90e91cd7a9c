/* test_model_train.c — the training loop end to end on real photos:
 *   - a tiny model trained for a CI-sized number of updates shows a clearly
 *     falling training loss and a falling held-out bound of its EMA weights;
 *   - runs are reproducible from the seed;
 *   - checkpoint -> resume reproduces the loss sequence and the final weights
 *     bit for bit; resuming with other images is flagged; a weights file is
 *     not a checkpoint; a checkpoint loads as a model. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codec/png_io.h"
#include "model/vdm_model.h"
#include "model/vdm_train.h"
#include "model/model_internal.h"
#include "test_files.h"

#define NIMG 3
static uint8_t *g_px[NIMG + 1];
static vdm_rgb8 g_img[NIMG + 1];

/* Three training photos and one held out; crops of 96x96 from their centres
 * keep the test's memory and the data hashing small. */
static void load_images(void)
{
    const char *names[NIMG + 1] = { "wiki001.png", "wiki002.png", "wiki003.png", "wiki039.png" };
    for (int i = 0; i <= NIMG; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/data/photos/%s", VDM_SHARED_DIR, names[i]);
        uint8_t *px;
        uint32_t w, h;
        cr_assert_eq(vdm_png_load_rgb8(path, &px, &w, &h), VDM_OK, "cannot load %s", path);
        const int S = 96;
        g_px[i] = malloc(S * S * 3);
        int y0 = (int)h / 2 - S / 2, x0 = (int)w / 2 - S / 2;
        for (int y = 0; y < S; y++) memcpy(g_px[i] + y * S * 3, px + ((size_t)(y0 + y) * w + x0) * 3, S * 3);
        free(px);
        g_img[i] = (vdm_rgb8){ g_px[i], S, S };
    }
}

static void free_images(void)
{
    for (int i = 0; i <= NIMG; i++) free(g_px[i]);
}

TestSuite(train, .init = load_images, .fini = free_images);

static vdm_train_config tiny(void)
{
    vdm_train_config c;
    vdm_train_config_default(&c);
    c.net.width = 16;
    c.net.blocks = 2;
    c.net.emb_dim = 16;
    c.sched_hidden = 64;
    c.T = 8;
    c.batch = 4;
    c.crop = 16;
    c.lr = 3e-3;
    c.warmup = 20;
    c.ema_decay = 0.99;
    c.seed = 7;
    return c;
}

static double val_bound(vdm_trainer *t)
{
    vdm_model *m = NULL;
    cr_assert_eq(vdm_trainer_ema_model(t, &m), VDM_OK);
    vdm_eval_options o = { 8, 1, 96, 1, VDM_BACKEND_CPU, 99, NULL, NULL };
    vdm_bound b;
    cr_assert_eq(vdm_eval_image(m, g_img[NIMG].px, 96, 96, &o, &b), VDM_OK);
    vdm_model_free(m);
    return b.total;
}

Test(train, loss_falls, .timeout = 120)
{
    vdm_train_config c = tiny();
    vdm_trainer *t = NULL;
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &t), VDM_OK);
    double v0 = val_bound(t);
    enum { STEPS = 300, W = 30 };
    double first = 0.0, last = 0.0;
    vdm_train_stats s;
    for (int i = 0; i < STEPS; i++) {
        cr_assert_eq(vdm_trainer_step(t, &s), VDM_OK, "step %d", i);
        cr_assert(isfinite(s.total));
        if (i < W) first += s.total / W;
        if (i >= STEPS - W) last += s.total / W;
    }
    double v1 = val_bound(t);
    cr_log_info("train loss %.3f -> %.3f bpd; held-out EMA bound %.3f -> %.3f bpsp", first, last, v0, v1);
    cr_assert_eq(s.step, (uint64_t)STEPS);
    cr_assert(last < 0.6 * first, "training loss must fall clearly: %.3f -> %.3f", first, last);
    cr_assert(v1 < 0.6 * v0, "held-out bound must fall clearly: %.3f -> %.3f", v0, v1);
    vdm_trainer_free(t);
}

static void run(vdm_trainer *t, int n, vdm_train_stats *out)
{
    for (int i = 0; i < n; i++) cr_assert_eq(vdm_trainer_step(t, &out[i]), VDM_OK);
}

Test(train, seed_reproducible)
{
    vdm_train_config c = tiny();
    vdm_trainer *a = NULL, *b = NULL, *d = NULL;
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &a), VDM_OK);
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &b), VDM_OK);
    c.seed = 8;
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &d), VDM_OK);
    vdm_train_stats sa[5], sb[5], sd[5];
    run(a, 5, sa);
    run(b, 5, sb);
    run(d, 5, sd);
    for (int i = 0; i < 5; i++) cr_assert(memcmp(&sa[i], &sb[i], sizeof sa[i]) == 0, "step %d differs", i);
    cr_assert(sa[4].total != sd[4].total, "another seed must give another run");
    vdm_trainer_free(a);
    vdm_trainer_free(b);
    vdm_trainer_free(d);
}

Test(train, resume_is_exact)
{
    char dir[] = "/tmp/vdm_train_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char ck[256], wa[256], wb[256];
    snprintf(ck, sizeof ck, "%s/run.ckpt", dir);
    snprintf(wa, sizeof wa, "%s/a.vdm", dir);
    snprintf(wb, sizeof wb, "%s/b.vdm", dir);

    vdm_train_config c = tiny();
    c.sched_kind = VDM_SCHED_LEARNED;
    /* a decaying step size across the resume point (stored in the checkpoint) */
    c.warmup = 2;
    c.lr_decay_steps = 9;
    c.lr_final = 1e-4;
    vdm_trainer *a = NULL, *b = NULL;
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &a), VDM_OK);
    vdm_train_stats s1[4], s2[6], s3[6];
    run(a, 4, s1);
    cr_assert_eq(vdm_trainer_save(a, ck), VDM_OK);
    run(a, 6, s2);
    cr_assert_eq(vdm_trainer_export(a, wa), VDM_OK);
    /* lr: warm-up to 3e-3 at update 2, then linear to 1e-4 at update 9 */
    cr_assert(fabs(s1[1].lr - 3e-3) < 1e-12 && s1[3].lr < s1[2].lr && s2[0].lr < s1[3].lr);
    cr_assert(fabs(s2[4].lr - 1e-4) < 1e-12 && fabs(s2[5].lr - 1e-4) < 1e-12, "lr %g %g", s2[4].lr, s2[5].lr);

    int changed = -1;
    cr_assert_eq(vdm_trainer_resume(ck, g_img, NIMG, 2, &b, &changed), VDM_OK);
    cr_assert_eq(changed, 0);
    cr_assert_eq(vdm_trainer_steps(b), 4u);
    run(b, 6, s3);
    for (int i = 0; i < 6; i++)
        cr_assert(memcmp(&s2[i], &s3[i], sizeof s2[i]) == 0, "resumed step %d: loss %.17g vs %.17g", i + 5,
                  s3[i].total, s2[i].total);
    cr_assert_eq(vdm_trainer_export(b, wb), VDM_OK);
    size_t na, nb;
    uint8_t *fa = tst_read_file(wa, &na), *fb = tst_read_file(wb, &nb);
    cr_assert(na == nb && memcmp(fa, fb, na) == 0, "final weights must be identical");
    free(fa);
    free(fb);

    /* the checkpoint is also a model (its EMA weights) */
    vdm_model *m = NULL;
    cr_assert_eq(vdm_model_load(ck, &m), VDM_OK);
    cr_assert_eq(vdm_model_default_steps(m), 8);
    vdm_model_free(m);
    /* other images: still resumes, but says so */
    vdm_trainer *d = NULL;
    cr_assert_eq(vdm_trainer_resume(ck, g_img + 1, NIMG, 2, &d, &changed), VDM_OK);
    cr_assert_eq(changed, 1);
    vdm_trainer_free(d);
    /* a weights file cannot be resumed; a missing file is an I/O error */
    cr_assert_eq(vdm_trainer_resume(wa, g_img, NIMG, 2, &d, &changed), VDM_ERR_UNSUPPORTED);
    cr_assert_null(d);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.ckpt", dir);
    cr_assert_eq(vdm_trainer_resume(missing, g_img, NIMG, 2, &d, &changed), VDM_ERR_IO);

    vdm_trainer_free(a);
    vdm_trainer_free(b);
    unlink(ck);
    unlink(wa);
    unlink(wb);
    rmdir(dir);
}

/* --init: a run with learned variances and one more block starts from a
 * model without them (same eps outputs bit for bit: the new block starts as
 * the identity), trains, and beats that model's bound. */
Test(train, init_from_learned_variance, .timeout = 120)
{
    char dir[] = "/tmp/vdm_init_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char wa[256];
    snprintf(wa, sizeof wa, "%s/a.vdm", dir);
    vdm_train_config c = tiny();
    vdm_trainer *a = NULL, *b = NULL;
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &a), VDM_OK);
    vdm_train_stats s;
    for (int i = 0; i < 200; i++) cr_assert_eq(vdm_trainer_step(a, &s), VDM_OK);
    cr_assert_eq(vdm_trainer_export(a, wa), VDM_OK);
    double va = val_bound(a);

    vdm_train_config cv = c;
    cv.net.var_out = 1;
    cv.net.blocks = c.net.blocks + 1;
    cr_assert_eq(vdm_trainer_create(&cv, g_img, NIMG, 2, &b), VDM_OK);
    cr_assert_eq(vdm_trainer_init_from(b, wa), VDM_OK);
    /* the eps outputs equal the source model's, bit for bit */
    vdm_model *ma = NULL, *mb = NULL;
    cr_assert_eq(vdm_model_load(wa, &ma), VDM_OK);
    cr_assert_eq(vdm_trainer_ema_model(b, &mb), VDM_OK);
    enum { H = 9, W = 11 };
    float z[H * W * 3], oa[H * W * 3], ob[H * W * 6], gs = 0.4f;
    for (int i = 0; i < H * W * 3; i++) z[i] = (float)((i * 37) % 19) / 9.5f - 1.0f;
    vdm_net_ws *wsa = vdm_net_ws_create(&vdm_model_cfg(ma)->net, VDM_BACKEND_REF, 1, H, W, 0);
    vdm_net_ws *wsb = vdm_net_ws_create(&vdm_model_cfg(mb)->net, VDM_BACKEND_REF, 1, H, W, 0);
    cr_assert_eq(vdm_net_forward(&vdm_model_cfg(ma)->net, vdm_model_params(ma), wsa, 1, z, &gs, 1, H, W, oa), VDM_OK);
    cr_assert_eq(vdm_net_forward(&vdm_model_cfg(mb)->net, vdm_model_params(mb), wsb, 1, z, &gs, 1, H, W, ob), VDM_OK);
    int nz = 0;
    for (int p = 0; p < H * W; p++)
        for (int ch = 0; ch < 3; ch++) {
            cr_assert(memcmp(&oa[p * 3 + ch], &ob[p * 6 + ch], 4) == 0, "pixel %d ch %d", p, ch);
            nz += oa[p * 3 + ch] != 0.0f;
            cr_assert_eq(ob[p * 6 + 3 + ch], VDM_NET_VAR_BIAS0);
        }
    cr_assert(nz > H * W, "the trained source must have non-trivial eps outputs");
    vdm_net_ws_free(wsa);
    vdm_net_ws_free(wsb);
    vdm_model_free(ma);
    vdm_model_free(mb);
    for (int i = 0; i < 200; i++) cr_assert_eq(vdm_trainer_step(b, &s), VDM_OK);
    double vb = val_bound(b);
    cr_log_info("held-out bound: fixed variances %.3f, learned variances after 200 more updates %.3f", va, vb);
    cr_assert(vb < va - 0.05, "learned variances must lower the bound: %.3f vs %.3f", vb, va);

    /* refusals: after stepping, another width, fewer blocks, a learned-variance source into a fixed trainer */
    cr_assert_eq(vdm_trainer_init_from(b, wa), VDM_ERR_ARG);
    vdm_trainer *d = NULL;
    vdm_train_config cw = c;
    cw.net.width = 8;
    cr_assert_eq(vdm_trainer_create(&cw, g_img, NIMG, 2, &d), VDM_OK);
    cr_assert_eq(vdm_trainer_init_from(d, wa), VDM_ERR_ARG);
    vdm_trainer_free(d);
    cr_assert_eq(vdm_trainer_export(b, wa), VDM_OK);
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &d), VDM_OK);
    cr_assert_eq(vdm_trainer_init_from(d, wa), VDM_ERR_ARG);
    vdm_trainer_free(d);
    cw = cv;
    cw.net.blocks = c.net.blocks;
    cr_assert_eq(vdm_trainer_create(&cw, g_img, NIMG, 2, &d), VDM_OK);
    cr_assert_eq(vdm_trainer_init_from(d, wa), VDM_ERR_ARG);
    vdm_trainer_free(d);
    vdm_trainer_free(a);
    vdm_trainer_free(b);
    unlink(wa);
    rmdir(dir);
}

Test(train, config_checks)
{
    vdm_train_config c = tiny();
    vdm_trainer *t = NULL;
    c.crop = 200;   /* larger than every image */
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 1, &t), VDM_ERR_ARG);
    c = tiny();
    c.g1 = c.g0;
    cr_assert_eq(vdm_train_config_check(&c), VDM_ERR_ARG);
    c = tiny();
    c.lr = 0.0;
    cr_assert_eq(vdm_train_config_check(&c), VDM_ERR_ARG);
    c = tiny();
    c.net.width = 0;
    cr_assert_eq(vdm_train_config_check(&c), VDM_ERR_ARG);
    cr_assert_null(t);
}

/* Held-out diffusion bits of steps k0+1..T (per sub-pixel) of the EMA weights. */
static double val_steps_above(vdm_trainer *t, int k0)
{
    vdm_model *m = NULL;
    cr_assert_eq(vdm_trainer_ema_model(t, &m), VDM_OK);
    double sb[8];
    vdm_eval_options o = { 8, 1, 96, 1, VDM_BACKEND_CPU, 99, sb, NULL };
    vdm_bound b;
    cr_assert_eq(vdm_eval_image(m, g_img[NIMG].px, 96, 96, &o, &b), VDM_OK);
    vdm_model_free(m);
    double s = 0.0;
    for (int k = k0; k < 8; k++) s += sb[k];
    return s;
}

/* coded_from = K: t is drawn only from the steps K..T, the schedule stays
 * frozen (its endpoints do not move while a full run's do), the setting
 * survives a checkpoint, and the steps that are trained end up cheaper than
 * in a run of the same length over all steps. */
Test(train, coded_from_trains_the_steps_above_k, .timeout = 180)
{
    vdm_train_config c = tiny();
    vdm_trainer *all = NULL, *hy = NULL, *b = NULL;
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &all), VDM_OK);
    c.coded_from = 5;
    cr_assert_eq(vdm_trainer_create(&c, g_img, NIMG, 2, &hy), VDM_OK);
    enum { STEPS = 300 };
    vdm_train_stats sa, sh, s0;
    for (int i = 0; i < STEPS; i++) {
        cr_assert_eq(vdm_trainer_step(all, &sa), VDM_OK);
        cr_assert_eq(vdm_trainer_step(hy, &sh), VDM_OK);
        if (i == 0) s0 = sh;
        cr_assert(sh.gamma0 == s0.gamma0 && sh.gamma1 == s0.gamma1, "schedule moved at update %d", i + 1);
    }
    cr_assert(sa.gamma0 != s0.gamma0 || sa.gamma1 != s0.gamma1, "a full run's schedule must move");
    const double ea = val_steps_above(all, 5), eh = val_steps_above(hy, 5);
    cr_log_info("held-out steps 6..8: all-step run %.4f, coded-from-5 run %.4f bpsp", ea, eh);
    cr_assert(eh < ea, "the trained steps must get cheaper: %.4f vs %.4f", eh, ea);

    char dir[] = "/tmp/vdm_coded_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char ck[256];
    snprintf(ck, sizeof ck, "%s/run.ckpt", dir);
    cr_assert_eq(vdm_trainer_save(hy, ck), VDM_OK);
    int changed = -1;
    cr_assert_eq(vdm_trainer_resume(ck, g_img, NIMG, 2, &b, &changed), VDM_OK);
    cr_assert_eq(vdm_trainer_config(b)->coded_from, 5);
    vdm_train_stats r1, r2;
    cr_assert_eq(vdm_trainer_step(hy, &r1), VDM_OK);
    cr_assert_eq(vdm_trainer_step(b, &r2), VDM_OK);
    cr_assert(memcmp(&r1, &r2, sizeof r1) == 0, "a resumed coded-from run continues exactly");
    unlink(ck);
    rmdir(dir);

    c = tiny();
    c.coded_from = 8;   /* = T: nothing left to train */
    cr_assert_eq(vdm_train_config_check(&c), VDM_ERR_ARG);
    c.coded_from = -1;
    cr_assert_eq(vdm_train_config_check(&c), VDM_ERR_ARG);
    c.coded_from = 2;
    c.T = 0;            /* continuous time has no steps to skip */
    cr_assert_eq(vdm_train_config_check(&c), VDM_ERR_ARG);
    vdm_trainer_free(all);
    vdm_trainer_free(hy);
    vdm_trainer_free(b);
}
