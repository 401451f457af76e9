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
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"

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

static Value toF32(OpBuilder &b, Location loc, Value v) {
  return v.getType().isF32()
             ? v
             : arith::ExtFOp::create(b, loc, b.getF32Type(), v).getResult();
}

/// The row statistics of the partials' LSEs `lses` (f32 block arguments):
/// the weights exp(LSE_s - m) and their sum, with m = max_s LSE_s read as 0
/// where every LSE is -inf (so that the weights are exp(-inf) = 0, not NaN).
struct RowStats {
  Value m;
  SmallVector<Value> weights;
  Value den;
};

static RowStats rowStats(OpBuilder &b, Location loc, ValueRange lses) {
  const float inf = std::numeric_limits<float>::infinity();
  Value m = lses[0];
  for (Value l : lses.drop_front())
    m = arith::MaximumFOp::create(b, loc, m, l);
  Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m,
                                     f32Const(b, loc, -inf));
  RowStats s;
  s.m = arith::SelectOp::create(b, loc, none, f32Const(b, loc, 0.0f), m);
  s.den = f32Const(b, loc, 0.0f);
  for (Value l : lses) {
    Value w = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, l, s.m));
    s.weights.push_back(w);
    s.den = arith::AddFOp::create(b, loc, s.den, w);
  }
  return s;
}

static LogicalResult decompose(MergeOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("is decomposed on tensors only (before "
                          "bufferization)");
  OpBuilder b(op);
  Location loc = op.getLoc();
  MLIRContext *ctx = op.getContext();
  int64_t n = op.getPartials().size();
  auto outType = cast<RankedTensorType>(op.getOutputs()[0].getType());
  int64_t rank = outType.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  AffineMap row = AffineMap::getMultiDimIdentityMap(rank - 1, ctx);
  SmallVector<AffineExpr> rowExprs;
  for (int64_t d = 0; d + 1 < rank; ++d)
    rowExprs.push_back(getAffineDimExpr(d, ctx));
  AffineMap rowOfElement = AffineMap::get(rank, 0, rowExprs, ctx);
  Value zero = f32Const(b, loc, 0.0f);

  // The merged output: ins(O_1..O_n, LSE_1..LSE_n) outs(O).
  SmallVector<Value> ins(op.getPartials());
  llvm::append_range(ins, op.getLses());
  SmallVector<AffineMap> maps(n, id);
  maps.append(n, rowOfElement);
  maps.push_back(id);
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  Type outElem = outType.getElementType();
  auto merged = linalg::GenericOp::create(
      b, loc, TypeRange{outType}, ins, ValueRange{op.getOutputs()[0]}, maps,
      parallel, [&](OpBuilder &nb, Location l, ValueRange args) {
        RowStats s = rowStats(nb, l, args.slice(n, n));
        Value num = zero;
        for (int64_t k = 0; k < n; ++k)
          num = arith::AddFOp::create(
              nb, l, num,
              arith::MulFOp::create(nb, l, s.weights[k],
                                    toF32(nb, l, args[k])));
        Value seen = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                           s.den, zero);
        Value safeDen = arith::SelectOp::create(nb, l, seen, s.den,
                                                f32Const(nb, l, 1.0f));
        Value o = arith::DivFOp::create(nb, l, num, safeDen);
        if (!outElem.isF32())
          o = arith::TruncFOp::create(nb, l, outElem, o);
        linalg::YieldOp::create(nb, l, o);
      });
  SmallVector<Value> results = {merged.getResult(0)};

  if (Value lseOut = op.getLseOutput()) {
    auto lseType = cast<RankedTensorType>(lseOut.getType());
    SmallVector<AffineMap> lmaps(n + 1, row);
    auto lse = linalg::GenericOp::create(
        b, loc, TypeRange{lseType}, op.getLses(), ValueRange{lseOut}, lmaps,
        SmallVector<utils::IteratorType>(rank - 1,
                                         utils::IteratorType::parallel),
        [&](OpBuilder &nb, Location l, ValueRange args) {
          RowStats s = rowStats(nb, l, args.take_front(n));
          Value seen = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                             s.den, zero);
          Value safeDen = arith::SelectOp::create(nb, l, seen, s.den,
                                                  f32Const(nb, l, 1.0f));
          Value v = arith::AddFOp::create(
              nb, l, s.m, math::LogOp::create(nb, l, safeDen));
          v = arith::SelectOp::create(
              nb, l, seen, v,
              f32Const(nb, l, -std::numeric_limits<float>::infinity()));
          linalg::YieldOp::create(nb, l, v);
        });
    results.push_back(lse.getResult(0));
  }
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
