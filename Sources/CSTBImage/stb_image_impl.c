// The stb_image implementation (from Debian's libstb-dev header) and the libjpeg-exact JPEG driver on top of it.
//
// Why: stb_image's own IDCT, chroma upsampling and YCbCr→RGB round differently from libjpeg-turbo, which Pillow (and
// so transformers' CLIPImageProcessor) uses; decoded pixels differed by up to 3 uint8 steps. Here stb_image still
// parses the file and decodes the Huffman data (baseline and progressive), but the inverse DCT (jpeg_idct.c), the
// chroma upsampling (jpeg_upsample.c) and the colour conversion (jpeg_color.c) are libjpeg-turbo's integer
// arithmetic, and the colour space is chosen by libjpeg's rules (JFIF → YCbCr, Adobe transform, component ids
// 'R','G','B'). Results are bit-identical to Pillow (libjpeg-turbo 2.1.5) on every fixture: JPEGDecodeTests and
// ImagePipelineTests.

// Zero-filled allocations: a damaged file that leaves part of an image buffer unwritten decodes to black/zero
// pixels instead of leaking whatever the heap held.
#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

void clip_advise_huge_pages(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || n < 2 * huge) return;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1), end = ((uintptr_t)p + n) & ~(huge - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p; (void)n;
#endif
}

/// stb's allocations, zero-filled; the large ones (component planes) advised onto huge pages before first use.
static void *clip_stbi_calloc(size_t size) {
    void *p = calloc(1, size);
    clip_advise_huge_pages(p, size);
    return p;
}

#define STBI_MALLOC(sz) clip_stbi_calloc(sz)
#define STBI_REALLOC(p, newsz) realloc((p), (newsz))
#define STBI_FREE(p) free(p)
#include "CSTBImage.h"  // declarations first; the implementation section below is not include-guarded
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include "jpeg_kernels.h"

/// stb_image's kernel signature (non-const block) around the libjpeg IDCT.
static void clip_idct_islow_kernel(stbi_uc *out, int out_stride, short data[64]) {
    clip_idct_islow_fast(out, out_stride, data);
}

// MARK: - Driver

/// libjpeg's rule for four components: an Adobe marker with transform 0 means CMYK, any other transform YCCK;
/// without the marker, CMYK.
static int clip_jpeg_is_ycck(const stbi__jpeg *j) {
    return j->app14_color_transform >= 0 && j->app14_color_transform != 0;
}

/// libjpeg's default_decompress_parms for three components: is the stored colour space RGB (no transform)?
static int clip_jpeg_is_rgb(const stbi__jpeg *j) {
    if (j->jfif) return 0;
    if (j->app14_color_transform >= 0) return j->app14_color_transform == 0;
    return j->img_comp[0].id == 'R' && j->img_comp[1].id == 'G' && j->img_comp[2].id == 'B';
}

int clip_jpeg_decode_rgb_into(const unsigned char *buffer, int len, unsigned char *dest, size_t dest_capacity,
                              int *width, int *height) {
    if (!dest) return stbi__err("no output buffer", "No output buffer");
    stbi__context s;
    stbi__start_mem(&s, buffer, len);
    stbi__jpeg *j = (stbi__jpeg *)stbi__malloc(sizeof(stbi__jpeg));
    if (!j) return stbi__err("outofmem", "Out of memory");
    j->s = &s;
    stbi__setup_jpeg(j);
    j->idct_block_kernel = clip_idct_islow_kernel;  // the one stb kernel replaced: baseline and progressive use it
    s.img_n = 0;                             // makes stbi__cleanup_jpeg safe if decoding fails early
    int ok = 0;
    stbi_uc *lines = NULL;
    int *sums = NULL;
    if (!stbi__decode_jpeg_image(j)) {
        // Data that ends before the EOI marker fails with stb's terse "expected marker"; say what happened.
        if (stbi__at_eof(&s)) stbi__err("JPEG data is truncated", "Corrupt JPEG");
        goto done;
    }

    const int w = (int)s.img_x, h = (int)s.img_y, n = s.img_n;
    if (n != 1 && n != 3 && n != 4) {
        stbi__err("bad component count", "JPEG must have 1, 3 or 4 components");
        goto done;
    }
    clip_plane planes[4];
    int maxLine = w;
    for (int k = 0; k < n; k++) {
        planes[k].data = j->img_comp[k].data;
        planes[k].stride = j->img_comp[k].w2;
        planes[k].cw = j->img_comp[k].x;
        planes[k].ch = j->img_comp[k].y;
        planes[k].hs = j->img_h_max / j->img_comp[k].h;
        planes[k].vs = j->img_v_max / j->img_comp[k].v;
        // libjpeg refuses fractional sampling ratios (JERR_FRACT_SAMPLE_NOTIMPL); so do we.
        if (j->img_h_max % j->img_comp[k].h || j->img_v_max % j->img_comp[k].v) {
            stbi__err("fractional sampling", "JPEG chroma sampling factors are not integral ratios");
            goto done;
        }
        if (planes[k].cw * planes[k].hs > maxLine) maxLine = planes[k].cw * planes[k].hs;
    }
    lines = (stbi_uc *)stbi__malloc((size_t)maxLine * 4);
    sums = (int *)stbi__malloc((size_t)maxLine * sizeof(int));
    if (!lines || !sums) {
        stbi__err("outofmem", "Out of memory");
        goto done;
    }
    if (!stbi__mad3sizes_valid(w, h, 3, 0) || (size_t)w * (size_t)h * 3 > dest_capacity) {
        stbi__err("output buffer too small", "JPEG is larger than the output buffer");
        goto done;
    }
    const int rgb = n == 3 && clip_jpeg_is_rgb(j);
    for (int y = 0; y < h; y++) {
        stbi_uc *out = dest + (size_t)y * (size_t)w * 3;
        if (n == 1) {
            const stbi_uc *g = clip_upsample_row(&planes[0], y, lines, sums);
            for (int x = 0; x < w; x++) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = g[x];
            continue;
        }
        const stbi_uc *c0 = clip_upsample_row(&planes[0], y, lines, sums);
        const stbi_uc *c1 = clip_upsample_row(&planes[1], y, lines + maxLine, sums);
        const stbi_uc *c2 = clip_upsample_row(&planes[2], y, lines + 2 * (size_t)maxLine, sums);
        if (n == 4) {
            const stbi_uc *c3 = clip_upsample_row(&planes[3], y, lines + 3 * (size_t)maxLine, sums);
            clip_cmyk_to_rgb_row(out, c0, c1, c2, c3, w, clip_jpeg_is_ycck(j));
        } else if (rgb) {
            for (int x = 0; x < w; x++) { out[3 * x] = c0[x]; out[3 * x + 1] = c1[x]; out[3 * x + 2] = c2[x]; }
        } else {
            clip_ycc_to_rgb_row(out, c0, c1, c2, w);
        }
    }
    *width = w;
    *height = h;
    ok = 1;

done:
    STBI_FREE(lines);
    STBI_FREE(sums);
    stbi__cleanup_jpeg(j);
    STBI_FREE(j);
    return ok;
}
