// MemorySanitizer driver for the package's stb_image translation unit (Sources/CSTBImage/stb_image_impl.c, the
// same options and JPEG back end the library uses): decodes each file given on the command line as ImageDecoder
// does (stbi_info_from_memory, then clip_jpeg_decode_rgb_into for JPEG or stbi_load_from_memory with 3 channels) and
// touches every output byte, so MSan reports pixels computed from uninitialised memory. The Swift-side
// pre-checks and palette completion are not applied here: feed it files that passed them, or expect the
// palette PNG/BMP crashers to report (that is the behaviour PaletteCompletion prevents).
//
//   /opt/swift/usr/bin/clang -O1 -g -fsanitize=memory -fsanitize-recover=memory -fsanitize-memory-track-origins \
//       -ISources/CSTBImage/include Fuzz/msan/stb_msan.c Sources/CSTBImage/jpeg_*.c -o /tmp/stb_msan
//   MSAN_OPTIONS=halt_on_error=0 /tmp/stb_msan Tests/Fixtures/jpeg/*.jpg Tests/Fixtures/fuzz-crashers/uninit-*
#include "../../Sources/CSTBImage/stb_image_impl.c"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    for (int a = 1; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = malloc(n ? n : 1);
        if (fread(buf, 1, n, f) != (size_t)n) n = 0;
        fclose(f);
        int w, h, c;
        if (stbi_info_from_memory(buf, (int)n, &w, &h, &c)) {
            int jpeg = n >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF;
            unsigned char *px;
            if (jpeg) {   // an uninitialised buffer, so MSan sees any byte the decoder fails to write
                size_t size = (size_t)w * (size_t)h * 3;
                px = malloc(size ? size : 1);
                if (px && !clip_jpeg_decode_rgb_into(buf, (int)n, px, size, &w, &h)) { free(px); px = NULL; }
            } else {
                px = stbi_load_from_memory(buf, (int)n, &w, &h, &c, 3);
            }
            if (px) {
                unsigned sum = 0;
                for (long i = 0; i < (long)w * h * 3; i++) sum += px[i];
                printf("%s: %dx%d checksum %u\n", argv[a], w, h, sum);   // MSan reports here if px is uninitialised
                stbi_image_free(px);
            } else {
                printf("%s: %s\n", argv[a], stbi_failure_reason());
            }
        } else {
            printf("%s: info failed: %s\n", argv[a], stbi_failure_reason());
        }
        free(buf);
    }
    return 0;
}
