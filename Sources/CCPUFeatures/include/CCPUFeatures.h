// CPU feature detection for run-time kernel dispatch (x86-64: CPUID + XGETBV; elsewhere: none).
#ifndef CCPUFEATURES_H
#define CCPUFEATURES_H

/// Bits of clip_cpu_features().
enum {
    /// AVX2 and FMA3, with the OS saving YMM state (XCR0 bits 1 and 2).
    CLIP_CPU_AVX2_FMA = 1 << 0,
    /// AVX-512 F, CD, BW, DQ and VL, with the OS saving ZMM and opmask state (XCR0 bits 5, 6, 7).
    CLIP_CPU_AVX512 = 1 << 1,
    /// AVX-512 VNNI (vpdpbusd on ZMM), on top of CLIP_CPU_AVX512.
    CLIP_CPU_AVX512_VNNI = 1 << 2,
    /// AVX-VNNI (vpdpbusd on YMM with a VEX encoding), on top of CLIP_CPU_AVX2_FMA.
    CLIP_CPU_AVX_VNNI = 1 << 3,
};

/// The features above that this CPU and OS support; 0 on other architectures.
int clip_cpu_features(void);

/// A spin-wait hint (PAUSE on x86-64, YIELD on arm64).
void clip_cpu_relax(void);

#endif
