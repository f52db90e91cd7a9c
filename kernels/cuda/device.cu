// device.cu — CUDA device discovery.  Safe on machines without a GPU or driver:
// cudaGetDeviceCount then fails and we report zero devices.
#include <cuda_runtime.h>
#include <string.h>
#include "kernels/device.h"

extern "C" int vdm_cuda_device_count(char *name, size_t name_cap)
{
    int n = 0;
    if (name && name_cap) name[0] = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
    if (n > 0 && name && name_cap) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) {
            strncpy(name, p.name, name_cap - 1);
            name[name_cap - 1] = 0;
        }
    }
    return n;
}
