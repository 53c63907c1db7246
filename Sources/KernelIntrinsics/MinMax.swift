// Lane-wise minimum and maximum that propagate NaN (llvm.minimum / llvm.maximum), for 4, 8 and 16 floats.
// a, b: SIMD{4,8,16}<Float> -> the same type. (The stdlib's pointwiseMin/Max and comparisons become per-lane
// loops in generic kernel code; these are single vector instructions.)

import Builtin

/// Lane-wise minimum of 4 floats; a lane is NaN when either input lane is (`llvm.minimum`).
@_alwaysEmitIntoClient @_transparent public func minimum(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> { unsafeBitCast(Builtin.int_minimum_Vec4xFPIEEE32(a._storage._value, b._storage._value), to: SIMD4<Float>.self) }
/// Lane-wise maximum of 4 floats; a lane is NaN when either input lane is (`llvm.maximum`).
@_alwaysEmitIntoClient @_transparent public func maximum(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> { unsafeBitCast(Builtin.int_maximum_Vec4xFPIEEE32(a._storage._value, b._storage._value), to: SIMD4<Float>.self) }
/// Lane-wise minimum of 8 floats; a lane is NaN when either input lane is (`llvm.minimum`).
@_alwaysEmitIntoClient @_transparent public func minimum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { unsafeBitCast(Builtin.int_minimum_Vec8xFPIEEE32(a._storage._value, b._storage._value), to: SIMD8<Float>.self) }
/// Lane-wise maximum of 8 floats; a lane is NaN when either input lane is (`llvm.maximum`).
@_alwaysEmitIntoClient @_transparent public func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { unsafeBitCast(Builtin.int_maximum_Vec8xFPIEEE32(a._storage._value, b._storage._value), to: SIMD8<Float>.self) }
/// Lane-wise minimum of 16 floats; a lane is NaN when either input lane is (`llvm.minimum`).
@_alwaysEmitIntoClient @_transparent public func minimum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { unsafeBitCast(Builtin.int_minimum_Vec16xFPIEEE32(a._storage._value, b._storage._value), to: SIMD16<Float>.self) }
/// Lane-wise maximum of 16 floats; a lane is NaN when either input lane is (`llvm.maximum`).
@_alwaysEmitIntoClient @_transparent public func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { unsafeBitCast(Builtin.int_maximum_Vec16xFPIEEE32(a._storage._value, b._storage._value), to: SIMD16<Float>.self) }
