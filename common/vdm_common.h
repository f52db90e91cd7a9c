/* vdm_common.h — the one error convention and a few shared facts.
 *
 * Every library function that can fail returns vdm_status (0 = success) and
 * never prints or exits; only cli/ (and the trainer's progress line) talk to
 * the user.  Codes are stable: they are part of the CLI's documented exit
 * codes, so never renumber, only append. */
#ifndef VDM_COMMON_H
#define VDM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version macros live in the public header (one place). */
#include "vdmzip.h"

typedef enum {
    VDM_OK = 0,
    VDM_ERR_NOMEM = 1,        /* allocation failed */
    VDM_ERR_ARG = 2,          /* invalid argument from the caller */
    VDM_ERR_IO = 3,           /* read/write/open failed (see errno) */
    VDM_ERR_FORMAT = 4,       /* not a file of the expected kind (bad magic) */
    VDM_ERR_TRUNCATED = 5,    /* input ended early */
    VDM_ERR_CORRUPT = 6,      /* structurally invalid or inconsistent data */
    VDM_ERR_CHECKSUM = 7,     /* a stored hash does not match */
    VDM_ERR_VERSION = 8,      /* unknown/unsupported format version */
    VDM_ERR_UNSUPPORTED = 9,  /* valid but not supported (feature, critical field) */
    VDM_ERR_LIMIT = 10,       /* exceeds a documented limit (size, dimension) */
    VDM_ERR_MODEL_MISMATCH = 11, /* file needs a different model than given */
    VDM_ERR_PNG = 12,         /* libpng reported an error */
    VDM_ERR_EXISTS = 13,      /* output exists and overwrite was not allowed */
    VDM_ERR_CUDA = 14,        /* CUDA runtime/cuBLAS failure or no device */
    VDM_ERR_INTERNAL = 15,    /* an internal invariant broke (a bug) */
    VDM_ERR_CANCELLED = 16,   /* a progress callback asked to stop */
    VDM_ERR_COUNT_
} vdm_status;

/* Short stable name, e.g. "truncated input".  Never NULL. */
const char *vdm_error_name(vdm_status s);

/* One-line internal checks in the spirit of zstd's RETURN_ERROR_IF. */
#define VDM_RETURN_IF(cond, err) do { if (cond) return (err); } while (0)
#define VDM_FORWARD(expr) do { vdm_status vdm__s = (expr); if (vdm__s != VDM_OK) return vdm__s; } while (0)

/* ---- run-time CPU features (common/cpu.c) ---- */
typedef enum { VDM_SIMD_SCALAR = 0, VDM_SIMD_SSE2 = 1, VDM_SIMD_AVX2 = 2, VDM_SIMD_AVX512 = 3 } vdm_simd_level;
vdm_simd_level vdm_cpu_simd_level(void);      /* what this CPU offers (cached) */
const char *vdm_simd_name(vdm_simd_level l);  /* "avx2", ... */

/* ---- SHA-256 (OpenSSL) ---- */
void vdm_sha256(uint8_t out[32], const void *data, size_t n);
/* Incremental form: ctx is opaque (OpenSSL EVP_MD_CTX). */
typedef struct vdm_sha256_ctx vdm_sha256_ctx;
vdm_sha256_ctx *vdm_sha256_begin(void);                         /* NULL on OOM */
void vdm_sha256_update(vdm_sha256_ctx *c, const void *data, size_t n);
void vdm_sha256_end(vdm_sha256_ctx *c, uint8_t out[32]);        /* frees c */
void vdm_hex(char *out, const uint8_t *bytes, size_t n);        /* out: 2n+1 chars */

/* ---- little-endian helpers for file formats ---- */
static inline void vdm_put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void vdm_put_le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void vdm_put_le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t vdm_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t vdm_get_le32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static inline uint64_t vdm_get_le64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

#ifdef __cplusplus
}
#endif
#endif
