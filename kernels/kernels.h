/* kernels.h — numeric primitives behind one small interface.
 *
 * Backends:
 *   VDM_BACKEND_REF   fixed operation order, no libm, no BLAS.  The coding path
 *                     and the test oracle.  Bit-identical for any thread count,
 *                     compiler, flags and CPU (it may vectorise across
 *                     independent outputs, never reorder a reduction).
 *   VDM_BACKEND_CPU   fast (OpenBLAS sgemm via im2col, threads): training and
 *                     bound evaluation only.  Agrees with REF within a stated
 *                     tolerance, not bit for bit.
 *   VDM_BACKEND_CUDA  cuBLAS for training; deterministic kernels for coding.
 *
 * Conventions (llm.c style): output first, const inputs, explicit sizes.
 * Activations are NHWC float32.  Functions named *_backward accumulate into
 * parameter gradients (+=) and overwrite activation gradients (=), as each
 * comment says. */
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

/* The kernels helper (kernels/) defines the concrete functions below this line. */

#ifdef __cplusplus
}
#endif
#endif
