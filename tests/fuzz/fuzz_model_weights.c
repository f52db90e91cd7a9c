/* fuzz_model_weights.c — the weights-file reader (vdm_model_load_mem) on
 * arbitrary bytes: no crash, no leak, no UB; and whatever it accepts gives
 * finite coding constants.
 *
 * A fuzzer cannot forge SHA-256, so each input is also tried "re-sealed":
 * its size field and trailing hash are rewritten to match, which sends the
 * mutated structure (config, tensor table, counts, values) past the hash
 * check into the structural checks. */
#include <stdlib.h>
#include <string.h>

#include "common/vdm_common.h"
#include "model/vdm_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_load(const uint8_t *buf, size_t size)
{
    vdm_model *m = NULL;
    vdm_status st = vdm_model_load_mem(buf, size, &m);
    if (st != VDM_OK) {
        if (m) abort();
        return;
    }
    vdm_time_consts c[5];
    if (vdm_model_consts(m, 4, c) != VDM_OK) abort();
    for (int i = 0; i <= 4; i++) {
        if (!(c[i].alpha >= 0.0 && c[i].alpha <= 1.0) || !(c[i].sigma >= 0.0 && c[i].sigma <= 1.0)) abort();
        if (i > 0 && !(c[i].gamma >= c[i - 1].gamma)) abort();
    }
    vdm_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_load(data, size);
    if (size < 72 || size > (1u << 24)) return 0;
    uint8_t *cp = malloc(size);
    if (!cp) return 0;
    memcpy(cp, data, size);
    vdm_put_le64(cp + 16, (uint64_t)size);
    vdm_sha256(cp + size - 32, cp, size - 32);
    try_load(cp, size);
    free(cp);
    return 0;
}
