//===- DecomposeMerge.cpp - attn.merge into linalg.generics -----*- C++ -*-===//
//
// Part of the attn project.
//
// The merge is elementwise over the rows of its partials, so it needs no
// kernel of its own: on tensors, linalg.generics (the output, the LSE) that
// every backend already compiles; on buffers (the split-KV decode's
// partials, after tiling), a loop nest parallel over the rows.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNDECOMPOSEMERGEPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

static Value f32Const(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// A merge on buffers (the split-KV decode's, emitted after tiling) as an
/// `scf.forall` over the output rows. Each row reads its partials' LSEs
/// twice (their maximum m, then the weights w_s = exp(LSE_s - m), kept in a
/// stack buffer, and their sum), then each column sums w_s O_s once: one
/// exp per partial and row, not per element.
static void buildLoops(OpBuilder &b, Location loc, MergeOp op) {
  const float inf = std::numeric_limits<float>::infinity();
  Value output = op.getOutputs()[0], lseOutput = op.getLseOutput();
  std::optional<int64_t> stackDim = op.getStackDim();
  bool stacked = stackDim.has_value();
  auto outType = cast<MemRefType>(output.getType());
  int64_t rows = outType.getRank() - 1;
  Type f32 = b.getF32Type();
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<OpFoldResult> ubs;
  for (int64_t d = 0; d < rows; ++d)
    ubs.push_back(memref::DimOp::create(b, loc, output, d).getResult());
  Value cols = memref::DimOp::create(b, loc, output, rows);
  // The partials' count: the stacked operands' dim, or the operands.
  int64_t n = op.getPartials().size();
  Value count = stacked
                    ? memref::DimOp::create(b, loc, op.getLses()[0], *stackDim)
                          .getResult()
                    : arith::ConstantIndexOp::create(b, loc, n).getResult();
  auto forall =
      scf::ForallOp::create(b, loc, ubs, ValueRange{}, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> row(forall.getBody()->getArguments());
  // Partial s's LSE and element (row, col), `s` an index value.
  auto load = [&](OpBuilder &b, Value s, Value col) -> Value {
    SmallVector<Value> idx(row);
    if (col)
      idx.push_back(col);
    Value buf;
    if (stacked) {
      idx.insert(idx.begin() + *stackDim, s);
      buf = col ? op.getPartials()[0] : op.getLses()[0];
    } else {
      // Unstacked buffers are chosen by a static index (the loops over
      // them are unrolled below).
      int64_t k = getConstantIntValue(s).value_or(0);
      buf = col ? op.getPartials()[k] : op.getLses()[k];
    }
    Value x = memref::LoadOp::create(b, loc, buf, idx);
    if (!x.getType().isF32())
      x = arith::ExtFOp::create(b, loc, f32, x);
    return x;
  };
  // sum/fold over the partials: an scf.for when stacked, else unrolled.
  auto fold = [&](Value init,
                  function_ref<Value(OpBuilder &, Value, Value)> step) {
    if (!stacked) {
      Value acc = init;
      for (int64_t k = 0; k < n; ++k)
        acc = step(b, arith::ConstantIndexOp::create(b, loc, k), acc);
      return acc;
    }
    return scf::ForOp::create(
               b, loc, c0, count, c1, ValueRange{init},
               [&](OpBuilder &nb, Location l, Value s, ValueRange acc) {
                 scf::YieldOp::create(nb, l, step(nb, s, acc[0]));
               })
        .getResult(0);
  };
  Value m = fold(f32Const(b, loc, -inf), [&](OpBuilder &nb, Value s, Value a) {
    return arith::MaximumFOp::create(nb, loc, a, load(nb, s, Value()));
  });
  Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m,
                                     f32Const(b, loc, -inf));
  Value mSafe = arith::SelectOp::create(b, loc, none, f32Const(b, loc, 0), m);
  Value weights = memref::AllocaOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, f32), ValueRange{count});
  Value den = fold(f32Const(b, loc, 0), [&](OpBuilder &nb, Value s, Value a) {
    Value w = math::ExpOp::create(
        nb, loc, arith::SubFOp::create(nb, loc, load(nb, s, Value()), mSafe));
    memref::StoreOp::create(nb, loc, w, weights, s);
    return arith::AddFOp::create(nb, loc, a, w).getResult();
  });
  Value seen = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, den,
                                     f32Const(b, loc, 0));
  Value inv = arith::SelectOp::create(
      b, loc, seen, arith::DivFOp::create(b, loc, f32Const(b, loc, 1), den),
      f32Const(b, loc, 0));
  Type elem = outType.getElementType();
  scf::ForOp::create(
      b, loc, c0, cols, c1, ValueRange{},
      [&](OpBuilder &nb, Location l, Value col, ValueRange) {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value acc =
            fold(f32Const(b, l, 0), [&](OpBuilder &nb2, Value s, Value a) {
              Value w = memref::LoadOp::create(nb2, l, weights, s);
              return math::FmaOp::create(nb2, l, w, load(nb2, s, col), a)
                  .getResult();
            });
        Value o = arith::MulFOp::create(b, l, acc, inv);
        if (!elem.isF32())
          o = arith::TruncFOp::create(b, l, elem, o);
        SmallVector<Value> idx(row);
        idx.push_back(col);
        memref::StoreOp::create(b, l, o, output, idx);
        scf::YieldOp::create(b, l);
      });
  if (lseOutput) {
    Value v = arith::AddFOp::create(
        b, loc, mSafe,
        math::LogOp::create(
            b, loc,
            arith::SelectOp::create(b, loc, seen, den, f32Const(b, loc, 1))));
    v = arith::SelectOp::create(b, loc, seen, v, f32Const(b, loc, -inf));
    memref::StoreOp::create(b, loc, v, lseOutput, row);
  }
}

static LogicalResult decompose(MergeOp op) {
  OpBuilder b(op);
  if (op.hasPureBufferSemantics()) {
    buildLoops(b, op.getLoc(), op);
    op->erase();
    return success();
  }
  // (The verifier admits no mix of tensors and buffers.)
  SmallVector<Value, 2> results = MergeOp::buildGenerics(
      b, op.getLoc(), op.getPartials(), op.getLses(), op.getOutputs()[0],
      op.getLseOutput(), op.getStackDim());
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
