// WebP → RGB through the system libwebp, reproducing what Pillow's WebPImagePlugin + convert("RGB") gives.
//
// Pillow (13, with libwebp 1.6) opens every WebP with WebPAnimDecoderNew(data, NULL): color_mode MODE_RGBA,
// use_threads 0, otherwise WebPInitDecoderConfig defaults. For the first frame the animation decoder zero-fills an
// RGBA canvas (the first frame is always a key frame, so no blending and no background colour) and runs
// WebPDecode on the frame's fragment straight into its rectangle (stride = canvas width). convert("RGB") then
// drops alpha. Doing the same with MODE_RGB into the caller's buffer gives identical bytes: libwebp's RGB and
// RGBA outputs share the YUV→RGB / ARGB→RGB conversions, and non-premultiplied RGBA never alters the colour
// channels. It avoids the animation decoder's two RGBA canvases (8 bytes per canvas pixel) and Pillow's copy.
// The demuxer (WebPDemux) is the same container validation Pillow goes through, so the same files are refused.

#include "cwebp_shim.h"

#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// Pillow's WebPImagePlugin._accept: "RIFF", 4 size bytes, "WEBP", then a "VP8 ", "VP8L" or "VP8X" chunk.
static int check_signature(const uint8_t *data, size_t size) {
    if (data == NULL) return CLIP_WEBP_ERR_ARGUMENT;
    if (size < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WEBP", 4) != 0) return CLIP_WEBP_ERR_NOT_WEBP;
    if (size < 16) return CLIP_WEBP_ERR_TRUNCATED;
    if (memcmp(data + 12, "VP8 ", 4) != 0 && memcmp(data + 12, "VP8L", 4) != 0 && memcmp(data + 12, "VP8X", 4) != 0) {
        return CLIP_WEBP_ERR_NOT_WEBP;
    }
    return CLIP_WEBP_OK;
}

static int map_status(VP8StatusCode status) {
    switch (status) {
    case VP8_STATUS_OK: return CLIP_WEBP_OK;
    case VP8_STATUS_NOT_ENOUGH_DATA: return CLIP_WEBP_ERR_TRUNCATED;
    case VP8_STATUS_UNSUPPORTED_FEATURE: return CLIP_WEBP_ERR_UNSUPPORTED;
    case VP8_STATUS_OUT_OF_MEMORY: return CLIP_WEBP_ERR_OUT_OF_MEMORY;
    default: return CLIP_WEBP_ERR_CORRUPT;   // BITSTREAM_ERROR, INVALID_PARAM, SUSPENDED, USER_ABORT
    }
}

// The whole-file demuxer Pillow's WebPAnimDecoderNew builds (partial data refused). On failure *err says why:
// data shorter than the RIFF size declares is truncation, anything else a container error.
static WebPDemuxer *open_demuxer(const uint8_t *data, size_t size, int *err) {
    WebPData wd = {data, size};
    WebPDemuxer *dmux = WebPDemux(&wd);
    if (dmux == NULL) {
        // libwebp refuses RIFF sizes above its largest chunk payload (2^32 - 10) outright.
        const uint32_t riff_size = le32(data + 4);
        const int truncated = riff_size <= UINT32_MAX - 9 && (uint64_t)riff_size + 8 > size;
        *err = truncated ? CLIP_WEBP_ERR_TRUNCATED : CLIP_WEBP_ERR_CORRUPT;
    }
    return dmux;
}

int clip_webp_info(const uint8_t *data, size_t size, int *width, int *height, int *has_alpha, int *has_animation) {
    int rc = check_signature(data, size);
    if (rc != CLIP_WEBP_OK) return rc;
    WebPBitstreamFeatures f;
    // Header fields only: for VP8X it stops at the canvas when the rest is missing (or the file is animated).
    rc = map_status(WebPGetFeatures(data, size, &f));
    if (rc != CLIP_WEBP_OK) return rc;
    if (f.width <= 0 || f.height <= 0) return CLIP_WEBP_ERR_CORRUPT;
    if (width) *width = f.width;
    if (height) *height = f.height;
    if (has_alpha) *has_alpha = f.has_alpha;
    if (has_animation) *has_animation = f.has_animation;
    return CLIP_WEBP_OK;
}

int clip_webp_decode_rgb(const uint8_t *data, size_t size, uint8_t *out_rgb, size_t out_capacity, int *width,
                         int *height) {
    int rc = check_signature(data, size);
    if (rc != CLIP_WEBP_OK) return rc;
    if (out_rgb == NULL) return CLIP_WEBP_ERR_ARGUMENT;
    WebPDemuxer *dmux = open_demuxer(data, size, &rc);
    if (dmux == NULL) return rc;

    const uint32_t cw = WebPDemuxGetI(dmux, WEBP_FF_CANVAS_WIDTH);
    const uint32_t ch = WebPDemuxGetI(dmux, WEBP_FF_CANVAS_HEIGHT);
    if (cw == 0 || ch == 0 || cw > (1u << 24) || ch > (1u << 24)) { WebPDemuxDelete(dmux); return CLIP_WEBP_ERR_CORRUPT; }
    if (width) *width = (int)cw;
    if (height) *height = (int)ch;
    // Sizes in 64 bits: the demuxer allows canvases up to 2^24 per side (width·height < 2^32).
    const uint64_t stride = (uint64_t)cw * 3;
    const uint64_t needed = stride * ch;
    if (needed > SIZE_MAX || needed > (uint64_t)out_capacity) {
        WebPDemuxDelete(dmux);
        return needed > SIZE_MAX ? CLIP_WEBP_ERR_ARGUMENT : CLIP_WEBP_ERR_BUFFER_TOO_SMALL;
    }

    WebPIterator iter;
    if (!WebPDemuxGetFrame(dmux, 1, &iter)) { WebPDemuxDelete(dmux); return CLIP_WEBP_ERR_CORRUPT; }
    // The demuxer already bounds frames by the canvas; checked again because the pointer arithmetic relies on it.
    if (iter.width <= 0 || iter.height <= 0 || iter.x_offset < 0 || iter.y_offset < 0 ||
        (uint64_t)iter.x_offset + (uint64_t)iter.width > cw || (uint64_t)iter.y_offset + (uint64_t)iter.height > ch) {
        WebPDemuxReleaseIterator(&iter);
        WebPDemuxDelete(dmux);
        return CLIP_WEBP_ERR_CORRUPT;
    }

    // The animation decoder's key-frame canvas is transparent black, so pixels outside the first frame read (0,0,0).
    // A frame covering the canvas overwrites every byte on success, so the fill is only needed for a smaller one
    // (and a hostile file claiming a large size fails before most of the buffer is touched).
    if ((uint32_t)iter.width != cw || (uint32_t)iter.height != ch) memset(out_rgb, 0, (size_t)needed);

    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) {
        WebPDemuxReleaseIterator(&iter);
        WebPDemuxDelete(dmux);
        return CLIP_WEBP_ERR_CORRUPT;   // ABI mismatch between header and library
    }
    config.options.use_threads = 0;
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = out_rgb + ((uint64_t)iter.y_offset * cw + (uint64_t)iter.x_offset) * 3;
    config.output.u.RGBA.stride = (int)stride;   // ≤ 3·2^24, fits an int
    config.output.u.RGBA.size = (size_t)(stride * (uint64_t)(iter.height - 1) + (uint64_t)iter.width * 3);

    rc = map_status(WebPDecode(iter.fragment.bytes, iter.fragment.size, &config));
    WebPFreeDecBuffer(&config.output);   // nothing to free for external memory; kept for symmetry
    WebPDemuxReleaseIterator(&iter);
    WebPDemuxDelete(dmux);
    return rc;
}

int clip_webp_chunk(const uint8_t *data, size_t size, const char *fourcc, size_t *offset, size_t *length) {
    int rc = check_signature(data, size);
    if (rc != CLIP_WEBP_OK) return rc;
    if (fourcc == NULL || offset == NULL || length == NULL) return CLIP_WEBP_ERR_ARGUMENT;
    WebPDemuxer *dmux = open_demuxer(data, size, &rc);
    if (dmux == NULL) return rc;
    WebPChunkIterator it;
    if (!WebPDemuxGetChunk(dmux, fourcc, 1, &it)) {
        WebPDemuxDelete(dmux);
        return 1;
    }
    // The demuxer points into `data` (it was not asked to copy), so the chunk is a sub-range of it.
    *offset = (size_t)(it.chunk.bytes - data);
    *length = it.chunk.size;
    WebPDemuxReleaseChunkIterator(&it);
    WebPDemuxDelete(dmux);
    return CLIP_WEBP_OK;
}

int clip_webp_exif(const uint8_t *data, size_t size, size_t *offset, size_t *length) {
    int rc = clip_webp_chunk(data, size, "EXIF", offset, length);
    if (rc == CLIP_WEBP_OK && *length >= 6 && memcmp(data + *offset, "Exif\0\0", 6) == 0) {
        *offset += 6;
        *length -= 6;
    }
    return rc;
}

int clip_webp_decoder_version(void) { return WebPGetDecoderVersion(); }
