// conv3x3.cu — the REF 3x3 convolution (kernels.h) on the GPU, bit for bit.
//
// One thread owns one output (n, y, x, co) and performs exactly the REF
// sequence: acc = bias or 0; for ky, kx (outside taps skipped), ci ascending:
// acc = acc + in * w with an explicitly rounded multiply and add (the _rn
// intrinsics are never contracted into an FMA, whatever the flags); then
// out + acc when accumulating.  Consecutive threads take consecutive co of one
// pixel, so a warp's input loads are one broadcast and its weight loads one
// coalesced line: fast enough for the coding path's small tiles, and nothing
// is shared between threads that could reorder a sum.
#include "kernels/cuda/cuda_internal.cuh"
#include "kernels/kernels.h"
#include "common/detmath_hd.h"

__device__ __forceinline__ float vdm_cu_act1(float v, int act)
{
    // REF: ReLU is `x > 0 ? x : 0` (so -0 and NaN give +0); SiLU is
    // x * (1 / (1 + exp(-x))) with detmath's exp.
    if (act == VDM_KACT_RELU) return v > 0.0f ? v : 0.0f;
    return vdm_silu_hd(v);
}

__global__ void vdm_cu_conv3x3_k(float *out, float *act_out, const float *__restrict__ in,
                                 const float *__restrict__ w, const float *__restrict__ bias,
                                 size_t bias_nstride, int H, int W, int Cin, int Cout, int accumulate,
                                 int act, size_t total)
{
    const size_t cs = (size_t)Cin * (size_t)Cout; // floats per (ky, kx) tap
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const int co = (int)(i % (size_t)Cout);
        const size_t p = i / (size_t)Cout;          // pixel (n*H + y)*W + x
        const int x = (int)(p % (size_t)W);
        const size_t r = p / (size_t)W;             // row n*H + y
        const int y = (int)(r % (size_t)H);
        const size_t n = r / (size_t)H;
        float acc = bias ? bias[n * bias_nstride + (size_t)co] : 0.0f;
        for (int ky = 0; ky < 3; ky++) {
            const int yy = y + ky - 1;
            if (yy < 0 || yy >= H) continue;
            for (int kx = 0; kx < 3; kx++) {
                const int xx = x + kx - 1;
                if (xx < 0 || xx >= W) continue;
                const float *ip = in + ((n * (size_t)H + (size_t)yy) * (size_t)W + (size_t)xx) * (size_t)Cin;
                const float *wp = w + (size_t)(ky * 3 + kx) * cs + (size_t)co;
                for (int ci = 0; ci < Cin; ci++)
                    acc = __fadd_rn(acc, __fmul_rn(ip[ci], wp[(size_t)ci * (size_t)Cout]));
            }
        }
        // out may alias act_out (an in-place activation), so neither is
        // restrict-qualified: the two stores keep their order and the last wins.
        if (accumulate) acc = __fadd_rn(out[i], acc);
        out[i] = acc;
        if (act_out) act_out[i] = vdm_cu_act1(acc, act);
    }
}

cudaError_t vdm_cu_conv3x3(cudaStream_t s, float *out, float *act_out, const float *in, const float *w,
                           const float *bias, size_t bias_nstride, int N, int H, int W, int Cin,
                           int Cout, int accumulate, int act)
{
    const size_t total = (size_t)N * (size_t)H * (size_t)W * (size_t)Cout;
    if (total == 0) return cudaSuccess;
    vdm_cu_conv3x3_k<<<vdm_cu_blocks(total), VDM_CU_THREADS, 0, s>>>(
        out, act_out, in, w, bias, bias_nstride, H, W, Cin, Cout, accumulate, act, total);
    return cudaGetLastError();
}
