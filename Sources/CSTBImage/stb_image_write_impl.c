// The stb_image_write implementation (used by the benchmark and tests to synthesise JPEG/PNG inputs).
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
