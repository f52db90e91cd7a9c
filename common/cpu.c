#include "common/vdm_common.h"

vdm_simd_level vdm_cpu_simd_level(void)
{
    static _Atomic int cached = -1;   /* atomic: any thread may fill it first */
    if (cached >= 0) return (vdm_simd_level)cached;
    int l = VDM_SIMD_SCALAR;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse2")) l = VDM_SIMD_SSE2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) l = VDM_SIMD_AVX2;
    if (l == VDM_SIMD_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        l = VDM_SIMD_AVX512;
#endif
    cached = l;
    return (vdm_simd_level)l;
}

const char *vdm_simd_name(vdm_simd_level l)
{
    switch (l) {
    case VDM_SIMD_SSE2: return "sse2";
    case VDM_SIMD_AVX2: return "avx2";
    case VDM_SIMD_AVX512: return "avx512";
    default: return "scalar";
    }
}
