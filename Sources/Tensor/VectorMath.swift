// Scalar references for the vectorised exp and erf (TensorSIMD's vexp and verf): libm in Double.
// x: Float -> Float.

/// libm's `exp`, the reference for `vexp`.
package func expReference(_ x: Float) -> Float {
    Float(exp(Double(x)))
}

/// libm's `erf`, the reference for `verf`.
package func erfReference(_ x: Float) -> Float {
    Float(erf(Double(x)))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
