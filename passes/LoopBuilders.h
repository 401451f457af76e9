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
#include "mlir/Dialect/MemRef/IR/MemRef.h"
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

/// scf.if %cond -> (T) { yield memref.load %mem[idx] } else { yield %other }:
/// a load that does not happen when `cond` is false (the element may never
/// have been written; a select of an unconditional load would still read it,
/// which compute-sanitizer's initcheck reports on a GPU).
inline Value buildLoadIf(OpBuilder &b, Location loc, Value cond, Value mem,
                         ValueRange idx, Value other) {
  auto ifOp = scf::IfOp::create(
      b, loc, cond,
      [&](OpBuilder &tb, Location l) {
        scf::YieldOp::create(
            tb, l, ValueRange{memref::LoadOp::create(tb, l, mem, idx)});
      },
      [&](OpBuilder &eb, Location l) {
        scf::YieldOp::create(eb, l, ValueRange{other});
      });
  return ifOp.getResult(0);
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
