// stb_image from Debian's libstb-dev: declarations only; the implementation lives in libstb.
#include <stb/stb_image.h>
