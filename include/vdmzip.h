/* vdmzip.h — the public API of libvdmzip, the only installed header.
 *
 * libvdmzip compresses images losslessly into .vdz files and back.  Its
 * probability model is a trained variational diffusion model (a weights file,
 * "the model") coded with bits-back rANS, beside a context-mixing coder that
 * needs no model.  Every image round-trips to the exact same samples; a PNG
 * round-trips to the same colour type, bit depth, palette, transparency,
 * interlacing and ancillary chunks.  The bytes of a .vdz never depend on the
 * machine, compiler, SIMD level, thread count or device that wrote it.
 *
 * Objects:
 *   vdmzip_model    loaded weights; immutable once loaded, shared by any
 *                   number of contexts on any number of threads;
 *   vdmzip_encoder  an encoding context (options, scratch, last statistics);
 *   vdmzip_decoder  a decoding context;
 *   vdmzip_pixels   a decoded image (samples + PNG colour description).
 *
 * Thread safety: functions that take no context (version, error strings,
 * options defaults, vdmzip_get_info, model loading, vdmzip_free, ...) may be
 * called from any thread at any time.  A context may be used by one thread
 * at a time (several contexts on several threads at once are fine, also when
 * they share one model).  vdmzip_model_free must not run while a context
 * that uses the model is alive.
 *
 * Errors: every function that can fail returns a vdmzip_error (VDMZIP_OK = 0)
 * and never prints, exits or aborts; vdmzip_error_string() names a code and
 * the contexts keep a one-line detail of their last failure.  Output
 * pointers are set only on success.  Memory the library returns is released
 * with the function named at each call (vdmzip_free for byte buffers). */
#ifndef VDMZIP_H
#define VDMZIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define VDMZIP_API
#elif defined(__GNUC__) || defined(__clang__)
#define VDMZIP_API __attribute__((visibility("default")))
#else
#define VDMZIP_API
#endif

/* ---- versions --------------------------------------------------------------- */

#define VDMZIP_VERSION_MAJOR 0
#define VDMZIP_VERSION_MINOR 2
#define VDMZIP_VERSION_PATCH 0
#define VDMZIP_VERSION_NUMBER \
    (VDMZIP_VERSION_MAJOR * 10000 + VDMZIP_VERSION_MINOR * 100 + VDMZIP_VERSION_PATCH)
#define VDMZIP_VERSION_STRING "0.2.0"
/* The newest .vdz container version this library writes and reads (every
 * older one is read too). */
#define VDMZIP_FORMAT_VERSION 1

/* The library's version at run time, which may differ from the header's. */
VDMZIP_API unsigned vdmzip_version_number(void);      /* VDMZIP_VERSION_NUMBER */
VDMZIP_API const char *vdmzip_version_string(void);   /* "0.2.0" */

/* ---- errors ------------------------------------------------------------------- */

/* Stable codes (never renumbered, only appended). */
typedef enum vdmzip_error {
    VDMZIP_OK = 0,
    VDMZIP_ERROR_NOMEM = 1,          /* an allocation failed */
    VDMZIP_ERROR_ARGUMENT = 2,       /* invalid argument (NULL, bad option value, ...) */
    VDMZIP_ERROR_IO = 3,             /* a file could not be read or written */
    VDMZIP_ERROR_FORMAT = 4,         /* not a .vdz / PNG / model file at all */
    VDMZIP_ERROR_TRUNCATED = 5,      /* the input ends early */
    VDMZIP_ERROR_CORRUPT = 6,        /* structurally invalid or inconsistent data */
    VDMZIP_ERROR_CHECKSUM = 7,       /* a stored checksum does not match */
    VDMZIP_ERROR_VERSION = 8,        /* a format version this library does not know */
    VDMZIP_ERROR_UNSUPPORTED = 9,    /* valid, but uses a feature this build lacks */
    VDMZIP_ERROR_LIMIT = 10,         /* over a documented limit (dimensions, sizes) */
    VDMZIP_ERROR_MODEL_MISMATCH = 11,/* the file needs a model that was not given, or another one */
    VDMZIP_ERROR_PNG = 12,           /* the PNG reader/writer failed */
    VDMZIP_ERROR_EXISTS = 13,        /* the output file exists and overwriting was not asked for */
    VDMZIP_ERROR_DEVICE = 14,        /* the GPU could not be used */
    VDMZIP_ERROR_INTERNAL = 15,      /* a bug: an internal check failed */
    VDMZIP_ERROR_CANCELLED = 16      /* the progress callback asked to stop */
} vdmzip_error;

/* A short constant English text for a code ("truncated input"); never NULL,
 * also for unknown codes. */
VDMZIP_API const char *vdmzip_error_string(int code);

/* ---- models ------------------------------------------------------------------- */

typedef struct vdmzip_model vdmzip_model;

/* Load a model (a .vdm weights file) from a path or from bytes in memory
 * (the bytes are copied; the caller may free them after the call).  The
 * model is checked completely (format, sizes, checksums).  Errors: IO,
 * FORMAT, CORRUPT, CHECKSUM, VERSION, UNSUPPORTED, LIMIT, NOMEM, ARGUMENT. */
VDMZIP_API vdmzip_error vdmzip_model_load_file(const char *path, vdmzip_model **out);
VDMZIP_API vdmzip_error vdmzip_model_load_memory(const void *data, size_t size,
                                                 vdmzip_model **out);

/* The default model: the file named by $VDMZIP_MODEL if set, else the
 * default.vdm installed with the library (PREFIX/share/vdmzip/, found
 * relative to the library or program, so an installed tree may be moved),
 * else the one of the source tree the library was built from.
 * vdmzip_model_default_path gives the path that load_default would open
 * (NULL when none exists; $VDMZIP_MODEL is returned even when missing, so
 * that errors name it); the string is the calling thread's and stays valid
 * until that thread's next call (copy it). */
VDMZIP_API const char *vdmzip_model_default_path(void);
VDMZIP_API vdmzip_error vdmzip_model_load_default(vdmzip_model **out);

/* The model's identity as written into the files it codes: SHA-256 of its
 * weights file. */
VDMZIP_API void vdmzip_model_id(const vdmzip_model *model, uint8_t id[32]);

/* Where the model's network runs: VDMZIP_DEVICE_CPU (default) or
 * VDMZIP_DEVICE_CUDA (GPU 0; DEVICE error without one, UNSUPPORTED in a
 * build without CUDA).  Never changes any byte of any file.  Call it before
 * the model is shared (it is not safe against concurrent use). */
enum { VDMZIP_DEVICE_CPU = 0, VDMZIP_DEVICE_CUDA = 1 };
VDMZIP_API vdmzip_error vdmzip_model_set_device(vdmzip_model *model, int device);

/* NULL-safe. */
VDMZIP_API void vdmzip_model_free(vdmzip_model *model);

/* ---- options ------------------------------------------------------------------- */

/* Progress: fraction done in [0, 1], called from the thread that called the
 * coding function.  Return 0 to go on, anything else to cancel: the call
 * then returns VDMZIP_ERROR_CANCELLED soon after and writes nothing. */
typedef int (*vdmzip_progress_fn)(void *user, double fraction);

/* How the encoder uses the model. */
enum {
    VDMZIP_MODE_AUTO = 0,        /* the smaller of the model's file and the classical one */
    VDMZIP_MODE_CLASSICAL = 1,   /* the context-mixing coder only (no model needed) */
    VDMZIP_MODE_MODEL = 2        /* keep the model's file even where larger (measuring) */
};

/* Options of a context.  Always start from vdmzip_options_init(), which sets
 * `size` (so that a program built against an older, shorter struct keeps
 * working with a newer library) and every default; then change fields. */
typedef struct vdmzip_options {
    size_t size;            /* sizeof(vdmzip_options) of the caller's header */
    int effort;             /* 0 fast, 1 default, 2 max (see vdmzip(1)) */
    unsigned threads;       /* 1..256 worker threads; never changes the bytes */
    int mode;               /* VDMZIP_MODE_*, default AUTO */
    unsigned steps;         /* diffusion steps T (0: the model's own) */
    int keep_metadata;      /* 1 (default): keep ancillary PNG chunks */
    int model_try;          /* 0 (default): try the whole model only when sampled
                               tiles predict it wins; 1: always try it */
    int tiles;              /* inside the model's file: 0 choose per tile (default),
                               1 CM tiles only to seed the chain, 2 no CM tiles */
    vdmzip_progress_fn progress;   /* NULL: none */
    void *progress_user;
} vdmzip_options;

VDMZIP_API void vdmzip_options_init(vdmzip_options *opts);

/* ---- images ----------------------------------------------------------------------- */

/* PNG colour types. */
enum {
    VDMZIP_COLOR_GRAY = 0,
    VDMZIP_COLOR_RGB = 2,
    VDMZIP_COLOR_PALETTE = 3,
    VDMZIP_COLOR_GRAY_ALPHA = 4,
    VDMZIP_COLOR_RGBA = 6
};

/* An image as samples.  Row-major, `channels` samples per pixel (gray 1,
 * gray+alpha 2, RGB 3, RGBA 4, palette 1 index), `stride` bytes from one
 * row to the next.  bit_depth 1, 2, 4 or 8: one uint8_t per sample holding
 * a value below 2^bit_depth (no bit packing); 16: one uint16_t per sample in
 * the machine's byte order.  Valid PNG combinations only (palette 1..8 bits,
 * gray 1..16, the others 8 or 16).  Palette images carry their palette and
 * palette alpha (tRNS); gray and RGB images may carry a transparent colour
 * key (has_key, key[] in sample units). */
typedef struct vdmzip_pixels {
    uint32_t width, height;      /* 1 .. 65535 each, at most 1 GiB of samples (else LIMIT) */
    int color_type;              /* VDMZIP_COLOR_* */
    int bit_depth;
    int channels;                /* set by the library on decode; ignored on encode */
    size_t stride;               /* encode: 0 = width * channels * bytes per sample */
    void *data;
    int palette_size;            /* 0..256 */
    uint8_t palette[256][3];
    int palette_alpha_count;     /* 0..palette_size */
    uint8_t palette_alpha[256];
    int has_key;
    uint16_t key[3];
} vdmzip_pixels;

/* Read a PNG held in memory into samples (freed with vdmzip_pixels_free):
 * the same samples the encoder codes from those PNG bytes, so a program can
 * check a round trip (examples/roundtrip.c).  Errors: PNG, FORMAT, LIMIT,
 * UNSUPPORTED, NOMEM, ARGUMENT. */
VDMZIP_API vdmzip_error vdmzip_png_to_pixels(const void *png, size_t png_size, vdmzip_pixels **out);

/* Frees an image returned by vdmzip_decode_pixels or vdmzip_png_to_pixels. */
VDMZIP_API void vdmzip_pixels_free(vdmzip_pixels *img);

/* Frees a byte buffer returned by the library. NULL-safe. */
VDMZIP_API void vdmzip_free(void *p);

/* ---- encoding -------------------------------------------------------------------- */

typedef struct vdmzip_encoder vdmzip_encoder;

/* model may be NULL (the classical coder codes everything).  opts may be
 * NULL (defaults).  The context keeps a reference to the model, which must
 * outlive it. */
VDMZIP_API vdmzip_error vdmzip_encoder_create(const vdmzip_model *model,
                                              const vdmzip_options *opts,
                                              vdmzip_encoder **out);
VDMZIP_API void vdmzip_encoder_free(vdmzip_encoder *enc);   /* NULL-safe */

/* PNG bytes -> .vdz bytes (*out freed with vdmzip_free). */
VDMZIP_API vdmzip_error vdmzip_encode_png(vdmzip_encoder *enc, const void *png, size_t png_size,
                                          void **out, size_t *out_size);
/* Samples -> .vdz bytes.  Decoding gives back a PNG of this colour type
 * and depth, not interlaced, without ancillary chunks. */
VDMZIP_API vdmzip_error vdmzip_encode_pixels(vdmzip_encoder *enc, const vdmzip_pixels *img,
                                             void **out, size_t *out_size);
/* A PNG file to a .vdz file, written to a temporary file in the target's
 * folder and renamed into place only when complete; an existing output is
 * replaced only when overwrite is non-zero (else VDMZIP_ERROR_EXISTS). */
VDMZIP_API vdmzip_error vdmzip_encode_file(vdmzip_encoder *enc, const char *png_path,
                                           const char *vdz_path, int overwrite);

/* What the last successful encode produced (ARGUMENT before the first).
 * Set `size` to sizeof(vdmzip_stats) before the call: the struct only grows
 * at its end, and the library fills no more than `size` bytes of it, so a
 * program built against an older header keeps working. */
typedef struct vdmzip_stats {
    size_t size;                 /* set by the caller: sizeof(vdmzip_stats) */
    uint64_t file_bytes;         /* the whole .vdz */
    uint64_t subpixels;          /* width * height * channels */
    double bits_per_subpixel;    /* 8 * file_bytes / subpixels */
    uint64_t header_bytes;       /* signature, image header and framing */
    uint64_t metadata_bytes;     /* ancillary chunks section, framing included */
    uint32_t metadata_chunks;    /* ancillary PNG chunks kept */
    uint64_t model_bytes;        /* the model's section (0: not used) */
    uint64_t classical_bytes;    /* the context-mixing / classical sections */
    int classical_method;        /* its method number (vdz.md), -1: none */
    int used_model;              /* 1: the diffusion model codes part of the file */
    double neg_vlb_bits;         /* the model's bound of what it coded (0: none) */
    uint64_t model_subpixels;    /* sub-pixels coded by the model */
    uint64_t initial_bits;       /* the chains' initial bits (0 when CM tiles seed them) */
    uint64_t cm_tiles;           /* tiles in the model's file coded by CM instead */
    uint64_t cm_subpixels;       /* their sub-pixels */
    uint64_t cm_bits;            /* their streams' bits (length fields excluded) */
    int model_estimated;         /* 1: the model's try was predicted from sampled tiles */
    int model_tried;             /* 1: the whole-image model try ran */
    double predicted_gain;       /* the estimate's predicted saving, fraction of CM */
    uint32_t estimate_tiles;     /* tiles of the image ... */
    uint32_t estimate_sampled;   /* ... of which the estimate coded this many ... */
    uint32_t estimate_model_wins;/* ... and the model won this many */
    double estimate_subpixels;   /* sub-pixels of the sampled tiles, */
    double estimate_model_bits;  /* what the model's try cost on them */
    double estimate_cm_bits;     /* and what their CM streams cost */
    double estimate_seconds;     /* the estimate's time */
    double model_try_bits;       /* a model try that lost: its chains' bits (0: none) */
    uint64_t model_try_subpixels;/* and the sub-pixels they cover (CM tiles included) */
} vdmzip_stats;
VDMZIP_API vdmzip_error vdmzip_encoder_stats(const vdmzip_encoder *enc, vdmzip_stats *out);

/* One line saying why the context's last call failed ("" when it did not). */
VDMZIP_API const char *vdmzip_encoder_error_detail(const vdmzip_encoder *enc);

/* ---- decoding -------------------------------------------------------------------- */

typedef struct vdmzip_decoder vdmzip_decoder;

/* model may be NULL: files that need no model decode; a file that needs one
 * fails with VDMZIP_ERROR_MODEL_MISMATCH (as does a file that needs another
 * model).  opts: only threads, progress and progress_user are used. */
VDMZIP_API vdmzip_error vdmzip_decoder_create(const vdmzip_model *model,
                                              const vdmzip_options *opts,
                                              vdmzip_decoder **out);
VDMZIP_API void vdmzip_decoder_free(vdmzip_decoder *dec);   /* NULL-safe */

/* .vdz bytes -> the exact PNG (*out freed with vdmzip_free).  The decoded
 * samples are checked against the SHA-256 stored in the file. */
VDMZIP_API vdmzip_error vdmzip_decode_png(vdmzip_decoder *dec, const void *vdz, size_t vdz_size,
                                          void **out, size_t *out_size);
/* .vdz bytes -> samples (freed with vdmzip_pixels_free), stride packed. */
VDMZIP_API vdmzip_error vdmzip_decode_pixels(vdmzip_decoder *dec, const void *vdz,
                                             size_t vdz_size, vdmzip_pixels **out);
/* A .vdz file to a PNG file (temporary file + rename, as vdmzip_encode_file). */
VDMZIP_API vdmzip_error vdmzip_decode_file(vdmzip_decoder *dec, const char *vdz_path,
                                           const char *png_path, int overwrite);
VDMZIP_API const char *vdmzip_decoder_error_detail(const vdmzip_decoder *dec);

/* ---- describing a file ------------------------------------------------------------- */

typedef struct vdmzip_info {
    unsigned format_version;
    uint32_t width, height;
    int color_type, bit_depth, channels, interlaced;
    int needs_model;             /* 1: decoding needs the model model_id */
    uint8_t model_id[32];
} vdmzip_info;

/* Check the whole container's structure and checksums (no pixel decoding)
 * and describe it.  Thread-safe, needs no context. */
VDMZIP_API vdmzip_error vdmzip_get_info(const void *vdz, size_t vdz_size, vdmzip_info *out);

#ifdef __cplusplus
}
#endif
#endif /* VDMZIP_H */
