/* kernels.c — backend names, the REF SIMD cap, a small parallel-for and a
 * thread pool.
 *
 * vdm_parallel_for starts threads per call (~tens of microseconds each),
 * unless the calling thread has bound a pool (vdm_pool_bind): then the pool's
 * sleeping workers take the chunks, which matters for small tiles where a
 * network pass is a dozen short layers.  Either way the split of [0, n) into
 * chunks is the same function of (n, nthreads). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "kernels/kernels.h"

const char *vdm_backend_name(vdm_backend b)
{
    switch (b) {
    case VDM_BACKEND_REF: return "ref";
    case VDM_BACKEND_CPU: return "cpu";
    case VDM_BACKEND_CUDA: return "cuda";
    default: return "unknown";
    }
}

static atomic_int g_simd_cap = VDM_SIMD_AVX512;

vdm_simd_level vdm_ref_simd_cap(vdm_simd_level max_level)
{
    return (vdm_simd_level)atomic_exchange(&g_simd_cap, (int)max_level);
}

vdm_simd_level vdm_ref_simd_level(void)
{
    int cpu = (int)vdm_cpu_simd_level(), cap = atomic_load(&g_simd_cap);
    return (vdm_simd_level)(cpu < cap ? cpu : cap);
}

typedef struct {
    vdm_range_fn fn;
    void *ctx;
    int i0, i1;
    int started;
} pf_job;

static void *pf_main(void *arg)
{
    pf_job *j = (pf_job *)arg;
    j->fn(j->ctx, j->i0, j->i1);
    return NULL;
}

/* ---- pool ----
 * The caller publishes a job under the mutex (bumping gen) and wakes the
 * workers; each runs its chunk and decrements pending; the last one wakes
 * the caller.  Workers sleep on the condition variable between jobs.
 * (Spinning instead was tried: on a machine busy with other processes the
 * worker often shares the caller's core, and spinning then costs far more
 * than it saves.) */
struct vdm_pool {
    int nthreads;                 /* workers + the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;            /* job generation, bumped per run */
    int pending;                  /* workers still busy with this generation */
    int quit;
    vdm_range_fn fn;              /* the current job */
    void *ctx;
    int n, parts;
};

typedef struct { vdm_pool *p; int id; } pool_arg;

static void chunk(int n, int parts, int t, int *i0, int *i1)
{
    *i0 = (int)((long long)n * t / parts);
    *i1 = (int)((long long)n * (t + 1) / parts);
}

static void *pool_main(void *arg)
{
    pool_arg a = *(pool_arg *)arg;
    free(arg);
    vdm_pool *p = a.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        vdm_range_fn fn = p->fn;
        void *ctx = p->ctx;
        const int n = p->n, parts = p->parts;
        pthread_mutex_unlock(&p->mu);
        if (a.id < parts) {
            int i0, i1;
            chunk(n, parts, a.id, &i0, &i1);
            if (i1 > i0) fn(ctx, i0, i1);
        }
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

vdm_pool *vdm_pool_create(int nthreads)
{
    if (nthreads < 1 || nthreads > 1024) return NULL;
    vdm_pool *p = (vdm_pool *)calloc(1, sizeof *p);
    if (!p) return NULL;
    p->nthreads = 1;
    p->th = (pthread_t *)calloc((size_t)nthreads, sizeof(pthread_t));
    if (!p->th || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->th);
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int t = 1; t < nthreads; t++) {
        pool_arg *a = (pool_arg *)malloc(sizeof *a);
        if (!a) break;
        a->p = p;
        a->id = t;
        if (pthread_create(&p->th[t], NULL, pool_main, a) != 0) {
            free(a);
            break;
        }
        p->nthreads = t + 1;
    }
    if (p->nthreads < nthreads) { /* could not start them all */
        vdm_pool_free(p);
        return NULL;
    }
    return p;
}

void vdm_pool_free(vdm_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < p->nthreads; t++) pthread_join(p->th[t], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->th);
    free(p);
}

int vdm_pool_threads(const vdm_pool *p) { return p ? p->nthreads : 0; }

/* Split [0, n) into `parts` chunks; chunk 0 on the caller, chunk t on worker t. */
static void pool_run(vdm_pool *p, int parts, int n, vdm_range_fn fn, void *ctx)
{
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->parts = parts;
    p->pending = p->nthreads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    int i0, i1;
    chunk(n, parts, 0, &i0, &i1);
    if (i1 > i0) fn(ctx, i0, i1);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static _Thread_local vdm_pool *bound_pool;

vdm_pool *vdm_pool_bind(vdm_pool *p)
{
    vdm_pool *old = bound_pool;
    bound_pool = p;
    return old;
}

vdm_status vdm_parallel_for(int nthreads, int n, vdm_range_fn fn, void *ctx)
{
    if (n <= 0) return VDM_OK;
    if (nthreads > n) nthreads = n;
    if (nthreads <= 1) {
        fn(ctx, 0, n);
        return VDM_OK;
    }
    if (bound_pool && bound_pool->nthreads >= nthreads) {
        pool_run(bound_pool, nthreads, n, fn, ctx);
        return VDM_OK;
    }
    pf_job *jobs = (pf_job *)malloc(sizeof(pf_job) * (size_t)nthreads);
    pthread_t *th = (pthread_t *)malloc(sizeof(pthread_t) * (size_t)nthreads);
    if (!jobs || !th) {
        free(jobs);
        free(th);
        fn(ctx, 0, n);
        return VDM_ERR_NOMEM;
    }
    vdm_status st = VDM_OK;
    for (int t = 0; t < nthreads; t++) {
        jobs[t].fn = fn;
        jobs[t].ctx = ctx;
        jobs[t].i0 = (int)((long long)n * t / nthreads);
        jobs[t].i1 = (int)((long long)n * (t + 1) / nthreads);
        jobs[t].started = 0;
    }
    for (int t = 1; t < nthreads; t++) {
        jobs[t].started = pthread_create(&th[t], NULL, pf_main, &jobs[t]) == 0;
        if (!jobs[t].started) {
            st = VDM_ERR_INTERNAL;
            fn(ctx, jobs[t].i0, jobs[t].i1); /* do it here: the result stays complete */
        }
    }
    fn(ctx, jobs[0].i0, jobs[0].i1);
    for (int t = 1; t < nthreads; t++)
        if (jobs[t].started) pthread_join(th[t], NULL);
    free(jobs);
    free(th);
    return st;
}
