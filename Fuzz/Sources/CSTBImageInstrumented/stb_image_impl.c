// The stb_image implementation with the same (default) options Debian's libstb is built with
// ("all optional macros unset"), compiled here with sanitizer and coverage instrumentation.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

// A marker the harness calls so the linker keeps this object (and its stbi_* definitions) in the link.
int clip_fuzz_instrumented_stb(void) { return 1; }
