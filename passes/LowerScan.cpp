//===- LowerScan.cpp - attn.scan on memrefs to its recurrent form -*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/LoopBuilders.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERSCANPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class ScanLowering {
public:
  ScanLowering(OpBuilder &b, ScanOp op) : b(b), loc(op.getLoc()), op(op) {}

  LogicalResult run() {
    auto k = cast<MemRefType>(op.getKey().getType());
    auto v = cast<MemRefType>(op.getValue().getType());
    int64_t dk = k.getDimSize(3), dv = v.getDimSize(3);
    if (ShapedType::isDynamic(dk) || ShapedType::isDynamic(dv))
      return op.emitOpError("attn-lower-scan needs static head dims");
    Value batch = memref::DimOp::create(b, loc, op.getQuery(), 0);
    Value heads = memref::DimOp::create(b, loc, op.getQuery(), 1);
    Value len = memref::DimOp::create(b, loc, op.getQuery(), 2);
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, heads}, ValueRange{},
        std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    Value bb = forall.getInductionVar(0), h = forall.getInductionVar(1);
    Type f32 = b.getF32Type();
    Value s = memref::AllocaOp::create(b, loc, MemRefType::get({dk, dv}, f32));
    Value z = memref::AllocaOp::create(b, loc, MemRefType::get({dk}, f32));
    Value phiQ = memref::AllocaOp::create(b, loc, MemRefType::get({dk}, f32));
    // Initial state (or zeros), zero normalizer.
    buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
      store(zero(), z, {i});
      buildFor(b, loc, idx(0), idx(dv), 1, [&](Value j) {
        Value init = op.getState() ? load(op.getState(), {bb, h, i, j}) : zero();
        store(init, s, {i, j});
      });
    });
    Value lambda;
    if (op.getDecay() == DecayKind::head)
      lambda = load(op.getDecays(), {h});
    buildFor(b, loc, idx(0), len, 1, [&](Value t) {
      // S = D_t S + phi(k_t)^T v_t; z = D_t z + phi(k_t).
      buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
        Value kk = phi(load(op.getKey(), {bb, h, t, i}), i);
        Value d = op.getDecay() == DecayKind::head ? lambda
                  : op.getDecay() == DecayKind::channel
                      ? Value(math::ExpOp::create(
                            b, loc, load(op.getDecays(), {bb, h, t, i})))
                      : Value();
        auto decayed = [&](Value x) {
          return d ? Value(arith::MulFOp::create(b, loc, d, x)) : x;
        };
        if (op.getNormalize())
          store(arith::AddFOp::create(b, loc, decayed(load(z, {i})), kk), z,
                {i});
        store(phi(load(op.getQuery(), {bb, h, t, i}), i), phiQ, {i});
        buildFor(b, loc, idx(0), idx(dv), 1, [&](Value j) {
          Value kv = arith::MulFOp::create(b, loc, kk,
                                           load(op.getValue(), {bb, h, t, j}));
          store(arith::AddFOp::create(b, loc, decayed(load(s, {i, j})), kv), s,
                {i, j});
        });
      });
      // o_t = phi(q_t) S (/ phi(q_t) . z).
      Value den;
      if (op.getNormalize())
        den = buildReduce(b, loc, idx(0), idx(dk), ValueRange{zero()},
                          [&](Value i, ValueRange acc) -> SmallVector<Value> {
                            return {arith::AddFOp::create(
                                b, loc, acc[0],
                                arith::MulFOp::create(b, loc, load(phiQ, {i}),
                                                      load(z, {i})))};
                          })[0];
      Type outElem =
          cast<MemRefType>(op.getOutput().getType()).getElementType();
      buildFor(b, loc, idx(0), idx(dv), 1, [&](Value j) {
        Value o = buildReduce(
            b, loc, idx(0), idx(dk), ValueRange{zero()},
            [&](Value i, ValueRange acc) -> SmallVector<Value> {
              return {arith::AddFOp::create(
                  b, loc, acc[0],
                  arith::MulFOp::create(b, loc, load(phiQ, {i}),
                                        load(s, {i, j})))};
            })[0];
        if (den)
          o = arith::DivFOp::create(b, loc, o, den);
        store(toType(o, outElem), op.getOutput(), {bb, h, t, j});
      });
    });
    if (Value final = op.getFinalState())
      buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
        buildFor(b, loc, idx(0), idx(dv), 1, [&](Value j) {
          store(load(s, {i, j}), final, {bb, h, i, j});
        });
      });
    return success();
  }

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value zero() {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  }
  /// Loads as f32.
  Value load(Value m, ValueRange ivs) {
    Value x = memref::LoadOp::create(b, loc, m, ivs);
    return toType(x, b.getF32Type());
  }
  void store(Value x, Value m, ValueRange ivs) {
    memref::StoreOp::create(b, loc, x, m, ivs);
  }
  Value toType(Value x, Type type) {
    unsigned from = x.getType().getIntOrFloatBitWidth(),
             to = type.getIntOrFloatBitWidth();
    if (x.getType() == type)
      return x;
    if (from < to)
      return arith::ExtFOp::create(b, loc, type, x);
    return arith::TruncFOp::create(b, loc, type, x);
  }
  Value phi(Value x, Value d) {
    if (op.getFeatureMap().empty())
      return x;
    return AttentionOp::inlineScalarRegion(b, op.getFeatureMap(), {x, d});
  }

  OpBuilder &b;
  Location loc;
  ScanOp op;
};

struct LowerScan : attn::impl::AttnLowerScanPassBase<LowerScan> {
  void runOnOperation() override {
    SmallVector<ScanOp> ops;
    getOperation().walk([&](ScanOp op) { ops.push_back(op); });
    for (ScanOp op : ops) {
      if (op->getNumResults() != 0) {
        op.emitOpError("must be bufferized before attn-lower-scan");
        return signalPassFailure();
      }
      OpBuilder b(op);
      if (failed(ScanLowering(b, op).run()))
        return signalPassFailure();
      op.erase();
    }
  }
};

} // namespace
