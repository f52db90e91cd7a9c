/* bench_cm.c — the classical coders on crops, for tuning and ablations.
 *   bench_cm METHOD CROP [-d] FILE...
 * METHOD 3 (CM3), 4 (CM4) ... 9 (CM9); CROP: side of the centre crop (0: whole image);
 * -d also decodes and checks.  Prints bits per sub-pixel per file and the
 * total, and seconds each way; per file also the payload's size and FNV-1a
 * hash, to compare runs byte for byte.  VDMZIP_CM_SCALAR=1 in the
 * environment runs CM4-CM9 mixers on their scalar code instead of the
 * SIMD twin (the same bytes; codec/cm/cm4_mix.h). */
#include "codec/cm/cm4.h"
#include "codec/cm/classical.h"
#include "codec/png_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: bench_cm METHOD CROP [-d] FILE...\n"); return 2; }
    const int method = atoi(argv[1]);
    const uint32_t crop = (uint32_t)atoi(argv[2]);
    int ai = 3, dec = 0;
    if (!strcmp(argv[ai], "-d")) { dec = 1; ai++; }
    double tbits = 0, tsub = 0, te = 0, td = 0;
    for (; ai < argc; ai++) {
        uint8_t *rgb;
        uint32_t W, H;
        if (vdm_png_load_rgb8(argv[ai], &rgb, &W, &H) != VDM_OK) { fprintf(stderr, "%s: cannot read\n", argv[ai]); return 1; }
        uint32_t cw = crop && crop < W ? crop : W, ch = crop && crop < H ? crop : H;
        uint32_t x0 = (W - cw) / 2, y0 = (H - ch) / 2;
        uint8_t *img = malloc((size_t)cw * ch * 3);
        for (uint32_t y = 0; y < ch; y++) memcpy(img + (size_t)y * cw * 3, rgb + ((size_t)(y + y0) * W + x0) * 3, (size_t)cw * 3);
        free(rgb);
        vdm_subimage g = { 0 };
        g.width = cw; g.height = ch; g.nch = 3; g.bit_depth = 8; g.maxval = 255; g.rgb = 1;
        g.data = img; g.stride = 3; g.chan[0] = 0; g.chan[1] = 1; g.chan[2] = 2;
        vdm_buf b = { 0 };
        double t0 = now();
        vdm_status st = method == 3 ? vdm_cm3_encode(&g, &b) : vdm_cm_encode((unsigned)method, &g, NULL, &b);
        double t1 = now();
        if (st != VDM_OK) { fprintf(stderr, "encode failed %d\n", st); return 1; }
        if (dec) {
            uint8_t *o = calloc((size_t)cw * ch * 3, 1);
            vdm_subimage h = g;
            h.data = o;
            double t2 = now();
            st = method == 3 ? vdm_cm3_decode(&h, b.data, b.size) : vdm_cm_decode((unsigned)method, &h, NULL, b.data, b.size);
            td += now() - t2;
            if (st != VDM_OK || memcmp(o, img, (size_t)cw * ch * 3)) { fprintf(stderr, "%s: DECODE MISMATCH (%d)\n", argv[ai], st); return 1; }
            free(o);
        }
        const double bits = (double)b.size * 8, sub = (double)cw * ch * 3;
        uint64_t fnv = 0xcbf29ce484222325u;   /* FNV-1a of the payload: compare runs byte for byte */
        for (size_t i = 0; i < b.size; i++) fnv = (fnv ^ b.data[i]) * 0x100000001b3u;
        printf("%-40s %8.4f bpsp  %6.2f s  %zu bytes  fnv %016llx\n", argv[ai], bits / sub, t1 - t0,
               b.size, (unsigned long long)fnv);
        tbits += bits; tsub += sub; te += t1 - t0;
        free(b.data);
        free(img);
    }
    printf("TOTAL %.4f bpsp  enc %.2f s  dec %.2f s  (%.0f bytes)\n", tbits / tsub, te, td, tbits / 8);
    return 0;
}
