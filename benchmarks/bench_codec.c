/* bench_codec.c — the .vdz codec in-process on a folder of PNGs (default:
 * the 24 Kodak images): bits per sub-pixel, encode / decode seconds, the
 * classical method chosen, peak memory; every round trip is verified.
 *
 * usage: bench_codec [--effort E] [--cm 4|5|6|7] [--classical-only] [--csv] [FOLDER]
 * --cm 4 (5, 6) makes the encoder write method 4 (CM4; CM5, CM6) where it
 * writes method 9 (CM9) by default (vdm_encode_opts.cm_method).
 * It measures the classical coder (no model is loaded; --classical-only, or
 * its old name --fallback-only, is accepted for symmetry with the CLI).
 * For the model path use `vdmzip encode -v --model M` or
 * benchmarks/compare.sh --model M.
 * Times are wall clock of the library calls only (no file I/O, no PNG
 * writing), single thread. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "codec/png_io.h"
#include "codec/vdz.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    const char *dir = VDM_SHARED_DIR "/data/kodak";
    int effort = 1, csv = 0, cm = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--effort") && i + 1 < argc) effort = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cm") && i + 1 < argc) cm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--classical-only") || !strcmp(argv[i], "--fallback-only")) continue;
        else if (!strcmp(argv[i], "--csv")) csv = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_codec [--effort E] [--cm 4|5|6|7] [--classical-only] [--csv] [FOLDER]\n");
            return 2;
        }
        else dir = argv[i];
    }
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "bench_codec: cannot open %s\n", dir); return 2; }
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".png")) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmpstr);
    if (csv) printf("image,width,height,channels,bytes,bpsp,method,encode_s,decode_s\n");
    else printf("%-14s %9s %8s %-7s %8s %8s\n", "image", "bytes", "bpsp", "method", "enc s", "dec s");
    double tot_bits = 0, tot_samples = 0, tot_enc = 0, tot_dec = 0;
    int fails = 0;
    static const char *mname[] = { "stored", "zstd", "cm", "cm3", "cm4", "cm5", "cm6", "cm7", "cm8", "cm9" };
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        vdm_image *img = NULL, *back = NULL;
        if (vdm_png_read_file(path, &img) != VDM_OK) {
            fprintf(stderr, "%s: %s\n", names[i], vdm_png_last_error());
            fails++;
            continue;
        }
        vdm_encode_opts o;
        vdm_encode_opts_default(&o);
        o.effort = effort;
        o.cm_method = cm;
        uint8_t *f = NULL;
        size_t fn = 0;
        vdm_encode_stats s;
        double t0 = now();
        vdm_status st = vdm_vdz_encode(img, &o, &f, &fn, &s);
        double t1 = now();
        if (st == VDM_OK) st = vdm_vdz_decode(f, fn, NULL, &back);
        double t2 = now();
        int ok = st == VDM_OK && !memcmp(img->data, back->data,
                                         (size_t)vdm_image_sample_bytes(img->width, img->height, img->channels, img->bit_depth));
        if (!ok) {
            fprintf(stderr, "%s: ROUND TRIP FAILED (%s)\n", names[i], vdm_codec_last_error());
            fails++;
        } else {
            double bpsp = 8.0 * (double)fn / (double)s.samples;
            const char *m = s.used_model ? "model"
                          : s.classical_method >= 0 && s.classical_method < (int)(sizeof mname / sizeof mname[0]) ? mname[s.classical_method] : "?";
            if (csv)
                printf("%s,%u,%u,%u,%zu,%.5f,%s,%.4f,%.4f\n", names[i], img->width, img->height, img->channels, fn,
                       bpsp, m, t1 - t0, t2 - t1);
            else
                printf("%-14s %9zu %8.4f %-7s %8.3f %8.3f\n", names[i], fn, bpsp, m, t1 - t0, t2 - t1);
            tot_bits += 8.0 * (double)fn;
            tot_samples += (double)s.samples;
            tot_enc += t1 - t0;
            tot_dec += t2 - t1;
        }
        free(f);
        vdm_image_free(img);
        vdm_image_free(back);
        free(names[i]);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (!csv)
        printf("%-14s %9s %8.4f %-7s %8.3f %8.3f   (effort %d, cm %d; bpsp = total bits / total sub-pixels; peak RSS %ld MiB)\n",
               "ALL", "", tot_bits / (tot_samples > 0 ? tot_samples : 1), "", tot_enc, tot_dec, effort,
               cm ? cm : VDM_CLASSICAL_CM_DEFAULT, ru.ru_maxrss / 1024);
    return fails ? 1 : 0;
}
