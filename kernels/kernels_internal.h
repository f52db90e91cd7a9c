/* kernels_internal.h — declarations shared between kernels/ source files only.
 * Every SIMD variant here must produce exactly the bits of its scalar twin
 * (see the REF definitions in kernels.h). */
#ifndef VDM_KERNELS_INTERNAL_H
#define VDM_KERNELS_INTERNAL_H
#include "kernels/kernels.h"

/* Scalar REF conv rows (always built). */
void vdm_conv3x3_ref_scalar(float *out, const float *in, const float *w, const float *bias,
                            size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                            int accumulate, int r0, int r1);
/* AVX2 REF conv rows (kernels/ref/conv_ref_avx2.c, built with -mavx2; only
 * called when the CPU has AVX2).  Same bits as the scalar version. */
void vdm_conv3x3_ref_avx2(float *out, const float *in, const float *w, const float *bias,
                          size_t bias_nstride, int N, int H, int W, int Cin, int Cout,
                          int accumulate, int r0, int r1);

/* AVX2 SiLU (kernels/ref/act_avx2.c): process the largest multiple of 8
 * elements from the start and return how many; the caller finishes the tail
 * with the scalar code.  Same bits as the scalar SiLU. */
size_t vdm_silu_forward_avx2(float *out, const float *in, size_t n);
size_t vdm_silu_backward_avx2(float *din, const float *in, const float *dout, size_t n);
/* 8 lanes of the AVX2 replica of vdm_expf (for the bit-identity test). */
void vdm_expf_avx2_x8(float out[8], const float in[8]);
#endif
