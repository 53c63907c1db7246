// libjpeg's JDCT_ISLOW inverse DCT (jidctint.c): a plain scalar reference and the vectorised version the decoder uses.
// data: (8, 8) dequantized coefficients in natural order; out: (8, 8) samples, row stride out_stride.

#include <stdint.h>
#include "CSTBImage.h"
#include "jpeg_kernels.h"

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
static inline unsigned char clip_idct_range_limit(int x) {
    int m = x & 1023;
    if (m < 128) return (unsigned char)(m + 128);
    if (m < 512) return 255;
    if (m < 896) return 0;
    return (unsigned char)(m - 896);
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

void clip_idct_islow_reference(unsigned char *out, int out_stride, const short data[64]) {
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
        unsigned char *o = out + r * out_stride;
        if (!(row[1] | row[2] | row[3] | row[4] | row[5] | row[6] | row[7])) {
            unsigned char v = clip_idct_range_limit(clip_descale(row[0], CLIP_PASS1_BITS + 3));
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
// reference exactly; IDCTTests (Tests/CLIPTests) checks that on random blocks.

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

void clip_idct_islow_fast(unsigned char *out, int out_stride, const short data[64]) {
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
    // sums[c][r] is output column c of row r. The range limit runs on the lanes, branch-free: with
    // t = (v + 128) & 1023, libjpeg's table gives t below 256, 255 up to 639 and 0 above (the same four cases as
    // clip_idct_range_limit, measured: its branches were half of this function's time); then a byte transpose.
    unsigned char bytes[8][8];
    for (int c = 0; c < 8; c++)
        for (int r = 0; r < 8; r++) {
            int32_t t = (clip_descale32(sums[c][r], CLIP_CONST_BITS + CLIP_PASS1_BITS + 3) + 128) & 1023;
            bytes[c][r] = (unsigned char)(t < 256 ? t : (t < 640 ? 255 : 0));
        }
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 8; c++) out[r * out_stride + c] = bytes[c][r];
}
