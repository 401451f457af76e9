//===- MaterializeRope.cpp - rotary embeddings as tensor ops ----*- C++ -*-===//
//
// Part of the attn project.
//
// `attn.attention ... rope <...>` rotates queries and keys at their logical
// positions. This pass makes those rotations explicit: one attn.rope per
// operand, with the positions computed from the causal alignment (and each
// request's length), and then lowers every attn.rope to a linalg.generic
// that every backend compiles. A paged pool is gathered first, since a
// pool row has a position only through the request that reads it.
//
//===----------------------------------------------------------------------===//

#include "dialect/Adjoint.h"
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <functional>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNMATERIALIZEROPEPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

/// An i64 [batch, len] tensor of positions `j + offset[b]`, where `offset`
/// maps a builder and the batch index to an index value (or is null: 0).
static Value
buildPositions(OpBuilder &b, Location loc, Value batch, Value len,
               function_ref<Value(OpBuilder &, Location, Value)> offset) {
  auto type = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                    b.getI64Type());
  Value init = tensor::EmptyOp::create(b, loc, type, ValueRange{batch, len});
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{}, ValueRange{init},
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(2)},
             SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
             [&](OpBuilder &gb, Location l, ValueRange) {
               Value bi = linalg::IndexOp::create(gb, l, 0);
               Value j = linalg::IndexOp::create(gb, l, 1);
               Value pos = j;
               if (offset)
                 pos = arith::AddIOp::create(gb, l, j, offset(gb, l, bi));
               linalg::YieldOp::create(
                   gb, l, ValueRange{arith::IndexCastOp::create(
                              gb, l, gb.getI64Type(), pos)});
             })
      .getResult(0);
}

static Value ropeOf(OpBuilder &b, Location loc, RopeAttr rope, Value x,
                    Value positions) {
  auto type = cast<RankedTensorType>(x.getType());
  Value init = tensor::EmptyOp::create(b, loc, type, dynamicSizes(b, loc, x));
  return RopeOp::create(b, loc, type, x, positions, init, rope, nullptr)
      .getResult();
}

LogicalResult mlir::attn::materializeRope(OpBuilder &b, AttentionOp op) {
  std::optional<RopeAttr> rope = op.getRope();
  if (!rope)
    return success();
  Location loc = op.getLoc();
  // Rotated keys are real numbers: a quantized cache is dequantized first.
  dequantizeKV(b, op);
  b.setInsertionPoint(op);
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
  if (op.isPaged()) {
    k = gatherPagedPool(b, loc, op, k);
    v = gatherPagedPool(b, loc, op, v);
  }
  Value batch = tensor::DimOp::create(b, loc, q, 0);
  Value lq = tensor::DimOp::create(b, loc, q, 2);
  Value lk = tensor::DimOp::create(b, loc, k, 2);
  Value lens = op.getKvLens();
  // A ragged batch's token t (request r) sits at t + lens[r] - indptr[r+1]
  // (its row in the chunk plus the chunk's offset).
  Value requests = op.isRagged() ? raggedRequests(b, loc, op) : Value();
  Value lastReq = requests ? lastRequest(b, loc, op) : Value();
  // Query row i sits at i + len_b - Lq (len_b: the request's length, else
  // Lk), the causal alignment; keys at their index.
  Value qpos = buildPositions(
      b, loc, batch, lq, [&](OpBuilder &gb, Location l, Value bi) -> Value {
        Type idx = gb.getIndexType();
        Value r = requestOf(gb, l, requests, lastReq, bi);
        Value len = lk;
        if (lens)
          len = arith::IndexCastOp::create(
              gb, l, idx,
              tensor::ExtractOp::create(gb, l, lens, ValueRange{r}));
        if (!requests)
          return arith::SubIOp::create(gb, l, len, lq);
        Value end = arith::IndexCastOp::create(
            gb, l, idx,
            tensor::ExtractOp::create(
                gb, l, op.getQoIndptr(),
                ValueRange{arith::AddIOp::create(
                    gb, l, r, arith::ConstantIndexOp::create(gb, l, 1))}));
        return arith::SubIOp::create(gb, l,
                                     arith::AddIOp::create(gb, l, bi, len),
                                     end);
      });
  Value kpos = buildPositions(
      b, loc, lens ? tensor::DimOp::create(b, loc, lens, 0).getResult() : batch,
      lk, nullptr);
  q = ropeOf(b, loc, *rope, q, qpos);
  k = ropeOf(b, loc, *rope, k, kpos);
  op.getQueryMutable().assign(q);
  op.getKeyMutable().assign(k);
  if (op.isPaged()) {
    op.getValueMutable().assign(v);
    op.getPageTableMutable().clear();
    op.setPageLayout(PageLayout::nhd);
  }
  op.removeRopeAttr();
  return success();
}

Value mlir::attn::lowerRope(OpBuilder &b, RopeOp op) {
  Location loc = op.getLoc();
  auto type = op.getInput().getType();
  int64_t d = type.getDimSize(3);
  RopeAttr rope = op.getRope();
  int64_t r = rope.getRotatedDims(d);
  // Per channel: the signed frequency (negated for the inverse) and the
  // factor on cos and sin (YaRN's temperature on the rotated channels).
  SmallVector<double> freq = rope.getChannelFrequencies(d);
  double magnitude = rope.getMagnitude();
  if (op.getInverse())
    for (double &f : freq)
      f = -f;
  // The table as a tensor computed by a generic (a balanced tree of selects
  // on the channel): a constant tensor would be a global that GPU kernels
  // cannot read.
  auto tableType = RankedTensorType::get({d}, b.getF64Type());
  Value freqTable =
      linalg::GenericOp::create(
          b, loc, TypeRange{tableType}, ValueRange{},
          ValueRange{tensor::EmptyOp::create(b, loc, tableType, ValueRange{})},
          ArrayRef<AffineMap>{b.getMultiDimIdentityMap(1)},
          utils::IteratorType::parallel,
          [&](OpBuilder &gb, Location l, ValueRange) {
            Value c = linalg::IndexOp::create(gb, l, 0);
            std::function<Value(int64_t, int64_t)> pick =
                [&](int64_t lo, int64_t hi) -> Value {
              if (hi - lo == 1)
                return arith::ConstantOp::create(gb, l,
                                                 gb.getF64FloatAttr(freq[lo]));
              int64_t mid = (lo + hi) / 2;
              Value below = arith::CmpIOp::create(
                  gb, l, arith::CmpIPredicate::ult, c,
                  arith::ConstantIndexOp::create(gb, l, mid));
              return arith::SelectOp::create(gb, l, below, pick(lo, mid),
                                             pick(mid, hi));
            };
            linalg::YieldOp::create(gb, l, ValueRange{pick(0, d)});
          })
          .getResult(0);
  Value x = op.getInput();
  MLIRContext *ctx = b.getContext();
  AffineExpr bd = getAffineDimExpr(0, ctx), id = getAffineDimExpr(2, ctx),
             dd = getAffineDimExpr(3, ctx);
  AffineMap idMap = b.getMultiDimIdentityMap(4);
  AffineMap chan = AffineMap::get(4, 0, {dd}, ctx);
  AffineMap row = AffineMap::get(4, 0, {bd, id}, ctx);
  bool llama = rope.getStyle() == RopeStyle::llama;
  Type outElt = op.getOutput().getType().getElementType();
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{op.getOutput().getType()},
      ValueRange{x, freqTable, op.getPositions()}, ValueRange{op.getOutput()},
      ArrayRef<AffineMap>{idMap, chan, row, idMap},
      SmallVector<utils::IteratorType>(4, utils::IteratorType::parallel),
      [&](OpBuilder &gb, Location l, ValueRange args) {
        Type f32 = gb.getF32Type(), f64 = gb.getF64Type();
        auto cidx = [&](int64_t n) {
          return arith::ConstantIndexOp::create(gb, l, n).getResult();
        };
        Value bi = linalg::IndexOp::create(gb, l, 0);
        Value hi = linalg::IndexOp::create(gb, l, 1);
        Value ii = linalg::IndexOp::create(gb, l, 2);
        Value di = linalg::IndexOp::create(gb, l, 3);
        // The pair partner: d + R/2 mod R (llama) or d xor 1 (gptj);
        // channels past R are their own (their frequency is 0).
        Value partner;
        if (llama) {
          partner = arith::RemUIOp::create(
              gb, l, arith::AddIOp::create(gb, l, di, cidx(r / 2)), cidx(r));
        } else {
          Value odd = arith::RemUIOp::create(gb, l, di, cidx(2));
          partner = arith::SubIOp::create(
              gb, l, arith::AddIOp::create(gb, l, di, cidx(1)),
              arith::AddIOp::create(gb, l, odd, odd));
          // Within [0, R) already; the clamp shows it to Halide's bounds
          // inference.
          partner = arith::MinSIOp::create(
              gb, l, arith::MaxSIOp::create(gb, l, partner, cidx(0)),
              cidx(r - 1));
        }
        if (r < d)
          partner = arith::SelectOp::create(
              gb, l,
              arith::CmpIOp::create(gb, l, arith::CmpIPredicate::ult, di,
                                    cidx(r)),
              partner, di);
        Value xp = tensor::ExtractOp::create(gb, l, x,
                                             ValueRange{bi, hi, ii, partner});
        auto toF32 = [&](Value v) -> Value {
          return v.getType().isF32() ? v
                                     : arith::ExtFOp::create(gb, l, f32, v)
                                           .getResult();
        };
        // The angle in f64, reduced by whole turns before the f32 cos/sin.
        Value pos = arith::SIToFPOp::create(gb, l, f64, args[2]);
        Value angle = arith::MulFOp::create(gb, l, pos, args[1]);
        Value twoPi = arith::ConstantOp::create(gb, l,
                                                gb.getF64FloatAttr(2 * M_PI));
        Value half = arith::ConstantOp::create(gb, l, gb.getF64FloatAttr(0.5));
        // Whole turns by truncation (a floor is a libdevice call on NVPTX):
        // the remainder is within (-3 pi, pi], small for the f32 cos/sin.
        Value turns = arith::SIToFPOp::create(
            gb, l, f64,
            arith::FPToSIOp::create(
                gb, l, gb.getI64Type(),
                arith::AddFOp::create(
                    gb, l,
                    arith::MulFOp::create(
                        gb, l, angle,
                        arith::ConstantOp::create(
                            gb, l, gb.getF64FloatAttr(1.0 / (2 * M_PI)))),
                    half)));
        Value reduced = arith::SubFOp::create(
            gb, l, angle, arith::MulFOp::create(gb, l, turns, twoPi));
        Value a32 = arith::TruncFOp::create(gb, l, f32, reduced);
        // YaRN's factor on the rotated channels only.
        Value m = arith::ConstantOp::create(
            gb, l, gb.getF32FloatAttr(static_cast<float>(magnitude)));
        if (r < d && magnitude != 1.0)
          m = arith::SelectOp::create(
              gb, l,
              arith::CmpIOp::create(gb, l, arith::CmpIPredicate::ult, di,
                                    cidx(r)),
              m,
              arith::ConstantOp::create(gb, l, gb.getF32FloatAttr(1.0f)));
        Value c = math::CosOp::create(gb, l, a32);
        Value s = math::SinOp::create(gb, l, a32);
        if (magnitude != 1.0) {
          c = arith::MulFOp::create(gb, l, c, m);
          s = arith::MulFOp::create(gb, l, s, m);
        }
        Value y = arith::AddFOp::create(
            gb, l, arith::MulFOp::create(gb, l, toF32(args[0]), c),
            arith::MulFOp::create(gb, l, toF32(xp), s));
        if (!outElt.isF32())
          y = arith::TruncFOp::create(gb, l, outElt, y);
        linalg::YieldOp::create(gb, l, ValueRange{y});
      });
  return generic.getResult(0);
}

namespace {
struct MaterializeRope
    : attn::impl::AttnMaterializeRopePassBase<MaterializeRope> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (op.getRope() && op.hasPureTensorSemantics() &&
          !(skipPaged && (op.isPaged() || op.isQuantized())) &&
          !(keepFused && tilesRope(op) &&
            (!op.getKvLens() || tilesThroughPages(op))))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    for (AttentionOp op : ops)
      if (failed(materializeRope(b, op)))
        return signalPassFailure();
    SmallVector<RopeOp> ropes;
    getOperation().walk([&](RopeOp op) { ropes.push_back(op); });
    for (RopeOp op : ropes) {
      b.setInsertionPoint(op);
      op.getResult().replaceAllUsesWith(lowerRope(b, op));
      op.erase();
    }
  }
};
} // namespace
