//===- AttnDialect.h - attn dialect -----------------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNDIALECT_H
#define ATTN_DIALECT_ATTNDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "dialect/AttnDialect.h.inc"

namespace mlir::attn {
/// Registers the bufferization models of the attn ops (one-shot-bufferize).
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);
} // namespace mlir::attn

#endif // ATTN_DIALECT_ATTNDIALECT_H
