/* test_model_weights.c — the weights file (format-spec/weights.md):
 * round trip (bytes, parameters, constants and the model id), and every
 * kind of damage named for what it is: bad magic, unknown version,
 * truncation at every length, any flipped byte, trailing garbage, and a
 * well-hashed but inconsistent file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "model/model_internal.h"

static vdm_model_config cfg(void)
{
    vdm_model_config mc;
    memset(&mc, 0, sizeof mc);
    mc.net = (vdm_net_config){ 3, 4, 1, 2, { 7, 8, 0, 0 }, 4, VDM_ACT_SILU, 0 };
    mc.sched.kind = VDM_SCHED_LEARNED;
    mc.sched.hidden = 16;
    mc.gs_lo = -13.3;
    mc.gs_hi = 5.0;
    mc.default_T = 12;
    return mc;
}

static float *params(const vdm_model_config *mc)
{
    size_t pn = vdm_net_param_count(&mc->net), n = vdm_model_param_count(mc);
    float *p = calloc(n, sizeof(float));
    vdm_net_init(&mc->net, p, 5);
    for (size_t k = 0; k < pn; k++) p[k] += 0.001f * (float)(k % 17);
    vdm_sched_init(&mc->sched, p + pn, -13.3, 5.0, 5);
    return p;
}

/* A weights file as the trainer writes it. */
static uint8_t *serialise(const vdm_model_config *mc, const float *p, size_t *size)
{
    size_t pn = vdm_net_param_count(&mc->net), n = vdm_model_param_count(mc);
    vdm_wfile w;
    memset(&w, 0, sizeof w);
    w.kind = VDM_WFILE_WEIGHTS;
    w.cfg = *mc;
    w.train_steps = 1234;
    w.ntensors = 2;
    strcpy(w.t[0].name, "net");
    w.t[0].dtype = VDM_DT_F32;
    w.t[0].count = pn;
    w.t[0].data = p;
    strcpy(w.t[1].name, "schedule");
    w.t[1].dtype = VDM_DT_F32;
    w.t[1].count = n - pn;
    w.t[1].data = p + pn;
    uint8_t *buf = NULL;
    cr_assert_eq(vdm_wfile_write_mem(&w, &buf, size), VDM_OK);
    return buf;
}

Test(weights, round_trip)
{
    vdm_model_config mc = cfg();
    float *p = params(&mc);
    size_t n = vdm_model_param_count(&mc), size;
    uint8_t *buf = serialise(&mc, p, &size);
    vdm_model *m = NULL;
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_OK);
    cr_assert(memcmp(vdm_model_params(m), p, n * sizeof(float)) == 0, "parameters must survive bit for bit");
    const vdm_model_config *c = vdm_model_cfg(m);
    cr_assert(memcmp(&c->net, &mc.net, sizeof mc.net) == 0);
    cr_assert_eq(c->sched.kind, mc.sched.kind);
    cr_assert_eq(c->sched.hidden, mc.sched.hidden);
    cr_assert_eq(c->gs_lo, mc.gs_lo);
    cr_assert_eq(c->gs_hi, mc.gs_hi);
    cr_assert_eq(vdm_model_default_steps(m), 12);
    /* id = SHA-256 of the content before the trailer, as stored */
    uint8_t id[32], h[32];
    vdm_model_id(m, id);
    vdm_sha256(h, buf, size - 32);
    cr_assert(memcmp(id, h, 32) == 0 && memcmp(id, buf + size - 32, 32) == 0);
    /* a model built from the same parameters has the same id */
    vdm_model *m2 = NULL;
    cr_assert_eq(vdm_model_from_params(&mc, p, 1234, &m2), VDM_OK);
    uint8_t id2[32];
    vdm_model_id(m2, id2);
    cr_assert(memcmp(id, id2, 32) == 0);
    /* and the same constants */
    vdm_time_consts a[9], b[9];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    cr_assert_eq(vdm_model_consts(m, 8, a), VDM_OK);
    cr_assert_eq(vdm_model_consts(m2, 8, b), VDM_OK);
    cr_assert(memcmp(a, b, sizeof a) == 0);
    /* through a file on disk */
    char path[] = "/tmp/vdm_weights_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, buf, size), (ssize_t)size);
    close(fd);
    vdm_model *m3 = NULL;
    cr_assert_eq(vdm_model_load(path, &m3), VDM_OK);
    cr_assert(memcmp(vdm_model_params(m3), p, n * sizeof(float)) == 0);
    unlink(path);
    vdm_model *m4 = NULL;
    cr_assert_eq(vdm_model_load(path, &m4), VDM_ERR_IO, "a missing file is an I/O error");
    cr_assert_null(m4);
    vdm_model_free(m);
    vdm_model_free(m2);
    vdm_model_free(m3);
    vdm_model_free(NULL);
    free(buf);
    free(p);
}

Test(weights, damage_is_named)
{
    vdm_model_config mc = cfg();
    float *p = params(&mc);
    size_t size;
    uint8_t *buf = serialise(&mc, p, &size);
    uint8_t *cp = malloc(size + 16);
    vdm_model *m = NULL;

    /* every truncation */
    for (size_t len = 0; len < size; len++) {
        memcpy(cp, buf, len);
        vdm_status st = vdm_model_load_mem(cp, len, &m);
        cr_assert(st == VDM_ERR_TRUNCATED, "length %zu of %zu: %s", len, size, vdm_error_name(st));
        cr_assert_null(m);
    }
    /* trailing bytes */
    memcpy(cp, buf, size);
    cp[size] = 0;
    cr_assert_eq(vdm_model_load_mem(cp, size + 1, &m), VDM_ERR_CORRUPT);
    /* magic */
    memcpy(cp, buf, size);
    cp[1] = 'X';
    cr_assert_eq(vdm_model_load_mem(cp, size, &m), VDM_ERR_FORMAT);
    cr_assert_eq(vdm_model_load_mem("\x89PNG\r\n\x1a\n", 8, &m), VDM_ERR_FORMAT);
    /* version */
    memcpy(cp, buf, size);
    cp[8] = 3;
    cr_assert_eq(vdm_model_load_mem(cp, size, &m), VDM_ERR_VERSION);
    /* any other flipped byte: the hash catches it (or the size field) */
    for (size_t i = 12; i < size; i += (i < 400 ? 1 : 97)) {
        memcpy(cp, buf, size);
        cp[i] ^= 0x10;
        vdm_status st = vdm_model_load_mem(cp, size, &m);
        if (i >= 16 && i < 24) cr_assert(st == VDM_ERR_TRUNCATED || st == VDM_ERR_CORRUPT, "byte %zu", i);
        else cr_assert(st == VDM_ERR_CHECKSUM, "byte %zu: %s", i, vdm_error_name(st));
        cr_assert_null(m);
    }
    free(cp);
    free(buf);
    free(p);
}

Test(weights, hashed_but_inconsistent)
{
    vdm_model_config mc = cfg();
    float *p = params(&mc);
    size_t pn = vdm_net_param_count(&mc.net), n = vdm_model_param_count(&mc);
    vdm_wfile w;
    memset(&w, 0, sizeof w);
    w.kind = VDM_WFILE_WEIGHTS;
    w.cfg = mc;
    w.ntensors = 2;
    strcpy(w.t[0].name, "net");
    w.t[0].dtype = VDM_DT_F32;
    w.t[0].count = pn - 1;   /* does not match the config */
    w.t[0].data = p;
    strcpy(w.t[1].name, "schedule");
    w.t[1].dtype = VDM_DT_F32;
    w.t[1].count = n - pn;
    w.t[1].data = p + pn;
    uint8_t *buf;
    size_t size;
    vdm_model *m = NULL;
    cr_assert_eq(vdm_wfile_write_mem(&w, &buf, &size), VDM_OK);
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_ERR_CORRUPT);
    free(buf);
    /* a missing tensor */
    w.t[0].count = pn;
    w.ntensors = 1;
    cr_assert_eq(vdm_wfile_write_mem(&w, &buf, &size), VDM_OK);
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_ERR_CORRUPT);
    free(buf);
    /* a non-finite weight */
    w.ntensors = 2;
    float keep = p[3];
    p[3] = 1.0f / 0.0f;
    cr_assert_eq(vdm_wfile_write_mem(&w, &buf, &size), VDM_OK);
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_ERR_CORRUPT);
    free(buf);
    p[3] = keep;
    /* a schedule that is not increasing */
    float g1 = p[pn + 1];
    p[pn + 1] = p[pn] - 1.0f;
    cr_assert_eq(vdm_wfile_write_mem(&w, &buf, &size), VDM_OK);
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_ERR_CORRUPT);
    free(buf);
    p[pn + 1] = g1;
    /* an invalid network config */
    w.cfg.net.width = 0;
    cr_assert_eq(vdm_wfile_write_mem(&w, &buf, &size), VDM_OK);
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_ERR_CORRUPT);
    free(buf);
    w.cfg = mc;
    /* unknown file kind */
    w.kind = 7;
    cr_assert_eq(vdm_wfile_write_mem(&w, &buf, &size), VDM_OK);
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_ERR_CORRUPT);
    free(buf);
    cr_assert_null(m);
    free(p);
}

/* Learned variances: written as format version 2 with var_out = 1 at config
 * offset 68, read back exactly; without them the file stays version 1 (so
 * the bytes, and the ids of existing models, do not change).  A version-2
 * file that says var_out = 0, or a version-1 file with var_out = 1, is
 * corrupt (rehashed, so only the rule can catch it). */
static void rehash(uint8_t *buf, size_t size) { vdm_sha256(buf + size - 32, buf, size - 32); }

Test(weights, learned_variance_version_2)
{
    vdm_model_config mc = cfg();
    float *p0 = params(&mc);
    size_t s0;
    uint8_t *b0 = serialise(&mc, p0, &s0);
    cr_assert_eq(vdm_get_le32(b0 + 8), 1u);
    cr_assert_eq(vdm_get_le32(b0 + 40 + 68), 0u);
    mc.net.var_out = 1;
    float *p = params(&mc);
    size_t size, n = vdm_model_param_count(&mc);
    cr_assert(n > vdm_model_param_count(&(vdm_model_config){ .net = cfg().net, .sched = cfg().sched }));
    uint8_t *buf = serialise(&mc, p, &size);
    cr_assert_eq(vdm_get_le32(buf + 8), 2u);
    cr_assert_eq(vdm_get_le32(buf + 40 + 68), 1u);
    vdm_model *m = NULL;
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_OK);
    cr_assert_eq(vdm_model_cfg(m)->net.var_out, 1);
    cr_assert(memcmp(vdm_model_params(m), p, n * sizeof(float)) == 0);
    vdm_model_free(m);
    m = NULL;
    uint8_t *cp = malloc(size);
    memcpy(cp, buf, size);
    vdm_put_le32(cp + 40 + 68, 0);
    rehash(cp, size);
    cr_assert_eq(vdm_model_load_mem(cp, size, &m), VDM_ERR_CORRUPT);
    memcpy(cp, buf, size);
    vdm_put_le32(cp + 8, 1);
    rehash(cp, size);
    cr_assert_eq(vdm_model_load_mem(cp, size, &m), VDM_ERR_CORRUPT);
    cr_assert_null(m);
    /* var_out 2 (coupling) is version 2 as well; 3 is corrupt */
    memcpy(cp, buf, size);
    vdm_put_le32(cp + 40 + 68, 3);
    rehash(cp, size);
    cr_assert_eq(vdm_model_load_mem(cp, size, &m), VDM_ERR_CORRUPT);
    free(cp);
    free(buf);
    free(p);
    mc.net.var_out = 2;
    p = params(&mc);
    n = vdm_model_param_count(&mc);
    buf = serialise(&mc, p, &size);
    cr_assert_eq(vdm_get_le32(buf + 8), 2u);
    cr_assert_eq(vdm_get_le32(buf + 40 + 68), 2u);
    cr_assert_eq(vdm_model_load_mem(buf, size, &m), VDM_OK);
    cr_assert_eq(vdm_model_coupled(m), 1);
    cr_assert(memcmp(vdm_model_params(m), p, n * sizeof(float)) == 0);
    vdm_model_free(m);
    free(buf);
    free(p);
    free(b0);
    free(p0);
}
