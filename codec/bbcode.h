/* bbcode.h — the bits-back tile coder: where the VDM (model/) meets the rANS
 * stack (ans/).  It implements the container's vdm_model_path (codec/vdz.h)
 * for 8-bit R,G,B channels.
 *
 * Per tile, in Bit-Swap order on the diffusion chain (DESIGN.md), with
 * z_i = z_{t(i)} on its grid {k * delta_i}:
 *
 *   encode                                        decode (mirror, reversed)
 *   clean; pop  z_0 ~ q(z_0|x); end               pop  z_T ~ N(0,1)
 *   push x      ~ p(x|z_0)                        for i = T..1:
 *   for i = 1..T:                                   pop  z_{i-1} ~ p(z_{i-1}|z_i)
 *     clean; pop z_i ~ q(z_i|z_{i-1}); end          unclean; push z_i ~ q(z_i|z_{i-1}); end
 *     push z_{i-1}   ~ p(z_{i-1}|z_i)             pop  x ~ p(x|z_0)
 *   push z_T ~ N(0,1)                             unclean; push z_0 ~ q(z_0|x); end
 *
 * Tiles of a chain are coded in raster order on one stack, so only the
 * chain's first tiles' pops can lack bits: they draw "initial bits" from the
 * ans layer's deterministic source, which are stored in the stream and
 * counted in the chain table.  The decoder processes the chain's tiles in
 * reverse order and finally checks that its stack holds exactly those
 * initial words.
 *
 * CM tiles (vdz.md §6.2, the default): a tile may instead be coded by the
 * context-modelling classical coder, its bytes pushed on the chain's stack at
 * the tile's place.  The encoder tries the model on each tile and keeps
 * whichever adds fewer bits; at a chain's start the model's try pays the
 * initial bits it draws, so the first tiles usually go to CM and their bytes
 * then fund the model's pops (the chain starts without initial bits).  The
 * CM streams come from one pass over the whole image with one adaptive state
 * that also sees the model-coded tiles, which the decoder knows by the time
 * it decodes them (after all chains).  The older layout (TILES_MODEL) codes
 * the chain's first two tiles as 4x4 sub-tiles instead to keep the deficit
 * small. 
 *
 * Determinism: every mean, scale and grid value comes from the model's
 * coding path (vdm_model_consts, vdm_model_p_mean: REF kernels, detmath) and
 * float32 operations written out below in a fixed order, so any build on any
 * machine makes the same file.  Thread count changes speed, never bytes. */
#ifndef VDM_CODEC_BBCODE_H
#define VDM_CODEC_BBCODE_H
#include <stdint.h>
#include "common/vdm_common.h"
#include "codec/vdz.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDM_BB_DEFAULT_STEPS 16   /* when neither the caller nor the model names T */
#define VDM_BB_DEFAULT_TILE 64
#define VDM_BB_DEFAULT_GRID 2     /* delta_i = (smallest std that codes z_i) / grid */
#define VDM_BB_PREC 24            /* data, latent and prior precision (bits) */

/* How the encoder uses CM tiles (vdz.md §6.2: a tile coded by the
 * context-modelling classical coder, whose bytes ride on the chain's stack).
 * The encoder codes every tile with the model, measures what it added to the
 * stack, and goes back to code the tile with CM instead when CM is smaller
 * (CHOOSE), or only while the model's attempt drew initial bits, i.e. at the
 * start of a chain (SEED: the model codes everything else; for measuring the
 * model).  MODEL writes the older layout: every tile with the model, the
 * chain's first two tiles split into 4x4 sub-tiles to limit the initial bits. */
enum { VDM_BB_TILES_MODEL = 0, VDM_BB_TILES_CHOOSE = 1, VDM_BB_TILES_SEED = 2 };

typedef struct vdm_bb_params {
    uint32_t tile_w, tile_h;      /* 1..65535 */
    uint32_t grid;                /* 1..1024: latent grid fineness */
    uint32_t nchains;             /* >= 1: independent stacks (each pays a deficit) */
    int clean;                    /* XOR stream cleaning (1 = on) */
    int tiles;                    /* VDM_BB_TILES_* (default CHOOSE) */
} vdm_bb_params;

void vdm_bb_params_default(vdm_bb_params *p);

/* A model path over a loaded model file.  *out is filled (its ctx owns the
 * model); release with vdm_bb_path_close.  threads parallelise the network.
 * Errors: those of vdm_model_load (VDM_ERR_IO, _FORMAT, _CHECKSUM, ...). */
vdm_status vdm_bb_path_open(const char *model_file, const vdm_bb_params *p, unsigned threads,
                            vdm_model_path *out);
/* The same over a model already in memory (model/vdm_model.h); the path takes
 * ownership of m (freed by vdm_bb_path_close, also on failure). */
struct vdm_model;
vdm_status vdm_bb_path_wrap(struct vdm_model *m, const vdm_bb_params *p, unsigned threads,
                            vdm_model_path *out);
void vdm_bb_path_close(vdm_model_path *mp);   /* zeroes *mp; NULL-safe */

/* Statistics of the last encode/decode through this path (ideal_net_bits
 * and recon_bits: encode only). */
typedef struct vdm_bb_stats {
    uint64_t dims;               /* sub-pixels coded by the model */
    uint64_t stream_bits;        /* sum of the chains' serialised stacks */
    uint64_t initial_bits;       /* deficit drawn from the initial-bits source */
    double ideal_net_bits;       /* model-coded tiles: ideal push costs - ideal pop gains */
    uint64_t cm_tiles;           /* tiles coded with CM instead of the model */
    uint64_t cm_dims;            /* their sub-pixels (not in dims) */
    uint64_t cm_bits;            /* their bytes * 8 (length fields not included) */
    double recon_bits;           /* ideal cost of the pushes of x under p(x|z_0) */
    double seconds_network, seconds_coder;
} vdm_bb_stats;
void vdm_bb_path_stats(const vdm_model_path *mp, vdm_bb_stats *out);

#ifdef __cplusplus
}
#endif
#endif
