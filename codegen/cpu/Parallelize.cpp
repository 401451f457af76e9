//===- Parallelize.cpp - scf.forall to attn.parallel_for --------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCPUPARALLELIZEPASS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

static LogicalResult parallelize(scf::ForallOp forall) {
  if (forall.getNumResults() != 0)
    return forall.emitOpError("attn-cpu-parallelize expects a forall without "
                              "shared outputs (run after bufferization)");
  OpBuilder b(forall);
  Location loc = forall.getLoc();
  SmallVector<Value> lbs =
      getValueOrCreateConstantIndexOp(b, loc, forall.getMixedLowerBound());
  SmallVector<Value> ubs =
      getValueOrCreateConstantIndexOp(b, loc, forall.getMixedUpperBound());
  SmallVector<Value> steps =
      getValueOrCreateConstantIndexOp(b, loc, forall.getMixedStep());
  // Trip counts ceil((ub - lb) / step), clamped at 0.
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> trips;
  Value total = one;
  for (auto [lb, ub, step] : llvm::zip(lbs, ubs, steps)) {
    Value span = arith::SubIOp::create(b, loc, ub, lb);
    span = arith::MaxSIOp::create(b, loc, span, zero);
    Value n = arith::DivUIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, span,
                              arith::SubIOp::create(b, loc, step, one)),
        step);
    trips.push_back(n);
    total = arith::MulIOp::create(b, loc, total, n);
  }
  Value count = arith::IndexCastOp::create(b, loc, b.getI64Type(), total);
  auto par = ParallelForOp::create(b, loc, count);
  Block *body = b.createBlock(&par.getBody(), par.getBody().end(),
                              {b.getI64Type()}, {loc});
  b.setInsertionPointToStart(body);
  Value linear = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                            body->getArgument(0));
  // Delinearize, first dimension slowest.
  SmallVector<Value> ivs(trips.size());
  for (int64_t dim = trips.size() - 1; dim >= 0; --dim) {
    Value idx =
        dim == 0
            ? linear
            : arith::RemUIOp::create(b, loc, linear, trips[dim]).getResult();
    if (dim != 0)
      linear = arith::DivUIOp::create(b, loc, linear, trips[dim]);
    ivs[dim] = arith::AddIOp::create(
        b, loc, lbs[dim], arith::MulIOp::create(b, loc, idx, steps[dim]));
  }
  Block *old = forall.getBody();
  old->getTerminator()->erase();
  for (auto [arg, iv] : llvm::zip(old->getArguments(), ivs))
    arg.replaceAllUsesWith(iv);
  body->getOperations().splice(body->end(), old->getOperations());
  b.setInsertionPointToEnd(body);
  YieldOp::create(b, loc);
  forall.erase();
  return success();
}

struct Parallelize : attn::impl::AttnCPUParallelizePassBase<Parallelize> {
  void runOnOperation() override {
    SmallVector<scf::ForallOp> outer, inner;
    getOperation().walk([&](scf::ForallOp op) {
      (op->getParentOfType<scf::ForallOp>() ? inner : outer).push_back(op);
    });
    // Nested foralls run sequentially inside the parallel body.
    IRRewriter rewriter(&getContext());
    for (scf::ForallOp op : llvm::reverse(inner)) {
      rewriter.setInsertionPoint(op);
      if (failed(scf::forallToForLoop(rewriter, op)))
        return signalPassFailure();
    }
    for (scf::ForallOp op : outer)
      if (failed(parallelize(op)))
        return signalPassFailure();
  }
};
} // namespace
