/* fuzz_ans_stack.c — arbitrary bytes as an ANS stack.
 *
 * Input: byte 0 = c (low 6 bits) control bytes follow, then the stack bytes.
 * The stack bytes go through vdm_ans_deserialize; whatever it accepts is
 * popped from with distributions chosen by the control bytes (Gaussians with
 * arbitrary float parameters, the 8-bit likelihood, uniforms, categoricals,
 * raw symbols), optionally inside an XOR-clean section, and then the mirrored
 * pushes must give back the input stack bit for bit, with the drawn initial
 * words below it.  Then values are pushed and popped back.  Any violation
 * aborts.  Never reads past the input (ASan in the libFuzzer build). */
#include <stdlib.h>
#include <string.h>
#include "ans/ans.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

typedef struct { uint64_t s; } frng;
static uint64_t fr_next(frng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static float fr_float(frng *r)
{
    uint32_t u = (uint32_t)fr_next(r);
    switch (u & 7) {
    case 0: { float f; uint32_t b = (uint32_t)fr_next(r); memcpy(&f, &b, 4); return f; } /* any bits */
    case 1: return (float)((int32_t)(u >> 3)) * 1e-3f;
    case 2: return (float)(u >> 8) * 1e-6f;
    default: return (float)((u >> 3) % 2000) * 0.01f - 10.0f;
    }
}

enum { OP_GAUSS, OP_LIK8, OP_UNIF, OP_CAT, OP_RAW, OP_N };
typedef struct {
    int op;
    float mu, sigma, delta, z0;
    unsigned prec;
    vdm_ans_gauss g;
    vdm_ans_lik8 l;
    uint64_t n;
    uint32_t start, freq;
    int32_t k;
    uint32_t v;
    uint8_t x;
} fop;

enum { MAX_OPS = 48 };

static int make_op(frng *r, fop *o, vdm_ans_cat *cat)
{
    o->op = (int)(fr_next(r) % OP_N);
    switch (o->op) {
    case OP_GAUSS:
        o->mu = fr_float(r);
        o->sigma = fr_float(r);
        o->delta = fr_float(r);
        o->prec = (unsigned)(fr_next(r) % 34);
        return vdm_ans_gauss_init(&o->g, o->mu, o->sigma, o->delta, o->prec) == VDM_OK;
    case OP_LIK8:
        o->z0 = fr_float(r);
        if (vdm_ans_lik8_init(&o->l, fr_float(r), fr_float(r), (unsigned)(fr_next(r) % 34)) != VDM_OK) return 0;
        return o->z0 - o->z0 == 0.0f;                  /* finite */
    case OP_UNIF:
        o->n = 1 + fr_next(r) % (UINT64_C(1) << (1 + fr_next(r) % 32));
        return 1;
    case OP_CAT:
        return cat != NULL;
    default:
        o->prec = 1 + (unsigned)(fr_next(r) % 31);
        o->freq = (uint32_t)(1 + fr_next(r) % (UINT64_C(1) << o->prec));
        return 1;
    }
}

static void do_pop(vdm_ans *a, fop *o, const vdm_ans_cat *cat, frng *r)
{
    switch (o->op) {
    case OP_GAUSS: CHECK(vdm_ans_gauss_pop(a, &o->g, &o->k) == VDM_OK); break;
    case OP_LIK8: CHECK(vdm_ans_lik8_pop(a, &o->l, o->z0, &o->x) == VDM_OK); break;
    case OP_UNIF: CHECK(vdm_ans_uniform_pop(a, o->n, &o->v) == VDM_OK); CHECK(o->v < o->n); break;
    case OP_CAT: CHECK(vdm_ans_cat_pop(a, cat, &o->v) == VDM_OK); CHECK(vdm_ans_cat_freq(cat, o->v) > 0); break;
    default: {
        uint64_t M = UINT64_C(1) << o->prec;
        uint32_t y = vdm_ans_peek(a, o->prec);
        uint64_t off = fr_next(r) % o->freq, st = y >= off ? y - off : 0;
        if (st + o->freq > M) st = M - o->freq;
        o->start = (uint32_t)st;
        CHECK(vdm_ans_pop_advance(a, o->start, o->freq, o->prec) == VDM_OK);
    }
    }
}

static void do_push(vdm_ans *a, const fop *o, const vdm_ans_cat *cat)
{
    switch (o->op) {
    case OP_GAUSS: CHECK(vdm_ans_gauss_push(a, &o->g, o->k) == VDM_OK); break;
    case OP_LIK8: CHECK(vdm_ans_lik8_push(a, &o->l, o->z0, o->x) == VDM_OK); break;
    case OP_UNIF: CHECK(vdm_ans_uniform_push(a, o->v, o->n) == VDM_OK); break;
    case OP_CAT: CHECK(vdm_ans_cat_push(a, cat, o->v) == VDM_OK); break;
    default: CHECK(vdm_ans_push(a, o->start, o->freq, o->prec) == VDM_OK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t c = data[0] & 63;
    if (size < 1 + c) return 0;
    const uint8_t *ctrl = data + 1, *stk = data + 1 + c;
    size_t ns = size - 1 - c;
    frng r = {0x5eed};
    for (size_t i = 0; i < c; i++) r.s = (r.s ^ ctrl[i]) * UINT64_C(0x100000001B3);
    int clean = c > 0 && (ctrl[0] & 1);

    vdm_ans *a = NULL;
    CHECK(vdm_ans_create(&a) == VDM_OK);
    vdm_status st = vdm_ans_deserialize(a, stk, ns);
    if (st != VDM_OK) {
        CHECK(st == VDM_ERR_TRUNCATED || st == VDM_ERR_CORRUPT);
        CHECK(vdm_ans_num_words(a) == 0 && vdm_ans_state(a) == VDM_ANS_STATE_L);
        vdm_ans_free(a);
        return 0;
    }
    size_t n0 = vdm_ans_serialized_size(a);
    CHECK(n0 == ns);

    uint64_t counts[7];
    for (int i = 0; i < 7; i++) counts[i] = fr_next(&r) % 5 ? fr_next(&r) % 1000 : 0;
    vdm_ans_cat *cat = NULL;
    if (vdm_ans_cat_from_counts(counts, 7, 3 + (unsigned)(fr_next(&r) % 29), &cat) != VDM_OK) cat = NULL;

    /* phase 1: sampling pops, then the mirror */
    static fop ops[MAX_OPS];
    int nops = 0;
    uint8_t key[32];
    vdm_ans_clean_key(key, fr_next(&r));
    uint32_t c0 = (uint32_t)fr_next(&r);
    if (clean) CHECK(vdm_ans_clean_begin(a, key, c0, 1, 2) == VDM_OK);
    for (int i = 0; i < MAX_OPS; i++) {
        if (!make_op(&r, &ops[nops], cat)) continue;
        do_pop(a, &ops[nops], cat, &r);
        nops++;
    }
    if (clean) CHECK(vdm_ans_clean_end(a) == VDM_OK);
    if (clean) CHECK(vdm_ans_unclean_begin(a, key, c0, 1, 2) == VDM_OK);
    for (int i = nops; i-- > 0;) do_push(a, &ops[i], cat);
    if (clean) CHECK(vdm_ans_unclean_end(a) == VDM_OK);

    uint64_t d = vdm_ans_initial_words(a);
    size_t n1 = vdm_ans_serialized_size(a);
    CHECK(n1 == n0 + 4 * d);
    uint8_t *out = malloc(n1);
    CHECK(out && vdm_ans_serialize(a, out, n1, NULL) == VDM_OK);
    CHECK(memcmp(out, stk, n0) == 0);
    /* below the input: exactly the initial words drawn, in order */
    memset(out + n0 - 8, 0, 8);
    out[n0 - 8 + 3] = 0x80;                              /* LE64(2^31) over the last input bytes */
    vdm_ans *t = NULL;
    CHECK(vdm_ans_create(&t) == VDM_OK);
    CHECK(vdm_ans_deserialize(t, out + n0 - 8, 8 + 4 * d) == VDM_OK);
    uint64_t nw = 0;
    CHECK(vdm_ans_check_pristine(t, &nw) == VDM_OK && nw == d);
    vdm_ans_free(t);
    free(out);

    /* phase 2: push chosen values (any int32 for Gaussians), pop them back */
    nops = 0;
    for (int i = 0; i < MAX_OPS; i++) {
        fop *o = &ops[nops];
        if (!make_op(&r, o, cat)) continue;
        if (o->op == OP_RAW) continue;
        o->k = (int32_t)(uint32_t)fr_next(&r);
        o->x = (uint8_t)fr_next(&r);
        o->v = (uint32_t)(o->op == OP_UNIF ? fr_next(&r) % o->n : (cat ? fr_next(&r) % vdm_ans_cat_size(cat) : 0));
        if (o->op == OP_CAT && vdm_ans_cat_freq(cat, o->v) == 0) continue;
        do_push(a, o, cat);
        nops++;
    }
    for (int i = nops; i-- > 0;) {
        fop got = ops[i];
        do_pop(a, &got, cat, &r);
        switch (got.op) {
        case OP_GAUSS: CHECK(got.k == ops[i].k); break;
        case OP_LIK8: CHECK(got.x == ops[i].x); break;
        default: CHECK(got.v == ops[i].v); break;
        }
    }
    CHECK(vdm_ans_serialized_size(a) == n1);
    vdm_ans_cat_free(cat);
    vdm_ans_free(a);
    return 0;
}
