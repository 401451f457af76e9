//===- TileAttention.cpp - FlashAttention-2 tiling --------------*- C++ -*-===//
//
// Part of the attn project.
//
// Rewrites memref attn.attention into
//
//   scf.forall (%b, %h, %qt) in (B, Hq, ceil(Lq / TQ)) {
//     state = alloca; fill(m = -inf, l = 0, acc = 0)
//     scf.for %kt = 0 to ceil(Lk / TK) {
//       (full, empty) = classify(tile)            // a few integer ops
//       if (!empty) { if (full) tile_attend(no mask) else tile_attend(mask) }
//     }
//     tile_finalize(epilogue)
//   }
//
// The classification bounds each linear comparison of the mask over the
// tile's corners, so causal, sliding-window and prefix masks skip empty tiles
// and evaluate no mask in full tiles, with no special cases here.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/LoopBuilders.h"
#include "passes/MaskAnalysis.h"
#include "passes/Passes.h"
#include "passes/Quant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

#include <array>
#include <numeric>
#include <cmath>
#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTILEATTENTIONPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

//===----------------------------------------------------------------------===//
// Tiling
//===----------------------------------------------------------------------===//

/// A rank-reduced [rows, cols] (or [rows]) view of `source` at `offsets`.
static Value tileView(OpBuilder &b, Location loc, Value source,
                      ArrayRef<OpFoldResult> offsets,
                      ArrayRef<OpFoldResult> sizes,
                      ArrayRef<int64_t> resultShape) {
  auto srcType = cast<MemRefType>(source.getType());
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  auto type = memref::SubViewOp::inferRankReducedResultType(
      resultShape, srcType, offsets, sizes, strides);
  return memref::SubViewOp::create(b, loc, cast<MemRefType>(type), source,
                                   offsets, sizes, strides);
}

/// The [n, cols] view of rows [r0, r0 + n) of `src[b, h]` (a [B, H, L, cols]
/// operand): a query, key, value or output tile.
static Value rowTile(OpBuilder &b, Location loc, Value src, Value bb, Value h,
                     Value r0, Value n) {
  int64_t cols = cast<MemRefType>(src.getType()).getDimSize(3);
  OpFoldResult one = b.getIndexAttr(1);
  return tileView(b, loc, src, {bb, h, r0, b.getIndexAttr(0)},
                  {one, one, n, b.getIndexAttr(cols)},
                  {ShapedType::kDynamic, cols});
}

/// Rotates rows [0, n) of `src` ([n, D] view) into the same rows of `dst`
/// (a [*, D] buffer, possibly `src` itself): row r at position
/// pos0 + r * step (step 0 or 1). One row is a vector: its pairs are split
/// into halves (llama) or even/odd lanes (gptj), turned by (c, s) and put
/// back. cos and sin are computed once per call of this (f64 angles reduced
/// by whole turns, then f32), and stepped from row to row by the rotation of
/// one position (angle addition), so a tile costs a few multiplies per pair
/// and row rather than a sine and a cosine.
static void emitRopeRows(OpBuilder &b, Location loc, RopeAttr rope, Value src,
                         Value dst, Value n, Value pos0, int64_t step) {
  auto srcType = cast<MemRefType>(src.getType());
  int64_t d = srcType.getDimSize(1);
  int64_t r = rope.getRotatedDims(d), half = r / 2;
  bool llama = rope.getStyle() == RopeStyle::llama;
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  Type srcElt = srcType.getElementType();
  Type dstElt = cast<MemRefType>(dst.getType()).getElementType();
  // Pair k turns by f_k per position (the channel table holds -f_k at the
  // pair's first channel, +f_k at its second).
  SmallVector<double> chan = rope.getChannelFrequencies(d);
  SmallVector<double> freq(half);
  for (int64_t k = 0; k < half; ++k)
    freq[k] = chan[llama ? half + k : 2 * k + 1];
  double m = rope.getMagnitude();
  auto halfF32 = VectorType::get({half}, f32);
  auto halfF64 = VectorType::get({half}, f64);
  auto rowF32 = VectorType::get({d}, f32);
  // cos and sin of every pair at position `pos` (times the magnitude),
  // from an f64 angle reduced by whole turns.
  auto exactAt = [&](OpBuilder &b, Value pos) -> std::pair<Value, Value> {
    auto splat64 = [&](double x) -> Value {
      return arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(halfF64, ArrayRef<double>(x)));
    };
    Value p = arith::SIToFPOp::create(
        b, loc, f64, arith::IndexCastOp::create(b, loc, b.getI64Type(), pos));
    Value angle = arith::MulFOp::create(
        b, loc, vector::BroadcastOp::create(b, loc, halfF64, p),
        arith::ConstantOp::create(
            b, loc, DenseElementsAttr::get(halfF64, ArrayRef<double>(freq))));
    // Whole turns by truncation (within (-3 pi, pi] for negative angles).
    Value turns = arith::SIToFPOp::create(
        b, loc, halfF64,
        arith::FPToSIOp::create(
            b, loc, VectorType::get({half}, b.getI64Type()),
            arith::AddFOp::create(
                b, loc,
                arith::MulFOp::create(b, loc, angle, splat64(1.0 / (2 * M_PI))),
                splat64(0.5))));
    Value reduced = arith::TruncFOp::create(
        b, loc, halfF32,
        arith::SubFOp::create(
            b, loc, angle,
            arith::MulFOp::create(b, loc, turns, splat64(2 * M_PI))));
    Value c = math::CosOp::create(b, loc, reduced);
    Value sn = math::SinOp::create(b, loc, reduced);
    if (m != 1.0) {
      Value mv = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(halfF32, static_cast<float>(m)));
      c = arith::MulFOp::create(b, loc, c, mv);
      sn = arith::MulFOp::create(b, loc, sn, mv);
    }
    return {c, sn};
  };
  // The rotation of one position: (cos f_k, sin f_k).
  SmallVector<float> stepCos(half), stepSin(half);
  for (int64_t k = 0; k < half; ++k) {
    stepCos[k] = static_cast<float>(std::cos(freq[k] * double(step)));
    stepSin[k] = static_cast<float>(std::sin(freq[k] * double(step)));
  }
  Value cf = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(halfF32, ArrayRef<float>(stepCos)));
  Value sf = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(halfF32, ArrayRef<float>(stepSin)));
  SmallVector<int64_t> evens, odds, interleave, concat;
  for (int64_t c = 0; c < r; ++c)
    concat.push_back(c);
  for (int64_t k = 0; k < half; ++k) {
    evens.push_back(2 * k);
    odds.push_back(2 * k + 1);
    interleave.push_back(k);
    interleave.push_back(half + k);
  }
  Value c0i = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1i = arith::ConstantIndexOp::create(b, loc, 1);
  // One row: read, turn its pairs by (c, s), write.
  auto rotateRow = [&](OpBuilder &lb, Location l, Value row, Value c,
                       Value s) {
    Value x = vector::TransferReadOp::create(
        lb, l, VectorType::get({d}, srcElt), src, ValueRange{row, c0i},
        /*padding=*/std::nullopt, ArrayRef<bool>{true});
    if (!srcElt.isF32())
      x = arith::ExtFOp::create(lb, l, rowF32, x);
    Value rot = x;
    if (r < d)
      rot = vector::ExtractStridedSliceOp::create(lb, l, x, {0}, {r}, {1});
    Value a, bv;
    if (llama) {
      a = vector::ExtractStridedSliceOp::create(lb, l, rot, {0}, {half}, {1});
      bv = vector::ExtractStridedSliceOp::create(lb, l, rot, {half}, {half},
                                                 {1});
    } else {
      a = vector::ShuffleOp::create(lb, l, rot, rot, evens);
      bv = vector::ShuffleOp::create(lb, l, rot, rot, odds);
    }
    Value ya = arith::SubFOp::create(lb, l, arith::MulFOp::create(lb, l, a, c),
                                     arith::MulFOp::create(lb, l, bv, s));
    Value yb = arith::AddFOp::create(lb, l, arith::MulFOp::create(lb, l, bv, c),
                                     arith::MulFOp::create(lb, l, a, s));
    Value y = vector::ShuffleOp::create(
        lb, l, ya, yb,
        llama ? ArrayRef<int64_t>(concat) : ArrayRef<int64_t>(interleave));
    if (r < d)
      y = vector::InsertStridedSliceOp::create(lb, l, y, x, {0}, {1});
    if (!dstElt.isF32())
      y = arith::TruncFOp::create(lb, l, VectorType::get({d}, dstElt), y);
    vector::TransferWriteOp::create(lb, l, y, dst, ValueRange{row, c0i},
                                    ArrayRef<bool>{true});
  };
  if (step == 0) {
    // Every row at pos0 (a decode's query heads).
    auto [c, sn] = exactAt(b, pos0);
    scf::ForOp::create(b, loc, c0i, n, c1i, ValueRange{},
                       [&](OpBuilder &lb, Location l, Value row, ValueRange) {
                         rotateRow(lb, l, row, c, sn);
                         scf::YieldOp::create(lb, l);
                       });
    return;
  }
  // Groups of kRopeAnchor rows: exact (c, s) at each group's first row,
  // then turned by one position per row (a rounding per step: the error
  // stays within a few ulp over a group).
  constexpr int64_t kRopeAnchor = 8;
  Value anchor = arith::ConstantIndexOp::create(b, loc, kRopeAnchor);
  scf::ForOp::create(
      b, loc, c0i, n, anchor, ValueRange{},
      [&](OpBuilder &gb, Location l, Value first, ValueRange) {
        auto [c, sn] =
            exactAt(gb, arith::AddIOp::create(
                            gb, l, pos0,
                            arith::MulIOp::create(
                                gb, l, first,
                                arith::ConstantIndexOp::create(gb, l, step))));
        Value last = arith::MinSIOp::create(
            gb, l, n, arith::AddIOp::create(gb, l, first, anchor));
        scf::ForOp::create(
            gb, l, first, last, c1i, ValueRange{c, sn},
            [&](OpBuilder &lb, Location l2, Value row, ValueRange cs) {
              rotateRow(lb, l2, row, cs[0], cs[1]);
              Value cc = cs[0], ss = cs[1];
              Value cn = arith::SubFOp::create(
                  lb, l2, arith::MulFOp::create(lb, l2, cc, cf),
                  arith::MulFOp::create(lb, l2, ss, sf));
              Value snext = arith::AddFOp::create(
                  lb, l2, arith::MulFOp::create(lb, l2, ss, cf),
                  arith::MulFOp::create(lb, l2, cc, sf));
              scf::YieldOp::create(lb, l2, ValueRange{cn, snext});
            });
        scf::YieldOp::create(gb, l);
      });
}

/// The [nq, D] query tile `qTile` of `op`, rotated by its rope (if any)
/// into a stack tile of `tq` rows, row r at position pos0 + r * step (step
/// 0: a decode group's heads share one position); else `qTile`. The view is
/// defined after the rotation (the micro-kernels pack the query right after
/// its view's definition); static when `nq` is.
static Value rotatedQueryRows(OpBuilder &b, Location loc, AttentionOp op,
                              Value qTile, OpFoldResult nq, Value pos0,
                              int64_t tq, int64_t step = 1) {
  std::optional<RopeAttr> rope = op.getRope();
  if (!rope)
    return qTile;
  auto qType = cast<MemRefType>(op.getQuery().getType());
  int64_t d = qType.getDimSize(3);
  Value rotated = memref::AllocaOp::create(
      b, loc, MemRefType::get({tq, d}, qType.getElementType()));
  emitRopeRows(b, loc, *rope, qTile, rotated,
               getValueOrCreateConstantIndexOp(b, loc, nq), pos0, step);
  OpFoldResult zero = b.getIndexAttr(0);
  std::optional<int64_t> rows = getConstantIntValue(nq);
  return tileView(b, loc, rotated, {zero, zero}, {nq, b.getIndexAttr(d)},
                  {rows ? *rows : ShapedType::kDynamic, d});
}

/// The dequantization of a staged tile's rows: the scale operand, its
/// blocks (getScaleBlocks) and, for row `r` of the rows being copied, the
/// operand's indices of the row's first element.

struct RowDequant {
  Value scale;
  SmallVector<int64_t> blocks;
  std::function<SmallVector<Value>(OpBuilder &, Value)> indices;
};

/// The f32 scales of one row (a [D] vector) from the scale at the row's
/// indices: one scale broadcast, D scales, or D / block scales each
/// repeated over its block of channels.
static Value rowScales(OpBuilder &b, Location loc, const RowDequant &dq,
                       Value row, int64_t d) {
  auto sType = cast<MemRefType>(dq.scale.getType());
  Type f32 = b.getF32Type();
  SmallVector<Value> at =
      scaleIndices(b, loc, dq.blocks, dq.indices(b, row));
  int64_t ns = dq.blocks.back() == 0 ? 1 : sType.getShape().back();
  if (ns == 1) {
    Value s = memref::LoadOp::create(b, loc, dq.scale, at);
    if (!s.getType().isF32())
      s = arith::ExtFOp::create(b, loc, f32, s);
    return vector::BroadcastOp::create(b, loc, VectorType::get({d}, f32), s);
  }
  Value s = vector::TransferReadOp::create(
      b, loc, VectorType::get({ns}, sType.getElementType()), dq.scale, at,
      /*padding=*/std::nullopt, ArrayRef<bool>{true});
  if (!sType.getElementType().isF32())
    s = arith::ExtFOp::create(b, loc, VectorType::get({ns}, f32), s);
  if (ns == d)
    return s;
  SmallVector<int64_t> mask;
  for (int64_t c = 0; c < d; ++c)
    mask.push_back(c / (d / ns));
  return vector::ShuffleOp::create(b, loc, s, s, mask);
}

/// Copies rows [0, n) of `src` ([n, D] view) into `dst` ([*, D]), a row
/// vector at a time (linalg.copy of a dynamic strided view becomes scalar
/// loops); with `dq`, 8-bit codes are dequantized into `dst`'s element
/// type on the way (scale * decode(code), in f32).
static void emitRowCopy(OpBuilder &b, Location loc, Value src, Value dst,
                        Value n, const RowDequant *dq = nullptr) {
  auto srcType = cast<MemRefType>(src.getType());
  int64_t d = srcType.getDimSize(1);
  Type code = srcType.getElementType();
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  buildFor(b, loc, c0, n, 1, [&](Value row) {
    Value x = vector::TransferReadOp::create(
        b, loc, VectorType::get({d}, code), src,
        ValueRange{row, c0}, /*padding=*/std::nullopt, ArrayRef<bool>{true});
    if (dq) {
      auto f32 = VectorType::get({d}, b.getF32Type());
      Value f = decodeCodes(b, loc, x);
      if (double factor = decodeFactor(code); factor != 1.0)
        f = arith::MulFOp::create(
            b, loc, f,
            arith::ConstantOp::create(
                b, loc,
                DenseElementsAttr::get(
                    f32, b.getF32FloatAttr(static_cast<float>(factor)))));
      x = arith::MulFOp::create(b, loc, f, rowScales(b, loc, *dq, row, d));
      Type tileElt = cast<MemRefType>(dst.getType()).getElementType();
      if (!tileElt.isF32())
        x = arith::TruncFOp::create(b, loc, VectorType::get({d}, tileElt), x);
    }
    vector::TransferWriteOp::create(b, loc, x, dst, ValueRange{row, c0},
                                    ArrayRef<bool>{true});
  });
}

/// Where a key tile's rows come from: the dense [B, Hkv, L, D] operands, or
/// the pages of a paged pool. A tile of a page size that `tk` divides is a
/// view into one page (tiles start at multiples of `tk`); with smaller
/// pages (below 8 keys, where one-page tiles would be too short) its rows
/// are gathered into a stack tile first.
struct KeySource {
  /// Smallest key tile read straight from a page.
  static constexpr int64_t kMinPageTile = 8;

  mutable AttentionOp op;
  int64_t tk = 0;        // the key tile (divides the page size if direct)
  int64_t pageSize = 0;  // 0: dense operands
  bool gather = false;
  RopeAttr rope;         // keys rotated at their positions into the tile

  KeySource(AttentionOp op, int64_t tileKeys,
            int64_t minPageTile = kMinPageTile)
      : op(op), tk(tileKeys) {
    if (std::optional<RopeAttr> r = op.getRope())
      rope = *r;
    if (!op.isPaged())
      return;
    pageSize = op.getPageSize();
    int64_t g = std::gcd(tk, pageSize);
    if (g >= minPageTile)
      tk = g;
    else
      gather = true;
  }
  bool paged() const { return pageSize > 0; }
  /// The scale of an 8-bit key (value) operand, or null.
  Value scaleOf(bool isKey) const {
    return isKey ? op.getKeyScale() : op.getValueScale();
  }
  /// The element type of a staged tile: the operand's, or the query's for
  /// a quantized operand (dequantized as it is staged).
  Type tileElt(Value src, bool isKey) const {
    return scaleOf(isKey) ? op.getQueryType().getElementType()
                          : cast<MemRefType>(src.getType()).getElementType();
  }
  /// A page's tile is copied into a compact stack tile first (a row vector
  /// at a time): the micro-kernels read it faster than the view of the
  /// page (nhd rows are Hkv * D apart; either layout's view has dynamic
  /// strides). Measured in docs/serving.md: nhd decode +17%, prefill +21%
  /// (nhd and hnd); hnd decode unchanged.
  bool stage() const { return paged() && !gather; }
  /// Tiles never straddle a page: interval bounds must be tile-aligned.
  bool alignedTiles() const { return paged() && !gather; }

  /// Request `bb`'s key count: kv_lens[bb], or the dense operand's length.
  Value length(OpBuilder &b, Location loc, Value bb) const {
    if (Value lens = op.getKvLens())
      return arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          memref::LoadOp::create(b, loc, lens, ValueRange{bb}));
    return memref::DimOp::create(b, loc, op.getKey(), 2);
  }
  /// Keys a request may have: the table's capacity or the operand's length.
  Value capacity(OpBuilder &b, Location loc) const {
    if (!paged())
      return memref::DimOp::create(b, loc, op.getKey(), 2);
    return arith::MulIOp::create(
        b, loc, memref::DimOp::create(b, loc, op.getPageTable(), 1),
        arith::ConstantIndexOp::create(b, loc, pageSize));
  }

  /// Stack tiles for gathered keys and values ([tk, D] and [tk, Dv]; null
  /// unless gathering), allocated once outside the key loop.
  std::pair<Value, Value> allocGatherTiles(OpBuilder &b, Location loc) const {
    auto tileOf = [&](Value src, bool isKey) -> Value {
      auto t = cast<MemRefType>(src.getType());
      return memref::AllocaOp::create(
          b, loc, MemRefType::get({tk, t.getDimSize(3)}, tileElt(src, isKey)));
    };
    // Rotated and quantized keys always go through their stack tile.
    return {gather || rope || stage() || scaleOf(true)
                ? tileOf(op.getKey(), true)
                : Value(),
            gather || stage() || scaleOf(false) ? tileOf(op.getValue(), false)
                                                : Value()};
  }

  /// The tile of `tile` with its keys rotated (rope) into `scratch`, or
  /// `tile` itself for values or without rope. (By role: the key and value
  /// operands may be one buffer.)
  Value rotated(OpBuilder &b, Location loc, Value src, Value tile, Value k0,
                Value nk, Value scratch, bool isKey) const {
    if (!rope || !isKey)
      return tile;
    emitRopeRows(b, loc, rope, tile, scratch, nk, k0, 1);
    int64_t cols = cast<MemRefType>(src.getType()).getDimSize(3);
    return tileView(b, loc, scratch, {b.getIndexAttr(0), b.getIndexAttr(0)},
                    {nk, b.getIndexAttr(cols)}, {ShapedType::kDynamic, cols});
  }

  /// The [nk, cols] tile of keys [k0, k0 + nk) of request `bb`, KV head
  /// `hk`, of `src` (the key or value operand); `scratch` is its gather
  /// tile.
  Value tile(OpBuilder &b, Location loc, Value src, Value bb, Value hk,
             Value k0, Value nk, Value scratch, bool isKey) const {
    // Rotated keys are written compact by the rotation: no staging copy
    // (unless they are dequantized first, then rotated in place).
    bool compact = !(rope && isKey) || scaleOf(isKey);
    return rotated(b, loc, src,
                   rows(b, loc, src, bb, hk, k0, nk, scratch, compact, isKey),
                   k0, nk, scratch, isKey);
  }

  /// The dequantization of rows whose first element has operand indices
  /// `at(r)` for row `r`, or null for an operand that is not quantized.
  std::optional<RowDequant>
  dequantOf(Value src, bool isKey,
            std::function<SmallVector<Value>(OpBuilder &, Value)> at) const {
    Value scale = scaleOf(isKey);
    if (!scale)
      return std::nullopt;
    return RowDequant{scale,
                      getScaleBlocks(cast<ShapedType>(src.getType()),
                                     cast<ShapedType>(scale.getType())),
                      std::move(at)};
  }

  /// The tile's rows as stored (a view, or gathered into `scratch`; a
  /// quantized operand's rows dequantized into `scratch`).
  Value rows(OpBuilder &b, Location loc, Value src, Value bb, Value hk,
             Value k0, Value nk, Value scratch, bool compact,
             bool isKey) const {
    int64_t cols = cast<MemRefType>(src.getType()).getDimSize(3);
    OpFoldResult one = b.getIndexAttr(1), zero = b.getIndexAttr(0);
    auto scratchRows = [&](OpBuilder &b, OpFoldResult at, OpFoldResult n) {
      return tileView(b, loc, scratch, {at, zero}, {n, b.getIndexAttr(cols)},
                      {ShapedType::kDynamic, cols});
    };
    if (!paged()) {
      Value view = rowTile(b, loc, src, bb, hk, k0, nk);
      std::optional<RowDequant> dq =
          dequantOf(src, isKey, [&](OpBuilder &b, Value r) {
            Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
            return SmallVector<Value>{bb, hk,
                                      arith::AddIOp::create(b, loc, k0, r), c0};
          });
      if (!dq)
        return view;
      Value dst = scratchRows(b, zero, nk);
      emitRowCopy(b, loc, view, dst, nk, &*dq);
      return dst;
    }
    bool nhd = op.getPageLayout() == PageLayout::nhd;
    Value ps = arith::ConstantIndexOp::create(b, loc, pageSize);
    // Rows [j, j + n) of one page, as [n, cols], and the operand indices of
    // its row r.
    struct PageRows {
      Value view;
      std::function<SmallVector<Value>(OpBuilder &, Value)> at;
    };
    auto rowsAt = [&](OpBuilder &b, Value j, OpFoldResult n) -> PageRows {
      Value page = arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          memref::LoadOp::create(
              b, loc, op.getPageTable(),
              ValueRange{bb, arith::DivUIOp::create(b, loc, j, ps)}));
      Value r = arith::RemUIOp::create(b, loc, j, ps);
      SmallVector<OpFoldResult> offsets =
          nhd ? SmallVector<OpFoldResult>{page, r, hk, zero}
              : SmallVector<OpFoldResult>{page, hk, r, zero};
      SmallVector<OpFoldResult> sizes =
          nhd ? SmallVector<OpFoldResult>{one, n, one, b.getIndexAttr(cols)}
              : SmallVector<OpFoldResult>{one, one, n, b.getIndexAttr(cols)};
      auto at = [=](OpBuilder &b, Value row) {
        Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
        Value rr = arith::AddIOp::create(b, loc, r, row);
        return nhd ? SmallVector<Value>{page, rr, hk, c0}
                   : SmallVector<Value>{page, hk, rr, c0};
      };
      return {tileView(b, loc, src, offsets, sizes,
                       {ShapedType::kDynamic, cols}),
              at};
    };
    if (!gather && !(stage() && compact))
      return rowsAt(b, k0, nk).view;
    if (!gather) {
      PageRows rows = rowsAt(b, k0, nk);
      Value dst = scratchRows(b, zero, nk);
      std::optional<RowDequant> dq = dequantOf(src, isKey, rows.at);
      emitRowCopy(b, loc, rows.view, dst, nk, dq ? &*dq : nullptr);
      return dst;
    }
    // Page by page: the rows of each page the tile touches, copied into
    // the stack tile (linalg.copy, vectorized by the backend).
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    Value kLast = arith::SubIOp::create(
        b, loc, arith::AddIOp::create(b, loc, k0, nk), c1);
    Value kStop = arith::AddIOp::create(b, loc, k0, nk);
    scf::ForOp::create(
        b, loc, arith::DivUIOp::create(b, loc, k0, ps),
        arith::AddIOp::create(b, loc, arith::DivUIOp::create(b, loc, kLast, ps),
                              c1),
        c1, ValueRange{}, [&](OpBuilder &lb, Location, Value p, ValueRange) {
          Value start = arith::MulIOp::create(lb, loc, p, ps);
          Value lo = arith::MaxSIOp::create(lb, loc, k0, start);
          Value hi = arith::MinSIOp::create(
              lb, loc, kStop, arith::AddIOp::create(lb, loc, start, ps));
          Value n = arith::SubIOp::create(lb, loc, hi, lo);
          PageRows rows = rowsAt(lb, lo, n);
          Value dst = scratchRows(
              lb, arith::SubIOp::create(lb, loc, lo, k0).getResult(), n);
          std::optional<RowDequant> dq = dequantOf(src, isKey, rows.at);
          emitRowCopy(lb, loc, rows.view, dst, n, dq ? &*dq : nullptr);
          scf::YieldOp::create(lb, loc);
        });
    return scratchRows(b, zero, nk);
  }
};

/// Emits one key-tile step for a query tile: the tile classification from
/// the mask (causal included when `causalOffset` is set) and the
/// attn.tile_attend ops of its full and partial cases.
/// One attention map of a tile step: its query and key tiles and its
/// online-softmax state.
struct AttendMap {
  Value qTile, kTile, maxes, sums, acc;
  Value weights = Value(); // fused column_scores: where the weights go
  Value logitSums = Value(); // fused row_entropy: sum of w (logit - max)
};

/// The combined mask of a (query tile, key tile) pair, built into
/// `maskRegion` (detached), and its classification: `full` (every pair
/// visible) and `empty` (none), null when there is no mask. With a block
/// selection, `blockRows` is the number of the query tile's rows that
/// selected this key tile's block.
struct TileClass {
  bool hasMask;
  Value full, empty;
};
static TileClass classifyTile(OpBuilder &b, Location loc, AttentionOp op,
                              Value causalOffset, Region &maskRegion, Value bb,
                              Value h, Value q0, Value nq, Value k0, Value nk,
                              Value blockRows) {
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  bool hasMask = buildMaskRegion(b, loc, op, causalOffset, maskRegion);
  Value full, empty;
  if (blockRows && !hasMask) {
    // Positions hide nothing: an always-true region for the block test.
    Type idx = b.getIndexType();
    OpBuilder::InsertionGuard guard(b);
    Block *block = b.createBlock(&maskRegion, maskRegion.end(),
                                 {idx, idx, idx, idx},
                                 SmallVector<Location>(4, loc));
    b.setInsertionPointToEnd(block);
    YieldOp::create(
        b, loc,
        ValueRange{arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1)});
    hasMask = true;
  }
  if (hasMask) {
    Value iMax = arith::SubIOp::create(
        b, loc, arith::AddIOp::create(b, loc, q0, nq), c1);
    Value jMax = arith::SubIOp::create(
        b, loc, arith::AddIOp::create(b, loc, k0, nk), c1);
    MaskClassifier classifier(b, loc, maskRegion.front(), bb, h, q0, iMax, k0,
                              jMax);
    std::tie(full, empty) = classifier.classify(
        cast<YieldOp>(maskRegion.front().getTerminator()).getValues()[0]);
  }
  if (blockRows) {
    // Selected by no row: empty; by every row: as the positions say.
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    empty = arith::OrIOp::create(
        b, loc, empty,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, blockRows, c0));
    full = arith::AndIOp::create(
        b, loc, full,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, blockRows, nq));
    // Partial tiles test each row's selection: any_c sel[b, h, i, c] == j / n.
    Block &mb = maskRegion.front();
    auto yield = cast<YieldOp>(mb.getTerminator());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(yield);
    Value sel = op.getBlocks();
    int64_t kSel = op.getBlocksType().getDimSize(3);
    Value jb = arith::DivUIOp::create(
        b, loc, mb.getArgument(3),
        arith::ConstantIndexOp::create(b, loc, *op.getBlockSize()));
    Value jb32 = arith::IndexCastOp::create(b, loc, b.getI32Type(), jb);
    Value any = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    for (int64_t c = 0; c < kSel; ++c) {
      Value x = memref::LoadOp::create(
          b, loc, sel,
          ValueRange{mb.getArgument(0), mb.getArgument(1), mb.getArgument(2),
                     arith::ConstantIndexOp::create(b, loc, c)});
      any = arith::OrIOp::create(
          b, loc, any,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, jb32));
    }
    yield->setOperands(
        arith::AndIOp::create(b, loc, yield.getValues()[0], any).getResult());
  }
  return {hasMask, full, empty};
}

/// A partial tile in row strips of `stripRows` rows: each strip attends,
/// with the mask, to the keys between the first and the last of the tile's
/// keys that the mask does not hide from all of the strip's rows (found by
/// classifying single keys against the strip's rows, whose loaded values'
/// ranges are computed once per strip). A causal diagonal tile's first strip
/// stops at its own diagonal; a strip of one document starts at the
/// document's first key in the tile. The strips' query and state are row
/// views of the tile's (the CPU lowering packs the tile's query once).
static void emitAttendStrips(OpBuilder &b, Location loc, Region &maskRegion,
                             ArrayRef<AttendMap> maps, Value vTile, Value bb,
                             Value h, Value q0, Value nq, Value k0, Value nk,
                             int64_t stripRows,
                             function_ref<void(OpBuilder &, ArrayRef<AttendMap>,
                                               Value, Value, Value)>
                                 attendWithMask) {
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value c0 = cst(0), c1 = cst(1), cS = cst(stripRows);
  Block &mb = maskRegion.front();
  Value pred = cast<YieldOp>(mb.getTerminator()).getValues()[0];
  Value nStrips = arith::DivUIOp::create(
      b, loc, arith::AddIOp::create(b, loc, nq, cst(stripRows - 1)), cS);
  buildFor(b, loc, c0, nStrips, 1, [&](Value s) {
    Value rs = arith::MulIOp::create(b, loc, s, cS);
    Value nqs = arith::MinSIOp::create(b, loc, cS,
                                       arith::SubIOp::create(b, loc, nq, rs));
    Value qs0 = arith::AddIOp::create(b, loc, q0, rs);
    Value qsLast = arith::SubIOp::create(
        b, loc, arith::AddIOp::create(b, loc, qs0, nqs), c1);
    MaskClassifier rows(b, loc, mb, bb, h, qs0, qsLast, Value(), Value());
    MaskClassifier::RowRanges ranges = rows.computeRowRanges();
    // Whether key k0 + j (j local to the tile) is visible to some strip row.
    auto visible = [&](OpBuilder &sb, Value j) -> Value {
      Value kj = arith::AddIOp::create(sb, loc, k0, j);
      MaskClassifier one(sb, loc, mb, bb, h, qs0, qsLast, kj, kj);
      one.useRowRanges(&ranges);
      Value empty = one.classify(pred).second;
      return arith::XOrIOp::create(
          sb, loc, empty, arith::ConstantIntOp::create(sb, loc, sb.getI1Type(), 1));
    };
    Value lo = buildScan(b, loc, c0, nk, 1, visible);
    Value hi = buildScan(b, loc, nk, lo, -1, [&](OpBuilder &sb, Value x) {
      return visible(sb, arith::SubIOp::create(sb, loc, x, cst(1)));
    });
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lo, hi);
    buildIf(b, loc, any, [&] {
      Value n = arith::SubIOp::create(b, loc, hi, lo);
      OpFoldResult zero = b.getIndexAttr(0);
      // Rows [rs, rs + stripRows) of a state buffer (static) or of a query
      // tile (its nqs rows).
      auto rowsOf = [&](Value x, bool dynRows) -> Value {
        if (!x)
          return x;
        auto t = cast<MemRefType>(x.getType());
        if (t.getRank() == 1)
          return tileView(b, loc, x, {rs}, {b.getIndexAttr(stripRows)},
                          {stripRows});
        int64_t c = t.getDimSize(1);
        if (dynRows)
          return tileView(b, loc, x, {rs, zero}, {nqs, b.getIndexAttr(c)},
                          {ShapedType::kDynamic, c});
        return tileView(b, loc, x, {rs, zero},
                        {b.getIndexAttr(stripRows), b.getIndexAttr(c)},
                        {stripRows, c});
      };
      auto keysOf = [&](Value x) -> Value {
        int64_t c = cast<MemRefType>(x.getType()).getDimSize(1);
        return tileView(b, loc, x, {lo, zero}, {n, b.getIndexAttr(c)},
                        {ShapedType::kDynamic, c});
      };
      SmallVector<AttendMap, 2> strips;
      for (const AttendMap &m : maps) {
        AttendMap sm;
        sm.qTile = rowsOf(m.qTile, /*dynRows=*/true);
        sm.kTile = keysOf(m.kTile);
        sm.maxes = rowsOf(m.maxes, false);
        sm.sums = rowsOf(m.sums, false);
        sm.acc = rowsOf(m.acc, false);
        sm.logitSums = rowsOf(m.logitSums, false);
        strips.push_back(sm);
      }
      attendWithMask(b, strips, keysOf(vTile), qs0,
                     arith::AddIOp::create(b, loc, k0, lo));
    });
  });
}

/// One online-softmax step of every map over a key tile, skipped when the
/// mask hides the whole tile and without a mask when it hides none. With
/// `stripRows`, partial tiles go in row strips (emitAttendStrips).
static void emitAttendStep(OpBuilder &b, Location loc, AttentionOp op,
                           Value causalOffset, ArrayRef<AttendMap> maps,
                           Value vTile, Value bb, Value h, Value q0, Value nq,
                           Value k0, Value nk, Value blockRows = Value(),
                           int64_t stripRows = 0) {
  Region maskRegion;
  auto [hasMask, full, empty] =
      classifyTile(b, loc, op, causalOffset, maskRegion, bb, h, q0, nq, k0, nk,
                   blockRows);
  FloatAttr scaleAttr = b.getF32FloatAttr(op.getScaleValue());
  // One classification for all maps: they share the key tile and the mask.
  auto attendMaps = [&](OpBuilder &builder, ArrayRef<AttendMap> stepMaps,
                        Value stepV, Value stepQ0, Value stepK0,
                        bool withMask) {
    for (const AttendMap &map : stepMaps) {
      auto step = TileAttendOp::create(
          builder, loc, map.qTile, map.kTile, stepV, map.maxes, map.sums,
          map.acc, map.weights, map.logitSums, bb, h, stepQ0, stepK0,
          scaleAttr, op.getNormalizerAttr());
      IRMapping m;
      op.getScore().cloneInto(&step.getScore(), m);
      if (withMask)
        maskRegion.cloneInto(&step.getMask(), m);
    }
  };
  auto attend = [&](OpBuilder &builder, bool withMask) {
    attendMaps(builder, maps, vTile, q0, k0, withMask);
  };
  if (!hasMask) {
    attend(b, false);
  } else {
    Value notEmpty = arith::XOrIOp::create(
        b, loc, empty, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
    auto ifNotEmpty = scf::IfOp::create(b, loc, notEmpty, false);
    OpBuilder inner = ifNotEmpty.getThenBodyBuilder();
    auto ifFull = scf::IfOp::create(inner, loc, full, true);
    OpBuilder thenB = ifFull.getThenBodyBuilder();
    attend(thenB, false);
    OpBuilder elseB = ifFull.getElseBodyBuilder();
    int64_t tq = cast<MemRefType>(maps[0].maxes.getType()).getDimSize(0);
    bool strips = stripRows > 0 && tq > stripRows && tq % stripRows == 0 &&
                  !blockRows &&
                  llvm::none_of(maps, [](const AttendMap &m) {
                    return static_cast<bool>(m.weights);
                  });
    if (!strips) {
      attend(elseB, true);
      return;
    }
    emitAttendStrips(
        elseB, loc, maskRegion, maps, vTile, bb, h, q0, nq, k0, nk, stripRows,
        [&](OpBuilder &sb, ArrayRef<AttendMap> stripMaps, Value stripV,
            Value qs0, Value ks0) {
          attendMaps(sb, stripMaps, stripV, qs0, ks0, /*withMask=*/true);
        });
  }
}

/// The key loop of a query tile (rows [q0, q0 + nq) of request `bb`, head
/// `h`; `lk` keys, `numKTiles` tiles of `tk`): over every key tile, or, with
/// `keyRanges`, over the tiles of the mask's key intervals. Leaves `b` at
/// the start of the loop's body.
struct KeyLoop {
  scf::ForOp loop;
  Value kt, k0, kEnd; // the iteration, its first key, its interval's end
};
static KeyLoop emitKeyLoop(OpBuilder &b, Location loc, AttentionOp op,
                           const KeySource &keys, bool keyRanges,
                           Value causalOffset, Value bb, Value h, Value q0,
                           Value nq, Value lk, Value numKTiles, int64_t tk) {
  auto cst = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  Value c1 = cst(1), ctk = cst(tk);
  auto ceilDiv = [&](Value x, Value t) -> Value {
    Value n =
        arith::AddIOp::create(b, loc, x, arith::SubIOp::create(b, loc, t, c1));
    return arith::DivUIOp::create(b, loc, n, t);
  };
  // The key/value loop: over every key tile, or over the tiles of the
  // mask's key intervals (each from its first key; a second interval starts
  // where the first ends so that no key is visited twice).
  Value loopEnd = numKTiles, lo1, hi1, lo2, hi2, n1;
  if (keyRanges) {
    Region maskRegion;
    if (buildMaskRegion(b, loc, op, causalOffset, maskRegion)) {
      Value qLast = arith::SubIOp::create(
          b, loc, arith::AddIOp::create(b, loc, q0, nq), c1);
      MaskClassifier classifier(b, loc, maskRegion.front(), bb, h, q0, qLast,
                                Value(), Value());
      auto yield = cast<YieldOp>(maskRegion.front().getTerminator());
      SmallVector<MaskClassifier::KeyInterval> intervals =
          classifier.keyIntervals(yield.getValues()[0]);
      auto tiles = [&](Value lo, Value hi) {
        return ceilDiv(arith::SubIOp::create(b, loc, hi, lo), ctk);
      };
      if (intervals.empty()) {
        loopEnd = cst(0);
      } else {
        std::tie(lo1, hi1) = classifier.emitKeyInterval(intervals[0], lk);
        loopEnd = n1 = tiles(lo1, hi1);
      }
      if (intervals.size() == 2) {
        std::tie(lo2, hi2) = classifier.emitKeyInterval(intervals[1], lk);
        // The interval that starts first goes first.
        Value swap =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, lo2, lo1);
        auto pick = [&](Value x, Value y) -> Value {
          return arith::SelectOp::create(b, loc, swap, x, y);
        };
        Value a = pick(lo2, lo1), bEnd = pick(hi2, hi1);
        Value c = pick(lo1, lo2), d = pick(hi1, hi2);
        lo1 = a;
        hi1 = bEnd;
        lo2 = arith::MaxSIOp::create(b, loc, c, hi1);
        hi2 = arith::MaxSIOp::create(b, loc, d, lo2);
        n1 = tiles(lo1, hi1);
        loopEnd = arith::AddIOp::create(b, loc, n1, tiles(lo2, hi2));
      }
      if (keys.alignedTiles() && lo1) {
        // Tiles must not straddle pages: widen the intervals to tile
        // boundaries (the mask hides the extra keys; the length bounds
        // them), the second starting where the widened first ends.
        auto down = [&](Value x) -> Value {
          return arith::MulIOp::create(b, loc,
                                       arith::DivUIOp::create(b, loc, x, ctk),
                                       ctk);
        };
        auto up = [&](Value x) -> Value {
          return arith::MinSIOp::create(b, loc, down(arith::AddIOp::create(
                                                    b, loc, x,
                                                    cst(tk - 1))),
                                        lk);
        };
        lo1 = down(lo1);
        hi1 = arith::MaxSIOp::create(b, loc, up(hi1), lo1);
        loopEnd = n1 = tiles(lo1, hi1);
        if (lo2) {
          lo2 = arith::MaxSIOp::create(b, loc, down(lo2), hi1);
          hi2 = arith::MaxSIOp::create(b, loc, hi2, lo2);
          loopEnd = arith::AddIOp::create(b, loc, n1, tiles(lo2, hi2));
        }
      }
    }
  }
  auto loop = scf::ForOp::create(b, loc, cst(0), loopEnd, c1);
  b.setInsertionPointToStart(loop.getBody());
  Value kt = loop.getInductionVar();
  Value k0, kEnd = lk;
  if (!lo1) {
    k0 = arith::MulIOp::create(b, loc, kt, ctk);
  } else if (!lo2) {
    k0 = arith::AddIOp::create(b, loc, lo1,
                               arith::MulIOp::create(b, loc, kt, ctk));
    kEnd = hi1;
  } else {
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, kt, n1);
    Value t = arith::SelectOp::create(
        b, loc, first, kt, arith::SubIOp::create(b, loc, kt, n1));
    k0 = arith::AddIOp::create(
        b, loc, arith::SelectOp::create(b, loc, first, lo1, lo2),
        arith::MulIOp::create(b, loc, t, ctk));
    kEnd = arith::SelectOp::create(b, loc, first, hi1, hi2);
  }
  return {loop, kt, k0, kEnd};
}

/// Finalizes a query tile whose rows need more than elementwise work: the
/// maps are normalized into stack tiles, combined elementwise (`combine`),
/// normalized per row (`rms_norm`), passed through the epilogue and stored.
static void emitCombinedFinalize(OpBuilder &b, Location loc, AttentionOp op,
                                 std::array<Value, 3> state1,
                                 std::array<Value, 3> state2, Value bb, Value h,
                                 Value q0, Value nq, int64_t tq) {
  Type f32 = b.getF32Type();
  int64_t dv = op.getValueHeadDim();
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value cdv = arith::ConstantIndexOp::create(b, loc, dv);
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  auto tileOf = [&](Value buf) {
    return tileView(b, loc, buf, {zero, zero}, {nq, b.getIndexAttr(dv)},
                    {ShapedType::kDynamic, dv});
  };
  Value lseTile;
  if (Value lse = op.getLse())
    lseTile = tileView(b, loc, lse, {bb, h, q0}, {one, one, nq},
                       {ShapedType::kDynamic});
  auto tileType = MemRefType::get({tq, dv}, f32);
  Value o1 = memref::AllocaOp::create(b, loc, tileType);
  TileFinalizeOp::create(b, loc, state1[0], state1[1], state1[2], tileOf(o1),
                         lseTile, Value(), Value(), bb, h, q0,
                         op.getNormalizerAttr());
  Value o2;
  if (op.getQuery2()) {
    o2 = memref::AllocaOp::create(b, loc, tileType);
    TileFinalizeOp::create(b, loc, state2[0], state2[1], state2[2], tileOf(o2),
                           Value(), Value(), Value(), bb, h, q0,
                           op.getNormalizerAttr());
  }
  Value out = op.getOutput();
  Type outElem = cast<MemRefType>(out.getType()).getElementType();
  std::optional<APFloat> eps = op.getRmsNormEps();
  scf::ForOp::create(
      b, loc, c0, nq, c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value r, ValueRange) {
        Value row = arith::AddIOp::create(b, loc, q0, r);
        Value zeroF =
            arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
        auto combine = scf::ForOp::create(
            b, loc, c0, cdv, c1, ValueRange{zeroF},
            [&](OpBuilder &b, Location loc, Value dd, ValueRange ss) {
              Value x = memref::LoadOp::create(b, loc, o1, ValueRange{r, dd});
              if (o2) {
                Value y = memref::LoadOp::create(b, loc, o2, ValueRange{r, dd});
                SmallVector<Value> args{x, y, bb, h, row, dd};
                x = AttentionOp::inlineScalarRegion(b, op.getCombine(), args);
                memref::StoreOp::create(b, loc, x, o1, ValueRange{r, dd});
              }
              scf::YieldOp::create(
                  b, loc, ValueRange{math::FmaOp::create(b, loc, x, x, ss[0])});
            });
        Value inv = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
        if (eps) {
          Value mean = arith::DivFOp::create(
              b, loc, combine.getResult(0),
              arith::ConstantOp::create(
                  b, loc, b.getF32FloatAttr(static_cast<float>(dv))));
          inv = math::RsqrtOp::create(
              b, loc,
              arith::AddFOp::create(
                  b, loc, mean,
                  arith::ConstantOp::create(
                      b, loc, b.getF32FloatAttr(eps->convertToFloat()))));
        }
        scf::ForOp::create(
            b, loc, c0, cdv, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value dd, ValueRange) {
              Value x = arith::MulFOp::create(
                  b, loc, memref::LoadOp::create(b, loc, o1, ValueRange{r, dd}),
                  inv);
              if (!op.getEpilogue().empty()) {
                SmallVector<Value> args{x, bb, h, row, dd};
                x = AttentionOp::inlineScalarRegion(b, op.getEpilogue(), args);
              } else if (!outElem.isF32()) {
                x = arith::TruncFOp::create(b, loc, outElem, x);
              }
              memref::StoreOp::create(b, loc, x, out,
                                      ValueRange{bb, h, row, dd});
              scf::YieldOp::create(b, loc);
            });
        scf::YieldOp::create(b, loc);
      });
}

/// Running maxima -inf, sums 0, accumulator 0.
static void resetState(OpBuilder &b, Location loc, ArrayRef<Value> state) {
  Type f32 = b.getF32Type();
  float init[3] = {-std::numeric_limits<float>::infinity(), 0.0f, 0.0f};
  for (auto [buf, x] : llvm::zip(state, init)) {
    Value c = arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(x));
    linalg::FillOp::create(b, loc, ValueRange{c}, ValueRange{buf});
  }
}

/// A query tile's online-softmax state on the stack, initialized: running
/// maxima (-inf), sums (0) and the [tq, dv] accumulator (0).
static std::array<Value, 3> allocState(OpBuilder &b, Location loc, int64_t tq,
                                       int64_t dv) {
  Type f32 = b.getF32Type();
  auto rowType = MemRefType::get({tq}, f32);
  std::array<Value, 3> state = {
      memref::AllocaOp::create(b, loc, rowType),
      memref::AllocaOp::create(b, loc, rowType),
      memref::AllocaOp::create(b, loc, MemRefType::get({tq, dv}, f32))};
  resetState(b, loc, state);
  return state;
}

/// Parallel iterations (query-tile chunks) per (batch, head) of fused
/// column scores: partial sums cost chunks * Lk floats per head.
constexpr int64_t kColumnChunks = 8;
/// The largest group of query heads a ragged decode item packs.
constexpr int64_t kRaggedRowsForPacking = 64;
/// The smallest query/key tile a narrow band chooses (two AVX-512 vectors of
/// rows; smaller tiles measured slower on a 64-key window).
constexpr int64_t kMinBandTile = 32;

/// scores[b, g, j] = sum over the group's heads h and the chunks c of
/// partials[b, h, c, j] (times |v[b, g, j, :]|_1 with value_norm).
static void emitColumnReduction(OpBuilder &b, Location loc, AttentionOp op,
                                Value partials, Value chunks) {
  Value scores = op.getScoresOutput(), v = op.getValue();
  int64_t hkv = op.getNumKvHeads(), group = op.getNumQueryHeads() / hkv;
  int64_t dv = op.getValueHeadDim();
  Type f32 = b.getF32Type();
  auto cst = [&](OpBuilder &nb, int64_t x) -> Value {
    return arith::ConstantIndexOp::create(nb, loc, x);
  };
  Value batch = memref::DimOp::create(b, loc, scores, 0);
  Value lk = memref::DimOp::create(b, loc, scores, 2);
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(hkv)}, ValueRange{},
      std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  Value bb = forall.getBody()->getArgument(0),
        g = forall.getBody()->getArgument(1);
  Value zeroF = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value c0 = cst(b, 0);
  buildFor(b, loc, c0, lk, 1, [&](Value j) {
    Value sum = zeroF;
    for (int64_t x = 0; x < group; ++x) {
      Value h = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, g, cst(b, group)), cst(b, x));
      sum = buildReduce(b, loc, c0, chunks, sum,
                        [&](Value c, ValueRange s) -> SmallVector<Value> {
                          Value p = memref::LoadOp::create(
                              b, loc, partials, ValueRange{bb, h, c, j});
                          return {arith::AddFOp::create(b, loc, s[0], p)};
                        })[0];
    }
    if (op.getValueNorm()) {
      Value n1 = buildReduce(
          b, loc, c0, cst(b, dv), zeroF,
          [&](Value dd, ValueRange s) -> SmallVector<Value> {
            Value x = memref::LoadOp::create(b, loc, v, ValueRange{bb, g, j, dd});
            if (x.getType() != f32)
              x = arith::ExtFOp::create(b, loc, f32, x);
            return {arith::AddFOp::create(b, loc, s[0],
                                          math::AbsFOp::create(b, loc, x))};
          })[0];
      sum = arith::MulFOp::create(b, loc, sum, n1);
    }
    memref::StoreOp::create(b, loc, sum, scores, ValueRange{bb, g, j});
  });
}

static LogicalResult tileAttention(AttentionOp op, int64_t tq, int64_t tk,
                                   int64_t stripRows) {
  if (op.getRowEntropy() && (op.getQuery2() || op.getRmsNormEps() ||
                             op.getNormalizer() != Normalizer::softmax))
    return op.emitOpError(
        "with row_entropy and a second map, rms_norm or a sigmoid normalizer "
        "must be expanded first (attn-expand-side-outputs)");
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue(),
        o = op.getOutput(), lse = op.getLse();
  int64_t hq = op.getNumQueryHeads(), hkv = op.getNumKvHeads();
  int64_t d = op.getHeadDim(), dv = op.getValueHeadDim();
  int64_t group = hq / hkv;

  auto cst = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  // Block-sparse: a key tile must not straddle two blocks.
  Value sel = op.getBlocks();
  int64_t blockSize = sel ? *op.getBlockSize() : 0;
  if (sel)
    tk = std::gcd(tk, blockSize);
  // Paged keys: tiles within a page (or gathered); per-request lengths:
  // the key count and causal offset are the request's (set per batch
  // entry below).
  KeySource keys(op, tk);
  tk = keys.tk;
  bool perRequest = bool(op.getKvLens());
  Value c1 = cst(1);
  Value batch = memref::DimOp::create(b, loc, q, 0);
  Value lq = memref::DimOp::create(b, loc, q, 2);
  Value lk = perRequest ? Value() : keys.length(b, loc, Value());
  auto ceilDiv = [&](Value x, Value t) -> Value {
    Value n =
        arith::AddIOp::create(b, loc, x, arith::SubIOp::create(b, loc, t, c1));
    return arith::DivUIOp::create(b, loc, n, t);
  };
  Value causalOffset =
      perRequest ? Value() : arith::SubIOp::create(b, loc, lk, lq).getResult();
  bool columns = bool(op.getScoresOutput());

  // The keys of a query tile as intervals derived from the mask (a band:
  // one interval starting at the window's first key; causal: [0, diagonal];
  // sinks + window: two). The key loop visits only those, from their first
  // key. A fused column_scores indexes its buffers by aligned key tile and
  // a block selection aligns tiles with blocks: both keep the full loop.
  bool keyRanges = !columns && !sel;
  // (With per-request lengths the band's width is not known here: the
  // default tiles.)
  if (keyRanges && !perRequest) {
    Region maskRegion;
    if (buildMaskRegion(b, loc, op, causalOffset, maskRegion)) {
      // A narrow band: query and key tiles of about half its width (at
      // least 32 rows), so that a tile computes few hidden pairs (for a
      // window of 64 keys, 32-row tiles compute 95 keys per row where 64-row
      // tiles compute 127). Widths assume Lq = Lk; only speed depends on it.
      MaskClassifier classifier(b, loc, maskRegion.front(), Value(), Value(),
                                Value(), Value(), Value(), Value());
      auto yield = cast<YieldOp>(maskRegion.front().getTerminator());
      if (std::optional<int64_t> width = MaskClassifier::staticWidth(
              classifier.keyIntervals(yield.getValues()[0]), causalOffset)) {
        int64_t band = std::max<int64_t>(
            kMinBandTile, int64_t(llvm::bit_floor(uint64_t(*width / 2))));
        tq = std::min(tq, band);
        tk = std::min(tk, band);
      }
    }
  }
  Value ctq = cst(tq), ctk = cst(tk);
  Value numQTiles = ceilDiv(lq, ctq);
  Value numKTiles = perRequest ? Value() : ceilDiv(lk, ctk);

  // Fused column_scores: each parallel iteration owns a chunk of the query
  // tiles (every chunks-th one, which balances causal work) and a row of
  // per-key partial sums [B, Hq, chunks, Lk] (no atomics; summed after the
  // loop), plus heap buffers for one query tile's softmax weights [Lk, TQ]
  // and its row maxima after each key tile [ceil(Lk / TK), TQ].
  Value chunks, partials;
  if (columns) {
    chunks = arith::MinUIOp::create(b, loc, cst(kColumnChunks), numQTiles);
    partials = memref::AllocOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic, hq, ShapedType::kDynamic,
                         ShapedType::kDynamic},
                        b.getF32Type()),
        ValueRange{batch, chunks, lk});
  }

  auto forall = scf::ForallOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{batch, b.getIndexAttr(hq),
                             columns ? chunks : numQTiles},
      ValueRange{}, std::nullopt);
  forall->setAttr("attn.tile_sizes", b.getDenseI64ArrayAttr({tq, tk}));
  Block *body = forall.getBody();
  b.setInsertionPointToStart(body);
  Value bb = body->getArgument(0), h = body->getArgument(1),
        qt = body->getArgument(2);
  if (perRequest) {
    lk = keys.length(b, loc, bb);
    causalOffset = arith::SubIOp::create(b, loc, lk, lq);
    numKTiles = ceilDiv(lk, ctk);
  }
  auto [kScratch, vScratch] = keys.allocGatherTiles(b, loc);

  // Online-softmax state of this query tile.
  std::array<Value, 3> state = allocState(b, loc, tq, dv);
  Value maxes = state[0], sums = state[1], acc = state[2];
  // Fused row entropy: the running sums of weights times relative logits.
  Value logitSums;
  if (op.getEntropyOutput()) {
    logitSums = memref::AllocaOp::create(
        b, loc, MemRefType::get({tq}, b.getF32Type()));
    linalg::FillOp::create(
        b, loc,
        ValueRange{arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f))},
        ValueRange{logitSums});
  }
  Value weightsBuf, stepMaxBuf, partialRow;
  if (columns) {
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    auto rowsType = MemRefType::get({ShapedType::kDynamic, tq}, b.getF32Type());
    weightsBuf = memref::AllocOp::create(b, loc, rowsType, ValueRange{lk});
    stepMaxBuf =
        memref::AllocOp::create(b, loc, rowsType, ValueRange{numKTiles});
    partialRow = tileView(b, loc, partials, {bb, h, qt, zero},
                          {one, one, one, lk}, {ShapedType::kDynamic});
    Value zeroF = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    linalg::FillOp::create(b, loc, ValueRange{zeroF}, ValueRange{partialRow});
    // This chunk's query tiles; the state is reset for each.
    auto tiles = scf::ForOp::create(b, loc, qt, numQTiles, chunks);
    b.setInsertionPointToStart(tiles.getBody());
    qt = tiles.getInductionVar();
    // Stack tiles of the finalization are freed per query tile.
    auto scope = memref::AllocaScopeOp::create(b, loc, TypeRange{});
    Block *scopeBody = b.createBlock(&scope.getBodyRegion());
    memref::AllocaScopeReturnOp::create(b, loc, ValueRange{});
    b.setInsertionPointToStart(scopeBody);
    resetState(b, loc, state);
    if (logitSums)
      linalg::FillOp::create(
          b, loc,
          ValueRange{
              arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f))},
          ValueRange{logitSums});
  }
  // The second map's state (Differential attention).
  Value q2 = op.getQuery2(), k2 = op.getKey2();
  Value maxes2, sums2, acc2;
  if (q2) {
    std::array<Value, 3> state2 = allocState(b, loc, tq, dv);
    maxes2 = state2[0];
    sums2 = state2[1];
    acc2 = state2[2];
  }

  Value q0 = arith::MulIOp::create(b, loc, qt, ctq);
  Value nq = arith::MinSIOp::create(b, loc, ctq,
                                    arith::SubIOp::create(b, loc, lq, q0));
  Value hk = arith::DivUIOp::create(b, loc, h, cst(group));
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  // A rotary embedding: the query tile rotated once, at the rows' logical
  // positions (i + Lk - Lq, per request with lengths).
  Value qTile = rotatedQueryRows(b, loc, op, rowTile(b, loc, q, bb, h, q0, nq),
                                 nq, arith::AddIOp::create(b, loc, q0,
                                                           causalOffset),
                                 tq);

  Value q2Tile;
  if (q2)
    q2Tile =
        rowTile(b, loc, q2, bb, h, q0, nq);

  // Block selection: how many of the tile's rows chose each key block (a
  // stack row per query tile; scf.forall iterations are allocation scopes).
  Value blockRows;
  if (sel) {
    Value numBlocks = ceilDiv(lk, cst(blockSize));
    Type i32 = b.getI32Type();
    blockRows = memref::AllocaOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, i32),
        ValueRange{numBlocks});
    Value zero32 = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    Value one32 = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1));
    scf::ForOp::create(b, loc, cst(0), numBlocks, c1, ValueRange{},
                       [&](OpBuilder &lb, Location, Value n, ValueRange) {
                         memref::StoreOp::create(lb, loc, zero32, blockRows,
                                                 n);
                         scf::YieldOp::create(lb, loc);
                       });
    int64_t kSel = op.getBlocksType().getDimSize(3);
    Value qEnd = arith::AddIOp::create(b, loc, q0, nq);
    scf::ForOp::create(
        b, loc, q0, qEnd, c1, ValueRange{},
        [&](OpBuilder &lb, Location, Value i, ValueRange) {
          for (int64_t c = 0; c < kSel; ++c) {
            Value x = memref::LoadOp::create(
                lb, loc, sel,
                ValueRange{bb, h, i, arith::ConstantIndexOp::create(lb, loc, c)});
            // Entries outside [0, numBlocks) select nothing; a repeat of an
            // earlier slot is not counted twice (the count is of rows).
            Value n = arith::IndexCastOp::create(lb, loc, lb.getIndexType(), x);
            Value inRange = arith::AndIOp::create(
                lb, loc,
                arith::CmpIOp::create(lb, loc, arith::CmpIPredicate::sge, x,
                                      zero32),
                arith::CmpIOp::create(lb, loc, arith::CmpIPredicate::ult, n,
                                      numBlocks));
            for (int64_t e = 0; e < c; ++e)
              inRange = arith::AndIOp::create(
                  lb, loc, inRange,
                  arith::CmpIOp::create(
                      lb, loc, arith::CmpIPredicate::ne,
                      memref::LoadOp::create(
                          lb, loc, sel,
                          ValueRange{bb, h, i,
                                     arith::ConstantIndexOp::create(lb, loc, e)}),
                      x));
            scf::IfOp::create(lb, loc, inRange, [&](OpBuilder &ib, Location) {
              Value cnt = memref::LoadOp::create(ib, loc, blockRows, n);
              memref::StoreOp::create(
                  ib, loc, arith::AddIOp::create(ib, loc, cnt, one32),
                  blockRows, n);
              scf::YieldOp::create(ib, loc);
            });
          }
          scf::YieldOp::create(lb, loc);
        });
  }

  KeyLoop keyLoop = emitKeyLoop(b, loc, op, keys, keyRanges, causalOffset, bb,
                                h, q0, nq, lk, numKTiles, tk);
  scf::ForOp loop = keyLoop.loop;
  Value kt = keyLoop.kt, k0 = keyLoop.k0, kEnd = keyLoop.kEnd;
  Value nk = arith::MinSIOp::create(b, loc, ctk,
                                    arith::SubIOp::create(b, loc, kEnd, k0));
  Value kTile = keys.tile(b, loc, k, bb, hk, k0, nk, kScratch, /*isKey=*/true);
  Value vTile = keys.tile(b, loc, v, bb, hk, k0, nk, vScratch, /*isKey=*/false);

  SmallVector<AttendMap, 2> maps{{qTile, kTile, maxes, sums, acc}};
  maps[0].logitSums = logitSums;
  if (columns)
    maps[0].weights = tileView(b, loc, weightsBuf, {k0, zero},
                               {nk, b.getIndexAttr(tq)},
                               {ShapedType::kDynamic, tq});
  if (q2) {
    // Same key range, same value tile (still in cache): the second map.
    Value k2Tile =
        rowTile(b, loc, k2, bb, hk, k0, nk);
    maps.push_back({q2Tile, k2Tile, maxes2, sums2, acc2});
  }
  Value tileRows;
  if (sel)
    tileRows = arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        memref::LoadOp::create(
            b, loc, blockRows,
            ValueRange{arith::DivUIOp::create(b, loc, k0, cst(blockSize))}));
  emitAttendStep(b, loc, op, causalOffset, maps, vTile, bb, h, q0, nq, k0, nk,
                 tileRows, stripRows);
  if (columns) {
    // The maxima the step's weights are relative to (read back only for
    // tiles the step did not skip).
    buildFor(b, loc, cst(0), ctq, 1, [&](Value i) {
      memref::StoreOp::create(b, loc,
                              memref::LoadOp::create(b, loc, maxes, i),
                              stepMaxBuf, ValueRange{kt, i});
    });
  }

  // Normalize and store the output tile.
  b.setInsertionPointAfter(loop);

  if (q2 || op.getRmsNormEps()) {
    emitCombinedFinalize(b, loc, op, {maxes, sums, acc}, {maxes2, sums2, acc2},
                         bb, h, q0, nq, tq);
  } else {
    Value oTile = rowTile(b, loc, o, bb, h, q0, nq);
    Value lseTile;
    if (lse)
      lseTile = tileView(b, loc, lse, {bb, h, q0}, {one, one, nq},
                         {ShapedType::kDynamic});
    Value entropyTile;
    if (Value ent = op.getEntropyOutput())
      entropyTile = tileView(b, loc, ent, {bb, h, q0}, {one, one, nq},
                             {ShapedType::kDynamic});
    auto fin = TileFinalizeOp::create(
        b, loc, maxes, sums, acc, oTile, lseTile,
        entropyTile ? logitSums : Value(), entropyTile, bb, h, q0,
        op.getNormalizerAttr());
    IRMapping m;
    op.getEpilogue().cloneInto(&fin.getEpilogue(), m);
    op.getSink().cloneInto(&fin.getSink(), m);
  }

  if (columns) {
    // The rows are final: add their probabilities to the partial sums of
    // every key tile the attention visited (same classification; the
    // weights of skipped tiles were never written).
    auto colLoop = scf::ForOp::create(b, loc, cst(0), numKTiles, c1);
    OpBuilder cb = OpBuilder::atBlockBegin(colLoop.getBody());
    Value ck0 = arith::MulIOp::create(cb, loc, colLoop.getInductionVar(), ctk);
    Value cnk = arith::MinSIOp::create(cb, loc, ctk,
                                       arith::SubIOp::create(cb, loc, lk, ck0));
    Region maskRegion;
    TileClass cls = classifyTile(cb, loc, op, causalOffset, maskRegion, bb, h,
                                 q0, nq, ck0, cnk, Value());
    auto emitColumns = [&](OpBuilder &builder) {
      Value w = tileView(builder, loc, weightsBuf, {ck0, zero},
                         {cnk, builder.getIndexAttr(tq)},
                         {ShapedType::kDynamic, tq});
      Value sm = tileView(builder, loc, stepMaxBuf,
                          {colLoop.getInductionVar(), zero},
                          {one, builder.getIndexAttr(tq)}, {tq});
      Value part = tileView(builder, loc, partialRow, {ck0}, {cnk},
                            {ShapedType::kDynamic});
      auto cs = TileColumnScoresOp::create(builder, loc, w, sm, maxes, sums,
                                           part, nq, lq, bb, h, q0,
                                           op.getScoreDecayAttr());
      IRMapping m;
      op.getSink().cloneInto(&cs.getSink(), m);
    };
    if (!cls.hasMask) {
      emitColumns(cb);
    } else {
      Value notEmpty = arith::XOrIOp::create(
          cb, loc, cls.empty,
          arith::ConstantIntOp::create(cb, loc, cb.getI1Type(), 1));
      auto ifNotEmpty = scf::IfOp::create(cb, loc, notEmpty, false);
      OpBuilder inner = ifNotEmpty.getThenBodyBuilder();
      emitColumns(inner);
    }
    b.setInsertionPointAfter(forall);
    emitColumnReduction(b, loc, op, partials, chunks);
  }

  op.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// Block-sparse attention, key-block major (MoBA, SeerAttention)
//===----------------------------------------------------------------------===//

/// Whether the key-block-major form applies: a softmax without sink,
/// second map or row normalization (their rows do not merge by LSE alone).
static bool isKeyBlockMajor(AttentionOp op) {
  return op.getBlocks() && !op.getRowEntropy() &&
         op.getNormalizer() == Normalizer::softmax &&
         op.getSink().empty() && !op.getQuery2() && !op.getRmsNormEps();
}

/// Copies `src` (a single-block region) into `dst` with block argument
/// `rowArg` replaced by `pos[rowArg]`: the regions of a gathered query tile
/// see each row's position in the sequence, not its place in the tile.
static void remapRowArgument(OpBuilder &b, Location loc, Region &src,
                             Region &dst, unsigned rowArg, Value pos) {
  Block &from = src.front();
  OpBuilder::InsertionGuard guard(b);
  Block *to = b.createBlock(
      &dst, dst.end(), from.getArgumentTypes(),
      SmallVector<Location>(from.getNumArguments(), loc));
  b.setInsertionPointToStart(to);
  IRMapping m;
  for (auto [x, y] : llvm::zip(from.getArguments(), to->getArguments()))
    m.map(x, y);
  Value i = memref::LoadOp::create(b, loc, pos, to->getArgument(rowArg));
  m.map(from.getArgument(rowArg), i);
  for (Operation &o : from)
    b.clone(o, m);
}

/// Each (batch, head) sorts its (row, slot) selections by key block with a
/// counting sort; each work item then gathers up to `tq` rows that chose one
/// block, attends them to that block only and writes a normalized partial
/// output and LSE per (row, slot); a last loop merges each row's partials
/// by log-sum-exp and applies the epilogue. Work is proportional to the
/// selected (row, block) pairs, whatever the rows of a tile chose.
static LogicalResult tileBlockSparse(AttentionOp op, int64_t tq, int64_t tk) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue(),
        o = op.getOutput(), lse = op.getLse(), sel = op.getBlocks();
  int64_t hq = op.getNumQueryHeads(), group = hq / op.getNumKvHeads();
  int64_t d = op.getHeadDim(), dv = op.getValueHeadDim();
  int64_t slots = op.getBlocksType().getDimSize(3);
  int64_t bs = *op.getBlockSize();
  tk = std::gcd(tk, bs);
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), idxT = b.getIndexType();
  auto cst = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddIOp::create(b, loc, x, y);
  };
  auto mul = [&](Value x, Value y) -> Value {
    return arith::MulIOp::create(b, loc, x, y);
  };
  auto forRange = [&](Value lo, Value hi, function_ref<void(Value)> body) {
    buildFor(b, loc, lo, hi, 1, body);
  };
  auto ifThen = [&](Value cond, function_ref<void()> body) {
    buildIf(b, loc, cond, body);
  };
  // dst[dstAt..., :len] = src[srcAt..., :len], by 16-lane vectors when the
  // length allows.
  auto copyRow = [&](Value src, ArrayRef<Value> srcAt, Value dst,
                     ArrayRef<Value> dstAt, int64_t len) {
    int64_t lanes = len % 16 == 0 ? 16 : 1;
    Type elem = cast<MemRefType>(src.getType()).getElementType();
    scf::ForOp::create(
        b, loc, cst(0), cst(len), cst(lanes), ValueRange{},
        [&](OpBuilder &nb, Location, Value x, ValueRange) {
          SmallVector<Value> from(srcAt.begin(), srcAt.end()),
              to(dstAt.begin(), dstAt.end());
          from.push_back(x);
          to.push_back(x);
          if (lanes == 1) {
            memref::StoreOp::create(
                nb, loc, memref::LoadOp::create(nb, loc, src, from), dst, to);
          } else {
            Value vec = vector::LoadOp::create(
                nb, loc, VectorType::get({lanes}, elem), src, from);
            vector::StoreOp::create(nb, loc, vec, dst, to);
          }
          scf::YieldOp::create(nb, loc);
        });
  };
  Value batch = memref::DimOp::create(b, loc, q, 0);
  Value lq = memref::DimOp::create(b, loc, q, 2);
  Value lk = memref::DimOp::create(b, loc, k, 2);
  Value numBlocks = arith::CeilDivUIOp::create(b, loc, lk, cst(bs));
  Value causalOffset = arith::SubIOp::create(b, loc, lk, lq);
  Value heads = cst(hq);

  // Block of (row i, slot s), or -1 when out of range or repeated in an
  // earlier slot (a block attends once per row).
  auto blockOf = [&](Value bb, Value h, Value i, int64_t s) -> Value {
    auto at = [&](int64_t c) -> Value {
      return memref::LoadOp::create(b, loc, sel,
                                    ValueRange{bb, h, i, cst(c)});
    };
    Value x = at(s);
    Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    Value n = arith::IndexCastOp::create(b, loc, idxT, x);
    Value valid = arith::AndIOp::create(
        b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, x, zero),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, n, numBlocks));
    for (int64_t e = 0; e < s; ++e)
      valid = arith::AndIOp::create(
          b, loc, valid,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, at(e), x));
    return arith::SelectOp::create(b, loc, valid, n, cst(-1));
  };
  auto isBlock = [&](Value n) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, n, cst(0));
  };

  // Scratch: per (b, h) block offsets and sorted (row, slot) lists; partial
  // outputs and LSEs per (b, h, row, slot).
  Value bh = mul(batch, heads);
  Value stride = add(numBlocks, cst(1));
  Value perHead = mul(lq, cst(slots));
  Value offsets = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, idxT),
      ValueRange{mul(bh, stride)});
  Value lists = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, i32),
      ValueRange{mul(bh, perHead)});
  Value partO = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, dv}, f32),
      ValueRange{mul(bh, perHead)});
  Value partL = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, f32),
      ValueRange{mul(bh, perHead)});

  // 1. Counting sort per (b, h).
  {
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(hq)},
        ValueRange{}, std::nullopt);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forall.getBody());
    Value bb = forall.getInductionVar(0), h = forall.getInductionVar(1);
    Value base = add(mul(bb, heads), h);
    Value off0 = mul(base, stride);
    forRange(cst(0), stride,
             [&](Value n) { memref::StoreOp::create(b, loc, cst(0), offsets,
                                                    add(off0, n)); });
    forRange(cst(0), lq, [&](Value i) {
      for (int64_t s = 0; s < slots; ++s) {
        Value n = blockOf(bb, h, i, s);
        ifThen(isBlock(n), [&] {
          Value at = add(off0, add(n, cst(1)));
          Value c = memref::LoadOp::create(b, loc, offsets, at);
          memref::StoreOp::create(b, loc, add(c, cst(1)), offsets, at);
        });
      }
    });
    Value cursor = memref::AllocaOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, idxT),
        ValueRange{numBlocks});
    forRange(cst(0), numBlocks, [&](Value n) {
      Value prev = memref::LoadOp::create(b, loc, offsets, add(off0, n));
      Value at = add(off0, add(n, cst(1)));
      Value c = memref::LoadOp::create(b, loc, offsets, at);
      memref::StoreOp::create(b, loc, add(c, prev), offsets, at);
      memref::StoreOp::create(b, loc, prev, cursor, n);
    });
    Value listBase = mul(base, perHead);
    forRange(cst(0), lq, [&](Value i) {
      for (int64_t s = 0; s < slots; ++s) {
        Value n = blockOf(bb, h, i, s);
        ifThen(isBlock(n), [&] {
          Value at = memref::LoadOp::create(b, loc, cursor, n);
          Value e = add(mul(i, cst(slots)), cst(s));
          memref::StoreOp::create(
              b, loc, arith::IndexCastOp::create(b, loc, i32, e), lists,
              add(listBase, at));
          memref::StoreOp::create(b, loc, add(at, cst(1)), cursor, n);
        });
      }
    });
  }

  // 2. Items: (b, h, block), each a loop over chunks of tq of its rows.
  {
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(hq), numBlocks},
        ValueRange{}, std::nullopt);
    forall->setAttr("attn.tile_sizes", b.getDenseI64ArrayAttr({tq, tk}));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forall.getBody());
    Value bb = forall.getInductionVar(0), h = forall.getInductionVar(1),
          n = forall.getInductionVar(2);
    Value base = add(mul(bb, heads), h);
    Value off0 = mul(base, stride);
    Value start = memref::LoadOp::create(b, loc, offsets, add(off0, n));
    Value end =
        memref::LoadOp::create(b, loc, offsets, add(off0, add(n, cst(1))));
    scf::ForOp::create(b, loc, start, end, cst(tq), ValueRange{},
                       [&](OpBuilder &nb, Location, Value first, ValueRange) {
      OpBuilder::InsertionGuard g3(b);
      b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
      Value nr = arith::MinUIOp::create(
          b, loc, cst(tq), arith::SubIOp::create(b, loc, end, first));
      Type qElem = cast<MemRefType>(q.getType()).getElementType();
      Value qp = memref::AllocaOp::create(b, loc,
                                          MemRefType::get({tq, d}, qElem));
      Value pos = memref::AllocaOp::create(b, loc, MemRefType::get({tq}, idxT));
      Value part =
          memref::AllocaOp::create(b, loc, MemRefType::get({tq}, idxT));
      Value listBase = mul(base, perHead);
      forRange(cst(0), nr, [&](Value r) {
        Value e = arith::IndexCastOp::create(
            b, loc, idxT,
            memref::LoadOp::create(b, loc, lists, add(listBase, add(first, r))));
        Value i = arith::DivUIOp::create(b, loc, e, cst(slots));
        memref::StoreOp::create(b, loc, i, pos, r);
        memref::StoreOp::create(b, loc, add(listBase, e), part, r);
        copyRow(q, {bb, h, i}, qp, {r}, d);
      });
      std::array<Value, 3> state = allocState(b, loc, tq, dv);
      Value maxes = state[0], sums = state[1], acc = state[2];
      auto rowType = MemRefType::get({tq}, f32);
      OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
      Value qTile = tileView(b, loc, qp, {zero, zero}, {nr, b.getIndexAttr(d)},
                             {ShapedType::kDynamic, d});
      Value hk = arith::DivUIOp::create(b, loc, h, cst(group));
      Value blockStart = mul(n, cst(bs));
      Value blockEnd = arith::MinUIOp::create(b, loc, lk, add(blockStart, cst(bs)));
      // The regions with rows mapped to their positions.
      Region maskRegion, score;
      {
        Region combined;
        if (buildMaskRegion(b, loc, op, causalOffset, combined))
          remapRowArgument(b, loc, combined, maskRegion, 2, pos);
        if (!op.getScore().empty())
          remapRowArgument(b, loc, op.getScore(), score, 3, pos);
      }
      // Rows are sorted: the first sees the fewest keys. Without a user
      // mask, a key tile entirely at or below its causal limit is full.
      Value firstRow = memref::LoadOp::create(b, loc, pos, cst(0));
      FloatAttr scaleAttr = b.getF32FloatAttr(op.getScaleValue());
      scf::ForOp::create(
          b, loc, blockStart, blockEnd, cst(tk), ValueRange{},
          [&](OpBuilder &nb, Location, Value k0, ValueRange) {
            OpBuilder::InsertionGuard g2(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            Value nk = arith::MinUIOp::create(
                b, loc, cst(tk), arith::SubIOp::create(b, loc, blockEnd, k0));
            Value kTile = rowTile(b, loc, k, bb, hk, k0, nk);
            Value vTile = rowTile(b, loc, v, bb, hk, k0, nk);
            Value gathered = cst(0); // rows are positions via `pos`
            auto attend = [&](OpBuilder &builder, bool withMask) {
              auto step = TileAttendOp::create(
                  builder, loc, qTile, kTile, vTile, maxes, sums, acc, Value(),
                  Value(), bb, h, gathered, k0, scaleAttr,
                  op.getNormalizerAttr());
              IRMapping m;
              score.cloneInto(&step.getScore(), m);
              if (withMask)
                maskRegion.cloneInto(&step.getMask(), m);
            };
            if (maskRegion.empty()) {
              attend(b, false);
            } else {
              Value full = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
              if (op.getMask().empty()) {
                Value last = arith::SubIOp::create(b, loc, add(k0, nk), cst(1));
                full = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                             last, add(firstRow, causalOffset));
              }
              auto ifFull = scf::IfOp::create(b, loc, full, true);
              OpBuilder thenB = ifFull.getThenBodyBuilder();
              attend(thenB, false);
              OpBuilder elseB = ifFull.getElseBodyBuilder();
              attend(elseB, true);
            }
            scf::YieldOp::create(b, loc);
          });
      // Normalized partials (no epilogue yet), scattered per (row, slot).
      Value op0 =
          memref::AllocaOp::create(b, loc, MemRefType::get({tq, dv}, f32));
      Value lp = memref::AllocaOp::create(b, loc, rowType);
      TileFinalizeOp::create(
          b, loc, maxes, sums, acc,
          tileView(b, loc, op0, {zero, zero}, {nr, b.getIndexAttr(dv)},
                   {ShapedType::kDynamic, dv}),
          tileView(b, loc, lp, {zero}, {nr}, {ShapedType::kDynamic}), Value(),
          Value(), bb, h, cst(0), op.getNormalizerAttr());
      forRange(cst(0), nr, [&](Value r) {
        Value p = memref::LoadOp::create(b, loc, part, r);
        memref::StoreOp::create(b, loc,
                                memref::LoadOp::create(b, loc, lp, r), partL, p);
        copyRow(op0, {r}, partO, {p}, dv);
      });
      scf::YieldOp::create(b, loc);
    });
  }

  // 3. Merge each row's partials by log-sum-exp; epilogue; LSE.
  {
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(hq), lq},
        ValueRange{}, std::nullopt);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forall.getBody());
    Value bb = forall.getInductionVar(0), h = forall.getInductionVar(1),
          i = forall.getInductionVar(2);
    Value rowBase = mul(add(mul(add(mul(bb, heads), h), lq), i), cst(slots));
    Value ninf = arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
    Value zeroF = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    SmallVector<Value> valid, ls;
    Value m = ninf;
    for (int64_t s = 0; s < slots; ++s) {
      valid.push_back(isBlock(blockOf(bb, h, i, s)));
      // Only valid slots were written: the others are never read.
      Value p = add(rowBase, cst(s));
      ls.push_back(buildLoadIf(b, loc, valid.back(), partL, p, ninf));
      m = arith::MaximumFOp::create(b, loc, m, ls.back());
    }
    Value finite =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, m, ninf);
    Value mSafe = arith::SelectOp::create(b, loc, finite, m, zeroF);
    SmallVector<Value> ws;
    Value total = zeroF;
    for (int64_t s = 0; s < slots; ++s) {
      ws.push_back(math::ExpOp::create(
          b, loc, arith::SubFOp::create(b, loc, ls[s], mSafe)));
      total = arith::AddFOp::create(b, loc, total, ws.back());
    }
    Value positive =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, total, zeroF);
    Value inv = arith::SelectOp::create(
        b, loc, positive,
        arith::DivFOp::create(
            b, loc, arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f)),
            total),
        zeroF);
    Type outElem = cast<MemRefType>(o.getType()).getElementType();
    forRange(cst(0), cst(dv), [&](Value x) {
      Value sum = zeroF;
      for (int64_t s = 0; s < slots; ++s) {
        Value p = add(rowBase, cst(s));
        Value val =
            buildLoadIf(b, loc, valid[s], partO, ValueRange{p, x}, zeroF);
        sum = math::FmaOp::create(b, loc, ws[s], val, sum);
      }
      Value y = arith::MulFOp::create(b, loc, sum, inv);
      if (!op.getEpilogue().empty())
        y = AttentionOp::inlineScalarRegion(b, op.getEpilogue(),
                                            ValueRange{y, bb, h, i, x});
      else if (outElem != f32)
        y = arith::TruncFOp::create(b, loc, outElem, y);
      memref::StoreOp::create(b, loc, y, o, ValueRange{bb, h, i, x});
    });
    if (lse) {
      Value l = arith::AddFOp::create(b, loc, m,
                                      math::LogOp::create(b, loc, total));
      l = arith::SelectOp::create(b, loc, finite, l, ninf);
      memref::StoreOp::create(b, loc, l, lse, ValueRange{bb, h, i});
    }
  }
  op.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// Decode: GQA-packed, split-KV (flash-decoding)
//===----------------------------------------------------------------------===//

/// Whether the decode form applies to `op` once its query length is 1:
/// softmax without a sink, at most `tq` query heads per KV head, and, when
/// several query heads share a KV head, score/mask regions that read
/// neither the query head nor the query row (the packed tile holds the G
/// query heads of one KV head in its rows; with G = 1 its single row is
/// row 0 of that head, so the regions see their true indices).
static bool isPackedDecode(AttentionOp op, int64_t tq) {
  if (op.getNormalizer() != Normalizer::softmax || !op.getSink().empty() ||
      op.getQuery2() || op.getRmsNormEps() || op.getBlocks() ||
      op.getColumnScores() || op.getRowEntropy() ||
      op.getNumQueryHeads() / op.getNumKvHeads() > tq)
    return false;
  if (op.getNumQueryHeads() == op.getNumKvHeads())
    return true;
  return !regionReadsArgument(op.getScore(), 2) &&
         !regionReadsArgument(op.getScore(), 3) &&
         !regionReadsArgument(op.getMask(), 1) &&
         !regionReadsArgument(op.getMask(), 2);
}

/// Whether a decode row of a ragged batch packs the G query heads of a KV
/// head into one tile: the decode's packing, with an epilogue that reads
/// neither the head nor the row (the rows of the tile are heads; G at most
/// one ragged item's rows).
static bool packsRaggedDecode(AttentionOp op) {
  int64_t group = op.getNumQueryHeads() / op.getNumKvHeads();
  return isPackedDecode(op, kRaggedRowsForPacking) &&
         (group == 1 || (!regionReadsArgument(op.getEpilogue(), 2) &&
                         !regionReadsArgument(op.getEpilogue(), 3)));
}

/// `v` (a query, output or LSE buffer) with its query-length dim 2 cast to
/// the static size 1.
static Value castToOneRow(OpBuilder &b, Location loc, Value v) {
  auto type = cast<MemRefType>(v.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[2] = 1;
  return memref::CastOp::create(b, loc,
                                MemRefType::get(shape, type.getElementType(),
                                                type.getLayout(),
                                                type.getMemorySpace()),
                                v);
}

/// The decode of one request `bb` and KV head `hk`: its G query heads
/// (the rows of `qTile`, [G, D]) against keys [kBegin, kEnd) of the
/// request's `len` (the query's position is len - 1). Returns the
/// online-softmax state (maxes, sums, acc) of the G rows.
static std::array<Value, 3> emitDecodeGroup(OpBuilder &b, Location loc,
                                            AttentionOp op,
                                            const KeySource &keys, int64_t tq,
                                            Value qTile, Value bb, Value hk,
                                            Value len, Value kBegin,
                                            Value kEnd) {
  Value k = op.getKey(), v = op.getValue();
  int64_t group = op.getNumQueryHeads() / op.getNumKvHeads();
  int64_t dv = op.getValueHeadDim(), tk = keys.tk;
  auto cst = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  Value c0 = cst(0), c1 = cst(1), ctk = cst(tk);
  auto ceilDiv = [&](OpBuilder &b, Value x, Value t) -> Value {
    Value n =
        arith::AddIOp::create(b, loc, x, arith::SubIOp::create(b, loc, t, c1));
    return arith::DivUIOp::create(b, loc, n, t);
  };
  // The state holds the G rows of the group, rounded up to 16 (a multiple
  // of every vector width) rather than a whole query tile.
  auto [maxes, sums, acc] = allocState(
      b, loc, std::min<int64_t>(tq, llvm::alignTo(group, 16)), dv);
  Value h0 = arith::MulIOp::create(b, loc, hk, cst(group));
  // The group's rows share one position, the request's last.
  qTile = rotatedQueryRows(b, loc, op, qTile, b.getIndexAttr(group),
                           arith::SubIOp::create(b, loc, len, c1), group,
                           /*step=*/0);
  auto [kScratch, vScratch] = keys.allocGatherTiles(b, loc);
  Value span = arith::MaxSIOp::create(
      b, loc, c0, arith::SubIOp::create(b, loc, kEnd, kBegin));
  auto loop = scf::ForOp::create(b, loc, c0, ceilDiv(b, span, ctk), c1);
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = arith::AddIOp::create(
        b, loc, kBegin,
        arith::MulIOp::create(b, loc, loop.getInductionVar(), ctk));
    Value nk = arith::MinSIOp::create(
        b, loc, ctk, arith::SubIOp::create(b, loc, kEnd, k0));
    Value kTile =
        keys.tile(b, loc, k, bb, hk, k0, nk, kScratch, /*isKey=*/true);
    Value vTile =
        keys.tile(b, loc, v, bb, hk, k0, nk, vScratch, /*isKey=*/false);
    // A single query row sees the whole cache: the causal mask is void.
    emitAttendStep(b, loc, op, /*causalOffset=*/Value(),
                   {{qTile, kTile, maxes, sums, acc}}, vTile, bb, h0, c0,
                   cst(group), k0, nk);
  }
  return {maxes, sums, acc};
}

/// One query row per head against a long cache. The G query heads sharing a
/// KV head become the rows of one query tile (so the micro-kernel's lanes
/// hold G rows instead of one), and the keys are split into chunks of
/// `splitKeys` processed in parallel, each writing a normalized partial
/// output and its LSE; a second parallel loop merges the partials by
/// log-sum-exp and applies the epilogue.
static LogicalResult tileDecode(AttentionOp op, int64_t tq, int64_t tk,
                                int64_t splitKeys) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value q = op.getQuery(), o = op.getOutput(), lse = op.getLse();
  int64_t hq = op.getNumQueryHeads(), hkv = op.getNumKvHeads();
  int64_t d = op.getHeadDim(), dv = op.getValueHeadDim();
  int64_t group = hq / hkv;
  // Pages shorter than the key tile are gathered into whole key tiles:
  // each tile is one online-softmax step, and the decode's steps are short
  // (pages of 16 into 64-key tiles: +19% tokens/s on the serving bench's
  // bf16 decode, docs/serving.md).
  KeySource keys(op, tk, /*minPageTile=*/tk);
  tk = keys.tk;
  splitKeys = std::max<int64_t>(tk, (splitKeys + tk - 1) / tk * tk);
  Type f32 = b.getF32Type();
  auto cst = [&](int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  Value c0 = cst(0), c1 = cst(1), cSplit = cst(splitKeys);
  Value batch = memref::DimOp::create(b, loc, q, 0);
  // Splits cover the longest request the operands allow (with per-request
  // lengths, a split past a request's keys is empty: O = 0, LSE = -inf).
  Value lk = keys.capacity(b, loc);
  auto ceilDiv = [&](OpBuilder &b, Value x, Value t) -> Value {
    Value n =
        arith::AddIOp::create(b, loc, x, arith::SubIOp::create(b, loc, t, c1));
    return arith::DivUIOp::create(b, loc, n, t);
  };
  Value numSplits = arith::MaxSIOp::create(b, loc, c1, ceilDiv(b, lk, cSplit));

  // Partial results stacked for attn.merge: outputs [S, B, Hq, 1, Dv] and
  // LSEs [S, B, Hq, 1].
  auto partOType = MemRefType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic, hq, 1, dv}, f32);
  auto partLType = MemRefType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic, hq, 1}, f32);
  Value partO =
      memref::AllocOp::create(b, loc, partOType, ValueRange{numSplits, batch});
  Value partL =
      memref::AllocOp::create(b, loc, partLType, ValueRange{numSplits, batch});

  auto splits = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(hkv), numSplits},
      ValueRange{}, std::nullopt);
  splits->setAttr("attn.tile_sizes", b.getDenseI64ArrayAttr({tq, tk}));
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body = splits.getBody();
    b.setInsertionPointToStart(body);
    Value bb = body->getArgument(0), hk = body->getArgument(1),
          sp = body->getArgument(2);
    Value h0 = arith::MulIOp::create(b, loc, hk, cst(group));
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    Value qTile = tileView(b, loc, q, {bb, h0, zero, zero},
                           {one, b.getIndexAttr(group), one, b.getIndexAttr(d)},
                           {group, d});
    Value len = op.getKvLens() ? keys.length(b, loc, bb) : lk;
    Value kBegin = arith::MulIOp::create(b, loc, sp, cSplit);
    Value kEnd = arith::MinSIOp::create(
        b, loc, len, arith::AddIOp::create(b, loc, kBegin, cSplit));
    auto [maxes, sums, acc] = emitDecodeGroup(b, loc, op, keys, tq, qTile, bb,
                                              hk, len, kBegin, kEnd);
    Value oTile = tileView(
        b, loc, partO, {sp, bb, h0, zero, zero},
        {one, one, b.getIndexAttr(group), one, b.getIndexAttr(dv)},
        {group, dv});
    Value lTile = tileView(b, loc, partL, {sp, bb, h0, zero},
                           {one, one, b.getIndexAttr(group), one}, {group});
    TileFinalizeOp::create(b, loc, maxes, sums, acc, oTile, lTile, Value(),
                           Value(), bb, h0, c0);
  }

  // Merge the splits by their LSEs (attn-decompose-merge lowers the op to a
  // loop parallel over the rows). With an epilogue, into f32 rows that a
  // second loop passes through it.
  bool epilogue = !op.getEpilogue().empty();
  Value merged = o;
  if (epilogue)
    merged = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic, hq, 1, dv}, f32),
        ValueRange{batch});
  SmallVector<Value, 2> outs{merged};
  if (lse)
    outs.push_back(lse);
  MergeOp::create(b, loc, TypeRange{}, ValueRange{partO}, ValueRange{partL},
                  outs, /*stacked=*/b.getI64IntegerAttr(0));
  if (epilogue) {
    auto apply = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(hq)},
        ValueRange{}, std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    Block *body = apply.getBody();
    b.setInsertionPointToStart(body);
    Value bb = body->getArgument(0), h = body->getArgument(1);
    scf::ForOp::create(
        b, loc, c0, cst(dv), c1, ValueRange{},
        [&](OpBuilder &b, Location loc, Value dd, ValueRange) {
          Value x = memref::LoadOp::create(b, loc, merged,
                                           ValueRange{bb, h, c0, dd});
          SmallVector<Value> args{x, bb, h, c0, dd};
          Value y = AttentionOp::inlineScalarRegion(b, op.getEpilogue(), args);
          memref::StoreOp::create(b, loc, y, o, ValueRange{bb, h, c0, dd});
          scf::YieldOp::create(b, loc);
        });
  }
  op.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// Ragged batches (qo_indptr): prefill chunks and decode steps in one call
//===----------------------------------------------------------------------===//

/// Query rows of one prefill work item (attnrt's ATTNRT_RAGGED_ROWS: the
/// runtime's plan counts items with it).
constexpr int64_t kRaggedRows = 64;

/// A ragged batch as parallel loops over work items (runtime.h, "Ragged
/// batches"): a prefill request's item is a query head's block of 64 rows,
/// a decode request's one KV head with its G query heads packed as rows
/// (or, when the op does not pack them, one query head through the prefill
/// form). Items are numbered request by request in the plan's order (or,
/// without a plan, chunks then decode steps, each in batch order): the
/// chunks' items first, in one loop, the decode items in a second (one loop
/// with both bodies measured 25% slower on the prefill items). An item
/// finds its request by a binary search of the requests' first items.
static LogicalResult tileRagged(AttentionOp op, int64_t tk,
                                int64_t stripRows) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue(),
        o = op.getOutput(), lse = op.getLse();
  Value indptr = op.getQoIndptr(), plan = op.getPlan();
  int64_t hq = op.getNumQueryHeads(), hkv = op.getNumKvHeads();
  int64_t d = op.getHeadDim(), dv = op.getValueHeadDim();
  int64_t group = hq / hkv, tq = kRaggedRows;
  bool packed = raggedDecodeItems(op) == hkv;
  Type idx = b.getIndexType();
  auto cst = [&](OpBuilder &b, int64_t x) -> Value {
    return arith::ConstantIndexOp::create(b, loc, x);
  };
  auto ceilDiv = [&](OpBuilder &b, Value x, int64_t t) -> Value {
    return arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, x, cst(b, t - 1)), cst(b, t));
  };
  auto load = [&](OpBuilder &b, Value buf, ValueRange at) -> Value {
    return arith::IndexCastOp::create(b, loc, idx,
                                      memref::LoadOp::create(b, loc, buf, at));
  };
  // Request r's chunk length.
  auto chunkOf = [&](OpBuilder &b, Value r) -> Value {
    Value r1 = arith::AddIOp::create(b, loc, r, cst(b, 1));
    return arith::SubIOp::create(b, loc, load(b, indptr, {r1}),
                                 load(b, indptr, {r}));
  };
  // Items of a request whose chunk has `lq` rows (attnrt_ragged_items).
  auto itemsOf = [&](OpBuilder &b, Value lq) -> Value {
    Value prefill = arith::MulIOp::create(b, loc, cst(b, hq),
                                          ceilDiv(b, lq, kRaggedRows));
    Value one = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lq,
                                      cst(b, 1));
    return arith::SelectOp::create(b, loc, one,
                                   cst(b, packed ? hkv : hq), prefill);
  };
  auto isChunk = [&](OpBuilder &b, Value lq) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, lq,
                                 cst(b, 2));
  };
  Value batch = memref::DimOp::create(b, loc, op.getKvLens(), 0);
  // A loop over the requests accumulating `init` (index values).
  auto foldRequests =
      [&](ValueRange init,
          function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)>
              step) -> SmallVector<Value> {
    auto loop = scf::ForOp::create(
        b, loc, cst(b, 0), batch, cst(b, 1), init,
        [&](OpBuilder &lb, Location, Value r, ValueRange acc) {
          scf::YieldOp::create(lb, loc, step(lb, r, acc));
        });
    return SmallVector<Value>(loop.getResults());
  };
  KeySource keys(op, tk);
  KeySource decodeKeys(op, tk, /*minPageTile=*/tk);
  Value c0 = cst(b, 0), c1 = cst(b, 1);

  // The order and the requests' first items: the plan's rows, or counted
  // here (chunks, then the others, each in batch order).
  Value order, firsts, numChunkItems;
  if (!plan) {
    auto vec = MemRefType::get({ShapedType::kDynamic}, idx);
    order = memref::AllocOp::create(b, loc, vec, ValueRange{batch});
    firsts = memref::AllocOp::create(
        b, loc, vec, ValueRange{arith::AddIOp::create(b, loc, batch, c1)});
    SmallVector<Value> at{c0, c0}; // (position, next item)
    for (bool chunks : {true, false}) {
      if (!chunks) // the chunks' items end where the others' begin
        numChunkItems = at[1];
      at = foldRequests(at, [&](OpBuilder &lb, Value r, ValueRange acc) {
        Value lq = chunkOf(lb, r);
        Value take = isChunk(lb, lq);
        if (!chunks)
          take = arith::XOrIOp::create(
              lb, loc, take, arith::ConstantIntOp::create(lb, loc, 1, 1));
        auto branch = scf::IfOp::create(lb, loc, TypeRange{idx, idx}, take,
                                        /*withElseRegion=*/true);
        OpBuilder tb = branch.getThenBodyBuilder();
        memref::StoreOp::create(tb, loc, r, order, ValueRange{acc[0]});
        memref::StoreOp::create(tb, loc, acc[1], firsts, ValueRange{acc[0]});
        scf::YieldOp::create(
            tb, loc,
            ValueRange{arith::AddIOp::create(tb, loc, acc[0], cst(tb, 1)),
                       arith::AddIOp::create(tb, loc, acc[1],
                                             itemsOf(tb, lq))});
        OpBuilder eb = branch.getElseBodyBuilder();
        scf::YieldOp::create(eb, loc, acc);
        return SmallVector<Value>(branch.getResults());
      });
    }
    memref::StoreOp::create(b, loc, at[1], firsts, ValueRange{batch});
  }
  auto orderOf = [&](OpBuilder &b, Value p) -> Value {
    return plan ? load(b, plan, {c0, p})
                : memref::LoadOp::create(b, loc, order, ValueRange{p})
                      .getResult();
  };
  auto firstOf = [&](OpBuilder &b, Value p) -> Value {
    return plan ? load(b, plan, {c1, p})
                : memref::LoadOp::create(b, loc, firsts, ValueRange{p})
                      .getResult();
  };
  Value numItems = firstOf(b, batch);
  // The chunks' items come first (the runtime checks a plan's order); with
  // a plan, they are counted here (idle requests may sit anywhere in it).
  if (!packed)
    numChunkItems = numItems;
  else if (plan)
    numChunkItems =
        foldRequests({c0}, [&](OpBuilder &lb, Value r, ValueRange acc) {
          Value lq = chunkOf(lb, r);
          Value n = arith::SelectOp::create(lb, loc, isChunk(lb, lq),
                                            itemsOf(lb, lq), cst(lb, 0));
          return SmallVector<Value>{
              arith::AddIOp::create(lb, loc, acc[0], n)};
        })[0];
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);

  // One item: its request, its index within the request, the request's
  // first token, chunk length and key count.
  struct Item {
    Value bb, local, tok, lq, lk;
  };
  auto itemAt = [&](OpBuilder &b, Value n) -> Item {
    // The last position p whose first item is <= n (first(0) = 0 <= n <
    // first(B)): lo <= p < hi.
    auto search = scf::WhileOp::create(
        b, loc, TypeRange{idx, idx}, ValueRange{c0, batch},
        [&](OpBuilder &wb, Location, ValueRange args) {
          Value wide = arith::CmpIOp::create(
              wb, loc, arith::CmpIPredicate::ugt,
              arith::SubIOp::create(wb, loc, args[1], args[0]), cst(wb, 1));
          scf::ConditionOp::create(wb, loc, wide, args);
        },
        [&](OpBuilder &wb, Location, ValueRange args) {
          Value mid = arith::DivUIOp::create(
              wb, loc, arith::AddIOp::create(wb, loc, args[0], args[1]),
              cst(wb, 2));
          Value below = arith::CmpIOp::create(
              wb, loc, arith::CmpIPredicate::ule, firstOf(wb, mid), n);
          scf::YieldOp::create(
              wb, loc,
              ValueRange{arith::SelectOp::create(wb, loc, below, mid, args[0]),
                         arith::SelectOp::create(wb, loc, below, args[1],
                                                 mid)});
        });
    Value p = search.getResult(0);
    Item it;
    it.bb = orderOf(b, p);
    it.local = arith::SubIOp::create(b, loc, n, firstOf(b, p));
    it.tok = load(b, indptr, {it.bb});
    it.lq = chunkOf(b, it.bb);
    it.lk = keys.length(b, loc, it.bb);
    return it;
  };
  // Rows [r0, r0 + nr) of a head of the packed per-token operands.
  auto tokenRows = [&](OpBuilder &b, const Item &it, Value src, Value h,
                       Value r0, Value nr) -> Value {
    int64_t cols = cast<MemRefType>(src.getType()).getDimSize(3);
    return tileView(b, loc, src,
                    {arith::AddIOp::create(b, loc, it.tok, r0).getResult(), h,
                     zero, zero},
                    {nr, one, one, b.getIndexAttr(cols)},
                    {ShapedType::kDynamic, cols});
  };

  // A prefill item (or a decode row not packed): head h, rows [q0, q0+nq).
  auto emitPrefill = [&](OpBuilder &b, const Item &it) {
    Value bb = it.bb, lk = it.lk;
    Value tiles = ceilDiv(b, it.lq, kRaggedRows);
    Value h = arith::DivUIOp::create(b, loc, it.local, tiles);
    Value q0 = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, it.local, tiles), cst(b, tq));
    Value nq = arith::MinSIOp::create(
        b, loc, cst(b, tq), arith::SubIOp::create(b, loc, it.lq, q0));
    Value hk = arith::DivUIOp::create(b, loc, h, cst(b, group));
    Value causalOffset = arith::SubIOp::create(b, loc, lk, it.lq);
    auto [kScratch, vScratch] = keys.allocGatherTiles(b, loc);
    std::array<Value, 3> state = allocState(b, loc, tq, dv);
    Value qTile = rotatedQueryRows(
        b, loc, op, tokenRows(b, it, q, h, q0, nq), nq,
        arith::AddIOp::create(b, loc, q0, causalOffset), tq);
    {
      OpBuilder::InsertionGuard g(b);
      KeyLoop kl = emitKeyLoop(b, loc, op, keys, /*keyRanges=*/true,
                               causalOffset, bb, h, q0, nq, lk,
                               ceilDiv(b, lk, keys.tk), keys.tk);
      Value nk = arith::MinSIOp::create(
          b, loc, cst(b, keys.tk),
          arith::SubIOp::create(b, loc, kl.kEnd, kl.k0));
      Value kTile = keys.tile(b, loc, k, bb, hk, kl.k0, nk, kScratch, true);
      Value vTile = keys.tile(b, loc, v, bb, hk, kl.k0, nk, vScratch, false);
      emitAttendStep(b, loc, op, causalOffset,
                     {{qTile, kTile, state[0], state[1], state[2]}}, vTile, bb,
                     h, q0, nq, kl.k0, nk, Value(), stripRows);
    }
    Value lseTile;
    if (lse)
      lseTile = tileView(b, loc, lse,
                         {arith::AddIOp::create(b, loc, it.tok, q0).getResult(),
                          h, zero},
                         {nq, one, one}, {ShapedType::kDynamic});
    auto fin = TileFinalizeOp::create(
        b, loc, state[0], state[1], state[2], tokenRows(b, it, o, h, q0, nq),
        lseTile, Value(), Value(), bb, h, q0, op.getNormalizerAttr());
    IRMapping m;
    op.getEpilogue().cloneInto(&fin.getEpilogue(), m);
    op.getSink().cloneInto(&fin.getSink(), m);
  };
  // A decode item: KV head `local`, its G query heads the rows of one tile
  // (one token: rows of [Hq, D] are contiguous), over all the request's
  // keys gathered into whole key tiles.
  auto emitDecode = [&](OpBuilder &b, const Item &it) {
    Value hk = it.local;
    Value h0 = arith::MulIOp::create(b, loc, hk, cst(b, group));
    auto headRows = [&](Value src) {
      int64_t cols = cast<MemRefType>(src.getType()).getDimSize(3);
      return tileView(b, loc, src, {it.tok, h0, zero, zero},
                      {one, b.getIndexAttr(group), one, b.getIndexAttr(cols)},
                      {group, cols});
    };
    auto [maxes, sums, acc] = emitDecodeGroup(
        b, loc, op, decodeKeys, tq, headRows(q), it.bb, hk, it.lk, c0, it.lk);
    Value lseTile;
    if (lse)
      lseTile = tileView(b, loc, lse, {it.tok, h0, zero},
                         {one, b.getIndexAttr(group), one}, {group});
    auto fin = TileFinalizeOp::create(b, loc, maxes, sums, acc, headRows(o),
                                      lseTile, Value(), Value(), it.bb, h0,
                                      c0, op.getNormalizerAttr());
    IRMapping m;
    op.getEpilogue().cloneInto(&fin.getEpilogue(), m);
  };
  // Items [first, first + count) in parallel.
  auto emitItems = [&](Value first, Value count,
                       function_ref<void(OpBuilder &, const Item &)> body) {
    auto items = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{count}, ValueRange{}, std::nullopt);
    items->setAttr("attn.tile_sizes", b.getDenseI64ArrayAttr({tq, tk}));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(items.getBody());
    Value n = items.getBody()->getArgument(0);
    if (first != c0)
      n = arith::AddIOp::create(b, loc, n, first);
    body(b, itemAt(b, n));
  };
  emitItems(c0, numChunkItems, emitPrefill);
  if (packed)
    emitItems(numChunkItems,
              arith::SubIOp::create(b, loc, numItems, numChunkItems),
              emitDecode);
  op.erase();
  return success();
}

/// A query length known only at run time: one kernel serves decode and
/// prefill. `scf.if (Lq == 1)` takes the decode form on the query, output
/// and LSE cast to one row; the other branch the tiled prefill form.
static LogicalResult dispatchOnQueryLength(
    AttentionOp op, llvm::function_ref<LogicalResult(AttentionOp)> prefill,
    llvm::function_ref<LogicalResult(AttentionOp)> decode) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value lq = memref::DimOp::create(b, loc, op.getQuery(), 2);
  Value one = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lq,
                                    arith::ConstantIndexOp::create(b, loc, 1));
  auto branch = scf::IfOp::create(b, loc, one, /*withElseRegion=*/true);
  branch->setAttr("attn.dispatch", b.getStringAttr("decode_if_one_query_row"));
  b.setInsertionPointToStart(branch.thenBlock());
  // The operands, not every use of their buffers (a key may be the query's
  // buffer).
  Value query = castToOneRow(b, loc, op.getQuery());
  SmallVector<Value> outs;
  for (Value out : op.getOutputs())
    outs.push_back(castToOneRow(b, loc, out));
  auto decodeOp = cast<AttentionOp>(b.clone(*op));
  decodeOp.getQueryMutable().assign(query);
  decodeOp.getOutputsMutable().assign(outs);
  b.setInsertionPointToStart(branch.elseBlock());
  auto prefillOp = cast<AttentionOp>(b.clone(*op));
  op.erase();
  if (failed(decode(decodeOp)))
    return failure();
  return prefill(prefillOp);
}

} // namespace

int64_t mlir::attn::raggedDecodeItems(AttentionOp op) {
  return packsRaggedDecode(op) ? op.getNumKvHeads() : op.getNumQueryHeads();
}

bool mlir::attn::tilesRope(AttentionOp op) {
  // The row-tiled and decode forms rotate their query and key tiles; the
  // key-block-major form and the side outputs' passes take rotated
  // operands.
  return !op.getBlocks() && !op.getEntropyOutput() && !op.getScoresOutput();
}

namespace {
struct TileAttention : attn::impl::AttnTileAttentionPassBase<TileAttention> {
  using Base::Base;
  void runOnOperation() override {
    if (qTile <= 0 || kvTile <= 0) {
      getOperation().emitError()
          << "attn-tile-attention: tile sizes must be positive, got q-tile="
          << static_cast<int64_t>(qTile)
          << " kv-tile=" << static_cast<int64_t>(kvTile);
      return signalPassFailure();
    }
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) { ops.push_back(op); });
    for (AttentionOp op : ops) {
      if (!op.hasPureBufferSemantics()) {
        op.emitOpError("expected memref operands; run one-shot-bufferize "
                       "before attn-tile-attention");
        return signalPassFailure();
      }
      if (op.getRope() && !tilesRope(op)) {
        op.emitOpError("has a rope that attn-materialize-rope must make "
                       "explicit first (with a block selection or side "
                       "outputs)");
        return signalPassFailure();
      }
      if (op.isRagged()) {
        if (failed(tileRagged(op, kvTile, stripRows)))
          return signalPassFailure();
        continue;
      }
      if (isKeyBlockMajor(op)) {
        if (failed(tileBlockSparse(op, qTile, kvTile)))
          return signalPassFailure();
        continue;
      }
      auto prefill = [&](AttentionOp op) {
        return tileAttention(
            op, op.getBlocks() && blockQTile > 0 ? blockQTile : qTile, kvTile,
            stripRows);
      };
      auto decode = [&](AttentionOp op) {
        return tileDecode(op, qTile, kvTile, decodeSplitKeys);
      };
      ShapedType qt = op.getQueryType();
      LogicalResult r = success();
      if (decodeSplitKeys <= 0 || !isPackedDecode(op, qTile) ||
          (!qt.isDynamicDim(2) && qt.getDimSize(2) != 1))
        r = prefill(op);
      else if (!qt.isDynamicDim(2))
        r = decode(op);
      else
        r = dispatchOnQueryLength(op, prefill, decode);
      if (failed(r))
        return signalPassFailure();
    }
  }
};
} // namespace
