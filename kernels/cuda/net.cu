// net.cu — the CUDA coding path's host side (kernels/cuda_api.h): the network
// context (weights uploaded once, activations kept on the device between the
// layers) and the one-shot single ops the tests compare with REF.
//
// Every CUDA runtime call is checked; a failure becomes VDM_ERR_CUDA (the
// error state is cleared with cudaGetLastError so a later call can report
// its own).  Nothing here prints or exits.
#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cuda/cuda_internal.cuh"
#include "kernels/cuda_api.h"
#include "kernels/kernels.h"

vdm_status vdm_cu_ready(void)
{
    int n = 0;
    VDM_CU(cudaGetDeviceCount(&n));
    VDM_RETURN_IF(n < 1, VDM_ERR_CUDA);
    VDM_CU(cudaSetDevice(0));
    return VDM_OK;
}

static vdm_status cu_alloc(float **p, size_t nfloats)
{
    *p = NULL;
    VDM_CU(cudaMalloc((void **)p, sizeof(float) * (nfloats ? nfloats : 1)));
    return VDM_OK;
}

static vdm_cu_freqs freqs_of(const int32_t *exps, int nf)
{
    vdm_cu_freqs fr;
    memset(&fr, 0, sizeof fr);
    for (int k = 0; k < nf && k < VDM_CUDA_MAX_FOURIER; k++) fr.f[k] = vdm_fourier_freq(exps[k]);
    return fr;
}

static int ch_ok(int c) { return c >= 1 && c <= VDM_KERNEL_MAX_CH; }

// Offset o of a tensor of n floats lies inside a block of np floats.
static int in_block(size_t o, size_t n, size_t np) { return o <= np && n <= np - o; }

void vdm_cu_shape_free(vdm_cu_net_shape *s)
{
    free(s->w1);
    free(s->w2);
    free(s->b2);
    memset(s, 0, sizeof *s);
}

vdm_status vdm_cu_shape_init(vdm_cu_net_shape *s, const vdm_cuda_net_desc *d)
{
    memset(s, 0, sizeof *s);
    VDM_RETURN_IF(!d || !ch_ok(d->channels) || !ch_ok(d->out_channels) || !ch_ok(d->width), VDM_ERR_ARG);
    VDM_RETURN_IF(d->blocks < 1 || d->blocks > 4096, VDM_ERR_ARG);
    VDM_RETURN_IF(d->n_fourier < 0 || d->n_fourier > VDM_CUDA_MAX_FOURIER, VDM_ERR_ARG);
    VDM_RETURN_IF(!ch_ok(d->channels * (1 + 2 * d->n_fourier)), VDM_ERR_ARG);
    VDM_RETURN_IF(d->act != VDM_KACT_SILU && d->act != VDM_KACT_RELU, VDM_ERR_ARG);
    VDM_RETURN_IF(!d->blk_w1 || !d->blk_w2 || !d->blk_b2, VDM_ERR_ARG);
    const size_t C = (size_t)d->width, F = (size_t)d->channels * (size_t)(1 + 2 * d->n_fourier),
                 Ko = (size_t)d->out_channels, np = d->nparams;
    VDM_RETURN_IF(!in_block(d->in_w, 9 * F * C, np) || !in_block(d->in_b, C, np), VDM_ERR_ARG);
    VDM_RETURN_IF(!in_block(d->out_w, 9 * C * Ko, np) || !in_block(d->out_b, Ko, np), VDM_ERR_ARG);
    for (int b = 0; b < d->blocks; b++)
        VDM_RETURN_IF(!in_block(d->blk_w1[b], 9 * C * C, np) || !in_block(d->blk_w2[b], 9 * C * C, np) ||
                          !in_block(d->blk_b2[b], C, np), VDM_ERR_ARG);
    s->K = d->channels;
    s->Ko = d->out_channels;
    s->C = d->width;
    s->B = d->blocks;
    s->nf = d->n_fourier;
    s->F = (int)F;
    s->act = d->act;
    s->fr = freqs_of(d->fourier_exp, d->n_fourier);
    s->np = np;
    s->in_w = d->in_w;
    s->in_b = d->in_b;
    s->out_w = d->out_w;
    s->out_b = d->out_b;
    const size_t nb = sizeof(size_t) * (size_t)d->blocks;
    s->w1 = (size_t *)malloc(nb);
    s->w2 = (size_t *)malloc(nb);
    s->b2 = (size_t *)malloc(nb);
    if (!s->w1 || !s->w2 || !s->b2) {
        vdm_cu_shape_free(s);
        return VDM_ERR_NOMEM;
    }
    memcpy(s->w1, d->blk_w1, nb);
    memcpy(s->w2, d->blk_w2, nb);
    memcpy(s->b2, d->blk_b2, nb);
    return VDM_OK;
}

/* ============================================================ the network */

struct vdm_cuda_net {
    vdm_cu_net_shape sh;
    cudaStream_t stream;
    int have_stream;
    float *w;                          // the parameter block on the device
    size_t cap_pix;                    // activations hold this many pixels
    float *z, *feat, *h, *a, *v, *out;
    size_t cap_gb;                     // floats in gb
    float *gb;
};

// The activations (sized by grow_pixels).
static void free_pixels(vdm_cuda_net *g)
{
    vdm_cu_free(&g->z);
    vdm_cu_free(&g->feat);
    vdm_cu_free(&g->h);
    vdm_cu_free(&g->a);
    vdm_cu_free(&g->v);
    vdm_cu_free(&g->out);
    g->cap_pix = 0;
}

void vdm_cuda_net_free(vdm_cuda_net *g)
{
    if (!g) return;
    vdm_cu_free(&g->w);
    free_pixels(g);
    vdm_cu_free(&g->gb);
    if (g->have_stream) (void)cudaStreamDestroy(g->stream);
    (void)cudaGetLastError();
    vdm_cu_shape_free(&g->sh);
    free(g);
}

// Activations for cap pixels (the old ones are dropped: nothing lives in
// them between forwards).
static vdm_status grow_pixels(vdm_cuda_net *g, size_t cap)
{
    if (cap <= g->cap_pix && g->z) return VDM_OK;
    free_pixels(g);
    const size_t C = (size_t)g->sh.C;
    VDM_FORWARD(cu_alloc(&g->z, cap * (size_t)g->sh.K));
    VDM_FORWARD(cu_alloc(&g->feat, cap * (size_t)g->sh.F));
    VDM_FORWARD(cu_alloc(&g->h, cap * C));
    VDM_FORWARD(cu_alloc(&g->a, cap * C));
    VDM_FORWARD(cu_alloc(&g->v, cap * C));
    VDM_FORWARD(cu_alloc(&g->out, cap * (size_t)g->sh.Ko));
    g->cap_pix = cap;
    return VDM_OK;
}

vdm_status vdm_cuda_net_create(const vdm_cuda_net_desc *d, const float *params, size_t max_pixels,
                               vdm_cuda_net **out)
{
    VDM_RETURN_IF(!out || !params, VDM_ERR_ARG);
    *out = NULL;
    vdm_cu_net_shape sh;
    VDM_FORWARD(vdm_cu_shape_init(&sh, d));
    vdm_status st = vdm_cu_ready();
    vdm_cuda_net *g = st == VDM_OK ? (vdm_cuda_net *)calloc(1, sizeof *g) : NULL;
    if (!g) {
        vdm_cu_shape_free(&sh);
        return st == VDM_OK ? VDM_ERR_NOMEM : st;
    }
    g->sh = sh;
    if (cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking) == cudaSuccess) g->have_stream = 1;
    else { (void)cudaGetLastError(); st = VDM_ERR_CUDA; }
    if (st == VDM_OK) st = cu_alloc(&g->w, sh.np);
    if (st == VDM_OK && cudaMemcpy(g->w, params, sizeof(float) * sh.np, cudaMemcpyHostToDevice) != cudaSuccess) {
        (void)cudaGetLastError();
        st = VDM_ERR_CUDA;
    }
    if (st == VDM_OK) st = grow_pixels(g, max_pixels ? max_pixels : 1);
    if (st != VDM_OK) { vdm_cuda_net_free(g); return st; }
    *out = g;
    return VDM_OK;
}

// The layer sequence of model/net.c's REF inference forward, enqueued on
// g->stream (see cuda_api.h).  Buffers: h and a single (the residual add is
// the accumulating conv2), v = conv1 output activated in place.
static vdm_status enqueue_forward(vdm_cuda_net *g, int N, int H, int W)
{
    const size_t P = (size_t)N * (size_t)H * (size_t)W, C = (size_t)g->sh.C;
    const float *w = g->w;
    cudaStream_t s = g->stream;
    VDM_CU(vdm_cu_fourier(s, g->feat, g->z, P, g->sh.K, g->sh.fr, g->sh.nf));
    VDM_CU(vdm_cu_conv3x3(s, g->h, g->a, g->feat, w + g->sh.in_w, w + g->sh.in_b, 0, N, H, W, g->sh.F, g->sh.C, 0,
                          g->sh.act));
    for (int b = 0; b < g->sh.B; b++) {
        const float *bias1 = g->gb + (size_t)b * (size_t)N * C; // [N][C], per image
        VDM_CU(vdm_cu_conv3x3(s, g->v, g->v, g->a, w + g->sh.w1[b], bias1, C, N, H, W, g->sh.C, g->sh.C, 0,
                              g->sh.act));
        VDM_CU(vdm_cu_conv3x3(s, g->h, g->a, g->v, w + g->sh.w2[b], w + g->sh.b2[b], 0, N, H, W, g->sh.C, g->sh.C, 1,
                              g->sh.act));
    }
    VDM_CU(vdm_cu_conv3x3(s, g->out, NULL, g->a, w + g->sh.out_w, w + g->sh.out_b, 0, N, H, W, g->sh.C, g->sh.Ko, 0,
                          g->sh.act));
    return VDM_OK;
}

vdm_status vdm_cuda_net_forward(vdm_cuda_net *g, const float *z, const float *blk_bias,
                                int N, int H, int W, float *out)
{
    VDM_RETURN_IF(!g || !z || !blk_bias || !out || N < 1 || H < 1 || W < 1, VDM_ERR_ARG);
    const size_t P = (size_t)N * (size_t)H * (size_t)W;
    const size_t ngb = (size_t)g->sh.B * (size_t)N * (size_t)g->sh.C;
    VDM_CU(cudaSetDevice(0));
    VDM_FORWARD(grow_pixels(g, P));
    if (ngb > g->cap_gb || !g->gb) {
        vdm_cu_free(&g->gb);
        g->cap_gb = 0;
        VDM_FORWARD(cu_alloc(&g->gb, ngb));
        g->cap_gb = ngb;
    }
    cudaStream_t s = g->stream;
    VDM_CU(cudaMemcpyAsync(g->z, z, sizeof(float) * P * (size_t)g->sh.K, cudaMemcpyHostToDevice, s));
    VDM_CU(cudaMemcpyAsync(g->gb, blk_bias, sizeof(float) * ngb, cudaMemcpyHostToDevice, s));
    vdm_status st = enqueue_forward(g, N, H, W);
    if (st == VDM_OK &&
        cudaMemcpyAsync(out, g->out, sizeof(float) * P * (size_t)g->sh.Ko, cudaMemcpyDeviceToHost, s) != cudaSuccess)
        st = VDM_ERR_CUDA;
    // Always drain the stream: a failed enqueue may leave work behind that
    // still reads the caller's buffers.
    if (cudaStreamSynchronize(s) != cudaSuccess) st = VDM_ERR_CUDA;
    if (st != VDM_OK) (void)cudaGetLastError();
    return st;
}

/* ============================================================ single ops */

// Device buffers of one single-op call, freed together.
typedef struct { float *p[5]; } cu_bufs;

static void bufs_free(cu_bufs *b)
{
    for (int i = 0; i < 5; i++) vdm_cu_free(&b->p[i]);
}

static vdm_status upload(float **d, const float *h, size_t n)
{
    VDM_FORWARD(cu_alloc(d, n));
    VDM_CU(cudaMemcpy(*d, h, sizeof(float) * n, cudaMemcpyHostToDevice));
    return VDM_OK;
}

static vdm_status download(float *h, const float *d, size_t n)
{
    VDM_CU(cudaMemcpy(h, d, sizeof(float) * n, cudaMemcpyDeviceToHost));
    return VDM_OK;
}

static vdm_status conv_run(cu_bufs *b, float *out, const float *in, const float *w, const float *bias,
                           size_t bias_nstride, int N, int H, int W, int Cin, int Cout, int accumulate,
                           float *act_out, int act)
{
    const size_t P = (size_t)N * (size_t)H * (size_t)W;
    float **d_in = &b->p[0], **d_w = &b->p[1], **d_bias = &b->p[2], **d_out = &b->p[3], **d_act = &b->p[4];
    VDM_FORWARD(upload(d_in, in, P * (size_t)Cin));
    VDM_FORWARD(upload(d_w, w, 9 * (size_t)Cin * (size_t)Cout));
    if (bias) VDM_FORWARD(upload(d_bias, bias, (size_t)(N - 1) * bias_nstride + (size_t)Cout));
    if (accumulate) VDM_FORWARD(upload(d_out, out, P * (size_t)Cout));
    else VDM_FORWARD(cu_alloc(d_out, P * (size_t)Cout));
    float *dact = NULL;
    if (act_out == out) dact = *d_out;
    else if (act_out) { VDM_FORWARD(cu_alloc(d_act, P * (size_t)Cout)); dact = *d_act; }
    VDM_CU(vdm_cu_conv3x3(0, *d_out, dact, *d_in, *d_w, bias ? *d_bias : NULL, bias_nstride, N, H, W, Cin, Cout,
                          accumulate, act));
    VDM_CU(cudaDeviceSynchronize());
    VDM_FORWARD(download(out, *d_out, P * (size_t)Cout));
    if (act_out && act_out != out) VDM_FORWARD(download(act_out, *d_act, P * (size_t)Cout));
    return VDM_OK;
}

vdm_status vdm_cuda_conv3x3(float *out, const float *in, const float *w, const float *bias,
                            size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                            int accumulate, float *act_out, int act)
{
    VDM_RETURN_IF(!out || !in || !w || N < 1 || H < 1 || W < 1 || !ch_ok(Cin) || !ch_ok(Cout), VDM_ERR_ARG);
    VDM_RETURN_IF(act_out && act != VDM_KACT_SILU && act != VDM_KACT_RELU, VDM_ERR_ARG);
    VDM_FORWARD(vdm_cu_ready());
    cu_bufs b;
    memset(&b, 0, sizeof b);
    vdm_status st = conv_run(&b, out, in, w, bias, bias_nstride, N, H, W, Cin, Cout, accumulate, act_out, act);
    bufs_free(&b);
    return st;
}

static vdm_status act_run(cu_bufs *b, float *out, const float *in, size_t n, int act)
{
    VDM_FORWARD(upload(&b->p[0], in, n));
    VDM_CU(vdm_cu_act(0, b->p[0], b->p[0], n, act));
    VDM_CU(cudaDeviceSynchronize());
    return download(out, b->p[0], n);
}

vdm_status vdm_cuda_act_forward(float *out, const float *in, size_t n, int act)
{
    VDM_RETURN_IF(!out || !in || (act != VDM_KACT_SILU && act != VDM_KACT_RELU), VDM_ERR_ARG);
    if (n == 0) return VDM_OK;
    VDM_FORWARD(vdm_cu_ready());
    cu_bufs b;
    memset(&b, 0, sizeof b);
    vdm_status st = act_run(&b, out, in, n, act);
    bufs_free(&b);
    return st;
}

static vdm_status fourier_run(cu_bufs *b, float *feat, const float *z, size_t npix, int C,
                              const int32_t *exps, int nf)
{
    const size_t F = (size_t)C * (size_t)(1 + 2 * nf);
    VDM_FORWARD(upload(&b->p[0], z, npix * (size_t)C));
    VDM_FORWARD(cu_alloc(&b->p[1], npix * F));
    VDM_CU(vdm_cu_fourier(0, b->p[1], b->p[0], npix, C, freqs_of(exps, nf), nf));
    VDM_CU(cudaDeviceSynchronize());
    return download(feat, b->p[1], npix * F);
}

vdm_status vdm_cuda_fourier_forward(float *feat, const float *z, size_t npix, int C,
                                    const int32_t *exps, int nf)
{
    VDM_RETURN_IF(!feat || !z || !ch_ok(C) || nf < 0 || nf > VDM_CUDA_MAX_FOURIER || (nf && !exps), VDM_ERR_ARG);
    if (npix == 0) return VDM_OK;
    VDM_FORWARD(vdm_cu_ready());
    cu_bufs b;
    memset(&b, 0, sizeof b);
    vdm_status st = fourier_run(&b, feat, z, npix, C, exps, nf);
    bufs_free(&b);
    return st;
}

static vdm_status detmath_run(cu_bufs *b, float *out, const float *in, size_t n, int fn)
{
    VDM_FORWARD(upload(&b->p[0], in, n));
    VDM_FORWARD(cu_alloc(&b->p[1], n));
    VDM_CU(vdm_cu_detmath(0, b->p[1], b->p[0], n, fn));
    VDM_CU(cudaDeviceSynchronize());
    return download(out, b->p[1], n);
}

vdm_status vdm_cuda_detmath(float *out, const float *in, size_t n, int fn)
{
    VDM_RETURN_IF(!out || !in || fn < VDM_CUDA_FN_EXPF || fn > VDM_CUDA_FN_COSF, VDM_ERR_ARG);
    if (n == 0) return VDM_OK;
    VDM_FORWARD(vdm_cu_ready());
    cu_bufs b;
    memset(&b, 0, sizeof b);
    vdm_status st = detmath_run(&b, out, in, n, fn);
    bufs_free(&b);
    return st;
}
