/* bench_train.c — training throughput in 32x32 patches per second (one
 * update = forward + backward + Adam + EMA on a batch), for a few network
 * sizes, on synthetic images (throughput does not depend on the pixels).
 *
 * usage: bench_train [threads=2] [seconds per config=8] [batch=8]
 * Prints one line per config: wall-clock patches/s, and patches per CPU-second
 * times the thread count; benchmarks/RESULTS.md ("model / training")
 * records the numbers with the machine they came from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/vdm_train.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Process CPU time (all threads): on a shared machine the wall clock mostly
 * measures the neighbours, so we also report patches per CPU-second x threads
 * (what an idle machine with that many cores would give, if the threads
 * scale). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double secs = argc > 2 ? atof(argv[2]) : 8.0;
    int batch = argc > 3 ? atoi(argv[3]) : 8;
    if (threads < 1 || secs <= 0 || batch < 1) {
        fprintf(stderr, "usage: bench_train [threads] [seconds] [batch]\n");
        return 1;
    }
    /* synthetic 256x256 images */
    enum { S = 256, NIMG = 4 };
    uint8_t *px = malloc((size_t)S * S * 3 * NIMG);
    vdm_rgb8 imgs[NIMG];
    uint64_t x = 0x12345;
    for (size_t i = 0; i < (size_t)S * S * 3 * NIMG; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        px[i] = (uint8_t)(x >> 56);
    }
    for (int i = 0; i < NIMG; i++) imgs[i] = (vdm_rgb8){ px + (size_t)i * S * S * 3, S, S };

    static const struct { int width, blocks; } sizes[] = { { 16, 2 }, { 32, 4 }, { 48, 6 }, { 64, 8 } };
    printf("# bench_train: %d threads, batch %d of 32x32, learned schedule, T=16, SiLU, Fourier 7,8, emb 64\n",
           threads, batch);
    printf("%-14s %10s %12s %12s %12s %14s\n", "width x blocks", "params", "MFLOP/px fwd", "patches/s",
           "ms/update", "cpu-patches/s");
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        vdm_train_config c;
        vdm_train_config_default(&c);
        c.net.width = sizes[k].width;
        c.net.blocks = sizes[k].blocks;
        c.batch = batch;
        c.crop = 32;
        vdm_trainer *t = NULL;
        vdm_status st = vdm_trainer_create(&c, imgs, NIMG, threads, &t);
        if (st != VDM_OK) {
            fprintf(stderr, "bench_train: %s\n", vdm_error_name(st));
            return 1;
        }
        vdm_train_stats s;
        for (int w = 0; w < 3; w++) vdm_trainer_step(t, &s);   /* warm-up: page faults, BLAS buffers */
        int n = 0;
        double t0 = now_s(), c0 = cpu_s(), t1;
        do {
            if (vdm_trainer_step(t, &s) != VDM_OK) { fprintf(stderr, "bench_train: step failed\n"); return 1; }
            n++;
            t1 = now_s();
        } while (t1 - t0 < secs);
        double per = (t1 - t0) / n, cper = (cpu_s() - c0) / n;
        char name[32];
        snprintf(name, sizeof name, "%d x %d", sizes[k].width, sizes[k].blocks);
        printf("%-14s %10zu %12.3f %12.1f %12.1f %14.1f\n", name, vdm_trainer_param_count(t),
               vdm_net_flops_per_pixel(&c.net) * 1e-6, batch / per, per * 1e3, batch / cper * threads);
        fflush(stdout);
        vdm_trainer_free(t);
    }
    free(px);
    return 0;
}
