//===- ExpandSideOutputs.cpp - score statistics as second attentions -*- C++ -*-===//
//
// Part of the attn project.
//
// column_scores: the attention each key receives, sum_i w_i p[i, j], needs the final
// normalizer of every row i. The first attention saves it (its LSE output);
// a second attention with the roles of queries and keys swapped then sums
// exp(s[i, j] - LSE[i]) over i for every key j through its own online
// softmax: the LSE of that swapped attention is log(sum_i w_i p[i, j]).
// Both are ordinary attn.attention ops, tiled and vectorized by the same
// path (the swapped mask is the transposed causal/mask predicate, so its
// tile classification skips the same tiles). No probability is stored.
//
// row_entropy: -sum_j p_j log p_j = sum_j exp(s_j - LSE + log(LSE - s_j)),
// the exponentiated LSE of an unswapped second attention with those logits.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>
#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNEXPANDSIDEOUTPUTSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class Expander {
public:
  Expander(RewriterBase &b, AttentionOp op, bool fuseColumns, bool fuseEntropy)
      : b(b), loc(op.getLoc()), op(op), fuseColumns(fuseColumns),
        fuseEntropy(fuseEntropy) {}

  void run() {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    auto kType = cast<RankedTensorType>(op.getKey().getType());
    Type f32 = b.getF32Type();
    int64_t hq = qType.getDimSize(1);
    G = hq / kType.getDimSize(1);
    batch = tensor::DimOp::create(b, loc, op.getQuery(), 0);
    lq = tensor::DimOp::create(b, loc, op.getQuery(), 2);
    lk = tensor::DimOp::create(b, loc, op.getKey(), 2);

    // 1. The attention itself, with its log-sum-exp.
    Value lseInit = op.getLse();
    if (!lseInit)
      lseInit = tensor::EmptyOp::create(
          b, loc, RankedTensorType::get({qType.getDimSize(0), hq, qType.getDimSize(2)}, f32),
          dynamicDims({qType.getDimSize(0), qType.getDimSize(2)}, {batch, lq}));
    // With fused column scores the attention keeps them (last output).
    bool keepColumns = fuseColumns && op.getColumnScores();
    bool keepEntropy = fuseEntropy && op.getRowEntropy();
    SmallVector<Value> outs{op.getOutput(), lseInit};
    if (keepEntropy)
      outs.push_back(op.getEntropyOutput());
    if (keepColumns)
      outs.push_back(op.getScoresOutput());
    auto main = AttentionOp::create(
        b, loc, TypeRange(ValueRange(outs)), op.getQuery(), op.getKey(),
        op.getValue(), Value(), Value(), op.getBlocks(), op.getKvLens(),
        op.getPageTable(), op.getKeyScale(), op.getValueScale(),
        op.getQoIndptr(), op.getPlan(), outs,
        op.getCausalAttr(),
        b.getF32FloatAttr(op.getScaleValue()), op.getNormalizerAttr(),
        op.getRmsNormEpsAttr(), op.getBlockSizeAttr(),
        keepEntropy ? op.getRowEntropyAttr() : nullptr,
        keepColumns ? op.getColumnScoresAttr() : nullptr,
        keepColumns ? op.getScoreDecayAttr() : nullptr,
        keepColumns ? op.getValueNormAttr() : nullptr,
        op.getPageLayoutAttr(), op.getRopeAttr());
    IRMapping map;
    for (auto [from, to] :
         llvm::zip(op->getRegions(), main->getRegions()))
      from.cloneInto(&to, map);
    mainLse = main.getResult(1);

    SmallVector<Value> results{main.getResult(0)};
    if (op.getLse())
      results.push_back(main.getResult(1));
    if (keepEntropy)
      results.push_back(main.getResult(2));
    else if (op.getRowEntropy())
      results.push_back(rowEntropy());
    if (keepColumns)
      results.push_back(main.getResult(keepEntropy ? 3 : 2));
    else if (op.getColumnScores())
      results.push_back(columnScores());
    b.replaceOp(op, results);
  }

private:
  /// Queries and keys swapped: rows are keys [B, Hkv, Lk, D], "keys" the G
  /// query heads of each KV head stacked [B, Hkv, G Lq, D], values ones
  /// [B, Hkv, G Lq, 1]; scores = exp(LSE') (* |v|_1).
  Value columnScores() {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    auto kType = cast<RankedTensorType>(op.getKey().getType());
    Type f32 = b.getF32Type();
    int64_t hkv = kType.getDimSize(1), d = qType.getDimSize(3);
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
    Value ones = onesTensor({sb, hkv, sg, 1}, {batch, glq});
    AttentionOp swapped = secondAttention(op.getKey(), rows, ones, hkv, sk, lk,
                                          Value(), nullptr, nullptr);
    buildScore(swapped);
    buildMask(swapped);
    return exponentiate(swapped.getResult(1));
  }

  /// The same rows and keys with values of ones [B, Hkv, Lk, 1] and logits
  /// s' = s - LSE + log(LSE - s): p e^{s'} summed over the row is
  /// sum_j p_j (-log p_j), so the entropy is exp(LSE') (plus the sink's
  /// share -p_sink log p_sink).
  Value rowEntropy() {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    auto kType = cast<RankedTensorType>(op.getKey().getType());
    Type f32 = b.getF32Type(), idxT = b.getIndexType();
    int64_t sb = qType.getDimSize(0), hq = qType.getDimSize(1),
            sq = qType.getDimSize(2), hkv = kType.getDimSize(1),
            sk = kType.getDimSize(2);
    Value ones = onesTensor({sb, hkv, sk, 1}, {batch, lk});
    AttentionOp pass = secondAttention(op.getQuery(), op.getKey(), ones, hq,
                                       sq, lq, op.getBlocks(),
                                       op.getCausalAttr(),
                                       op.getBlockSizeAttr());
    IRMapping map;
    op.getMask().cloneInto(&pass.getMask(), map);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *block = b.createBlock(&pass.getScore(), {},
                                   {f32, idxT, idxT, idxT, idxT},
                                   SmallVector<Location>(5, loc));
      ValueRange args = block->getArguments();
      Value s = args[0];
      if (!op.getScore().empty())
        s = AttentionOp::inlineScalarRegion(b, op.getScore(), args);
      Value lse = tensor::ExtractOp::create(b, loc, mainLse,
                                            ValueRange{args[1], args[2], args[3]});
      // -log p = LSE - s >= 0 up to rounding (clamped: log 0 = -inf drops
      // the term); a logit of -inf has p = 0 and contributes nothing.
      // The log reads 1 where -log p is 0 and the select drops it (so that
      // the derivative of this region, differentiated for training, is
      // never 0 / 0 there).
      Value negLogP = arith::SubFOp::create(b, loc, lse, s);
      Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                             negLogP, constF(0.0f));
      Value safe =
          arith::SelectOp::create(b, loc, positive, negLogP, constF(1.0f));
      Value shifted = arith::AddFOp::create(
          b, loc, arith::SubFOp::create(b, loc, s, lse),
          math::LogOp::create(b, loc, safe));
      Value ninf = constF(-std::numeric_limits<float>::infinity());
      Value dead = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, s, ninf);
      dead = arith::OrIOp::create(
          b, loc, dead,
          arith::XOrIOp::create(
              b, loc, positive,
              arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1)));
      YieldOp::create(b, loc,
                      ValueRange{arith::SelectOp::create(b, loc, dead, ninf, shifted)});
    }

    Value sinkLse = op.getSink().empty() ? Value() : mainLse;
    return mapExp(
        op.getEntropyOutput(), pass.getResult(1), sinkLse,
        [&](OpBuilder &nb, Location l, Value h, Value lse) -> Value {
          if (!lse)
            return h;
          // + p_sink (LSE - sink), p_sink = exp(sink - LSE); 0 for a sink
          // of -inf (also with no keys, where LSE is -inf too).
          SmallVector<Value> at;
          for (int64_t dim = 0; dim < 3; ++dim)
            at.push_back(linalg::IndexOp::create(nb, l, dim));
          Value sink = AttentionOp::inlineScalarRegion(nb, op.getSink(), at);
          // A sink of -inf adds nothing; its operands then read 0 so that
          // the derivative of this generic (training) is never 0 * inf.
          Value zero =
              arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.0f));
          Value live = arith::CmpFOp::create(
              nb, l, arith::CmpFPredicate::OGT, sink,
              arith::ConstantOp::create(
                  nb, l,
                  nb.getF32FloatAttr(-std::numeric_limits<float>::infinity())));
          Value s = arith::SelectOp::create(nb, l, live, sink, zero);
          Value m = arith::SelectOp::create(nb, l, live, lse, zero);
          Value ps = math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, s, m));
          Value term = arith::MulFOp::create(
              nb, l, ps, arith::SubFOp::create(nb, l, m, s));
          return arith::AddFOp::create(
              nb, l, h, arith::SelectOp::create(nb, l, live, term, zero));
        });
  }

  /// An elementwise [B, H, L] map into `init`: body(exp(lse), extra), with
  /// `extra` (same shape, optional) read as a second input.
  Value mapExp(Value init, Value lse, Value extra,
               function_ref<Value(OpBuilder &, Location, Value, Value)> body) {
    AffineMap id3 = AffineMap::getMultiDimIdentityMap(3, b.getContext());
    SmallVector<Value> ins{lse};
    if (extra)
      ins.push_back(extra);
    SmallVector<AffineMap> maps(ins.size() + 1, id3);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps,
               SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 Value e = math::ExpOp::create(nb, l, args[0]);
                 linalg::YieldOp::create(
                     nb, l, body(nb, l, e, extra ? args[1] : Value()));
               })
        .getResult(0);
  }

  /// An attention (the op's scale, no regions yet) of `rows` over `keys`
  /// with `values` into fresh [B, heads, len, 1] and LSE [B, heads, len]
  /// outputs; `lenValue` is `len` at run time.
  AttentionOp secondAttention(Value rows, Value keys, Value values,
                              int64_t heads, int64_t len, Value lenValue,
                              Value blocks, UnitAttr causal,
                              IntegerAttr blockSize) {
    Type f32 = b.getF32Type();
    int64_t sb = cast<ShapedType>(rows.getType()).getDimSize(0);
    SmallVector<Value> dyn = dynamicDims({sb, len}, {batch, lenValue});
    SmallVector<Value> outs{
        tensor::EmptyOp::create(
            b, loc, RankedTensorType::get({sb, heads, len, 1}, f32), dyn),
        tensor::EmptyOp::create(
            b, loc, RankedTensorType::get({sb, heads, len}, f32), dyn)};
    return AttentionOp::create(
        b, loc, TypeRange(ValueRange(outs)), rows, keys, values, Value(),
        Value(), blocks, Value(), Value(), Value(), Value(), Value(), Value(),
        outs, causal,
        b.getF32FloatAttr(op.getScaleValue()), nullptr, nullptr, blockSize,
        nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
  }

  /// A tensor of ones of the given shape (dynamic dims: batch, then length).
  Value onesTensor(ArrayRef<int64_t> shape, ArrayRef<Value> dyn) {
    auto type = RankedTensorType::get(shape, b.getF32Type());
    return linalg::FillOp::create(
               b, loc, constF(1.0f),
               tensor::EmptyOp::create(b, loc, type,
                                       dynamicDims({shape[0], shape[2]}, dyn))
                   .getResult())
        .getResult(0);
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
    return mapExp(init, lse, norm,
                  [&](OpBuilder &nb, Location l, Value e, Value n) -> Value {
                    return n ? Value(arith::MulFOp::create(nb, l, e, n)) : e;
                  });
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

  RewriterBase &b;
  Location loc;
  AttentionOp op;
  bool fuseColumns, fuseEntropy;
  int64_t G = 1;
  Value batch, lq, lk, mainLse;
};

struct ExpandSideOutputs
    : attn::impl::AttnExpandSideOutputsPassBase<ExpandSideOutputs> {
  using Base::Base;

  /// Whether attn-tile-attention computes this op's column scores in its
  /// own loop: not for a decode step (a static query length of 1, which
  /// takes the split-KV form; the swapped pass spreads its keys instead).
  bool fusesColumns(AttentionOp op) {
    ShapedType q = op.getQueryType();
    return fuseColumnScores && op.getColumnScores() &&
           !(!q.isDynamicDim(2) && q.getDimSize(2) == 1);
  }

  /// Whether attn-tile-attention computes this op's row entropy in the
  /// attention's own pass: a softmax over one map (no second map, RMS norm
  /// or block selection) in the prefill form (not a static query length of
  /// 1; a dynamic one is dispatched at run time, see expand()).
  bool fusesEntropy(AttentionOp op) {
    ShapedType q = op.getQueryType();
    return fuseRowEntropy && op.getRowEntropy() &&
           op.getNormalizer() == Normalizer::softmax && !op.getQuery2() &&
           !op.getRmsNormEps() && !op.getBlocks() &&
           !(!q.isDynamicDim(2) && q.getDimSize(2) == 1);
  }

  /// Whether a side output of `op` is computed by a second attention (ops
  /// whose side outputs are all fused are left as they are: no LSE added).
  bool needsExpansion(AttentionOp op) {
    return (op.getRowEntropy() && !fusesEntropy(op)) ||
           (op.getColumnScores() && !fusesColumns(op));
  }

  /// `v` with its dim 2 (the query length) cast to `size`.
  static Value castQueryDim(OpBuilder &b, Location loc, Value v,
                            int64_t size) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> shape(t.getShape());
    shape[2] = size;
    auto to = t.clone(shape);
    return to == t ? v : tensor::CastOp::create(b, loc, to, v).getResult();
  }

  /// Expands `op`. Fused side outputs with a dynamic query length are
  /// dispatched at run time: `scf.if (Lq == 1)` takes the expanded form on
  /// operands cast to one query row (the decode step: its attention takes
  /// the split-KV form, the column scores' swapped pass runs over the keys
  /// in parallel), the else branch the fused one.
  void expand(IRRewriter &b, AttentionOp op) {
    if (!(fusesEntropy(op) || fusesColumns(op)) ||
        !op.getQueryType().isDynamicDim(2)) {
      if (needsExpansion(op))
        Expander(b, op, fusesColumns(op), fusesEntropy(op)).run();
      return;
    }
    Location loc = op.getLoc();
    Value lq = tensor::DimOp::create(b, loc, op.getQuery(), 2);
    Value one = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, lq,
        arith::ConstantIndexOp::create(b, loc, 1));
    auto branch = scf::IfOp::create(b, loc, op->getResultTypes(), one,
                                    /*withElseRegion=*/true);
    branch->setAttr("attn.dispatch",
                    b.getStringAttr("expand_side_outputs_if_one_query_row"));
    // Lq = 1: the side outputs expanded on one-row views.
    b.setInsertionPointToStart(branch.thenBlock());
    Value query = castQueryDim(b, loc, op.getQuery(), 1);
    SmallVector<Value> outs;
    for (Value out : op.getOutputs())
      outs.push_back(out == op.getScoresOutput() ? out
                                                 : castQueryDim(b, loc, out, 1));
    auto decode = cast<AttentionOp>(b.clone(*op));
    decode.getQueryMutable().assign(query);
    decode.getOutputsMutable().assign(outs);
    for (auto [r, out] : llvm::zip(decode->getResults(), outs))
      r.setType(out.getType());
    SmallVector<Value> back;
    for (auto [r, t] : llvm::zip(decode->getResults(), op->getResultTypes()))
      back.push_back(r.getType() == t
                         ? Value(r)
                         : tensor::CastOp::create(b, loc, t, r).getResult());
    scf::YieldOp::create(b, loc, back);
    b.setInsertionPoint(decode);
    Expander(b, decode, fusesColumns(decode), fusesEntropy(decode)).run();
    // Otherwise the fused form.
    b.setInsertionPointToStart(branch.elseBlock());
    auto prefill = cast<AttentionOp>(b.clone(*op));
    scf::YieldOp::create(b, loc, prefill->getResults());
    b.setInsertionPoint(prefill);
    if (needsExpansion(prefill))
      Expander(b, prefill, fusesColumns(prefill), fusesEntropy(prefill)).run();
    b.replaceOp(op, branch.getResults());
  }

  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (needsExpansion(op) || ((fusesColumns(op) || fusesEntropy(op)) &&
                                 op.getQueryType().isDynamicDim(2)))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (AttentionOp op : ops) {
      if (!op.hasPureTensorSemantics()) {
        op.emitOpError("with row_entropy or column_scores must be expanded "
                       "on tensors, "
                       "before bufferization (attn-expand-side-outputs)");
        return signalPassFailure();
      }
      rewriter.setInsertionPoint(op);
      expand(rewriter, op);
    }
  }
};

} // namespace

void mlir::attn::expandSideOutputs(RewriterBase &b, AttentionOp op) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(op);
  Expander(b, op, /*fuseColumns=*/false, /*fuseEntropy=*/false).run();
}
