// WebP decoding through the system libwebp (Debian: libwebp-dev; link libwebpdemux and libwebp), giving the pixels
// Pillow gives: its WebPImagePlugin decodes every WebP through WebPAnimDecoder (RGBA canvas, first frame for
// animations) and convert("RGB") then drops alpha.
#ifndef CWEBP_SHIM_H
#define CWEBP_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Return codes of the functions below (0 = success).
enum {
    CLIP_WEBP_OK = 0,
    /// Not RIFF....WEBP with a first chunk of "VP8 ", "VP8L" or "VP8X" (Pillow's signature test). Raw VP8/VP8L
    /// bitstreams without a RIFF container, which libwebp itself would accept, are refused here too.
    CLIP_WEBP_ERR_NOT_WEBP = -1,
    /// The data ends before the headers, or before the end its RIFF size declares.
    CLIP_WEBP_ERR_TRUNCATED = -2,
    /// A valid-looking WebP using a feature libwebp does not decode (VP8_STATUS_UNSUPPORTED_FEATURE).
    CLIP_WEBP_ERR_UNSUPPORTED = -3,
    /// Invalid container or bitstream (demuxer refusal, VP8/VP8L/ALPH decoding error).
    CLIP_WEBP_ERR_CORRUPT = -4,
    /// `out_capacity` is smaller than width·height·3 (width and height are still reported).
    CLIP_WEBP_ERR_BUFFER_TOO_SMALL = -5,
    /// A NULL pointer or a size too large for the platform.
    CLIP_WEBP_ERR_ARGUMENT = -6,
    /// libwebp could not allocate its working memory.
    CLIP_WEBP_ERR_OUT_OF_MEMORY = -7,
};

/// Header-only parse (WebPGetFeatures after the signature test): no pixel decoding and no allocation, so callers
/// can apply a pixel budget first. The size is the canvas: the VP8X canvas for extended files (animations may
/// declare up to 2^24 per side, width·height < 2^32), else the VP8/VP8L frame size (at most 16383 per side).
/// `has_alpha` is the VP8X alpha flag or the VP8L alpha hint (informational: the RGB output ignores alpha);
/// `has_animation` the VP8X animation flag. Any output pointer may be NULL.
/// Returns CLIP_WEBP_OK, _NOT_WEBP, _TRUNCATED (header incomplete), _UNSUPPORTED or _CORRUPT.
int clip_webp_info(const uint8_t *data, size_t size, int *width, int *height, int *has_alpha, int *has_animation);

/// Decodes the first frame to 8-bit RGB (3 bytes per pixel, rows top to bottom, canvas size) into `out_rgb`, as
/// Pillow's `Image.open(p).convert("RGB")` yields it: the canvas starts fully transparent black, the first frame is
/// decoded into its rectangle without blending, alpha is dropped (RGB of transparent pixels is kept as decoded,
/// not composited). libwebp defaults otherwise (fancy upsampling, no dithering, single thread).
/// `width`/`height` (may be NULL) receive the canvas size whenever the container parsed, including on
/// CLIP_WEBP_ERR_BUFFER_TOO_SMALL. Memory: besides `out_rgb`, libwebp allocates per-frame working buffers
/// (lossless: 4 bytes per frame pixel; lossy: row caches plus 1 byte per pixel for an alpha plane).
int clip_webp_decode_rgb(const uint8_t *data, size_t size, uint8_t *out_rgb, size_t out_capacity, int *width,
                         int *height);

/// Locates the first chunk with the given four-character code (`fourcc`: 4 chars, e.g. "XMP ", "ICCP") as the demuxer Pillow uses
/// finds it (WebPDemuxGetChunk; the container must be valid, as for decoding). On success `*offset` and `*length`
/// delimit the payload inside `data`. Returns CLIP_WEBP_OK, 1 when there is no such chunk, or a negative code.
int clip_webp_chunk(const uint8_t *data, size_t size, const char *fourcc, size_t *offset, size_t *length);

/// The "EXIF" chunk as Pillow reads it, with a leading "Exif\0\0" skipped (PIL.Image.Exif.load does), so the
/// range starts at the TIFF header for the orientation that `ImageOps.exif_transpose` applies. When EXIF has no
/// orientation, Pillow's getexif() falls back to the regex `tiff:Orientation(="|>)([0-9])` over the "XMP " chunk
/// (see clip_webp_chunk). Return values as clip_webp_chunk.
int clip_webp_exif(const uint8_t *data, size_t size, size_t *offset, size_t *length);

/// libwebp's decoder version as 0xMMmmpp (e.g. 0x010204 for 1.2.4).
int clip_webp_decoder_version(void);

#ifdef __cplusplus
}
#endif

#endif
