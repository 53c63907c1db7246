#pragma once
#include <stddef.h>
#include <stdint.h>

/// Returns 1; referencing it keeps the instrumented stb_image object in the link.
int clip_fuzz_instrumented_stb(void);

/// libFuzzer's driver (compiler-rt FuzzerDriver.cpp): parses libFuzzer flags from argv and runs `callback`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
