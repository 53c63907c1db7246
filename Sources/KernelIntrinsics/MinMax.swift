// Lane-wise minimum and maximum that propagate NaN (llvm.minimum / llvm.maximum), for 4, 8 and 16 floats.
// a, b: SIMD{4,8,16}<Float> -> the same type (``KernelVector`` requirements). (The stdlib's pointwiseMin/Max and
// comparisons become per-lane loops in generic kernel code; these are single vector instructions.)

import Builtin

/// `minimum`: lane-wise minimum of 4 floats; a lane is NaN when either input lane is (`llvm.minimum`).
extension SIMD4 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func minimum(_ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_minimum_Vec4xFPIEEE32(a._storage._value, b._storage._value), to: Self.self) } }
/// `maximum`: lane-wise maximum of 4 floats; a lane is NaN when either input lane is (`llvm.maximum`).
extension SIMD4 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func maximum(_ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_maximum_Vec4xFPIEEE32(a._storage._value, b._storage._value), to: Self.self) } }
/// `minimum`: lane-wise minimum of 8 floats; a lane is NaN when either input lane is (`llvm.minimum`).
extension SIMD8 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func minimum(_ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_minimum_Vec8xFPIEEE32(a._storage._value, b._storage._value), to: Self.self) } }
/// `maximum`: lane-wise maximum of 8 floats; a lane is NaN when either input lane is (`llvm.maximum`).
extension SIMD8 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func maximum(_ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_maximum_Vec8xFPIEEE32(a._storage._value, b._storage._value), to: Self.self) } }
/// `minimum`: lane-wise minimum of 16 floats; a lane is NaN when either input lane is (`llvm.minimum`).
extension SIMD16 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func minimum(_ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_minimum_Vec16xFPIEEE32(a._storage._value, b._storage._value), to: Self.self) } }
/// `maximum`: lane-wise maximum of 16 floats; a lane is NaN when either input lane is (`llvm.maximum`).
extension SIMD16 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func maximum(_ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_maximum_Vec16xFPIEEE32(a._storage._value, b._storage._value), to: Self.self) } }
