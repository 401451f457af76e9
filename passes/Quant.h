//===- Quant.h - 8-bit KV-cache codes as arith ops --------------*- C++ -*-===//
//
// Part of the attn project.
//
// The element-level arithmetic of quantized caches, shared by the tensor
// passes (attn-materialize-kv-quant, attn-lower-quantize-kv) and the CPU
// tiler's dequantizing tile copies. Every function works on a scalar or a
// vector of codes. Only integer and f32 arithmetic: no fp8 conversion
// instruction is needed on any backend.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_QUANT_H
#define ATTN_PASSES_QUANT_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"

namespace mlir::attn {

/// `x * decodeFactor(codeType)` (f32, the shape of `x`) is the value of the
/// 8-bit codes `x` (i8, f8E4M3FN or f8E5M2; scalar or vector): an i8 code
/// is its integer; an fp8 code's bits are placed into an f32 (exponent and
/// mantissa shifted, sign moved), which is exact up to the power-of-two
/// factor, subnormals included. (NaN and inf codes, which attn.quantize_kv
/// never writes, decode as finite values.)
Value decodeCodes(OpBuilder &b, Location loc, Value x);
/// The power of two that completes decodeCodes: 1, 2^120 (e4m3), 2^112
/// (e5m2). Callers fold it into the scale.
double decodeFactor(Type codeType);

/// The code of f32 `y` (already divided by its scale; scalar or vector) in
/// `codeType`: rounded to nearest even and saturated to the largest finite
/// code.
Value encodeCodes(OpBuilder &b, Location loc, Value y, Type codeType);

/// The index into a scale of the element at `idx` (index values), for the
/// blocks of getScaleBlocks: 0, `idx`, or `idx / block`.
SmallVector<Value> scaleIndices(OpBuilder &b, Location loc,
                                ArrayRef<int64_t> blocks, ValueRange idx);

} // namespace mlir::attn

#endif // ATTN_PASSES_QUANT_H
