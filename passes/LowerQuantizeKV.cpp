//===- LowerQuantizeKV.cpp - attn.quantize_kv to linalg ---------*- C++ -*-===//
//
// Part of the attn project.
//
// attn.quantize_kv as linalg.generics on tensors: the scales (a max
// reduction over each group, when computed) and the codes (an elementwise
// generic that reads its group's scale).
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"
#include "passes/Quant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERQUANTIZEKVPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

/// The computed scales: max |x| over each group / the largest code, in the
/// scale's element type. A reduction generic over [scale dims (parallel),
/// block dims (reduction)]; the block dims' extents come from an unread
/// operand of the block's shape, the input is read with tensor.extract.
static Value computeScales(OpBuilder &b, Location loc, QuantizeKVOp op) {
  Value x = op.getInput();
  auto xType = cast<RankedTensorType>(x.getType());
  auto sType = cast<RankedTensorType>(op.getOutputs()[1].getType());
  auto codesType = cast<RankedTensorType>(op.getOutputs()[0].getType());
  SmallVector<int64_t> blocks = getScaleBlocks(codesType, sType);
  int64_t rank = xType.getRank();
  Type f32 = b.getF32Type();

  // The block's shape: whole dims where the scale broadcasts.
  SmallVector<int64_t> blockShape;
  SmallVector<Value> blockSizes;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t n = blocks[d] == 0 ? xType.getDimSize(d) : blocks[d];
    blockShape.push_back(n);
    if (ShapedType::isDynamic(n))
      blockSizes.push_back(tensor::DimOp::create(b, loc, x, d));
  }
  Value extents = tensor::EmptyOp::create(
      b, loc, RankedTensorType::get(blockShape, f32), blockSizes);
  auto amaxType = RankedTensorType::get(sType.getShape(), f32);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value amaxInit = linalg::FillOp::create(
                       b, loc, ValueRange{zero},
                       ValueRange{tensor::EmptyOp::create(
                           b, loc, amaxType,
                           tensor::createDynamicDimValues(
                               b, loc, op.getOutputs()[1]))})
                       .getResult(0);
  SmallVector<AffineExpr> outer, inner;
  for (int64_t d = 0; d < rank; ++d) {
    outer.push_back(b.getAffineDimExpr(d));
    inner.push_back(b.getAffineDimExpr(rank + d));
  }
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  iters.append(rank, utils::IteratorType::reduction);
  auto amax = linalg::GenericOp::create(
      b, loc, TypeRange{amaxType}, ValueRange{extents}, ValueRange{amaxInit},
      ArrayRef<AffineMap>{AffineMap::get(2 * rank, 0, inner, b.getContext()),
                          AffineMap::get(2 * rank, 0, outer, b.getContext())},
      iters, [&](OpBuilder &gb, Location l, ValueRange args) {
        SmallVector<Value> idx;
        for (int64_t d = 0; d < rank; ++d) {
          Value r = linalg::IndexOp::create(gb, l, rank + d);
          if (blocks[d] <= 1) {
            // Broadcast dims walk the block; one-per-index dims are the
            // scale's index (their block dim has extent 1).
            idx.push_back(blocks[d] == 0
                              ? r
                              : linalg::IndexOp::create(gb, l, d).getResult());
            continue;
          }
          Value s = linalg::IndexOp::create(gb, l, d);
          idx.push_back(arith::AddIOp::create(
              gb, l,
              arith::MulIOp::create(
                  gb, l, s, arith::ConstantIndexOp::create(gb, l, blocks[d])),
              r));
        }
        Value v = tensor::ExtractOp::create(gb, l, x, idx);
        if (!v.getType().isF32())
          v = arith::ExtFOp::create(gb, l, f32, v);
        Value bits = arith::BitcastOp::create(gb, l, gb.getI32Type(), v);
        Value abs = arith::BitcastOp::create(
            gb, l, f32,
            arith::AndIOp::create(
                gb, l, bits,
                arith::ConstantOp::create(gb, l,
                                          gb.getI32IntegerAttr(0x7fffffff))));
        linalg::YieldOp::create(
            gb, l,
            ValueRange{arith::MaxNumFOp::create(gb, l, args[1], abs)});
      });
  // Scale = amax / max code, in the scale's type.
  double maxCode = getQuantizedMax(codesType.getElementType());
  AffineMap id = b.getMultiDimIdentityMap(rank);
  auto scales = linalg::GenericOp::create(
      b, loc, TypeRange{sType}, ValueRange{amax.getResult(0)},
      ValueRange{op.getOutputs()[1]}, ArrayRef<AffineMap>{id, id},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &gb, Location l, ValueRange args) {
        Value s = arith::DivFOp::create(
            gb, l, args[0],
            arith::ConstantOp::create(gb, l, gb.getF32FloatAttr(maxCode)));
        if (!sType.getElementType().isF32())
          s = arith::TruncFOp::create(gb, l, sType.getElementType(), s);
        linalg::YieldOp::create(gb, l, ValueRange{s});
      });
  return scales.getResult(0);
}

/// The codes: encode(x / s), 0 where the group's scale is 0.
static Value computeCodes(OpBuilder &b, Location loc, QuantizeKVOp op,
                          Value scales) {
  Value x = op.getInput();
  auto codesType = cast<RankedTensorType>(op.getOutputs()[0].getType());
  auto sType = cast<RankedTensorType>(scales.getType());
  SmallVector<int64_t> blocks = getScaleBlocks(codesType, sType);
  int64_t rank = codesType.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  Type code = codesType.getElementType();
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{codesType}, ValueRange{x},
      ValueRange{op.getOutputs()[0]}, ArrayRef<AffineMap>{id, id},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &gb, Location l, ValueRange args) {
        Type f32 = gb.getF32Type();
        SmallVector<Value> idx;
        for (int64_t d = 0; d < rank; ++d)
          idx.push_back(linalg::IndexOp::create(gb, l, d));
        Value s = tensor::ExtractOp::create(
            gb, l, scales, scaleIndices(gb, l, blocks, idx));
        if (!s.getType().isF32())
          s = arith::ExtFOp::create(gb, l, f32, s);
        Value v = args[0];
        if (!v.getType().isF32())
          v = arith::ExtFOp::create(gb, l, f32, v);
        Value zero = arith::ConstantOp::create(gb, l, gb.getF32FloatAttr(0.0f));
        Value y = arith::SelectOp::create(
            gb, l,
            arith::CmpFOp::create(gb, l, arith::CmpFPredicate::OEQ, s, zero),
            zero, arith::DivFOp::create(gb, l, v, s));
        linalg::YieldOp::create(gb, l,
                                ValueRange{encodeCodes(gb, l, y, code)});
      });
  return generic.getResult(0);
}

namespace {
struct LowerQuantizeKV
    : attn::impl::AttnLowerQuantizeKVPassBase<LowerQuantizeKV> {
  void runOnOperation() override {
    SmallVector<QuantizeKVOp> ops;
    getOperation().walk([&](QuantizeKVOp op) { ops.push_back(op); });
    for (QuantizeKVOp op : ops) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      Value scales = op.getScale() ? op.getScale() : computeScales(b, loc, op);
      Value codes = computeCodes(b, loc, op, scales);
      SmallVector<Value> results{codes};
      if (!op.getScale())
        results.push_back(scales);
      op.replaceAllUsesWith(results);
      op.erase();
    }
  }
};
} // namespace
