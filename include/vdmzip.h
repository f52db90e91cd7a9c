/* vdmzip.h — the public header of libvdmzip (all layers bundled).
 *
 * Include this one header to use the codec, the model or the coder; the layer
 * headers it pulls in are listed here so their order of dependency is visible. */
#ifndef VDMZIP_H
#define VDMZIP_H

#include "common/vdm_common.h"
#include "common/detmath.h"

#endif
