/* ans.h — exact rANS stack coder, discretised distributions, bits-back helpers.
 *
 * The ans/ layer's single public header.  The byte-level format is fixed in
 * format-spec/ans.md; any change to the arithmetic below changes files.
 *
 * READ ME FIRST — invariants
 *  1. Stack semantics (LIFO).  push = encode, pop = decode.  A pop returns the
 *     most recently pushed symbol; pop(d) followed by push(d) of the returned
 *     symbol, and push(d, s) followed by pop(d), both restore the stack bit
 *     for bit — including pops that *sample* from an arbitrary stack (bits-back).
 *     So a decoder runs the encoder's operations in reverse order, each one
 *     mirrored (push <-> pop) with the same distribution.
 *  2. State and words: a 64-bit state x with L = 2^31 <= x < 2^63 and a
 *     growable stack of 32-bit words (ryg_rans rans64 renormalisation).  Push
 *     moves the low 32 bits of x onto the word stack when x would overflow;
 *     pop pulls one word back when x drops below L.  "Output reversed": the
 *     serialised form lists the top word first so a reader consumes it forward.
 *  3. Precision: a symbol is (start, freq) in [0, 2^prec) with 1 <= freq,
 *     start + freq <= 2^prec, 1 <= prec <= 31 (VDM_ANS_PREC_MAX).  Each
 *     distribution below quantises its CDF so that every codable value has
 *     freq >= 1 and the cumulative table is strictly increasing *by
 *     construction* (integer minimum mass + monotone floating point), never by
 *     trusting a float CDF to be monotone.
 *  4. Initial bits: a pop from an empty (or exhausted) word stack never fails —
 *     it reads words from a deterministic pseudo-random source R_0, R_1, ...
 *     (SplitMix64, format-spec/ans.md), conceptually lying below the bottom of
 *     the stack.  vdm_ans_initial_bits() reports how many bits were drawn: they
 *     are real overhead, since the pushes that follow carry them into the file.
 *     A decoder that reverses everything ends with exactly those words on its
 *     stack and the state back at L (vdm_ans_check_pristine()).
 *  5. Bits-back order and XOR cleaning (seed 001 App. N, DESIGN.md): per step
 *       encoder:  clean_begin(key, ctr); pop latent under q; clean_end();
 *                 push the previous variable under p
 *       decoder:  pop the previous variable under p;
 *                 unclean_begin(key, ctr); push latent under q; unclean_end()
 *     clean_begin XORs the state's bits below its leading one with a ChaCha20
 *     keystream; every word the pops then consume (real or initial) is XORed
 *     with the next keystream word as it is read.  unclean_end applies the same
 *     XOR to the state and to exactly the words the mirrored pushes produced,
 *     so the decoder's stack returns to the encoder's bit for bit.  Between
 *     clean_begin/end only pops are allowed; between unclean_begin/end only
 *     pushes (anything else returns VDM_ERR_ARG and changes nothing).
 *     vdm_ans_bb_sample / vdm_ans_bb_unsample wrap exactly these two halves
 *     for a tile of Gaussian latents.  Use each (c0, c1, c2) = (chain, tile,
 *     step) for one section only.
 *  6. Determinism: every frequency depends only on the arguments, through
 *     IEEE double arithmetic in a fixed order and common/detmath.h (no libm);
 *     the library holds read-only tables (Phi at 16385 knots and a coarse
 *     inverse used only as a search hint) built once under pthread_once.
 *  7. Errors: every fallible call returns vdm_status and, on error, leaves the
 *     stack unchanged (vector calls validate all parameters before coding; an
 *     allocation failure part-way through a vector push is the only exception,
 *     and the stack must then be discarded).  Nothing prints or exits.
 *  8. Thread safety: a vdm_ans is used by one thread at a time; distributions
 *     (vdm_ans_gauss, vdm_ans_lik8, vdm_ans_cat) are read-only once built.
 */
#ifndef VDM_ANS_H
#define VDM_ANS_H

#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDM_ANS_PREC_MAX 31
#define VDM_ANS_STATE_L (UINT64_C(1) << 31)   /* lower bound of the state; initial state */

/* Recommended precisions.  Two losses pull in opposite directions:
 *   quantisation ~ 1.44 (W + 2) / 2^prec bits (one unit per window value), and
 *   rANS rounding ~ (2^prec / x)^2, noticeable because x can be as low as 2^31:
 *   measured 1e-6 bits/symbol at 24, 1.2e-5 at 26, 5.5e-5 at 28, 2.5e-3 at 31.
 * For sigma/delta around 100 (W ~ 1400) the sum is 3e-5 bits at 24, 1.5e-5 at
 * 26, 5.6e-5 at 28; for sigma/delta ~ 2000, 28 is better (9e-5 vs 2e-4).
 * The lik8 table has 256 entries, so 24 bits lose < 3e-5 bits. */
#define VDM_ANS_GAUSS_PREC_DEFAULT 26
#define VDM_ANS_LIK8_PREC_DEFAULT 24
#define VDM_ANS_GAUSS_PREC_MIN 8

/* ---------------------------------------------------------------- stack -- */
typedef struct vdm_ans vdm_ans;

/* New empty stack: state L, no words, initial-bits seed 0.  Free with vdm_ans_free. */
vdm_status vdm_ans_create(vdm_ans **out);
void vdm_ans_free(vdm_ans *a);                  /* NULL is fine */
/* Back to empty (state L, no words, nothing drawn, no cleaning); keeps the seed. */
void vdm_ans_reset(vdm_ans *a);
/* Seed of the initial-bits source (default 0).  Changing it on a non-empty
 * stack is allowed but the decoder must use the same seed to check_pristine. */
void vdm_ans_set_initial_seed(vdm_ans *a, uint64_t seed);

size_t vdm_ans_num_words(const vdm_ans *a);
uint64_t vdm_ans_state(const vdm_ans *a);
/* Words (and bits = 32 * words) drawn from the initial-bits source so far. */
uint64_t vdm_ans_initial_words(const vdm_ans *a);
uint64_t vdm_ans_initial_bits(const vdm_ans *a);
/* Size of the serialised stack in bits: 64 + 32 * words (exact, integer). */
uint64_t vdm_ans_size_bits(const vdm_ans *a);
/* Information content 32*words + log2(state), in bits: changes by exactly the
 * ideal cost of each operation up to rANS rounding; for measuring net lengths
 * finer than a word.  Reporting only (double, detmath log). */
double vdm_ans_info_bits(const vdm_ans *a);
/* The same in whole bits, integer and exact on every machine: 32 * words +
 * floor(log2(state)).  For decisions that change a file (the codec's per-tile
 * choice), where a double would do as well but an integer leaves no doubt. */
uint64_t vdm_ans_info_bits_int(const vdm_ans *a);
/* Make dst an exact copy of src (state, words, drawn count, seed), so an
 * encoder can try a coding and go back.  Both must be outside any cleaning
 * section (VDM_ERR_ARG otherwise); VDM_ERR_NOMEM leaves dst unchanged. */
vdm_status vdm_ans_copy(vdm_ans *dst, const vdm_ans *src);

/* Raw primitives, prec in 1..31.  push: VDM_ERR_ARG for freq == 0,
 * start + freq > 2^prec, bad prec or the wrong cleaning mode; VDM_ERR_NOMEM. */
vdm_status vdm_ans_push(vdm_ans *a, uint32_t start, uint32_t freq, unsigned prec);
/* The slot y in [0, 2^prec) the next pop decodes from; 0 if prec is invalid. */
uint32_t vdm_ans_peek(const vdm_ans *a, unsigned prec);
/* Finish a pop of the symbol (start, freq) that contains peek(prec).
 * VDM_ERR_ARG if it does not contain it, on bad arguments or in unclean mode. */
vdm_status vdm_ans_pop_advance(vdm_ans *a, uint32_t start, uint32_t freq, unsigned prec);

/* Serialisation (format-spec/ans.md): LE64 state, then the words top first,
 * each LE32.  Size = vdm_ans_serialized_size() = 8 + 4 * words. */
size_t vdm_ans_serialized_size(const vdm_ans *a);
/* Writes into the caller's dst; VDM_ERR_LIMIT if cap is too small; VDM_ERR_ARG
 * while cleaning is open. *written may be NULL. */
vdm_status vdm_ans_serialize(const vdm_ans *a, uint8_t *dst, size_t cap, size_t *written);
/* Replace a's content with a serialised stack (drawn count reset to 0, mode
 * normal).  Never reads past src[n-1].  VDM_ERR_TRUNCATED if n < 8,
 * VDM_ERR_CORRUPT if (n - 8) % 4 != 0 or the state is outside [L, 2^63),
 * VDM_ERR_NOMEM; then a is unchanged.  Any accepted input is a valid stack to pop from. */
vdm_status vdm_ans_deserialize(vdm_ans *a, const uint8_t *src, size_t n);
/* Decoder's final check: VDM_OK iff the state is L and the words are exactly
 * the first *nwords initial-bits words in the order the encoder drew them
 * (R_0 on top).  *nwords (may be NULL) receives the word count; a mismatch is
 * VDM_ERR_CORRUPT. */
vdm_status vdm_ans_check_pristine(const vdm_ans *a, uint64_t *nwords);

/* ---------------------------------------------------------- XOR cleaning -- */
/* Key derivation: key = SHA-256("vdmzip/ans/clean/v1" || LE64(seed)). */
void vdm_ans_clean_key(uint8_t key[32], uint64_t seed);
/* Encoder, before a batch of sampling pops.  ChaCha20 (RFC 8439) with this
 * key, nonce LE32(c0)||LE32(c1)||LE32(c2) (e.g. chain, tile, step), block
 * counter 0.  Keystream bytes 0..7 mask the state; bytes 8+4i.. mask the i-th
 * word consumed.  Only pops until clean_end. */
vdm_status vdm_ans_clean_begin(vdm_ans *a, const uint8_t key[32], uint32_t c0, uint32_t c1, uint32_t c2);
vdm_status vdm_ans_clean_end(vdm_ans *a);
/* Decoder, around the mirrored batch of pushes (same key and counters). */
vdm_status vdm_ans_unclean_begin(vdm_ans *a, const uint8_t key[32], uint32_t c0, uint32_t c1, uint32_t c2);
vdm_status vdm_ans_unclean_end(vdm_ans *a);
/* Words consumed in (encoder) or restored by (decoder) the last completed
 * clean/unclean section; for statistics and tests. */
uint64_t vdm_ans_last_clean_words(const vdm_ans *a);

/* ---------------------------------------------------------- uniform/bits -- */
/* Uniform over {0..n-1}, 1 <= n <= 2^32 (n == 1 codes nothing).  n a power of
 * two up to 2^31 is exact; otherwise 24-bit quantised (excess < 0.006 bits),
 * and n > 2^16 is split into a high and a low part. */
vdm_status vdm_ans_uniform_push(vdm_ans *a, uint32_t s, uint64_t n);
vdm_status vdm_ans_uniform_pop(vdm_ans *a, uint64_t n, uint32_t *s);

/* ----------------------------------------------------------- categorical -- */
typedef struct vdm_ans_cat vdm_ans_cat;
/* From a table that already sums to exactly 2^prec (zeros allowed: those
 * symbols cannot be pushed and never pop).  n >= 1.  Free with vdm_ans_cat_free. */
vdm_status vdm_ans_cat_create(const uint32_t *freq, size_t n, unsigned prec, vdm_ans_cat **out);
/* From arbitrary non-negative counts (all zero = uniform): every symbol gets
 * freq >= 1, the rest in proportion, floor-quantised on exact integers.
 * Needs n <= 2^(prec-1). */
vdm_status vdm_ans_cat_from_counts(const uint64_t *counts, size_t n, unsigned prec, vdm_ans_cat **out);
void vdm_ans_cat_free(vdm_ans_cat *c);
size_t vdm_ans_cat_size(const vdm_ans_cat *c);
uint32_t vdm_ans_cat_freq(const vdm_ans_cat *c, size_t s);   /* 0 if out of range */
vdm_status vdm_ans_cat_push(vdm_ans *a, const vdm_ans_cat *c, uint32_t s);
vdm_status vdm_ans_cat_pop(vdm_ans *a, const vdm_ans_cat *c, uint32_t *s);

/* ------------------------------------------------- discretised Gaussian -- */
/* N(mu, sigma^2) discretised on the grid {k * delta}: value k has the bin
 * [(k-1/2) delta, (k+1/2) delta).  Every int32 k is codable:
 *   window [klo, khi] = round(mu/delta) +- (floor(7 sigma/delta) + 2), inside
 *   [INT32_MIN+1, INT32_MAX-1] and at most 2^(prec-1) - 3 values wide;
 *   two escape symbols (left, right) followed by the exact offset into that
 *   side, coded uniformly (format-spec/ans.md).  Compact while the window is
 *   not capped (14 sigma/delta < 2^(prec-1)); beyond, far values cost about
 *   prec + 32 bits — still exact.
 * Cost per symbol: push O(1) (two CDF evaluations); pop O(1) typically (a
 * guess from an inverse-CDF table, then galloping), O(log window) at worst.
 * Phi is piecewise-linear between knots -8 + i/1024 (error < 3e-8), which is
 * monotone in floating point by construction. */
typedef struct {
    /* all fields private; filled by vdm_ans_gauss_init */
    double mu, delta, inv_sigma;
    int64_t klo, khi;          /* window */
    uint64_t spare;            /* 2^prec - (khi-klo+1) - 2: mass shared by shape
                                  (truncated: 2^prec - (khi-klo+1)) */
    unsigned prec;
    int trunc;                 /* 1: window only, tails folded into its ends */
} vdm_ans_gauss;

/* VDM_ERR_ARG unless mu is finite, sigma and delta finite and > 0,
 * VDM_ANS_GAUSS_PREC_MIN <= prec <= 31. */
vdm_status vdm_ans_gauss_init(vdm_ans_gauss *g, float mu, float sigma, float delta, unsigned prec);
/* The same Gaussian truncated to its window, for bits-back SAMPLING pops:
 * no escape symbols (the tail mass is folded into the first and last window
 * values: C(0) = 0, C(j) = j + G(klo + j) for 0 < j < W, C(W) = 2^prec), so a
 * pop from arbitrary bits always lands within +-7 sigma of mu.  With escapes
 * a sampling pop would hit an escape with probability ~2^(1-prec) and
 * produce a wildly distant latent (seen: ~2 per Kodak image at prec 24,
 * each costing thousands of bits downstream).  Only values inside the window
 * can be pushed (else VDM_ERR_ARG) — exactly those such a pop returns. */
vdm_status vdm_ans_gauss_init_trunc(vdm_ans_gauss *g, float mu, float sigma, float delta, unsigned prec);
/* g must come from vdm_ans_gauss_init.  Any int32 k can be pushed; pop never
 * fails on a valid stack (VDM_ERR_ARG only in the wrong cleaning mode). */
vdm_status vdm_ans_gauss_push(vdm_ans *a, const vdm_ans_gauss *g, int32_t k);
vdm_status vdm_ans_gauss_pop(vdm_ans *a, const vdm_ans_gauss *g, int32_t *k);
/* Exact cost in bits of coding k with g (escape + offset included). */
double vdm_ans_gauss_bits(const vdm_ans_gauss *g, int32_t k);
/* Quantised probability of k as freq / 2^prec for in-window k; for escaped k
 * the escape symbol's frequency (the offset is extra).  Tests, statistics. */
uint32_t vdm_ans_gauss_freq(const vdm_ans_gauss *g, int32_t k, int *escaped);

/* Vector forms for a latent tile (the bits-back batch).  Element i uses
 * mu[i], sigma[i * sigma_stride] (stride 0: one sigma for all), one delta.
 * push_vec pushes i = n-1 .. 0, pop_vec pops i = 0 .. n-1, so each is the
 * exact inverse of the other.  All parameters are validated first. */
vdm_status vdm_ans_gauss_push_vec(vdm_ans *a, size_t n, const int32_t *k, const float *mu,
                                  const float *sigma, size_t sigma_stride, float delta, unsigned prec);
vdm_status vdm_ans_gauss_pop_vec(vdm_ans *a, size_t n, int32_t *k, const float *mu,
                                 const float *sigma, size_t sigma_stride, float delta, unsigned prec);

/* Bits-back helpers for one latent tile (DESIGN.md order).  The encoder
 * samples z ~ q by popping it inside a clean section; the decoder, after
 * popping what the encoder pushed next, gives z back by pushing it under q
 * inside the matching unclean section.  key == NULL: no cleaning.  The
 * counters (c0, c1, c2) = (chain, tile, step) must be unique per section.
 * Parameters are validated before anything is touched. */
/* Bits-back sampling (truncated Gaussians, see vdm_ans_gauss_init_trunc),
 * optionally inside an XOR-cleaning section (key != NULL). */
vdm_status vdm_ans_bb_sample(vdm_ans *a, const uint8_t *key, uint32_t c0, uint32_t c1, uint32_t c2,
                             size_t n, int32_t *k, const float *mu, const float *sigma,
                             size_t sigma_stride, float delta, unsigned prec);
vdm_status vdm_ans_bb_unsample(vdm_ans *a, const uint8_t *key, uint32_t c0, uint32_t c1, uint32_t c2,
                               size_t n, const int32_t *k, const float *mu, const float *sigma,
                               size_t sigma_stride, float delta, unsigned prec);

/* ---------------------------------------- 8-bit data likelihood p(x|z0) -- */
/* seed 001: p(x = k | z0) = softmax_k( -1/2 ((z0/alpha0 - x_k) / e^{gamma0/2})^2 ),
 * x_k = (2k - 255)/255 (k = 0..255 scaled to [-1, 1]).  Quantised as
 * C(k) = k + floor(S_k / Z * (2^prec - 256)) with S_k the partial sum of the
 * weights exp(l_j - l_ref) of j < k, so every value has freq >= 1.  Weights
 * below e^-36 of the peak are skipped (exactly zero), so cost grows with the
 * likelihood's width, not with 256. */
typedef struct {
    /* private; filled by vdm_ans_lik8_init */
    double alpha0, inv_scale;  /* alpha0, e^{-gamma0/2} */
    double q;                  /* exp(-(2/255 e^{-gamma0/2})^2), the weights' ratio of ratios */
    int reach;                 /* half-width in steps of 2/255 beyond which weights are 0 */
    unsigned prec;
} vdm_ans_lik8;

/* VDM_ERR_ARG unless alpha0 is finite and > 0, |gamma0| <= 100, 9 <= prec <= 31. */
vdm_status vdm_ans_lik8_init(vdm_ans_lik8 *p, float alpha0, float gamma0, unsigned prec);
/* VDM_ERR_ARG if z0 is not finite. */
vdm_status vdm_ans_lik8_push(vdm_ans *a, const vdm_ans_lik8 *p, float z0, uint8_t x);
vdm_status vdm_ans_lik8_pop(vdm_ans *a, const vdm_ans_lik8 *p, float z0, uint8_t *x);
/* The full quantised table (sums to 2^prec), and the exact cost of x in bits. */
vdm_status vdm_ans_lik8_freqs(const vdm_ans_lik8 *p, float z0, uint32_t freq[256]);
double vdm_ans_lik8_bits(const vdm_ans_lik8 *p, float z0, uint8_t x);
/* push_vec pushes i = n-1 .. 0, pop_vec pops i = 0 .. n-1. */
vdm_status vdm_ans_lik8_push_vec(vdm_ans *a, const vdm_ans_lik8 *p, size_t n, const uint8_t *x, const float *z0);
vdm_status vdm_ans_lik8_pop_vec(vdm_ans *a, const vdm_ans_lik8 *p, size_t n, uint8_t *x, const float *z0);

#ifdef __cplusplus
}
#endif
#endif
