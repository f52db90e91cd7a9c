/* vdmzip.c — the public API (include/vdmzip.h) over the codec layers. */
#include "vdmzip.h"
#include "common/vdm_common.h"

unsigned vdmzip_version_number(void) { return VDMZIP_VERSION_NUMBER; }
const char *vdmzip_version_string(void) { return VDMZIP_VERSION_STRING; }

const char *vdmzip_error_string(int code)
{
    if (code == VDMZIP_ERROR_CANCELLED) return "cancelled";
    if (code < 0 || code >= (int)VDM_ERR_COUNT_) return "unknown error";
    return vdm_error_name((vdm_status)code);
}
