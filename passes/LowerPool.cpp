//===- LowerPool.cpp - attn.pool to loops -----------------------*- C++ -*-===//
//
// Part of the attn project.
//
// Rewrites a memref attn.pool into an scf.forall over (leading dims, block)
// with, per channel, one pass over the block's rows that keeps every
// requested statistic (max, min, sum) in registers.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERPOOLPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

static void lowerPool(PoolOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value in = op.getInput(), out = op.getOutput();
  int64_t rank = cast<MemRefType>(in.getType()).getRank();
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto f32c = [&](float v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  };
  SmallVector<OpFoldResult> ubs;
  for (int64_t d = 0; d + 2 < rank; ++d)
    ubs.push_back(memref::DimOp::create(b, loc, in, d).getResult());
  Value len = memref::DimOp::create(b, loc, in, rank - 2);
  Value channels = memref::DimOp::create(b, loc, in, rank - 1);
  Value block = idx(op.getBlock());
  ubs.push_back(arith::CeilDivUIOp::create(b, loc, len, block).getResult());
  auto forall =
      scf::ForallOp::create(b, loc, ubs, ValueRange{}, std::nullopt);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs(forall.getInductionVars());
  Value n = ivs.back();
  ivs.pop_back();
  Value first = arith::MulIOp::create(b, loc, n, block);
  Value last = arith::MinUIOp::create(
      b, loc, len, arith::AddIOp::create(b, loc, first, block));
  Value count = arith::UIToFPOp::create(
      b, loc, b.getF32Type(),
      arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                 arith::SubIOp::create(b, loc, last, first)));
  float inf = std::numeric_limits<float>::infinity();
  scf::ForOp::create(
      b, loc, idx(0), channels, idx(1), ValueRange{},
      [&](OpBuilder &lb, Location, Value d, ValueRange) {
        auto stats = scf::ForOp::create(
            lb, loc, first, last, idx(1),
            ValueRange{f32c(-inf), f32c(inf), f32c(0.0f)},
            [&](OpBuilder &rb, Location, Value r, ValueRange acc) {
              SmallVector<Value> at = ivs;
              at.append({r, d});
              Value x = memref::LoadOp::create(rb, loc, in, at);
              if (!x.getType().isF32())
                x = arith::ExtFOp::create(rb, loc, rb.getF32Type(), x);
              scf::YieldOp::create(
                  rb, loc,
                  ValueRange{arith::MaximumFOp::create(rb, loc, acc[0], x),
                             arith::MinimumFOp::create(rb, loc, acc[1], x),
                             arith::AddFOp::create(rb, loc, acc[2], x)});
            });
        for (auto [c, kind] : llvm::enumerate(op.getKinds())) {
          StringRef k = cast<StringAttr>(kind).getValue();
          Value v = k == "max"   ? stats.getResult(0)
                    : k == "min" ? stats.getResult(1)
                                 : arith::DivFOp::create(
                                       lb, loc, stats.getResult(2), count)
                                       .getResult();
          Value col = arith::AddIOp::create(
              lb, loc, d,
              arith::MulIOp::create(lb, loc, channels,
                                    arith::ConstantIndexOp::create(lb, loc, c)));
          SmallVector<Value> at = ivs;
          at.append({n, col});
          memref::StoreOp::create(lb, loc, v, out, at);
        }
        scf::YieldOp::create(lb, loc);
      });
  op.erase();
}

struct LowerPool : attn::impl::AttnLowerPoolPassBase<LowerPool> {
  void runOnOperation() override {
    SmallVector<PoolOp> ops;
    getOperation().walk([&](PoolOp op) { ops.push_back(op); });
    for (PoolOp op : ops) {
      if (!isa<MemRefType>(op.getInput().getType())) {
        op.emitOpError("must be bufferized before attn-lower-pool");
        return signalPassFailure();
      }
      lowerPool(op);
    }
  }
};

} // namespace
