//===- LowerCumsum.cpp - attn.cumsum on memrefs to loops --------*- C++ -*-===//
//
// Part of the attn project.
//
// The scan is O(elements) and runs once before the attention it feeds, so a
// plain loop nest (the scanned dim innermost, an f32 running sum carried
// through it) is all it needs.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERCUMSUMPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Emits the loops over dims [d, rank) of `op`, skipping the scanned dim,
/// then the scan itself.
static void emitLoops(OpBuilder &b, Location loc, CumsumOp op, int64_t d,
                      SmallVectorImpl<Value> &ivs) {
  auto type = cast<MemRefType>(op.getInput().getType());
  int64_t dim = op.getDim();
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  if (d == type.getRank()) {
    Value n = memref::DimOp::create(b, loc, op.getInput(), dim);
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    scf::ForOp::create(
        b, loc, c0, n, c1, ValueRange{zero},
        [&](OpBuilder &b, Location loc, Value t, ValueRange sum) {
          SmallVector<Value> at(ivs.begin(), ivs.end());
          // reverse: t' = n - 1 - t, a suffix sum.
          at[dim] = op.getReverse()
                        ? arith::SubIOp::create(
                              b, loc, arith::SubIOp::create(b, loc, n, c1), t)
                              .getResult()
                        : t;
          Value x = memref::LoadOp::create(b, loc, op.getInput(), at);
          if (!x.getType().isF32())
            x = arith::ExtFOp::create(b, loc, b.getF32Type(), x);
          Value s = arith::AddFOp::create(b, loc, sum[0], x);
          Type outElem =
              cast<MemRefType>(op.getOutput().getType()).getElementType();
          Value y = s;
          if (outElem.getIntOrFloatBitWidth() < 32)
            y = arith::TruncFOp::create(b, loc, outElem, s);
          else if (!outElem.isF32())
            y = arith::ExtFOp::create(b, loc, outElem, s);
          memref::StoreOp::create(b, loc, y, op.getOutput(), at);
          scf::YieldOp::create(b, loc, s);
        });
    return;
  }
  if (d == dim) {
    ivs.push_back(Value()); // filled by the scan loop
    emitLoops(b, loc, op, d + 1, ivs);
    ivs.pop_back();
    return;
  }
  Value n = memref::DimOp::create(b, loc, op.getInput(), d);
  scf::ForOp::create(b, loc, c0, n, c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value iv, ValueRange) {
                       ivs.push_back(iv);
                       emitLoops(b, loc, op, d + 1, ivs);
                       ivs.pop_back();
                       scf::YieldOp::create(b, loc);
                     });
}

struct LowerCumsum : attn::impl::AttnLowerCumsumPassBase<LowerCumsum> {
  void runOnOperation() override {
    SmallVector<CumsumOp> ops;
    getOperation().walk([&](CumsumOp op) { ops.push_back(op); });
    for (CumsumOp op : ops) {
      if (!isa<MemRefType>(op.getInput().getType())) {
        op.emitOpError("must be bufferized before attn-lower-cumsum");
        return signalPassFailure();
      }
      OpBuilder b(op);
      SmallVector<Value> ivs;
      emitLoops(b, op.getLoc(), op, 0, ivs);
      op.erase();
    }
  }
};

} // namespace
