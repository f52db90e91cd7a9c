/* ans_clean.c — XOR stream cleaning (seed 001, App. N).
 *
 * Why: bits-back samples a latent by popping it, i.e. by reading bits the
 * stack already holds.  Those bits were written by earlier pushes (or are raw
 * payload) and need not look uniform; a latent sampled from them is then not
 * a sample of q, and the net code length suffers.  XOR with a keystream makes
 * them pseudo-random while staying exactly reversible.
 *
 * What is XORed (format-spec/ans.md has the byte layout):
 *   - the state's bits below its leading one (so x stays in [L, 2^63) and its
 *     leading-bit position, which the decoder sees again, is unchanged);
 *   - each word that a pop inside the section pulls into the state, real or
 *     initial-bits, in the order read: the i-th with keystream word i.
 * The decoder, after pushing the same symbols back, holds the XORed state and
 * exactly those words again — the i-th read sits i words below the top — and
 * XORs them with the same keystream.
 */
#include "ans/ans_internal.h"
#include <string.h>

void vdm_ans_clean_key(uint8_t key[32], uint64_t seed)
{
    static const char tag[] = "vdmzip/ans/clean/v1";   /* 19 bytes, no NUL */
    uint8_t buf[sizeof tag - 1 + 8];
    memcpy(buf, tag, sizeof tag - 1);
    vdm_put_le64(buf + sizeof tag - 1, seed);
    vdm_sha256(key, buf, sizeof buf);
}

static vdm_status cipher_start(vdm_ans *a, const uint8_t key[32], uint32_t c0, uint32_t c1, uint32_t c2)
{
    if (!a->cctx) {
        a->cctx = EVP_CIPHER_CTX_new();
        VDM_RETURN_IF(!a->cctx, VDM_ERR_NOMEM);
    }
    /* OpenSSL's 16-byte ChaCha20 IV is RFC 8439 state words 12..15:
     * block counter (LE32) then the 96-bit nonce. */
    uint8_t iv[16];
    vdm_put_le32(iv, 0);
    vdm_put_le32(iv + 4, c0);
    vdm_put_le32(iv + 8, c1);
    vdm_put_le32(iv + 12, c2);
    VDM_RETURN_IF(EVP_EncryptInit_ex(a->cctx, EVP_chacha20(), NULL, key, iv) != 1, VDM_ERR_INTERNAL);
    a->ks_pos = a->ks_len = 0;
    return VDM_OK;
}

vdm_status vdm_ans__ks_next32(vdm_ans *a, uint32_t *out)
{
    if (a->ks_pos + 4 > a->ks_len) {
        static const uint8_t zeros[ANS_KS_BUF];
        int outl = 0;
        VDM_RETURN_IF(EVP_EncryptUpdate(a->cctx, a->ks, &outl, zeros, ANS_KS_BUF) != 1 ||
                      outl != ANS_KS_BUF, VDM_ERR_INTERNAL);
        a->ks_pos = 0;
        a->ks_len = ANS_KS_BUF;
    }
    *out = vdm_get_le32(a->ks + a->ks_pos);
    a->ks_pos += 4;
    return VDM_OK;
}

/* Keystream bytes 0..7 (LE64) masked to the bits below x's leading one. */
static vdm_status state_mask(vdm_ans *a, uint64_t *mask)
{
    uint32_t lo, hi;
    VDM_FORWARD(vdm_ans__ks_next32(a, &lo));
    VDM_FORWARD(vdm_ans__ks_next32(a, &hi));
    int lead = 63 - __builtin_clzll(a->x);            /* 31..62 since x in [L, 2^63) */
    *mask = (((uint64_t)hi << 32) | lo) & ((UINT64_C(1) << lead) - 1);
    return VDM_OK;
}

vdm_status vdm_ans_clean_begin(vdm_ans *a, const uint8_t key[32], uint32_t c0, uint32_t c1, uint32_t c2)
{
    VDM_RETURN_IF(!a || !key || a->mode != ANS_MODE_NORMAL, VDM_ERR_ARG);
    VDM_FORWARD(cipher_start(a, key, c0, c1, c2));
    uint64_t m;
    VDM_FORWARD(state_mask(a, &m));
    a->x ^= m;
    a->clean_words = 0;
    a->mode = ANS_MODE_CLEAN;
    return VDM_OK;
}

vdm_status vdm_ans_clean_end(vdm_ans *a)
{
    VDM_RETURN_IF(!a || a->mode != ANS_MODE_CLEAN, VDM_ERR_ARG);
    a->last_clean_words = a->clean_words;
    a->mode = ANS_MODE_NORMAL;
    return VDM_OK;
}

vdm_status vdm_ans_unclean_begin(vdm_ans *a, const uint8_t key[32], uint32_t c0, uint32_t c1, uint32_t c2)
{
    VDM_RETURN_IF(!a || !key || a->mode != ANS_MODE_NORMAL, VDM_ERR_ARG);
    VDM_FORWARD(cipher_start(a, key, c0, c1, c2));
    a->mark = a->n;
    a->mode = ANS_MODE_UNCLEAN;
    return VDM_OK;
}

vdm_status vdm_ans_unclean_end(vdm_ans *a)
{
    VDM_RETURN_IF(!a || a->mode != ANS_MODE_UNCLEAN, VDM_ERR_ARG);
    uint64_t m;
    VDM_FORWARD(state_mask(a, &m));
    /* An OpenSSL failure below would leave the words half restored; it cannot
     * happen for a stream cipher over memory, and the status says so if it does. */
    for (size_t p = a->n; p > a->mark; p--) {
        uint32_t k;
        VDM_FORWARD(vdm_ans__ks_next32(a, &k));
        a->w[p - 1] ^= k;
    }
    a->x ^= m;
    a->last_clean_words = a->n - a->mark;
    a->mode = ANS_MODE_NORMAL;
    return VDM_OK;
}
