// elementwise.cu — activations, Fourier features and the detmath probes on
// the GPU, each element computed by the same source text as the host REF
// (common/detmath_hd.h; kernels/ref/elementwise_ref.c for the layouts).
#include "kernels/cuda/cuda_internal.cuh"
#include "kernels/cuda_api.h"
#include "kernels/kernels.h"
#include "common/detmath_hd.h"

__global__ void vdm_cu_act_k(float *out, const float *in, size_t n, int act)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float v = in[i];
        out[i] = act == VDM_KACT_RELU ? (v > 0.0f ? v : 0.0f) : vdm_silu_hd(v);
    }
}

// One thread per (pixel, channel): feat layout [z | sin_0 | cos_0 | ...],
// each block of C floats; the argument f_k * z is one rounded multiply.
__global__ void vdm_cu_fourier_k(float *__restrict__ feat, const float *__restrict__ z, size_t total, int C,
                                 vdm_cu_freqs fr, int nf)
{
    const size_t F = (size_t)C * (size_t)(1 + 2 * nf);
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const size_t p = i / (size_t)C;
        const int c = (int)(i % (size_t)C);
        const float zv = z[i];
        float *fp = feat + p * F;
        fp[c] = zv;
        for (int k = 0; k < nf; k++) {
            const float a = __fmul_rn(fr.f[k], zv);
            float *sp = fp + (size_t)C * (size_t)(1 + 2 * k);
            sp[c] = vdm_sinf_hd(a);
            sp[(size_t)C + (size_t)c] = vdm_cosf_hd(a);
        }
    }
}

__global__ void vdm_cu_detmath_k(float *out, const float *in, size_t n, int fn)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float x = in[i];
        out[i] = fn == VDM_CUDA_FN_SINF ? vdm_sinf_hd(x) : fn == VDM_CUDA_FN_COSF ? vdm_cosf_hd(x) : vdm_expf_hd(x);
    }
}

cudaError_t vdm_cu_act(cudaStream_t s, float *out, const float *in, size_t n, int act)
{
    if (n == 0) return cudaSuccess;
    vdm_cu_act_k<<<vdm_cu_blocks(n), VDM_CU_THREADS, 0, s>>>(out, in, n, act);
    return cudaGetLastError();
}

cudaError_t vdm_cu_fourier(cudaStream_t s, float *feat, const float *z, size_t npix, int C, vdm_cu_freqs fr,
                           int nf)
{
    const size_t total = npix * (size_t)C;
    if (total == 0) return cudaSuccess;
    vdm_cu_fourier_k<<<vdm_cu_blocks(total), VDM_CU_THREADS, 0, s>>>(feat, z, total, C, fr, nf);
    return cudaGetLastError();
}

cudaError_t vdm_cu_detmath(cudaStream_t s, float *out, const float *in, size_t n, int fn)
{
    if (n == 0) return cudaSuccess;
    vdm_cu_detmath_k<<<vdm_cu_blocks(n), VDM_CU_THREADS, 0, s>>>(out, in, n, fn);
    return cudaGetLastError();
}
