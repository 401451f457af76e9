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

/// An scf.for over [lo, hi) by `step` carrying `init`; `body(iv, carried)`
/// returns the next values. Returns the loop's results.
inline ValueRange
buildReduce(OpBuilder &b, Location loc, Value lo, Value hi, ValueRange init,
            function_ref<SmallVector<Value>(Value, ValueRange)> body,
            int64_t step = 1) {
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, arith::ConstantIndexOp::create(b, loc, step), init,
      [&](OpBuilder &nb, Location, Value iv, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        scf::YieldOp::create(b, loc, body(iv, acc));
      });
  return loop.getResults();
}

/// The first of start, start + step, ... (step = 1 or -1) at which
/// `stop(builder, x)` (an i1) holds, or `end` if none before it: an
/// scf.while that never evaluates `stop` at `end`.
inline Value buildScan(OpBuilder &b, Location loc, Value start, Value end,
                       int64_t step,
                       function_ref<Value(OpBuilder &, Value)> stop) {
  Type idx = b.getIndexType();
  auto loop = scf::WhileOp::create(
      b, loc, TypeRange{idx}, ValueRange{start},
      [&](OpBuilder &wb, Location l, ValueRange args) {
        Value x = args[0];
        Value inRange =
            arith::CmpIOp::create(wb, l, arith::CmpIPredicate::ne, x, end);
        auto go = scf::IfOp::create(
            wb, l, inRange,
            [&](OpBuilder &tb, Location tl) {
              Value stopped = stop(tb, x);
              Value yes = arith::ConstantIntOp::create(tb, tl, tb.getI1Type(), 1);
              scf::YieldOp::create(
                  tb, tl,
                  ValueRange{arith::XOrIOp::create(tb, tl, stopped, yes)});
            },
            [&](OpBuilder &eb, Location el) {
              scf::YieldOp::create(eb, el,
                                   ValueRange{arith::ConstantIntOp::create(
                                       eb, el, eb.getI1Type(), 0)});
            });
        scf::ConditionOp::create(wb, l, go.getResult(0), ValueRange{x});
      },
      [&](OpBuilder &wb, Location l, ValueRange args) {
        scf::YieldOp::create(
            wb, l,
            ValueRange{arith::AddIOp::create(
                wb, l, args[0], arith::ConstantIndexOp::create(wb, l, step))});
      });
  return loop.getResult(0);
}

} // namespace mlir::attn

#endif // ATTN_PASSES_LOOPBUILDERS_H
