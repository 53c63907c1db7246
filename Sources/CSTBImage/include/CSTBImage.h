// stb_image and stb_image_write from Debian's libstb-dev, compiled into this target, plus the libjpeg-exact JPEG path.
#ifndef CSTBIMAGE_H
#define CSTBIMAGE_H

#include <stddef.h>

// Only the five formats the decoder accepts (JPEG, PNG, BMP, GIF, TGA) are compiled: stb's HDR, PSD, PIC and PNM
// readers are not hardened (a truncated RLE HDR loops forever), and nothing needs float output.
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_NO_PNM
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

/// Decodes a JPEG to 8-bit RGB (3 bytes per pixel, rows top to bottom) straight into `dest`, the way libjpeg-turbo
/// does with its defaults (the integer "islow" IDCT, fancy chroma upsampling, its fixed-point YCbCr→RGB), which is
/// what Pillow uses. stb_image parses the markers and decodes the entropy-coded data (baseline and progressive);
/// the IDCT, upsampling and colour conversion are libjpeg's arithmetic. Gray JPEGs are replicated to RGB; CMYK/YCCK
/// become RGB as Pillow's `convert("RGB")` computes it. Size `dest` from `stbi_info_from_memory` (width·height·3).
/// Returns 1 on success; 0 with `stbi_failure_reason()` set otherwise, including when the image does not fit.
int clip_jpeg_decode_rgb_into(const unsigned char *buffer, int len, unsigned char *dest, size_t dest_capacity,
                              int *width, int *height);

/// Asks the kernel to back the whole 2 MiB pages inside [p, p + n) with huge pages when they are first touched
/// (`MADV_HUGEPAGE`; Linux, buffers of at least 4 MiB): a 6 MP decode writes ~27 MB of fresh memory; one fault per
/// 2 MiB instead of one per 4 KiB cut the start-up probe's page faults from 16,300 to 11,600 and its kernel time by
/// ~10 ms. A no-op elsewhere or when refused.
void clip_advise_huge_pages(void *p, size_t n);

/// libjpeg's JDCT_ISLOW inverse DCT of one block. data: (8, 8) dequantized coefficients, natural order; out: (8, 8)
/// samples with row stride `out_stride`. `_reference` is the plain scalar version (64-bit, libjpeg's jidctint.c
/// structure); `_fast` is the vectorised one the decoder uses. Exposed so tests can tie the two together.
void clip_idct_islow_reference(unsigned char *out, int out_stride, const short data[64]);
void clip_idct_islow_fast(unsigned char *out, int out_stride, const short data[64]);

#endif
