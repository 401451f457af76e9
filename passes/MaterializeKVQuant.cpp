//===- MaterializeKVQuant.cpp - quantized caches as dequantized tensors ---===//
//
// Part of the attn project.
//
// `attn.attention ... key_scale(...) value_scale(...)` reads 8-bit caches.
// The CPU tiler dequantizes each tile as it stages it; every other backend
// gets the dequantized operand as a tensor (a linalg.generic over the cache,
// in the query's element type) and a plain attention. Correct everywhere,
// at the price of one dequantized copy of the cache per call.
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
#define GEN_PASS_DEF_ATTNMATERIALIZEKVQUANTPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

bool mlir::attn::tilesQuantized(AttentionOp op) {
  // The row-tiled and decode forms stage every key and value tile (the
  // verifier keeps quantized caches out of the other forms).
  return !op.getQuery2() && !op.getBlocks() && !op.getRmsNormEps() &&
         !op.getScoresOutput() && !op.getEntropyOutput();
}

/// The tensor `scale * decode(codes)` in `eltType`.
static Value dequantize(OpBuilder &b, Location loc, Value codes, Value scale,
                        Type eltType) {
  auto type = cast<RankedTensorType>(codes.getType());
  auto scaleType = cast<RankedTensorType>(scale.getType());
  SmallVector<int64_t> blocks = getScaleBlocks(type, scaleType);
  double factor = decodeFactor(type.getElementType());
  auto outType = RankedTensorType::get(type.getShape(), eltType);
  Value init = tensor::EmptyOp::create(
      b, loc, outType, tensor::createDynamicDimValues(b, loc, codes));
  AffineMap id = b.getMultiDimIdentityMap(type.getRank());
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{outType}, ValueRange{codes}, ValueRange{init},
      ArrayRef<AffineMap>{id, id},
      SmallVector<utils::IteratorType>(type.getRank(),
                                       utils::IteratorType::parallel),
      [&](OpBuilder &gb, Location l, ValueRange args) {
        SmallVector<Value> idx;
        for (int64_t d = 0; d < type.getRank(); ++d)
          idx.push_back(linalg::IndexOp::create(gb, l, d));
        Value s = tensor::ExtractOp::create(
            gb, l, scale, scaleIndices(gb, l, blocks, idx));
        Type f32 = gb.getF32Type();
        if (!s.getType().isF32())
          s = arith::ExtFOp::create(gb, l, f32, s);
        Value x = decodeCodes(gb, l, args[0]);
        if (factor != 1.0)
          x = arith::MulFOp::create(
              gb, l, x,
              arith::ConstantOp::create(gb, l, gb.getF32FloatAttr(factor)));
        x = arith::MulFOp::create(gb, l, x, s);
        if (!eltType.isF32())
          x = arith::TruncFOp::create(gb, l, eltType, x);
        linalg::YieldOp::create(gb, l, ValueRange{x});
      });
  return generic.getResult(0);
}

void mlir::attn::dequantizeKV(OpBuilder &b, AttentionOp op) {
  if (!op.isQuantized())
    return;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(op);
  Type elt = op.getQueryType().getElementType();
  if (Value s = op.getKeyScale()) {
    op.getKeyMutable().assign(dequantize(b, op.getLoc(), op.getKey(), s, elt));
    op.getKeyScaleMutable().clear();
  }
  if (Value s = op.getValueScale()) {
    op.getValueMutable().assign(
        dequantize(b, op.getLoc(), op.getValue(), s, elt));
    op.getValueScaleMutable().clear();
  }
}

namespace {
struct MaterializeKVQuant
    : attn::impl::AttnMaterializeKVQuantPassBase<MaterializeKVQuant> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (op.isQuantized() && op.hasPureTensorSemantics() &&
          !(keepFused && tilesQuantized(op)))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    for (AttentionOp op : ops)
      dequantizeKV(b, op);
  }
};
} // namespace
