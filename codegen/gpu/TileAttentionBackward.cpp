//===- TileAttentionBackward.cpp - FlashAttention-2 backward kernels -----===//
//
// Part of the attn project.
//
// Rewrites memref attn.attention_backward into tensor-core launches in the
// FlashAttention-2 form (P recomputed per tile from the saved LSE; every
// gradient element owned by one CTA, so no atomics and bit-identical runs):
//
//   D:  one thread per (batch, head, row): D = dO . O - dLSE     (softmax)
//   dK, dV: blocks(ceil(Lk / 64), Hkv, B) threads(128)  // 4 warps x 16 keys
//     Ks, Vs <- K, V tile (cp.async)
//     for each head of the GQA group, each 64-row query tile that may see
//     a key of the tile (causal start; the mask's tile classification):
//       Qs, dOs <- Q, dO tile; the LSE and D of its rows
//       S^T  = mma(ldmatrix(Ks), ldmatrix(Qs))           // 16 keys x 64 rows
//       P^T  = exp(score(scale S^T) - LSE)
//       dP^T = mma(ldmatrix(Vs), ldmatrix(dOs))
//       dR^T = score_grad(r, P^T (dP^T - D))
//       dV  += mma(P^T, ldmatrix.trans(dOs)); dK += mma(dR^T, ldmatrix.trans(Qs))
//     dK *= scale
//   dQ: blocks(ceil(Lq / 64), Hq, B) threads(128)        // 4 warps x 16 rows
//     Qs, dOs <- Q, dO tile; LSE and D of the thread's two rows
//     for each 64-key tile (classified): Ks, Vs <- K, V tile;
//       S = mma(Q, K), dP = mma(dO, V), dR as above; dQ += mma(dR, ldmatrix.trans(Ks))
//     dQ *= scale
//
// then attn-lower-attention-backward's nest for the gradients of captured
// tensors (buildAttentionBackwardCaptures), which the SIMT lowering maps.
// The GQA reduction of dK and dV is the loop over the group inside the
// dK/dV CTA. Multiplicands are f16 (bf16 for bf16 inputs), P and dR rounded
// to them as in FlashAttention-2; accumulators and outputs are f32.
//
//===----------------------------------------------------------------------===//

#include "codegen/gpu/MmaKernelBuilder.h"
#include "codegen/gpu/Passes.h"
#include "dialect/AttnOps.h"
#include "passes/MaskAnalysis.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUTILEATTENTIONBACKWARDPASS
#include "codegen/gpu/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kTile = kMmaRows; // rows and keys per tile
constexpr int64_t kThreads = kMmaThreads;
/// The SIMT vector width of the captured-tensor nest (the GPU pipeline's).
constexpr int64_t kCaptureVectorWidth = 4;

/// Why the tensor-core backward cannot take `op` (empty if it can); such
/// ops are left to attn-lower-attention-backward's SIMT nests.
std::string tensorCoreMismatch(AttentionBackwardOp op) {
  return mmaOperandMismatch(op.getQuery(), op.getKey(), op.getValue());
}

class BackwardEmitter : public MmaKernelBuilder {
public:
  BackwardEmitter(OpBuilder &b, Location loc, AttentionBackwardOp op)
      : MmaKernelBuilder(b, loc), op(op) {}

  void emit();

private:
  /// D[b, h, i] = dO . O - dLSE: one thread per row.
  Value emitD();
  void emitKeyValueGrads(Value dBuf);
  void emitQueryGrads(Value dBuf);

  /// The mask region (user mask and causal bound) in `maskRegion`; whether
  /// there is one.
  bool buildMask(Region &maskRegion) {
    Value offset = op.getCausal() ? sub(lk, lq) : Value();
    return buildMaskRegion(b, loc, op.getMask(), op.getCausal(), offset,
                           maskRegion);
  }
  /// (full, empty) of the tile rows [i0, i0 + 64) x keys [j0, j0 + 64) for
  /// `head`: a full tile needs no mask evaluation, an empty one is skipped.
  std::pair<Value, Value> classify(Region &maskRegion, bool hasMask,
                                   Value head, Value i0, Value j0);
  /// The mask bits of `n` elements: all true for a full tile, else the
  /// mask region at (head(e), row(e), col(e)).
  SmallVector<Value> maskBits(Region &maskRegion, bool hasMask, Value full,
                              int64_t n, function_ref<Value(int64_t)> head,
                              function_ref<Value(int64_t)> row,
                              function_ref<Value(int64_t)> col);

  /// A launch of (gridX, heads, batch) CTAs of 128 threads with `smemBytes`
  /// of dynamic shared memory; binds the thread's ids (bb, tid, lane,
  /// warpRow, g, cq) and leaves the builder in its body.
  gpu::LaunchOp launchTiles(Value gridX, int64_t heads, int64_t smemBytes);
  /// Stages rows [r0, r0 + 64) of x[bb, head] and y[bb, head] into the
  /// shared tiles xs and ys (rows >= n as zeros) and waits for both.
  void stagePair(Value x, Value xs, int64_t xDim, Value y, Value ys,
                 int64_t yDim, Value head, Value r0, Value n);
  /// for t in [lo, hi): the tile of query rows i0(t) and keys j0(t) for
  /// `head`, classified; unless hidden, body(t0, full, state) (t0 = 64 t)
  /// yields the next state. Returns the final state.
  SmallVector<Value>
  tileLoop(Value lo, Value hi, ValueRange init, Region &maskRegion,
           bool hasMask, Value head, function_ref<Value(Value)> i0,
           function_ref<Value(Value)> j0,
           function_ref<SmallVector<Value>(Value, Value, ValueRange)> body);

  /// P and dR of one (query row i, key j) pair from its product `qk` =
  /// Q_i . K_j and `dp` = dO_i . V_j; `visible` says the pair exists
  /// (in range and unmasked), `lse` and `dRow` are the row's saved LSE and
  /// D (-inf and 0 for a row that does not exist).
  std::pair<Value, Value> pair(Value qk, Value dp, Value head, Value i,
                               Value j, Value visible, Value lse, Value dRow);

  /// One 16 x 64 tile of products per warp: acc[n] (8 accumulator tiles)
  /// += A(rows [row0, row0 + 16) of `aTile`) B(rows of `bTile`)^T over
  /// `dim` columns.
  SmallVector<SmallVector<Value>> rowProducts(Value aTile, Value row0,
                                              Value bTile, int64_t dim);
  /// acc[n] (dim / 8 tiles) += A B(`bTile`) where A is the 16 x 64 tile
  /// whose elements are `x` (8 accumulator tiles of 4) and B's rows are
  /// A's columns.
  void accumulate(ArrayRef<Value> x, Value bTile, int64_t dim,
                  MutableArrayRef<Value> acc);
  /// Loads x[bb, head, min(row, n - 1)] if row < n, else `otherwise`.
  Value loadRow(Value x, Value head, Value row, Value n, Value otherwise);
  /// Stores scale * acc (dim / 8 tiles of 4) into out[bb, head, row, :] for
  /// the thread's two rows `row[0..1]` where `rowValid`.
  void storeRows(ArrayRef<Value> acc, int64_t dim, Value out, Value head,
                 ArrayRef<Value> row, ArrayRef<Value> rowValid, Value scale);

  AttentionBackwardOp op;
  int64_t hq = 0, hkv = 0, group = 0, d = 0, dv = 0;
  bool softmax = true;
  Value batch, lq, lk, g, cq, warpRow;
};

std::pair<Value, Value> BackwardEmitter::classify(Region &maskRegion,
                                                  bool hasMask, Value head,
                                                  Value i0, Value j0) {
  Value c1 = cst(1);
  Value full = boolCst(!hasMask), empty = boolCst(false);
  if (hasMask) {
    Value iMax = sub(minu(add(i0, cst(kTile)), lq), c1);
    Value jMax = sub(minu(add(j0, cst(kTile)), lk), c1);
    MaskClassifier classifier(b, loc, maskRegion.front(), bb, head, i0, iMax,
                              j0, jMax);
    std::tie(full, empty) = classifier.classify(
        cast<YieldOp>(maskRegion.front().getTerminator()).getValues()[0]);
  }
  return {full, empty};
}

SmallVector<Value> BackwardEmitter::maskBits(
    Region &maskRegion, bool hasMask, Value full, int64_t n,
    function_ref<Value(int64_t)> head, function_ref<Value(int64_t)> row,
    function_ref<Value(int64_t)> col) {
  if (!hasMask)
    return SmallVector<Value>(n, boolCst(true));
  SmallVector<Type> types(n, b.getI1Type());
  auto ifFull = scf::IfOp::create(b, loc, types, full, /*withElse=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifFull.thenBlock());
    scf::YieldOp::create(b, loc, SmallVector<Value>(n, boolCst(true)));
    b.setInsertionPointToStart(ifFull.elseBlock());
    SmallVector<Value> bits;
    for (int64_t e = 0; e < n; ++e)
      bits.push_back(AttentionOp::inlineScalarRegion(b, maskRegion,
                                        {bb, head(e), row(e), col(e)}));
    scf::YieldOp::create(b, loc, bits);
  }
  return SmallVector<Value>(ifFull.getResults());
}

std::pair<Value, Value> BackwardEmitter::pair(Value qk, Value dp, Value head,
                                              Value i, Value j, Value visible,
                                              Value lse, Value dRow) {
  Value r = fmul(qk, fcst(op.getScale().convertToFloat()));
  Value s = r;
  if (!op.getScore().empty())
    s = AttentionOp::inlineScalarRegion(b, op.getScore(), {r, bb, head, i, j});
  Value p, ds;
  if (softmax) {
    // A row without a visible key has LSE = -inf: nothing flows from it.
    visible = andi(visible, arith::CmpFOp::create(
                                b, loc, arith::CmpFPredicate::OGT, lse,
                                fcst(-INFINITY)));
    p = exp2(fmul(fsub(s, lse), fcst(M_LOG2E)));
    p = select(visible, p, fcst(0.0));
    ds = fmul(p, fsub(dp, dRow));
  } else {
    // Sigmoid attention: P = sigmoid(s), dS = dP P (1 - P). The division
    // is approximate as in the forward (no divergent slow path).
    Value e = exp2(fmul(s, fcst(-M_LOG2E)));
    p = arith::DivFOp::create(b, loc, fcst(1.0), fadd(fcst(1.0), e),
                              arith::FastMathFlags::afn);
    p = select(visible, p, fcst(0.0));
    ds = fmul(dp, fmul(p, fsub(fcst(1.0), p)));
  }
  Value dr = ds;
  if (!op.getScoreGrad().empty()) {
    // score_grad without its accumulations (the capture nest does them).
    Block &block = op.getScoreGrad().front();
    IRMapping map;
    SmallVector<Value> args{r, ds, bb, head, i, j};
    for (auto [arg, value] : llvm::zip(block.getArguments(), args))
      map.map(arg, value);
    for (Operation &o : block.without_terminator())
      if (!isa<GradAccumulateOp>(o))
        b.clone(o, map);
    dr = map.lookupOrDefault(block.getTerminator()->getOperand(0));
  }
  // The score region of a hidden pair may be anything (a key past the end
  // reads zeros): its dR is dropped, not multiplied by 0.
  return {p, select(visible, dr, fcst(0.0))};
}

SmallVector<SmallVector<Value>>
BackwardEmitter::rowProducts(Value aTile, Value row0, Value bTile,
                             int64_t dim) {
  SmallVector<SmallVector<Value>> acc(kTile / 8,
                                      SmallVector<Value>(4, fcst(0.0)));
  for (int64_t kk = 0; kk < dim / 16; ++kk) {
    SmallVector<Value> a = aFragment(aTile, row0, kk * 16);
    for (int64_t n = 0; n < kTile / 8; ++n)
      acc[n] = mma(a, bFragmentRows(bTile, n * 8, kk * 16), acc[n]);
  }
  return acc;
}

void BackwardEmitter::accumulate(ArrayRef<Value> x, Value bTile, int64_t dim,
                                 MutableArrayRef<Value> acc) {
  // Columns [16 kk, 16 kk + 16) of x are its tiles 2 kk and 2 kk + 1.
  SmallVector<SmallVector<Value>> frags;
  for (int64_t kk = 0; kk < kTile / 16; ++kk)
    frags.push_back(
        packA(x.slice(2 * kk * 4, 4), x.slice((2 * kk + 1) * 4, 4)));
  for (int64_t n = 0; n < dim / 8; ++n) {
    SmallVector<Value> tile(acc.begin() + n * 4, acc.begin() + n * 4 + 4);
    for (int64_t kk = 0; kk < kTile / 16; ++kk)
      tile = mma(frags[kk], bFragmentCols(bTile, kk * 16, n * 8), tile);
    std::copy(tile.begin(), tile.end(), acc.begin() + n * 4);
  }
}

Value BackwardEmitter::loadRow(Value x, Value head, Value row, Value n,
                               Value otherwise) {
  Value valid = ult(row, n);
  Value safe = minu(row, sub(n, cst(1)));
  auto ifValid = scf::IfOp::create(b, loc, TypeRange{f32}, valid, true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifValid.thenBlock());
  Value v = memref::LoadOp::create(b, loc, x, ValueRange{bb, head, safe});
  scf::YieldOp::create(b, loc, v);
  b.setInsertionPointToStart(ifValid.elseBlock());
  scf::YieldOp::create(b, loc, otherwise);
  return ifValid.getResult(0);
}

void BackwardEmitter::storeRows(ArrayRef<Value> acc, int64_t dim, Value out,
                                Value head, ArrayRef<Value> row,
                                ArrayRef<Value> rowValid, Value scale) {
  for (int64_t r = 0; r < 2; ++r) {
    auto ifRow = scf::IfOp::create(b, loc, rowValid[r], false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifRow.thenBlock());
    for (int64_t n = 0; n < dim / 8; ++n)
      for (int64_t e = 2 * r; e < 2 * r + 2; ++e) {
        Value col = add(cst(n * 8 + e % 2), mul(cq, cst(2)));
        Value x = acc[n * 4 + e];
        if (scale)
          x = fmul(x, scale);
        memref::StoreOp::create(b, loc, x, out,
                                ValueRange{bb, head, row[r], col});
      }
  }
}

gpu::LaunchOp BackwardEmitter::launchTiles(Value gridX, int64_t heads,
                                           int64_t smemBytes) {
  Value c1 = cst(1);
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, cst(heads), batch, cst(kThreads), c1, c1,
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), smemBytes));
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&launch.getBody().front());
  bb = launch.getBlockIds().z;
  tid = launch.getThreadIds().x;
  lane = rem(tid, 32);
  warpRow = mul(div(tid, 32), cst(16));
  g = div(lane, 4);
  cq = rem(lane, 4);
  return launch;
}

void BackwardEmitter::stagePair(Value x, Value xs, int64_t xDim, Value y,
                                Value ys, int64_t yDim, Value head, Value r0,
                                Value n) {
  Value xToken = stage(x, head, r0, n, xDim, xs);
  Value yToken = stage(y, head, r0, n, yDim, ys);
  waitGroups(xToken, 0);
  waitGroups(yToken, 0);
}

SmallVector<Value> BackwardEmitter::tileLoop(
    Value lo, Value hi, ValueRange init, Region &maskRegion, bool hasMask,
    Value head, function_ref<Value(Value)> i0, function_ref<Value(Value)> j0,
    function_ref<SmallVector<Value>(Value, Value, ValueRange)> body) {
  auto loop = scf::ForOp::create(b, loc, lo, hi, cst(1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  ValueRange state = loop.getRegionIterArgs();
  Value t0 = mul(loop.getInductionVar(), cst(kTile));
  auto [full, empty] = classify(maskRegion, hasMask, head, i0(t0), j0(t0));
  auto ifStep = scf::IfOp::create(
      b, loc, state.getTypes(),
      arith::XOrIOp::create(b, loc, empty, boolCst(true)), true);
  {
    OpBuilder eb = OpBuilder::atBlockEnd(ifStep.elseBlock());
    scf::YieldOp::create(eb, loc, state);
  }
  b.setInsertionPointToStart(ifStep.thenBlock());
  scf::YieldOp::create(b, loc, body(t0, full, state));
  b.setInsertionPointAfter(ifStep);
  scf::YieldOp::create(b, loc, ifStep.getResults());
  return SmallVector<Value>(loop.getResults());
}

Value BackwardEmitter::emitD() {
  Value c1 = cst(1);
  int64_t dyn = ShapedType::kDynamic;
  Value dBuf = memref::AllocOp::create(
      b, loc, MemRefType::get({dyn, hq, dyn}, f32), ValueRange{batch, lq});
  OpBuilder::InsertionGuard guard(b);
  Value idx = launchPerElement(mul(mul(batch, cst(hq)), lq));
  Value i = arith::RemUIOp::create(b, loc, idx, lq);
  Value bh = arith::DivUIOp::create(b, loc, idx, lq);
  Value h = rem(bh, hq), bi = div(bh, hq);
  auto toF32 = [&](Value x) -> Value {
    return x.getType() == f32 ? x : arith::ExtFOp::create(b, loc, f32, x);
  };
  auto loop = scf::ForOp::create(b, loc, cst(0), cst(dv), c1,
                                 ValueRange{fcst(0.0)});
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value c = loop.getInductionVar();
    Value x = memref::LoadOp::create(b, loc, op.getGradOut(),
                                     ValueRange{bi, h, i, c});
    Value y = memref::LoadOp::create(b, loc, op.getOut(),
                                     ValueRange{bi, h, i, c});
    Value acc = loop.getRegionIterArgs()[0];
    scf::YieldOp::create(
        b, loc, ValueRange{math::FmaOp::create(b, loc, toF32(x), toF32(y), acc)});
  }
  Value dRow = loop.getResult(0);
  if (Value dLse = op.getGradLse())
    dRow = fsub(dRow, memref::LoadOp::create(b, loc, dLse, ValueRange{bi, h, i}));
  memref::StoreOp::create(b, loc, dRow, dBuf, ValueRange{bi, h, i});
  return dBuf;
}

void BackwardEmitter::emitKeyValueGrads(Value dBuf) {
  Value c1 = cst(1);
  int64_t kBytes = kTile * (d + kMmaPad) * 2, vBytes = kTile * (dv + kMmaPad) * 2;
  int64_t statsOffset = 2 * (kBytes + vBytes);
  OpBuilder::InsertionGuard guard(b);
  auto launch = launchTiles(arith::CeilDivUIOp::create(b, loc, lk, cst(kTile)),
                            hkv, statsOffset + 2 * kTile * 4);
  Value hk = launch.getBlockIds().y;
  Value k0 = mul(launch.getBlockIds().x, cst(kTile));

  Value smem = dynamicShared();
  Value ks = sharedTile(smem, 0, d), vs = sharedTile(smem, kBytes, dv);
  Value qs = sharedTile(smem, kBytes + vBytes, d),
        dos = sharedTile(smem, 2 * kBytes + vBytes, dv);
  auto ws = gpu::AddressSpaceAttr::get(b.getContext(),
                                       gpu::AddressSpace::Workgroup);
  Value stats = memref::ViewOp::create(
      b, loc,
      MemRefType::get({2, kTile}, f32, MemRefLayoutAttrInterface(), ws), smem,
      cst(statsOffset), ValueRange{});
  stagePair(op.getKey(), ks, d, op.getValue(), vs, dv, hk, k0, lk);
  gpu::BarrierOp::create(b, loc);

  // This thread's two keys (rows g and g + 8 of the warp's 16).
  Value lkLast = sub(lk, c1);
  SmallVector<Value, 2> key, keyC, keyValid;
  for (int64_t r = 0; r < 2; ++r) {
    key.push_back(add(k0, add(warpRow, add(g, cst(8 * r)))));
    keyC.push_back(minu(key.back(), lkLast));
    keyValid.push_back(ult(key.back(), lk));
  }

  Region maskRegion;
  bool hasMask = buildMask(maskRegion);

  // Loop state: dK[d / 8][4], dV[dv / 8][4].
  int64_t nK = d / 8 * 4, nV = dv / 8 * 4;
  SmallVector<Value> init(nK + nV, fcst(0.0));
  auto groupLoop = scf::ForOp::create(b, loc, cst(0), cst(group), c1, init);
  {
    OpBuilder::InsertionGuard groupGuard(b);
    b.setInsertionPointToStart(groupLoop.getBody());
    Value h = add(mul(hk, cst(group)), groupLoop.getInductionVar());
    // Causal: query rows i >= j - (Lk - Lq) see key j, so the first tile
    // that can see key k0 starts at max(0, k0 + Lq - Lk) / 64.
    Value qtStart = cst(0);
    if (op.getCausal()) {
      Value shifted = add(k0, lq);
      qtStart = div(select(ult(shifted, lk), cst(0), sub(shifted, lk)), kTile);
    }
    auto body = [&](Value q0, Value full,
                    ValueRange state) -> SmallVector<Value> {
      Value qToken = stage(op.getQuery(), h, q0, lq, d, qs);
      Value doToken = stage(op.getGradOut(), h, q0, lq, dv, dos);
      // The rows' LSE and D (a row past the end: -inf and 0).
      auto ifStats = scf::IfOp::create(b, loc, ult(tid, cst(kTile)), false);
      {
        OpBuilder::InsertionGuard statsGuard(b);
        b.setInsertionPointToStart(ifStats.thenBlock());
        Value row = add(q0, tid);
        if (softmax) {
          memref::StoreOp::create(
              b, loc, loadRow(op.getLse(), h, row, lq, fcst(-INFINITY)), stats,
              ValueRange{cst(0), tid});
          memref::StoreOp::create(b, loc,
                                  loadRow(dBuf, h, row, lq, fcst(0.0)), stats,
                                  ValueRange{cst(1), tid});
        } else {
          // Sigmoid: whether the row exists, as 0 or -inf.
          memref::StoreOp::create(
              b, loc, select(ult(row, lq), fcst(0.0), fcst(-INFINITY)), stats,
              ValueRange{cst(0), tid});
        }
      }
      waitGroups(qToken, 0);
      waitGroups(doToken, 0);
      gpu::BarrierOp::create(b, loc);

      // S^T = K Q^T and dP^T = V dO^T: 16 keys x 64 rows per warp.
      auto st = rowProducts(ks, warpRow, qs, d);
      auto dpt = rowProducts(vs, warpRow, dos, dv);

      // Element e of tile n: key row e / 2, query column 8 n + 2 c + e % 2.
      Value lqLast = sub(lq, c1);
      SmallVector<Value> cols, colsC, colInTile;
      for (int64_t n = 0; n < kTile / 8; ++n)
        for (int64_t e = 0; e < 4; ++e) {
          Value t = add(cst(n * 8 + e % 2), mul(cq, cst(2)));
          colInTile.push_back(t);
          cols.push_back(add(q0, t));
          colsC.push_back(minu(cols.back(), lqLast));
        }
      int64_t n = kTile / 8 * 4;
      SmallVector<Value> bits = maskBits(
          maskRegion, hasMask, full, n, [&](int64_t) { return h; },
          [&](int64_t e) { return colsC[e]; },
          [&](int64_t e) { return keyC[(e % 4) / 2]; });
      SmallVector<Value> p(n), dr(n);
      for (int64_t e = 0; e < n; ++e) {
        int64_t r = (e % 4) / 2;
        Value visible = andi(bits[e], andi(keyValid[r], ult(cols[e], lq)));
        Value lse = memref::LoadOp::create(b, loc, stats,
                                           ValueRange{cst(0), colInTile[e]});
        Value dRow =
            softmax ? memref::LoadOp::create(b, loc, stats,
                                             ValueRange{cst(1), colInTile[e]})
                          .getResult()
                    : fcst(0.0);
        std::tie(p[e], dr[e]) =
            pair(st[e / 4][e % 4], dpt[e / 4][e % 4], h, colsC[e], keyC[r],
                 visible, lse, dRow);
      }
      SmallVector<Value> next(state.begin(), state.end());
      // dK += dR^T Q, dV += P^T dO.
      accumulate(dr, qs, d, MutableArrayRef<Value>(next).take_front(nK));
      accumulate(p, dos, dv, MutableArrayRef<Value>(next).drop_front(nK));
      // The next tile overwrites Qs, dOs and the rows' statistics.
      gpu::BarrierOp::create(b, loc);
      return next;
    };
    SmallVector<Value> next = tileLoop(
        qtStart, arith::CeilDivUIOp::create(b, loc, lq, cst(kTile)),
        groupLoop.getRegionIterArgs(), maskRegion, hasMask, h,
        [](Value t0) { return t0; }, [&](Value) { return k0; }, body);
    scf::YieldOp::create(b, loc, next);
  }
  SmallVector<Value> acc(groupLoop.getResults());
  storeRows(ArrayRef<Value>(acc).take_front(nK), d, op.getOutputs()[1], hk,
            key, keyValid, fcst(op.getScale().convertToFloat()));
  storeRows(ArrayRef<Value>(acc).drop_front(nK), dv, op.getOutputs()[2], hk,
            key, keyValid, Value());
}

void BackwardEmitter::emitQueryGrads(Value dBuf) {
  Value c1 = cst(1);
  int64_t qBytes = kTile * (d + kMmaPad) * 2, vBytes = kTile * (dv + kMmaPad) * 2;
  OpBuilder::InsertionGuard guard(b);
  auto launch = launchTiles(arith::CeilDivUIOp::create(b, loc, lq, cst(kTile)),
                            hq, 2 * (qBytes + vBytes));
  Value h = launch.getBlockIds().y;
  Value hk = div(h, group);
  Value q0 = mul(launch.getBlockIds().x, cst(kTile));

  Value smem = dynamicShared();
  Value qs = sharedTile(smem, 0, d), dos = sharedTile(smem, qBytes, dv);
  Value ks = sharedTile(smem, qBytes + vBytes, d),
        vs = sharedTile(smem, 2 * qBytes + vBytes, dv);
  stagePair(op.getQuery(), qs, d, op.getGradOut(), dos, dv, h, q0, lq);
  gpu::BarrierOp::create(b, loc);

  // This thread's two rows, their LSE and D.
  Value lqLast = sub(lq, c1);
  SmallVector<Value, 2> row, rowC, rowValid, lse, dRow;
  for (int64_t r = 0; r < 2; ++r) {
    row.push_back(add(q0, add(warpRow, add(g, cst(8 * r)))));
    rowC.push_back(minu(row.back(), lqLast));
    rowValid.push_back(ult(row.back(), lq));
    lse.push_back(softmax ? loadRow(op.getLse(), h, row[r], lq, fcst(-INFINITY))
                          : fcst(0.0));
    dRow.push_back(softmax ? loadRow(dBuf, h, row[r], lq, fcst(0.0))
                           : fcst(0.0));
  }

  Region maskRegion;
  bool hasMask = buildMask(maskRegion);
  auto body = [&](Value k0, Value full, ValueRange state) -> SmallVector<Value> {
    stagePair(op.getKey(), ks, d, op.getValue(), vs, dv, hk, k0, lk);
    gpu::BarrierOp::create(b, loc);

    // S = Q K^T and dP = dO V^T: 16 rows x 64 keys per warp.
    auto s = rowProducts(qs, warpRow, ks, d);
    auto dp = rowProducts(dos, warpRow, vs, dv);

    // Element e of tile n: query row e / 2, key column 8 n + 2 c + e % 2.
    Value lkLast = sub(lk, c1);
    SmallVector<Value> cols, colsC;
    for (int64_t n = 0; n < kTile / 8; ++n)
      for (int64_t e = 0; e < 4; ++e) {
        cols.push_back(add(k0, add(cst(n * 8 + e % 2), mul(cq, cst(2)))));
        colsC.push_back(minu(cols.back(), lkLast));
      }
    int64_t n = kTile / 8 * 4;
    SmallVector<Value> bits = maskBits(
        maskRegion, hasMask, full, n, [&](int64_t) { return h; },
        [&](int64_t e) { return rowC[(e % 4) / 2]; },
        [&](int64_t e) { return colsC[e]; });
    SmallVector<Value> dr(n);
    for (int64_t e = 0; e < n; ++e) {
      int64_t r = (e % 4) / 2;
      Value visible = andi(bits[e], andi(rowValid[r], ult(cols[e], lk)));
      dr[e] = pair(s[e / 4][e % 4], dp[e / 4][e % 4], h, rowC[r], colsC[e],
                   visible, lse[r], dRow[r])
                  .second;
    }
    SmallVector<Value> next(state.begin(), state.end());
    accumulate(dr, ks, d, next); // dQ += dR K
    // The next tile overwrites Ks and Vs.
    gpu::BarrierOp::create(b, loc);
    return next;
  };
  SmallVector<Value> acc = tileLoop(
      cst(0), arith::CeilDivUIOp::create(b, loc, lk, cst(kTile)),
      SmallVector<Value>(d / 8 * 4, fcst(0.0)), maskRegion, hasMask, h,
      [&](Value) { return q0; }, [](Value t0) { return t0; }, body);
  storeRows(acc, d, op.getOutputs()[0], h, row, rowValid,
            fcst(op.getScale().convertToFloat()));
}

void BackwardEmitter::emit() {
  auto qType = cast<MemRefType>(op.getQuery().getType());
  auto kType = cast<MemRefType>(op.getKey().getType());
  auto vType = cast<MemRefType>(op.getValue().getType());
  Type elem = qType.getElementType();
  hq = qType.getDimSize(1);
  hkv = kType.getDimSize(1);
  group = hq / hkv;
  d = qType.getDimSize(3);
  dv = vType.getDimSize(3);
  mmaType = elem.isBF16() ? Type(b.getBF16Type()) : Type(b.getF16Type());
  softmax = op.getNormalizer() == Normalizer::softmax;
  batch = memref::DimOp::create(b, loc, op.getQuery(), 0);
  lq = memref::DimOp::create(b, loc, op.getQuery(), 2);
  lk = memref::DimOp::create(b, loc, op.getKey(), 2);

  Value dBuf = softmax ? emitD() : Value();
  emitKeyValueGrads(dBuf);
  emitQueryGrads(dBuf);
  buildAttentionBackwardCaptures(op, dBuf, kCaptureVectorWidth);
  if (dBuf)
    memref::DeallocOp::create(b, loc, dBuf);
}

struct GPUTileAttentionBackward
    : attn::impl::AttnGPUTileAttentionBackwardPassBase<
          GPUTileAttentionBackward> {
  void runOnOperation() override {
    SmallVector<AttentionBackwardOp> ops;
    getOperation().walk([&](AttentionBackwardOp op) { ops.push_back(op); });
    for (AttentionBackwardOp op : ops) {
      if (!isa<MemRefType>(op.getQuery().getType())) {
        op.emitOpError(
            "must be bufferized before attn-gpu-tile-attention-backward");
        return signalPassFailure();
      }
      if (!tensorCoreMismatch(op).empty())
        continue;
      OpBuilder b(op);
      BackwardEmitter(b, op.getLoc(), op).emit();
      op.erase();
    }
  }
};

} // namespace
