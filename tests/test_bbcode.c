/* Bits-back tile coder: exact round trips through a small random model,
 * determinism across thread counts, code length near the ideal bound, and
 * corrupt streams rejected. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "codec/bbcode.h"
#include "codec/vdz.h"
#include "model/model_internal.h"

/* A small model with random (non-zero) network weights so eps_hat matters. */
static vdm_model *small_model_v(int T, uint64_t seed, double g0, int var_out)
{
    vdm_model_config c;
    memset(&c, 0, sizeof c);
    c.net.var_out = var_out;
    c.net.channels = 3;
    c.net.width = 8;
    c.net.blocks = 1;
    c.net.n_fourier = 2;
    c.net.fourier_exp[0] = 7;
    c.net.fourier_exp[1] = 8;
    c.net.emb_dim = 16;
    c.net.act = VDM_ACT_SILU;
    c.sched.kind = VDM_SCHED_LINEAR;
    c.sched.hidden = 0;
    c.gs_lo = g0;
    c.gs_hi = 5.0;
    c.default_T = T;
    size_t n = vdm_model_param_count(&c), pn = vdm_net_param_count(&c.net);
    float *p = calloc(n, sizeof *p);
    vdm_net_init(&c.net, p, seed);
    /* perturb every weight a little, including the zero-initialised output */
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < pn; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        p[i] += 0.02f * ((float)(s >> 40) / (float)(1 << 24) - 0.5f);
    }
    vdm_sched_init(&c.sched, p + pn, g0, 5.0, seed);
    vdm_model *m = NULL;
    cr_assert_eq(vdm_model_from_params(&c, p, 0, &m), VDM_OK);
    free(p);
    return m;
}

static vdm_model *small_model(int T, uint64_t seed, double g0) { return small_model_v(T, seed, g0, 0); }

/* A smooth-ish synthetic RGB image (gradients + noise), deterministic. */
static vdm_image *synth(uint32_t w, uint32_t h, unsigned channels, uint64_t seed)
{
    vdm_image *img = calloc(1, sizeof *img);
    img->width = w;
    img->height = h;
    img->color_type = channels == 4 ? 6 : 2;
    img->bit_depth = 8;
    img->channels = (uint8_t)channels;
    img->data = malloc((size_t)w * h * channels);
    uint64_t s = seed | 1;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (unsigned c = 0; c < channels; c++) {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                int v = (int)(60 + 100 * (x + 2 * c) / (w + 2) + 80 * y / (h + 1)) + (int)(s % 9) - 4;
                img->data[((size_t)y * w + x) * channels + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return img;
}

static void free_img(vdm_image *img) { if (img) { free(img->data); free(img); } }

static uint8_t *encode_with(vdm_model_path *mp, const vdm_image *img, int T, unsigned threads,
                            size_t *size, vdm_encode_stats *es)
{
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.model = mp;
    o.steps = (uint32_t)T;
    o.threads = threads;
    o.effort = 0;
    uint8_t *buf = NULL;
    vdm_status st = vdm_vdz_encode(img, &o, &buf, size, es);
    cr_assert_eq(st, VDM_OK, "encode: %s (%s)", vdm_error_name(st), vdm_codec_last_error());
    return buf;
}

/* Encode through the model path alone (no classical file competing) and decode. */
static void roundtrip_payload_v(uint32_t w, uint32_t h, unsigned ch, int T, vdm_bb_params *bp, int threads,
                                int var_out)
{
    vdm_model_path mp;
    cr_assert_eq(vdm_bb_path_wrap(small_model_v(T, 7, -8.0, var_out), bp, (unsigned)threads, &mp), VDM_OK);
    vdm_image *img = synth(w, h, ch, w * 131 + h);
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.steps = (uint32_t)T;
    vdm_model_payload pl;
    vdm_status st = mp.encode(mp.ctx, img, 0x07, &o, &pl);
    cr_assert_eq(st, VDM_OK, "bb encode: %s", vdm_error_name(st));
    vdm_bb_stats bs;
    vdm_bb_path_stats(&mp, &bs);
    cr_assert_eq(bs.dims + bs.cm_dims, (uint64_t)w * h * 3);
    if (bp && bp->tiles == VDM_BB_TILES_MODEL) cr_assert_eq(bs.cm_tiles, 0);
    /* decode into a scrambled copy */
    vdm_image out = *img;
    out.data = malloc((size_t)w * h * ch);
    memset(out.data, 0xA5, (size_t)w * h * ch);
    if (ch == 4) for (size_t i = 0; i < (size_t)w * h; i++) out.data[i * 4 + 3] = img->data[i * 4 + 3];
    pl.owns_streams = 1;
    st = mp.decode(mp.ctx, &pl, &out, (unsigned)threads, NULL, NULL);
    cr_assert_eq(st, VDM_OK, "bb decode: %s", vdm_error_name(st));
    cr_assert(memcmp(out.data, img->data, (size_t)w * h * ch) == 0, "pixels differ after round trip");
    free(out.data);
    vdm_model_payload_clear(&pl);
    free_img(img);
    vdm_bb_path_close(&mp);
}

/* ... in each of the encoder's tile modes */
static void roundtrip_payload_modes(uint32_t w, uint32_t h, unsigned ch, int T, vdm_bb_params *bp, int threads,
                                    int var_out)
{
    const int keep = bp->tiles;
    for (int mode = VDM_BB_TILES_MODEL; mode <= VDM_BB_TILES_SEED; mode++) {
        bp->tiles = mode;
        roundtrip_payload_v(w, h, ch, T, bp, threads, var_out);
    }
    bp->tiles = keep;
}

static void roundtrip_payload(uint32_t w, uint32_t h, unsigned ch, int T, vdm_bb_params *bp, int threads)
{
    roundtrip_payload_modes(w, h, ch, T, bp, threads, 0);
}

Test(bbcode, roundtrip_small_tiles_and_edges)
{
    vdm_bb_params p;
    vdm_bb_params_default(&p);
    p.tile_w = 8; p.tile_h = 6;
    roundtrip_payload(21, 13, 3, 3, &p, 1);   /* partial tiles on both edges */
    roundtrip_payload(1, 1, 3, 2, &p, 1);     /* a single pixel */
    p.nchains = 3;
    roundtrip_payload(17, 9, 4, 2, &p, 2);    /* RGBA: model codes RGB, alpha untouched */
    p.clean = 0;
    roundtrip_payload(16, 16, 3, 4, &p, 1);   /* without cleaning */
}

/* Learned reverse variances: a per-element std for every p(z_{i-1} | z_i). */
Test(bbcode, roundtrip_learned_variance)
{
    vdm_bb_params p;
    vdm_bb_params_default(&p);
    p.tile_w = 8; p.tile_h = 6;
    roundtrip_payload_modes(21, 13, 3, 3, &p, 1, 1);
    p.nchains = 2;
    roundtrip_payload_modes(17, 9, 4, 5, &p, 2, 1);
    /* and with channel coupling (the decoder pops R, G, B of a pixel in turn) */
    roundtrip_payload_modes(19, 11, 3, 4, &p, 2, 2);
    p.clean = 0;
    roundtrip_payload_modes(9, 7, 4, 3, &p, 1, 2);
}

Test(bbcode, container_roundtrip_and_thread_invariance)
{
    vdm_bb_params p;
    vdm_bb_params_default(&p);
    p.tile_w = p.tile_h = 16;
    vdm_model_path m1, m2;
    cr_assert_eq(vdm_bb_path_wrap(small_model(4, 3, -8.0), &p, 1, &m1), VDM_OK);
    cr_assert_eq(vdm_bb_path_wrap(small_model(4, 3, -8.0), &p, 3, &m2), VDM_OK);
    vdm_image *img = synth(40, 24, 3, 99);
    size_t n1, n2;
    vdm_encode_stats es;
    uint8_t *f1 = encode_with(&m1, img, 4, 1, &n1, &es);
    uint8_t *f2 = encode_with(&m2, img, 4, 3, &n2, NULL);
    cr_assert_eq(n1, n2);
    cr_assert(memcmp(f1, f2, n1) == 0, "thread count changed the file");
    /* decode (with whichever the encoder picked; force the model path below) */
    vdm_decode_opts d = { .model = &m2, .threads = 2 };
    vdm_image *out = NULL;
    cr_assert_eq(vdm_vdz_decode(f1, n1, &d, &out), VDM_OK, "%s", vdm_codec_last_error());
    cr_assert(memcmp(out->data, img->data, 40 * 24 * 3) == 0);
    vdm_image_free(out);
    free(f1); free(f2);
    free_img(img);
    vdm_bb_path_close(&m1);
    vdm_bb_path_close(&m2);
}

/* The coded length tracks the ideal bits-back cost: stream = initial bits +
 * ideal net cost + rANS overhead (a few words per chain). */
static void length_matches_ideal(int var_out)
{
    vdm_bb_params p;
    vdm_bb_params_default(&p);
    p.tile_w = p.tile_h = 16;
    p.tiles = VDM_BB_TILES_MODEL;   /* the model on every tile: the initial bits are its own */
    vdm_model_path mp;
    cr_assert_eq(vdm_bb_path_wrap(small_model_v(4, 5, -8.0, var_out), &p, 2, &mp), VDM_OK);
    vdm_image *img = synth(64, 48, 3, 5);
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    vdm_model_payload pl;
    cr_assert_eq(mp.encode(mp.ctx, img, 0x07, &o, &pl), VDM_OK);
    vdm_bb_stats bs;
    vdm_bb_path_stats(&mp, &bs);
    double stream = (double)bs.stream_bits, pred = bs.ideal_net_bits + (double)bs.initial_bits;
    cr_log_info("dims %llu stream %.0f bits, ideal net %.0f, initial %llu, bpsp %.3f",
                (unsigned long long)bs.dims, stream, bs.ideal_net_bits,
                (unsigned long long)bs.initial_bits, stream / bs.dims);
    cr_assert(bs.initial_bits > 0, "the first tile must draw initial bits");
    cr_assert(fabs(stream - pred) < 0.002 * stream + 96, "stream %.0f vs ideal+initial %.0f", stream, pred);
    vdm_model_payload_clear(&pl);
    free_img(img);
    vdm_bb_path_close(&mp);
}

Test(bbcode, length_matches_ideal) { length_matches_ideal(0); }
Test(bbcode, length_matches_ideal_learned_variance) { length_matches_ideal(1); }
Test(bbcode, length_matches_ideal_coupled) { length_matches_ideal(2); }

/* A flipped bit in a stream must fail cleanly (corrupt/checksum), never crash. */
Test(bbcode, corrupt_stream_rejected)
{
    vdm_bb_params p;
    vdm_bb_params_default(&p);
    p.tile_w = p.tile_h = 8;
    p.tiles = VDM_BB_TILES_MODEL;
    vdm_model_path mp;
    cr_assert_eq(vdm_bb_path_wrap(small_model(2, 9, -8.0), &p, 1, &mp), VDM_OK);
    vdm_image *img = synth(16, 16, 3, 11);
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    vdm_model_payload pl;
    cr_assert_eq(mp.encode(mp.ctx, img, 0x07, &o, &pl), VDM_OK);
    vdm_model_chain *c = &pl.chains[0];
    int rejected = 0;
    for (int trial = 0; trial < 24; trial++) {
        size_t pos = (size_t)(trial * 7919) % c->stream_bytes;
        ((uint8_t *)c->stream)[pos] ^= (uint8_t)(1u << (trial % 8));
        vdm_image out = *img;
        out.data = calloc((size_t)16 * 16 * 3, 1);
        vdm_status st = mp.decode(mp.ctx, &pl, &out, 1, NULL, NULL);
        if (st != VDM_OK || memcmp(out.data, img->data, 16 * 16 * 3)) rejected++;
        cr_assert(st == VDM_OK || st == VDM_ERR_CORRUPT || st == VDM_ERR_LIMIT, "status %s", vdm_error_name(st));
        free(out.data);
        ((uint8_t *)c->stream)[pos] ^= (uint8_t)(1u << (trial % 8));
    }
    cr_assert_eq(rejected, 24, "every flipped bit must be detected or change pixels");
    vdm_model_payload_clear(&pl);
    free_img(img);
    vdm_bb_path_close(&mp);
}

/* Tile choice (vdz.md §6.2).  SEED: CM tiles only where the model's try
 * drew initial bits, so the chain starts without them; CHOOSE: per tile the
 * smaller.  On an image whose left half is flat (CM codes it in almost
 * nothing) and right half noisy: every mode round-trips, the stats add up,
 * SEED's file is smaller than the old layout's and CHOOSE's no larger than
 * SEED's, both draw fewer initial bits; the decoder reads a mixed file
 * whichever way it was made, and refuses CM tiles without the flag. */
static size_t encode_mode_effort(int mode, int effort, int cm_method, const vdm_image *img, vdm_bb_stats *bs,
                                 vdm_model_payload *keep);
static size_t encode_mode(int mode, const vdm_image *img, vdm_bb_stats *bs, vdm_model_payload *keep)
{
    return encode_mode_effort(mode, 1, 0, img, bs, keep);
}

/* cm_method: vdm_encode_opts.cm_method (0: the default, method 9) */
static size_t encode_mode_effort(int mode, int effort, int cm_method, const vdm_image *img, vdm_bb_stats *bs,
                                 vdm_model_payload *keep)
{
    vdm_bb_params p;
    vdm_bb_params_default(&p);
    p.tile_w = p.tile_h = 16;
    p.tiles = mode;
    vdm_model_path mp;
    cr_assert_eq(vdm_bb_path_wrap(small_model_v(4, 21, -8.0, 2), &p, 2, &mp), VDM_OK);
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.effort = effort;
    o.cm_method = cm_method;
    vdm_model_payload pl;
    cr_assert_eq(mp.encode(mp.ctx, img, 0x07, &o, &pl), VDM_OK);
    vdm_bb_path_stats(&mp, bs);
    /* CM tiles use method 9 (or 4..8 when asked), method 2 at effort 0; none in the old layout */
    cr_assert_eq(pl.cm_method, mode == VDM_BB_TILES_MODEL ? 0 : effort >= 1 ? (cm_method ? cm_method : VDM_CLASSICAL_CM_DEFAULT) : 2);
    size_t bytes = 0;
    for (uint32_t c = 0; c < pl.nchains; c++) bytes += pl.chains[c].stream_bytes;
    vdm_image out = *img;
    out.data = calloc((size_t)img->width * img->height * 3, 1);
    cr_assert_eq(mp.decode(mp.ctx, &pl, &out, 1, NULL, NULL), VDM_OK, "mode %d", mode);
    cr_assert(!memcmp(out.data, img->data, (size_t)img->width * img->height * 3), "mode %d", mode);
    free(out.data);
    if (keep) *keep = pl;
    else vdm_model_payload_clear(&pl);
    vdm_bb_path_close(&mp);
    return bytes;
}

Test(bbcode, tile_choice_seed_and_choose)
{
    const uint32_t w = 64, h = 48;
    vdm_image *img = synth(w, h, 3, 17);
    uint64_t s = 99;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (unsigned c = 0; c < 3; c++) {
                uint8_t *v = &img->data[((size_t)y * w + x) * 3 + c];
                if (x < w / 2) { *v = (uint8_t)(90 + 20 * c); continue; }
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                *v = (uint8_t)(*v + (int)(s % 41) - 20);
            }
    vdm_bb_stats m, sd, ch;
    size_t n_model = encode_mode(VDM_BB_TILES_MODEL, img, &m, NULL);
    vdm_model_payload pl;
    size_t n_seed = encode_mode(VDM_BB_TILES_SEED, img, &sd, NULL);
    size_t n_choose = encode_mode(VDM_BB_TILES_CHOOSE, img, &ch, &pl);
    vdm_bb_stats c2;
    size_t n_choose2 = encode_mode_effort(VDM_BB_TILES_CHOOSE, 0, 0, img, &c2, NULL);   /* method-2 CM tiles */
    cr_assert_geq(c2.cm_tiles, 6);
    cr_log_info("choose with method-2 CM tiles: %zu bytes", n_choose2);
    size_t n_choose4 = encode_mode_effort(VDM_BB_TILES_CHOOSE, 1, 4, img, &c2, NULL);   /* method-4 CM tiles */
    cr_assert_geq(c2.cm_tiles, 6);
    cr_log_info("choose with method-4 CM tiles: %zu bytes", n_choose4);
    size_t n_choose5 = encode_mode_effort(VDM_BB_TILES_CHOOSE, 1, 5, img, &c2, NULL);   /* method-5 CM tiles */
    cr_assert_geq(c2.cm_tiles, 6);
    cr_log_info("choose with method-5 CM tiles: %zu bytes", n_choose5);
    size_t n_choose6 = encode_mode_effort(VDM_BB_TILES_CHOOSE, 1, 6, img, &c2, NULL);   /* method-6 CM tiles */
    cr_assert_geq(c2.cm_tiles, 6);
    cr_log_info("choose with method-6 CM tiles: %zu bytes", n_choose6);
    cr_log_info("bytes: model %zu (initial bits %llu), seed %zu (%llu CM tiles, initial %llu), choose %zu (%llu CM tiles, initial %llu)",
                n_model, (unsigned long long)m.initial_bits, n_seed, (unsigned long long)sd.cm_tiles,
                (unsigned long long)sd.initial_bits, n_choose, (unsigned long long)ch.cm_tiles,
                (unsigned long long)ch.initial_bits);
    const uint64_t total = (uint64_t)w * h * 3;
    cr_assert_eq(m.cm_tiles, 0);
    cr_assert_eq(m.dims, total);
    cr_assert_geq(sd.cm_tiles, 1);
    cr_assert_eq(sd.dims + sd.cm_dims, total);
    cr_assert_eq(ch.dims + ch.cm_dims, total);
    cr_assert_lt(sd.initial_bits, m.initial_bits);
    cr_assert_lt(n_seed, n_model);
    cr_assert_leq(n_choose, n_seed);
    cr_assert_geq(ch.cm_tiles, 6, "the flat half (6 of 12 tiles) should go to CM");
    /* (this random model loses to CM on the noisy half too; the golden-model
     * test checks a file where the trained model keeps some tiles) */

    /* the decoder: the same payload without the tile-choice flag is refused,
     * and a chain table that only covers the model-coded tiles is corrupt */
    vdm_bb_params p;
    vdm_bb_params_default(&p);
    p.tile_w = p.tile_h = 16;
    vdm_model_path mp;
    cr_assert_eq(vdm_bb_path_wrap(small_model_v(4, 21, -8.0, 2), &p, 1, &mp), VDM_OK);
    vdm_image out = *img;
    out.data = calloc(total, 1);
    cr_assert(pl.flags & VDM_MODL_TILE_CHOICE);
    pl.flags &= (uint8_t)~VDM_MODL_TILE_CHOICE;
    cr_assert_eq(mp.decode(mp.ctx, &pl, &out, 1, NULL, NULL), VDM_ERR_CORRUPT);
    pl.flags |= VDM_MODL_TILE_CHOICE;
    cr_assert_eq(mp.decode(mp.ctx, &pl, &out, 1, NULL, NULL), VDM_OK);
    cr_assert(!memcmp(out.data, img->data, total));
    /* flipped bits anywhere in a mixed stream: an error or other pixels, never a crash */
    vdm_model_chain *c = &pl.chains[0];
    for (int trial = 0; trial < 40; trial++) {
        size_t pos = (size_t)(trial * 7919 + 13) % c->stream_bytes;
        ((uint8_t *)c->stream)[pos] ^= (uint8_t)(1u << (trial % 8));
        vdm_status st = mp.decode(mp.ctx, &pl, &out, 1, NULL, NULL);
        cr_assert(st == VDM_OK || st == VDM_ERR_CORRUPT || st == VDM_ERR_LIMIT, "status %s", vdm_error_name(st));
        ((uint8_t *)c->stream)[pos] ^= (uint8_t)(1u << (trial % 8));
    }
    free(out.data);
    vdm_model_payload_clear(&pl);
    vdm_bb_path_close(&mp);
    free_img(img);
}
