#include "common/vdm_common.h"
#include <openssl/evp.h>

void vdm_sha256(uint8_t out[32], const void *data, size_t n)
{
    unsigned int len = 32;
    EVP_Digest(data, n, out, &len, EVP_sha256(), NULL);
}

struct vdm_sha256_ctx { EVP_MD_CTX *md; };

vdm_sha256_ctx *vdm_sha256_begin(void)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return NULL;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(md); return NULL; }
    return (vdm_sha256_ctx *)md; /* the struct is never dereferenced; the pointer is the EVP ctx */
}

void vdm_sha256_update(vdm_sha256_ctx *c, const void *data, size_t n)
{
    if (n) EVP_DigestUpdate((EVP_MD_CTX *)c, data, n);
}

void vdm_sha256_end(vdm_sha256_ctx *c, uint8_t out[32])
{
    unsigned int len = 32;
    EVP_DigestFinal_ex((EVP_MD_CTX *)c, out, &len);
    EVP_MD_CTX_free((EVP_MD_CTX *)c);
}

void vdm_hex(char *out, const uint8_t *bytes, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) { out[2 * i] = d[bytes[i] >> 4]; out[2 * i + 1] = d[bytes[i] & 15]; }
    out[2 * n] = 0;
}
