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

Value mlir::attn::raggedRequests(OpBuilder &b, Location loc, AttentionOp op) {
  Value indptr = op.getQoIndptr();
  Type i32 = b.getI32Type();
  Value tokens = tensor::DimOp::create(b, loc, op.getQuery(), 0);
  // The reduction's extent over requests comes from kv_lens ([B]); it
  // reads indptr[r + 1] (a slice would be one more op for every backend).
  auto type = RankedTensorType::get({ShapedType::kDynamic}, i32);
  Value init = linalg::FillOp::create(
                   b, loc,
                   ValueRange{arith::ConstantOp::create(
                       b, loc, b.getI32IntegerAttr(0))},
                   ValueRange{tensor::EmptyOp::create(b, loc, type,
                                                      ValueRange{tokens})})
                   .getResult(0);
  MLIRContext *ctx = b.getContext();
  AffineExpr t = getAffineDimExpr(0, ctx), r = getAffineDimExpr(1, ctx);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{op.getKvLens()},
             ValueRange{init},
             ArrayRef<AffineMap>{AffineMap::get(2, 0, {r}, ctx),
                                 AffineMap::get(2, 0, {t}, ctx)},
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::reduction},
             [&](OpBuilder &gb, Location l, ValueRange args) {
               Value ti = arith::IndexCastOp::create(
                   gb, l, i32, linalg::IndexOp::create(gb, l, 0));
               Value end = tensor::ExtractOp::create(
                   gb, l, indptr,
                   ValueRange{arith::AddIOp::create(
                       gb, l, linalg::IndexOp::create(gb, l, 1),
                       arith::ConstantIndexOp::create(gb, l, 1))});
               Value past = arith::CmpIOp::create(
                   gb, l, arith::CmpIPredicate::sle, end, ti);
               Value add = arith::ExtUIOp::create(gb, l, i32, past);
               linalg::YieldOp::create(
                   gb, l, ValueRange{arith::AddIOp::create(gb, l, args[1],
                                                           add)});
             })
      .getResult(0);
}

Value mlir::attn::requestOf(OpBuilder &b, Location loc, Value requests,
                            Value last, Value bi) {
  if (!requests)
    return bi;
  Value r = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      tensor::ExtractOp::create(b, loc, requests, ValueRange{bi}));
  return arith::MinSIOp::create(
      b, loc,
      arith::MaxSIOp::create(b, loc, r,
                             arith::ConstantIndexOp::create(b, loc, 0)),
      last);
}

Value mlir::attn::lastRequest(OpBuilder &b, Location loc, AttentionOp op) {
  return arith::SubIOp::create(
      b, loc, tensor::DimOp::create(b, loc, op.getKvLens(), 0),
      arith::ConstantIndexOp::create(b, loc, 1));
}

/// The dense [B, Hkv, max_pages * page_size, D] tensor of a paged pool:
/// element (b, g, j, d) is pool[table[b, j / ps], j % ps, g, d] (nhd) or
/// pool[..., g, j % ps, d] (hnd) for j < lens[b], and 0 past the length
/// (where the table's entries are not read).
Value mlir::attn::gatherPagedPool(OpBuilder &b, Location loc, AttentionOp op,
                                  Value pool, Value requests) {
  auto poolType = cast<RankedTensorType>(pool.getType());
  Value table = op.getPageTable(), lens = op.getKvLens();
  int64_t ps = op.getPageSize(), hkv = op.getNumKvHeads();
  int64_t d = poolType.getDimSize(3);
  bool nhd = op.getPageLayout() == PageLayout::nhd;
  Value batch = tensor::DimOp::create(b, loc, requests ? requests : lens, 0);
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
  Value lastReq = requests ? lastRequest(b, loc, op) : Value();
  AffineMap id = b.getMultiDimIdentityMap(4);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{}, ValueRange{init},
      ArrayRef<AffineMap>{id},
      SmallVector<utils::IteratorType>(4, utils::IteratorType::parallel),
      [&](OpBuilder &gb, Location l, ValueRange) {
        Value bi = requestOf(gb, l, requests, lastReq,
                             linalg::IndexOp::create(gb, l, 0));
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

/// Dense keys [B, Hkv, L, D] per token of a ragged batch: [T, Hkv, L, D],
/// entry t the keys of request requests[t].
static Value gatherRequests(OpBuilder &b, Location loc, AttentionOp op,
                            Value x, Value requests) {
  Value last = lastRequest(b, loc, op);
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = ShapedType::kDynamic;
  auto outType = RankedTensorType::get(shape, type.getElementType());
  SmallVector<Value> dims{tensor::DimOp::create(b, loc, requests, 0)};
  for (unsigned d = 1; d < 4; ++d)
    if (type.isDynamicDim(d))
      dims.push_back(tensor::DimOp::create(b, loc, x, d));
  Value init = tensor::EmptyOp::create(b, loc, outType, dims);
  return linalg::GenericOp::create(
             b, loc, TypeRange{outType}, ValueRange{}, ValueRange{init},
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(4)},
             SmallVector<utils::IteratorType>(4, utils::IteratorType::parallel),
             [&](OpBuilder &gb, Location l, ValueRange) {
               SmallVector<Value> at;
               for (unsigned d = 0; d < 4; ++d)
                 at.push_back(linalg::IndexOp::create(gb, l, d));
               at[0] = requestOf(gb, l, requests, last, at[0]);
               linalg::YieldOp::create(
                   gb, l, ValueRange{tensor::ExtractOp::create(gb, l, x, at)});
             })
      .getResult(0);
}

/// Where a dense-form row (batch entry `bi`, row `i`) of a ragged op sits:
/// its request, its row within the request's chunk and the chunk's length.
struct RaggedRow {
  Value request, row, chunk;
};
static RaggedRow raggedRow(OpBuilder &b, Location loc, AttentionOp op,
                           Value requests, Value last, Value bi, Value i) {
  Type idx = b.getIndexType();
  Value r = requestOf(b, loc, requests, last, bi);
  auto at = [&](Value n) -> Value {
    return arith::IndexCastOp::create(
        b, loc, idx,
        tensor::ExtractOp::create(b, loc, op.getQoIndptr(), ValueRange{n}));
  };
  Value start = at(r);
  Value end = at(arith::AddIOp::create(
      b, loc, r, arith::ConstantIndexOp::create(b, loc, 1)));
  return {r, arith::AddIOp::create(b, loc, arith::SubIOp::create(b, loc, bi, start), i),
          arith::SubIOp::create(b, loc, end, start)};
}

/// `src` (a region of `op` whose block arguments from `first` are batch,
/// head, query row, ...) into `dst` for the per-token dense form: the
/// batch and row arguments replaced by the token's request and row within
/// its chunk.
static void remapRaggedRegion(OpBuilder &b, Location loc, AttentionOp op,
                              Value requests, Value last, Region &src,
                              Region &dst, unsigned first) {
  if (src.empty())
    return;
  OpBuilder::InsertionGuard guard(b);
  Block &from = src.front();
  SmallVector<Type> types(from.getArgumentTypes());
  Block *block = b.createBlock(&dst, dst.end(), types,
                               SmallVector<Location>(types.size(), loc));
  SmallVector<Value> args(block->getArguments());
  RaggedRow rr =
      raggedRow(b, loc, op, requests, last, args[first], args[first + 2]);
  args[first] = rr.request;
  args[first + 2] = rr.row;
  YieldOp::create(b, loc,
                  ValueRange{AttentionOp::inlineScalarRegion(b, src, args)});
}

/// The mask region of the dense form: j < lens[b], with causal
/// j <= i + lens[b] - Lq, and the op's own mask (for a ragged op, b, i and
/// Lq are the token's request, its row within the chunk and the chunk's
/// length).
static void buildMask(OpBuilder &b, Location loc, AttentionOp op, Value lq,
                      Value requests, Value last, Region &into) {
  Type idx = b.getIndexType();
  OpBuilder::InsertionGuard guard(b);
  Block *block = b.createBlock(&into, into.end(), {idx, idx, idx, idx},
                               SmallVector<Location>(4, loc));
  Value bi = block->getArgument(0), i = block->getArgument(2),
        j = block->getArgument(3);
  if (op.isRagged()) {
    RaggedRow rr = raggedRow(b, loc, op, requests, last, bi, i);
    bi = rr.request;
    i = rr.row;
    lq = rr.chunk;
  }
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
        AttentionOp::inlineScalarRegion(
            b, op.getMask(),
            {bi, block->getArgument(1), i, block->getArgument(3)}));
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
      // A ragged batch becomes one dense row per token, against its
      // request's keys (gathered per token).
      Value requests = op.isRagged() ? raggedRequests(b, loc, op) : Value();
      Value last = requests ? lastRequest(b, loc, op) : Value();
      if (op.isPaged()) {
        k = gatherPagedPool(b, loc, op, k, requests);
        v = gatherPagedPool(b, loc, op, v, requests);
      } else if (requests) {
        k = gatherRequests(b, loc, op, k, requests);
        v = gatherRequests(b, loc, op, v, requests);
      }
      SmallVector<Value> outs(op.getOutputs());
      // (Above the op: every backend evaluates regions' captured values.)
      Value lq = tensor::DimOp::create(b, loc, op.getQuery(), 2);
      auto dense = AttentionOp::create(
          b, loc, op->getResultTypes(), op.getQuery(), k, v, Value(), Value(),
          Value(), Value(), Value(), Value(), Value(), Value(), Value(), outs,
          /*causal=*/nullptr,
          b.getF32FloatAttr(op.getScaleValue()), op.getNormalizerAttr(),
          op.getRmsNormEpsAttr(), nullptr, nullptr, nullptr, nullptr, nullptr,
          nullptr, op.getRopeAttr());
      if (requests) {
        remapRaggedRegion(b, loc, op, requests, last, op.getScore(),
                          dense.getScore(), 1);
        remapRaggedRegion(b, loc, op, requests, last, op.getEpilogue(),
                          dense.getEpilogue(), 1);
        remapRaggedRegion(b, loc, op, requests, last, op.getSink(),
                          dense.getSink(), 0);
      } else {
        IRMapping m;
        op.getScore().cloneInto(&dense.getScore(), m);
        op.getEpilogue().cloneInto(&dense.getEpilogue(), m);
        op.getSink().cloneInto(&dense.getSink(), m);
      }
      buildMask(b, loc, op, lq, requests, last, dense.getMask());
      op.replaceAllUsesWith(dense.getResults());
      op.erase();
    }
  }
};
} // namespace
