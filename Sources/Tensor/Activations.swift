// Elementwise activations: quick_gelu x·σ(1.702x) (OpenAI weights) and exact GELU 0.5x(1+erf(x/√2)) (LAION).
// x: (N) -> in place.

/// The activation named by a checkpoint's `hidden_act`.
///
/// ```swift
/// let act = try Activation(hfName: "quick_gelu")
/// ```
public enum Activation: String, Sendable, Equatable, CaseIterable {
    /// `x · sigmoid(1.702 x)`, OpenAI CLIP's activation.
    case quickGELU = "quick_gelu"
    /// `0.5 x (1 + erf(x / √2))`, exact GELU as in LAION/open_clip checkpoints.
    case gelu = "gelu"

    /// Parses transformers' `hidden_act` string; anything else is an error, never a silent default.
    ///
    /// ```swift
    /// try Activation(hfName: "gelu")   // .gelu
    /// ```
    public init(hfName: String) throws {
        guard let a = Activation(rawValue: hfName) else { throw ActivationError.unsupported(hfName) }
        self = a
    }

    /// Applies the activation in place over `count` floats (SIMD path).
    ///
    /// ```swift
    /// Activation.quickGELU.apply(buffer, count: 3072)
    /// ```
    @inlinable
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .quickGELU: applyQuickGELU(x, count: count)
        case .gelu: applyGELU(x, count: count)
        }
    }

    /// Scalar reference of ``apply(_:count:)``.
    ///
    /// ```swift
    /// Activation.gelu.applyReference(buffer, count: 7)
    /// ```
    public func applyReference(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .quickGELU: for i in 0..<count { x[i] = quickGELUReference(x[i]) }
        case .gelu: for i in 0..<count { x[i] = geluReference(x[i]) }
        }
    }
}

/// The error for an unknown `hidden_act`.
public enum ActivationError: Error, Equatable, CustomStringConvertible {
    case unsupported(String)
    public var description: String {
        switch self {
        case .unsupported(let name):
            return "unsupported hidden_act \"\(name)\" (supported: quick_gelu, gelu)"
        }
    }
}

/// In-place SIMD quick_gelu: `x · σ(1.702 x)` = `x / (1 + exp(−1.702 x))`.
///
/// ```swift
/// applyQuickGELU(buffer, count: n)
/// ```
@inlinable
public func applyQuickGELU(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let v = SIMD8<Float>(UnsafeBufferPointer(start: x + i, count: 8))
        let y = v / (1 + vexp(-1.702 * v))
        for j in 0..<8 { x[i + j] = y[j] }
        i += 8
    }
    while i < count { x[i] = quickGELUReference(x[i]); i += 1 }
}

/// Scalar quick_gelu as torch computes it: `x * sigmoid(1.702 * x)`.
///
/// ```swift
/// quickGELUReference(1)   // ≈ 0.8457
/// ```
@inlinable
public func quickGELUReference(_ x: Float) -> Float {
    x * Float(1 / (1 + exp(-Double(1.702 as Float * x))))
}

/// In-place SIMD exact GELU: `0.5 x (1 + erf(x / √2))`.
///
/// ```swift
/// applyGELU(buffer, count: n)
/// ```
@inlinable
public func applyGELU(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let invSqrt2: Float = 0.7071067811865476
    var i = 0
    while i + 8 <= count {
        let v = SIMD8<Float>(UnsafeBufferPointer(start: x + i, count: 8))
        let y = 0.5 * v * (1 + verf(v * invSqrt2))
        for j in 0..<8 { x[i + j] = y[j] }
        i += 8
    }
    while i < count { x[i] = geluReference(x[i]); i += 1 }
}

/// Scalar exact GELU with libm's `erf`.
///
/// ```swift
/// geluReference(1)   // ≈ 0.8413447
/// ```
@inlinable
public func geluReference(_ x: Float) -> Float {
    Float(0.5 * Double(x) * (1 + erf(Double(x) * 0.7071067811865476)))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
