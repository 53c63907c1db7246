// Lane-wise fused multiply-add (llvm.fma) for 4, 8 and 16 floats: acc, a, b -> acc + a·b rounded once
// (``KernelVector`` requirement). One instruction where the target has FMA; a libm call per lane where it has not.
// (The stdlib's addingProduct is a per-lane loop in generic kernel code.)

import Builtin

/// `fusedMultiplyAdd`: `acc + a·b` on 4 float lanes, rounded once (`llvm.fma`).
extension SIMD4 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func fusedMultiplyAdd(_ acc: Self, _ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_fma_Vec4xFPIEEE32(a._storage._value, b._storage._value, acc._storage._value), to: Self.self) } }
/// `fusedMultiplyAdd`: `acc + a·b` on 8 float lanes, rounded once (`llvm.fma`).
extension SIMD8 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func fusedMultiplyAdd(_ acc: Self, _ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_fma_Vec8xFPIEEE32(a._storage._value, b._storage._value, acc._storage._value), to: Self.self) } }
/// `fusedMultiplyAdd`: `acc + a·b` on 16 float lanes, rounded once (`llvm.fma`).
extension SIMD16 where Scalar == Float { @_alwaysEmitIntoClient @_transparent public static func fusedMultiplyAdd(_ acc: Self, _ a: Self, _ b: Self) -> Self { unsafeBitCast(Builtin.int_fma_Vec16xFPIEEE32(a._storage._value, b._storage._value, acc._storage._value), to: Self.self) } }
