/* png_io.c — libpng <-> vdm_image.  See png_io.h for the invariants.
 *
 * libpng reports errors by longjmp; every libpng call sequence here lives in
 * one function whose resources are reachable from a context struct allocated
 * before setjmp, so the error path frees exactly what was allocated. */
#include "codec/png_io.h"
#include "codec/codec_internal.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *vdm_png_last_error(void) { return vdm_codec_error_buf(); }

#define set_err vdm_codec_set_error

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

unsigned vdm_png_channels(unsigned color_type)
{
    switch (color_type) {
    case VDM_PNG_GRAY: return 1;
    case VDM_PNG_RGB: return 3;
    case VDM_PNG_PALETTE: return 1;
    case VDM_PNG_GRAY_ALPHA: return 2;
    case VDM_PNG_RGBA: return 4;
    default: return 0;
    }
}

vdm_status vdm_png_check_type(unsigned color_type, unsigned bit_depth)
{
    switch (color_type) {
    case VDM_PNG_GRAY:
        return (bit_depth == 1 || bit_depth == 2 || bit_depth == 4 || bit_depth == 8 ||
                bit_depth == 16) ? VDM_OK : VDM_ERR_CORRUPT;
    case VDM_PNG_PALETTE:
        return (bit_depth == 1 || bit_depth == 2 || bit_depth == 4 || bit_depth == 8)
                   ? VDM_OK : VDM_ERR_CORRUPT;
    case VDM_PNG_RGB: case VDM_PNG_GRAY_ALPHA: case VDM_PNG_RGBA:
        return (bit_depth == 8 || bit_depth == 16) ? VDM_OK : VDM_ERR_CORRUPT;
    default:
        return VDM_ERR_CORRUPT;
    }
}

uint64_t vdm_image_sample_bytes(uint32_t width, uint32_t height, unsigned channels,
                                unsigned bit_depth)
{
    return (uint64_t)width * height * channels * (bit_depth == 16 ? 2u : 1u);
}

static vdm_status check_dims(uint32_t w, uint32_t h, unsigned ct, unsigned bd)
{
    if (vdm_png_check_type(ct, bd) != VDM_OK) {
        set_err("invalid PNG colour type %u with bit depth %u", ct, bd);
        return VDM_ERR_CORRUPT;
    }
    if (w == 0 || h == 0) { set_err("image has zero width or height"); return VDM_ERR_CORRUPT; }
    if (w > VDM_IMAGE_MAX_DIM || h > VDM_IMAGE_MAX_DIM) {
        set_err("image is %ux%u; the limit is %u pixels per side", w, h, VDM_IMAGE_MAX_DIM);
        return VDM_ERR_LIMIT;
    }
    if (vdm_image_sample_bytes(w, h, vdm_png_channels(ct), bd) > VDM_IMAGE_MAX_BYTES) {
        set_err("image %ux%u with %u channels at %u bits needs more than the 1 GiB sample "
                "budget", w, h, vdm_png_channels(ct), bd);
        return VDM_ERR_LIMIT;
    }
    return VDM_OK;
}

vdm_status vdm_image_create(uint32_t width, uint32_t height, unsigned color_type,
                            unsigned bit_depth, vdm_image **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    VDM_FORWARD(check_dims(width, height, color_type, bit_depth));
    vdm_image *img = calloc(1, sizeof *img);
    if (!img) return VDM_ERR_NOMEM;
    img->width = width;
    img->height = height;
    img->color_type = (uint8_t)color_type;
    img->bit_depth = (uint8_t)bit_depth;
    img->channels = (uint8_t)vdm_png_channels(color_type);
    uint64_t nb = vdm_image_sample_bytes(width, height, img->channels, bit_depth);
    img->data = calloc((size_t)nb, 1);
    if (!img->data) { free(img); set_err("out of memory"); return VDM_ERR_NOMEM; }
    *out = img;
    return VDM_OK;
}

void vdm_image_free(vdm_image *img)
{
    if (!img) return;
    for (uint32_t i = 0; i < img->nchunks; i++) free(img->chunks[i].data);
    free(img->chunks);
    free(img->data);
    free(img);
}

static int is_chunk_letter(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* An ancillary chunk we may store: 4 letters, first lower case (ancillary
 * bit), third upper case (PNG's reserved bit must be 0), and not tRNS, which
 * is structured.  IHDR/PLTE/IDAT/IEND are critical so excluded already. */
static int chunk_name_ok(const char n[4])
{
    for (int i = 0; i < 4; i++)
        if (!is_chunk_letter((unsigned char)n[i])) return 0;
    if (!(n[0] >= 'a' && n[0] <= 'z')) return 0;
    if (!(n[2] >= 'A' && n[2] <= 'Z')) return 0;
    if (!memcmp(n, "tRNS", 4)) return 0;
    return 1;
}

vdm_status vdm_image_add_chunk(vdm_image *img, const char name[4], unsigned location,
                               const uint8_t *data, uint32_t size)
{
    VDM_RETURN_IF(!img || !name || (size && !data), VDM_ERR_ARG);
    if (!chunk_name_ok(name)) { set_err("invalid ancillary chunk name"); return VDM_ERR_CORRUPT; }
    if (location > VDM_CHUNK_AFTER_IDAT) { set_err("invalid chunk location"); return VDM_ERR_CORRUPT; }
    if (img->nchunks >= VDM_PNG_MAX_META_CHUNKS) {
        set_err("more than %u ancillary chunks", VDM_PNG_MAX_META_CHUNKS);
        return VDM_ERR_LIMIT;
    }
    uint64_t total = size;
    for (uint32_t i = 0; i < img->nchunks; i++) total += img->chunks[i].size;
    if (total > VDM_PNG_MAX_META_BYTES) {
        set_err("ancillary chunks exceed %u MiB", (unsigned)(VDM_PNG_MAX_META_BYTES >> 20));
        return VDM_ERR_LIMIT;
    }
    vdm_png_chunk *nc = realloc(img->chunks, (img->nchunks + 1) * sizeof *nc);
    if (!nc) return VDM_ERR_NOMEM;
    img->chunks = nc;
    vdm_png_chunk *c = &nc[img->nchunks];
    memset(c, 0, sizeof *c);
    memcpy(c->name, name, 4);
    c->location = (uint8_t)location;
    c->size = size;
    if (size) {
        c->data = malloc(size);
        if (!c->data) return VDM_ERR_NOMEM;
        memcpy(c->data, data, size);
    }
    img->nchunks++;
    return VDM_OK;
}

vdm_status vdm_image_validate(const vdm_image *img)
{
    VDM_RETURN_IF(!img, VDM_ERR_ARG);
    VDM_FORWARD(check_dims(img->width, img->height, img->color_type, img->bit_depth));
    if (img->channels != vdm_png_channels(img->color_type) || !img->data) {
        set_err("inconsistent channel count");
        return VDM_ERR_CORRUPT;
    }
    if (img->interlace > 1) { set_err("invalid interlace method %u", img->interlace); return VDM_ERR_CORRUPT; }
    const int ct = img->color_type;
    if (img->palette_size > 256) { set_err("palette larger than 256"); return VDM_ERR_CORRUPT; }
    if (ct == VDM_PNG_PALETTE) {
        if (img->palette_size == 0 || img->palette_size > (1u << img->bit_depth)) {
            set_err("palette has %u entries for bit depth %u", img->palette_size, img->bit_depth);
            return VDM_ERR_CORRUPT;
        }
    } else if ((ct == VDM_PNG_GRAY || ct == VDM_PNG_GRAY_ALPHA) && img->palette_size) {
        set_err("grayscale image with a palette");
        return VDM_ERR_CORRUPT;
    }
    size_t n = (size_t)img->width * img->height * img->channels;
    if (img->bit_depth < 8 || ct == VDM_PNG_PALETTE) {
        unsigned lim = ct == VDM_PNG_PALETTE ? img->palette_size : (1u << img->bit_depth);
        for (size_t i = 0; i < n; i++)
            if (img->data[i] >= lim) {
                set_err("sample %u out of range at index %zu", img->data[i], i);
                return VDM_ERR_CORRUPT;
            }
    }
    if (img->trns_count) {
        if (ct == VDM_PNG_PALETTE) {
            if (img->trns_count > img->palette_size) { set_err("tRNS longer than the palette"); return VDM_ERR_CORRUPT; }
        } else if (ct == VDM_PNG_GRAY || ct == VDM_PNG_RGB) {
            if (img->trns_count != 1) { set_err("bad tRNS count"); return VDM_ERR_CORRUPT; }
            uint32_t maxv = img->bit_depth == 16 ? 65535u : (1u << img->bit_depth) - 1;
            for (int c = 0; c < (ct == VDM_PNG_RGB ? 3 : 1); c++)
                if (img->trns_key[c] > maxv) { set_err("tRNS key out of range"); return VDM_ERR_CORRUPT; }
        } else {
            set_err("tRNS on an image with an alpha channel");
            return VDM_ERR_CORRUPT;
        }
    }
    if (img->nchunks > VDM_PNG_MAX_META_CHUNKS) { set_err("too many chunks"); return VDM_ERR_LIMIT; }
    uint64_t total = 0;
    for (uint32_t i = 0; i < img->nchunks; i++) {
        const vdm_png_chunk *c = &img->chunks[i];
        if (!chunk_name_ok(c->name) || c->location > VDM_CHUNK_AFTER_IDAT ||
            (c->size && !c->data)) {
            set_err("invalid ancillary chunk #%u", i);
            return VDM_ERR_CORRUPT;
        }
        total += c->size;
    }
    if (total > VDM_PNG_MAX_META_BYTES) { set_err("ancillary chunks too large"); return VDM_ERR_LIMIT; }
    return VDM_OK;
}

/* ------------------------------------------------------------------------ */
/* libpng plumbing                                                          */

typedef struct {
    const uint8_t *buf;
    size_t size, pos;
    int truncated;
} mem_reader;

typedef struct {
    uint8_t *buf;
    size_t size, cap;
    int oom;
} mem_writer;

static void png_err_fn(png_structp png, png_const_charp msg)
{
    set_err("PNG: %s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void png_warn_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings are not failures; the library never prints */
}

static void mem_read_fn(png_structp png, png_bytep out, size_t n)
{
    mem_reader *r = png_get_io_ptr(png);
    if (n > r->size - r->pos) {
        r->truncated = 1;
        png_error(png, "file is truncated");
    }
    memcpy(out, r->buf + r->pos, n);
    r->pos += n;
}

static void mem_write_fn(png_structp png, png_bytep in, size_t n)
{
    mem_writer *w = png_get_io_ptr(png);
    if (n > w->cap - w->size) {
        size_t cap = w->cap ? w->cap : 65536;
        while (cap - w->size < n) {
            if (cap > SIZE_MAX / 2) { w->oom = 1; png_error(png, "output too large"); }
            cap *= 2;
        }
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) { w->oom = 1; png_error(png, "out of memory"); }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->size, in, n);
    w->size += n;
}

static void mem_flush_fn(png_structp png) { (void)png; }

/* Everything the read path allocates, so the longjmp path can free it. */
typedef struct {
    png_structp png;
    png_infop info;
    vdm_image *img;
    png_bytep *rows;
    mem_reader rd;
    vdm_status st;   /* a status decided before a png_error, else VDM_ERR_PNG */
} read_ctx;

static vdm_status read_body(read_ctx *c)
{
    png_structp png = c->png;
    png_infop info = c->info;
    if (setjmp(png_jmpbuf(png))) {
        if (c->rd.truncated) return VDM_ERR_TRUNCATED;
        return c->st != VDM_OK ? c->st : VDM_ERR_PNG;
    }
    png_set_read_fn(png, &c->rd, mem_read_fn);
    /* Our own checks give better errors than libpng's default 1e6 limit. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_chunk_cache_max(png, VDM_PNG_MAX_META_CHUNKS + 1);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)VDM_PNG_MAX_META_BYTES + 1);
    /* Every ancillary chunk except tRNS is kept raw (num_chunks < 0 applies
     * the setting to known chunks too, IHDR/PLTE/tRNS/IDAT/IEND excepted). */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, NULL, -1);

    png_read_info(png, info);
    png_uint_32 w, h;
    int bd, ct, il, cm, fm;
    png_get_IHDR(png, info, &w, &h, &bd, &ct, &il, &cm, &fm);
    vdm_status st = check_dims(w, h, (unsigned)ct, (unsigned)bd);
    if (st != VDM_OK) { c->st = st; png_longjmp(png, 1); }
    st = vdm_image_create(w, h, (unsigned)ct, (unsigned)bd, &c->img);
    if (st != VDM_OK) { c->st = st; png_longjmp(png, 1); }
    vdm_image *img = c->img;
    img->interlace = il == PNG_INTERLACE_ADAM7 ? 1 : 0;

    png_colorp pal = NULL;
    int npal = 0;
    if (png_get_PLTE(png, info, &pal, &npal) && npal > 0) {
        if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) npal = 0; /* libpng drops it */
        if (npal > 256) npal = 256;
        for (int i = 0; i < npal; i++) {
            img->palette[i][0] = pal[i].red;
            img->palette[i][1] = pal[i].green;
            img->palette[i][2] = pal[i].blue;
        }
        img->palette_size = (uint16_t)npal;
    }
    if (ct == PNG_COLOR_TYPE_PALETTE && img->palette_size == 0) {
        set_err("PNG: palette image without PLTE");
        c->st = VDM_ERR_PNG;
        png_longjmp(png, 1);
    }
    png_bytep ta = NULL;
    int nt = 0;
    png_color_16p tc = NULL;
    if (png_get_tRNS(png, info, &ta, &nt, &tc)) {
        if (ct == PNG_COLOR_TYPE_PALETTE && ta && nt > 0) {
            if (nt > img->palette_size) nt = img->palette_size;
            memcpy(img->trns_alpha, ta, (size_t)nt);
            img->trns_count = (uint16_t)nt;
        } else if ((ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_RGB) && tc) {
            uint32_t maxv = bd == 16 ? 65535u : (1u << bd) - 1;
            if (ct == PNG_COLOR_TYPE_GRAY) img->trns_key[0] = tc->gray;
            else { img->trns_key[0] = tc->red; img->trns_key[1] = tc->green; img->trns_key[2] = tc->blue; }
            int ok = 1;
            for (int k = 0; k < (ct == PNG_COLOR_TYPE_RGB ? 3 : 1); k++) ok &= img->trns_key[k] <= maxv;
            /* An out-of-range key can match no pixel; libpng would refuse to
             * write it back, so it is dropped like any meaningless chunk. */
            if (ok) img->trns_count = 1;
            else memset(img->trns_key, 0, sizeof img->trns_key);
        }
    }

    if (bd < 8) png_set_packing(png);                       /* one sample per byte, unscaled */
    if (bd == 16 && host_is_little_endian()) png_set_swap(png);
    (void)png_set_interlace_handling(png);                  /* png_read_image runs all passes */
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    size_t want = (size_t)w * img->channels * (bd == 16 ? 2 : 1);
    if (rowbytes != want) {
        set_err("PNG: unexpected row size %zu (want %zu)", rowbytes, want);
        c->st = VDM_ERR_INTERNAL;
        png_longjmp(png, 1);
    }
    c->rows = malloc(sizeof(png_bytep) * h);
    if (!c->rows) { set_err("out of memory"); c->st = VDM_ERR_NOMEM; png_longjmp(png, 1); }
    for (png_uint_32 y = 0; y < h; y++) c->rows[y] = img->data + (size_t)y * want;
    png_read_image(png, c->rows);
    png_read_end(png, info);

    png_unknown_chunkp unk = NULL;
    int nunk = png_get_unknown_chunks(png, info, &unk);
    for (int i = 0; i < nunk; i++) {
        const char *nm = (const char *)unk[i].name;
        if (nm[0] >= 'A' && nm[0] <= 'Z') {
            set_err("PNG has an unknown critical chunk '%.4s'", nm);
            c->st = VDM_ERR_UNSUPPORTED;
            png_longjmp(png, 1);
        }
        if (!chunk_name_ok(nm)) continue;   /* reserved-bit chunks: not valid PNG, dropped */
        unsigned loc = (unk[i].location & PNG_AFTER_IDAT) ? VDM_CHUNK_AFTER_IDAT
                     : (unk[i].location & PNG_HAVE_PLTE) ? VDM_CHUNK_BEFORE_IDAT
                     : VDM_CHUNK_BEFORE_PLTE;
        st = vdm_image_add_chunk(img, nm, loc, unk[i].data, (uint32_t)unk[i].size);
        if (st != VDM_OK) { c->st = st; png_longjmp(png, 1); }
    }
    return VDM_OK;
}

vdm_status vdm_png_read_mem(const uint8_t *buf, size_t size, vdm_image **out)
{
    VDM_RETURN_IF(!out || (!buf && size), VDM_ERR_ARG);
    *out = NULL;
    vdm_codec_clear_error();
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    size_t k = size < 8 ? size : 8;
    if (memcmp(buf ? buf : sig, sig, k) != 0 || size == 0) {
        set_err("not a PNG file (bad signature)");
        return VDM_ERR_FORMAT;
    }
    if (size < 8) { set_err("PNG file is truncated"); return VDM_ERR_TRUNCATED; }
    /* Refuse absurd sizes from IHDR (always the first chunk) before libpng
     * walks the rest of the file; libpng re-checks the chunk's CRC. */
    if (size >= 26 && !memcmp(buf + 12, "IHDR", 4)) {
        uint32_t w = (uint32_t)buf[16] << 24 | (uint32_t)buf[17] << 16 | (uint32_t)buf[18] << 8 | buf[19];
        uint32_t h = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 | (uint32_t)buf[22] << 8 | buf[23];
        if (w > VDM_IMAGE_MAX_DIM || h > VDM_IMAGE_MAX_DIM ||
            (vdm_png_check_type(buf[25], buf[24]) == VDM_OK &&
             vdm_image_sample_bytes(w, h, vdm_png_channels(buf[25]), buf[24]) > VDM_IMAGE_MAX_BYTES)) {
            set_err("PNG is %ux%u; the limits are %u pixels per side and 1 GiB of samples", w, h,
                    VDM_IMAGE_MAX_DIM);
            return VDM_ERR_LIMIT;
        }
    }

    read_ctx *c = calloc(1, sizeof *c);
    if (!c) return VDM_ERR_NOMEM;
    c->rd.buf = buf;
    c->rd.size = size;
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, png_err_fn, png_warn_fn);
    if (c->png) c->info = png_create_info_struct(c->png);
    vdm_status st;
    if (!c->png || !c->info) {
        set_err("out of memory");
        st = VDM_ERR_NOMEM;
    } else {
        st = read_body(c);
    }
    if (st == VDM_ERR_TRUNCATED) set_err("PNG file is truncated");
    png_destroy_read_struct(c->png ? &c->png : NULL, c->info ? &c->info : NULL, NULL);
    free(c->rows);
    if (st == VDM_OK) *out = c->img;
    else vdm_image_free(c->img);
    free(c);
    return st;
}

vdm_status vdm_read_whole_file(const char *path, uint64_t max_bytes, uint8_t **buf,
                               size_t *size)
{
    VDM_RETURN_IF(!path || !buf || !size, VDM_ERR_ARG);
    *buf = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) { set_err("cannot open '%s': %s", path, strerror(errno)); return VDM_ERR_IO; }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) { fclose(f); return VDM_ERR_NOMEM; }
    for (;;) {
        if (n == cap) {
            if ((uint64_t)cap > max_bytes) break;
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) { free(b); fclose(f); return VDM_ERR_NOMEM; }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if ((uint64_t)n > max_bytes) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(b); set_err("cannot read '%s'", path); return VDM_ERR_IO; }
    if ((uint64_t)n > max_bytes) {
        free(b);
        set_err("'%s' is larger than %llu bytes", path, (unsigned long long)max_bytes);
        return VDM_ERR_LIMIT;
    }
    *buf = b;
    *size = n;
    return VDM_OK;
}

vdm_status vdm_png_read_file(const char *path, vdm_image **out)
{
    VDM_RETURN_IF(!out, VDM_ERR_ARG);
    *out = NULL;
    uint8_t *buf;
    size_t n;
    VDM_FORWARD(vdm_read_whole_file(path, VDM_MAX_INPUT_FILE_BYTES, &buf, &n));
    vdm_status st = vdm_png_read_mem(buf, n, out);
    free(buf);
    return st;
}

/* ------------------------------------------------------------------------ */

typedef struct {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    png_unknown_chunkp unk;
    mem_writer wr;
} write_ctx;

static vdm_status write_body(write_ctx *c, const vdm_image *img)
{
    png_structp png = c->png;
    png_infop info = c->info;
    if (setjmp(png_jmpbuf(png))) return c->wr.oom ? VDM_ERR_NOMEM : VDM_ERR_PNG;
    png_set_write_fn(png, &c->wr, mem_write_fn, mem_flush_fn);
    png_set_IHDR(png, info, img->width, img->height, img->bit_depth, img->color_type,
                 img->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (img->palette_size) {
        png_color pal[256];
        for (unsigned i = 0; i < img->palette_size; i++) {
            pal[i].red = img->palette[i][0];
            pal[i].green = img->palette[i][1];
            pal[i].blue = img->palette[i][2];
        }
        png_set_PLTE(png, info, pal, img->palette_size);
    }
    if (img->trns_count) {
        if (img->color_type == VDM_PNG_PALETTE) {
            png_set_tRNS(png, info, img->trns_alpha, img->trns_count, NULL);
        } else {
            png_color_16 key;
            memset(&key, 0, sizeof key);
            key.gray = img->trns_key[0];
            key.red = img->trns_key[0];
            key.green = img->trns_key[1];
            key.blue = img->trns_key[2];
            png_set_tRNS(png, info, NULL, 1, &key);
        }
    }
    if (img->nchunks) {
        /* Default "always" so unsafe-to-copy chunks (gAMA, iCCP, ...) are
         * written too: they are still true, nothing about the pixels changed. */
        png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, NULL, 0);
        c->unk = calloc(img->nchunks, sizeof *c->unk);
        if (!c->unk) { c->wr.oom = 1; png_error(png, "out of memory"); }
        for (uint32_t i = 0; i < img->nchunks; i++) {
            const vdm_png_chunk *k = &img->chunks[i];
            memcpy(c->unk[i].name, k->name, 4);
            c->unk[i].name[4] = 0;
            c->unk[i].data = k->data;  /* png_set_unknown_chunks copies */
            c->unk[i].size = k->size;
            c->unk[i].location = (png_byte)(k->location == VDM_CHUNK_AFTER_IDAT ? PNG_AFTER_IDAT
                                          : k->location == VDM_CHUNK_BEFORE_IDAT ? PNG_HAVE_PLTE
                                          : PNG_HAVE_IHDR);
        }
        png_set_unknown_chunks(png, info, c->unk, (int)img->nchunks);
    }
    png_write_info(png, info);
    if (img->bit_depth < 8) png_set_packing(png);
    if (img->bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
    size_t rowbytes = (size_t)img->width * img->channels * (img->bit_depth == 16 ? 2 : 1);
    c->rows = malloc(sizeof(png_bytep) * img->height);
    if (!c->rows) { c->wr.oom = 1; png_error(png, "out of memory"); }
    for (uint32_t y = 0; y < img->height; y++) c->rows[y] = img->data + (size_t)y * rowbytes;
    png_write_image(png, c->rows);   /* handles Adam7 passes itself */
    png_write_end(png, info);
    return VDM_OK;
}

vdm_status vdm_png_write_mem(const vdm_image *img, uint8_t **out, size_t *out_size)
{
    VDM_RETURN_IF(!img || !out || !out_size, VDM_ERR_ARG);
    *out = NULL;
    *out_size = 0;
    vdm_codec_clear_error();
    VDM_FORWARD(vdm_image_validate(img));
    write_ctx *c = calloc(1, sizeof *c);
    if (!c) return VDM_ERR_NOMEM;
    c->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_err_fn, png_warn_fn);
    if (c->png) c->info = png_create_info_struct(c->png);
    vdm_status st;
    if (!c->png || !c->info) st = VDM_ERR_NOMEM;
    else st = write_body(c, img);
    png_destroy_write_struct(c->png ? &c->png : NULL, c->info ? &c->info : NULL);
    free(c->rows);
    free(c->unk);
    if (st == VDM_OK) {
        *out = c->wr.buf;
        *out_size = c->wr.size;
    } else {
        free(c->wr.buf);
    }
    free(c);
    return st;
}

/* ------------------------------------------------------------------------ */

vdm_status vdm_image_to_rgb8(const vdm_image *img, uint8_t **rgb)
{
    VDM_RETURN_IF(!img || !rgb || !img->data, VDM_ERR_ARG);
    *rgb = NULL;
    size_t np = (size_t)img->width * img->height;
    uint8_t *o = malloc(np * 3);
    if (!o) return VDM_ERR_NOMEM;
    const unsigned ch = img->channels, bd = img->bit_depth;
    const uint16_t *s16 = (const uint16_t *)(const void *)img->data;
    /* Exact scale of a d-bit gray level to 8 bits: 255/(2^d-1) is 255, 85, 17. */
    const unsigned lowmul = bd == 1 ? 255 : bd == 2 ? 85 : bd == 4 ? 17 : 1;
    for (size_t i = 0; i < np; i++) {
        uint8_t px[3];
        if (img->color_type == VDM_PNG_PALETTE) {
            unsigned idx = img->data[i];
            if (idx >= img->palette_size) { free(o); set_err("palette index out of range"); return VDM_ERR_CORRUPT; }
            memcpy(px, img->palette[idx], 3);
        } else {
            unsigned nc = (img->color_type == VDM_PNG_RGB || img->color_type == VDM_PNG_RGBA) ? 3 : 1;
            for (unsigned k = 0; k < nc; k++) {
                uint32_t v;
                if (bd == 16) v = ((uint32_t)s16[i * ch + k] * 255u + 32767u) / 65535u;
                else v = (uint32_t)img->data[i * ch + k] * lowmul;
                px[k] = (uint8_t)v;
            }
            if (nc == 1) px[1] = px[2] = px[0];
        }
        memcpy(o + i * 3, px, 3);
    }
    *rgb = o;
    return VDM_OK;
}

vdm_status vdm_png_load_rgb8(const char *path, uint8_t **rgb, uint32_t *width,
                             uint32_t *height)
{
    VDM_RETURN_IF(!path || !rgb || !width || !height, VDM_ERR_ARG);
    *rgb = NULL;
    *width = *height = 0;
    vdm_image *img = NULL;
    VDM_FORWARD(vdm_png_read_file(path, &img));
    vdm_status st = vdm_image_to_rgb8(img, rgb);
    if (st == VDM_OK) {
        *width = img->width;
        *height = img->height;
    }
    vdm_image_free(img);
    return st;
}
