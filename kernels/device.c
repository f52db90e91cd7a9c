#include "kernels/device.h"

#ifdef VDMZIP_HAVE_CUDA
int vdm_cuda_compiled(void) { return 1; }
/* vdm_cuda_device_count() lives in kernels/cuda/device.cu */
#else
int vdm_cuda_compiled(void) { return 0; }
int vdm_cuda_device_count(char *name, size_t name_cap)
{
    if (name && name_cap) name[0] = 0;
    return 0; /* built without CUDA: no device can be used */
}
#endif
