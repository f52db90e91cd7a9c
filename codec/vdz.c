/* vdz.c — the .vdz container (format-spec/vdz.md): framing, VHDR, META,
 * FBCK routing, MODL framing, checks.  The pixel coders live in codec/cm/
 * (the classical coders) and behind vdm_model_path. */
#include "codec/vdz.h"
#include "codec/codec_internal.h"
#include "codec/cm/classical.h"
#include "codec/cm/cm4.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define seterr vdm_codec_set_error

static const uint8_t k_sig[8] = { 0x89, 'V', 'D', 'Z', '\r', '\n', 0x1a, '\n' };
#define VHDR_FIXED 88u
#define MODL_FIXED 64u
#define MAX_TILES ((uint32_t)1 << 22)
#define META_LEVEL 19

const char *vdm_codec_last_error(void) { return vdm_codec_error_buf(); }

void vdm_encode_opts_default(vdm_encode_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->effort = 1;
    o->keep_metadata = 1;
}

void vdm_model_payload_clear(vdm_model_payload *p)
{
    if (!p) return;
    if (p->owns_streams && p->chains)
        for (uint32_t i = 0; i < p->nchains; i++) free((void *)(uintptr_t)p->chains[i].stream);
    free(p->delta_bits);
    free(p->tile_skip);
    free(p->chains);
    memset(p, 0, sizeof *p);
}

/* ---- pixel digest --------------------------------------------------------- */

vdm_status vdm_image_pixel_sha256(const vdm_image *img, uint8_t out[32])
{
    VDM_RETURN_IF(!img || !img->data, VDM_ERR_ARG);
    size_t n = (size_t)img->width * img->height * img->channels;
    if (img->bit_depth != 16) {
        vdm_sha256(out, img->data, n);
        return VDM_OK;
    }
    vdm_sha256_ctx *c = vdm_sha256_begin();
    if (!c) return VDM_ERR_NOMEM;
    const uint16_t *s = (const uint16_t *)(const void *)img->data;
    uint8_t tmp[8192];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof tmp / 2 && i < n; k++, i++) {
            tmp[2 * k] = (uint8_t)(s[i] >> 8);
            tmp[2 * k + 1] = (uint8_t)s[i];
        }
        vdm_sha256_update(c, tmp, 2 * k);
    }
    vdm_sha256_end(c, out);
    return VDM_OK;
}

/* ---- writing helpers ------------------------------------------------------ */

static vdm_status put_u8(vdm_buf *b, unsigned v) { uint8_t x = (uint8_t)v; return vdm_buf_append(b, &x, 1); }
static vdm_status put_u16(vdm_buf *b, unsigned v) { uint8_t x[2]; vdm_put_le16(x, (uint16_t)v); return vdm_buf_append(b, x, 2); }
static vdm_status put_u32(vdm_buf *b, uint32_t v) { uint8_t x[4]; vdm_put_le32(x, v); return vdm_buf_append(b, x, 4); }
static vdm_status put_u64(vdm_buf *b, uint64_t v) { uint8_t x[8]; vdm_put_le64(x, v); return vdm_buf_append(b, x, 8); }

/* Append one framed section: length, type, payload, CRC(type+payload). */
static vdm_status put_section(vdm_buf *b, const char type[4], const uint8_t *payload, size_t n)
{
    if (n > VDM_VDZ_MAX_SECTION) {
        seterr("a %.4s section would exceed 2^31-1 bytes", type);
        return VDM_ERR_LIMIT;
    }
    VDM_FORWARD(vdm_buf_reserve(b, n + 12));
    VDM_FORWARD(put_u32(b, (uint32_t)n));
    VDM_FORWARD(vdm_buf_append(b, type, 4));
    VDM_FORWARD(vdm_buf_append(b, payload, n));
    uint32_t crc = vdm_crc32(0, type, 4);
    crc = vdm_crc32(crc, payload, n);
    return put_u32(b, crc);
}

/* ---- sub-images ------------------------------------------------------------ */

static unsigned all_channels(const vdm_image *img) { return (1u << img->channels) - 1u; }

/* ---- progress plumbing ---------------------------------------------------- */

typedef struct {
    vdm_progress_fn fn;
    void *user;
    double lo, hi;
} prog_span;

/* Both return the callback's answer: non-zero cancels. */
static int prog_cb(void *user, double f)
{
    prog_span *p = user;
    return p->fn ? p->fn(p->user, p->lo + (p->hi - p->lo) * f) : 0;
}

static int prog_at(vdm_progress_fn fn, void *user, double f)
{
    return fn ? fn(user, f) : 0;
}

/* ---- FBCK encoding ---------------------------------------------------------- */

/* (vdz.h) VDM_CLASSICAL_CM_DEFAULT is the default (classical.h). */
unsigned vdm_encode_cm_method(const vdm_encode_opts *o, uint32_t width)
{
    if (o->effort < 1 || width > VDM_CM4_MAX_WIDTH) return VDM_CLASSICAL_CM2;
    return o->cm_method ? (unsigned)o->cm_method : VDM_CLASSICAL_CM_DEFAULT;
}

/* Encode the channels `mask` of img with the best classical method for this
 * effort; append the FBCK payload to *payload. */
static vdm_status encode_classical(const vdm_image *img, unsigned mask, const vdm_encode_opts *o,
                                   prog_span *ps, vdm_buf *payload, int *method_out)
{
    vdm_subimage g;
    vdm_subimage_of(&g, img, mask);
    const uint64_t stored = vdm_sub_rowbytes(&g) * g.height;

    vdm_buf cm = { 0 }, cmx = { 0 }, zs = { 0 }, z2 = { 0 };
    vdm_status st = VDM_OK;
    /* method 9 (CM9, about 11-15 s per megapixel; or method 4 to 8 when the
     * options ask for it) from effort 1 on; method 2 (fast) always: it is what
     * effort 0 gives and the floor for any image.  Method 3 is no longer
     * written (CM4 beats it everywhere we measured); it still decodes. */
    const unsigned strong = vdm_encode_cm_method(o, g.width);
    const int try_strong = strong != VDM_CLASSICAL_CM2;
    g.progress = prog_cb;
    g.progress_user = ps;
    if (try_strong && o->cm_pass && o->cm_pass->method == strong && o->cm_pass->mask == mask)
        st = vdm_buf_append(&cmx, o->cm_pass->whole.data, o->cm_pass->whole.size);   /* made with the tiles */
    else if (try_strong)
        st = vdm_cm_encode(strong, &g, NULL, &cmx);
    g.progress = try_strong ? NULL : prog_cb;
    if (st == VDM_OK) st = vdm_cm2_encode(&g, &cm);
    g.progress = NULL;
    /* zstd is cheap to try at a low level; only when it comes close to CM
     * (flat graphics, screenshots, palettes) is the slow level worth it. */
    if (st == VDM_OK && o->effort >= 1) {
        int lvl = o->effort >= 2 ? 19 : 3;
        st = vdm_zstd_encode(&g, lvl, &zs);
        if (st == VDM_OK && o->effort == 1 && (double)zs.size < 1.15 * (double)cm.size) {
            st = vdm_zstd_encode(&g, 19, &z2);
            if (st == VDM_OK && z2.size < zs.size) {
                vdm_buf t = zs;
                zs = z2;
                z2 = t;
            }
        }
    }
    if (st == VDM_OK) {
        int method = VDM_CLASSICAL_CM2;
        const vdm_buf *best = &cm;
        if (cmx.size && cmx.size < best->size) { best = &cmx; method = (int)strong; }
        if (zs.size && zs.size < best->size) { best = &zs; method = VDM_CLASSICAL_ZSTD; }
        uint8_t hdr[4] = { 0, (uint8_t)mask, 0, 0 };
        if ((uint64_t)best->size >= stored) {
            method = VDM_CLASSICAL_STORED;
            hdr[0] = (uint8_t)method;
            st = vdm_buf_append(payload, hdr, 4);
            if (st == VDM_OK) st = vdm_stored_encode(&g, payload);
        } else {
            hdr[0] = (uint8_t)method;
            st = vdm_buf_append(payload, hdr, 4);
            if (st == VDM_OK) st = vdm_buf_append(payload, best->data, best->size);
        }
        *method_out = method;
    }
    vdm_buf_free(&cm);
    vdm_buf_free(&cmx);
    vdm_buf_free(&zs);
    vdm_buf_free(&z2);
    return st;
}

/* ---- META ----------------------------------------------------------------- */

static vdm_status encode_meta(const vdm_image *img, vdm_buf *payload)
{
    vdm_buf raw = { 0 };
    vdm_status st = VDM_OK;
    for (uint32_t i = 0; i < img->nchunks && st == VDM_OK; i++) {
        const vdm_png_chunk *c = &img->chunks[i];
        st = vdm_buf_append(&raw, c->name, 4);
        if (st == VDM_OK) st = put_u8(&raw, c->location);
        if (st == VDM_OK) st = put_u32(&raw, c->size);
        if (st == VDM_OK) st = vdm_buf_append(&raw, c->data, c->size);
    }
    if (st != VDM_OK) { vdm_buf_free(&raw); return st; }
    size_t bound = ZSTD_compressBound(raw.size);
    uint8_t *z = malloc(bound ? bound : 1);
    if (!z) { vdm_buf_free(&raw); return VDM_ERR_NOMEM; }
    size_t zn = ZSTD_compress(z, bound, raw.data, raw.size, META_LEVEL);
    int method = (!ZSTD_isError(zn) && zn < raw.size) ? 1 : 0;
    uint8_t hdr[12] = { (uint8_t)method, 0, 0, 0 };
    vdm_put_le32(hdr + 4, img->nchunks);
    vdm_put_le32(hdr + 8, (uint32_t)raw.size);
    st = vdm_buf_append(payload, hdr, 12);
    if (st == VDM_OK) st = method ? vdm_buf_append(payload, z, zn) : vdm_buf_append(payload, raw.data, raw.size);
    free(z);
    vdm_buf_free(&raw);
    return st;
}

/* ---- MODL ----------------------------------------------------------------- */

static int delta_ok(uint32_t bits)
{
    /* finite, > 0: sign clear, exponent not all ones, not zero */
    return !(bits >> 31) && ((bits >> 23) & 0xFF) != 0xFF && bits != 0;
}

static uint32_t ceil_div(uint32_t a, uint32_t b) { return a / b + (a % b != 0); }

/* Check a payload against the image header (both encode and decode side). */
static vdm_status check_model_payload(const vdm_model_payload *p, uint32_t w, uint32_t h,
                                      unsigned channels, const uint8_t model_id[32])
{
    if (memcmp(p->model_id, model_id, 32)) { seterr("MODL names another model than VHDR"); return VDM_ERR_CORRUPT; }
    if (p->steps < 1 || p->steps > VDM_VDZ_MAX_STEPS) { seterr("MODL: step count %u out of range", p->steps); return VDM_ERR_CORRUPT; }
    if (!p->channel_mask || (p->channel_mask & ~((1u << channels) - 1u))) { seterr("MODL: bad channel mask"); return VDM_ERR_CORRUPT; }
    if (p->flags & ~(VDM_MODL_CLEAN | VDM_MODL_TILE_CHOICE)) { seterr("MODL: unknown flags 0x%02x", p->flags); return VDM_ERR_UNSUPPORTED; }
    if (p->data_prec < 8 || p->data_prec > 24 || p->latent_prec < 8 || p->latent_prec > 24 ||
        p->prior_prec < 8 || p->prior_prec > 24) {
        seterr("MODL: coder precision out of range");
        return VDM_ERR_CORRUPT;
    }
    if (!p->tile_w || !p->tile_h) { seterr("MODL: zero tile size"); return VDM_ERR_CORRUPT; }
    uint64_t nt = (uint64_t)ceil_div(w, p->tile_w) * ceil_div(h, p->tile_h);
    if (nt > MAX_TILES || nt != p->ntiles) { seterr("MODL: tile count %llu invalid", (unsigned long long)nt); return VDM_ERR_CORRUPT; }
    if (!p->delta_bits || !p->tile_skip || !p->chains) return VDM_ERR_CORRUPT;
    for (uint32_t i = 0; i <= p->steps; i++)
        if (!delta_ok(p->delta_bits[i])) { seterr("MODL: latent grid step %u is not a finite positive number", i); return VDM_ERR_CORRUPT; }
    /* Without tile choice the chains cover the model-coded tiles and every map
     * bit must be 0; with it they cover all tiles, CM tiles included (§6.2). */
    const int choice = (p->flags & VDM_MODL_TILE_CHOICE) != 0;
    /* the CM tiles' method: 2 to 6 with tile choice, else the byte is 0 */
    if (choice ? p->cm_method < VDM_CLASSICAL_CM2 || p->cm_method > VDM_CLASSICAL_MAX : p->cm_method != 0) {
        seterr("MODL: CM tile method %u invalid", p->cm_method);
        return choice && p->cm_method > VDM_CLASSICAL_MAX ? VDM_ERR_UNSUPPORTED : VDM_ERR_CORRUPT;
    }
    /* methods 3 to 6 keep least-squares sums per column: a width limit */
    const uint32_t wmax = p->cm_method == VDM_CLASSICAL_CM3 ? VDM_CM3_MAX_WIDTH : VDM_CM4_MAX_WIDTH;
    if (choice && p->cm_method >= VDM_CLASSICAL_CM3 && w > wmax) {
        seterr("MODL: CM tile method %u on an image wider than %u", p->cm_method, wmax);
        return VDM_ERR_CORRUPT;
    }
    uint32_t nmodel = 0;
    for (uint32_t i = 0; i < p->ntiles; i++) {
        if (p->tile_skip[i] > 1) return VDM_ERR_CORRUPT;
        if (p->tile_skip[i] && !choice) { seterr("MODL: tile map bits set without the tile-choice flag"); return VDM_ERR_CORRUPT; }
        nmodel += !p->tile_skip[i];
    }
    if (choice) nmodel = p->ntiles;
    if (p->nchains < 1 || p->nchains > nmodel) { seterr("MODL: %u chains for %u tiles", p->nchains, nmodel); return VDM_ERR_CORRUPT; }
    uint32_t next = 0;
    for (uint32_t i = 0; i < p->nchains; i++) {
        const vdm_model_chain *c = &p->chains[i];
        if (c->first != next || c->count < 1 || c->count > nmodel - next) { seterr("MODL: chain table does not partition the tiles"); return VDM_ERR_CORRUPT; }
        if (c->stream_bytes && !c->stream) return VDM_ERR_CORRUPT;
        next += c->count;
    }
    if (next != nmodel) { seterr("MODL: chains cover %u of %u tiles", next, nmodel); return VDM_ERR_CORRUPT; }
    return VDM_OK;
}

static vdm_status encode_modl(const vdm_model_payload *p, vdm_buf *b)
{
    VDM_FORWARD(vdm_buf_append(b, p->model_id, 32));
    VDM_FORWARD(put_u16(b, p->steps));
    VDM_FORWARD(put_u8(b, p->channel_mask));
    VDM_FORWARD(put_u8(b, p->flags));
    VDM_FORWARD(put_u8(b, p->data_prec));
    VDM_FORWARD(put_u8(b, p->latent_prec));
    VDM_FORWARD(put_u8(b, p->prior_prec));
    VDM_FORWARD(put_u8(b, p->cm_method));
    VDM_FORWARD(put_u16(b, p->tile_w));
    VDM_FORWARD(put_u16(b, p->tile_h));
    VDM_FORWARD(put_u32(b, p->nchains));
    VDM_FORWARD(put_u64(b, p->xor_seed));
    uint64_t vb;
    memcpy(&vb, &p->neg_vlb_bits, 8);
    VDM_FORWARD(put_u64(b, vb));
    for (uint32_t i = 0; i <= p->steps; i++) VDM_FORWARD(put_u32(b, p->delta_bits[i]));
    size_t mapn = (p->ntiles + 7) / 8;
    VDM_FORWARD(vdm_buf_reserve(b, mapn));
    memset(b->data + b->size, 0, mapn);
    for (uint32_t i = 0; i < p->ntiles; i++)
        if (p->tile_skip[i]) b->data[b->size + i / 8] |= (uint8_t)(1u << (i % 8));
    b->size += mapn;
    for (uint32_t i = 0; i < p->nchains; i++) {
        VDM_FORWARD(put_u32(b, p->chains[i].first));
        VDM_FORWARD(put_u32(b, p->chains[i].count));
        VDM_FORWARD(put_u64(b, p->chains[i].initial_bits));
        VDM_FORWARD(put_u64(b, p->chains[i].stream_bytes));
    }
    for (uint32_t i = 0; i < p->nchains; i++) {
        if (p->chains[i].stream_bytes > VDM_VDZ_MAX_SECTION) return VDM_ERR_LIMIT;
        VDM_FORWARD(vdm_buf_append(b, p->chains[i].stream, (size_t)p->chains[i].stream_bytes));
    }
    return VDM_OK;
}

/* Parse MODL into *p (arrays malloc'd, streams point into buf). */
static vdm_status parse_modl(const uint8_t *d, size_t n, uint32_t w, uint32_t h, vdm_model_payload *p)
{
    memset(p, 0, sizeof *p);
    if (n < MODL_FIXED) { seterr("MODL section too short"); return VDM_ERR_CORRUPT; }
    memcpy(p->model_id, d, 32);
    p->steps = vdm_get_le16(d + 32);
    p->channel_mask = d[34];
    p->flags = d[35];
    p->data_prec = d[36];
    p->latent_prec = d[37];
    p->prior_prec = d[38];
    p->cm_method = d[39];
    p->tile_w = vdm_get_le16(d + 40);
    p->tile_h = vdm_get_le16(d + 42);
    p->nchains = vdm_get_le32(d + 44);
    p->xor_seed = vdm_get_le64(d + 48);
    uint64_t vb = vdm_get_le64(d + 56);
    memcpy(&p->neg_vlb_bits, &vb, 8);
    if (p->steps < 1 || p->steps > VDM_VDZ_MAX_STEPS || !p->tile_w || !p->tile_h) {
        seterr("MODL: step count or tile size out of range");
        return VDM_ERR_CORRUPT;
    }
    uint64_t nt = (uint64_t)ceil_div(w, p->tile_w) * ceil_div(h, p->tile_h);
    if (nt > MAX_TILES) { seterr("MODL: too many tiles"); return VDM_ERR_CORRUPT; }
    p->ntiles = (uint32_t)nt;
    uint64_t need = MODL_FIXED + 4ull * (p->steps + 1u) + (nt + 7) / 8 + 24ull * p->nchains;
    if (p->nchains == 0 || p->nchains > p->ntiles || need > n) {
        seterr("MODL section is inconsistent (%u chains)", p->nchains);
        return VDM_ERR_CORRUPT;
    }
    p->delta_bits = malloc(4u * (p->steps + 1u));
    p->tile_skip = malloc(p->ntiles);
    p->chains = calloc(p->nchains, sizeof *p->chains);
    if (!p->delta_bits || !p->tile_skip || !p->chains) { vdm_model_payload_clear(p); return VDM_ERR_NOMEM; }
    size_t off = MODL_FIXED;
    for (uint32_t i = 0; i <= p->steps; i++, off += 4) p->delta_bits[i] = vdm_get_le32(d + off);
    for (uint32_t i = 0; i < p->ntiles; i++) p->tile_skip[i] = (d[off + i / 8] >> (i % 8)) & 1u;
    size_t mapn = (p->ntiles + 7) / 8;
    if (p->ntiles % 8 && (d[off + mapn - 1] >> (p->ntiles % 8))) {
        seterr("MODL: tile map padding bits set");
        vdm_model_payload_clear(p);
        return VDM_ERR_CORRUPT;
    }
    off += mapn;
    uint64_t total = 0;
    for (uint32_t i = 0; i < p->nchains; i++, off += 24) {
        p->chains[i].first = vdm_get_le32(d + off);
        p->chains[i].count = vdm_get_le32(d + off + 4);
        p->chains[i].initial_bits = vdm_get_le64(d + off + 8);
        p->chains[i].stream_bytes = vdm_get_le64(d + off + 16);
        if (p->chains[i].stream_bytes > n) { total = UINT64_MAX; break; }
        total += p->chains[i].stream_bytes;
    }
    if (total != n - off) {
        seterr("MODL: stream lengths do not add up to the section");
        vdm_model_payload_clear(p);
        return VDM_ERR_CORRUPT;
    }
    for (uint32_t i = 0; i < p->nchains; i++) {
        p->chains[i].stream = d + off;
        off += (size_t)p->chains[i].stream_bytes;
    }
    return VDM_OK;
}

/* ---- encode ---------------------------------------------------------------- */

static vdm_status write_vhdr(vdm_buf *out, const vdm_image *img, const uint8_t sha[32],
                             const uint8_t *model_id)
{
    vdm_buf p = { 0 };
    uint8_t f[VHDR_FIXED];
    memset(f, 0, sizeof f);
    vdm_put_le32(f, img->width);
    vdm_put_le32(f + 4, img->height);
    f[8] = img->color_type;
    f[9] = img->bit_depth;
    f[10] = img->interlace;
    f[11] = img->channels;
    f[12] = model_id ? 1 : 0;
    vdm_put_le16(f + 14, img->palette_size);
    vdm_put_le16(f + 16, img->trns_count);
    if (img->trns_count && img->color_type != VDM_PNG_PALETTE)
        for (int k = 0; k < (img->color_type == VDM_PNG_RGB ? 3 : 1); k++)
            vdm_put_le16(f + 18 + 2 * k, img->trns_key[k]);
    memcpy(f + 24, sha, 32);
    if (model_id) memcpy(f + 56, model_id, 32);
    vdm_status st = vdm_buf_append(&p, f, sizeof f);
    for (unsigned i = 0; i < img->palette_size && st == VDM_OK; i++) st = vdm_buf_append(&p, img->palette[i], 3);
    if (st == VDM_OK && img->color_type == VDM_PNG_PALETTE)
        st = vdm_buf_append(&p, img->trns_alpha, img->trns_count);
    if (st == VDM_OK) st = put_section(out, "VHDR", p.data, p.size);
    vdm_buf_free(&p);
    return st;
}

/* One complete candidate file: model payload (may be NULL) + classical
 * sections for the channels it does not cover. */
static vdm_status build_file(const vdm_image *img, const vdm_encode_opts *o, const uint8_t sha[32],
                             const vdm_model_payload *mp, const vdm_buf *meta, prog_span *ps,
                             vdm_buf *out, vdm_encode_stats *s)
{
    memset(s, 0, sizeof *s);
    s->classical_method = -1;
    VDM_FORWARD(vdm_buf_append(out, k_sig, 8));
    VDM_FORWARD(put_u16(out, VDM_VDZ_FORMAT_VERSION));
    VDM_FORWARD(put_u16(out, 0));
    VDM_FORWARD(write_vhdr(out, img, sha, mp ? mp->model_id : NULL));
    s->header_bytes = out->size;
    vdm_status st = VDM_OK;
    if (mp) {
        vdm_buf m = { 0 };
        st = encode_modl(mp, &m);
        size_t before = out->size;
        if (st == VDM_OK) st = put_section(out, "MODL", m.data, m.size);
        vdm_buf_free(&m);
        VDM_FORWARD(st);
        s->model_bytes = out->size - before;
        s->used_model = 1;
        s->neg_vlb_bits = mp->neg_vlb_bits;
    }
    if (meta && meta->size) {
        size_t before = out->size;
        VDM_FORWARD(put_section(out, "META", meta->data, meta->size));
        s->meta_bytes = out->size - before;
    }
    unsigned rest = all_channels(img) & ~(mp ? mp->channel_mask : 0u);
    if (rest) {
        vdm_buf f = { 0 };
        int method = -1;
        st = encode_classical(img, rest, o, ps, &f, &method);
        size_t before = out->size;
        if (st == VDM_OK) st = put_section(out, "FBCK", f.data, f.size);
        vdm_buf_free(&f);
        VDM_FORWARD(st);
        s->classical_bytes = out->size - before;
        s->classical_method = method;
    }
    size_t before = out->size;
    VDM_FORWARD(put_section(out, "VEND", NULL, 0));
    s->header_bytes += out->size - before;
    s->file_bytes = out->size;
    s->samples = (uint64_t)img->width * img->height * img->channels;
    vdm_subimage g;
    vdm_subimage_of(&g, img, all_channels(img));
    s->packed_bytes = vdm_sub_rowbytes(&g) * img->height;
    return VDM_OK;
}

/* The classical file's CM stream and the model path's CM tile streams in
 * one pass (vdm_cm_pass), when both are of the same channels and method:
 * an RGB image, a model path that uses CM tiles, a CM4-CM9 encode. */
static vdm_status make_cm_pass(const vdm_image *img, const vdm_encode_opts *o, unsigned mask, prog_span *ps,
                               vdm_cm_pass *cp, int *made)
{
    memset(cp, 0, sizeof *cp);
    *made = 0;
    const vdm_model_path *mp = o->model;
    const unsigned method = vdm_encode_cm_method(o, img->width);
    if (mask != all_channels(img) || mask != 0x07 || !mp->cm_tile_w || !mp->cm_tile_h ||
        method < VDM_CLASSICAL_CM4)
        return VDM_OK;
    const uint64_t ntx = (img->width + (uint64_t)mp->cm_tile_w - 1) / mp->cm_tile_w;
    const uint64_t nty = (img->height + (uint64_t)mp->cm_tile_h - 1) / mp->cm_tile_h;
    if (ntx * nty > UINT32_MAX / 2) return VDM_OK;
    cp->method = (uint8_t)method;
    cp->mask = mask;
    cp->tile_w = mp->cm_tile_w;
    cp->tile_h = mp->cm_tile_h;
    cp->ntiles = (uint32_t)(ntx * nty);
    cp->tiles = calloc(cp->ntiles, sizeof *cp->tiles);
    if (!cp->tiles) return VDM_ERR_NOMEM;
    vdm_subimage g;
    vdm_subimage_of(&g, img, mask);
    g.progress = prog_cb;
    g.progress_user = ps;
    vdm_status st = vdm_cm_encode_tiled(method, &g, cp->tile_w, cp->tile_h, &cp->whole, cp->tiles);
    *made = st == VDM_OK;
    return st;
}

static void cm_pass_free(vdm_cm_pass *cp)
{
    for (uint32_t t = 0; cp->tiles && t < cp->ntiles; t++) vdm_buf_free(&cp->tiles[t]);
    free(cp->tiles);
    vdm_buf_free(&cp->whole);
    memset(cp, 0, sizeof *cp);
}

vdm_status vdm_vdz_encode(const vdm_image *img, const vdm_encode_opts *o_in, uint8_t **out,
                          size_t *out_size, vdm_encode_stats *stats)
{
    VDM_RETURN_IF(!img || !out || !out_size, VDM_ERR_ARG);
    *out = NULL;
    *out_size = 0;
    vdm_codec_clear_error();
    vdm_encode_opts o;
    if (o_in) o = *o_in;
    else vdm_encode_opts_default(&o);
    o.cm_pass = NULL;   /* ours to set */
    if (o.threads < 1) o.threads = 1;
    if (o.effort < 0 || o.effort > 2) { seterr("effort must be 0, 1 or 2"); return VDM_ERR_ARG; }
    if (o.cm_method != 0 && (o.cm_method < VDM_CLASSICAL_CM4 || o.cm_method > VDM_CLASSICAL_CM9)) {
        seterr("cm_method must be 0 (the default), 4, 5, 6, 7, 8 or 9");
        return VDM_ERR_ARG;
    }
    if (o.steps > VDM_VDZ_MAX_STEPS) { seterr("steps must be at most %u", VDM_VDZ_MAX_STEPS); return VDM_ERR_ARG; }
    VDM_FORWARD(vdm_image_validate(img));

    uint8_t sha[32];
    VDM_FORWARD(vdm_image_pixel_sha256(img, sha));
    vdm_buf meta = { 0 };
    vdm_status st = VDM_OK;
    if (o.keep_metadata && img->nchunks) st = encode_meta(img, &meta);

    /* Candidate with the model (when it can code some channels), then the
     * classical-only file; the smaller wins ("never much worse than the
     * classical way", and the model never makes a file bigger). */
    vdm_buf best = { 0 };
    vdm_encode_stats best_s;
    memset(&best_s, 0, sizeof best_s);
    int have_best = 0;
    prog_span ps = { o.progress, o.progress_user, 0.0, 1.0 };
    vdm_model_estimate est;
    int estimated = 0;
    memset(&est, 0, sizeof est);
    vdm_cm_pass cpass;
    memset(&cpass, 0, sizeof cpass);
    if (st == VDM_OK && o.model && o.model->encode && o.model->channels_for) {
        unsigned mask = o.model->channels_for(o.model->ctx, img) & all_channels(img);
        if (mask) {
            /* the CM pass both files need, once (the first 30 % of the bar) */
            prog_span cspan = { o.progress, o.progress_user, 0.0, 0.3 };
            int made = 0;
            st = make_cm_pass(img, &o, mask, &cspan, &cpass, &made);
            if (made) {
                o.cm_pass = &cpass;
                ps.lo = 0.3;
            }
        }
        /* skip a try that the estimate says cannot win (never with model_only) */
        if (st == VDM_OK && mask && !o.model_only && o.model_try == VDM_MODEL_TRY_AUTO && o.model->estimate) {
            /* the estimate's progress fills the next 10 % of the bar */
            vdm_encode_opts oe = o;
            prog_span espan = { o.progress, o.progress_user, ps.lo, ps.lo + 0.1 };
            oe.progress = o.progress ? prog_cb : NULL;
            oe.progress_user = &espan;
            st = o.model->estimate(o.model->ctx, img, mask, &oe, &est);
            estimated = st == VDM_OK;
            ps.lo += 0.1;
            if (estimated && !est.try_model) mask = 0;
        }
        if (mask && st == VDM_OK) {
            vdm_model_payload mp;
            memset(&mp, 0, sizeof mp);
            /* the model's progress fills the first 80 % of the bar */
            vdm_encode_opts om = o;
            prog_span mspan = { o.progress, o.progress_user, ps.lo, 0.8 };
            om.progress = o.progress ? prog_cb : NULL;
            om.progress_user = &mspan;
            st = o.model->encode(o.model->ctx, img, mask, &om, &mp);
            if (st == VDM_OK) {
                if (mp.channel_mask != mask || memcmp(mp.model_id, o.model->model_id, 32)) {
                    seterr("model path returned a payload for other channels or another model");
                    st = VDM_ERR_INTERNAL;
                } else {
                    st = check_model_payload(&mp, img->width, img->height, img->channels, mp.model_id);
                    if (st != VDM_OK) st = VDM_ERR_INTERNAL;
                }
            }
            ps.lo = 0.8;   /* the model file's other channels: 80..90 % */
            ps.hi = 0.9;
            if (st == VDM_OK) st = build_file(img, &o, sha, &mp, &meta, &ps, &best, &best_s);
            vdm_model_payload_clear(&mp);
            have_best = st == VDM_OK;
            ps.lo = 0.9;
            ps.hi = 1.0;
        }
    }
    if (st == VDM_OK && !(have_best && o.model_only)) {
        vdm_buf fb = { 0 };
        vdm_encode_stats fs;
        st = build_file(img, &o, sha, NULL, &meta, &ps, &fb, &fs);
        if (st == VDM_OK && (!have_best || fb.size < best.size)) {
            vdm_buf_free(&best);
            best = fb;
            best_s = fs;
            have_best = 1;
        } else {
            vdm_buf_free(&fb);
        }
    }
    vdm_buf_free(&meta);
    cm_pass_free(&cpass);
    if (st != VDM_OK) {
        vdm_buf_free(&best);
        return st;
    }
    if (prog_at(o.progress, o.progress_user, 1.0)) {
        vdm_buf_free(&best);
        return VDM_ERR_CANCELLED;
    }
    *out = best.data;
    *out_size = best.size;
    best_s.estimated = estimated;
    best_s.estimate = est;
    if (stats) *stats = best_s;
    return VDM_OK;
}

/* ---- parse ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *d;
    uint32_t n;
} span;

typedef struct {
    vdm_vdz_info info;
    span vhdr, modl, meta;
    span fbck[VDM_VDZ_MAX_FBCK];
    uint32_t nfbck;
    vdm_model_payload mp;   /* parsed MODL (arrays owned) */
    int have_mp;
} parsed;

static int is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

static vdm_status check_signature(const uint8_t *buf, size_t size)
{
    size_t k = size < 8 ? size : 8;
    if (size == 0 || memcmp(buf, k_sig, k)) { seterr("not a .vdz file (bad signature)"); return VDM_ERR_FORMAT; }
    if (size < 12) { seterr(".vdz file is truncated (%zu bytes)", size); return VDM_ERR_TRUNCATED; }
    uint16_t ver = vdm_get_le16(buf + 8);
    if (ver != VDM_VDZ_FORMAT_VERSION) {
        seterr("unsupported .vdz format version %u (this build reads version %u)", ver, VDM_VDZ_FORMAT_VERSION);
        return VDM_ERR_VERSION;
    }
    if (vdm_get_le16(buf + 10)) { seterr("reserved header field is set"); return VDM_ERR_CORRUPT; }
    return VDM_OK;
}

/* Read the section at *pos: framing and CRC. */
static vdm_status next_section(const uint8_t *buf, size_t size, size_t *pos, char type[5], span *payload)
{
    if (size - *pos < 8) { seterr(".vdz file is truncated (section header)"); return VDM_ERR_TRUNCATED; }
    uint32_t len = vdm_get_le32(buf + *pos);
    const uint8_t *t = buf + *pos + 4;
    for (int i = 0; i < 4; i++)
        if (!is_letter(t[i])) { seterr("invalid section name at offset %zu", *pos); return VDM_ERR_CORRUPT; }
    memcpy(type, t, 4);
    type[4] = 0;
    if (len > VDM_VDZ_MAX_SECTION) { seterr("section %s has an invalid length", type); return VDM_ERR_CORRUPT; }
    if (size - *pos - 8 < (uint64_t)len + 4) { seterr(".vdz file is truncated (in section %s)", type); return VDM_ERR_TRUNCATED; }
    const uint8_t *p = buf + *pos + 8;
    uint32_t crc = vdm_crc32(vdm_crc32(0, t, 4), p, len);
    if (crc != vdm_get_le32(p + len)) { seterr("CRC mismatch in section %s (file is damaged)", type); return VDM_ERR_CHECKSUM; }
    payload->d = p;
    payload->n = len;
    *pos += 12 + (size_t)len;
    return VDM_OK;
}

static vdm_status parse_vhdr(const span *s, vdm_vdz_info *in)
{
    const uint8_t *d = s->d;
    if (s->n < VHDR_FIXED) { seterr("VHDR too short"); return VDM_ERR_CORRUPT; }
    in->width = vdm_get_le32(d);
    in->height = vdm_get_le32(d + 4);
    in->color_type = d[8];
    in->bit_depth = d[9];
    in->interlace = d[10];
    in->channels = d[11];
    uint8_t flags = d[12];
    in->palette_size = vdm_get_le16(d + 14);
    in->trns_count = vdm_get_le16(d + 16);
    memcpy(in->pixel_sha256, d + 24, 32);
    memcpy(in->model_id, d + 56, 32);
    in->needs_model = flags & 1;
    if (vdm_png_check_type(in->color_type, in->bit_depth) != VDM_OK) {
        seterr("VHDR: invalid colour type %u / bit depth %u", in->color_type, in->bit_depth);
        return VDM_ERR_CORRUPT;
    }
    if (in->channels != vdm_png_channels(in->color_type)) { seterr("VHDR: channel count does not match colour type"); return VDM_ERR_CORRUPT; }
    if (in->interlace > 1) { seterr("VHDR: invalid interlace method"); return VDM_ERR_CORRUPT; }
    if (flags & ~1u) { seterr("VHDR: unknown flags 0x%02x", flags); return VDM_ERR_UNSUPPORTED; }
    if (d[13]) { seterr("VHDR: reserved byte set"); return VDM_ERR_CORRUPT; }
    if (in->width == 0 || in->height == 0) { seterr("VHDR: zero width or height"); return VDM_ERR_CORRUPT; }
    if (in->width > VDM_IMAGE_MAX_DIM || in->height > VDM_IMAGE_MAX_DIM ||
        vdm_image_sample_bytes(in->width, in->height, in->channels, in->bit_depth) > VDM_IMAGE_MAX_BYTES) {
        seterr("image %ux%u exceeds the size limit (%u per side, 1 GiB of samples)", in->width,
               in->height, VDM_IMAGE_MAX_DIM);
        return VDM_ERR_LIMIT;
    }
    if (!in->needs_model) {
        for (int i = 0; i < 32; i++)
            if (in->model_id[i]) { seterr("VHDR: model id set without the model flag"); return VDM_ERR_CORRUPT; }
    }
    const int ct = in->color_type;
    if (in->palette_size > 256 ||
        (ct == VDM_PNG_PALETTE && (in->palette_size < 1 || in->palette_size > (1u << in->bit_depth))) ||
        ((ct == VDM_PNG_GRAY || ct == VDM_PNG_GRAY_ALPHA) && in->palette_size)) {
        seterr("VHDR: invalid palette size %u", in->palette_size);
        return VDM_ERR_CORRUPT;
    }
    if ((ct == VDM_PNG_PALETTE && in->trns_count > in->palette_size) ||
        ((ct == VDM_PNG_GRAY || ct == VDM_PNG_RGB) && in->trns_count > 1) ||
        ((ct == VDM_PNG_GRAY_ALPHA || ct == VDM_PNG_RGBA) && in->trns_count)) {
        seterr("VHDR: invalid tRNS count %u", in->trns_count);
        return VDM_ERR_CORRUPT;
    }
    uint32_t maxv = in->bit_depth == 16 ? 65535u : (1u << in->bit_depth) - 1u;
    for (int k = 0; k < 3; k++) {
        uint16_t key = vdm_get_le16(d + 18 + 2 * k);
        int used = in->trns_count && ((ct == VDM_PNG_GRAY && k == 0) || ct == VDM_PNG_RGB);
        if ((!used && key) || key > maxv) { seterr("VHDR: invalid tRNS key"); return VDM_ERR_CORRUPT; }
    }
    uint64_t want = VHDR_FIXED + 3ull * in->palette_size + (ct == VDM_PNG_PALETTE ? in->trns_count : 0);
    if (s->n != want) { seterr("VHDR has %u bytes, expected %llu", s->n, (unsigned long long)want); return VDM_ERR_CORRUPT; }
    return VDM_OK;
}

static vdm_status parse_meta_header(const span *s, vdm_vdz_info *in)
{
    if (s->n < 12) { seterr("META too short"); return VDM_ERR_CORRUPT; }
    in->meta_method = s->d[0];
    if (s->d[0] > 1) { seterr("META: unknown method %u", s->d[0]); return VDM_ERR_UNSUPPORTED; }
    if (s->d[1] || s->d[2] || s->d[3]) { seterr("META: reserved bytes set"); return VDM_ERR_CORRUPT; }
    in->meta_chunks = vdm_get_le32(s->d + 4);
    in->meta_raw_bytes = vdm_get_le32(s->d + 8);
    if (in->meta_chunks < 1 || in->meta_chunks > VDM_PNG_MAX_META_CHUNKS ||
        in->meta_raw_bytes > VDM_PNG_MAX_META_BYTES + 9u * VDM_PNG_MAX_META_CHUNKS ||
        in->meta_raw_bytes < 9u * in->meta_chunks) {
        seterr("META: %u chunks / %u bytes out of range", in->meta_chunks, in->meta_raw_bytes);
        return VDM_ERR_CORRUPT;
    }
    if (in->meta_method == 0 && s->n - 12 != in->meta_raw_bytes) { seterr("META: size mismatch"); return VDM_ERR_CORRUPT; }
    return VDM_OK;
}

static vdm_status parse_all(const uint8_t *buf, size_t size, parsed *p, int header_only)
{
    memset(p, 0, sizeof *p);
    VDM_RETURN_IF(!buf && size, VDM_ERR_ARG);
    VDM_FORWARD(check_signature(buf, size));
    vdm_vdz_info *in = &p->info;
    in->version = vdm_get_le16(buf + 8);
    in->file_bytes = size;
    size_t pos = 12;
    /* states: 0 expect VHDR, 1 after VHDR, 2 after MODL, 3 after META, 4 in FBCK, 5 after VEND */
    int state = 0;
    while (state != 5) {
        if (header_only && state == 1) break;
        if (pos == size) { seterr(".vdz file is truncated (no end section)"); return VDM_ERR_TRUNCATED; }
        char type[5];
        span s;
        size_t start = pos;
        VDM_FORWARD(next_section(buf, size, &pos, type, &s));
        uint64_t framed = pos - start;
        if (!strcmp(type, "VHDR")) {
            if (state != 0) { seterr("duplicate VHDR section"); return VDM_ERR_CORRUPT; }
            p->vhdr = s;
            VDM_FORWARD(parse_vhdr(&s, in));
            in->header_bytes += 12 + framed;
            state = 1;
            continue;
        }
        if (state == 0) { seterr("the first section is %s, not VHDR", type); return VDM_ERR_CORRUPT; }
        if (!strcmp(type, "MODL")) {
            if (state != 1) { seterr("MODL section out of place"); return VDM_ERR_CORRUPT; }
            if (!in->needs_model) { seterr("MODL section in a file that needs no model"); return VDM_ERR_CORRUPT; }
            p->modl = s;
            in->model_bytes = framed;
            state = 2;
        } else if (!strcmp(type, "META")) {
            if (state > 2) { seterr("META section out of place"); return VDM_ERR_CORRUPT; }
            p->meta = s;
            VDM_FORWARD(parse_meta_header(&s, in));
            in->meta_bytes = framed;
            state = 3;
        } else if (!strcmp(type, "FBCK")) {
            if (state < 1 || state > 4) { seterr("FBCK section out of place"); return VDM_ERR_CORRUPT; }
            if (s.n < 4) { seterr("FBCK too short"); return VDM_ERR_CORRUPT; }
            if (p->nfbck >= VDM_VDZ_MAX_FBCK) { seterr("too many FBCK sections"); return VDM_ERR_CORRUPT; }
            uint8_t method = s.d[0], mask = s.d[1], region = s.d[2];
            if (method > VDM_CLASSICAL_MAX) { seterr("FBCK: unknown method %u", method); return VDM_ERR_UNSUPPORTED; }
            if (region != 0) { seterr("FBCK: unknown region %u", region); return VDM_ERR_UNSUPPORTED; }
            if (s.d[3]) { seterr("FBCK: reserved byte set"); return VDM_ERR_CORRUPT; }
            if (!mask || (mask & ~((1u << in->channels) - 1u))) { seterr("FBCK: invalid channel mask 0x%02x", mask); return VDM_ERR_CORRUPT; }
            in->classical[p->nfbck].method = method;
            in->classical[p->nfbck].channel_mask = mask;
            in->classical[p->nfbck].region = region;
            in->classical[p->nfbck].bytes = framed;
            in->classical_bytes += framed;
            p->fbck[p->nfbck++] = s;
            state = 4;
        } else if (!strcmp(type, "VEND")) {
            if (s.n) { seterr("VEND section is not empty"); return VDM_ERR_CORRUPT; }
            in->header_bytes += framed;
            state = 5;
        } else if (type[0] >= 'A' && type[0] <= 'Z') {
            seterr("unknown critical section %s (written by a newer vdmzip?)", type);
            return VDM_ERR_UNSUPPORTED;
        }
        /* unknown ancillary sections: skipped (CRC was checked) */
    }
    if (header_only) return VDM_OK;
    if (pos != size) { seterr("%zu bytes of trailing data after the end section", size - pos); return VDM_ERR_CORRUPT; }
    in->nclassical = p->nfbck;
    if (in->needs_model && !p->modl.d) { seterr("file needs a model but has no MODL section"); return VDM_ERR_CORRUPT; }

    unsigned model_mask = 0;
    if (p->modl.d) {
        VDM_FORWARD(parse_modl(p->modl.d, p->modl.n, in->width, in->height, &p->mp));
        p->have_mp = 1;
        vdm_status st = check_model_payload(&p->mp, in->width, in->height, in->channels, in->model_id);
        if (st != VDM_OK) return st;
        const vdm_model_payload *m = &p->mp;
        in->has_model_section = 1;
        in->steps = m->steps;
        in->tile_w = m->tile_w;
        in->tile_h = m->tile_h;
        in->model_channel_mask = m->channel_mask;
        in->model_flags = m->flags;
        in->data_prec = m->data_prec;
        in->latent_prec = m->latent_prec;
        in->prior_prec = m->prior_prec;
        in->ntiles = m->ntiles;
        in->nchains = m->nchains;
        in->neg_vlb_bits = m->neg_vlb_bits;
        const uint32_t ntx = (in->width + m->tile_w - 1) / m->tile_w;
        const unsigned nch = (unsigned)__builtin_popcount(m->channel_mask);
        for (uint32_t i = 0; i < m->ntiles; i++) {
            in->nskipped_tiles += m->tile_skip[i];
            if (m->tile_skip[i]) continue;
            const uint32_t x0 = (i % ntx) * m->tile_w, y0 = (i / ntx) * m->tile_h;
            const uint32_t tw = in->width - x0 < m->tile_w ? in->width - x0 : m->tile_w;
            const uint32_t th = in->height - y0 < m->tile_h ? in->height - y0 : m->tile_h;
            in->model_dims += (uint64_t)tw * th * nch;
        }
        for (uint32_t i = 0; i < m->nchains; i++) {
            in->initial_bits += m->chains[i].initial_bits;
            in->stream_bytes += m->chains[i].stream_bytes;
        }
        model_mask = m->channel_mask;
    }
    /* coverage: every channel exactly once */
    unsigned seen = model_mask;
    for (uint32_t i = 0; i < p->nfbck; i++) {
        unsigned m = in->classical[i].channel_mask;
        if (seen & m) { seterr("channel coded twice (sections overlap)"); return VDM_ERR_CORRUPT; }
        seen |= m;
    }
    if (seen != (1u << in->channels) - 1u) { seterr("some channels are not coded by any section"); return VDM_ERR_CORRUPT; }
    return VDM_OK;
}

static void parsed_free(parsed *p)
{
    if (p->have_mp) vdm_model_payload_clear(&p->mp);
}

vdm_status vdm_vdz_probe(const uint8_t *buf, size_t size, vdm_vdz_info *info)
{
    VDM_RETURN_IF(!info, VDM_ERR_ARG);
    vdm_codec_clear_error();
    parsed *p = malloc(sizeof *p);
    if (!p) return VDM_ERR_NOMEM;
    vdm_status st = parse_all(buf, size, p, 0);
    *info = p->info;
    parsed_free(p);
    free(p);
    return st;
}

vdm_status vdm_vdz_probe_header(const uint8_t *buf, size_t size, vdm_vdz_info *info)
{
    VDM_RETURN_IF(!info, VDM_ERR_ARG);
    vdm_codec_clear_error();
    parsed *p = malloc(sizeof *p);
    if (!p) return VDM_ERR_NOMEM;
    vdm_status st = parse_all(buf, size, p, 1);
    *info = p->info;
    parsed_free(p);
    free(p);
    return st;
}

/* ---- decode ----------------------------------------------------------------- */

static vdm_status decode_meta(const span *s, const vdm_vdz_info *in, vdm_image *img)
{
    const uint8_t *raw;
    uint8_t *tmp = NULL;
    size_t rn = in->meta_raw_bytes;
    if (in->meta_method == 1) {
        const uint8_t *z = s->d + 12;
        size_t zn = s->n - 12;
        size_t fs = ZSTD_findFrameCompressedSize(z, zn);
        if (ZSTD_isError(fs) || fs != zn) { seterr("META: damaged zstd frame"); return VDM_ERR_CORRUPT; }
        unsigned long long cs = ZSTD_getFrameContentSize(z, zn);
        if (cs != ZSTD_CONTENTSIZE_UNKNOWN && cs != rn) { seterr("META: size mismatch"); return VDM_ERR_CORRUPT; }
        tmp = malloc(rn ? rn : 1);
        if (!tmp) return VDM_ERR_NOMEM;
        size_t got = ZSTD_decompress(tmp, rn, z, zn);
        if (ZSTD_isError(got) || got != rn) { free(tmp); seterr("META: damaged zstd frame"); return VDM_ERR_CORRUPT; }
        raw = tmp;
    } else {
        raw = s->d + 12;
    }
    size_t off = 0;
    vdm_status st = VDM_OK;
    for (uint32_t i = 0; i < in->meta_chunks && st == VDM_OK; i++) {
        if (rn - off < 9) { st = VDM_ERR_CORRUPT; break; }
        char name[4];
        memcpy(name, raw + off, 4);
        unsigned loc = raw[off + 4];
        uint32_t len = vdm_get_le32(raw + off + 5);
        off += 9;
        if (len > rn - off) { st = VDM_ERR_CORRUPT; break; }
        st = vdm_image_add_chunk(img, name, loc, raw + off, len);
        if (st == VDM_ERR_CORRUPT || st == VDM_ERR_LIMIT) st = VDM_ERR_CORRUPT;
        off += len;
    }
    if (st == VDM_OK && off != rn) st = VDM_ERR_CORRUPT;
    if (st == VDM_ERR_CORRUPT) seterr("META: invalid chunk list");
    free(tmp);
    return st;
}

vdm_status vdm_vdz_decode(const uint8_t *buf, size_t size, const vdm_decode_opts *o, vdm_image **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    vdm_codec_clear_error();
    parsed *p = malloc(sizeof *p);
    if (!p) return VDM_ERR_NOMEM;
    vdm_image *img = NULL;
    vdm_status st = parse_all(buf, size, p, 0);
    const vdm_vdz_info *in = &p->info;
    vdm_progress_fn pf = o ? o->progress : NULL;
    void *pu = o ? o->progress_user : NULL;
    if (st == VDM_OK && in->needs_model) {
        char hex[65];
        vdm_hex(hex, in->model_id, 32);
        if (!o || !o->model || !o->model->decode) {
            seterr("this file needs model %.16s… (not available)", hex);
            st = VDM_ERR_MODEL_MISMATCH;
        } else if (memcmp(o->model->model_id, in->model_id, 32)) {
            char have[65];
            vdm_hex(have, o->model->model_id, 32);
            seterr("this file needs model %.16s…, the given model is %.16s…", hex, have);
            st = VDM_ERR_MODEL_MISMATCH;
        }
    }
    if (st == VDM_OK) st = vdm_image_create(in->width, in->height, in->color_type, in->bit_depth, &img);
    if (st == VDM_OK) {
        img->interlace = in->interlace;
        img->palette_size = in->palette_size;
        img->trns_count = in->trns_count;
        const uint8_t *d = p->vhdr.d;
        for (unsigned i = 0; i < in->palette_size; i++) memcpy(img->palette[i], d + VHDR_FIXED + 3 * i, 3);
        if (in->color_type == VDM_PNG_PALETTE)
            memcpy(img->trns_alpha, d + VHDR_FIXED + 3 * in->palette_size, in->trns_count);
        else if (in->trns_count)
            for (int k = 0; k < 3; k++) img->trns_key[k] = vdm_get_le16(d + 18 + 2 * k);
    }
    if (st == VDM_OK && p->have_mp) {
        prog_span mspan = { pf, pu, 0.0, 0.8 };
        st = o->model->decode(o->model->ctx, &p->mp, img, o->threads ? o->threads : 1,
                              pf ? prog_cb : NULL, &mspan);
        if (st == VDM_OK && prog_at(pf, pu, 0.8)) st = VDM_ERR_CANCELLED;
    }
    for (uint32_t i = 0; i < p->nfbck && st == VDM_OK; i++) {
        vdm_subimage g;
        vdm_subimage_of(&g, img, in->classical[i].channel_mask);
        const double lo = p->have_mp ? 0.8 : 0.0, w = (0.95 - lo) / p->nfbck;   /* one share per section */
        prog_span ps = { pf, pu, lo + w * i, lo + w * (i + 1) };
        g.progress = prog_cb;
        g.progress_user = &ps;
        const uint8_t *pd = p->fbck[i].d + 4;
        size_t pn = p->fbck[i].n - 4;
        switch (in->classical[i].method) {
        case VDM_CLASSICAL_STORED: st = vdm_stored_decode(&g, pd, pn); break;
        case VDM_CLASSICAL_ZSTD: st = vdm_zstd_decode(&g, pd, pn); break;
        case VDM_CLASSICAL_CM3: st = vdm_cm3_decode(&g, pd, pn); break;
        case VDM_CLASSICAL_CM4:
        case VDM_CLASSICAL_CM5:
        case VDM_CLASSICAL_CM6:
        case VDM_CLASSICAL_CM7:
        case VDM_CLASSICAL_CM8:
        case VDM_CLASSICAL_CM9: st = vdm_cm_decode(in->classical[i].method, &g, NULL, pd, pn); break;
        default: st = vdm_cm2_decode(&g, pd, pn); break;
        }
        if (st == VDM_ERR_CORRUPT && !vdm_codec_error_buf()[0])
            seterr("classical section %u is damaged", i);
    }
    if (st == VDM_OK) {
        uint8_t sha[32];
        st = vdm_image_pixel_sha256(img, sha);
        if (st == VDM_OK && memcmp(sha, in->pixel_sha256, 32)) {
            seterr("decoded pixels do not match the stored SHA-256 (file is damaged)");
            st = VDM_ERR_CHECKSUM;
        }
    }
    if (st == VDM_OK && p->meta.d) st = decode_meta(&p->meta, in, img);
    if (st == VDM_OK) {
        st = vdm_image_validate(img);
        if (st != VDM_OK) st = VDM_ERR_CORRUPT;
    }
    parsed_free(p);
    free(p);
    if (st != VDM_OK) {
        vdm_image_free(img);
        return st;
    }
    if (prog_at(pf, pu, 1.0)) {
        vdm_image_free(img);
        return VDM_ERR_CANCELLED;
    }
    *out = img;
    return VDM_OK;
}
