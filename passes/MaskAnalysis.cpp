//===- MaskAnalysis.cpp - tile classification of mask regions ---*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "passes/MaskAnalysis.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::attn;

bool mlir::attn::buildMaskRegion(OpBuilder &b, Location loc, AttentionOp op,
                                 Value causalOffset, Region &into) {
  return buildMaskRegion(b, loc, op.getMask(), op.getCausal(), causalOffset,
                         into);
}

bool mlir::attn::buildMaskRegion(OpBuilder &b, Location loc, Region &mask,
                                 bool isCausal, Value causalOffset,
                                 Region &into) {
  bool hasUser = !mask.empty();
  bool causal = isCausal && causalOffset;
  if (!hasUser && !causal)
    return false;
  Type idx = b.getIndexType();
  OpBuilder::InsertionGuard guard(b);
  if (hasUser) {
    IRMapping m;
    mask.cloneInto(&into, m);
  } else {
    Block *block = b.createBlock(&into, into.end(), {idx, idx, idx, idx},
                                 SmallVector<Location>(4, loc));
    b.setInsertionPointToEnd(block);
    YieldOp::create(
        b, loc,
        ValueRange{arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1)});
  }
  if (causal) {
    Block &block = into.front();
    auto yield = cast<YieldOp>(block.getTerminator());
    b.setInsertionPoint(yield);
    // Bottom-right aligned: j <= i + (Lk - Lq).
    Value limit =
        arith::AddIOp::create(b, loc, block.getArgument(2), causalOffset);
    Value visible = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                          block.getArgument(3), limit);
    Value combined =
        hasUser ? arith::AndIOp::create(b, loc, yield.getValues()[0], visible)
                      .getResult()
                : visible;
    yield->setOperands(combined);
  }
  return true;
}

