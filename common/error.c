#include "common/vdm_common.h"

const char *vdm_error_name(vdm_status s)
{
    static const char *const names[VDM_ERR_COUNT_] = {
        [VDM_OK] = "success",
        [VDM_ERR_NOMEM] = "out of memory",
        [VDM_ERR_ARG] = "invalid argument",
        [VDM_ERR_IO] = "input/output error",
        [VDM_ERR_FORMAT] = "not a file of the expected format",
        [VDM_ERR_TRUNCATED] = "truncated input",
        [VDM_ERR_CORRUPT] = "corrupt data",
        [VDM_ERR_CHECKSUM] = "checksum mismatch",
        [VDM_ERR_VERSION] = "unsupported format version",
        [VDM_ERR_UNSUPPORTED] = "unsupported feature",
        [VDM_ERR_LIMIT] = "exceeds a size limit",
        [VDM_ERR_MODEL_MISMATCH] = "file was written with a different model",
        [VDM_ERR_PNG] = "PNG error",
        [VDM_ERR_EXISTS] = "output exists (use -f to overwrite)",
        [VDM_ERR_CUDA] = "CUDA error",
        [VDM_ERR_INTERNAL] = "internal error",
        [VDM_ERR_CANCELLED] = "cancelled",
    };
    if ((unsigned)s >= VDM_ERR_COUNT_ || !names[s]) return "unknown error";
    return names[s];
}
