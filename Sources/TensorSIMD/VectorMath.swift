// Vectorised exp and erf for any SIMD width (Foundation's are scalar).
// x: I.V lanes, independent -> I.V.

import KernelIntrinsics

/// Lane-wise `exp` (Cephes-style range reduction and a degree-6 polynomial, within 2 ulp of libm).
///
/// Inputs are clamped to [-104, 88.8], where the final scaling over- or underflows exactly as libm does (`+inf`
/// above 88.72, 0 below -103.97, subnormals in between); NaN propagates through the clamp. No comparisons or
/// selects: in generic code those become per-lane loops.
@inlinable @inline(__always)
package func vexp<I: KernelISA>(_: I.Type, _ x: I.V) -> I.V {
    typealias V = I.V
    let log2e: Float = 1.44269504088896341
    let c1: Float = 0.693359375       // ln 2, high part
    let c2: Float = -2.12194440e-4    // ln 2, low part
    // Clamp to where the scaling below over- or underflows by itself (NaN-propagating min/max).
    let xc = V.maximum(V.minimum(x, V(repeating: 88.8)), V(repeating: -104))
    // n = round(x / ln 2) via the 1.5·2^23 magic-number trick (no float→int conversion that could trap on NaN).
    let magic: Float = 12582912.0
    let t = xc * log2e + magic
    let n = t - magic
    var r = xc - n * c1
    r = r - n * c2
    var p = V(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let r2 = r * r
    let poly = p * r2 + r + 1
    // 2^n as two normal factors 2^(n/2)·2^(n−n/2), so n from −150 to 128 needs no special case.
    // The integer n sits in the low mantissa bits of t.
    let tBits = unsafeBitCast(t, to: V.MaskStorage.self)
    let nInt = tBits &- V.MaskStorage(repeating: V.MaskStorage.Scalar(truncatingIfNeeded: magic.bitPattern))
    let half = nInt &>> 1
    let exponentBias = V.MaskStorage(repeating: 127)
    let scale1 = unsafeBitCast((half &+ exponentBias) &<< 23, to: V.self)
    let scale2 = unsafeBitCast((nInt &- half &+ exponentBias) &<< 23, to: V.self)
    return poly * scale1 * scale2
}

/// Lane-wise error function (Abramowitz & Stegun 7.1.26 refined; max abs error ≈ 1.5e-7).
@inlinable @inline(__always)
package func verf<I: KernelISA>(_: I.Type, _ x: I.V) -> I.V {
    typealias V = I.V
    // erf(x) = sign(x) · (1 − (a1 t + … + a5 t^5) · e^{−x²}),  t = 1 / (1 + p|x|); |x| and the sign by bit masks
    let bits = unsafeBitCast(x, to: V.MaskStorage.self)
    let signBit = V.MaskStorage(repeating: V.MaskStorage.Scalar.min)
    let a = unsafeBitCast(bits & ~signBit, to: V.self)
    let t = 1 / (1 + 0.3275911 * a)
    var poly = V(repeating: 1.061405429)
    poly = poly * t - 1.453152027
    poly = poly * t + 1.421413741
    poly = poly * t - 0.284496736
    poly = poly * t + 0.254829592
    poly = poly * t
    let y = 1 - poly * vexp(I.self, -(a * a))
    return unsafeBitCast(unsafeBitCast(y, to: V.MaskStorage.self) | (bits & signBit), to: V.self)
}
