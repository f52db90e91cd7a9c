/* Golden files for the model path: tests/vectors/model_*.png coded with the
 * shipped models/default.vdm (T = its default, one chain, 64x64 tiles, the
 * tile mode, effort and CM method named per vector) must
 * give the stored .vdz byte for byte, on every build (compiler, flags, SIMD
 * level, thread count), and the stored .vdz must decode to the PNG's pixels.
 * If models/default.vdm is replaced on purpose, regenerate the vectors with
 * `sh tests/vectors/tools/make-model-vectors.sh BUILD_DIR` (and say so in the
 * commit); if the default context-mixing method (9, CM9) changed on purpose,
 * the ones with its CM tiles with
 * `sh tests/vectors/tools/make-default-cm-vectors.sh BUILD_DIR`.
 * With VDM_GOLDEN_WRITE=1 in the environment each check writes its vector
 * instead of comparing (make-model-vectors.sh uses it for model_80x72_m4,
 * which the CLI cannot write). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/bbcode.h"
#include "codec/png_io.h"
#include "codec/vdz.h"
#include "kernels/kernels.h"
#include "test_files.h"

#define MODEL VDM_SOURCE_DIR "/models/default.vdm"

static void check_vector(const char *name, const char *file, int tiles, int effort, int cm_method,
                         unsigned threads, vdm_simd_level cap)
{
    char png[512], vdz[512];
    snprintf(png, sizeof png, VDM_SOURCE_DIR "/tests/vectors/%s.png", name);
    snprintf(vdz, sizeof vdz, VDM_SOURCE_DIR "/tests/vectors/%s.vdz", file);
    vdm_simd_level old = vdm_ref_simd_cap(cap);
    vdm_bb_params bp;
    vdm_bb_params_default(&bp);
    bp.tiles = tiles;
    vdm_model_path mp;
    vdm_status st = vdm_bb_path_open(MODEL, &bp, threads, &mp);
    cr_assert_eq(st, VDM_OK, "model %s: %s", MODEL, vdm_error_name(st));
    vdm_image *img = NULL;
    cr_assert_eq(vdm_png_read_file(png, &img), VDM_OK);
    vdm_encode_opts o;
    vdm_encode_opts_default(&o);
    o.model = &mp;
    o.threads = threads;
    o.model_only = 1;
    o.effort = effort;
    o.cm_method = cm_method;
    uint8_t *buf = NULL;
    size_t n = 0, gn = 0;
    st = vdm_vdz_encode(img, &o, &buf, &n, NULL);
    cr_assert_eq(st, VDM_OK, "encode %s: %s (%s)", name, vdm_error_name(st), vdm_codec_last_error());
    const char *w = getenv("VDM_GOLDEN_WRITE");
    if (w && !strcmp(w, "1")) {
        FILE *f = fopen(vdz, "wb");
        cr_assert(f && fwrite(buf, 1, n, f) == n && !fclose(f), "cannot write %s", vdz);
        cr_log_warn("VDM_GOLDEN_WRITE=1: wrote %s (%zu bytes)", vdz, n);
    }
    uint8_t *golden = tst_read_file(vdz, &gn);
    cr_expect_eq(n, gn, "%s: %zu bytes, golden %zu (threads %u, simd cap %s)", name, n, gn, threads, vdm_simd_name(cap));
    cr_expect(n == gn && memcmp(buf, golden, n) == 0, "%s: bytes differ from the golden file (threads %u, simd %s)",
              name, threads, vdm_simd_name(cap));
    vdm_decode_opts d = { &mp, threads, NULL, NULL };
    vdm_image *back = NULL;
    st = vdm_vdz_decode(golden, gn, &d, &back);
    cr_assert_eq(st, VDM_OK, "decode golden %s: %s (%s)", name, vdm_error_name(st), vdm_codec_last_error());
    cr_assert(back->width == img->width && back->height == img->height &&
              memcmp(back->data, img->data, (size_t)img->width * img->height * img->channels) == 0,
              "%s: decoded pixels differ", name);
    vdm_image_free(back);
    vdm_image_free(img);
    free(golden);
    free(buf);
    vdm_bb_path_close(&mp);
    vdm_ref_simd_cap(old);
}

#define SEED VDM_BB_TILES_SEED
Test(golden_model, default_simd_one_thread) { check_vector("model_80x72", "model_80x72", SEED, 1, 0, 1, VDM_SIMD_AVX512); }
Test(golden_model, scalar_kernels_three_threads) { check_vector("model_80x72", "model_80x72", SEED, 1, 0, 3, VDM_SIMD_SCALAR); }
Test(golden_model, odd_size_rgba) { check_vector("model_rgba_37x23", "model_rgba_37x23", SEED, 1, 0, 2, VDM_SIMD_AVX512); }
/* CM tiles and model tiles in one chain (vdz.md §6.2): method-9 CM tiles in
 * model_80x72 above (map CM/MM), method-2 ones (effort 0) here (CCM/MMM) */
Test(golden_model, mixed_tiles)
{
    check_vector("model_mixed_144x100", "model_mixed_144x100", VDM_BB_TILES_CHOOSE, 0, 0, 2, VDM_SIMD_AVX512);
    check_vector("model_mixed_144x100", "model_mixed_144x100", VDM_BB_TILES_CHOOSE, 0, 0, 1, VDM_SIMD_SCALAR);
}
/* the older layout (no CM tiles, split first tiles) still encodes and decodes */
Test(golden_model, legacy_layout) { check_vector("model_80x72", "model_80x72_legacy", VDM_BB_TILES_MODEL, 1, 0, 2, VDM_SIMD_AVX512); }
/* method-4 CM tiles (MODL cm_method 4, the default until method 5): the file
 * as sessions 4-5 wrote it still decodes, and the encoder still writes it
 * when asked (vdm_encode_opts.cm_method = 4) */
Test(golden_model, cm4_tiles) { check_vector("model_80x72", "model_80x72_m4", SEED, 1, 4, 2, VDM_SIMD_AVX512); }
/* method-5 CM tiles (the default of sessions 6-7): likewise */
Test(golden_model, cm5_tiles) { check_vector("model_80x72", "model_80x72_m5", SEED, 1, 5, 2, VDM_SIMD_AVX512); }
/* method-6 CM tiles (the default of session 8): likewise */
Test(golden_model, cm6_tiles) { check_vector("model_80x72", "model_80x72_m6", SEED, 1, 6, 2, VDM_SIMD_AVX512); }
/* method-7 CM tiles (the default of session 9): likewise */
Test(golden_model, cm7_tiles) { check_vector("model_80x72", "model_80x72_m7", SEED, 1, 7, 2, VDM_SIMD_AVX512); }
/* method-8 CM tiles (the default of session 10): likewise */
Test(golden_model, cm8_tiles) { check_vector("model_80x72", "model_80x72_m8", SEED, 1, 8, 2, VDM_SIMD_AVX512); }
