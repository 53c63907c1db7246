// zlib (Debian zlib1g-dev): used to inflate the bundled gzip BPE vocabulary.
#include <zlib.h>
