/* ans_stack.c — the rANS stack: state, words, push/pop, serialisation,
 * initial bits.
 *
 * Arithmetic (rans64, M = 2^prec, L = 2^31, state x in [L, 2^63)):
 *   push (start c, freq f):  if x >= ((L >> prec) << 32) * f, emit the low 32
 *       bits of x and shift x right by 32; then x' = (x / f) * M + x % f + c.
 *     Bound: before the update x < ((L >> prec) << 32) * f, so x / f <=
 *     2^(63-prec) - 1 and x' <= 2^63 - M + (f - 1) + c <= 2^63 - 1.  And
 *     After the optional shift x >= (L >> prec) * f (either x >= L >=
 *     (L >> prec) * M >= (L >> prec) * f, or x >= x_max >> 32), hence
 *     x / f >= L >> prec and x' >= (L >> prec) * M = L.
 *   pop: y = x % M; the symbol (c, f) with c <= y < c + f; x' = f * (x >> prec)
 *       + y - c; if x' < L, x' = (x' << 32) | next word.  x' >= f * (x >> prec)
 *     >= 2^(31-prec) >= 1, so one word always brings x' back into [L, 2^63).
 *   pop is the exact inverse of push and vice versa, for every state in range,
 *   which is what makes sampling by popping (bits-back) reversible.
 */
#include "ans/ans_internal.h"
#include "common/detmath.h"
#include <stdlib.h>
#include <string.h>

uint64_t vdm_ans__muldiv(uint64_t a, uint64_t b, uint64_t c)
{
#if defined(__SIZEOF_INT128__)
    return (uint64_t)(((unsigned __int128)a * b) / c);
#else
    /* Schoolbook 64x64 -> 128 product, then 128 / 64 by shift-subtract.  The
     * quotient fits in 64 bits by the caller's contract. */
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    uint64_t q = 0, r = hi;
    for (int i = 63; i >= 0; i--) {
        uint64_t top = r >> 63;
        r = (r << 1) | ((lo >> i) & 1);
        if (top || r >= c) { r -= c; q |= UINT64_C(1) << i; }
    }
    return q;
#endif
}

/* SplitMix64 (Steele, Lea, Flood 2014) at index j + 1, high half. */
uint32_t vdm_ans__initial_word(uint64_t seed, uint64_t j)
{
    uint64_t z = seed + (j + 1) * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (uint32_t)(z >> 32);
}

vdm_status vdm_ans_create(vdm_ans **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    vdm_ans *a = calloc(1, sizeof *a);
    VDM_RETURN_IF(!a, VDM_ERR_NOMEM);
    a->x = VDM_ANS_STATE_L;
    *out = a;
    return VDM_OK;
}

void vdm_ans_free(vdm_ans *a)
{
    if (!a) return;
    if (a->cctx) EVP_CIPHER_CTX_free(a->cctx);
    free(a->w);
    free(a);
}

void vdm_ans_reset(vdm_ans *a)
{
    if (!a) return;
    a->x = VDM_ANS_STATE_L;
    a->n = 0;
    a->drawn = 0;
    a->mode = ANS_MODE_NORMAL;
    a->ks_pos = a->ks_len = 0;
    a->clean_words = a->last_clean_words = 0;
    a->mark = 0;
}

void vdm_ans_set_initial_seed(vdm_ans *a, uint64_t seed) { if (a) a->seed = seed; }
size_t vdm_ans_num_words(const vdm_ans *a) { return a ? a->n : 0; }
uint64_t vdm_ans_state(const vdm_ans *a) { return a ? a->x : 0; }
uint64_t vdm_ans_initial_words(const vdm_ans *a) { return a ? a->drawn : 0; }
uint64_t vdm_ans_initial_bits(const vdm_ans *a) { return a ? 32 * a->drawn : 0; }
uint64_t vdm_ans_size_bits(const vdm_ans *a) { return a ? 64 + 32 * (uint64_t)a->n : 0; }
uint64_t vdm_ans_last_clean_words(const vdm_ans *a) { return a ? a->last_clean_words : 0; }

double vdm_ans_info_bits(const vdm_ans *a)
{
    if (!a) return 0.0;
    return 32.0 * (double)a->n + vdm_log((double)a->x) / 0.69314718055994530942;
}

uint64_t vdm_ans_info_bits_int(const vdm_ans *a)
{
    if (!a) return 0;
    return 32 * (uint64_t)a->n + (uint64_t)(63 - __builtin_clzll(a->x));   /* x >= 2^31 */
}

vdm_status vdm_ans_copy(vdm_ans *dst, const vdm_ans *src)
{
    VDM_RETURN_IF(!dst || !src || dst->mode != ANS_MODE_NORMAL || src->mode != ANS_MODE_NORMAL, VDM_ERR_ARG);
    if (dst == src) return VDM_OK;
    if (dst->cap < src->n) {
        uint32_t *w = realloc(dst->w, src->n * sizeof *w);
        VDM_RETURN_IF(!w, VDM_ERR_NOMEM);
        dst->w = w;
        dst->cap = src->n;
    }
    if (src->n) memcpy(dst->w, src->w, src->n * sizeof *dst->w);
    dst->n = src->n;
    dst->x = src->x;
    dst->drawn = src->drawn;
    dst->seed = src->seed;
    dst->ks_pos = dst->ks_len = 0;
    dst->clean_words = dst->last_clean_words = 0;
    dst->mark = 0;
    return VDM_OK;
}

static vdm_status grow(vdm_ans *a)
{
    size_t cap = a->cap ? a->cap : 1024;
    while (cap <= a->n) {
        VDM_RETURN_IF(cap > SIZE_MAX / 2 / sizeof(uint32_t), VDM_ERR_NOMEM);
        cap *= 2;
    }
    uint32_t *w = realloc(a->w, cap * sizeof *w);
    VDM_RETURN_IF(!w, VDM_ERR_NOMEM);
    a->w = w;
    a->cap = cap;
    return VDM_OK;
}

vdm_status vdm_ans_push(vdm_ans *a, uint32_t start, uint32_t freq, unsigned prec)
{
    VDM_RETURN_IF(!a || !ans_prec_ok(prec) || freq == 0, VDM_ERR_ARG);
    VDM_RETURN_IF((uint64_t)start + freq > (UINT64_C(1) << prec), VDM_ERR_ARG);
    VDM_RETURN_IF(a->mode == ANS_MODE_CLEAN, VDM_ERR_ARG);
    uint64_t x = a->x;
    uint64_t x_max = ((VDM_ANS_STATE_L >> prec) << 32) * freq;
    if (x >= x_max) {
        if (a->n == a->cap) VDM_FORWARD(grow(a));
        a->w[a->n++] = (uint32_t)x;
        x >>= 32;
    }
    a->x = ((x / freq) << prec) + (x % freq) + start;
    return VDM_OK;
}

uint32_t vdm_ans_peek(const vdm_ans *a, unsigned prec)
{
    if (!a || !ans_prec_ok(prec)) return 0;
    return (uint32_t)(a->x & ((UINT64_C(1) << prec) - 1));
}

vdm_status vdm_ans_pop_advance(vdm_ans *a, uint32_t start, uint32_t freq, unsigned prec)
{
    VDM_RETURN_IF(!a || !ans_prec_ok(prec) || freq == 0, VDM_ERR_ARG);
    VDM_RETURN_IF(a->mode == ANS_MODE_UNCLEAN, VDM_ERR_ARG);
    uint64_t y = a->x & ((UINT64_C(1) << prec) - 1);
    VDM_RETURN_IF(y < start || y - start >= freq, VDM_ERR_ARG);
    uint64_t x = (uint64_t)freq * (a->x >> prec) + (y - start);
    if (x < VDM_ANS_STATE_L) {
        uint32_t k = 0;
        if (a->mode == ANS_MODE_CLEAN) {
            VDM_FORWARD(vdm_ans__ks_next32(a, &k));   /* before any change */
            a->clean_words++;
        }
        uint32_t v = a->n ? a->w[--a->n] : vdm_ans__initial_word(a->seed, a->drawn++);
        x = (x << 32) | (uint32_t)(v ^ k);
    }
    a->x = x;
    return VDM_OK;
}

size_t vdm_ans_serialized_size(const vdm_ans *a) { return a ? 8 + 4 * a->n : 0; }

vdm_status vdm_ans_serialize(const vdm_ans *a, uint8_t *dst, size_t cap, size_t *written)
{
    if (written) *written = 0;
    VDM_RETURN_IF(!a || (!dst && cap), VDM_ERR_ARG);
    VDM_RETURN_IF(a->mode != ANS_MODE_NORMAL, VDM_ERR_ARG);
    size_t need = vdm_ans_serialized_size(a);
    VDM_RETURN_IF(cap < need, VDM_ERR_LIMIT);
    vdm_put_le64(dst, a->x);
    for (size_t i = 0; i < a->n; i++) vdm_put_le32(dst + 8 + 4 * i, a->w[a->n - 1 - i]);
    if (written) *written = need;
    return VDM_OK;
}

vdm_status vdm_ans_deserialize(vdm_ans *a, const uint8_t *src, size_t n)
{
    VDM_RETURN_IF(!a || (!src && n), VDM_ERR_ARG);
    VDM_RETURN_IF(n < 8, VDM_ERR_TRUNCATED);
    VDM_RETURN_IF((n - 8) % 4 != 0, VDM_ERR_CORRUPT);
    uint64_t x = vdm_get_le64(src);
    VDM_RETURN_IF(x < VDM_ANS_STATE_L || x >> 63, VDM_ERR_CORRUPT);
    size_t nw = (n - 8) / 4;
    if (nw > a->cap) {
        uint32_t *w = realloc(a->w, nw * sizeof *w);
        VDM_RETURN_IF(!w, VDM_ERR_NOMEM);
        a->w = w;
        a->cap = nw;
    }
    for (size_t i = 0; i < nw; i++) a->w[nw - 1 - i] = vdm_get_le32(src + 8 + 4 * i);
    a->n = nw;
    a->x = x;
    a->drawn = 0;
    a->mode = ANS_MODE_NORMAL;
    a->ks_pos = a->ks_len = 0;
    a->clean_words = a->last_clean_words = 0;
    return VDM_OK;
}

vdm_status vdm_ans_check_pristine(const vdm_ans *a, uint64_t *nwords)
{
    if (nwords) *nwords = 0;
    VDM_RETURN_IF(!a, VDM_ERR_ARG);
    VDM_RETURN_IF(a->mode != ANS_MODE_NORMAL || a->x != VDM_ANS_STATE_L, VDM_ERR_CORRUPT);
    for (size_t p = 0; p < a->n; p++)
        VDM_RETURN_IF(a->w[p] != vdm_ans__initial_word(a->seed, a->n - 1 - p), VDM_ERR_CORRUPT);
    if (nwords) *nwords = a->n;
    return VDM_OK;
}
