/* weights.c — the weights/checkpoint file (format-spec/weights.md).
 *
 * Layout (all little-endian):
 *   header   40 bytes: magic[8] version u32 kind u32 file_size u64
 *                      config_size u32 ntensors u32 reserved u64 (0)
 *   config   config_size (= 128) bytes, see write_config
 *   table    ntensors x 48 bytes: name[32] dtype u32 reserved u32 count u64
 *   data     each tensor's elements in table order, no padding
 *   trailer  SHA-256 of every byte before it
 * The reader checks, in this order: magic (FORMAT), version (VERSION),
 * declared vs actual size (TRUNCATED / CORRUPT), hash (CHECKSUM), then
 * structure (CORRUPT).  So a damaged file is named for what is wrong with it,
 * and nothing is interpreted before its hash is verified. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/model_internal.h"

static const uint8_t MAGIC[8] = { 0x89, 'V', 'D', 'M', 'W', '\r', '\n', 0x1A };
/* Version 1: no learned variances (config offset 68 reserved, 0).  Version 2
 * defines offset 68 as var_out.  A file without learned variances is still
 * written as version 1, byte for byte as before, so existing model ids stay. */
#define WF_VERSION 1u
#define WF_VERSION_VAR 2u
#define HDR_SIZE 40u
#define CFG_SIZE 128u
#define ENT_SIZE 48u
#define MAX_FILE ((uint64_t)1 << 34)   /* 16 GiB: far beyond any model we train */

static size_t dtype_size(uint32_t dt)
{
    switch (dt) {
    case VDM_DT_F32: return 4;
    case VDM_DT_U64: return 8;
    case VDM_DT_U8: return 1;
    default: return 0;
    }
}

static void put_f64(uint8_t *p, double v) { uint64_t u; memcpy(&u, &v, 8); vdm_put_le64(p, u); }
static double get_f64(const uint8_t *p) { uint64_t u = vdm_get_le64(p); double v; memcpy(&v, &u, 8); return v; }

static void write_config(uint8_t *p, const vdm_model_config *c, uint64_t train_steps)
{
    memset(p, 0, CFG_SIZE);
    vdm_put_le32(p + 0, (uint32_t)c->net.channels);
    vdm_put_le32(p + 4, (uint32_t)c->net.width);
    vdm_put_le32(p + 8, (uint32_t)c->net.blocks);
    vdm_put_le32(p + 12, (uint32_t)c->net.n_fourier);
    for (int k = 0; k < VDM_NET_MAX_FOURIER; k++) vdm_put_le32(p + 16 + 4 * k, (uint32_t)c->net.fourier_exp[k]);
    vdm_put_le32(p + 32, (uint32_t)c->net.emb_dim);
    vdm_put_le32(p + 36, (uint32_t)c->net.act);
    vdm_put_le32(p + 40, (uint32_t)c->sched.kind);
    vdm_put_le32(p + 44, (uint32_t)c->sched.hidden);
    put_f64(p + 48, c->gs_lo);
    put_f64(p + 56, c->gs_hi);
    vdm_put_le32(p + 64, (uint32_t)c->default_T);
    vdm_put_le32(p + 68, (uint32_t)c->net.var_out);
    vdm_put_le64(p + 72, train_steps);
}

static void read_config(const uint8_t *p, vdm_model_config *c, uint64_t *train_steps)
{
    memset(c, 0, sizeof *c);
    c->net.channels = (int32_t)vdm_get_le32(p + 0);
    c->net.width = (int32_t)vdm_get_le32(p + 4);
    c->net.blocks = (int32_t)vdm_get_le32(p + 8);
    c->net.n_fourier = (int32_t)vdm_get_le32(p + 12);
    for (int k = 0; k < VDM_NET_MAX_FOURIER; k++) c->net.fourier_exp[k] = (int32_t)vdm_get_le32(p + 16 + 4 * k);
    c->net.emb_dim = (int32_t)vdm_get_le32(p + 32);
    c->net.act = (int32_t)vdm_get_le32(p + 36);
    c->sched.kind = (int32_t)vdm_get_le32(p + 40);
    c->sched.hidden = (int32_t)vdm_get_le32(p + 44);
    c->gs_lo = get_f64(p + 48);
    c->gs_hi = get_f64(p + 56);
    c->default_T = (int32_t)vdm_get_le32(p + 64);
    c->net.var_out = (int32_t)vdm_get_le32(p + 68);
    *train_steps = vdm_get_le64(p + 72);
}

vdm_status vdm_model_config_check(const vdm_model_config *c)
{
    VDM_RETURN_IF(!c, VDM_ERR_ARG);
    VDM_FORWARD(vdm_net_config_check(&c->net));
    VDM_RETURN_IF(c->net.channels != 3, VDM_ERR_ARG);
    VDM_FORWARD(vdm_sched_config_check(&c->sched));
    /* the gscaled map must be finite and non-degenerate */
    VDM_RETURN_IF(!(c->gs_hi - c->gs_lo > 1e-6) || !(c->gs_hi - c->gs_lo < 1e6), VDM_ERR_ARG);
    VDM_RETURN_IF(!(c->gs_lo > -1e6) || !(c->gs_hi < 1e6), VDM_ERR_ARG);
    VDM_RETURN_IF(c->default_T < 0 || c->default_T > VDM_MODEL_MAX_STEPS, VDM_ERR_ARG);
    return VDM_OK;
}

size_t vdm_model_param_count(const vdm_model_config *c)
{
    return vdm_net_param_count(&c->net) + vdm_sched_param_count(&c->sched);
}

vdm_status vdm_wfile_write_mem(const vdm_wfile *w, uint8_t **out, size_t *out_size)
{
    VDM_RETURN_IF(!w || !out || !out_size || w->ntensors > VDM_WFILE_MAX_TENSORS, VDM_ERR_ARG);
    uint64_t data = 0;
    for (uint32_t i = 0; i < w->ntensors; i++) {
        size_t es = dtype_size(w->t[i].dtype);
        VDM_RETURN_IF(!es || strlen(w->t[i].name) == 0 || strlen(w->t[i].name) >= VDM_WFILE_NAME_LEN,
                      VDM_ERR_ARG);
        VDM_RETURN_IF(w->t[i].count > MAX_FILE / es, VDM_ERR_LIMIT);
        data += w->t[i].count * es;
    }
    uint64_t total = HDR_SIZE + CFG_SIZE + (uint64_t)ENT_SIZE * w->ntensors + data + 32;
    VDM_RETURN_IF(total > MAX_FILE || total > (uint64_t)SIZE_MAX, VDM_ERR_LIMIT);
    uint8_t *b = (uint8_t *)calloc(1, (size_t)total);
    VDM_RETURN_IF(!b, VDM_ERR_NOMEM);
    memcpy(b, MAGIC, 8);
    vdm_put_le32(b + 8, w->cfg.net.var_out ? WF_VERSION_VAR : WF_VERSION);
    vdm_put_le32(b + 12, w->kind);
    vdm_put_le64(b + 16, total);
    vdm_put_le32(b + 24, CFG_SIZE);
    vdm_put_le32(b + 28, w->ntensors);
    write_config(b + HDR_SIZE, &w->cfg, w->train_steps);
    uint8_t *e = b + HDR_SIZE + CFG_SIZE;
    uint8_t *d = e + (size_t)ENT_SIZE * w->ntensors;
    for (uint32_t i = 0; i < w->ntensors; i++, e += ENT_SIZE) {
        const vdm_tensor *t = &w->t[i];
        memcpy(e, t->name, strlen(t->name));
        vdm_put_le32(e + 32, t->dtype);
        vdm_put_le64(e + 40, t->count);
        for (uint64_t k = 0; k < t->count; k++) {
            if (t->dtype == VDM_DT_F32) {
                uint32_t u;
                memcpy(&u, (const float *)t->data + k, 4);
                vdm_put_le32(d, u);
                d += 4;
            } else if (t->dtype == VDM_DT_U64) {
                vdm_put_le64(d, ((const uint64_t *)t->data)[k]);
                d += 8;
            } else {
                *d++ = ((const uint8_t *)t->data)[k];
            }
        }
    }
    vdm_sha256(d, b, (size_t)total - 32);
    *out = b;
    *out_size = (size_t)total;
    return VDM_OK;
}

vdm_status vdm_wfile_write(const vdm_wfile *w, const char *path)
{
    VDM_RETURN_IF(!path, VDM_ERR_ARG);
    uint8_t *buf;
    size_t n;
    VDM_FORWARD(vdm_wfile_write_mem(w, &buf, &n));
    size_t plen = strlen(path);
    char *tmp = (char *)malloc(plen + 5);
    if (!tmp) { free(buf); return VDM_ERR_NOMEM; }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    vdm_status st = VDM_OK;
    if (!f) st = VDM_ERR_IO;
    else {
        if (fwrite(buf, 1, n, f) != n) st = VDM_ERR_IO;
        if (fclose(f) != 0) st = VDM_ERR_IO;
        /* rename replaces the old file in one step: a crash mid-write leaves
         * the previous checkpoint intact. */
        if (st == VDM_OK && rename(tmp, path) != 0) st = VDM_ERR_IO;
        if (st != VDM_OK) remove(tmp);
    }
    free(tmp);
    free(buf);
    return st;
}

vdm_status vdm_wfile_parse(const uint8_t *buf, size_t size, vdm_wfile *w)
{
    VDM_RETURN_IF(!buf || !w, VDM_ERR_ARG);
    memset(w, 0, sizeof *w);
    /* a prefix of the magic is a truncated weights file, anything else is not ours */
    size_t m = size < 8 ? size : 8;
    VDM_RETURN_IF(memcmp(buf, MAGIC, m) != 0, VDM_ERR_FORMAT);
    VDM_RETURN_IF(size < HDR_SIZE, VDM_ERR_TRUNCATED);
    const uint32_t version = vdm_get_le32(buf + 8);
    VDM_RETURN_IF(version != WF_VERSION && version != WF_VERSION_VAR, VDM_ERR_VERSION);
    uint64_t declared = vdm_get_le64(buf + 16);
    VDM_RETURN_IF(declared < HDR_SIZE + 32 || declared > MAX_FILE, VDM_ERR_CORRUPT);
    VDM_RETURN_IF((uint64_t)size < declared, VDM_ERR_TRUNCATED);
    VDM_RETURN_IF((uint64_t)size > declared, VDM_ERR_CORRUPT);
    uint8_t h[32];
    vdm_sha256(h, buf, size - 32);
    VDM_RETURN_IF(memcmp(h, buf + size - 32, 32) != 0, VDM_ERR_CHECKSUM);
    memcpy(w->sha256, h, 32);

    w->kind = vdm_get_le32(buf + 12);
    VDM_RETURN_IF(w->kind != VDM_WFILE_WEIGHTS && w->kind != VDM_WFILE_CHECKPOINT, VDM_ERR_CORRUPT);
    uint32_t cfg_size = vdm_get_le32(buf + 24);
    w->ntensors = vdm_get_le32(buf + 28);
    VDM_RETURN_IF(cfg_size != CFG_SIZE || vdm_get_le64(buf + 32) != 0, VDM_ERR_CORRUPT);
    VDM_RETURN_IF(w->ntensors > VDM_WFILE_MAX_TENSORS, VDM_ERR_CORRUPT);
    uint64_t table_end = HDR_SIZE + CFG_SIZE + (uint64_t)ENT_SIZE * w->ntensors;
    VDM_RETURN_IF(table_end > size - 32, VDM_ERR_CORRUPT);
    read_config(buf + HDR_SIZE, &w->cfg, &w->train_steps);
    for (uint32_t k = 80; k < CFG_SIZE; k++) VDM_RETURN_IF(buf[HDR_SIZE + k] != 0, VDM_ERR_CORRUPT);
    /* version 1: offset 68 reserved (0); version 2: var_out, which must be 1
     * or 2 (a file without learned variances is version 1) */
    const uint32_t vo = vdm_get_le32(buf + HDR_SIZE + 68);
    VDM_RETURN_IF(version == WF_VERSION_VAR ? (vo != 1u && vo != 2u) : vo != 0u, VDM_ERR_CORRUPT);
    VDM_RETURN_IF(vdm_model_config_check(&w->cfg) != VDM_OK, VDM_ERR_CORRUPT);

    const uint8_t *e = buf + HDR_SIZE + CFG_SIZE;
    uint64_t off = table_end;
    for (uint32_t i = 0; i < w->ntensors; i++, e += ENT_SIZE) {
        vdm_tensor *t = &w->t[i];
        VDM_RETURN_IF(memchr(e, 0, 32) == NULL || e[0] == 0, VDM_ERR_CORRUPT);
        size_t nl = strlen((const char *)e);
        for (size_t k = nl; k < 32; k++) VDM_RETURN_IF(e[k] != 0, VDM_ERR_CORRUPT);
        memcpy(t->name, e, 32);
        for (uint32_t j = 0; j < i; j++) VDM_RETURN_IF(!strcmp(w->t[j].name, t->name), VDM_ERR_CORRUPT);
        t->dtype = vdm_get_le32(e + 32);
        size_t es = dtype_size(t->dtype);
        VDM_RETURN_IF(!es || vdm_get_le32(e + 36) != 0, VDM_ERR_CORRUPT);
        t->count = vdm_get_le64(e + 40);
        VDM_RETURN_IF(t->count > (size - 32 - off) / es, VDM_ERR_CORRUPT);
        t->data = buf + off;
        off += t->count * es;
    }
    VDM_RETURN_IF(off != size - 32, VDM_ERR_CORRUPT);
    return VDM_OK;
}

const vdm_tensor *vdm_wfile_find(const vdm_wfile *w, const char *name, uint32_t dtype,
                                 uint64_t count)
{
    for (uint32_t i = 0; i < w->ntensors; i++)
        if (!strcmp(w->t[i].name, name))
            return (w->t[i].dtype == dtype && w->t[i].count == count) ? &w->t[i] : NULL;
    return NULL;
}

void vdm_tensor_get_f32(const vdm_tensor *t, float *dst)
{
    const uint8_t *p = (const uint8_t *)t->data;
    for (uint64_t k = 0; k < t->count; k++) {
        uint32_t u = vdm_get_le32(p + 4 * k);
        memcpy(&dst[k], &u, 4);
    }
}

void vdm_tensor_get_u64(const vdm_tensor *t, uint64_t *dst)
{
    const uint8_t *p = (const uint8_t *)t->data;
    for (uint64_t k = 0; k < t->count; k++) dst[k] = vdm_get_le64(p + 8 * k);
}
