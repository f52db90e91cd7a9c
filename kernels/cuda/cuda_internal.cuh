// cuda_internal.cuh — shared between kernels/cuda/*.cu only (the library is
// built without separable compilation, so device code never crosses files:
// each .cu exposes host-side launchers declared here).
//
// Invariants:
//   - Launchers enqueue on the given stream and return the launch status
//     (cudaGetLastError); they never synchronise, print or exit.
//   - Every launcher computes each output with one thread in the REF order
//     (kernels/cuda_api.h); grid-stride loops make the result independent of
//     the grid size.
//   - Device pointers only; sizes in elements.
#ifndef VDM_KERNELS_CUDA_INTERNAL_CUH
#define VDM_KERNELS_CUDA_INTERNAL_CUH
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"
#include "kernels/cuda_api.h"

// Return VDM_ERR_CUDA from the enclosing function when a runtime call fails
// (the error state is cleared so that a later call can report its own).
#define VDM_CU(expr)                                                                \
    do {                                                                            \
        if ((expr) != cudaSuccess) {                                                \
            (void)cudaGetLastError();                                               \
            return VDM_ERR_CUDA;                                                    \
        }                                                                           \
    } while (0)

// Threads per block of every coding kernel; blocks are capped so that the
// grid-stride loops, not the grid limits, cover large tensors.
#define VDM_CU_THREADS 256
#define VDM_CU_MAX_BLOCKS 65535

static inline unsigned vdm_cu_blocks(size_t total)
{
    size_t b = (total + VDM_CU_THREADS - 1) / VDM_CU_THREADS;
    if (b < 1) b = 1;
    if (b > VDM_CU_MAX_BLOCKS) b = VDM_CU_MAX_BLOCKS;
    return (unsigned)b;
}

// Fourier frequencies f_k = vdm_fourier_freq(e_k), passed by value.
typedef struct vdm_cu_freqs { float f[8]; } vdm_cu_freqs;

// Free a device buffer (NULL is fine) and clear the pointer.
static inline void vdm_cu_free(float **p)
{
    if (*p) (void)cudaFree(*p);
    *p = NULL;
}

// A checked copy of a vdm_cuda_net_desc, shared by the coding context
// (net.cu) and the training context (train.cu): derived sizes, Fourier
// frequencies, and the tensor offsets into the parameter block.
typedef struct vdm_cu_net_shape {
    int K, Ko, C, B, F, nf, act;
    vdm_cu_freqs fr;
    size_t np, in_w, in_b, out_w, out_b;
    size_t *w1, *w2, *b2;   // B offsets each (malloc'd)
} vdm_cu_net_shape;
// net.cu: VDM_ERR_ARG for a bad desc (sizes beyond VDM_KERNEL_MAX_CH, a
// tensor outside the block), VDM_ERR_NOMEM; on error nothing is kept.
vdm_status vdm_cu_shape_init(vdm_cu_net_shape *s, const vdm_cuda_net_desc *d);
void vdm_cu_shape_free(vdm_cu_net_shape *s);
// net.cu: a usable device 0, made current for this host thread.
vdm_status vdm_cu_ready(void);

// conv3x3.cu: out (and act_out = act(out) when non-NULL; may equal out).
cudaError_t vdm_cu_conv3x3(cudaStream_t s, float *out, float *act_out, const float *in, const float *w,
                           const float *bias, size_t bias_nstride, int N, int H, int W, int Cin,
                           int Cout, int accumulate, int act);
// elementwise.cu
cudaError_t vdm_cu_act(cudaStream_t s, float *out, const float *in, size_t n, int act);
cudaError_t vdm_cu_fourier(cudaStream_t s, float *feat, const float *z, size_t npix, int C,
                           vdm_cu_freqs fr, int nf);
cudaError_t vdm_cu_detmath(cudaStream_t s, float *out, const float *in, size_t n, int fn);

#endif
