/* vdz.h — the .vdz container: encode a canonical image, decode it back,
 * describe a file.  format-spec/vdz.md is the normative text.
 *
 * Invariants:
 *   - vdm_vdz_decode returns an image only after every section's CRC, the
 *     structure, the coverage of every channel and the SHA-256 of the
 *     decoded samples have been checked; on any failure nothing is returned;
 *   - the same image and options give the same bytes on every machine and
 *     thread count (classical method 1 and META additionally assume the same
 *     libzstd version: zstd's format is stable, its encoder output is not);
 *   - a file that needs a model says so in VHDR, which vdm_vdz_probe reads
 *     first: a decoder knows which model it needs before any pixel work.
 *
 * The model path plugs in through vdm_model_path (a small vtable), so this
 * layer needs neither ans/ nor model/ headers to frame, check and route a
 * MODL section; the bits-back tile coder implements encode/decode below.
 * All buffers returned to the caller say who frees them. */
#ifndef VDM_CODEC_VDZ_H
#define VDM_CODEC_VDZ_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"
#include "codec/png_io.h"
#include "codec/cm/classical.h"   /* vdm_buf */

#ifdef __cplusplus
extern "C" {
#endif

#define VDM_VDZ_FORMAT_VERSION 1
#define VDM_VDZ_MAX_STEPS 16384u
#define VDM_VDZ_MAX_SECTION ((uint32_t)0x7FFFFFFF)

/* ---- the MODL payload (format-spec/vdz.md §6) ---------------------------- */

typedef struct vdm_model_chain {
    uint32_t first;          /* index of its first tile among model-coded tiles */
    uint32_t count;          /* model-coded tiles in this chain, >= 1 */
    uint64_t initial_bits;   /* initial-bits deficit paid by this chain */
    uint64_t stream_bytes;   /* length of stream */
    const uint8_t *stream;   /* decode: points into the file buffer;
                                encode: malloc'd by the model path, freed by
                                vdm_model_payload_clear */
} vdm_model_chain;

/* MODL flags (vdz.md §6). */
#define VDM_MODL_CLEAN 1u        /* XOR stream cleaning */
#define VDM_MODL_TILE_CHOICE 2u  /* tile map bit 1 = CM tile, carried in the chains (§6.2) */

typedef struct vdm_model_payload {
    uint8_t model_id[32];
    uint16_t steps;          /* T */
    uint8_t channel_mask;    /* canonical channels coded by the model */
    uint8_t flags;           /* VDM_MODL_* */
    uint8_t data_prec, latent_prec, prior_prec;   /* 8..24 */
    uint8_t cm_method;       /* with VDM_MODL_TILE_CHOICE: the CM tiles' classical method (2..9); else 0 */
    uint16_t tile_w, tile_h;
    uint64_t xor_seed;
    double neg_vlb_bits;     /* informational */
    uint32_t *delta_bits;    /* steps+1 float32 bit patterns; malloc */
    uint32_t ntiles;         /* ceil(w/tile_w) * ceil(h/tile_h) */
    uint8_t *tile_skip;      /* ntiles bytes, 1 = not model-coded (a CM tile); malloc */
    uint32_t nchains;
    vdm_model_chain *chains; /* malloc */
    int owns_streams;        /* 1 on the encode side: clear frees each stream */
} vdm_model_payload;

/* Free the arrays (and the streams when owns_streams); zero the struct. */
void vdm_model_payload_clear(vdm_model_payload *p);

/* Progress callback: fraction done in [0,1]; called from the calling thread.
 * Returns 0 to go on; non-zero cancels: the call then stops soon after and
 * returns VDM_ERR_CANCELLED with nothing returned. */
typedef int (*vdm_progress_fn)(void *user, double fraction);

/* The model path: implemented where the model and the coder meet (the
 * bits-back tile coder).  encode fills *out for the channels in
 * channel_mask of img (the container checks and frames it); decode writes
 * those channels of img (whose header, palette and size are already set)
 * from a parsed payload.  Both return vdm_status and may set the codec error
 * detail.  ctx is the implementation's (e.g. a loaded vdm_model). */
typedef struct vdm_encode_opts vdm_encode_opts;
/* What the model path's estimate found: on `sampled` of `ntiles` tiles, the
 * bits the model's try added to the stack against what the tile's CM stream
 * added (the encoder's own per-tile choice); `gain_bits` = ntiles / sampled *
 * sum of max(0, CM - model) is the predicted saving of the model's file
 * over CM tiles everywhere, `cm_bits` all tiles' CM cost; try = 1 when the
 * gain is worth the model's try (gain > VDM_MODEL_TRY_MIN_GAIN of cm_bits). */
#define VDM_MODEL_TRY_MIN_GAIN 0.005
typedef struct vdm_model_estimate {
    uint32_t sampled, ntiles, model_wins;
    double model_bits, cm_sampled_bits;   /* over the sampled tiles ... */
    double sampled_dims;                  /* ... and their sub-pixels */
    double cm_bits, gain_bits;
    double seconds;
    int try_model;
} vdm_model_estimate;

typedef struct vdm_model_path {
    uint8_t model_id[32];
    void *ctx;
    /* Which channels of this image the model can code (0: none, e.g. a
     * palette or 16-bit image). */
    unsigned (*channels_for)(void *ctx, const vdm_image *img);
    vdm_status (*encode)(void *ctx, const vdm_image *img, unsigned channel_mask,
                         const vdm_encode_opts *o, vdm_model_payload *out);
    /* progress (may be NULL): fraction of the payload done; non-zero
     * cancels (VDM_ERR_CANCELLED). */
    vdm_status (*decode)(void *ctx, const vdm_model_payload *in, vdm_image *img,
                         unsigned threads, vdm_progress_fn progress, void *progress_user);
    /* Optional (NULL: always try the model): a quick prediction, from a few
     * sampled tiles, of whether the model's file can beat the classical one
     * (vdm_model_estimate); deterministic, so the same image gives the same
     * file on every machine and thread count. */
    vdm_status (*estimate)(void *ctx, const vdm_image *img, unsigned channel_mask,
                           const vdm_encode_opts *o, vdm_model_estimate *out);
    /* The tile size of the CM tile streams that encode and estimate use
     * (0: they use none).  Given it, the encoder makes the tile streams and
     * the classical file's CM stream in one pass (vdm_cm_pass) and lends
     * them to the path. */
    uint32_t cm_tile_w, cm_tile_h;
} vdm_model_path;

/* One context-mixing pass over the channels `mask` of an image: the whole
 * image's payload of `method` (what the classical section would hold) and
 * the stream of each of `ntiles` tiles of tile_w x tile_h (what a model
 * file's CM tiles hold), the same bytes as separate passes would give.
 * The encoder owns it; the model path only reads it (vdm_encode_opts). */
typedef struct vdm_cm_pass {
    uint8_t method;
    unsigned mask;
    uint32_t tile_w, tile_h, ntiles;
    vdm_buf whole;
    vdm_buf *tiles;
} vdm_cm_pass;

/* ---- encode / decode ------------------------------------------------------ */

struct vdm_encode_opts {
    const vdm_model_path *model;  /* NULL: classical coder only */
    uint32_t steps;               /* T for the model (0: the model's default) */
    uint32_t threads;             /* >= 1; never changes the output bytes */
    int effort;                   /* 0 fast (method 2 only, also for MODL CM
                                     tiles), 1 default (methods 9 and 2, zstd
                                     when it may win), 2 max (zstd at max too) */
    int cm_method;                /* the context-mixing method of effort >= 1
                                     (classical sections and MODL CM tiles):
                                     0 = VDM_CLASSICAL_CM_DEFAULT (9, CM9);
                                     4 to 8 writes that method (CM4 .. CM8)
                                     instead, for tests, benchmarks and older
                                     decoders; others: VDM_ERR_ARG */
    int keep_metadata;            /* 1: write META (default), 0: drop chunks */
    int model_only;               /* 1: keep the model's file even when the
                                     classical-only file would be smaller
                                     (measuring the model; default 0) */
    int model_try;                /* VDM_MODEL_TRY_AUTO (default): try the
                                     model only when its estimate says it can
                                     win; VDM_MODEL_TRY_ALWAYS: always (the
                                     smaller file is kept either way) */
    vdm_progress_fn progress;
    void *progress_user;
    /* Set by vdm_vdz_encode for the model path (callers leave it NULL): the
     * CM pass already made, whose streams the path uses when method and
     * tiles match instead of coding them again. */
    const vdm_cm_pass *cm_pass;
};
enum { VDM_MODEL_TRY_AUTO = 0, VDM_MODEL_TRY_ALWAYS = 1 };
/* Defaults: no model, steps 0, 1 thread, effort 1, the default CM method,
 * keep metadata, model try auto. */
void vdm_encode_opts_default(vdm_encode_opts *o);

/* The context-mixing method the encoder uses for an image of this width
 * (classical sections and MODL CM tiles): o's cm_method (or the default,
 * method 6) from effort 1 on while the width allows it
 * (VDM_CM4_MAX_WIDTH), else method 2.  o must have passed vdm_vdz_encode's
 * checks. */
unsigned vdm_encode_cm_method(const vdm_encode_opts *o, uint32_t width);

typedef struct vdm_encode_stats {
    uint64_t file_bytes;          /* total .vdz size */
    uint64_t header_bytes;        /* signature + VHDR + VEND framing */
    uint64_t meta_bytes;          /* META section incl. framing (0: none) */
    uint64_t model_bytes;         /* MODL section incl. framing (0: none) */
    uint64_t classical_bytes;      /* all FBCK sections incl. framing */
    uint64_t samples;             /* width*height*channels */
    uint64_t packed_bytes;        /* the samples packed as PNG packs them */
    int classical_method;          /* method of the (last) FBCK section, -1: none */
    int used_model;               /* 1 when the file has a MODL section */
    double neg_vlb_bits;          /* the model's -VLB of what it coded (0: none) */
    int estimated;                /* 1: the model path's estimate ran (see estimate) */
    vdm_model_estimate estimate;
} vdm_encode_stats;

/* Encode img.  *out (malloc) is freed by the caller with free().
 * stats may be NULL.  Errors: VDM_ERR_ARG, VDM_ERR_CORRUPT/LIMIT (invalid
 * image), VDM_ERR_NOMEM, whatever the model path returns. */
vdm_status vdm_vdz_encode(const vdm_image *img, const vdm_encode_opts *o, uint8_t **out,
                          size_t *out_size, vdm_encode_stats *stats);

typedef struct vdm_decode_opts {
    const vdm_model_path *model;  /* needed only when the file needs a model */
    uint32_t threads;
    vdm_progress_fn progress;
    void *progress_user;
} vdm_decode_opts;

/* Decode a whole .vdz held in memory.  *out is freed with vdm_image_free.
 * o may be NULL (no model).  Errors: VDM_ERR_FORMAT (no signature),
 * VDM_ERR_VERSION, VDM_ERR_TRUNCATED, VDM_ERR_CORRUPT, VDM_ERR_CHECKSUM
 * (section CRC or pixel SHA-256), VDM_ERR_UNSUPPORTED (unknown critical
 * section or value), VDM_ERR_LIMIT, VDM_ERR_MODEL_MISMATCH (the file needs
 * a model that was not given, or another one), VDM_ERR_NOMEM. */
vdm_status vdm_vdz_decode(const uint8_t *buf, size_t size, const vdm_decode_opts *o,
                          vdm_image **out);

/* ---- describing a file ---------------------------------------------------- */

#define VDM_VDZ_MAX_FBCK 8

typedef struct vdm_vdz_info {
    uint16_t version;
    uint32_t width, height;
    uint8_t color_type, bit_depth, interlace, channels;
    uint16_t palette_size, trns_count;
    uint8_t pixel_sha256[32];
    int needs_model;
    uint8_t model_id[32];
    uint64_t file_bytes, header_bytes, meta_bytes, model_bytes, classical_bytes;
    uint32_t meta_chunks, meta_raw_bytes;
    uint8_t meta_method;
    uint32_t nclassical;
    struct { uint8_t method, channel_mask, region; uint64_t bytes; } classical[VDM_VDZ_MAX_FBCK];
    int has_model_section;
    /* MODL summary (valid when has_model_section) */
    uint16_t steps, tile_w, tile_h;
    uint8_t model_channel_mask, model_flags, data_prec, latent_prec, prior_prec;
    uint32_t ntiles, nskipped_tiles, nchains;   /* nskipped_tiles: CM tiles (§6.2) */
    uint64_t model_dims;       /* sub-pixels of the model-coded tiles (neg_vlb_bits covers these) */
    uint64_t initial_bits, stream_bytes;
    double neg_vlb_bits;
} vdm_vdz_info;

/* Check the whole container (signature, version, every section's framing,
 * CRC and fields, coverage) without decoding pixels, and describe it.
 * Same errors as vdm_vdz_decode except CHECKSUM of pixels / MODEL_MISMATCH. */
vdm_status vdm_vdz_probe(const uint8_t *buf, size_t size, vdm_vdz_info *info);

/* Read only what is needed to know the model requirement: signature,
 * version and VHDR (a prefix of the file is enough).  needs_model and
 * model_id are set; the rest of info only from VHDR. */
vdm_status vdm_vdz_probe_header(const uint8_t *buf, size_t size, vdm_vdz_info *info);

/* Short reason for the last codec failure on this thread ("" if none). */
const char *vdm_codec_last_error(void);

/* SHA-256 of the canonical samples (format-spec/vdz.md §3). */
vdm_status vdm_image_pixel_sha256(const vdm_image *img, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
#endif
