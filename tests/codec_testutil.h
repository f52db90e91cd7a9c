/* codec_testutil.h — shared by tests/test_codec_*.c and tests/test_cli_*.c.
 *
 * A tiny PNG WRITER that does not use libpng (zlib + CRC by hand), so that
 * the reader under test is checked against an independent encoder: every
 * colour type and bit depth, Adam7 interlacing, PLTE/tRNS and arbitrary
 * ancillary chunks at chosen positions.  Plus deterministic pseudo-random
 * images, file helpers and a command runner for the CLI tests.
 * Everything is static: include it from one test file per program. */
#ifndef VDM_CODEC_TESTUTIL_H
#define VDM_CODEC_TESTUTIL_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <zlib.h>

typedef struct {
    char name[5];
    int loc;                 /* 0 before PLTE, 1 before IDAT, 2 after IDAT */
    const uint8_t *data;
    uint32_t len;
} tu_chunk;

typedef struct {
    uint32_t w, h;
    int ct, bd, interlace;
    const uint16_t *s;       /* w*h*channels samples, unscaled */
    const uint8_t (*pal)[3];
    int npal;
    const uint8_t *trns;     /* palette alpha */
    int ntrns;
    const uint16_t *key;     /* gray/RGB transparent key (NULL: none) */
    const tu_chunk *chunks;
    int nchunks;
} tu_png_desc;

static __attribute__((unused)) unsigned tu_channels(int ct)
{
    return ct == 0 ? 1 : ct == 2 ? 3 : ct == 3 ? 1 : ct == 4 ? 2 : 4;
}

typedef struct { uint8_t *d; size_t n, cap; } tu_buf;

static __attribute__((unused)) void tu_put(tu_buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->d = realloc(b->d, b->cap);
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static __attribute__((unused)) void tu_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }

static __attribute__((unused)) void tu_chunk_out(tu_buf *b, const char *type, const uint8_t *data, uint32_t len)
{
    uint8_t hdr[8];
    tu_be32(hdr, len);
    memcpy(hdr + 4, type, 4);
    tu_put(b, hdr, 8);
    if (len) tu_put(b, data, len);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (len) crc = crc32(crc, data, len);
    uint8_t c[4];
    tu_be32(c, (uint32_t)crc);
    tu_put(b, c, 4);
}

/* Append the filter-0 rows of the sub-image (x0,y0,dx,dy) to raw. */
static __attribute__((unused)) void tu_pass(tu_buf *raw, const tu_png_desc *d, uint32_t x0, uint32_t y0, uint32_t dx, uint32_t dy)
{
    const unsigned ch = tu_channels(d->ct);
    if (x0 >= d->w || y0 >= d->h) return;
    uint32_t pw = (d->w - x0 + dx - 1) / dx;
    size_t rb = ((size_t)pw * ch * d->bd + 7) / 8;
    uint8_t *row = malloc(rb + 1);
    for (uint32_t y = y0; y < d->h; y += dy) {
        memset(row, 0, rb + 1);
        size_t i = 0;
        for (uint32_t x = x0; x < d->w; x += dx)
            for (unsigned c = 0; c < ch; c++, i++) {
                uint32_t v = d->s[((size_t)y * d->w + x) * ch + c];
                if (d->bd == 8) row[1 + i] = (uint8_t)v;
                else if (d->bd == 16) { row[1 + 2 * i] = (uint8_t)(v >> 8); row[2 + 2 * i] = (uint8_t)v; }
                else row[1 + (i * d->bd) / 8] |= (uint8_t)(v << (8 - d->bd - (i * d->bd) % 8));
            }
        tu_put(raw, row, rb + 1);
    }
    free(row);
}

/* Encode a PNG; returns malloc'd bytes (*n set). */
static __attribute__((unused)) uint8_t *tu_png(const tu_png_desc *d, size_t *n)
{
    tu_buf b = { 0 }, raw = { 0 };
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    tu_put(&b, sig, 8);
    uint8_t ihdr[13];
    tu_be32(ihdr, d->w);
    tu_be32(ihdr + 4, d->h);
    ihdr[8] = (uint8_t)d->bd;
    ihdr[9] = (uint8_t)d->ct;
    ihdr[10] = 0;
    ihdr[11] = 0;
    ihdr[12] = (uint8_t)d->interlace;
    tu_chunk_out(&b, "IHDR", ihdr, 13);
    for (int i = 0; i < d->nchunks; i++)
        if (d->chunks[i].loc == 0) tu_chunk_out(&b, d->chunks[i].name, d->chunks[i].data, d->chunks[i].len);
    if (d->npal) tu_chunk_out(&b, "PLTE", &d->pal[0][0], (uint32_t)(3 * d->npal));
    if (d->ntrns) tu_chunk_out(&b, "tRNS", d->trns, (uint32_t)d->ntrns);
    if (d->key) {
        uint8_t k[6];
        int nk = d->ct == 0 ? 1 : 3;
        for (int i = 0; i < nk; i++) { k[2 * i] = (uint8_t)(d->key[i] >> 8); k[2 * i + 1] = (uint8_t)d->key[i]; }
        tu_chunk_out(&b, "tRNS", k, (uint32_t)(2 * nk));
    }
    for (int i = 0; i < d->nchunks; i++)
        if (d->chunks[i].loc == 1) tu_chunk_out(&b, d->chunks[i].name, d->chunks[i].data, d->chunks[i].len);
    if (d->interlace) {
        static const uint32_t P[7][4] = { { 0, 0, 8, 8 }, { 4, 0, 8, 8 }, { 0, 4, 4, 8 }, { 2, 0, 4, 4 },
                                          { 0, 2, 2, 4 }, { 1, 0, 2, 2 }, { 0, 1, 1, 2 } };
        for (int p = 0; p < 7; p++) tu_pass(&raw, d, P[p][0], P[p][1], P[p][2], P[p][3]);
    } else {
        tu_pass(&raw, d, 0, 0, 1, 1);
    }
    uLongf zn = compressBound(raw.n);
    uint8_t *z = malloc(zn);
    compress2(z, &zn, raw.d, raw.n, 6);
    /* split IDAT in two chunks when possible: readers must join them */
    if (zn > 8) {
        tu_chunk_out(&b, "IDAT", z, (uint32_t)(zn / 2));
        tu_chunk_out(&b, "IDAT", z + zn / 2, (uint32_t)(zn - zn / 2));
    } else {
        tu_chunk_out(&b, "IDAT", z, (uint32_t)zn);
    }
    for (int i = 0; i < d->nchunks; i++)
        if (d->chunks[i].loc == 2) tu_chunk_out(&b, d->chunks[i].name, d->chunks[i].data, d->chunks[i].len);
    tu_chunk_out(&b, "IEND", NULL, 0);
    free(z);
    free(raw.d);
    *n = b.n;
    return b.d;
}

/* ---- deterministic content ----------------------------------------------- */

static __attribute__((unused)) uint64_t tu_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Smooth gradients + noise + a flat block, values < maxv+1: exercises
 * prediction, flat runs and the extremes 0 and maxv. */
static __attribute__((unused)) uint16_t *tu_content(uint32_t w, uint32_t h, unsigned ch, uint32_t maxv, uint64_t seed)
{
    uint16_t *s = malloc((size_t)w * h * ch * 2 + 2);
    uint64_t r = seed * 2654435761u + 12345;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (unsigned c = 0; c < ch; c++) {
                uint64_t v;
                if (x < w / 4 && y < h / 4) v = (c * 7) % (maxv + 1);               /* flat */
                else if ((x + y) % 17 == 0) v = tu_rng(&r) % (maxv + 1);            /* noise */
                else v = ((uint64_t)(x * 3 + y * 2 + c * 11) * (maxv + 1) / (3 * w + 2 * h + 40)) % (maxv + 1);
                if (x == w - 1 && y == h - 1) v = maxv;
                s[((size_t)y * w + x) * ch + c] = (uint16_t)v;
            }
    return s;
}

/* ---- files and commands --------------------------------------------------- */

static __attribute__((unused)) int tu_write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t k = fwrite(d, 1, n, f);
    return (fclose(f) || k != n) ? -1 : 0;
}

static __attribute__((unused)) uint8_t *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    tu_buf b = { 0 };
    uint8_t tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) tu_put(&b, tmp, k);
    fclose(f);
    if (!b.d) b.d = malloc(1);
    *n = b.n;
    return b.d;
}

static __attribute__((unused)) int tu_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A fresh temporary directory (malloc'd path). */
static __attribute__((unused)) char *tu_tmpdir(const char *tag)
{
    char *p = malloc(256);
    snprintf(p, 256, "/tmp/vdm_%s_XXXXXX", tag);
    if (!mkdtemp(p)) { free(p); return NULL; }
    return p;
}

/* Number of directory entries (besides . and ..) — to find leftovers. */
static __attribute__((unused)) int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static __attribute__((unused)) void tu_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Run a shell command; returns the exit status (or -1). */
static __attribute__((unused)) int tu_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static __attribute__((unused)) int tu_run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int r = system(cmd);
    if (r == -1 || !WIFEXITED(r)) return -1;
    return WEXITSTATUS(r);
}

#endif
