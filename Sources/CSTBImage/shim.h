// stb_image from Debian's libstb-dev: declarations only; the implementation lives in libstb.
#include <stb/stb_image.h>
// stb_image_write (also in libstb): used by the benchmark and tests to synthesise JPEG/PNG inputs.
#include <stb/stb_image_write.h>
