//===- MaterializePages.cpp - paged caches into dense attention -*- C++ -*-===//
//
// Part of the attn project.
//
// Per-request key lengths and paged key/value pools are read by the CPU
// tiler directly; every other backend gets a dense attention: the pool
// gathered through the page table, the lengths and the per-request causal
// alignment as mask terms. Correct everywhere, at the price of one copy of
// the cache per call.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNMATERIALIZEPAGESPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

bool mlir::attn::tilesThroughPages(AttentionOp op) {
  // attn-tile-attention's dense-row and decode forms read a pool through
  // its table and take each request's length; the other forms need
  // uniform dense operands.
  return op.getKvLens() && !op.getQuery2() && !op.getBlocks() &&
         !op.getRmsNormEps() && !op.getScoresOutput() &&
         !op.getEntropyOutput();
}

/// The dense [B, Hkv, max_pages * page_size, D] tensor of a paged pool:
/// element (b, g, j, d) is pool[table[b, j / ps], j % ps, g, d] (nhd) or
/// pool[..., g, j % ps, d] (hnd) for j < lens[b], and 0 past the length
/// (where the table's entries are not read).
Value mlir::attn::gatherPagedPool(OpBuilder &b, Location loc, AttentionOp op,
                                  Value pool) {
  auto poolType = cast<RankedTensorType>(pool.getType());
  Value table = op.getPageTable(), lens = op.getKvLens();
  int64_t ps = op.getPageSize(), hkv = op.getNumKvHeads();
  int64_t d = poolType.getDimSize(3);
  bool nhd = op.getPageLayout() == PageLayout::nhd;
  Value batch = tensor::DimOp::create(b, loc, op.getQuery(), 0);
  Value maxPages = tensor::DimOp::create(b, loc, table, 1);
  Value length = arith::MulIOp::create(
      b, loc, maxPages, arith::ConstantIndexOp::create(b, loc, ps));
  auto type = RankedTensorType::get(
      {ShapedType::kDynamic, hkv, ShapedType::kDynamic, d},
      poolType.getElementType());
  Value init =
      tensor::EmptyOp::create(b, loc, type, ValueRange{batch, length});
  Value last = arith::SubIOp::create(
      b, loc, tensor::DimOp::create(b, loc, pool, 0),
      arith::ConstantIndexOp::create(b, loc, 1));
  AffineMap id = b.getMultiDimIdentityMap(4);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{}, ValueRange{init},
      ArrayRef<AffineMap>{id},
      SmallVector<utils::IteratorType>(4, utils::IteratorType::parallel),
      [&](OpBuilder &gb, Location l, ValueRange) {
        Value bi = linalg::IndexOp::create(gb, l, 0);
        Value g = linalg::IndexOp::create(gb, l, 1);
        Value j = linalg::IndexOp::create(gb, l, 2);
        Value di = linalg::IndexOp::create(gb, l, 3);
        Value cps = arith::ConstantIndexOp::create(gb, l, ps);
        Value n = arith::DivUIOp::create(gb, l, j, cps);
        Value r = arith::RemUIOp::create(gb, l, j, cps);
        Value len = arith::IndexCastOp::create(
            gb, l, gb.getIndexType(),
            tensor::ExtractOp::create(gb, l, lens, ValueRange{bi}));
        Value inside =
            arith::CmpIOp::create(gb, l, arith::CmpIPredicate::slt, j, len);
        Value c0 = arith::ConstantIndexOp::create(gb, l, 0);
        // Past the length the entry may be anything: read the table at a
        // column the request uses... or not at all: page 0 of the pool
        // (the runtime checks that a table with columns has a pool with
        // at least one page) and a zero element.
        Value entry = arith::IndexCastOp::create(
            gb, l, gb.getIndexType(),
            tensor::ExtractOp::create(gb, l, table, ValueRange{bi, n}));
        // Clamped into the pool as well (the runtime has checked the
        // entries; the clamp bounds the access for Halide's inference).
        Value page = arith::SelectOp::create(gb, l, inside, entry, c0);
        page = arith::MinSIOp::create(
            gb, l, arith::MaxSIOp::create(gb, l, page, c0), last);
        SmallVector<Value> at = nhd ? SmallVector<Value>{page, r, g, di}
                                    : SmallVector<Value>{page, g, r, di};
        Value x = tensor::ExtractOp::create(gb, l, pool, at);
        Value zero = arith::ConstantOp::create(
            gb, l, gb.getZeroAttr(poolType.getElementType()));
        linalg::YieldOp::create(
            gb, l, ValueRange{arith::SelectOp::create(gb, l, inside, x, zero)});
      });
  return generic.getResult(0);
}

namespace {

/// The mask region of the dense form: j < lens[b], with causal
/// j <= i + lens[b] - Lq, and the op's own mask.
static void buildMask(OpBuilder &b, Location loc, AttentionOp op, Value lq,
                      Region &into) {
  Type idx = b.getIndexType();
  OpBuilder::InsertionGuard guard(b);
  Block *block = b.createBlock(&into, into.end(), {idx, idx, idx, idx},
                               SmallVector<Location>(4, loc));
  Value bi = block->getArgument(0), i = block->getArgument(2),
        j = block->getArgument(3);
  Value len = arith::IndexCastOp::create(
      b, loc, idx,
      tensor::ExtractOp::create(b, loc, op.getKvLens(), ValueRange{bi}));
  Value visible =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, j, len);
  if (op.getCausal()) {
    // j + Lq <= i + len, in index arithmetic that cannot wrap below 0.
    Value lhs = arith::AddIOp::create(b, loc, j, lq);
    Value rhs = arith::AddIOp::create(b, loc, i, len);
    visible = arith::AndIOp::create(
        b, loc, visible,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, lhs, rhs));
  }
  if (!op.getMask().empty())
    visible = arith::AndIOp::create(
        b, loc, visible,
        AttentionOp::inlineScalarRegion(b, op.getMask(),
                                        block->getArguments()));
  YieldOp::create(b, loc, ValueRange{visible});
}

struct MaterializePages
    : attn::impl::AttnMaterializePagesPassBase<MaterializePages> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (op.getKvLens() && op.hasPureTensorSemantics() &&
          !(keepFused && tilesThroughPages(op)))
        ops.push_back(op);
    });
    for (AttentionOp op : ops) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      Value k = op.getKey(), v = op.getValue();
      if (op.isPaged()) {
        k = gatherPagedPool(b, loc, op, k);
        v = gatherPagedPool(b, loc, op, v);
      }
      SmallVector<Value> outs(op.getOutputs());
      // (Above the op: every backend evaluates regions' captured values.)
      Value lq = tensor::DimOp::create(b, loc, op.getQuery(), 2);
      auto dense = AttentionOp::create(
          b, loc, op->getResultTypes(), op.getQuery(), k, v, Value(), Value(),
          Value(), Value(), Value(), Value(), Value(), outs,
          /*causal=*/nullptr,
          b.getF32FloatAttr(op.getScaleValue()), op.getNormalizerAttr(),
          op.getRmsNormEpsAttr(), nullptr, nullptr, nullptr, nullptr, nullptr,
          nullptr, op.getRopeAttr());
      IRMapping m;
      op.getScore().cloneInto(&dense.getScore(), m);
      op.getEpilogue().cloneInto(&dense.getEpilogue(), m);
      op.getSink().cloneInto(&dense.getSink(), m);
      buildMask(b, loc, op, lq, dense.getMask());
      op.replaceAllUsesWith(dense.getResults());
      op.erase();
    }
  }
};
} // namespace
