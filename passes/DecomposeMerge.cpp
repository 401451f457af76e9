//===- DecomposeMerge.cpp - attn.merge into linalg.generics -----*- C++ -*-===//
//
// Part of the attn project.
//
// The merge is elementwise over the rows of its partials, so it needs no
// kernel of its own: two linalg.generics (the output, the LSE) that every
// backend already compiles.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNDECOMPOSEMERGEPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

static LogicalResult decompose(MergeOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("is decomposed on tensors only (before "
                          "bufferization)");
  OpBuilder b(op);
  SmallVector<Value, 2> results =
      MergeOp::buildGenerics(b, op.getLoc(), op.getPartials(), op.getLses(),
                             op.getOutputs()[0], op.getLseOutput());
  if (!op.getLseOutput())
    results.pop_back();
  op->replaceAllUsesWith(results);
  op->erase();
  return success();
}

struct DecomposeMerge
    : attn::impl::AttnDecomposeMergePassBase<DecomposeMerge> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<MergeOp> ops;
    getOperation().walk([&](MergeOp op) { ops.push_back(op); });
    for (MergeOp op : ops)
      if (failed(decompose(op)))
        return signalPassFailure();
  }
};

} // namespace
