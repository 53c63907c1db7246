// libjpeg's colour conversion (jdcolor.c, SCALEBITS = 16) and Pillow's CMYK → RGB, one row at a time.
// out: (width, 3) RGB; inputs: (width) full-resolution samples per component.

#include "jpeg_kernels.h"

static inline unsigned char clip_clamp255(int v) { return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v); }

/// out: (width, 3) RGB; y, cb, cr: (width) full-resolution samples.
void clip_ycc_to_rgb_row(unsigned char *out, const unsigned char *y, const unsigned char *cb, const unsigned char *cr, int width) {
    for (int i = 0; i < width; i++) {
        int yy = y[i], b = cb[i] - 128, r = cr[i] - 128;
        // FIX(1.40200) = 91881, FIX(1.77200) = 116130, FIX(0.71414) = 46802, FIX(0.34414) = 22554; ONE_HALF = 1 << 15.
        out[3 * i + 0] = clip_clamp255(yy + ((91881 * r + 32768) >> 16));
        out[3 * i + 1] = clip_clamp255(yy + ((-22554 * b + 32768 - 46802 * r) >> 16));
        out[3 * i + 2] = clip_clamp255(yy + ((116130 * b + 32768) >> 16));
    }
}

/// Four-component JPEGs as Pillow opens them: libjpeg outputs CMYK (converting YCCK first, jdcolor.c
/// ycck_cmyk_convert), Pillow reads it as Adobe-inverted "CMYK;I", and `convert("RGB")` computes
/// R = k − k·c/255 with its MULDIV255 rounding, where c and k are the inverted ink values.
void clip_cmyk_to_rgb_row(unsigned char *out, const unsigned char *c0, const unsigned char *c1, const unsigned char *c2,
                                 const unsigned char *c3, int width, int ycck) {
    for (int i = 0; i < width; i++) {
        int ink[3];
        if (ycck) {
            // YCCK: libjpeg's C = 255 − R(YCbCr), so Pillow's inverted value is the RGB value itself.
            unsigned char rgb[3];
            clip_ycc_to_rgb_row(rgb, c0 + i, c1 + i, c2 + i, 1);
            ink[0] = rgb[0]; ink[1] = rgb[1]; ink[2] = rgb[2];
        } else {
            ink[0] = 255 - c0[i]; ink[1] = 255 - c1[i]; ink[2] = 255 - c2[i];
        }
        int nk = c3[i];  // 255 − Pillow's inverted K = libjpeg's K
        for (int k = 0; k < 3; k++) {
            int t = ink[k] * nk + 128;
            out[3 * i + k] = clip_clamp255(nk - (((t >> 8) + t) >> 8));
        }
    }
}
