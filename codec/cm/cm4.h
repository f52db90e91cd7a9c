/* cm4.h — methods 4 (CM4) to 9 (CM9): the context-mixing coders of vdmzip
 * (format-spec/vdz.md §8c-§8h are the normative text).  Internal to codec/.
 *
 * Same sub-image conventions as methods 2 and 3 (codec/cm/classical.h): the
 * coders read (encode) or write (decode) the coded channels of g->data in
 * place; decoders check that the payload is consumed exactly and every
 * sample is in range (VDM_ERR_CORRUPT otherwise).
 *
 * Side information: the hybrid chain codes an image whose noisy
 * observation z (and a denoised prediction xhat) the decoder already holds.
 * Given `side`, CM4 uses them as extra predictors, contexts and mixer
 * inputs; encoder and decoder must be given the same side arrays, bit for
 * bit.  side == NULL (or both arrays NULL) is the plain classical coder,
 * which is what the container writes.  Side information is used only for
 * 8-bit RGB sub-images (g->rgb, nch == 3, maxval 255); otherwise it is
 * ignored. */
#ifndef VDM_CODEC_CM_CM4_H
#define VDM_CODEC_CM_CM4_H
#include <stddef.h>
#include <stdint.h>
#include "codec/cm/classical.h"

/* FBCK method and MODL cm_method byte: VDM_CLASSICAL_CM4 to _CM9
 * (classical.h); every function below takes one of them as
 * `method` and returns VDM_ERR_ARG for any other.
 *   4 (CM4, §8c): the predictor bank, bit predictors, 7 context models, two
 *     mixers and two APMs (cm4.c's header).
 *   5 (CM5, §8d): CM4 plus hashed context models with state maps,
 *     context-mean bit predictors, a bit-predictor pair model, a third
 *     mixer with a learned final mix and a third APM; given side
 *     information it also uses the side image as a reference image
 *     (gradient predictors and OLS inputs around the sample).
 *   6 (CM6, §8e): CM5 with a wider OLS 1 (4 more neighbours, a wider
 *     window, solved at every 4th sample), a wider activity, 8 hashed
 *     context models and no state maps.
 *   7 (CM7, §8f): CM6 with six mixers (mixer 1's weight sets and three
 *     more mixers chosen by the neighbours' places around the prediction,
 *     its intensity and signs, and the OLS bit predictor's bucket), a
 *     faster final mix, a wider blend window and activity, and OLS 1's
 *     window wider still.
 *   8 (CM8, §8g): CM7 with a stacking least-squares
 *     predictor (a local fit of the sample from 8 predictions, averaged
 *     with the blend), the OLS and NLMS predictions blended at 1/8
 *     resolution, OLS 2's window wider, and the other colours' residuals
 *     at W and N in the activity.
 *   9 (CM9, §8h; the encoder's default): CM8 with G coded two rows and R
 *     one row ahead of B (rgb), so R and B see the colours before them
 *     below and to the right (least-squares inputs, activity, G's
 *     predictor errors in the blend), and a wider least-squares
 *     neighbourhood for the first position.
 * One cm_run with variant switches. */
/* Like method 3, they keep least-squares sums per column. */
#define VDM_CM4_MAX_WIDTH 16384u

/* vdm_cm_side: codec/cm/cm_side.h (through classical.h), shared with method 3. */

/* Whole sub-image: payload = flags byte (bit 0: rgb order), 3 zero bytes,
 * the range coder's bytes (§8.1).  Width <= VDM_CM4_MAX_WIDTH (VDM_ERR_ARG
 * when encoding, VDM_ERR_CORRUPT when decoding a wider one). */
vdm_status vdm_cm_encode(unsigned method, const vdm_subimage *g, const vdm_cm_side *side, vdm_buf *out);
vdm_status vdm_cm_decode(unsigned method, const vdm_subimage *g, const vdm_cm_side *side, const uint8_t *in,
                         size_t n);

/* Tile mode (vdz.md §6.2), conventions of vdm_cm2_tiles_* in classical.h. */
vdm_status vdm_cm_tiles_encode(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *out);
vdm_status vdm_cm_tiles_decode(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th,
                               const uint8_t *const *in, const size_t *n);

/* One pass, two outputs: the whole image's payload (whole, the bytes of
 * vdm_cm_encode(method, g, NULL, whole)) and every tile's stream (tiles[t],
 * the bytes of vdm_cm_tiles_encode(method, g, tw, th, tiles)), for the
 * encoder that needs both (the classical file and the model path's CM
 * tiles). */
vdm_status vdm_cm_encode_tiled(unsigned method, const vdm_subimage *g, uint32_t tw, uint32_t th, vdm_buf *whole,
                               vdm_buf *tiles);

#endif
