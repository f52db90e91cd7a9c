/* vdmzip.c — the public API (include/vdmzip.h) over the codec layers.
 *
 * Sharing one model: a vdm_model keeps caches while it codes (the constant
 * table of the last T, the network workspace, GPU buffers), so it is not
 * read-only.  A vdmzip_model therefore holds the loaded weights, which no
 * coding call ever touches, and every context codes through its own
 * vdm_model_view of them (own caches, own GPU context) wrapped in its own
 * model path (own statistics).  Contexts on different threads share nothing
 * mutable; the codec's error detail is per thread.
 *
 * vdm_status and vdmzip_error have the same numbers (the public enum is the
 * internal one, CUDA = DEVICE), so codes pass through unchanged. */
#define _GNU_SOURCE 1   /* dladdr */
#include "vdmzip.h"
#include "common/vdm_common.h"
#include "codec/bbcode.h"
#include "codec/codec_internal.h"
#include "codec/png_io.h"
#include "codec/vdz.h"
#include "lib/lib_internal.h"
#include "model/vdm_model.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DETAIL_CAP 320

/* The options struct of the first public version ended with progress_user:
 * an older caller's `size` is at least this. */
#define OPTIONS_MIN_SIZE (offsetof(vdmzip_options, progress_user) + sizeof(void *))

_Static_assert(VDMZIP_ERROR_DEVICE == (int)VDM_ERR_CUDA && VDMZIP_ERROR_CANCELLED == (int)VDM_ERR_CANCELLED &&
                   VDMZIP_ERROR_INTERNAL == (int)VDM_ERR_INTERNAL && VDM_ERR_COUNT_ == 17,
               "vdmzip_error and vdm_status must keep the same numbers");
_Static_assert(VDMZIP_FORMAT_VERSION == VDM_VDZ_FORMAT_VERSION, "format versions differ");
_Static_assert((int)VDMZIP_COLOR_RGBA == (int)VDM_PNG_RGBA && (int)VDMZIP_COLOR_PALETTE == (int)VDM_PNG_PALETTE,
               "colour types differ");

unsigned vdmzip_version_number(void) { return VDMZIP_VERSION_NUMBER; }
const char *vdmzip_version_string(void) { return VDMZIP_VERSION_STRING; }

const char *vdmzip_error_string(int code)
{
    if (code < 0 || code >= (int)VDM_ERR_COUNT_) return "unknown error";
    if (code == VDMZIP_ERROR_EXISTS) return "output exists";   /* the internal name speaks of -f */
    return vdm_error_name((vdm_status)code);
}

static vdmzip_error pub(vdm_status s) { return (vdmzip_error)s; }

/* ---- models ------------------------------------------------------------------ */

struct vdmzip_model {
    vdm_model *m;        /* the weights: only read once loaded (views code with them) */
    uint8_t id[32];
};

static vdmzip_error model_wrap(vdm_model *m, vdmzip_model **out)
{
    vdmzip_model *pm = calloc(1, sizeof *pm);
    if (!pm) { vdm_model_free(m); return VDMZIP_ERROR_NOMEM; }
    pm->m = m;
    vdm_model_id(m, pm->id);
    *out = pm;
    return VDMZIP_OK;
}

vdmzip_error vdmzip_model_load_file(const char *path, vdmzip_model **out)
{
    if (!path || !out) return VDMZIP_ERROR_ARGUMENT;
    struct stat sb;
    if (stat(path, &sb) != 0 || S_ISDIR(sb.st_mode)) return VDMZIP_ERROR_IO;
    vdm_model *m = NULL;
    vdm_status st = vdm_model_load(path, &m);
    if (st != VDM_OK) return pub(st);
    return model_wrap(m, out);
}

vdmzip_error vdmzip_model_load_memory(const void *data, size_t size, vdmzip_model **out)
{
    if (!data || !out) return VDMZIP_ERROR_ARGUMENT;
    vdm_model *m = NULL;
    vdm_status st = vdm_model_load_mem(data, size, &m);
    if (st != VDM_OK) return pub(st);
    return model_wrap(m, out);
}

static int is_file(const char *p)
{
    struct stat sb;
    return p && *p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir of the object containing this code + "/../share/vdmzip/default.vdm" */
static int relative_model(char *out, size_t cap)
{
    Dl_info di;
    char self[PATH_MAX];
    memset(&di, 0, sizeof di);
    const char *obj = NULL;
    if (dladdr((void *)(uintptr_t)&relative_model, &di) && di.dli_fname && di.dli_fname[0] == '/')
        obj = di.dli_fname;
    if (!obj) {
        /* the main program (dladdr gives argv[0] there, maybe relative) */
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) return 0;
        self[n] = 0;
        obj = self;
    }
    const char *slash = strrchr(obj, '/');
    if (!slash) return 0;
    /* PREFIX/bin or PREFIX/lib, and PREFIX/lib/<multiarch triplet> (Debian) */
    static const char *const up[] = { "/..", "/../.." };
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
        int k = snprintf(out, cap, "%.*s%s/share/vdmzip/default.vdm", (int)(slash - obj), obj, up[i]);
        if (k > 0 && (size_t)k < cap && is_file(out)) return 1;
    }
    return 0;
}

const char *vdmzip_model_default_path(void)
{
    static _Thread_local char buf[PATH_MAX + 64];
    const char *env = getenv("VDMZIP_MODEL");
    if (env && *env) {
        snprintf(buf, sizeof buf, "%s", env);
        return buf;
    }
    if (relative_model(buf, sizeof buf)) return buf;
#ifdef VDMZIP_SOURCE_MODEL
    if (is_file(VDMZIP_SOURCE_MODEL)) return VDMZIP_SOURCE_MODEL;
#endif
#ifdef VDMZIP_INSTALL_MODEL
    if (is_file(VDMZIP_INSTALL_MODEL)) return VDMZIP_INSTALL_MODEL;
#endif
    return NULL;
}

vdmzip_error vdmzip_model_load_default(vdmzip_model **out)
{
    if (!out) return VDMZIP_ERROR_ARGUMENT;
    const char *p = vdmzip_model_default_path();
    if (!p) return VDMZIP_ERROR_IO;
    return vdmzip_model_load_file(p, out);
}

void vdmzip_model_id(const vdmzip_model *model, uint8_t id[32])
{
    if (!id) return;
    if (!model) { memset(id, 0, 32); return; }
    memcpy(id, model->id, 32);
}

vdmzip_error vdmzip_model_set_device(vdmzip_model *model, int device)
{
    if (!model || (device != VDMZIP_DEVICE_CPU && device != VDMZIP_DEVICE_CUDA)) return VDMZIP_ERROR_ARGUMENT;
    return pub(vdm_model_set_device(model->m, device == VDMZIP_DEVICE_CUDA ? VDM_DEVICE_CUDA : VDM_DEVICE_CPU));
}

void vdmzip_model_free(vdmzip_model *model)
{
    if (!model) return;
    vdm_model_free(model->m);
    free(model);
}

/* ---- options ------------------------------------------------------------------- */

void vdmzip_options_init(vdmzip_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->effort = 1;
    opts->threads = 1;
    opts->mode = VDMZIP_MODE_AUTO;
    opts->keep_metadata = 1;
}

static void set_detail(char *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_detail(char *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, DETAIL_CAP, fmt, ap);
    va_end(ap);
}

/* Copy the caller's options (NULL: defaults) into *o, checking them.
 * for_decoder: only size and threads matter. */
static vdmzip_error options_take(const vdmzip_options *in, vdmzip_options *o, int for_decoder, char *detail)
{
    vdmzip_options_init(o);
    if (!in) return VDMZIP_OK;
    if (in->size < OPTIONS_MIN_SIZE) {
        set_detail(detail, "options.size is %zu, less than any vdmzip_options (%zu): call vdmzip_options_init",
                   in->size, (size_t)OPTIONS_MIN_SIZE);
        return VDMZIP_ERROR_ARGUMENT;
    }
    /* an older caller's shorter struct keeps our defaults for the rest; a
     * newer caller's fields beyond ours are not known here */
    memcpy(o, in, in->size < sizeof *o ? in->size : sizeof *o);
    o->size = sizeof *o;
    if (o->threads < 1 || o->threads > 256) {
        set_detail(detail, "threads must be 1..256, not %u", o->threads);
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (for_decoder) return VDMZIP_OK;
    if (o->effort < 0 || o->effort > 2) {
        set_detail(detail, "effort must be 0, 1 or 2, not %d", o->effort);
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (o->mode < VDMZIP_MODE_AUTO || o->mode > VDMZIP_MODE_MODEL) {
        set_detail(detail, "mode must be VDMZIP_MODE_AUTO, _CLASSICAL or _MODEL, not %d", o->mode);
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (o->steps > VDM_VDZ_MAX_STEPS) {
        set_detail(detail, "steps must be 0..%u, not %u", VDM_VDZ_MAX_STEPS, o->steps);
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (o->keep_metadata != 0 && o->keep_metadata != 1) {
        set_detail(detail, "keep_metadata must be 0 or 1, not %d", o->keep_metadata);
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (o->model_try != 0 && o->model_try != 1) {
        set_detail(detail, "model_try must be 0 or 1, not %d", o->model_try);
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (o->tiles < 0 || o->tiles > 2) {
        set_detail(detail, "tiles must be 0, 1 or 2, not %d", o->tiles);
        return VDMZIP_ERROR_ARGUMENT;
    }
    return VDMZIP_OK;
}

/* A model path of this context over the shared weights. */
static vdmzip_error path_open(const vdmzip_model *model, const vdmzip_options *o, vdm_model_path *mp,
                              char *detail)
{
    vdm_bb_params bp;
    vdm_bb_params_default(&bp);
    bp.tiles = o->tiles == 1 ? VDM_BB_TILES_SEED : o->tiles == 2 ? VDM_BB_TILES_MODEL : VDM_BB_TILES_CHOOSE;
    vdm_model *view = NULL;
    vdm_status st = vdm_model_view(model->m, &view);
    if (st == VDM_OK) st = vdm_bb_path_wrap(view, &bp, o->threads, mp);   /* takes view */
    if (st != VDM_OK) set_detail(detail, "cannot prepare the model: %s", vdm_error_name(st));
    return pub(st);
}

/* The detail after a failed codec call: the layer's reason, else the code's name. */
static vdmzip_error fail(char *detail, vdm_status st)
{
    const char *why = vdm_codec_last_error();
    if (st == VDM_ERR_CANCELLED) why = "cancelled by the progress callback";
    set_detail(detail, "%s", why && *why ? why : vdmzip_error_string((int)st));
    return pub(st);
}

/* ---- encoding -------------------------------------------------------------------- */

struct vdmzip_encoder {
    const vdmzip_model *model;
    vdmzip_options o;
    vdm_model_path mp;
    int have_mp;
    vdmzip_stats stats;
    int have_stats;
    char detail[DETAIL_CAP];
};

vdmzip_error vdmzip_encoder_create(const vdmzip_model *model, const vdmzip_options *opts,
                                   vdmzip_encoder **out)
{
    if (!out) return VDMZIP_ERROR_ARGUMENT;
    char detail[DETAIL_CAP] = "";
    vdmzip_options o;
    vdmzip_error e = options_take(opts, &o, 0, detail);
    if (e != VDMZIP_OK) return e;
    if (o.mode == VDMZIP_MODE_MODEL && !model) return VDMZIP_ERROR_ARGUMENT;
    vdmzip_encoder *enc = calloc(1, sizeof *enc);
    if (!enc) return VDMZIP_ERROR_NOMEM;
    enc->model = model;
    enc->o = o;
    if (model && o.mode != VDMZIP_MODE_CLASSICAL) {
        e = path_open(model, &o, &enc->mp, enc->detail);
        if (e != VDMZIP_OK) { free(enc); return e; }
        enc->have_mp = 1;
    }
    *out = enc;
    return VDMZIP_OK;
}

void vdmzip_encoder_free(vdmzip_encoder *enc)
{
    if (!enc) return;
    if (enc->have_mp) vdm_bb_path_close(&enc->mp);
    free(enc);
}

/* Encode img with the context's options; fill the context's statistics. */
static vdmzip_error encode_image(vdmzip_encoder *enc, const vdm_image *img, uint8_t **out, size_t *out_size)
{
    vdm_encode_opts eo;
    vdm_encode_opts_default(&eo);
    eo.model = enc->have_mp ? &enc->mp : NULL;
    eo.steps = enc->o.steps;
    eo.threads = enc->o.threads;
    eo.effort = enc->o.effort;
    eo.keep_metadata = enc->o.keep_metadata;
    eo.model_only = enc->o.mode == VDMZIP_MODE_MODEL;
    eo.model_try = enc->o.model_try ? VDM_MODEL_TRY_ALWAYS : VDM_MODEL_TRY_AUTO;
    eo.progress = enc->o.progress;
    eo.progress_user = enc->o.progress_user;
    vdm_encode_stats s;
    memset(&s, 0, sizeof s);
    vdm_status st = vdm_vdz_encode(img, &eo, out, out_size, &s);
    if (st != VDM_OK) return fail(enc->detail, st);

    vdmzip_stats *z = &enc->stats;
    memset(z, 0, sizeof *z);
    z->size = sizeof *z;
    z->file_bytes = s.file_bytes;
    z->subpixels = s.samples;
    z->bits_per_subpixel = s.samples ? 8.0 * (double)s.file_bytes / (double)s.samples : 0.0;
    z->header_bytes = s.header_bytes;
    z->metadata_bytes = s.meta_bytes;
    z->metadata_chunks = s.meta_bytes ? img->nchunks : 0;
    z->model_bytes = s.model_bytes;
    z->classical_bytes = s.classical_bytes;
    z->classical_method = s.classical_method;
    z->used_model = s.used_model;
    z->neg_vlb_bits = s.neg_vlb_bits;
    z->model_estimated = s.estimated;
    if (s.estimated) {
        const vdm_model_estimate *m = &s.estimate;
        if (m->cm_bits > 0) z->predicted_gain = m->gain_bits / m->cm_bits;
        z->estimate_tiles = m->ntiles;
        z->estimate_sampled = m->sampled;
        z->estimate_model_wins = m->model_wins;
        z->estimate_subpixels = m->sampled_dims;
        z->estimate_model_bits = m->model_bits;
        z->estimate_cm_bits = m->cm_sampled_bits;
        z->estimate_seconds = m->seconds;
    }
    const int can_model = enc->have_mp && (enc->mp.channels_for(enc->mp.ctx, img) & ((1u << img->channels) - 1u));
    z->model_tried = can_model && (!s.estimated || s.estimate.try_model);
    if (z->model_tried) {
        vdm_bb_stats bs;
        vdm_bb_path_stats(&enc->mp, &bs);
        if (s.used_model) {
            z->model_subpixels = bs.dims;
            z->initial_bits = bs.initial_bits;
            z->cm_tiles = bs.cm_tiles;
            z->cm_subpixels = bs.cm_dims;
            z->cm_bits = bs.cm_bits;
        } else {
            z->model_try_bits = (double)bs.stream_bits;
            z->model_try_subpixels = bs.dims + bs.cm_dims;
        }
    }
    enc->have_stats = 1;
    return VDMZIP_OK;
}

static int begin(char *detail)
{
    detail[0] = 0;
    vdm_codec_clear_error();
    return 1;
}

vdmzip_error vdmzip_encode_png(vdmzip_encoder *enc, const void *png, size_t png_size, void **out,
                               size_t *out_size)
{
    if (!enc) return VDMZIP_ERROR_ARGUMENT;
    begin(enc->detail);
    if (!png || !out || !out_size) {
        set_detail(enc->detail, "NULL argument");
        return VDMZIP_ERROR_ARGUMENT;
    }
    vdm_image *img = NULL;
    vdm_status st = vdm_png_read_mem(png, png_size, &img);
    if (st != VDM_OK) return fail(enc->detail, st);
    uint8_t *v = NULL;
    size_t vn = 0;
    vdmzip_error e = encode_image(enc, img, &v, &vn);
    vdm_image_free(img);
    if (e != VDMZIP_OK) return e;
    *out = v;
    *out_size = vn;
    return VDMZIP_OK;
}

static unsigned bytes_per_sample(int bit_depth) { return bit_depth == 16 ? 2u : 1u; }

/* vdmzip_pixels -> a new canonical image (every field checked). */
static vdmzip_error image_from_pixels(const vdmzip_pixels *p, vdm_image **out, char *detail)
{
    *out = NULL;
    const unsigned ch = vdm_png_channels((unsigned)p->color_type);
    if (p->color_type < 0 || p->color_type > 6 || !ch || p->bit_depth <= 0 || p->bit_depth > 16 ||
        vdm_png_check_type((unsigned)p->color_type, (unsigned)p->bit_depth) != VDM_OK) {
        set_detail(detail, "colour type %d with bit depth %d is not a PNG combination", p->color_type,
                   p->bit_depth);
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (p->width == 0 || p->height == 0) {
        set_detail(detail, "zero width or height");
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (p->width > VDM_IMAGE_MAX_DIM || p->height > VDM_IMAGE_MAX_DIM ||
        vdm_image_sample_bytes(p->width, p->height, ch, (unsigned)p->bit_depth) > VDM_IMAGE_MAX_BYTES) {
        set_detail(detail, "image %ux%u exceeds the size limit (%u per side, 1 GiB of samples)", p->width,
                   p->height, VDM_IMAGE_MAX_DIM);
        return VDMZIP_ERROR_LIMIT;
    }
    if (!p->data) {
        set_detail(detail, "no sample data");
        return VDMZIP_ERROR_ARGUMENT;
    }
    /* width <= 65535, ch <= 4, 2 bytes: row and total fit easily in 64 bits */
    const uint64_t row = (uint64_t)p->width * ch * bytes_per_sample(p->bit_depth);
    const uint64_t stride = p->stride ? (uint64_t)p->stride : row;
    if (stride < row) {
        set_detail(detail, "stride %zu is less than a row (%llu bytes)", p->stride, (unsigned long long)row);
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (stride > (uint64_t)SIZE_MAX / p->height) {
        set_detail(detail, "stride %zu times height overflows", p->stride);
        return VDMZIP_ERROR_LIMIT;
    }
    if (p->palette_size < 0 || p->palette_size > 256 || p->palette_alpha_count < 0 ||
        p->palette_alpha_count > p->palette_size) {
        set_detail(detail, "palette_size must be 0..256 and palette_alpha_count 0..palette_size");
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (p->palette_alpha_count && p->color_type != VDMZIP_COLOR_PALETTE) {
        set_detail(detail, "palette_alpha_count is for palette images only");
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (p->has_key && p->color_type != VDMZIP_COLOR_GRAY && p->color_type != VDMZIP_COLOR_RGB) {
        set_detail(detail, "a colour key is for gray and RGB images only");
        return VDMZIP_ERROR_ARGUMENT;
    }
    vdm_image *img = NULL;
    vdm_status st = vdm_image_create(p->width, p->height, (unsigned)p->color_type, (unsigned)p->bit_depth, &img);
    if (st != VDM_OK) {
        set_detail(detail, "cannot make the image: %s", vdm_error_name(st));
        return st == VDM_ERR_CORRUPT ? VDMZIP_ERROR_ARGUMENT : pub(st);
    }
    for (uint32_t y = 0; y < p->height; y++)
        memcpy(img->data + (size_t)y * row, (const uint8_t *)p->data + (size_t)y * stride, (size_t)row);
    img->palette_size = (uint16_t)p->palette_size;
    memcpy(img->palette, p->palette, sizeof img->palette);
    if (p->color_type == VDMZIP_COLOR_PALETTE) {
        img->trns_count = (uint16_t)p->palette_alpha_count;
        memcpy(img->trns_alpha, p->palette_alpha, sizeof img->trns_alpha);
    } else if (p->has_key) {
        img->trns_count = 1;
        memcpy(img->trns_key, p->key, sizeof img->trns_key);
    }
    vdm_codec_clear_error();
    st = vdm_image_validate(img);
    if (st != VDM_OK) {
        const char *why = vdm_png_last_error();
        set_detail(detail, "invalid image: %s", why && *why ? why : vdm_error_name(st));
        vdm_image_free(img);
        return st == VDM_ERR_CORRUPT ? VDMZIP_ERROR_ARGUMENT : pub(st);
    }
    *out = img;
    return VDMZIP_OK;
}

vdmzip_error vdmzip_encode_pixels(vdmzip_encoder *enc, const vdmzip_pixels *img, void **out, size_t *out_size)
{
    if (!enc) return VDMZIP_ERROR_ARGUMENT;
    begin(enc->detail);
    if (!img || !out || !out_size) {
        set_detail(enc->detail, "NULL argument");
        return VDMZIP_ERROR_ARGUMENT;
    }
    vdm_image *im = NULL;
    vdmzip_error e = image_from_pixels(img, &im, enc->detail);
    if (e != VDMZIP_OK) return e;
    uint8_t *v = NULL;
    size_t vn = 0;
    e = encode_image(enc, im, &v, &vn);
    vdm_image_free(im);
    if (e != VDMZIP_OK) return e;
    *out = v;
    *out_size = vn;
    return VDMZIP_OK;
}

/* Read a whole input file (bounded). */
static vdmzip_error read_input(const char *path, uint8_t **buf, size_t *n, char *detail)
{
    vdm_codec_clear_error();
    vdm_status st = vdm_read_whole_file(path, VDM_MAX_INPUT_FILE_BYTES, buf, n);
    if (st != VDM_OK) return fail(detail, st);
    return VDMZIP_OK;
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static vdmzip_error write_output(const char *path, const void *data, size_t n, int overwrite, char *detail)
{
    char why[DETAIL_CAP];
    vdm_status st = vdm_write_file_atomic(path, data, n, overwrite, why, sizeof why);
    if (st == VDM_ERR_EXISTS) set_detail(detail, "'%s' exists", path);
    else if (st != VDM_OK) set_detail(detail, "'%s': %s", path, why[0] ? why : vdm_error_name(st));
    return pub(st);
}

vdmzip_error vdmzip_encode_file(vdmzip_encoder *enc, const char *png_path, const char *vdz_path, int overwrite)
{
    if (!enc) return VDMZIP_ERROR_ARGUMENT;
    begin(enc->detail);
    if (!png_path || !vdz_path || !*png_path || !*vdz_path) {
        set_detail(enc->detail, "NULL or empty path");
        return VDMZIP_ERROR_ARGUMENT;
    }
    /* refuse before any work (the write refuses again, race-free) */
    if (!overwrite && exists(vdz_path)) {
        set_detail(enc->detail, "'%s' exists", vdz_path);
        return VDMZIP_ERROR_EXISTS;
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    vdmzip_error e = read_input(png_path, &buf, &n, enc->detail);
    if (e != VDMZIP_OK) return e;
    void *v = NULL;
    size_t vn = 0;
    e = vdmzip_encode_png(enc, buf, n, &v, &vn);
    free(buf);
    if (e == VDMZIP_OK) e = write_output(vdz_path, v, vn, overwrite, enc->detail);
    free(v);
    return e;
}

vdmzip_error vdmzip_encoder_stats(const vdmzip_encoder *enc, vdmzip_stats *out)
{
    if (!enc || !out || !enc->have_stats) return VDMZIP_ERROR_ARGUMENT;
    /* No more than the caller's struct: fields are only ever appended. */
    const size_t n = out->size;
    if (n < offsetof(vdmzip_stats, model_tried)) return VDMZIP_ERROR_ARGUMENT;
    memcpy(out, &enc->stats, n < sizeof enc->stats ? n : sizeof enc->stats);
    out->size = n;
    return VDMZIP_OK;
}

const char *vdmzip_encoder_error_detail(const vdmzip_encoder *enc) { return enc ? enc->detail : ""; }

/* ---- decoding -------------------------------------------------------------------- */

struct vdmzip_decoder {
    const vdmzip_model *model;
    vdmzip_options o;
    vdm_model_path mp;
    int have_mp;
    char detail[DETAIL_CAP];
};

vdmzip_error vdmzip_decoder_create(const vdmzip_model *model, const vdmzip_options *opts, vdmzip_decoder **out)
{
    if (!out) return VDMZIP_ERROR_ARGUMENT;
    char detail[DETAIL_CAP] = "";
    vdmzip_options o;
    vdmzip_error e = options_take(opts, &o, 1, detail);
    if (e != VDMZIP_OK) return e;
    vdmzip_decoder *dec = calloc(1, sizeof *dec);
    if (!dec) return VDMZIP_ERROR_NOMEM;
    dec->model = model;
    dec->o = o;
    dec->o.tiles = 0;   /* decoding takes the layout from the file */
    if (model) {
        e = path_open(model, &dec->o, &dec->mp, dec->detail);
        if (e != VDMZIP_OK) { free(dec); return e; }
        dec->have_mp = 1;
    }
    *out = dec;
    return VDMZIP_OK;
}

void vdmzip_decoder_free(vdmzip_decoder *dec)
{
    if (!dec) return;
    if (dec->have_mp) vdm_bb_path_close(&dec->mp);
    free(dec);
}

/* The public form of a canonical image; takes img (freed, also on failure). */
static vdmzip_error pixels_from_image(vdm_image *img, vdmzip_pixels **out, char *detail)
{
    vdmzip_pixels *p = calloc(1, sizeof *p);
    if (!p) {
        vdm_image_free(img);
        set_detail(detail, "out of memory");
        return VDMZIP_ERROR_NOMEM;
    }
    p->width = img->width;
    p->height = img->height;
    p->color_type = img->color_type;
    p->bit_depth = img->bit_depth;
    p->channels = img->channels;
    p->stride = (size_t)img->width * img->channels * bytes_per_sample(img->bit_depth);
    p->data = img->data;   /* the canonical buffer is already packed in this layout */
    img->data = NULL;
    p->palette_size = img->palette_size;
    memcpy(p->palette, img->palette, sizeof p->palette);
    if (img->color_type == VDM_PNG_PALETTE) {
        p->palette_alpha_count = img->trns_count;
        memcpy(p->palette_alpha, img->trns_alpha, sizeof p->palette_alpha);
    } else if (img->trns_count) {
        p->has_key = 1;
        memcpy(p->key, img->trns_key, sizeof p->key);
    }
    vdm_image_free(img);
    *out = p;
    return VDMZIP_OK;
}

vdmzip_error vdmzip_png_to_pixels(const void *png, size_t png_size, vdmzip_pixels **out)
{
    char detail[DETAIL_CAP];
    if (!png || !out) return VDMZIP_ERROR_ARGUMENT;
    vdm_image *img = NULL;
    vdm_status st = vdm_png_read_mem(png, png_size, &img);
    if (st != VDM_OK) return pub(st);
    return pixels_from_image(img, out, detail);
}

static vdmzip_error decode_image(vdmzip_decoder *dec, const void *vdz, size_t n, vdm_image **img)
{
    vdm_decode_opts d;
    memset(&d, 0, sizeof d);
    d.model = dec->have_mp ? &dec->mp : NULL;
    d.threads = dec->o.threads;
    d.progress = dec->o.progress;
    d.progress_user = dec->o.progress_user;
    vdm_status st = vdm_vdz_decode(vdz, n, &d, img);
    if (st != VDM_OK) return fail(dec->detail, st);
    return VDMZIP_OK;
}

vdmzip_error vdmzip_decode_png(vdmzip_decoder *dec, const void *vdz, size_t vdz_size, void **out, size_t *out_size)
{
    if (!dec) return VDMZIP_ERROR_ARGUMENT;
    begin(dec->detail);
    if (!vdz || !out || !out_size) {
        set_detail(dec->detail, "NULL argument");
        return VDMZIP_ERROR_ARGUMENT;
    }
    vdm_image *img = NULL;
    vdmzip_error e = decode_image(dec, vdz, vdz_size, &img);
    if (e != VDMZIP_OK) return e;
    uint8_t *png = NULL;
    size_t pn = 0;
    vdm_codec_clear_error();
    vdm_status st = vdm_png_write_mem(img, &png, &pn);
    vdm_image_free(img);
    if (st != VDM_OK) return fail(dec->detail, st);
    *out = png;
    *out_size = pn;
    return VDMZIP_OK;
}

vdmzip_error vdmzip_decode_pixels(vdmzip_decoder *dec, const void *vdz, size_t vdz_size, vdmzip_pixels **out)
{
    if (!dec) return VDMZIP_ERROR_ARGUMENT;
    begin(dec->detail);
    if (!vdz || !out) {
        set_detail(dec->detail, "NULL argument");
        return VDMZIP_ERROR_ARGUMENT;
    }
    vdm_image *img = NULL;
    vdmzip_error e = decode_image(dec, vdz, vdz_size, &img);
    if (e != VDMZIP_OK) return e;
    return pixels_from_image(img, out, dec->detail);
}

vdmzip_error vdmzip_decode_file(vdmzip_decoder *dec, const char *vdz_path, const char *png_path, int overwrite)
{
    if (!dec) return VDMZIP_ERROR_ARGUMENT;
    begin(dec->detail);
    if (!vdz_path || !png_path || !*vdz_path || !*png_path) {
        set_detail(dec->detail, "NULL or empty path");
        return VDMZIP_ERROR_ARGUMENT;
    }
    if (!overwrite && exists(png_path)) {
        set_detail(dec->detail, "'%s' exists", png_path);
        return VDMZIP_ERROR_EXISTS;
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    vdmzip_error e = read_input(vdz_path, &buf, &n, dec->detail);
    if (e != VDMZIP_OK) return e;
    void *png = NULL;
    size_t pn = 0;
    e = vdmzip_decode_png(dec, buf, n, &png, &pn);
    free(buf);
    if (e == VDMZIP_OK) e = write_output(png_path, png, pn, overwrite, dec->detail);
    free(png);
    return e;
}

const char *vdmzip_decoder_error_detail(const vdmzip_decoder *dec) { return dec ? dec->detail : ""; }

void vdmzip_pixels_free(vdmzip_pixels *img)
{
    if (!img) return;
    free(img->data);
    free(img);
}

void vdmzip_free(void *p) { free(p); }

/* ---- describing a file ------------------------------------------------------------- */

vdmzip_error vdmzip_get_info(const void *vdz, size_t vdz_size, vdmzip_info *out)
{
    if (!vdz || !out) return VDMZIP_ERROR_ARGUMENT;
    vdm_vdz_info in;
    vdm_status st = vdm_vdz_probe(vdz, vdz_size, &in);
    if (st != VDM_OK) return pub(st);
    memset(out, 0, sizeof *out);
    out->format_version = in.version;
    out->width = in.width;
    out->height = in.height;
    out->color_type = in.color_type;
    out->bit_depth = in.bit_depth;
    out->channels = in.channels;
    out->interlaced = in.interlace;
    out->needs_model = in.needs_model;
    if (in.needs_model) memcpy(out->model_id, in.model_id, 32);
    return VDMZIP_OK;
}
