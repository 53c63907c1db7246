// Empty: this target only exports the LLVMFuzzerRunDriver declaration (libFuzzer itself provides the definition).
#include "FuzzDriver.h"
