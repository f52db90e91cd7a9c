// cublas_v2.h — a HOST EMULATION of the few cuBLAS pieces kernels/cuda/train.cu
// uses, for scripts/cuda-emu-check.sh (never part of a real build).
//
// cublasSgemm follows cuBLAS's column-major definition literally,
//   C(m x n) = alpha op(A)(m x k) op(B)(k x n) + beta C,   X(i, j) = X[i + j*ldx],
// with a plain triple loop (no BLAS), so a row/column-major mix-up in the
// caller shows up as a mismatch against the CPU/REF backends.  The math mode
// (TF32 or not) is recorded and otherwise ignored: the emulation computes in
// FP32 either way.
#pragma once
#include "cuda_runtime.h"

typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_INITIALIZED = 1, CUBLAS_STATUS_INVALID_VALUE = 7 }
    cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 } cublasMath_t;
struct emu_cublas { cudaStream_t stream; cublasMath_t math; };
typedef emu_cublas *cublasHandle_t;
extern long emu_live_handles;

static inline cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    *h = new emu_cublas{ nullptr, CUBLAS_DEFAULT_MATH };
    emu_live_handles++;
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasDestroy(cublasHandle_t h)
{
    delete h;
    emu_live_handles--;
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) { h->stream = s; return CUBLAS_STATUS_SUCCESS; }
static inline cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m) { h->math = m; return CUBLAS_STATUS_SUCCESS; }

static inline cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                                         const float *beta, float *C, int ldc)
{
    if (!h || m < 0 || n < 0 || k < 0 || ldc < (m > 1 ? m : 1) ||
        lda < ((ta == CUBLAS_OP_N ? m : k) > 1 ? (ta == CUBLAS_OP_N ? m : k) : 1) ||
        ldb < ((tb == CUBLAS_OP_N ? k : n) > 1 ? (tb == CUBLAS_OP_N ? k : n) : 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float acc = 0.0f;
            for (int l = 0; l < k; l++) {
                const float a = ta == CUBLAS_OP_N ? A[i + (size_t)l * lda] : A[l + (size_t)i * lda];
                const float b = tb == CUBLAS_OP_N ? B[l + (size_t)j * ldb] : B[j + (size_t)l * ldb];
                acc += a * b;
            }
            float *c = &C[i + (size_t)j * ldc];
            // beta == 0 must not read C (it may hold garbage or NaN), as in cuBLAS
            *c = *beta == 0.0f ? *alpha * acc : *alpha * acc + *beta * *c;
        }
    return CUBLAS_STATUS_SUCCESS;
}
