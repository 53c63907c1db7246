// The float vectors the kernels compute with, 4, 8 and 16 lanes (one SSE2/NEON, AVX or AVX-512 register), as one
// protocol whose requirements are the single-instruction operations of FusedMultiplyAdd.swift, MinMax.swift and
// Conversions.swift.

/// A float vector of 4, 8 or 16 lanes, with the lane-wise operations Swift's SIMD types leave as per-lane loops in
/// generic code, each a single instruction here.
public protocol KernelVector: SIMD where Scalar == Float {
    /// One int32 lane per float lane.
    associatedtype Int32Lanes: SIMD where Int32Lanes.Scalar == Int32
    /// One byte per float lane.
    associatedtype ByteLanes: SIMD where ByteLanes.Scalar == UInt8
    /// Four bytes per float lane: the int8 dot products' operands.
    associatedtype ByteQuads: SIMD where ByteQuads.Scalar == UInt8
    /// `acc + a·b` lane-wise, fused (llvm.fma): one instruction on an FMA target, a libm call per lane otherwise.
    static func fusedMultiplyAdd(_ acc: Self, _ a: Self, _ b: Self) -> Self
    /// Lane-wise minimum, NaN-propagating.
    static func minimum(_ a: Self, _ b: Self) -> Self
    /// Lane-wise maximum, NaN-propagating.
    static func maximum(_ a: Self, _ b: Self) -> Self
    /// Int32 lanes to float.
    static func convertToFloat(_ v: Int32Lanes) -> Self
    /// The low byte of each int32 lane.
    static func truncateToBytes(_ v: Int32Lanes) -> ByteLanes
}

extension SIMD4: KernelVector where Scalar == Float { public typealias ByteQuads = SIMD16<UInt8> }
extension SIMD8: KernelVector where Scalar == Float { public typealias ByteQuads = SIMD32<UInt8> }
extension SIMD16: KernelVector where Scalar == Float { public typealias ByteQuads = SIMD64<UInt8> }
