/* kernels.h — numeric primitives behind one small interface.
 *
 * Backends:
 *   VDM_BACKEND_REF   fixed operation order, no libm, no BLAS.  The coding path
 *                     and the test oracle.  Bit-identical for any thread count,
 *                     compiler, flags and CPU (it may vectorise across
 *                     independent outputs, never reorder a reduction).
 *   VDM_BACKEND_CPU   fast (OpenBLAS sgemm via im2col, or the direct AVX2
 *                     convolution where faster; threads): training and bound
 *                     evaluation only.  Agrees with REF within a stated
 *                     tolerance, not (promised) bit for bit.
 *   VDM_BACKEND_CUDA  cuBLAS for training; deterministic kernels for coding.
 *
 * Conventions (llm.c style): output first, const inputs, explicit sizes.
 * Activations are NHWC float32.  Functions named *_backward accumulate into
 * parameter gradients (+=) and overwrite activation gradients (=), as each
 * comment says.
 *
 * Shapes and layouts used throughout:
 *   image tensors   [N][H][W][C]   (C fastest)
 *   3x3 conv weight [3][3][Cin][Cout] = [ky][kx][ci][co]   (co fastest, so the
 *                   ref kernel vectorises across output channels)
 *   dense weight    [In][Out]
 *   "row" r         one image row: r = n*H + y, 0 <= r < N*H.  Row-range
 *                   arguments [r0, r1) let a caller split work over threads;
 *                   no output depends on how the rows are split.
 *
 * REF 3x3 convolution, exactly (this is the determinism contract in code):
 *   for each output (n, y, x, co):
 *     acc = bias ? bias[n*bias_nstride + co] : 0.0f
 *     for ky in 0..2, kx in 0..2 (skipping taps outside the image), ci in 0..Cin-1:
 *       acc = acc + in[n, y+ky-1, x+kx-1, ci] * w[ky, kx, ci, co]   (one rounded
 *             multiply, then one rounded add: never an FMA)
 *     out = accumulate ? out + acc : acc
 *   Skipping an outside tap equals zero padding up to the sign of a zero sum.
 *   The scalar and the AVX2 variant perform exactly this sequence per output,
 *   so they agree bit for bit (tests/test_kernels_ref.c checks it).
 *
 * Limits: channel counts 1..VDM_KERNEL_MAX_CH; N*H*W*C must fit in size_t. */
#ifndef VDM_KERNELS_H
#define VDM_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { VDM_BACKEND_REF = 0, VDM_BACKEND_CPU = 1, VDM_BACKEND_CUDA = 2 } vdm_backend;
const char *vdm_backend_name(vdm_backend b);

/* Largest channel count any kernel accepts (scalar accumulators live on the
 * stack). */
#define VDM_KERNEL_MAX_CH 1024

/* Activation functions (values match model/net.h's VDM_ACT_*):
 *   SiLU  y = x * sigmoid(x) = x / (1 + vdm_expf(-x))   (detmath, no libm)
 *   ReLU  y = max(x, 0)
 * Both are elementwise and computed by the same code in every backend (the
 * scalar loop or its bit-identical AVX2 twin), so activations never differ
 * between REF and CPU. */
enum { VDM_KACT_SILU = 0, VDM_KACT_RELU = 1 };

/* ---- SIMD selection for REF kernels ------------------------------------
 * REF kernels dispatch at run time to the best variant this CPU offers
 * (scalar or AVX2); all variants give identical bits.  Tests and benchmarks
 * cap the level to compare them.  Process-global; returns the previous cap. */
vdm_simd_level vdm_ref_simd_cap(vdm_simd_level max_level);
/* The level REF kernels actually use now (min of cap and CPU). */
vdm_simd_level vdm_ref_simd_level(void);

/* ---- threads --------------------------------------------------------------
 * Run fn(ctx, i0, i1) over [0, n) split into at most nthreads contiguous
 * chunks, one per thread (the calling thread takes the first).  Returns
 * VDM_ERR_NOMEM/VDM_ERR_INTERNAL when threads cannot be started (the work is
 * then done on the calling thread, so the result is still complete). */
typedef void (*vdm_range_fn)(void *ctx, int i0, int i1);
vdm_status vdm_parallel_for(int nthreads, int n, vdm_range_fn fn, void *ctx);

/* A pool of sleeping worker threads (nthreads - 1 workers; the caller is the
 * first thread).  While a pool is bound to the calling thread, that thread's
 * vdm_parallel_for calls with nthreads <= the pool's size run on it instead
 * of starting threads (same chunks, same results).  A pool serves one
 * calling thread at a time.  create: NULL on failure; free accepts NULL;
 * bind returns the previously bound pool (NULL unbinds). */
typedef struct vdm_pool vdm_pool;
vdm_pool *vdm_pool_create(int nthreads);
void vdm_pool_free(vdm_pool *p);
int vdm_pool_threads(const vdm_pool *p);
vdm_pool *vdm_pool_bind(vdm_pool *p);

/* ===================== REF backend (deterministic) ====================== */

/* 3x3 convolution, stride 1, zero padding, rows [r0, r1) of the output (see
 * the exact definition above).  bias may be NULL; bias_nstride is the offset
 * between images' bias vectors (0: one bias for all images; Cout: a per-image
 * bias, used for the gamma embedding).  in and out must not overlap. */
void vdm_conv3x3_ref(float *out, const float *in, const float *w, const float *bias,
                     size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                     int accumulate, int r0, int r1);
/* The same over all rows, split over nthreads threads (bit-identical for any
 * nthreads). */
vdm_status vdm_conv3x3_ref_mt(float *out, const float *in, const float *w, const float *bias,
                              size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                              int accumulate, int nthreads);
/* Scalar backward of vdm_conv3x3_ref (the simple test oracle, single thread):
 *   din  = dL/din   [N,H,W,Cin]   (=, may be NULL)
 *   dw  += dL/dw    [3,3,Cin,Cout] (may be NULL)
 *   db  += sum over n,y,x of dout  [Cout] (may be NULL)
 * given dout = dL/dout [N,H,W,Cout]. */
void vdm_conv3x3_backward_ref(float *din, float *dw, float *db, const float *dout,
                              const float *in, const float *w,
                              int N, int H, int W, int Cin, int Cout);

/* Dense layer out[n,o] = b[o] + sum_i in[n,i]*w[i,o] (i ascending; b may be
 * NULL for 0).  Backward: din = (may be NULL), dw +=, db += (may be NULL). */
void vdm_dense_ref(float *out, const float *in, const float *w, const float *b,
                   int N, int In, int Out);
void vdm_dense_backward_ref(float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, int N, int In, int Out);

/* Elementwise activation over n values (out may equal in). */
void vdm_act_forward(float *out, const float *in, size_t n, int act);
/* din = dout * act'(in) (din may equal dout). */
void vdm_act_backward(float *din, const float *in, const float *dout, size_t n, int act);

/* Fourier features of each pixel (VDM App. C), feat [npix][C*(1+2*nf)]:
 *   feat[p, c]                    = z[p, c]
 *   feat[p, C*(1+2k)   + c]       = sin(2^e_k * pi * z[p, c])
 *   feat[p, C*(1+2k)+C + c]       = cos(2^e_k * pi * z[p, c])
 * with e_k = exps[k], computed as vdm_sinf/vdm_cosf(f_k * z) where
 * f_k = vdm_fourier_freq(e_k) (a float; the product is one rounded multiply).
 * nf <= 8. */
float vdm_fourier_freq(int e);
void vdm_fourier_forward(float *feat, const float *z, size_t npix, int C,
                         const int32_t *exps, int nf);
/* dz = dL/dz from dfeat = dL/dfeat (=). */
void vdm_fourier_backward(float *dz, const float *z, const float *dfeat, size_t npix, int C,
                          const int32_t *exps, int nf);

/* Per-image channel sums: out[n, c] = sum over the HW pixels of x[n, p, c]
 * (pixels ascending).  (=) */
void vdm_channel_sum(float *out, const float *x, int N, size_t HW, int C);

/* ======================= CPU backend (fast) ============================= */

/* Scratch floats vdm_conv3x3_cpu / vdm_conv3x3_backward_cpu need for images
 * up to W wide with these channel counts and up to nthreads threads (caller
 * allocates, e.g. once per workspace; it serves any narrower image, fewer
 * threads, and the swapped channel counts). */
size_t vdm_conv3x3_cpu_scratch_floats(int W, int Cin, int Cout, int nthreads);
/* Same result as vdm_conv3x3_ref over all rows, up to float rounding.  Each
 * of nthreads threads runs im2col + single-threaded OpenBLAS sgemm over its
 * share of the rows (OpenBLAS is set to one thread: its spinning pool would
 * compete with ours) -- except where the REF kernels use AVX2: then the
 * direct AVX2 convolution is faster for our shapes and is used (giving the
 * REF bits).  Capping the REF SIMD level to scalar selects im2col + sgemm. */
void vdm_conv3x3_cpu(float *out, const float *in, const float *w, const float *bias,
                     size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                     int accumulate, float *scratch, int nthreads);
/* Backward with the semantics of vdm_conv3x3_backward_ref (din =, dw +=,
 * db +=; each may be NULL).  din is a convolution of dout with the flipped,
 * transposed kernel, so it needs no scatter; dw is summed per thread and the
 * partial sums added in thread order. */
void vdm_conv3x3_backward_cpu(float *din, float *dw, float *db, const float *dout,
                              const float *in, const float *w,
                              int N, int H, int W, int Cin, int Cout,
                              float *scratch, int nthreads);

#ifdef __cplusplus
}
#endif
#endif
