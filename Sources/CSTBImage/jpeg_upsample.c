// libjpeg's chroma upsampling (jdsample.c, "fancy" triangle filters): one output row of one component plane.
// plane: (ch, cw) samples with row stride `stride`; line: (hs·cw) output samples.

#include <stddef.h>
#include "jpeg_kernels.h"

static inline const unsigned char *clip_plane_row(const clip_plane *p, int r) {
    // libjpeg's context rows: above the first row is the first row, below the last is the last.
    if (r < 0) r = 0;
    if (r >= p->ch) r = p->ch - 1;
    return p->data + (size_t)r * (size_t)p->stride;
}

const unsigned char *clip_upsample_row(const clip_plane *p, int y, unsigned char *line, int *sums) {
    const int cw = p->cw;
    if (p->hs == 1 && p->vs == 1) return clip_plane_row(p, y);
    if (p->hs == 2 && p->vs == 1 && cw > 2) {
        // h2v1: 3/4 nearer + 1/4 further, biases alternating 1 and 2.
        const unsigned char *in = clip_plane_row(p, y);
        line[0] = in[0];
        line[1] = (unsigned char)((in[0] * 3 + in[1] + 2) >> 2);
        for (int k = 1; k < cw - 1; k++) {
            int v = in[k] * 3;
            line[2 * k] = (unsigned char)((v + in[k - 1] + 1) >> 2);
            line[2 * k + 1] = (unsigned char)((v + in[k + 1] + 2) >> 2);
        }
        line[2 * cw - 2] = (unsigned char)((in[cw - 1] * 3 + in[cw - 2] + 1) >> 2);
        line[2 * cw - 1] = in[cw - 1];
        return line;
    }
    if (p->hs == 1 && p->vs == 2) {
        // h1v2: the nearer row (y/2) weighs 3/4, the row above (even y, bias 1) or below (odd y, bias 2) 1/4.
        const unsigned char *near = clip_plane_row(p, y >> 1);
        const unsigned char *far = clip_plane_row(p, (y & 1) ? (y >> 1) + 1 : (y >> 1) - 1);
        const int bias = (y & 1) ? 2 : 1;
        for (int k = 0; k < cw; k++) line[k] = (unsigned char)((near[k] * 3 + far[k] + bias) >> 2);
        return line;
    }
    if (p->hs == 2 && p->vs == 2 && cw > 2) {
        // h2v2: vertical 3:1 column sums, then horizontal 3:1 with biases 8 and 7 (9/16, 3/16, 3/16, 1/16).
        const unsigned char *near = clip_plane_row(p, y >> 1);
        const unsigned char *far = clip_plane_row(p, (y & 1) ? (y >> 1) + 1 : (y >> 1) - 1);
        for (int k = 0; k < cw; k++) sums[k] = near[k] * 3 + far[k];
        line[0] = (unsigned char)((sums[0] * 4 + 8) >> 4);
        line[1] = (unsigned char)((sums[0] * 3 + sums[1] + 7) >> 4);
        for (int k = 1; k < cw - 1; k++) {
            line[2 * k] = (unsigned char)((sums[k] * 3 + sums[k - 1] + 8) >> 4);
            line[2 * k + 1] = (unsigned char)((sums[k] * 3 + sums[k + 1] + 7) >> 4);
        }
        line[2 * cw - 2] = (unsigned char)((sums[cw - 1] * 3 + sums[cw - 2] + 8) >> 4);
        line[2 * cw - 1] = (unsigned char)((sums[cw - 1] * 4 + 7) >> 4);
        return line;
    }
    // Box replication: h2v1/h2v2 on planes ≤ 2 samples wide, and every other integral factor.
    const unsigned char *in = clip_plane_row(p, y / p->vs);
    for (int k = 0; k < cw; k++)
        for (int i = 0; i < p->hs; i++) line[k * p->hs + i] = in[k];
    return line;
}
