// Lane-wise conversions Swift's SIMD initialisers leave as per-lane loops in generic kernels: int32 -> float
// (cvtdq2ps) and int32 -> low byte (vpmovdb / pack), for 4, 8 and 16 lanes (``KernelVector`` requirements).

import Builtin

/// `convertToFloat`: each of 4 `Int32` lanes to the nearest `Float` (LLVM `sitofp`).
extension SIMD4 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func convertToFloat(_ v: SIMD4<Int32>) -> Self { unsafeBitCast(Builtin.sitofp_Vec4xInt32_Vec4xFPIEEE32(v._storage._value), to: Self.self) } }
/// `convertToFloat`: each of 8 `Int32` lanes to the nearest `Float` (LLVM `sitofp`).
extension SIMD8 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func convertToFloat(_ v: SIMD8<Int32>) -> Self { unsafeBitCast(Builtin.sitofp_Vec8xInt32_Vec8xFPIEEE32(v._storage._value), to: Self.self) } }
/// `convertToFloat`: each of 16 `Int32` lanes to the nearest `Float` (LLVM `sitofp`).
extension SIMD16 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func convertToFloat(_ v: SIMD16<Int32>) -> Self { unsafeBitCast(Builtin.sitofp_Vec16xInt32_Vec16xFPIEEE32(v._storage._value), to: Self.self) } }
/// `truncateToBytes`: the low byte of each of 4 `Int32` lanes, without saturation.
extension SIMD4 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func truncateToBytes(_ v: SIMD4<Int32>) -> SIMD4<UInt8> { unsafeBitCast(Builtin.trunc_Vec4xInt32_Vec4xInt8(v._storage._value), to: SIMD4<UInt8>.self) } }
/// `truncateToBytes`: the low byte of each of 8 `Int32` lanes, without saturation.
extension SIMD8 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func truncateToBytes(_ v: SIMD8<Int32>) -> SIMD8<UInt8> { unsafeBitCast(Builtin.trunc_Vec8xInt32_Vec8xInt8(v._storage._value), to: SIMD8<UInt8>.self) } }
/// `truncateToBytes`: the low byte of each of 16 `Int32` lanes, without saturation.
extension SIMD16 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func truncateToBytes(_ v: SIMD16<Int32>) -> SIMD16<UInt8> { unsafeBitCast(Builtin.trunc_Vec16xInt32_Vec16xInt8(v._storage._value), to: SIMD16<UInt8>.self) } }
