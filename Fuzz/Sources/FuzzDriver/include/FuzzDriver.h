// libFuzzer's driver entry point, declared for Swift.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt FuzzerDriver.cpp): parses libFuzzer flags from argv and runs `callback`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
