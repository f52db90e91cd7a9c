/* fuzz_codec_parse.c — the .vdz container parser (vdm_vdz_probe and
 * vdm_vdz_probe_header) on arbitrary bytes: no crash, no leak, no UB, and
 * whatever it accepts satisfies the documented limits. */
#include <stdlib.h>
#include <string.h>

#include "codec/vdz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vdm_vdz_info info;
    vdm_status st = vdm_vdz_probe(data, size, &info);
    if (st == VDM_OK) {
        if (info.width < 1 || info.width > VDM_IMAGE_MAX_DIM || info.height < 1 ||
            info.height > VDM_IMAGE_MAX_DIM || info.channels < 1 || info.channels > 4 ||
            info.file_bytes != size || info.nclassical > VDM_VDZ_MAX_FBCK)
            abort();
        if (info.needs_model != info.has_model_section) abort();
    }
    vdm_vdz_info h;
    vdm_status sh = vdm_vdz_probe_header(data, size, &h);
    /* the full check accepts nothing the header check refuses */
    if (st == VDM_OK && sh != VDM_OK) abort();
    if (st == VDM_OK && memcmp(h.model_id, info.model_id, 32)) abort();
    return 0;
}
