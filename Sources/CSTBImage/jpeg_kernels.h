// Internal declarations shared by the libjpeg-exact JPEG kernels (jpeg_*.c) and the driver in stb_image_impl.c.
#ifndef CLIP_JPEG_KERNELS_H
#define CLIP_JPEG_KERNELS_H

#include <stddef.h>

/// One decoded component plane: cw × ch real samples, row stride `stride`; hs × vs is its expansion to full size.
typedef struct {
    const unsigned char *data;
    int stride, cw, ch, hs, vs;
} clip_plane;

/// Output row y of plane p expanded to full resolution in `line` (at least hs·cw entries); returns the row (which
/// may be the plane's own row when no expansion is needed). `sums` is scratch of cw ints.
const unsigned char *clip_upsample_row(const clip_plane *p, int y, unsigned char *line, int *sums);

/// out: (width, 3) RGB from full-resolution Y, Cb, Cr rows.
void clip_ycc_to_rgb_row(unsigned char *out, const unsigned char *y, const unsigned char *cb, const unsigned char *cr,
                         int width);

/// out: (width, 3) RGB from a four-component row (CMYK, or YCCK when `ycck`), as Pillow converts it.
void clip_cmyk_to_rgb_row(unsigned char *out, const unsigned char *c0, const unsigned char *c1, const unsigned char *c2,
                          const unsigned char *c3, int width, int ycck);

#endif
