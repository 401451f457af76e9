//===- AttnOps.h - attn operations ------------------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNOPS_H
#define ATTN_DIALECT_ATTNOPS_H

#include "dialect/AttnDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/AttnEnums.h.inc"
#define GET_ATTRDEF_CLASSES
#include "dialect/AttnAttrs.h.inc"
#include "dialect/AttnInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialect/AttnOps.h.inc"

namespace mlir::attn {
/// Checks that `rope` rotates an even number of channels within a static
/// head dim of `headDim` (attn.attention's `rope` and attn.rope).
LogicalResult verifyRopeDims(Operation *op, RopeAttr rope, int64_t headDim);

/// The 8-bit element types of a quantized KV cache: i8, f8E4M3FN, f8E5M2.
bool isQuantizedKVType(Type t);
/// The largest finite code's magnitude: 127 (i8), 448 (e4m3), 57344 (e5m2).
double getQuantizedMax(Type t);
/// For each dim of a quantized operand, the block of indices one scale
/// covers: 0 for a scale dim of 1 (the whole dim), else `size / scale
/// size` (1 where both are dynamic: equal at run time).
SmallVector<int64_t> getScaleBlocks(ShapedType data, ShapedType scale);
/// Checks a scale for quantized `data` (`name` as in "key scale"): ranked,
/// of data's rank, f32/f16/bf16, each dim 1, data's size, or a static
/// divisor of it; data of an 8-bit type.
LogicalResult verifyQuantScale(Operation *op, ShapedType data, Type scale,
                               StringRef name);
} // namespace mlir::attn

#endif // ATTN_DIALECT_ATTNOPS_H
