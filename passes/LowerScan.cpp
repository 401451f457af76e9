//===- LowerScan.cpp - attn.scan on memrefs to loops ------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "codegen/common/RegionVectorizer.h"
#include "passes/LoopBuilders.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <algorithm>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERSCANPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Scalar and memref helpers shared by both forms.
class ScanBuilder {
public:
  ScanBuilder(OpBuilder &b, ScanOp op) : b(b), loc(op.getLoc()), op(op) {}

protected:
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
  /// Converts a float scalar or vector to `type` (same shape).
  Value toType(Value x, Type type) {
    if (x.getType() == type)
      return x;
    unsigned from = getElementTypeOrSelf(x.getType()).getIntOrFloatBitWidth(),
             to = getElementTypeOrSelf(type).getIntOrFloatBitWidth();
    if (from < to)
      return arith::ExtFOp::create(b, loc, type, x);
    return arith::TruncFOp::create(b, loc, type, x);
  }

  /// The row of the stepped operands (q, k, v, channel decays, output)
  /// that step t reads: t, or len - 1 - t for a reverse scan (which is the
  /// forward recurrence over the rows in reverse; every other index,
  /// chunking included, is the same).
  Value stepRow(Value t) {
    if (!op.getReverse())
      return t;
    Value last = arith::SubIOp::create(b, loc, stepLen, idx(1));
    return arith::SubIOp::create(b, loc, last, t);
  }

  OpBuilder &b;
  Location loc;
  ScanOp op;
  /// The number of steps (set by each form before it calls stepRow()).
  Value stepLen;
};

//===----------------------------------------------------------------------===//
// The recurrent form
//===----------------------------------------------------------------------===//

/// One step at a time per (batch, head): exact for decode (one step), and
/// the GPU SIMT path's form (one thread per (batch, head), no big scratch).
class RecurrentLowering : public ScanBuilder {
public:
  RecurrentLowering(OpBuilder &b, ScanOp op) : ScanBuilder(b, op) {}

  void run() {
    auto k = cast<MemRefType>(op.getKey().getType());
    auto v = cast<MemRefType>(op.getValue().getType());
    int64_t dk = k.getDimSize(3), dv = v.getDimSize(3);
    Value batch = memref::DimOp::create(b, loc, op.getQuery(), 0);
    Value heads = memref::DimOp::create(b, loc, op.getQuery(), 1);
    Value len = memref::DimOp::create(b, loc, op.getQuery(), 2);
    stepLen = len;
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
      Value at = stepRow(t);
      // S = D_t S + phi(k_t)^T v_t; z = D_t z + phi(k_t).
      buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
        Value kk = phi(load(op.getKey(), {bb, h, at, i}), i);
        Value d = op.getDecay() == DecayKind::head ? lambda
                  : op.getDecay() == DecayKind::channel
                      ? Value(math::ExpOp::create(
                            b, loc, load(op.getDecays(), {bb, h, at, i})))
                      : Value();
        auto decayed = [&](Value x) {
          return d ? Value(arith::MulFOp::create(b, loc, d, x)) : x;
        };
        if (op.getNormalize())
          store(arith::AddFOp::create(b, loc, decayed(load(z, {i})), kk), z,
                {i});
        store(phi(load(op.getQuery(), {bb, h, at, i}), i), phiQ, {i});
        buildFor(b, loc, idx(0), idx(dv), 1, [&](Value j) {
          Value kv = arith::MulFOp::create(b, loc, kk,
                                           load(op.getValue(), {bb, h, at, j}));
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
        store(toType(o, outElem), op.getOutput(), {bb, h, at, j});
      });
    });
    if (Value final = op.getFinalState())
      buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
        buildFor(b, loc, idx(0), idx(dv), 1, [&](Value j) {
          store(load(s, {i, j}), final, {bb, h, i, j});
        });
      });
  }

private:
  Value phi(Value x, Value d) {
    if (op.getFeatureMap().empty())
      return x;
    return AttentionOp::inlineScalarRegion(b, op.getFeatureMap(), {x, d});
  }
};

//===----------------------------------------------------------------------===//
// The chunkwise form
//===----------------------------------------------------------------------===//

/// attn.scan in chunks of C steps per (batch, head): inside a chunk the
/// recurrence is unrolled into masked matmuls, across chunks only the state
/// S [Dk, Dv] (and z) is carried. With G the cumulative log decay from the
/// chunk start (inclusive) and S the state before the chunk:
///
///   o_t   = (phi(q_t) . e^{G_t}) S + sum_{s <= t} A[t, s] v_s
///   A[t,s] = sum_i phi(q_t)_i phi(k_s)_i e^{G_t,i - G_s,i}
///   S'    = e^{G_last} . S + sum_s (phi(k_s) . e^{G_last - G_s})^T v_s
///
/// Every exponent is <= 0 when the log decays are <= 0 (decays never blow
/// up). For decay(channel), A is built per sub-block I of c = 16 rows
/// (FLA's secondary chunking): keys before I use the reference point G at
/// the first row of I (q scaled by e^{G_t - G_ref}, k by e^{G_ref - G_s},
/// both <= 1) and one matmul; keys inside I take the exponent per element.
/// For decay(head), G_t = (t + 1) log(lambda), so A is Q K^T scaled by
/// lambda^{t - s}.
///
/// Rows of every matmul are vectors (a chunk row of C keys, or Dk/Dv
/// channels), R rows accumulate in registers and the other operand is
/// broadcast one scalar at a time.
class ChunkLowering : public ScanBuilder {
public:
  ChunkLowering(OpBuilder &b, ScanOp op, int64_t chunk)
      : ScanBuilder(b, op), C(chunk), c(std::min<int64_t>(chunk, 16)) {}

  void run() {
    auto q = cast<MemRefType>(op.getQuery().getType());
    auto v = cast<MemRefType>(op.getValue().getType());
    dk = q.getDimSize(3);
    dv = v.getDimSize(3);
    // Keep about 256 floats of accumulators in registers (16 zmm).
    R = std::clamp<int64_t>(256 / std::max(dv, C), 1, 4);
    Value batch = memref::DimOp::create(b, loc, op.getQuery(), 0);
    Value heads = memref::DimOp::create(b, loc, op.getQuery(), 1);
    len = memref::DimOp::create(b, loc, op.getQuery(), 2);
    stepLen = len;
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, heads}, ValueRange{},
        std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    bb = forall.getInductionVar(0);
    h = forall.getInductionVar(1);
    Type f32 = b.getF32Type();
    auto buf = [&](int64_t rows, int64_t cols) {
      return memref::AllocaOp::create(b, loc,
                                      MemRefType::get({rows, cols}, f32));
    };
    bool channel = op.getDecay() == DecayKind::channel;
    qf = buf(C, dk);
    kf = buf(C, dk);
    kT = buf(dk, C);
    vf = buf(C, dv);
    a = buf(C, C);
    s = buf(dk, dv);
    if (channel) {
      g = buf(C, dk);
      gT = buf(dk, C);
      qi = buf(C, dk);
      qs = buf(C, dk);
      kRef = buf(dk, C);
    }
    if (op.getNormalize())
      z = memref::AllocaOp::create(b, loc, MemRefType::get({dk}, f32));

    // The rows and columns past a short last chunk are read (and masked):
    // keep them finite.
    buildFor(b, loc, idx(0), idx(C), 1, [&](Value j) {
      for (Value m : {kf, qs, g})
        if (m)
          vstore(splat(0.0f, dk), m, {j, idx(0)});
    });
    buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
      vstore(splat(0.0f, C), kT, {i, idx(0)});
      if (gT)
        vstore(splat(0.0f, C), gT, {i, idx(0)});
      if (op.getState())
        vstore(vload(op.getState(), {bb, h, i, idx(0)}, dv), s, {i, idx(0)});
      else
        vstore(splat(0.0f, dv), s, {i, idx(0)});
    });
    if (z)
      vstore(splat(0.0f, dk), z, {idx(0)});
    if (op.getDecay() == DecayKind::head)
      logLambda = math::LogOp::create(b, loc, load(op.getDecays(), {h}));

    auto chunks = scf::ForOp::create(b, loc, idx(0), len, idx(C));
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPoint(chunks.getBody()->getTerminator());
      Value t0 = chunks.getInductionVar();
      Value n = arith::MinSIOp::create(
          b, loc, idx(C), arith::SubIOp::create(b, loc, len, t0));
      fill(t0, n);
      if (channel)
        scoresChannel(n);
      else
        scoresMatmul(n, qf, kT);
      output(t0, n);
      updateState(n);
    }
    if (Value final = op.getFinalState())
      buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
        vstore(vload(s, {i, idx(0)}, dv), final, {bb, h, i, idx(0)});
      });
  }

private:
  /// Loads the chunk's phi(q), phi(k), v (and the cumulative log decays)
  /// into f32 scratch; keys and decays also transposed.
  void fill(Value t0, Value n) {
    bool channel = g != nullptr;
    Value zeroRow = splat(0.0f, dk);
    buildReduce(
        b, loc, idx(0), n, channel ? ValueRange{zeroRow} : ValueRange{},
        [&](Value j, ValueRange carried) -> SmallVector<Value> {
          Value t = arith::AddIOp::create(b, loc, t0, j);
          Value at = stepRow(t);
          vstore(phiRow(vload(op.getQuery(), {bb, h, at, idx(0)}, dk)), qf,
                 {j, idx(0)});
          vstore(phiRow(vload(op.getKey(), {bb, h, at, idx(0)}, dk)), kf,
                 {j, idx(0)});
          vstore(vload(op.getValue(), {bb, h, at, idx(0)}, dv), vf,
                 {j, idx(0)});
          if (!channel)
            return {};
          Value cum = arith::AddFOp::create(
              b, loc, carried[0],
              vload(op.getDecays(), {bb, h, at, idx(0)}, dk));
          vstore(cum, g, {j, idx(0)});
          // phi(q_t) . e^{G_t}: the inter-chunk query (<= 1 per factor).
          vstore(arith::MulFOp::create(b, loc, vload(qf, {j, idx(0)}, dk),
                                       math::ExpOp::create(b, loc, cum)),
                 qi, {j, idx(0)});
          return {cum};
        });
    if (!channel)
      transpose(kf, kT, n);
  }

  /// dst[i, j] = src[j, i] for rows j < n of src [C, Dk]: 16x16 register
  /// transposes when the dims allow (rows past n carry along; they land in
  /// masked key columns), else element by element.
  void transpose(Value src, Value dst, Value n) {
    if (C % 16 != 0 || dk % 16 != 0) {
      buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
        buildFor(b, loc, idx(0), n, 1,
                 [&](Value j) { store(load(src, {j, i}), dst, {i, j}); });
      });
      return;
    }
    auto tile = VectorType::get({16, 16}, b.getF32Type());
    auto blocks = scf::ForOp::create(b, loc, idx(0), n, idx(16));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(blocks.getBody()->getTerminator());
    Value j0 = blocks.getInductionVar();
    for (int64_t i0 = 0; i0 < dk; i0 += 16) {
      Value m = arith::ConstantOp::create(b, loc, tile,
                                          DenseElementsAttr::get(tile, 0.0f));
      for (int64_t r = 0; r < 16; ++r)
        m = vector::InsertOp::create(b, loc, vload(src, {row(j0, r), idx(i0)}, 16),
                                     m, r);
      Value t = vector::TransposeOp::create(b, loc, m, ArrayRef<int64_t>{1, 0});
      for (int64_t r = 0; r < 16; ++r)
        vstore(vector::ExtractOp::create(b, loc, t, r), dst, {idx(i0 + r), j0});
    }
  }

  /// A = (Q K^T) . lambda^{t - s}, masked to s <= t, with Q rows in `qBuf`
  /// and K^T rows in `kBuf`: phi(q), phi(k) for decay(none|head); the
  /// decays folded into both for decay(channel)'s single reference point.
  void scoresMatmul(Value n, Value qBuf, Value kBuf) {
    forRowBlocks(idx(0), n, [&](Value t, int64_t rows) {
      SmallVector<Value> acc =
          accumulate(zeros(rows, C), idx(0), idx(dk),
                     [&](int64_t r, Value i) { return load(qBuf, {row(t, r), i}); },
                     [&](Value i) { return vload(kBuf, {i, idx(0)}, C); });
      for (int64_t r = 0; r < rows; ++r) {
        Value diff = arith::SubIOp::create(b, loc, splatIndex(row(t, r), C),
                                           iota(C));
        Value x = acc[r];
        if (logLambda) {
          // lambda^{t-s}; t = s is exactly 1 (also for lambda = 0).
          Value e = arith::MulFOp::create(
              b, loc, arith::SIToFPOp::create(b, loc, vecType(C), diff),
              splat(logLambda, C));
          Value same = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             diff, splatI32(0, C));
          e = arith::SelectOp::create(b, loc, same, splat(0.0f, C), e);
          x = arith::MulFOp::create(b, loc, x, math::ExpOp::create(b, loc, e));
        }
        Value visible = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::sge, diff, splatI32(0, C));
        vstore(arith::SelectOp::create(b, loc, visible, x, splat(0.0f, C)), a,
               {row(t, r), idx(0)});
      }
    });
  }

  /// decay(channel). When no channel decays by more than e^kRange over the
  /// chunk (a run-time check; always so for GLA-like gates), one reference
  /// point at the chunk start does: A = (phi(Q) . e^G)(phi(K) . e^-G)^T,
  /// every factor within e^{+-kRange} (normal floats, exact products), one
  /// matmul. Otherwise the sub-block form, where nothing exceeds 1.
  void scoresChannel(Value n) {
    Value last = arith::SubIOp::create(b, loc, n, idx(1));
    Value total = vload(g, {last, idx(0)}, dk);
    auto reduce = [&](vector::CombiningKind kind) {
      return vector::ReductionOp::create(b, loc, kind, total);
    };
    Value bounded = arith::AndIOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                              reduce(vector::CombiningKind::MINIMUMF),
                              constF(-kRange)),
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                              reduce(vector::CombiningKind::MAXIMUMF),
                              constF(kRange)));
    auto branch = scf::IfOp::create(b, loc, bounded, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    buildFor(b, loc, idx(0), n, 1, [&](Value j) {
      Value e = math::ExpOp::create(
          b, loc, arith::NegFOp::create(b, loc, vload(g, {j, idx(0)}, dk)));
      vstore(arith::MulFOp::create(b, loc, vload(kf, {j, idx(0)}, dk), e), qs,
             {j, idx(0)});
    });
    transpose(qs, kRef, n);
    scoresMatmul(n, qi, kRef);
    b.setInsertionPoint(branch.elseBlock()->getTerminator());
    transpose(kf, kT, n);
    transpose(g, gT, n);
    scoresSubBlocks(n);
  }

  /// decay(channel), any decays: per sub-block of c rows, the keys before it
  /// through a reference point at its first row (one matmul), the keys
  /// inside it element by element.
  void scoresSubBlocks(Value n) {
    // q relative to its sub-block's first row: e^{G_t - G_ref} <= 1.
    buildFor(b, loc, idx(0), n, 1, [&](Value j) {
      Value j0 = arith::SubIOp::create(
          b, loc, j, arith::RemUIOp::create(b, loc, j, idx(c)));
      Value rel = arith::SubFOp::create(b, loc, vload(g, {j, idx(0)}, dk),
                                        vload(g, {j0, idx(0)}, dk));
      vstore(arith::MulFOp::create(b, loc, vload(qf, {j, idx(0)}, dk),
                                   math::ExpOp::create(b, loc, rel)),
             qs, {j, idx(0)});
    });
    auto blocks = scf::ForOp::create(b, loc, idx(0), n, idx(c));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(blocks.getBody()->getTerminator());
    Value i0 = blocks.getInductionVar();
    Value iEnd = arith::MinSIOp::create(
        b, loc, n, arith::AddIOp::create(b, loc, i0, idx(c)));
    // k scaled to the reference: e^{min(G_ref - G_s, 0)} (keys s >= i0 are
    // masked below; the min keeps them finite).
    buildFor(b, loc, idx(0), idx(dk), 1, [&](Value i) {
      Value rel = arith::SubFOp::create(b, loc, splat(load(g, {i0, i}), C),
                                        vload(gT, {i, idx(0)}, C));
      rel = arith::MinimumFOp::create(b, loc, rel, splat(0.0f, C));
      vstore(arith::MulFOp::create(b, loc, vload(kT, {i, idx(0)}, C),
                                   math::ExpOp::create(b, loc, rel)),
             kRef, {i, idx(0)});
    });
    forRowBlocks(i0, iEnd, [&](Value t, int64_t rows) {
      SmallVector<Value> acc =
          accumulate(zeros(rows, C), idx(0), idx(dk),
                     [&](int64_t r, Value i) { return load(qs, {row(t, r), i}); },
                     [&](Value i) { return vload(kRef, {i, idx(0)}, C); });
      Value before = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                           iota(C), splatIndex(i0, C));
      for (int64_t r = 0; r < rows; ++r) {
        Value tr = row(t, r);
        vstore(arith::SelectOp::create(b, loc, before, acc[r], splat(0.0f, C)),
               a, {tr, idx(0)});
        // The sub-block's own keys: sum_i q_i k_i e^{G_t,i - G_s,i}.
        Value qRow = vload(qf, {tr, idx(0)}, dk);
        Value gRow = vload(g, {tr, idx(0)}, dk);
        buildFor(b, loc, i0, arith::AddIOp::create(b, loc, tr, idx(1)), 1,
                 [&](Value sIdx) {
                   Value e = math::ExpOp::create(
                       b, loc,
                       arith::SubFOp::create(b, loc, gRow,
                                             vload(g, {sIdx, idx(0)}, dk)));
                   Value p = arith::MulFOp::create(
                       b, loc, arith::MulFOp::create(b, loc, qRow, e),
                       vload(kf, {sIdx, idx(0)}, dk));
                   store(vector::ReductionOp::create(
                             b, loc, vector::CombiningKind::ADD, p),
                         a, {tr, sIdx});
                 });
      }
    });
  }

  /// o_t = (phi(q_t) . e^{G_t}) S + sum_{s <= t} A[t, s] v_s (/ the same
  /// with z and 1 for normalize).
  void output(Value t0, Value n) {
    Value qIn = g ? qi : qf;
    Type outElem = cast<MemRefType>(op.getOutput().getType()).getElementType();
    forRowBlocks(idx(0), n, [&](Value t, int64_t rows) {
      SmallVector<Value> acc =
          accumulate(zeros(rows, dv), idx(0), idx(dk),
                     [&](int64_t r, Value i) { return load(qIn, {row(t, r), i}); },
                     [&](Value i) { return vload(s, {i, idx(0)}, dv); });
      SmallVector<Value> den;
      for (int64_t r = 0; r < rows; ++r) {
        Value scale = headScale(arith::AddIOp::create(b, loc, row(t, r), idx(1)));
        if (scale)
          acc[r] = arith::MulFOp::create(b, loc, acc[r], splat(scale, dv));
        if (z) {
          Value d = dot(vload(qIn, {row(t, r), idx(0)}, dk),
                        vload(z, {idx(0)}, dk));
          if (scale)
            d = arith::MulFOp::create(b, loc, d, scale);
          den.push_back(arith::AddFOp::create(
              b, loc, d,
              vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                          vload(a, {row(t, r), idx(0)}, C))));
        }
      }
      Value sEnd = arith::MinSIOp::create(b, loc, n, row(t, rows));
      acc = accumulate(acc, idx(0), sEnd,
                       [&](int64_t r, Value sIdx) { return load(a, {row(t, r), sIdx}); },
                       [&](Value sIdx) { return vload(vf, {sIdx, idx(0)}, dv); });
      for (int64_t r = 0; r < rows; ++r) {
        Value o = acc[r];
        if (z)
          o = arith::DivFOp::create(b, loc, o, splat(den[r], dv));
        Value at = arith::AddIOp::create(b, loc, t0, row(t, r));
        vstoreAs(o, outElem, op.getOutput(), {bb, h, stepRow(at), idx(0)});
      }
    });
  }

  /// S = e^{G_last} . S + sum_s (phi(k_s) . e^{G_last - G_s})^T v_s.
  void updateState(Value n) {
    Value last = arith::SubIOp::create(b, loc, n, idx(1));
    // Keys scaled to the chunk end, in place (kf is not read again).
    if (g || logLambda)
      buildFor(b, loc, idx(0), n, 1, [&](Value j) {
        Value k = vload(kf, {j, idx(0)}, dk);
        if (g) {
          Value rel = arith::SubFOp::create(b, loc, vload(g, {last, idx(0)}, dk),
                                            vload(g, {j, idx(0)}, dk));
          k = arith::MulFOp::create(b, loc, k, math::ExpOp::create(b, loc, rel));
        } else {
          k = arith::MulFOp::create(
              b, loc, k,
              splat(headScale(arith::SubIOp::create(b, loc, last, j)), dk));
        }
        vstore(k, kf, {j, idx(0)});
      });
    Value whole = headScale(n);
    forRowBlocks(idx(0), idx(dk), [&](Value i, int64_t rows) {
      SmallVector<Value> acc;
      for (int64_t r = 0; r < rows; ++r) {
        Value x = vload(s, {row(i, r), idx(0)}, dv);
        Value d = whole;
        if (g)
          d = math::ExpOp::create(b, loc, load(g, {last, row(i, r)}));
        acc.push_back(d ? Value(arith::MulFOp::create(b, loc, x, splat(d, dv)))
                        : x);
      }
      acc = accumulate(acc, idx(0), n,
                       [&](int64_t r, Value j) { return load(kf, {j, row(i, r)}); },
                       [&](Value j) { return vload(vf, {j, idx(0)}, dv); });
      for (int64_t r = 0; r < rows; ++r)
        vstore(acc[r], s, {row(i, r), idx(0)});
    });
    if (z) {
      Value zv = vload(z, {idx(0)}, dk);
      if (g)
        zv = arith::MulFOp::create(
            b, loc, zv,
            math::ExpOp::create(b, loc, vload(g, {last, idx(0)}, dk)));
      else if (whole)
        zv = arith::MulFOp::create(b, loc, zv, splat(whole, dk));
      zv = buildReduce(b, loc, idx(0), n, ValueRange{zv},
                       [&](Value j, ValueRange acc) -> SmallVector<Value> {
                         return {arith::AddFOp::create(
                             b, loc, acc[0], vload(kf, {j, idx(0)}, dk))};
                       })[0];
      vstore(zv, z, {idx(0)});
    }
  }

  /// lambda^steps for decay(head) (1 for steps = 0, even when lambda = 0);
  /// null otherwise.
  Value headScale(Value steps) {
    if (!logLambda)
      return nullptr;
    Value f = arith::UIToFPOp::create(
        b, loc, b.getF32Type(),
        arith::IndexCastUIOp::create(b, loc, b.getI32Type(), steps));
    Value e = arith::MulFOp::create(b, loc, f, logLambda);
    Value none = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, steps,
                                       idx(0));
    e = arith::SelectOp::create(b, loc, none, zero(), e);
    return math::ExpOp::create(b, loc, e);
  }

  /// Calls body(first row, R) on full blocks of R rows of [lo, hi), then
  /// body(row, 1) on the rest.
  void forRowBlocks(Value lo, Value hi, function_ref<void(Value, int64_t)> body) {
    Value count = arith::SubIOp::create(b, loc, hi, lo);
    Value full = arith::AddIOp::create(
        b, loc, lo,
        arith::SubIOp::create(b, loc, count,
                              arith::RemUIOp::create(b, loc, count, idx(R))));
    if (R > 1) {
      auto blocks = scf::ForOp::create(b, loc, lo, full, idx(R));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(blocks.getBody()->getTerminator());
      body(blocks.getInductionVar(), R);
    }
    buildFor(b, loc, R > 1 ? full : lo, hi, 1,
             [&](Value t) { body(t, 1); });
  }

  /// acc[r] += scalarA(r, k) * rowB(k) for k in [lo, hi), acc in registers.
  SmallVector<Value> accumulate(ArrayRef<Value> init, Value lo, Value hi,
                                function_ref<Value(int64_t, Value)> scalarA,
                                function_ref<Value(Value)> rowB) {
    int64_t lanes = cast<VectorType>(init[0].getType()).getNumElements();
    ValueRange out = buildReduce(
        b, loc, lo, hi, init,
        [&](Value k, ValueRange acc) -> SmallVector<Value> {
          Value rowV = rowB(k);
          SmallVector<Value> next;
          for (auto [r, x] : llvm::enumerate(acc))
            next.push_back(vector::FMAOp::create(
                b, loc, splat(scalarA(r, k), lanes), rowV, x));
          return next;
        });
    return SmallVector<Value>(out.begin(), out.end());
  }

  Value constF(float x) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(x));
  }
  Value dot(Value x, Value y) {
    return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                       arith::MulFOp::create(b, loc, x, y));
  }
  /// phi on a row of Dk channels (the region vectorized, d = 0..Dk-1).
  Value phiRow(Value x) {
    if (op.getFeatureMap().empty())
      return x;
    SmallVector<Attribute> ids;
    for (int64_t i = 0; i < dk; ++i)
      ids.push_back(b.getIndexAttr(i));
    auto type = VectorType::get({dk}, b.getIndexType());
    Value d = arith::ConstantOp::create(b, loc, type,
                                        DenseElementsAttr::get(type, ids));
    FailureOr<Value> y =
        vectorizeRegion(b, loc, op.getFeatureMap().front(), {x, d}, dk, op);
    assert(succeeded(y) && "hasVectorizableFeatureMap checked the region");
    return broadcastToVector(b, loc, *y, dk);
  }
  Value row(Value t, int64_t r) {
    return r ? Value(arith::AddIOp::create(b, loc, t, idx(r))) : t;
  }
  SmallVector<Value> zeros(int64_t rows, int64_t lanes) {
    return SmallVector<Value>(rows, splat(0.0f, lanes));
  }
  VectorType vecType(int64_t n) { return VectorType::get({n}, b.getF32Type()); }
  Value splat(float x, int64_t n) {
    return arith::ConstantOp::create(
        b, loc, vecType(n), DenseElementsAttr::get(vecType(n), x));
  }
  Value splat(Value x, int64_t n) { return broadcastToVector(b, loc, x, n); }
  Value iota(int64_t n) {
    auto type = VectorType::get({n}, b.getI32Type());
    SmallVector<int32_t> ids(n);
    for (int64_t i = 0; i < n; ++i)
      ids[i] = i;
    return arith::ConstantOp::create(
        b, loc, type, DenseElementsAttr::get(type, ArrayRef<int32_t>(ids)));
  }
  Value splatI32(int32_t x, int64_t n) {
    auto type = VectorType::get({n}, b.getI32Type());
    return arith::ConstantOp::create(b, loc, type,
                                     DenseElementsAttr::get(type, x));
  }
  Value splatIndex(Value i, int64_t n) {
    return splat(arith::IndexCastOp::create(b, loc, b.getI32Type(), i), n);
  }
  /// A row of n elements at `ivs`, as f32.
  Value vload(Value m, ValueRange ivs, int64_t n) {
    Type elem = cast<MemRefType>(m.getType()).getElementType();
    Value x = vector::LoadOp::create(b, loc, VectorType::get({n}, elem), m, ivs);
    return toType(x, vecType(n));
  }
  void vstore(Value x, Value m, ValueRange ivs) {
    vector::StoreOp::create(b, loc, x, m, ivs);
  }
  void vstoreAs(Value x, Type elem, Value m, ValueRange ivs) {
    auto type = cast<VectorType>(x.getType());
    vstore(toType(x, type.clone(elem)), m, ivs);
  }

  int64_t C, c, dk = 0, dv = 0, R = 1;
  Value len, bb, h, logLambda;
  Value qf, qs, qi, kf, kT, vf, a, s, g, gT, kRef, z;
  /// The largest |log decay| over a chunk for decay(channel)'s single
  /// reference point (e^40 ~ 2e17: products stay normal f32 numbers).
  static constexpr float kRange = 40.0f;
};

/// The chunkwise form needs unit-stride rows (vector loads and stores).
static bool hasContiguousRows(ScanOp op) {
  for (Value v : op->getOperands()) {
    auto type = cast<MemRefType>(v.getType());
    if (type.getRank() > 1 && !type.isLastDimUnitStride())
      return false;
  }
  return true;
}

/// Whether the feature map can be evaluated on a row of channels (what
/// vectorizeRegion takes: element-wise ops, constants and gathers).
static bool hasVectorizableFeatureMap(ScanOp op) {
  if (op.getFeatureMap().empty())
    return true;
  for (Operation &inner : op.getFeatureMap().front().without_terminator())
    if (inner.getNumRegions() != 0 ||
        !(OpTrait::hasElementwiseMappableTraits(&inner) ||
          isa<arith::ConstantOp, memref::LoadOp, tensor::ExtractOp>(inner)))
      return false;
  return true;
}

struct LowerScan : attn::impl::AttnLowerScanPassBase<LowerScan> {
  using AttnLowerScanPassBase::AttnLowerScanPassBase;

  void runOnOperation() override {
    if (chunkSize < 0 || (chunkSize > 16 && chunkSize % 16 != 0)) {
      getOperation().emitError()
          << "attn-lower-scan: chunk-size must be 0 (recurrent form), at most "
             "16, or a multiple of 16; got "
          << chunkSize.getValue();
      return signalPassFailure();
    }
    SmallVector<ScanOp> ops;
    getOperation().walk([&](ScanOp op) { ops.push_back(op); });
    for (ScanOp op : ops) {
      if (op->getNumResults() != 0) {
        op.emitOpError("must be bufferized before attn-lower-scan");
        return signalPassFailure();
      }
      auto q = cast<MemRefType>(op.getQuery().getType());
      auto v = cast<MemRefType>(op.getValue().getType());
      if (q.isDynamicDim(3) || v.isDynamicDim(3)) {
        op.emitOpError("attn-lower-scan needs static head dims");
        return signalPassFailure();
      }
      // Decode (one static step) takes the recurrent form: it is exact and
      // does no chunk set-up. So do operands with strided rows and feature
      // maps the chunks cannot evaluate on vectors.
      bool chunked = chunkSize > 0 && q.getDimSize(2) != 1 &&
                     hasContiguousRows(op) && hasVectorizableFeatureMap(op);
      OpBuilder b(op);
      if (chunked)
        ChunkLowering(b, op, chunkSize).run();
      else
        RecurrentLowering(b, op).run();
      op.erase();
    }
  }
};

} // namespace
