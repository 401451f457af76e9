//===- TileAttention.cpp - FlashAttention-2 GPU kernels ---------*- C++ -*-===//
//
// Part of the attn project.
//
// Rewrites memref attn.attention into
//
//   gpu.launch blocks(%qt, %h, %b) in (ceil(Lq / 64), Hq, B)
//              threads(%tid) in (128)        // 4 warps x 16 query rows
//     Qs <- Q tile (cp.async); qfrag = ldmatrix(Qs)          // in registers
//     scf.for %kt = 0 to ceil(Lk / 64) iter_args(m, l, acc) {
//       (full, empty) = classify(tile)                     // uniform
//       if (!empty) {
//         Ks, Vs <- K, V tiles (cp.async, two groups)
//         S = mma(qfrag, ldmatrix(Ks))                     // m16n8k16
//         S = score(scale * S); if (!full) S = mask ? S : -inf
//         online softmax on S (quad shuffles), P packed to 16 bits
//         acc = alpha * acc + mma(P, ldmatrix.trans(Vs))
//       }
//     }
//     O = epilogue(acc / l); LSE = m + log(l)
//
// Fragment layouts: see MmaKernelBuilder.h.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/MmaKernelBuilder.h"
#include "codegen/gpu/Passes.h"
#include "dialect/AttnOps.h"
#include "passes/MaskAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include <cmath>
#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUTILEATTENTIONPASS
#include "codegen/gpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kRows = kMmaRows;
constexpr int64_t kKeys = 64; // keys per tile
constexpr int64_t kThreads = kMmaThreads;

/// Why the tensor-core kernel cannot take `op` (empty if it can). Such ops
/// are left for the SIMT path (attn-tile-attention, attn-gpu-map-loops).
std::string tensorCoreMismatch(AttentionOp op) {
  std::string operands =
      mmaOperandMismatch(op.getQuery(), op.getKey(), op.getValue());
  if (!operands.empty())
    return operands;
  if (op.getQuery2() || op.getRmsNormEps() || op.getBlocks())
    return "`second`, `rms_norm` or `blocks`";
  return "";
}

/// Builds one attention kernel at the builder's insertion point.
class KernelEmitter : public MmaKernelBuilder {
public:
  KernelEmitter(OpBuilder &b, Location loc, AttentionOp op)
      : MmaKernelBuilder(b, loc), op(op) {}

  LogicalResult emit();

private:
  /// The flash-decoding form: splits of the keys, then a merge launch.
  void emitMerge(Value oPart, Value lPart, Value numSplits, Value batch,
                 int64_t lq, int64_t group);

  AttentionOp op;
  /// The query head (the KV head in the split form).
  Value h;
};

/// The flash-decoding form applies to a static query length of at most 16
/// whose GQA group fills at most one CTA's 64 rows.
static bool takesSplitKeys(AttentionOp op) {
  auto qType = cast<MemRefType>(op.getQuery().getType());
  auto kType = cast<MemRefType>(op.getKey().getType());
  int64_t lq = qType.getDimSize(2);
  int64_t group = qType.getDimSize(1) / kType.getDimSize(1);
  return !ShapedType::isDynamic(lq) && lq >= 1 && lq <= 16 &&
         lq * group <= kRows;
}

LogicalResult KernelEmitter::emit() {
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
  auto qType = cast<MemRefType>(q.getType());
  auto kType = cast<MemRefType>(k.getType());
  auto vType = cast<MemRefType>(v.getType());
  Type elem = qType.getElementType();
  int64_t hq = qType.getDimSize(1), hkv = kType.getDimSize(1);
  int64_t d = qType.getDimSize(3), dv = vType.getDimSize(3);
  mmaType = elem.isBF16() ? Type(b.getBF16Type()) : Type(b.getF16Type());
  bool softmax = op.getNormalizer() == Normalizer::softmax;
  int64_t group = hq / hkv;
  Value out = op.getOutputs()[0];
  Value lse = op.getLse();
  Type outElem = cast<MemRefType>(out.getType()).getElementType();
  // Split-KV decode: CTAs over (key split, KV head, batch), the group's
  // heads x query rows packed into the 64 rows; partials merged by LSE.
  bool splitKeys = takesSplitKeys(op);
  int64_t staticLq = qType.getDimSize(2);

  // Grid from the run-time shapes.
  Value batch = memref::DimOp::create(b, loc, q, 0);
  Value lq = memref::DimOp::create(b, loc, q, 2);
  Value lk = memref::DimOp::create(b, loc, k, 2);
  Value c1 = cst(1);
  Value gridX = arith::CeilDivUIOp::create(b, loc, lq, cst(kRows));
  Value gridY = cst(hq);
  Value keysPerSplit, numSplits, oPart, lPart;
  if (splitKeys) {
    // About two waves of CTAs on a large GPU (132 SMs): as many splits as
    // that needs, at least one 64-key tile each.
    Value tiles = arith::CeilDivUIOp::create(b, loc, lk, cst(kKeys));
    Value ctas = arith::MaxUIOp::create(b, loc, mul(batch, cst(hkv)), c1);
    Value want = arith::CeilDivUIOp::create(b, loc, cst(264), ctas);
    Value splits = minu(want, arith::MaxUIOp::create(b, loc, tiles, c1));
    Value tilesPerSplit = arith::MaxUIOp::create(
        b, loc, arith::CeilDivUIOp::create(b, loc, tiles, splits), c1);
    keysPerSplit = mul(tilesPerSplit, cst(kKeys));
    numSplits = arith::CeilDivUIOp::create(b, loc, lk, keysPerSplit);
    gridX = numSplits;
    gridY = cst(hkv);
    int64_t dyn = ShapedType::kDynamic;
    oPart = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, hkv, dyn, kRows, dv}, f32),
        ValueRange{batch, numSplits});
    lPart = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, hkv, dyn, kRows}, f32),
        ValueRange{batch, numSplits});
  }
  int64_t qBytes = kRows * (d + kMmaPad) * 2,
          vBytes = kRows * (dv + kMmaPad) * 2;
  Value smemBytes = arith::ConstantIntOp::create(b, loc, b.getI32Type(),
                                                 2 * qBytes + vBytes);
  auto launch = gpu::LaunchOp::create(b, loc, gridX, gridY, batch,
                                      cst(kThreads), c1, c1, smemBytes);
  {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&launch.getBody().front());

  Value qt = launch.getBlockIds().x;
  h = launch.getBlockIds().y; // the KV head in the split form
  bb = launch.getBlockIds().z;
  tid = launch.getThreadIds().x;
  lane = rem(tid, 32);
  Value warp = div(tid, 32);
  Value g = div(lane, 4), cq = rem(lane, 4);
  Value hk = splitKeys ? h : div(h, group);
  Value q0 = splitKeys ? cst(0) : mul(qt, cst(kRows));
  // Keys [kBegin, kEnd) of this CTA.
  Value kBegin = splitKeys ? mul(qt, keysPerSplit) : cst(0);
  Value kEnd = splitKeys ? minu(add(kBegin, keysPerSplit), lk) : lk;

  // Shared memory: Q, K and V tiles, rows padded by 16 bytes.
  Value smem = dynamicShared();
  Value qs = sharedTile(smem, 0, d), ks = sharedTile(smem, qBytes, d),
        vs = sharedTile(smem, 2 * qBytes, dv);

  // The query tile, then this warp's 16 rows as A fragments in registers.
  // In the split form row p of the tile is query row p % Lq of the group's
  // head p / Lq.
  Value qToken;
  if (splitKeys)
    qToken = stage(
        q,
        [&](Value p) {
          Value head = add(mul(hk, cst(group)),
                           minu(div(p, staticLq), cst(group - 1)));
          return RowSource{head, rem(p, staticLq),
                           ult(p, cst(group * staticLq))};
        },
        d, qs);
  else
    qToken = stage(q, h, q0, lq, d, qs);
  waitGroups(qToken, 0);
  gpu::BarrierOp::create(b, loc);
  Value warpRow = mul(warp, cst(16));
  SmallVector<SmallVector<Value>> qFrag;
  for (int64_t kk = 0; kk < d / 16; ++kk)
    qFrag.push_back(aFragment(qs, warpRow, kk * 16));

  // This thread's two rows (g and g + 8 of the warp's 16): query index,
  // clamped index (for the regions; rows past the end are computed but never
  // stored), head and whether the row exists.
  Value lqLast = sub(lq, c1);
  SmallVector<Value, 2> row, rowC, head, rowValid, tileRow;
  for (int64_t r = 0; r < 2; ++r) {
    Value p = add(warpRow, add(g, cst(8 * r)));
    tileRow.push_back(p);
    if (splitKeys) {
      row.push_back(rem(p, staticLq));
      rowC.push_back(row.back());
      head.push_back(add(mul(hk, cst(group)),
                         minu(div(p, staticLq), cst(group - 1))));
      rowValid.push_back(ult(p, cst(group * staticLq)));
    } else {
      row.push_back(add(q0, p));
      rowC.push_back(minu(row[r], lqLast));
      head.push_back(h);
      rowValid.push_back(ult(row[r], lq));
    }
  }

  // Mask: user mask && causal (bottom-right aligned).
  Value causalOffset = op.getCausal() ? sub(lk, lq) : Value();
  Region maskRegion;
  bool hasMask = buildMaskRegion(b, loc, op, causalOffset, maskRegion);
  // Packed heads share a tile classification only if the mask ignores the
  // head.
  bool classify = hasMask && !(splitKeys && group > 1 &&
                               !maskRegion.front().getArgument(1).use_empty());

  // Loop state: m[2], l[2], acc[dv / 8][4].
  int64_t nAcc = dv / 8;
  SmallVector<Value> init;
  for (int64_t r = 0; r < 2; ++r)
    init.push_back(fcst(-INFINITY));
  for (int64_t r = 0; r < 2; ++r)
    init.push_back(fcst(0.0));
  for (int64_t i = 0; i < nAcc * 4; ++i)
    init.push_back(fcst(0.0));
  Value kt0 = div(kBegin, kKeys);
  Value numKTiles = arith::CeilDivUIOp::create(b, loc, kEnd, cst(kKeys));
  auto loop = scf::ForOp::create(b, loc, kt0, numKTiles, c1, init);
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    ValueRange state = loop.getRegionIterArgs();
    Value k0 = mul(loop.getInductionVar(), cst(kKeys));
    Value full, empty;
    if (classify) {
      Value iMin = splitKeys ? cst(0) : q0;
      Value iMax = splitKeys ? cst(staticLq - 1)
                             : sub(minu(add(q0, cst(kRows)), lq), c1);
      Value jMax = sub(minu(add(k0, cst(kKeys)), lk), c1);
      MaskClassifier classifier(b, loc, maskRegion.front(), bb, head[0], iMin,
                                iMax, k0, jMax);
      std::tie(full, empty) = classifier.classify(
          cast<YieldOp>(maskRegion.front().getTerminator()).getValues()[0]);
    } else {
      full = arith::ConstantIntOp::create(b, loc, b.getI1Type(), !hasMask);
      empty = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    }
    // A tile past the key end (or the split's end) is never full: its last
    // columns are padding.
    full = arith::AndIOp::create(b, loc, full,
                                 ule(add(k0, cst(kKeys)), kEnd));
    Value notEmpty = arith::XOrIOp::create(
        b, loc, empty, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
    auto ifStep = scf::IfOp::create(b, loc, state.getTypes(), notEmpty,
                                    /*withElseRegion=*/true);
    {
      OpBuilder eb = OpBuilder::atBlockEnd(ifStep.elseBlock());
      scf::YieldOp::create(eb, loc, state);
    }
    b.setInsertionPointToStart(ifStep.thenBlock());

    Value kToken = stage(k, hk, k0, kEnd, d, ks);
    Value vToken = stage(v, hk, k0, kEnd, dv, vs);
    waitGroups(kToken, vToken ? 1 : 0);
    gpu::BarrierOp::create(b, loc);

    // S = Q K^T: 8 accumulator tiles of 16 x 8 per warp.
    SmallVector<SmallVector<Value>> s(kKeys / 8,
                                      SmallVector<Value>(4, fcst(0.0)));
    for (int64_t kk = 0; kk < d / 16; ++kk)
      for (int64_t j = 0; j < kKeys / 8; ++j) {
        s[j] = mma(qFrag[kk], bFragmentRows(ks, j * 8, kk * 16), s[j]);
      }

    // Scale and score region on every logit; element e of tile j is row
    // (e / 2), column 8 j + 2 c + (e % 2).
    Value lkLast = sub(lk, c1);
    SmallVector<Value> cols, colsC, x;
    Value scale = fcst(op.getScaleValue());
    for (int64_t j = 0; j < kKeys / 8; ++j)
      for (int64_t e = 0; e < 4; ++e) {
        Value col = add(add(k0, cst(j * 8 + e % 2)), mul(cq, cst(2)));
        cols.push_back(col);
        colsC.push_back(minu(col, lkLast));
        Value val = fmul(s[j][e], scale);
        if (!op.getScore().empty())
          val = AttentionOp::inlineScalarRegion(b, op.getScore(),
                             {val, bb, head[e / 2], rowC[e / 2],
                              colsC.back()});
        x.push_back(val);
      }
    // Partial tiles: the mask and the key end per element.
    auto ifFull = scf::IfOp::create(b, loc, TypeRange(ValueRange(x)), full,
                                    /*withElseRegion=*/true);
    {
      OpBuilder tb = OpBuilder::atBlockEnd(ifFull.thenBlock());
      scf::YieldOp::create(tb, loc, x);
    }
    {
      OpBuilder::InsertionGuard maskGuard(b);
      b.setInsertionPointToStart(ifFull.elseBlock());
      SmallVector<Value> masked;
      for (size_t n = 0; n < x.size(); ++n) {
        Value vis = ult(cols[n], kEnd);
        if (hasMask)
          vis = arith::AndIOp::create(
              b, loc, vis,
              AttentionOp::inlineScalarRegion(b, maskRegion,
                           {bb, head[(n % 4) / 2], rowC[(n % 4) / 2],
                            colsC[n]}));
        masked.push_back(select(vis, x[n], fcst(-INFINITY)));
      }
      scf::YieldOp::create(b, loc, masked);
    }
    x.assign(ifFull.getResults().begin(), ifFull.getResults().end());

    // Online softmax (or sigmoid weights) per row.
    SmallVector<Value> next(state.begin(), state.end());
    SmallVector<Value> p(x.size());
    for (int64_t r = 0; r < 2; ++r) {
      if (!softmax) {
        for (size_t n = 0; n < x.size(); ++n)
          if ((n % 4) / 2 == static_cast<size_t>(r)) {
            // An approximate division (div.approx.f32, see
            // attn-gpu-expand-math): div.rn's slow path for a masked
            // logit's infinite denominator made lanes of a warp diverge,
            // and they met the next barrier apart (compute-sanitizer's
            // synccheck on an H200); 1 / inf is still 0.
            Value e = exp2(fmul(x[n], fcst(-M_LOG2E)));
            p[n] = arith::DivFOp::create(b, loc, fcst(1.0),
                                         fadd(fcst(1.0), e),
                                         arith::FastMathFlags::afn);
          }
        continue;
      }
      Value mx = fcst(-INFINITY);
      for (size_t n = 0; n < x.size(); ++n)
        if ((n % 4) / 2 == static_cast<size_t>(r))
          mx = fmax(mx, x[n]);
      mx = fmax(mx, shuffleXor(mx, 1));
      mx = fmax(mx, shuffleXor(mx, 2));
      Value mOld = state[r];
      Value mNew = fmax(mOld, mx);
      Value alpha = expShifted(mOld, mNew);
      Value sum = fcst(0.0);
      for (size_t n = 0; n < x.size(); ++n)
        if ((n % 4) / 2 == static_cast<size_t>(r)) {
          p[n] = expShifted(x[n], mNew);
          sum = fadd(sum, p[n]);
        }
      next[r] = mNew;
      next[2 + r] = fadd(fmul(state[2 + r], alpha), sum);
      for (int64_t i = 0; i < nAcc; ++i)
        for (int64_t e = 2 * r; e < 2 * r + 2; ++e)
          next[4 + i * 4 + e] = fmul(state[4 + i * 4 + e], alpha);
    }

    // P as A fragments: keys [16 kk, 16 kk + 16) are tiles 2 kk and 2 kk + 1.
    SmallVector<SmallVector<Value>> pFrag;
    for (int64_t kk = 0; kk < kKeys / 16; ++kk) {
      int64_t t0 = 2 * kk * 4, t1 = (2 * kk + 1) * 4;
      pFrag.push_back(packA(ArrayRef<Value>(p).slice(t0, 4),
                            ArrayRef<Value>(p).slice(t1, 4)));
    }
    waitGroups(vToken, 0);
    gpu::BarrierOp::create(b, loc);
    for (int64_t i = 0; i < nAcc; ++i) {
      SmallVector<Value> acc(next.begin() + 4 + i * 4,
                             next.begin() + 8 + i * 4);
      for (int64_t kk = 0; kk < kKeys / 16; ++kk) {
        acc = mma(pFrag[kk], bFragmentCols(vs, kk * 16, i * 8), acc);
      }
      std::copy(acc.begin(), acc.end(), next.begin() + 4 + i * 4);
    }
    // The next tile overwrites Ks and Vs.
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, next);
    b.setInsertionPointAfter(ifStep);
    scf::YieldOp::create(b, loc, ifStep.getResults());
  }

  // Finalize: row sums across the quad, then either the output (sink,
  // 1 / l, epilogue, LSE) or, in the split form, this split's partial
  // output acc / l and partial LSE m + log l (sigmoid: acc, unscaled).
  SmallVector<Value> st(loop.getResults().begin(), loop.getResults().end());
  for (int64_t r = 0; r < 2; ++r) {
    Value m = st[r], l = st[2 + r];
    SmallVector<Value> acc(st.begin() + 4, st.end());
    if (softmax) {
      l = fadd(l, shuffleXor(l, 1));
      l = fadd(l, shuffleXor(l, 2));
    }
    Value alpha;
    if (!splitKeys && !op.getSink().empty()) {
      Value sink = AttentionOp::inlineScalarRegion(b, op.getSink(), {bb, head[r], rowC[r]});
      Value mf = fmax(m, sink);
      alpha = expShifted(m, mf);
      l = fadd(fmul(l, alpha), expShifted(sink, mf));
      m = mf;
    }
    Value inv = fcst(1.0);
    if (softmax) {
      Value positive =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, l, fcst(0.0));
      Value recip = arith::DivFOp::create(b, loc, fcst(1.0), l);
      inv = select(positive, recip, fcst(0.0));
      if (alpha)
        inv = fmul(inv, alpha);
    }
    auto ifRow = scf::IfOp::create(b, loc, rowValid[r], false);
    OpBuilder::InsertionGuard storeGuard(b);
    b.setInsertionPointToStart(ifRow.thenBlock());
    for (int64_t i = 0; i < nAcc; ++i)
      for (int64_t e = 2 * r; e < 2 * r + 2; ++e) {
        Value dIdx = add(cst(i * 8 + e % 2), mul(cq, cst(2)));
        Value o = fmul(acc[i * 4 + e], inv);
        if (splitKeys) {
          memref::StoreOp::create(b, loc, o, oPart,
                                  ValueRange{bb, hk, qt, tileRow[r], dIdx});
          continue;
        }
        Value y = !op.getEpilogue().empty()
                      ? AttentionOp::inlineScalarRegion(b, op.getEpilogue(),
                                     {o, bb, h, row[r], dIdx})
                      : toOutput(o, outElem);
        memref::StoreOp::create(b, loc, y, out, ValueRange{bb, h, row[r], dIdx});
      }
    if (lse || splitKeys) {
      Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, cq,
                                          cst(0));
      auto ifFirst = scf::IfOp::create(b, loc, first, false);
      b.setInsertionPointToStart(ifFirst.thenBlock());
      Value positive =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, l, fcst(0.0));
      Value log = fmul(math::Log2Op::create(b, loc, l), fcst(M_LN2));
      Value value = select(positive, arith::AddFOp::create(b, loc, m, log),
                           fcst(-INFINITY));
      if (splitKeys)
        memref::StoreOp::create(b, loc, value, lPart,
                                ValueRange{bb, hk, qt, tileRow[r]});
      else
        memref::StoreOp::create(b, loc, value, lse, ValueRange{bb, h, row[r]});
    }
  }
  }
  if (splitKeys) {
    emitMerge(oPart, lPart, numSplits, batch, staticLq, group);
    memref::DeallocOp::create(b, loc, oPart);
    memref::DeallocOp::create(b, loc, lPart);
  }
  return success();
}

void KernelEmitter::emitMerge(Value oPart, Value lPart, Value numSplits,
                              Value batch, int64_t lq, int64_t group) {
  // One thread per output element (b, h, i, d): the splits' partial
  // outputs weighted by exp(lse_s - M) over their sum (plus the sink's
  // share); for sigmoid the plain sum. The d == 0 thread writes the LSE.
  auto oType = cast<MemRefType>(op.getOutputs()[0].getType());
  Value out = op.getOutputs()[0];
  Value lse = op.getLse();
  int64_t hq = oType.getDimSize(1), dv = oType.getDimSize(3);
  bool softmax = op.getNormalizer() == Normalizer::softmax;
  Value c1 = cst(1);
  OpBuilder::InsertionGuard guard(b);
  Value idx = launchPerElement(mul(batch, cst(hq * lq * dv)));
  Value dIdx = rem(idx, dv);
  Value i = rem(div(idx, dv), lq);
  Value head = rem(div(idx, dv * lq), hq);
  Value bIdx = div(idx, dv * lq * hq);
  Value hk = div(head, group);
  Value p = add(mul(rem(head, group), cst(lq)), i); // row of the tile
  Value mx = fcst(-INFINITY);
  if (softmax) {
    auto maxLoop = scf::ForOp::create(b, loc, cst(0), numSplits, c1,
                                      ValueRange{mx});
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(maxLoop.getBody());
      Value ls = memref::LoadOp::create(
          b, loc, lPart, ValueRange{bIdx, hk, maxLoop.getInductionVar(), p});
      scf::YieldOp::create(b, loc, fmax(maxLoop.getRegionIterArgs()[0], ls));
    }
    mx = maxLoop.getResult(0);
  }
  Value sink;
  if (softmax && !op.getSink().empty()) {
    sink = AttentionOp::inlineScalarRegion(b, op.getSink(), {bIdx, head, i});
    mx = fmax(mx, sink);
  }
  auto sumLoop = scf::ForOp::create(b, loc, cst(0), numSplits, c1,
                                    ValueRange{fcst(0.0), fcst(0.0)});
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(sumLoop.getBody());
    Value sIdx = sumLoop.getInductionVar();
    Value o = memref::LoadOp::create(b, loc, oPart,
                                     ValueRange{bIdx, hk, sIdx, p, dIdx});
    Value w = fcst(1.0);
    if (softmax)
      w = expShifted(memref::LoadOp::create(b, loc, lPart,
                                            ValueRange{bIdx, hk, sIdx, p}),
                     mx);
    ValueRange acc = sumLoop.getRegionIterArgs();
    scf::YieldOp::create(b, loc,
                         ValueRange{fadd(acc[0], fmul(w, o)), fadd(acc[1], w)});
  }
  Value num = sumLoop.getResult(0), den = sumLoop.getResult(1);
  if (sink)
    den = fadd(den, expShifted(sink, mx));
  Value o = num;
  if (softmax) {
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                           den, fcst(0.0));
    o = select(positive, arith::DivFOp::create(b, loc, num, den), fcst(0.0));
  }
  Value y = !op.getEpilogue().empty()
                ? AttentionOp::inlineScalarRegion(b, op.getEpilogue(), {o, bIdx, head, i, dIdx})
                : toOutput(o, oType.getElementType());
  memref::StoreOp::create(b, loc, y, out, ValueRange{bIdx, head, i, dIdx});
  if (lse) {
    auto ifFirst = scf::IfOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, dIdx, cst(0)),
        false);
    b.setInsertionPointToStart(ifFirst.thenBlock());
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                           den, fcst(0.0));
    Value safeM = select(isNegInf(mx), fcst(0.0), mx);
    Value log = fmul(math::Log2Op::create(b, loc, den), fcst(M_LN2));
    memref::StoreOp::create(
        b, loc, select(positive, fadd(safeM, log), fcst(-INFINITY)), lse,
        ValueRange{bIdx, head, i});
  }
}

struct GPUTileAttention
    : attn::impl::AttnGPUTileAttentionPassBase<GPUTileAttention> {
  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) { ops.push_back(op); });
    for (AttentionOp op : ops) {
      if (op->getNumResults() != 0) {
        op.emitOpError("must be bufferized before attn-gpu-tile-attention");
        return signalPassFailure();
      }
      if (!tensorCoreMismatch(op).empty())
        continue;
      OpBuilder b(op);
      KernelEmitter emitter(b, op.getLoc(), op);
      if (emitter.emit().failed())
        return signalPassFailure();
      op.erase();
    }
  }
};

} // namespace
