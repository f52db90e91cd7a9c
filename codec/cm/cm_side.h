/* cm_side.h — side information for the context-mixing coders: what the
 * hybrid chain (DESIGN.md, "The hybrid chain") gives the CM coder when it
 * codes x given the noisy latent z_t* of the diffusion model.
 *
 * Per sub-pixel of an 8-bit RGB image, [height][width][3] in R,G,B order:
 *   z     the latent, z = alpha * x + sigma * eps, x = (2v - 255) / 255 the
 *         data value of the 8-bit sample v (vdm_data_value), eps ~ N(0, 1);
 *   xhat  optional: the network's denoised prediction E[x | z] in the same
 *         data scale.
 * Both are only read.  A coder given side information codes exactly the
 * bytes its decoder needs with the same side information; without it
 * (NULL) it is the plain classical coder, byte for byte.  Internal to codec/. */
#ifndef VDM_CODEC_CM_CM_SIDE_H
#define VDM_CODEC_CM_CM_SIDE_H

typedef struct vdm_cm_side {
    const float *z;      /* noisy observation per sub-pixel (NULL: none) */
    float alpha, sigma;  /* its scale and noise: z = alpha x + sigma eps */
    const float *xhat;   /* denoised prediction per sub-pixel (NULL: none) */
} vdm_cm_side;

#endif
