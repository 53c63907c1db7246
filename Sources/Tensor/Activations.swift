// Elementwise activations: quick_gelu x·σ(1.702x) (OpenAI weights) and exact GELU 0.5x(1+erf(x/√2)) (LAION).
// x: (N) -> in place. The SIMD versions are TensorSIMD's activationBody; these are the names and references.

import TensorSIMD

/// The activation named by a checkpoint's `hidden_act`.
public enum Activation: String, Sendable, Equatable, CaseIterable {
    /// `x · sigmoid(1.702 x)`, OpenAI CLIP's activation.
    case quickGELU = "quick_gelu"
    /// `0.5 x (1 + erf(x / √2))`, exact GELU as in LAION/open_clip checkpoints.
    case gelu = "gelu"

    /// Parses transformers' `hidden_act` string; anything else is an error, never a silent default.
    public init(hfName: String) throws {
        guard let a = Activation(rawValue: hfName) else { throw ActivationError.unsupported(hfName) }
        self = a
    }

    /// The kernels' name for it.
    package var kind: ActivationKind {
        switch self {
        case .quickGELU: return .quickGELU
        case .gelu: return .gelu
        }
    }

    /// Scalar reference of the SIMD activation kernels.
    package func applyReference(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .quickGELU: for i in 0..<count { x[i] = quickGELUReference(x[i]) }
        case .gelu: for i in 0..<count { x[i] = geluReference(x[i]) }
        }
    }
}

/// The error for an unknown `hidden_act`.
public enum ActivationError: Error, Equatable, CustomStringConvertible {
    case unsupported(String)
    /// The message naming the unsupported `hidden_act` and the supported ones.
    public var description: String {
        switch self {
        case .unsupported(let name):
            return "unsupported hidden_act \"\(name)\" (supported: quick_gelu, gelu)"
        }
    }
}

/// Scalar quick_gelu as torch computes it: `x * sigmoid(1.702 * x)`.
package func quickGELUReference(_ x: Float) -> Float {
    x * Float(1 / (1 + exp(-Double(1.702 as Float * x))))
}

/// Scalar exact GELU with libm's `erf`.
package func geluReference(_ x: Float) -> Float {
    Float(0.5 * Double(x) * (1 + erf(Double(x) * 0.7071067811865476)))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
