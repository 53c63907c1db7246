// vpdpbusd (AVX-512 VNNI): 4-way u8 × s8 dot products accumulated into int32 lanes, from Swift SIMD types.
// acc: 16 × Int32, a: 64 × UInt8, b: 64 × Int8 (as UInt8 bits) -> acc + Σ_{t<4} a[4i+t]·b[4i+t] per lane.
// This target is compiled for cascadelake: an AVX-512 intrinsic cannot even be compiled for another CPU.

#if arch(x86_64)
import Builtin

/// `vpdpbusd zmm`: `acc[i] += Σ_{t<4} UInt8(a[4i+t]) · Int8(bitPattern: b[4i+t])`, exact, wrapping in int32.
@_alwaysEmitIntoClient @_transparent
public func dotProductAccumulate(_ acc: SIMD16<Int32>, _ a: SIMD64<UInt8>, _ b: SIMD64<UInt8>) -> SIMD16<Int32> {
    unsafeBitCast(Builtin.int_x86_avx512_vpdpbusd_512(
        acc._storage._value, unsafeBitCast(a, to: SIMD16<Int32>.self)._storage._value,
        unsafeBitCast(b, to: SIMD16<Int32>.self)._storage._value), to: SIMD16<Int32>.self)
}
#endif
