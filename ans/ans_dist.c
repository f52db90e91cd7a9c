/* ans_dist.c — uniform and categorical distributions.
 *
 * Uniform over n (not a power of two) with M = 2^24: symbol s owns
 * [floor(s M / n), floor((s+1) M / n)), at least floor(M/n) >= 256 slots, so
 * its cost is log2 n within log2(1 + n/M) < 0.006 bits.  The decoder inverts
 * floor(s M / n) <= y  <=>  s M < (y+1) n  <=>  s <= floor(((y+1) n - 1) / M).
 */
#include "ans/ans_internal.h"
#include <stdlib.h>

#define UNIFORM_PREC 24

static int is_pow2(uint64_t n) { return n && !(n & (n - 1)); }
static unsigned log2_pow2(uint64_t n) { return (unsigned)__builtin_ctzll(n); }

/* one symbol, 2 <= n <= 2^16 or n a power of two <= 2^31 */
static vdm_status uniform_push1(vdm_ans *a, uint32_t s, uint64_t n)
{
    if (is_pow2(n)) return vdm_ans_push(a, s, 1, log2_pow2(n));
    uint64_t lo = ((uint64_t)s << UNIFORM_PREC) / n, hi = ((uint64_t)(s + 1) << UNIFORM_PREC) / n;
    return vdm_ans_push(a, (uint32_t)lo, (uint32_t)(hi - lo), UNIFORM_PREC);
}

static vdm_status uniform_pop1(vdm_ans *a, uint64_t n, uint32_t *s)
{
    if (is_pow2(n)) {
        unsigned p = log2_pow2(n);
        uint32_t y = vdm_ans_peek(a, p);
        VDM_FORWARD(vdm_ans_pop_advance(a, y, 1, p));
        *s = y;
        return VDM_OK;
    }
    uint64_t y = vdm_ans_peek(a, UNIFORM_PREC);
    uint64_t v = ((y + 1) * n - 1) >> UNIFORM_PREC;
    uint64_t lo = (v << UNIFORM_PREC) / n, hi = ((v + 1) << UNIFORM_PREC) / n;
    VDM_FORWARD(vdm_ans_pop_advance(a, (uint32_t)lo, (uint32_t)(hi - lo), UNIFORM_PREC));
    *s = (uint32_t)v;
    return VDM_OK;
}

vdm_status vdm_ans_uniform_push(vdm_ans *a, uint32_t s, uint64_t n)
{
    VDM_RETURN_IF(!a || n == 0 || n > (UINT64_C(1) << 32) || s >= n, VDM_ERR_ARG);
    if (n == 1) return VDM_OK;
    if (n <= 65536 || (is_pow2(n) && n <= (UINT64_C(1) << 31))) return uniform_push1(a, s, n);
    /* s = hi * 2^16 + lo; the decoder pops hi first, so push lo first. */
    uint64_t nh = ((n - 1) >> 16) + 1;
    uint32_t hi = s >> 16, lo = s & 0xffffu;
    uint64_t nl = (hi == nh - 1) ? n - ((nh - 1) << 16) : 65536;
    if (nl > 1) VDM_FORWARD(uniform_push1(a, lo, nl));
    if (nh > 1) {
        vdm_status st = uniform_push1(a, hi, nh);
        if (st != VDM_OK) {                       /* undo lo: keep the stack unchanged */
            uint32_t dummy;
            if (nl > 1) (void)uniform_pop1(a, nl, &dummy);
            return st;
        }
    }
    return VDM_OK;
}

vdm_status vdm_ans_uniform_pop(vdm_ans *a, uint64_t n, uint32_t *s)
{
    VDM_RETURN_IF(!a || !s || n == 0 || n > (UINT64_C(1) << 32), VDM_ERR_ARG);
    VDM_RETURN_IF(a->mode == ANS_MODE_UNCLEAN, VDM_ERR_ARG);
    if (n == 1) { *s = 0; return VDM_OK; }
    if (n <= 65536 || (is_pow2(n) && n <= (UINT64_C(1) << 31))) return uniform_pop1(a, n, s);
    uint64_t nh = ((n - 1) >> 16) + 1;
    uint32_t hi = 0, lo = 0;
    VDM_FORWARD(uniform_pop1(a, nh, &hi));   /* nh >= 2 since n > 65536 */
    uint64_t nl = (hi == nh - 1) ? n - ((nh - 1) << 16) : 65536;
    if (nl > 1) VDM_FORWARD(uniform_pop1(a, nl, &lo));
    *s = (hi << 16) | lo;
    return VDM_OK;
}

/* ------------------------------------------------------------ categorical */
struct vdm_ans_cat {
    size_t n;
    unsigned prec;
    uint32_t *cum;     /* n + 1 entries, cum[0] = 0, cum[n] = 2^prec */
};

static vdm_status cat_alloc(size_t n, unsigned prec, vdm_ans_cat **out)
{
    VDM_RETURN_IF(n > (SIZE_MAX / sizeof(uint32_t)) - 1, VDM_ERR_LIMIT);
    vdm_ans_cat *c = malloc(sizeof *c);
    VDM_RETURN_IF(!c, VDM_ERR_NOMEM);
    c->cum = malloc((n + 1) * sizeof *c->cum);
    if (!c->cum) { free(c); return VDM_ERR_NOMEM; }
    c->n = n;
    c->prec = prec;
    *out = c;
    return VDM_OK;
}

vdm_status vdm_ans_cat_create(const uint32_t *freq, size_t n, unsigned prec, vdm_ans_cat **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    VDM_RETURN_IF(!freq || n == 0 || !ans_prec_ok(prec), VDM_ERR_ARG);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += freq[i];
        VDM_RETURN_IF(sum > (UINT64_C(1) << prec), VDM_ERR_ARG);
    }
    VDM_RETURN_IF(sum != (UINT64_C(1) << prec), VDM_ERR_ARG);
    vdm_ans_cat *c;
    VDM_FORWARD(cat_alloc(n, prec, &c));
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) { c->cum[i] = (uint32_t)acc; acc += freq[i]; }
    c->cum[n] = (uint32_t)acc;
    *out = c;
    return VDM_OK;
}

vdm_status vdm_ans_cat_from_counts(const uint64_t *counts, size_t n, unsigned prec, vdm_ans_cat **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    VDM_RETURN_IF(!counts || n == 0 || !ans_prec_ok(prec), VDM_ERR_ARG);
    VDM_RETURN_IF(n > (UINT64_C(1) << (prec - 1)), VDM_ERR_ARG);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        VDM_RETURN_IF(counts[i] > UINT64_MAX - total, VDM_ERR_ARG);
        total += counts[i];
    }
    vdm_ans_cat *c;
    VDM_FORWARD(cat_alloc(n, prec, &c));
    uint64_t free_ = (UINT64_C(1) << prec) - n;
    /* cum[s] = s + floor(S_s * free / S): strictly increasing because S_s is. */
    uint64_t part = 0;
    for (size_t i = 0; i < n; i++) {
        c->cum[i] = (uint32_t)(i + (total ? vdm_ans__muldiv(part, free_, total) : vdm_ans__muldiv(i, free_, n)));
        part += counts[i];
    }
    c->cum[n] = (uint32_t)(UINT64_C(1) << prec);
    *out = c;
    return VDM_OK;
}

void vdm_ans_cat_free(vdm_ans_cat *c)
{
    if (!c) return;
    free(c->cum);
    free(c);
}

size_t vdm_ans_cat_size(const vdm_ans_cat *c) { return c ? c->n : 0; }

uint32_t vdm_ans_cat_freq(const vdm_ans_cat *c, size_t s)
{
    if (!c || s >= c->n) return 0;
    return c->cum[s + 1] - c->cum[s];
}

vdm_status vdm_ans_cat_push(vdm_ans *a, const vdm_ans_cat *c, uint32_t s)
{
    VDM_RETURN_IF(!a || !c || s >= c->n, VDM_ERR_ARG);
    uint32_t f = c->cum[s + 1] - c->cum[s];
    VDM_RETURN_IF(f == 0, VDM_ERR_ARG);
    return vdm_ans_push(a, c->cum[s], f, c->prec);
}

vdm_status vdm_ans_cat_pop(vdm_ans *a, const vdm_ans_cat *c, uint32_t *s)
{
    VDM_RETURN_IF(!a || !c || !s, VDM_ERR_ARG);
    uint32_t y = vdm_ans_peek(a, c->prec);
    /* largest i with cum[i] <= y; then cum[i+1] > y, so freq(i) > 0 */
    size_t lo = 0, hi = c->n;                     /* cum[lo] <= y < cum[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->cum[mid] <= y) lo = mid; else hi = mid;
    }
    VDM_FORWARD(vdm_ans_pop_advance(a, c->cum[lo], c->cum[lo + 1] - c->cum[lo], c->prec));
    *s = (uint32_t)lo;
    return VDM_OK;
}
