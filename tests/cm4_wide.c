/* cm4_wide.c — codec/cm/cm4.c built a second time, for test_cm4 only, with
 * every row ring 3 rows wider (VDM_CM4_RING_EXTRA) and its functions
 * renamed (vdm_cm_wide_*).  The rings' sizes are the least that work for
 * the orders of methods 4-9 (method 9 reads G two rows behind it); if one
 * were too small, a sample would read a row already overwritten -- in the
 * encoder and the decoder alike, so no round trip would notice.  With the
 * wider rings nothing is overwritten that soon, and test_cm4's
 * cm9/rings_are_wide_enough checks that both builds write the same bytes. */
#define VDM_CM4_RING_EXTRA 3
#define vdm_cm_encode vdm_cm_wide_encode
#define vdm_cm_decode vdm_cm_wide_decode
#define vdm_cm_tiles_encode vdm_cm_wide_tiles_encode
#define vdm_cm_tiles_decode vdm_cm_wide_tiles_decode
#define vdm_cm_encode_tiled vdm_cm_wide_encode_tiled
#define vdm_cm4_simd_cap vdm_cm_wide_simd_cap
#define vdm_cm4_simd_level vdm_cm_wide_simd_level
#include "codec/cm/cm4.c"
