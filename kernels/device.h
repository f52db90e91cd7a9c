/* device.h — which compute backends this build has and this machine offers. */
#ifndef VDM_KERNELS_DEVICE_H
#define VDM_KERNELS_DEVICE_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
/* 1 when the library was built with the CUDA backend. */
int vdm_cuda_compiled(void);
/* Number of usable CUDA devices (0 without CUDA, without a driver, or without
 * a GPU).  When name is non-NULL and a device exists, its name is written. */
int vdm_cuda_device_count(char *name, size_t name_cap);
#ifdef __cplusplus
}
#endif
#endif
