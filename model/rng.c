/* rng.c — xoshiro256** (Blackman & Vigna) with splitmix64 seeding, and
 * Box-Muller normals built on detmath (no libm), so a run replays exactly
 * from a stored state. */
#include "model/model_internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void vdm_rng_seed(vdm_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t vdm_rng_u64(vdm_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t out = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double vdm_rng_uniform(vdm_rng *r) { return (double)(vdm_rng_u64(r) >> 11) * 0x1.0p-53; }

uint32_t vdm_rng_below(vdm_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift with rejection: exactly uniform. */
    uint64_t m = (uint64_t)(uint32_t)(vdm_rng_u64(r) >> 32) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t thresh = (uint32_t)(-n) % n;
        while (lo < thresh) {
            m = (uint64_t)(uint32_t)(vdm_rng_u64(r) >> 32) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void vdm_rng_normal(vdm_rng *r, float *out, size_t n)
{
    const float two_pi = 6.28318530717958647692f;
    for (size_t i = 0; i < n; i += 2) {
        /* u1 in (0, 1]: log never sees 0. */
        float u1 = (float)((double)((vdm_rng_u64(r) >> 40) + 1) * 0x1.0p-24);
        float u2 = (float)((double)(vdm_rng_u64(r) >> 40) * 0x1.0p-24);
        float rad = vdm_sqrt_f(-2.0f * vdm_logf(u1));
        float th = two_pi * u2;
        out[i] = rad * vdm_cosf(th);
        if (i + 1 < n) out[i + 1] = rad * vdm_sinf(th);
    }
}
