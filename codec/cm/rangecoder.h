/* rangecoder.h — the binary adaptive range coder of classical method 2 (CM)
 * (and of methods 3 and 4, which code each bit with a computed probability).
 * Internal to codec/ (format-spec/vdz.md §8.1 is the normative text).
 *
 * Invariants:
 *   - encoder state: low (< 2^40 after each step, carries propagate through
 *     the cached byte and a run of 0xFF bytes), range in [2^24, 2^32);
 *   - a bit is coded with p0 = P(bit == 0) in 16-bit fixed point, 1..65535;
 *     bound = (range >> 16) * p0, so both sub-ranges are >= 256 > 0;
 *   - the encoder emits exactly the bytes the decoder reads: 1 initial cache
 *     byte (always 0), one byte per normalisation shift, and 4 flush bytes;
 *     the decoder reads 5 bytes at start and one per shift.  A decoder that
 *     needs a byte past the end of its input gets 0 and records an overrun,
 *     which the caller turns into "corrupt".
 *   - the probability state is two 16-bit estimates adapting at rates 2^-5
 *     and 2^-8; the coded probability is their mean, kept in [32, 65504].
 * All integer arithmetic: identical on every machine. */
#ifndef VDM_CODEC_CM_RANGECODER_H
#define VDM_CODEC_CM_RANGECODER_H
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint16_t fast, slow;   /* estimates of P(bit == 0), 16-bit fixed point */
} vdm_rc_prob;

#define VDM_RC_PROB_INIT { 32768, 32768 }

static inline uint32_t vdm_rc_p0(const vdm_rc_prob *p)
{
    uint32_t q = ((uint32_t)p->fast + p->slow) >> 1;
    if (q < 32) q = 32;
    if (q > 65504) q = 65504;
    return q;
}

static inline void vdm_rc_update(vdm_rc_prob *p, int bit)
{
    if (bit) {
        p->fast = (uint16_t)(p->fast - (p->fast >> 5));
        p->slow = (uint16_t)(p->slow - (p->slow >> 8));
    } else {
        p->fast = (uint16_t)(p->fast + ((65536u - p->fast) >> 5));
        p->slow = (uint16_t)(p->slow + ((65536u - p->slow) >> 8));
    }
}

typedef struct {
    uint64_t low;
    uint32_t range;
    uint8_t cache;
    uint64_t cache_size;
    uint8_t *buf;
    size_t size, cap;
    int oom;
} vdm_rc_enc;

static inline void vdm_rc_enc_init(vdm_rc_enc *e)
{
    memset(e, 0, sizeof *e);
    e->range = 0xFFFFFFFFu;
    e->cache_size = 1;
}

static inline void vdm_rc_put(vdm_rc_enc *e, uint8_t b)
{
    if (e->size == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 65536;
        uint8_t *nb = realloc(e->buf, nc);
        if (!nb) { e->oom = 1; return; }
        e->buf = nb;
        e->cap = nc;
    }
    e->buf[e->size++] = b;
}

static inline void vdm_rc_shift_low(vdm_rc_enc *e)
{
    if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(e->low >> 32);
        uint8_t t = e->cache;
        do {
            vdm_rc_put(e, (uint8_t)(t + carry));
            t = 0xFF;
        } while (--e->cache_size != 0);
        e->cache = (uint8_t)(e->low >> 24);
    }
    e->cache_size++;
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

/* One bit with P(bit = 0) = p0 / 65536 given directly (32..65504). */
static inline void vdm_rc_encode_p0(vdm_rc_enc *e, uint32_t p0, int bit)
{
    uint32_t bound = (e->range >> 16) * p0;
    if (!bit) {
        e->range = bound;
    } else {
        e->low += bound;
        e->range -= bound;
    }
    while (e->range < (1u << 24)) {
        e->range <<= 8;
        vdm_rc_shift_low(e);
    }
}

static inline void vdm_rc_encode(vdm_rc_enc *e, vdm_rc_prob *p, int bit)
{
    vdm_rc_encode_p0(e, vdm_rc_p0(p), bit);
    vdm_rc_update(p, bit);
}

/* After the last bit: 5 shifts push out low's 4 bytes and the cache. */
static inline void vdm_rc_enc_finish(vdm_rc_enc *e)
{
    for (int i = 0; i < 5; i++) vdm_rc_shift_low(e);
}

typedef struct {
    const uint8_t *buf;
    size_t size, pos;
    uint32_t range, code;
    int overrun;
} vdm_rc_dec;

static inline uint8_t vdm_rc_get(vdm_rc_dec *d)
{
    if (d->pos < d->size) return d->buf[d->pos++];
    d->overrun = 1;
    return 0;
}

/* Start decoding a stream whose first `lead` bytes fill the code register
 * (5 for a whole stream; 4 when its first byte, always 0, was not stored). */
static inline void vdm_rc_dec_start(vdm_rc_dec *d, const uint8_t *buf, size_t size, int lead)
{
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->size = size;
    d->range = 0xFFFFFFFFu;
    for (int i = 0; i < lead; i++) d->code = (d->code << 8) | vdm_rc_get(d);
}

static inline void vdm_rc_dec_init(vdm_rc_dec *d, const uint8_t *buf, size_t size) { vdm_rc_dec_start(d, buf, size, 5); }
static inline void vdm_rc_dec_init_stripped(vdm_rc_dec *d, const uint8_t *buf, size_t size) { vdm_rc_dec_start(d, buf, size, 4); }

/* One bit with P(bit = 0) = p0 / 65536 given directly. */
static inline int vdm_rc_decode_p0(vdm_rc_dec *d, uint32_t p0)
{
    uint32_t bound = (d->range >> 16) * p0;
    int bit;
    if (d->code < bound) {
        d->range = bound;
        bit = 0;
    } else {
        d->code -= bound;
        d->range -= bound;
        bit = 1;
    }
    while (d->range < (1u << 24)) {
        d->range <<= 8;
        d->code = (d->code << 8) | vdm_rc_get(d);
    }
    return bit;
}

static inline int vdm_rc_decode(vdm_rc_dec *d, vdm_rc_prob *p)
{
    const int bit = vdm_rc_decode_p0(d, vdm_rc_p0(p));
    vdm_rc_update(p, bit);
    return bit;
}

#endif
