// vpmaddubsw + vpmaddwd (AVX2): 4-way u8 × s8 dot products accumulated into int32 lanes, from Swift SIMD types.
// acc: 8 × Int32, a: 32 × UInt8 (each ≤ 127), b: 32 × Int8 (as UInt8 bits) -> acc + Σ_{t<4} a[4i+t]·b[4i+t].
// This target is compiled for haswell: an AVX2 intrinsic cannot even be compiled for another CPU.

#if arch(x86_64)
import Builtin

/// `vpmaddubsw` then `vpmaddwd` with ones: `acc[i] += Σ_{t<4} a[4i+t] · Int8(bitPattern: b[4i+t])`.
///
/// `vpmaddubsw` saturates its 16-bit pair sums, so this is exact only while `|a0·b0 + a1·b1| ≤ 32767`: callers keep
/// activations in 0…127 (7 bits), which bounds every pair by 2·127·128 = 32512.
@_alwaysEmitIntoClient @_transparent
public func dotProductAccumulate(_ acc: SIMD8<Int32>, _ a: SIMD32<UInt8>, _ b: SIMD32<UInt8>) -> SIMD8<Int32> {
    let pairs = Builtin.int_x86_avx2_pmadd_ub_sw(a._storage._value, unsafeBitCast(b, to: SIMD32<Int8>.self)._storage._value)
    let ones = SIMD16<Int16>(repeating: 1)
    let quads = Builtin.int_x86_avx2_pmadd_wd(pairs, ones._storage._value)
    return acc &+ unsafeBitCast(quads, to: SIMD8<Int32>.self)
}

/// Two k-groups with one `vpmaddwd`: `vpmaddubsw` of each, the 16-bit pair sums added (`vpaddw`), then widened:
/// `acc[i] += Σ_{t<4} a0[4i+t]·b0[4i+t] + a1[4i+t]·b1[4i+t]` (b as Int8 bits).
///
/// Exact only while every 16-bit lane sum `|a0·b0 + a0'·b0' + a1·b1 + a1'·b1'| ≤ 32767`: callers keep activations in
/// 0…127 and weights in −64…64, which bounds it by 4·127·64 = 32512.
@_alwaysEmitIntoClient @_transparent
public func dotProductPairAccumulate(_ acc: SIMD8<Int32>, _ a0: SIMD32<UInt8>, _ b0: SIMD32<UInt8>, _ a1: SIMD32<UInt8>,
                                     _ b1: SIMD32<UInt8>) -> SIMD8<Int32> {
    let p0 = Builtin.int_x86_avx2_pmadd_ub_sw(a0._storage._value, unsafeBitCast(b0, to: SIMD32<Int8>.self)._storage._value)
    let p1 = Builtin.int_x86_avx2_pmadd_ub_sw(a1._storage._value, unsafeBitCast(b1, to: SIMD32<Int8>.self)._storage._value)
    let sum = unsafeBitCast(p0, to: SIMD16<Int16>.self) &+ unsafeBitCast(p1, to: SIMD16<Int16>.self)
    let ones = SIMD16<Int16>(repeating: 1)
    let quads = Builtin.int_x86_avx2_pmadd_wd(sum._storage._value, ones._storage._value)
    return acc &+ unsafeBitCast(quads, to: SIMD8<Int32>.self)
}
#endif
