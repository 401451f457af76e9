//===- ExpandColumnScores.cpp - column_scores as a second attention -*- C++ -*-===//
//
// Part of the attn project.
//
// The attention each key receives, sum_i w_i p[i, j], needs the final
// normalizer of every row i. The first attention saves it (its LSE output);
// a second attention with the roles of queries and keys swapped then sums
// exp(s[i, j] - LSE[i]) over i for every key j through its own online
// softmax: the LSE of that swapped attention is log(sum_i w_i p[i, j]).
// Both are ordinary attn.attention ops, tiled and vectorized by the same
// path (the swapped mask is the transposed causal/mask predicate, so its
// tile classification skips the same tiles). No probability is stored.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNEXPANDCOLUMNSCORESPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class Expander {
public:
  Expander(IRRewriter &b, AttentionOp op) : b(b), loc(op.getLoc()), op(op) {}

  void run() {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    auto kType = cast<RankedTensorType>(op.getKey().getType());
    Type f32 = b.getF32Type();
    int64_t hq = qType.getDimSize(1), hkv = kType.getDimSize(1),
            d = qType.getDimSize(3);
    G = hq / hkv;
    batch = tensor::DimOp::create(b, loc, op.getQuery(), 0);
    lq = tensor::DimOp::create(b, loc, op.getQuery(), 2);
    lk = tensor::DimOp::create(b, loc, op.getKey(), 2);

    // 1. The attention itself, with its log-sum-exp.
    Value lseInit = op.getLse();
    if (!lseInit)
      lseInit = tensor::EmptyOp::create(
          b, loc, RankedTensorType::get({qType.getDimSize(0), hq, qType.getDimSize(2)}, f32),
          dynamicDims({qType.getDimSize(0), qType.getDimSize(2)}, {batch, lq}));
    SmallVector<Value> outs{op.getOutput(), lseInit};
    auto main = AttentionOp::create(
        b, loc, TypeRange(ValueRange(outs)), op.getQuery(), op.getKey(),
        op.getValue(), Value(), Value(), Value(), outs, op.getCausalAttr(),
        b.getF32FloatAttr(op.getScaleValue()), op.getNormalizerAttr(),
        op.getRmsNormEpsAttr(), op.getBlockSizeAttr(), nullptr, nullptr,
        nullptr);
    IRMapping map;
    for (auto [from, to] :
         llvm::zip(op->getRegions(), main->getRegions()))
      from.cloneInto(&to, map);
    mainLse = main.getResult(1);

    // 2. Queries and keys swapped: rows are keys [B, Hkv, Lk, D], "keys"
    // the G query heads of each KV head stacked [B, Hkv, G Lq, D], values
    // ones [B, Hkv, G Lq, 1].
    Value rows = op.getQuery();
    Value glq = lq;
    if (G > 1) {
      int64_t sq = qType.getDimSize(2);
      auto expanded = RankedTensorType::get(
          {qType.getDimSize(0), hkv, G, sq, d}, qType.getElementType());
      rows = tensor::ExpandShapeOp::create(
          b, loc, expanded, rows,
          SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
      rows = tensor::CollapseShapeOp::create(
          b, loc, rows,
          SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}, {4}});
      glq = arith::MulIOp::create(b, loc, lq, idx(G));
    }
    auto rowsType = cast<RankedTensorType>(rows.getType());
    int64_t sb = qType.getDimSize(0), sk = kType.getDimSize(2),
            sg = rowsType.getDimSize(2);
    auto onesType = RankedTensorType::get({sb, hkv, sg, 1}, f32);
    Value ones = linalg::FillOp::create(
                     b, loc, constF(1.0f),
                     tensor::EmptyOp::create(
                         b, loc, onesType,
                         dynamicDims({sb, sg}, {batch, glq})).getResult())
                     .getResult(0);
    auto oType = RankedTensorType::get({sb, hkv, sk, 1}, f32);
    auto lType = RankedTensorType::get({sb, hkv, sk}, f32);
    SmallVector<Value> sOuts{
        tensor::EmptyOp::create(b, loc, oType, dynamicDims({sb, sk}, {batch, lk})),
        tensor::EmptyOp::create(b, loc, lType, dynamicDims({sb, sk}, {batch, lk}))};
    auto swapped = AttentionOp::create(
        b, loc, TypeRange(ValueRange(sOuts)), op.getKey(), rows, ones, Value(),
        Value(), Value(), sOuts, nullptr, b.getF32FloatAttr(op.getScaleValue()),
        nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    buildScore(swapped);
    buildMask(swapped);

    // 3. scores = exp(LSE') (* |v|_1) into the scores output.
    Value scores = exponentiate(swapped.getResult(1));

    SmallVector<Value> results{main.getResult(0)};
    if (op.getLse())
      results.push_back(main.getResult(1));
    results.push_back(scores);
    b.replaceOp(op, results);
  }

private:
  /// (row r, query head) of the swapped op's key index j in head h.
  std::pair<Value, Value> unstack(OpBuilder &rb, Value h, Value j) {
    if (G == 1)
      return {j, h};
    Value r = arith::RemUIOp::create(rb, loc, j, lq);
    Value g = arith::DivUIOp::create(rb, loc, j, lq);
    Value head = arith::AddIOp::create(
        rb, loc, arith::MulIOp::create(rb, loc, h, idx(G)), g);
    return {r, head};
  }

  /// s' = score(s, b, hq, r, i) - LSE[b, hq, r] (+ (Lq - 1 - r) log alpha).
  void buildScore(AttentionOp swapped) {
    Type idxT = b.getIndexType(), f32 = b.getF32Type();
    OpBuilder::InsertionGuard guard(b);
    Block *block = b.createBlock(&swapped.getScore(), {},
                                 {f32, idxT, idxT, idxT, idxT},
                                 SmallVector<Location>(5, loc));
    Value s = block->getArgument(0), bb = block->getArgument(1),
          i = block->getArgument(3);
    auto [r, head] = unstack(b, block->getArgument(2), block->getArgument(4));
    if (!op.getScore().empty())
      s = AttentionOp::inlineScalarRegion(b, op.getScore(), {s, bb, head, r, i});
    Value lse = tensor::ExtractOp::create(b, loc, mainLse, ValueRange{bb, head, r});
    s = arith::SubFOp::create(b, loc, s, lse);
    if (std::optional<APFloat> alpha = op.getScoreDecay()) {
      float logAlpha = std::log(alpha->convertToFloat());
      if (logAlpha != 0.0f) {
        // (Lq - 1 - r) log(alpha): the row's weight alpha^(Lq-1-r).
        Value age = arith::SubIOp::create(
            b, loc, arith::SubIOp::create(b, loc, lq, idx(1)), r);
        Value ageF = arith::UIToFPOp::create(
            b, loc, f32, arith::IndexCastUIOp::create(b, loc, b.getI64Type(), age));
        s = arith::AddFOp::create(
            b, loc, s, arith::MulFOp::create(b, loc, ageF, constF(logAlpha)));
      }
    }
    YieldOp::create(b, loc, ValueRange{s});
  }

  /// Row i (a key) sees "key" j (query row r) where the attention let r see i.
  void buildMask(AttentionOp swapped) {
    if (op.getMask().empty() && !op.getCausal())
      return;
    Type idxT = b.getIndexType();
    OpBuilder::InsertionGuard guard(b);
    Block *block = b.createBlock(&swapped.getMask(), {},
                                 {idxT, idxT, idxT, idxT},
                                 SmallVector<Location>(4, loc));
    Value bb = block->getArgument(0), i = block->getArgument(2);
    auto [r, head] = unstack(b, block->getArgument(1), block->getArgument(3));
    Value vis;
    if (!op.getMask().empty())
      vis = AttentionOp::inlineScalarRegion(b, op.getMask(), {bb, head, r, i});
    if (op.getCausal()) {
      // i <= r + (Lk - Lq), the bottom-right aligned causal mask.
      Value bound = arith::SubIOp::create(
          b, loc, arith::AddIOp::create(b, loc, r, lk), lq);
      Value c = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, i, bound);
      vis = vis ? Value(arith::AndIOp::create(b, loc, vis, c)) : c;
    }
    YieldOp::create(b, loc, ValueRange{vis});
  }

  /// exp(lse) (times |v|_1 with value_norm) into the scores output.
  Value exponentiate(Value lse) {
    Value init = op.getScoresOutput();
    auto type = cast<RankedTensorType>(init.getType());
    MLIRContext *ctx = b.getContext();
    AffineMap id3 = AffineMap::getMultiDimIdentityMap(3, ctx);
    Value norm;
    if (op.getValueNorm()) {
      // |v|_1 over the value head dim.
      Value zeros =
          linalg::FillOp::create(b, loc, constF(0.0f), init).getResult(0);
      AffineMap id4 = AffineMap::getMultiDimIdentityMap(4, ctx);
      AffineMap drop = AffineMap::get(4, 0,
                                      {b.getAffineDimExpr(0), b.getAffineDimExpr(1),
                                       b.getAffineDimExpr(2)},
                                      ctx);
      norm = linalg::GenericOp::create(
                 b, loc, TypeRange{type}, ValueRange{op.getValue()},
                 ValueRange{zeros}, ArrayRef<AffineMap>{id4, drop},
                 ArrayRef<utils::IteratorType>{
                     utils::IteratorType::parallel, utils::IteratorType::parallel,
                     utils::IteratorType::parallel, utils::IteratorType::reduction},
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   Value x = args[0];
                   if (!x.getType().isF32())
                     x = arith::ExtFOp::create(nb, l, nb.getF32Type(), x);
                   Value a = math::AbsFOp::create(nb, l, x);
                   linalg::YieldOp::create(
                       nb, l, ValueRange{arith::AddFOp::create(nb, l, args[1], a)});
                 })
                 .getResult(0);
    }
    SmallVector<Value> ins{lse};
    SmallVector<AffineMap> maps{id3};
    if (norm) {
      ins.push_back(norm);
      maps.push_back(id3);
    }
    maps.push_back(id3);
    return linalg::GenericOp::create(
               b, loc, TypeRange{type}, ins, ValueRange{init}, maps,
               SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 Value e = math::ExpOp::create(nb, l, args[0]);
                 if (norm)
                   e = arith::MulFOp::create(nb, l, e, args[1]);
                 linalg::YieldOp::create(nb, l, ValueRange{e});
               })
        .getResult(0);
  }

  SmallVector<Value> dynamicDims(ArrayRef<int64_t> sizes, ArrayRef<Value> values) {
    SmallVector<Value> dyn;
    for (auto [s, v] : llvm::zip(sizes, values))
      if (ShapedType::isDynamic(s))
        dyn.push_back(v);
    return dyn;
  }
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value constF(float x) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(x));
  }

  IRRewriter &b;
  Location loc;
  AttentionOp op;
  int64_t G = 1;
  Value batch, lq, lk, mainLse;
};

struct ExpandColumnScores
    : attn::impl::AttnExpandColumnScoresPassBase<ExpandColumnScores> {
  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (op.getColumnScores())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (AttentionOp op : ops) {
      if (!op.hasPureTensorSemantics()) {
        op.emitOpError("with column_scores must be expanded on tensors, "
                       "before bufferization (attn-expand-column-scores)");
        return signalPassFailure();
      }
      rewriter.setInsertionPoint(op);
      Expander(rewriter, op).run();
    }
  }
};

} // namespace
