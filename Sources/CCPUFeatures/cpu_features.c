// CPU feature detection for run-time kernel dispatch: CPUID leaves 1 and 7, and XGETBV for OS support.
#include "CCPUFeatures.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <stdint.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

int clip_cpu_features(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    const uint64_t xcr0 = xgetbv0();
    const int ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const int avx2 = (b >> 5) & 1;
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, cd = (b >> 28) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    const int vnni512 = (c >> 11) & 1;
    int features = 0;
    if (avx2 && fma && ymm) features |= CLIP_CPU_AVX2_FMA;
    if ((features & CLIP_CPU_AVX2_FMA) && f && dq && cd && bw && vl && zmm) {
        features |= CLIP_CPU_AVX512;
        if (vnni512) features |= CLIP_CPU_AVX512_VNNI;
    }
    unsigned a1, b1, c1, d1;
    if ((features & CLIP_CPU_AVX2_FMA) && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && ((a1 >> 4) & 1))
        features |= CLIP_CPU_AVX_VNNI;
    return features;
}

void clip_cpu_relax(void) { __builtin_ia32_pause(); }

#else

int clip_cpu_features(void) { return 0; }

void clip_cpu_relax(void) {
#if defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#endif
