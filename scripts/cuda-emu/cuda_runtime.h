// cuda_runtime.h — a HOST EMULATION of the few CUDA runtime pieces the coding
// kernels use, for scripts/cuda-emu-check.sh (never part of a real build).
//
// What it checks and what it cannot: kernels run as plain C++ on the CPU, one
// emulated thread after another over the whole grid, so their index maths,
// operation order, buffer flow and host logic (net.cu) are exercised against
// REF by tests/test_cuda.c.  It says nothing about real device arithmetic
// (fmad, denormals, intrinsics), concurrency or the CUDA runtime; only a GPU
// run (scripts/gpu-check.sh) checks those.  No kernel may use __syncthreads,
// shared memory or warp intrinsics for this emulation to stay valid.
#pragma once
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <functional>

typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
typedef void *cudaStream_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
#define cudaStreamNonBlocking 1
struct emu_dim { unsigned x, y, z; };
extern thread_local emu_dim blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// Host floats with -ffp-contract=off: one rounded operation each, like _rn.
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
extern long emu_live_allocs;
// Fresh "device" memory is filled with garbage, so reading what was never
// written shows up as a mismatch rather than as a lucky zero.
static inline cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = malloc(n);
    if (!*p) return cudaErrorMemoryAllocation;
    memset(*p, 0xA5, n);
    emu_live_allocs++;
    return cudaSuccess;
}
static inline cudaError_t cudaFree(void *p) { free(p); emu_live_allocs--; return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) { memcpy(d, s, n); return cudaSuccess; }
static inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t)
{
    memcpy(d, s, n);
    return cudaSuccess;
}
static inline cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t)
{
    memset(d, v, n);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { *s = (void *)1; return cudaSuccess; }
static inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
static inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }

// kernel<<<g, b, smem, stream>>>(args) is rewritten (launch_rewrite.py) to
// emu_launch(g, b, [&]{ kernel(args); }).
static inline void emu_launch(unsigned g, unsigned b, std::function<void()> f)
{
    gridDim.x = g;
    blockDim.x = b;
    for (unsigned i = 0; i < g; i++)
        for (unsigned t = 0; t < b; t++) {
            blockIdx.x = i;
            threadIdx.x = t;
            f();
        }
}
