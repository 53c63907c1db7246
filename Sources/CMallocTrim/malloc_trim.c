// glibc keeps freed memory in its arenas; malloc_trim(0) gives the free pages back (the server calls it after
// image batches). Other C libraries: nothing to do.
#include "CMallocTrim.h"
#if defined(__GLIBC__)
#include <malloc.h>
int clip_malloc_trim(void) { return malloc_trim(0); }
#else
int clip_malloc_trim(void) { return 0; }
#endif
