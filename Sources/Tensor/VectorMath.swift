// Vectorised exp and erf over SIMD8<Float> (Foundation's are scalar), with their scalar references.
// x: SIMD8<Float> lanes, independent.

/// Lane-wise `exp` for `SIMD8<Float>` (Cephes-style range reduction + degree-6 polynomial, ~2 ulp).
///
/// Inputs above 88.72 give `+inf`, below -103.97 give 0 (subnormal results in between), NaN stays NaN.
/// ```swift
/// let y = vexp(SIMD8<Float>(repeating: 1))   // ≈ 2.7182817 in every lane
/// ```
@inlinable
public func vexp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let log2e: Float = 1.44269504088896341
    let c1: Float = 0.693359375       // ln 2, high part
    let c2: Float = -2.12194440e-4    // ln 2, low part
    // Clamp to where the result is finite or subnormal; NaN compares false and passes through unchanged.
    let xc = x.replacing(with: 88.8, where: x .> 88.8).replacing(with: -104, where: x .< -104)
    // n = round(x / ln 2) via the 1.5·2^23 magic-number trick (no float→int conversion that could trap on NaN).
    let magic: Float = 12582912.0
    let t = xc * log2e + magic
    let n = t - magic
    var r = xc - n * c1
    r = r - n * c2
    var p = SIMD8<Float>(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let r2 = r * r
    let poly = p * r2 + r + 1
    // 2^n as two normal factors 2^(n/2)·2^(n−n/2), so n from −150 to 128 needs no special case.
    // The integer n sits in the low mantissa bits of t.
    let tBits = unsafeBitCast(t, to: SIMD8<Int32>.self)
    let magicBits = Int32(bitPattern: magic.bitPattern)
    let nInt = tBits &- magicBits
    let half = nInt &>> 1
    let scale1 = unsafeBitCast((half &+ 127) &<< 23, to: SIMD8<Float>.self)
    let scale2 = unsafeBitCast((nInt &- half &+ 127) &<< 23, to: SIMD8<Float>.self)
    var y = poly * scale1 * scale2
    // The tails as libm gives them: overflow to inf, full underflow to 0.
    y.replace(with: .infinity, where: x .> 88.72284)
    y.replace(with: 0, where: x .< -103.972)
    return y
}

/// Scalar reference for ``vexp(_:)``: libm's `expf`.
///
/// ```swift
/// expReference(0)   // 1
/// ```
@inlinable
public func expReference(_ x: Float) -> Float {
    Float(exp(Double(x)))
}

/// Lane-wise error function for `SIMD8<Float>` (Abramowitz & Stegun 7.1.26 refined; max abs error ≈ 1.5e-7).
///
/// ```swift
/// let y = verf(SIMD8<Float>(repeating: 0.5))   // ≈ 0.5204999
/// ```
@inlinable
public func verf(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // erf(x) = sign(x) · (1 − (a1 t + … + a5 t^5) · e^{−x²}),  t = 1 / (1 + p|x|)
    let a = x.replacing(with: -x, where: x .< 0)
    let t = 1 / (1 + 0.3275911 * a)
    var poly = SIMD8<Float>(repeating: 1.061405429)
    poly = poly * t - 1.453152027
    poly = poly * t + 1.421413741
    poly = poly * t - 0.284496736
    poly = poly * t + 0.254829592
    poly = poly * t
    let y = 1 - poly * vexp(-(a * a))
    return y.replacing(with: -y, where: x .< 0)
}

/// Scalar reference for ``verf(_:)``: libm's `erf`.
///
/// ```swift
/// erfReference(0)   // 0
/// ```
@inlinable
public func erfReference(_ x: Float) -> Float {
    Float(erf(Double(x)))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
