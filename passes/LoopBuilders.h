//===- LoopBuilders.h - small scf builders for the lowerings ----*- C++ -*-===//
//
// Part of the attn project.
//
// The loop and branch shapes the lowering passes emit over and over, with
// the body written at `b` (its insertion point restored afterwards).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_LOOPBUILDERS_H
#define ATTN_PASSES_LOOPBUILDERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::attn {

/// scf.for %iv = lo to hi step `step` { body(%iv) }.
inline void buildFor(OpBuilder &b, Location loc, Value lo, Value hi,
                     int64_t step, function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, arith::ConstantIndexOp::create(b, loc, step));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(loop.getBody()->getTerminator());
  body(loop.getInductionVar());
}

/// scf.if %cond { body() }.
inline void buildIf(OpBuilder &b, Location loc, Value cond,
                    function_ref<void()> body) {
  auto ifOp = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  body();
}

/// An scf.for over [lo, hi) carrying `init`; `body(iv, carried)` returns the
/// next values. Returns the loop's results.
inline ValueRange
buildReduce(OpBuilder &b, Location loc, Value lo, Value hi, ValueRange init,
            function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, arith::ConstantIndexOp::create(b, loc, 1), init,
      [&](OpBuilder &nb, Location, Value iv, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        scf::YieldOp::create(b, loc, body(iv, acc));
      });
  return loop.getResults();
}

} // namespace mlir::attn

#endif // ATTN_PASSES_LOOPBUILDERS_H
