// The stb_image implementation (from Debian's libstb-dev header) and a libjpeg-exact JPEG back end on top of it.
//
// Why: stb_image's own IDCT, chroma upsampling and YCbCr→RGB round differently from libjpeg-turbo, which Pillow (and
// so transformers' CLIPImageProcessor) uses; decoded pixels differed by up to 3 uint8 steps. Here stb_image still
// parses the file and decodes the Huffman data (baseline and progressive), but
//   1. the 8×8 inverse DCT is libjpeg's JDCT_ISLOW (jidctint.c: 13-bit constants, 2 extra pass-1 bits, its
//      post-IDCT range-limit table),
//   2. chroma is upsampled with libjpeg's "fancy" triangle filters (jdsample.c: h2v1, h1v2, h2v2 with their
//      alternating rounding biases; box replication when a plane is ≤ 2 samples wide or for other integral factors),
//   3. YCbCr→RGB uses libjpeg's 16-bit fixed-point tables (jdcolor.c),
// and the colour space is chosen by libjpeg's rules (JFIF → YCbCr, Adobe transform, component ids 'R','G','B').
// Every value below is the integer arithmetic those files define; results are bit-identical to libjpeg-turbo
// 2.1.5 (tested against Pillow in Tests/CLIPTests/ImageFixtureTests.swift).

// Zero-filled allocations: a damaged file that leaves part of an image buffer unwritten decodes to black/zero
// pixels instead of leaking whatever the heap held.
#include <stdint.h>
#include <stdlib.h>
#define STBI_MALLOC(sz) calloc(1, (sz))
#define STBI_REALLOC(p, newsz) realloc((p), (newsz))
#define STBI_FREE(p) free(p)
#include "CSTBImage.h"  // declarations first; the implementation section below is not include-guarded
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

// MARK: - Inverse DCT (libjpeg JDCT_ISLOW)
// data: (8, 8) dequantized coefficients in natural order; out: (8, 8) samples, row stride out_stride.

enum { CLIP_CONST_BITS = 13, CLIP_PASS1_BITS = 2 };
#define CLIP_FIX_0_298631336 2446
#define CLIP_FIX_0_390180644 3196
#define CLIP_FIX_0_541196100 4433
#define CLIP_FIX_0_765366865 6270
#define CLIP_FIX_0_899976223 7373
#define CLIP_FIX_1_175875602 9633
#define CLIP_FIX_1_501321110 12299
#define CLIP_FIX_1_847759065 15137
#define CLIP_FIX_1_961570560 16069
#define CLIP_FIX_2_053119869 16819
#define CLIP_FIX_2_562915447 20995
#define CLIP_FIX_3_072711026 25172

/// Rounding right shift, libjpeg's DESCALE; the result is truncated to int as libjpeg's (int) casts do.
static inline int clip_descale(int64_t x, int n) { return (int)((x + ((int64_t)1 << (n - 1))) >> n); }

/// libjpeg's post-IDCT range limit, indexed by (value & 1023): centred values −128…127 map to 0…255, values up to
/// ±512 saturate, and larger ones wrap exactly as its table does.
static inline stbi_uc clip_idct_range_limit(int x) {
    int m = x & 1023;
    if (m < 128) return (stbi_uc)(m + 128);
    if (m < 512) return 255;
    if (m < 896) return 0;
    return (stbi_uc)(m - 896);
}

/// One 1-D 8-point IDCT (even and odd parts) on in[0], in[s], …, in[7s]; writes the eight unscaled sums.
/// 64-bit like libjpeg's JLONG on LP64, so hostile coefficients cannot overflow.
static inline void clip_idct_1d(const int *in, int s, int64_t out[8]) {
    // Even part: the rotator on coefficients 2 and 6, then butterflies with 0 and 4.
    int64_t z2 = in[2 * s], z3 = in[6 * s];
    int64_t z1 = (z2 + z3) * CLIP_FIX_0_541196100;
    int64_t tmp2 = z1 + z3 * (-CLIP_FIX_1_847759065);
    int64_t tmp3 = z1 + z2 * CLIP_FIX_0_765366865;
    int64_t tmp0 = ((int64_t)in[0] + in[4 * s]) * (1 << CLIP_CONST_BITS);
    int64_t tmp1 = ((int64_t)in[0] - in[4 * s]) * (1 << CLIP_CONST_BITS);
    int64_t tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;
    // Odd part (coefficients 7, 5, 3, 1).
    tmp0 = in[7 * s]; tmp1 = in[5 * s]; tmp2 = in[3 * s]; tmp3 = in[1 * s];
    z1 = tmp0 + tmp3; z2 = tmp1 + tmp2; z3 = tmp0 + tmp2; int64_t z4 = tmp1 + tmp3;
    int64_t z5 = (z3 + z4) * CLIP_FIX_1_175875602;
    tmp0 *= CLIP_FIX_0_298631336; tmp1 *= CLIP_FIX_2_053119869;
    tmp2 *= CLIP_FIX_3_072711026; tmp3 *= CLIP_FIX_1_501321110;
    z1 *= -CLIP_FIX_0_899976223; z2 *= -CLIP_FIX_2_562915447;
    z3 *= -CLIP_FIX_1_961570560; z4 *= -CLIP_FIX_0_390180644;
    z3 += z5; z4 += z5;
    tmp0 += z1 + z3; tmp1 += z2 + z4; tmp2 += z2 + z3; tmp3 += z1 + z4;
    out[0] = tmp10 + tmp3; out[7] = tmp10 - tmp3;
    out[1] = tmp11 + tmp2; out[6] = tmp11 - tmp2;
    out[2] = tmp12 + tmp1; out[5] = tmp12 - tmp1;
    out[3] = tmp13 + tmp0; out[4] = tmp13 - tmp0;
}

void clip_idct_islow_reference(stbi_uc *out, int out_stride, const short data[64]) {
    int in[64], ws[64];
    int64_t sums[8];
    for (int i = 0; i < 64; i++) in[i] = data[i];
    // Pass 1: columns, keeping PASS1_BITS of extra precision. An all-zero AC column is the DC term scaled
    // (libjpeg's shortcut; the full formula gives the same value).
    for (int c = 0; c < 8; c++) {
        const int *col = in + c;
        if (!(col[8] | col[16] | col[24] | col[32] | col[40] | col[48] | col[56])) {
            int dc = col[0] * (1 << CLIP_PASS1_BITS);
            for (int r = 0; r < 8; r++) ws[r * 8 + c] = dc;
            continue;
        }
        clip_idct_1d(col, 8, sums);
        for (int r = 0; r < 8; r++) ws[r * 8 + c] = clip_descale(sums[r], CLIP_CONST_BITS - CLIP_PASS1_BITS);
    }
    // Pass 2: rows, removing the pass-1 scaling and the 8 of the DCT definition, then the range limit.
    for (int r = 0; r < 8; r++) {
        const int *row = ws + r * 8;
        stbi_uc *o = out + r * out_stride;
        if (!(row[1] | row[2] | row[3] | row[4] | row[5] | row[6] | row[7])) {
            stbi_uc v = clip_idct_range_limit(clip_descale(row[0], CLIP_PASS1_BITS + 3));
            for (int c = 0; c < 8; c++) o[c] = v;
            continue;
        }
        clip_idct_1d(row, 1, sums);
        for (int c = 0; c < 8; c++)
            o[c] = clip_idct_range_limit(clip_descale(sums[c], CLIP_CONST_BITS + CLIP_PASS1_BITS + 3));
    }
}

// The same IDCT written for the vectoriser (measured: the scalar version above took 40 % of a 6 MP decode).
// Each pass runs one branch-free loop over eight lanes (columns in pass 1, rows in pass 2), so clang turns it
// into 4-lane SSE2 integer code; the data is transposed between passes and on the way out. Arithmetic is 32-bit
// with wrap-around (unsigned, so overflow is defined), like libjpeg-turbo's own SIMD IDCT. Dropping libjpeg's
// zero-AC shortcuts changes nothing (the full formula gives the same value, see above). For any coefficients a
// real 8-bit JPEG can produce (|c| ≤ 2^12 after dequantisation, far from overflow) the result equals the 64-bit
// reference exactly; CSTBImageTests checks that on random blocks.

typedef uint32_t clip_u32;

/// Even and odd parts of the 1-D IDCT on eight lanes at once: in[k][lane] is coefficient k; out[k][lane] the
/// k-th unscaled sum.
static inline void clip_idct_1d_lanes(const int32_t in[8][8], clip_u32 out[8][8]) {
    for (int l = 0; l < 8; l++) {
        clip_u32 z2 = (clip_u32)in[2][l], z3 = (clip_u32)in[6][l];
        clip_u32 z1 = (z2 + z3) * (clip_u32)CLIP_FIX_0_541196100;
        clip_u32 tmp2 = z1 + z3 * (clip_u32)(-CLIP_FIX_1_847759065);
        clip_u32 tmp3 = z1 + z2 * (clip_u32)CLIP_FIX_0_765366865;
        clip_u32 tmp0 = ((clip_u32)in[0][l] + (clip_u32)in[4][l]) << CLIP_CONST_BITS;
        clip_u32 tmp1 = ((clip_u32)in[0][l] - (clip_u32)in[4][l]) << CLIP_CONST_BITS;
        clip_u32 tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;
        clip_u32 o0 = (clip_u32)in[7][l], o1 = (clip_u32)in[5][l], o2 = (clip_u32)in[3][l], o3 = (clip_u32)in[1][l];
        clip_u32 y1 = o0 + o3, y2 = o1 + o2, y3 = o0 + o2, y4 = o1 + o3;
        clip_u32 z5 = (y3 + y4) * (clip_u32)CLIP_FIX_1_175875602;
        o0 *= (clip_u32)CLIP_FIX_0_298631336; o1 *= (clip_u32)CLIP_FIX_2_053119869;
        o2 *= (clip_u32)CLIP_FIX_3_072711026; o3 *= (clip_u32)CLIP_FIX_1_501321110;
        y1 *= (clip_u32)(-CLIP_FIX_0_899976223); y2 *= (clip_u32)(-CLIP_FIX_2_562915447);
        y3 *= (clip_u32)(-CLIP_FIX_1_961570560); y4 *= (clip_u32)(-CLIP_FIX_0_390180644);
        y3 += z5; y4 += z5;
        o0 += y1 + y3; o1 += y2 + y4; o2 += y2 + y3; o3 += y1 + y4;
        out[0][l] = tmp10 + o3; out[7][l] = tmp10 - o3;
        out[1][l] = tmp11 + o2; out[6][l] = tmp11 - o2;
        out[2][l] = tmp12 + o1; out[5][l] = tmp12 - o1;
        out[3][l] = tmp13 + o0; out[4][l] = tmp13 - o0;
    }
}

/// Arithmetic right shift with rounding of a wrapped 32-bit value.
static inline int32_t clip_descale32(clip_u32 x, int n) { return (int32_t)(x + (1u << (n - 1))) >> n; }

void clip_idct_islow_fast(stbi_uc *out, int out_stride, const short data[64]) {
    int32_t in[8][8], ws[8][8];
    clip_u32 sums[8][8];
    // Pass 1, lanes = columns: in[k][c] = coefficient (row k, column c).
    for (int k = 0; k < 8; k++)
        for (int c = 0; c < 8; c++) in[k][c] = data[k * 8 + c];
    clip_idct_1d_lanes(in, sums);
    // sums[r][c] is sample row r of column c; transpose so pass 2's lanes are rows: ws[k][r] = value (r, k).
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 8; c++) ws[c][r] = clip_descale32(sums[r][c], CLIP_CONST_BITS - CLIP_PASS1_BITS);
    clip_idct_1d_lanes(ws, sums);
    // sums[c][r] is output column c of row r.
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 8; c++)
            out[r * out_stride + c] =
                clip_idct_range_limit(clip_descale32(sums[c][r], CLIP_CONST_BITS + CLIP_PASS1_BITS + 3));
}

static void clip_idct_islow_kernel(stbi_uc *out, int out_stride, short data[64]) {
    clip_idct_islow_fast(out, out_stride, data);
}

// MARK: - Upsampling (libjpeg fancy upsampling)

/// One decoded component plane: cw × ch real samples, row stride `stride`; hs × vs is its expansion to full size.
typedef struct {
    const stbi_uc *data;
    int stride, cw, ch, hs, vs;
} clip_plane;

static inline const stbi_uc *clip_plane_row(const clip_plane *p, int r) {
    // libjpeg's context rows: above the first row is the first row, below the last is the last.
    if (r < 0) r = 0;
    if (r >= p->ch) r = p->ch - 1;
    return p->data + (size_t)r * (size_t)p->stride;
}

/// Output row y of plane p expanded to full resolution in `line` (at least hs·cw entries); returns the row.
/// `sums` is scratch of cw ints.
static const stbi_uc *clip_upsample_row(const clip_plane *p, int y, stbi_uc *line, int *sums) {
    const int cw = p->cw;
    if (p->hs == 1 && p->vs == 1) return clip_plane_row(p, y);
    if (p->hs == 2 && p->vs == 1 && cw > 2) {
        // h2v1: 3/4 nearer + 1/4 further, biases alternating 1 and 2.
        const stbi_uc *in = clip_plane_row(p, y);
        line[0] = in[0];
        line[1] = (stbi_uc)((in[0] * 3 + in[1] + 2) >> 2);
        for (int k = 1; k < cw - 1; k++) {
            int v = in[k] * 3;
            line[2 * k] = (stbi_uc)((v + in[k - 1] + 1) >> 2);
            line[2 * k + 1] = (stbi_uc)((v + in[k + 1] + 2) >> 2);
        }
        line[2 * cw - 2] = (stbi_uc)((in[cw - 1] * 3 + in[cw - 2] + 1) >> 2);
        line[2 * cw - 1] = in[cw - 1];
        return line;
    }
    if (p->hs == 1 && p->vs == 2) {
        // h1v2: the nearer row (y/2) weighs 3/4, the row above (even y, bias 1) or below (odd y, bias 2) 1/4.
        const stbi_uc *near = clip_plane_row(p, y >> 1);
        const stbi_uc *far = clip_plane_row(p, (y & 1) ? (y >> 1) + 1 : (y >> 1) - 1);
        const int bias = (y & 1) ? 2 : 1;
        for (int k = 0; k < cw; k++) line[k] = (stbi_uc)((near[k] * 3 + far[k] + bias) >> 2);
        return line;
    }
    if (p->hs == 2 && p->vs == 2 && cw > 2) {
        // h2v2: vertical 3:1 column sums, then horizontal 3:1 with biases 8 and 7 (9/16, 3/16, 3/16, 1/16).
        const stbi_uc *near = clip_plane_row(p, y >> 1);
        const stbi_uc *far = clip_plane_row(p, (y & 1) ? (y >> 1) + 1 : (y >> 1) - 1);
        for (int k = 0; k < cw; k++) sums[k] = near[k] * 3 + far[k];
        line[0] = (stbi_uc)((sums[0] * 4 + 8) >> 4);
        line[1] = (stbi_uc)((sums[0] * 3 + sums[1] + 7) >> 4);
        for (int k = 1; k < cw - 1; k++) {
            line[2 * k] = (stbi_uc)((sums[k] * 3 + sums[k - 1] + 8) >> 4);
            line[2 * k + 1] = (stbi_uc)((sums[k] * 3 + sums[k + 1] + 7) >> 4);
        }
        line[2 * cw - 2] = (stbi_uc)((sums[cw - 1] * 3 + sums[cw - 2] + 8) >> 4);
        line[2 * cw - 1] = (stbi_uc)((sums[cw - 1] * 4 + 7) >> 4);
        return line;
    }
    // Box replication: h2v1/h2v2 on planes ≤ 2 samples wide, and every other integral factor.
    const stbi_uc *in = clip_plane_row(p, y / p->vs);
    for (int k = 0; k < cw; k++)
        for (int i = 0; i < p->hs; i++) line[k * p->hs + i] = in[k];
    return line;
}

// MARK: - Colour conversion (libjpeg jdcolor.c, SCALEBITS = 16)

static inline stbi_uc clip_clamp255(int v) { return (stbi_uc)(v < 0 ? 0 : v > 255 ? 255 : v); }

/// out: (width, 3) RGB; y, cb, cr: (width) full-resolution samples.
static void clip_ycc_to_rgb_row(stbi_uc *out, const stbi_uc *y, const stbi_uc *cb, const stbi_uc *cr, int width) {
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
static void clip_cmyk_to_rgb_row(stbi_uc *out, const stbi_uc *c0, const stbi_uc *c1, const stbi_uc *c2,
                                 const stbi_uc *c3, int width, int ycck) {
    for (int i = 0; i < width; i++) {
        int ink[3];
        if (ycck) {
            // YCCK: libjpeg's C = 255 − R(YCbCr), so Pillow's inverted value is the RGB value itself.
            stbi_uc rgb[3];
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

/// Decodes into `dest` (capacity `dest_capacity` bytes) or, when `dest` is NULL, into a new allocation.
static unsigned char *clip_jpeg_decode(const unsigned char *buffer, int len, unsigned char *dest, size_t dest_capacity,
                                       int *width, int *height) {
    stbi__context s;
    stbi__start_mem(&s, buffer, len);
    stbi__jpeg *j = (stbi__jpeg *)stbi__malloc(sizeof(stbi__jpeg));
    if (!j) return stbi__errpuc("outofmem", "Out of memory");
    j->s = &s;
    stbi__setup_jpeg(j);
    j->idct_block_kernel = clip_idct_islow_kernel;  // the one stb kernel replaced: baseline and progressive use it
    s.img_n = 0;                             // makes stbi__cleanup_jpeg safe if decoding fails early
    unsigned char *result = NULL;
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
    if (dest) {
        if (!stbi__mad3sizes_valid(w, h, 3, 0) || (size_t)w * (size_t)h * 3 > dest_capacity) {
            stbi__err("output buffer too small", "JPEG is larger than the output buffer");
            goto done;
        }
        result = dest;
    } else {
        result = (unsigned char *)stbi__malloc_mad3(w, h, 3, 0);
    }
    if (!lines || !sums || !result) {
        if (result != dest) STBI_FREE(result);
        result = stbi__errpuc("outofmem", "Out of memory");
        goto done;
    }
    const int rgb = n == 3 && clip_jpeg_is_rgb(j);
    for (int y = 0; y < h; y++) {
        stbi_uc *out = result + (size_t)y * (size_t)w * 3;
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

done:
    STBI_FREE(lines);
    STBI_FREE(sums);
    stbi__cleanup_jpeg(j);
    STBI_FREE(j);
    return result;
}

unsigned char *clip_jpeg_load_rgb(const unsigned char *buffer, int len, int *width, int *height) {
    return clip_jpeg_decode(buffer, len, NULL, 0, width, height);
}

int clip_jpeg_decode_rgb_into(const unsigned char *buffer, int len, unsigned char *dest, size_t dest_capacity,
                              int *width, int *height) {
    if (!dest) return stbi__err("no output buffer", "No output buffer");
    return clip_jpeg_decode(buffer, len, dest, dest_capacity, width, height) != NULL;
}
