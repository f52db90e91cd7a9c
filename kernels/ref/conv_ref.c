/* conv_ref.c — the REF 3x3 convolution (scalar twin + dispatch) and its
 * simple scalar backward, the oracle for the fast kernels.
 *
 * The forward performs, per output, exactly the sequence defined in
 * kernels.h: start from the bias, then for (ky, kx, ci) in that order one
 * rounded multiply and one rounded add.  The inner loop runs across output
 * channels, which are independent, so a compiler may vectorise it without
 * changing a bit (the project builds with -ffp-contract=off). */
#include <string.h>
#include "kernels/kernels_internal.h"

void vdm_conv3x3_ref_scalar(float *out, const float *in, const float *w, const float *bias,
                            size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                            int accumulate, int r0, int r1)
{
    (void)N;
    float acc[VDM_KERNEL_MAX_CH];
    const size_t cs = (size_t)Cin * (size_t)Cout; /* floats per (ky, kx) tap */
    for (int r = r0; r < r1; r++) {
        const int n = r / H, y = r % H;
        const float *b = bias ? bias + (size_t)n * bias_nstride : NULL;
        for (int x = 0; x < W; x++) {
            for (int co = 0; co < Cout; co++) acc[co] = b ? b[co] : 0.0f;
            for (int ky = 0; ky < 3; ky++) {
                const int yy = y + ky - 1;
                if (yy < 0 || yy >= H) continue;
                for (int kx = 0; kx < 3; kx++) {
                    const int xx = x + kx - 1;
                    if (xx < 0 || xx >= W) continue;
                    const float *ip = in + ((size_t)(n * H + yy) * (size_t)W + (size_t)xx) * (size_t)Cin;
                    const float *wp = w + (size_t)(ky * 3 + kx) * cs;
                    for (int ci = 0; ci < Cin; ci++) {
                        const float a = ip[ci];
                        const float *wr = wp + (size_t)ci * (size_t)Cout;
                        for (int co = 0; co < Cout; co++) acc[co] = acc[co] + a * wr[co];
                    }
                }
            }
            float *op = out + ((size_t)r * (size_t)W + (size_t)x) * (size_t)Cout;
            if (accumulate)
                for (int co = 0; co < Cout; co++) op[co] = op[co] + acc[co];
            else
                memcpy(op, acc, sizeof(float) * (size_t)Cout);
        }
    }
}

void vdm_conv3x3_ref(float *out, const float *in, const float *w, const float *bias,
                     size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                     int accumulate, int r0, int r1)
{
#if defined(__x86_64__) || defined(__i386__)
    if (vdm_ref_simd_level() >= VDM_SIMD_AVX2) {
        vdm_conv3x3_ref_avx2(out, in, w, bias, bias_nstride, N, H, W, Cin, Cout, accumulate, r0, r1);
        return;
    }
#endif
    vdm_conv3x3_ref_scalar(out, in, w, bias, bias_nstride, N, H, W, Cin, Cout, accumulate, r0, r1);
}

typedef struct {
    float *out;
    const float *in, *w, *bias;
    size_t bias_nstride;
    int N, H, W, Cin, Cout, accumulate;
} conv_job;

static void conv_rows(void *ctx, int r0, int r1)
{
    conv_job *j = (conv_job *)ctx;
    vdm_conv3x3_ref(j->out, j->in, j->w, j->bias, j->bias_nstride, j->N, j->H, j->W, j->Cin,
                    j->Cout, j->accumulate, r0, r1);
}

vdm_status vdm_conv3x3_ref_mt(float *out, const float *in, const float *w, const float *bias,
                              size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                              int accumulate, int nthreads)
{
    VDM_RETURN_IF(!out || !in || !w || N < 1 || H < 1 || W < 1 || Cin < 1 || Cout < 1 ||
                      Cin > VDM_KERNEL_MAX_CH || Cout > VDM_KERNEL_MAX_CH, VDM_ERR_ARG);
    conv_job j = {out, in, w, bias, bias_nstride, N, H, W, Cin, Cout, accumulate};
    /* A thread that cannot start has its rows done by the caller, so the
     * result is complete (and identical) either way. */
    (void)vdm_parallel_for(nthreads, N * H, conv_rows, &j);
    return VDM_OK;
}

/* The oracle: a direct transcription of the chain rule, no cleverness.
 *   dout[n,y,x,co] flows to in[n, y+ky-1, x+kx-1, ci] through w[ky,kx,ci,co]. */
void vdm_conv3x3_backward_ref(float *din, float *dw, float *db, const float *dout,
                              const float *in, const float *w,
                              int N, int H, int W, int Cin, int Cout)
{
    const size_t cs = (size_t)Cin * (size_t)Cout;
    if (din) memset(din, 0, sizeof(float) * (size_t)N * (size_t)H * (size_t)W * (size_t)Cin);
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const float *g = dout + ((size_t)(n * H + y) * (size_t)W + (size_t)x) * (size_t)Cout;
                if (db)
                    for (int co = 0; co < Cout; co++) db[co] += g[co];
                for (int ky = 0; ky < 3; ky++) {
                    const int yy = y + ky - 1;
                    if (yy < 0 || yy >= H) continue;
                    for (int kx = 0; kx < 3; kx++) {
                        const int xx = x + kx - 1;
                        if (xx < 0 || xx >= W) continue;
                        const size_t ioff = ((size_t)(n * H + yy) * (size_t)W + (size_t)xx) * (size_t)Cin;
                        const float *ip = in + ioff;
                        const float *wp = w + (size_t)(ky * 3 + kx) * cs;
                        float *dwp = dw ? dw + (size_t)(ky * 3 + kx) * cs : NULL;
                        for (int ci = 0; ci < Cin; ci++) {
                            const float *wr = wp + (size_t)ci * (size_t)Cout;
                            if (dwp) {
                                float *dwr = dwp + (size_t)ci * (size_t)Cout;
                                const float a = ip[ci];
                                for (int co = 0; co < Cout; co++) dwr[co] += a * g[co];
                            }
                            if (din) {
                                float s = 0.0f;
                                for (int co = 0; co < Cout; co++) s += wr[co] * g[co];
                                din[ioff + (size_t)ci] += s;
                            }
                        }
                    }
                }
            }
}
