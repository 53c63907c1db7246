// OpenBLAS's CBLAS interface (Debian libopenblas-dev; pkg-config "openblas" gives the include path).
// cblas.h also declares openblas_set_num_threads / openblas_get_num_threads, used by the CLIP_THREADS knob.
#include <cblas.h>
