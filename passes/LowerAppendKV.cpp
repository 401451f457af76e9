//===- LowerAppendKV.cpp - attn.append_kv into a scatter loop ---*- C++ -*-===//
//
// Part of the attn project.
//
// Writing new key/value rows into their pages is a scatter: one parallel
// iteration per (token, KV head) that copies a row, converted to the
// pools' element type, or nothing for a negative slot.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERAPPENDKVPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// `x` converted to the float type `to`.
static Value convertFloat(OpBuilder &b, Location loc, Value x, Type to) {
  Type from = x.getType();
  if (from == to)
    return x;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, x);
  if (from.getIntOrFloatBitWidth() > to.getIntOrFloatBitWidth())
    return arith::TruncFOp::create(b, loc, to, x);
  // f16 <-> bf16: through f32.
  Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), x);
  return arith::TruncFOp::create(b, loc, to, wide);
}

struct LowerAppendKV
    : attn::impl::AttnLowerAppendKVPassBase<LowerAppendKV> {
  void runOnOperation() override {
    SmallVector<AppendKVOp> ops;
    getOperation().walk([&](AppendKVOp op) { ops.push_back(op); });
    for (AppendKVOp op : ops) {
      if (!op.hasPureBufferSemantics()) {
        op.emitOpError("expected memref operands; run one-shot-bufferize "
                       "before attn-lower-append-kv");
        return signalPassFailure();
      }
      OpBuilder b(op);
      Location loc = op.getLoc();
      bool nhd = op.getPageLayout() == PageLayout::nhd;
      int64_t hkv = cast<MemRefType>(op.getKeys().getType()).getDimSize(1);
      Value tokens = memref::DimOp::create(b, loc, op.getSlots(), 0);
      Value ps = arith::ConstantIndexOp::create(b, loc, op.getPageSize());
      auto forall = scf::ForallOp::create(
          b, loc, ArrayRef<OpFoldResult>{tokens, b.getIndexAttr(hkv)},
          ValueRange{}, std::nullopt);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(forall.getBody());
      Value t = forall.getBody()->getArgument(0);
      Value g = forall.getBody()->getArgument(1);
      Value slot = memref::LoadOp::create(b, loc, op.getSlots(), ValueRange{t});
      Value zero32 = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                          slot, zero32);
      scf::IfOp::create(b, loc, valid, [&](OpBuilder &ib, Location) {
        Value s = arith::IndexCastOp::create(ib, loc, ib.getIndexType(), slot);
        Value page = arith::DivUIOp::create(ib, loc, s, ps);
        Value row = arith::RemUIOp::create(ib, loc, s, ps);
        Value c0 = arith::ConstantIndexOp::create(ib, loc, 0);
        Value c1 = arith::ConstantIndexOp::create(ib, loc, 1);
        for (auto [src, pool] : {std::pair{op.getKeys(), op.getKeyPool()},
                                 {op.getValues(), op.getValuePool()}}) {
          auto poolType = cast<MemRefType>(pool.getType());
          Value dim = arith::ConstantIndexOp::create(ib, loc,
                                                     poolType.getDimSize(3));
          scf::ForOp::create(
              ib, loc, c0, dim, c1, ValueRange{},
              [&](OpBuilder &lb, Location, Value d, ValueRange) {
                Value x = memref::LoadOp::create(lb, loc, src,
                                                 ValueRange{t, g, d});
                x = convertFloat(lb, loc, x, poolType.getElementType());
                SmallVector<Value> at = nhd
                                            ? SmallVector<Value>{page, row, g, d}
                                            : SmallVector<Value>{page, g, row, d};
                memref::StoreOp::create(lb, loc, x, pool, at);
                scf::YieldOp::create(lb, loc);
              });
        }
        scf::YieldOp::create(ib, loc);
      });
      op.erase();
    }
  }
};
} // namespace
