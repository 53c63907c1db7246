// Returns freed heap memory to the system (glibc's malloc_trim; a no-op elsewhere).
#ifndef CMALLOCTRIM_H
#define CMALLOCTRIM_H
int clip_malloc_trim(void);
#endif
