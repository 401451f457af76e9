//===- LowerAttentionBackward.cpp - FA-2 backward to loops ------*- C++ -*-===//
//
// Part of the attn project.
//
// The memref form of attn.attention_backward as three loop nests (see the
// pass description in Passes.td): D per row, then dK/dV owned by (batch, KV
// head) and dQ owned by (batch, query head), so every gradient element is
// written by one thread in a fixed order (no atomics, bit-identical runs).
// P is recomputed from the saved LSE in both nests. Causal pairs are bounded
// by the loop limits; mask regions are evaluated per pair.
//
//===----------------------------------------------------------------------===//

#include "codegen/common/RegionVectorizer.h"
#include "dialect/AttnOps.h"
#include "passes/LoopBuilders.h"
#include "passes/MaskAnalysis.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERATTENTIONBACKWARDPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class Lowering {
public:
  Lowering(AttentionBackwardOp op, int64_t vectorWidth, bool tiled)
      : op(op), b(op), loc(op.getLoc()), vectorWidth(vectorWidth),
        tiled(tiled) {}

  /// The shapes and constants every nest uses.
  void init() {
    auto qType = cast<MemRefType>(op.getQuery().getType());
    auto kType = cast<MemRefType>(op.getKey().getType());
    auto vType = cast<MemRefType>(op.getValue().getType());
    heads = qType.getDimSize(1);
    kvHeads = kType.getDimSize(1);
    d = qType.getDimSize(3);
    dv = vType.getDimSize(3);
    c0 = idx(0);
    c1 = idx(1);
    batch = memref::DimOp::create(b, loc, op.getQuery(), 0);
    lq = memref::DimOp::create(b, loc, op.getQuery(), 2);
    lk = memref::DimOp::create(b, loc, op.getKey(), 2);
    offset = arith::SubIOp::create(b, loc, lk, lq); // causal: j <= i + off
    scale = f32(op.getScale().convertToFloat());
    zero = f32(0.0f);
  }

  /// Zeroes the capture gradients and accumulates them (after D).
  void captures(Value dBuf) {
    if (op.getCaptureGrads().empty())
      return;
    zeroCaptures();
    captureNest(dBuf);
  }

  LogicalResult run() {
    init();
    zeroCaptures();

    // 1. D[b, h, i] = dO . O - dLSE.
    Value dBuf = memref::AllocOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic, heads, ShapedType::kDynamic},
                        b.getF32Type()),
        ValueRange{batch, lq});
    if (op.getNormalizer() == Normalizer::softmax)
      forall({batch, idx(heads)}, [&](ValueRange bh) {
        buildFor(b, loc, c0, lq, 1, [&](Value i) {
          // The tiled form's dP = dO . V_j is a chain of FMAs over d in
          // order; D the same chain, so that dP - D is exactly 0 where V_j
          // = O_i (a row's only key), as in exact arithmetic.
          Value s = tiled ? chainDot(op.getGradOut(), {bh[0], bh[1], i},
                                     op.getOut(), {bh[0], bh[1], i}, dv)
                          : dot(op.getGradOut(), {bh[0], bh[1], i},
                                op.getOut(), {bh[0], bh[1], i}, dv);
          if (op.getGradLse())
            s = arith::SubFOp::create(
                b, loc, s,
                memref::LoadOp::create(b, loc, op.getGradLse(),
                                       ValueRange{bh[0], bh[1], i}));
          memref::StoreOp::create(b, loc, s, dBuf, ValueRange{bh[0], bh[1], i});
        });
      });

    if (tiled) {
      // score_grad's accumulations indexed by the query head are owned by
      // the tiled nest's iteration (its group's heads): done there, on the
      // pairs it visits anyway (by batch too, or in order over batches).
      bool accumulates = false;
      op.getScoreGrad().walk([&](GradAccumulateOp) { accumulates = true; });
      if (accumulates) {
        auto [byBatch, byHead] = accumulationOwners(op.getScoreGrad(), 2);
        foldCaptures = byHead;
        foldByBatch = byBatch;
      }
      if (failed(tiledNest(dBuf)))
        return failure();
    } else {
      pairNests(dBuf);
    }
    if (!op.getCaptureGrads().empty())
      captureNest(dBuf);
    op.erase();
    return success();
  }

private:
  /// The capture gradients are accumulated into: zero them first.
  void zeroCaptures() {
    for (Value g : op.getCaptureGrads())
      linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{g});
  }

  /// 2. and 3. of the pair form: dK, dV per (batch, KV head), one key row at
  /// a time, then dQ per (batch, query head), one query row at a time.
  void pairNests(Value dBuf) {
    Value dq = op.getOutputs()[0], dk = op.getOutputs()[1],
          dvOut = op.getOutputs()[2];
    forall({batch, idx(kvHeads)}, [&](ValueRange bg) {
      Value bi = bg[0], g = bg[1];
      buildFor(b, loc, c0, lk, 1, [&](Value j) {
        fill(dk, {bi, g, j}, d);
        fill(dvOut, {bi, g, j}, dv);
        // Causal: rows i >= j - off see key j.
        Value lo = c0;
        if (op.getCausal())
          lo = arith::MaxSIOp::create(b, loc, c0,
                                      arith::SubIOp::create(b, loc, j, offset));
        int64_t group = heads / kvHeads;
        buildFor(b, loc, c0, idx(group), 1, [&](Value hh) {
          Value h = arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, g, idx(group)), hh);
          buildFor(b, loc, lo, lq, 1, [&](Value i) {
            pair(bi, h, g, i, j, dBuf, [&](Value p, Value dr) {
              axpy(dvOut, {bi, g, j}, p, op.getGradOut(), {bi, h, i}, dv);
              axpy(dk, {bi, g, j}, arith::MulFOp::create(b, loc, dr, scale),
                   op.getQuery(), {bi, h, i}, d);
            });
          });
        });
      });
    });

    // 3. dQ per (batch, query head), one query row at a time.
    forall({batch, idx(heads)}, [&](ValueRange bh) {
      Value bi = bh[0], h = bh[1];
      Value g = arith::DivUIOp::create(b, loc, h, idx(heads / kvHeads));
      buildFor(b, loc, c0, lq, 1, [&](Value i) {
        fill(dq, {bi, h, i}, d);
        buildFor(b, loc, c0, keysEnd(i), 1, [&](Value j) {
          pair(bi, h, g, i, j, dBuf, [&](Value, Value dr) {
            axpy(dq, {bi, h, i}, arith::MulFOp::create(b, loc, dr, scale),
                 op.getKey(), {bi, g, j}, d);
          });
        });
      });
    });
  }

  //===--------------------------------------------------------------------===//
  // The tiled form (CPU)
  //===--------------------------------------------------------------------===//

  /// Keys and query rows per tile of the tiled form: 48 is three AVX-512
  /// vectors of keys (six AVX2 ones) and a multiple of every register
  /// block's row count below (8 for 48-wide products, 6 for 64- and
  /// 128-wide ones), so no tile has a row remainder. A narrow band (a mask
  /// whose keys per row have a static width, MaskClassifier::staticWidth)
  /// takes 32: fewer hidden pairs along the band (for a window of 64, a
  /// 48-row tile computes 111 keys per row, a 32-row one 95).
  int64_t kTile = 48;
  static constexpr int64_t kBandTile = 32;

  /// FMAs per k step of the register block C[rr x nvb vectors] held across
  /// the k loop: nvb B vectors and rr broadcast A scalars per step, rr * nvb
  /// FMAs, within the register file (32 vector registers with AVX-512, 16
  /// with AVX2; one left for the broadcast).
  std::pair<int64_t, int64_t> gemmBlocking(int64_t nv) const {
    int64_t regs = vectorWidth >= 16 ? 32 : 16;
    int64_t nvb = 1;
    for (int64_t c = std::min<int64_t>(nv, regs >= 32 ? 4 : 2); c >= 1; --c)
      if (nv % c == 0) {
        nvb = c;
        break;
      }
    int64_t rr = std::clamp<int64_t>((regs - nvb - 1) / nvb, 1, 8);
    return {rr, nvb};
  }

  /// C(r, c) += sum_{k < kEnd} A(r, k) B(k, c) for r < m, c < n: blocks of
  /// rr rows x nvb vectors of C stay in registers across the k loop, which
  /// loads nvb vectors of B and broadcasts rr scalars of A per step. `a`
  /// yields the f32 scalar A(r, k) (any layout: a transposed operand is a
  /// strided scalar load), `bVec` the f32 vector B(k, c .. c + w), `cLoad` /
  /// `cStore` C's vectors. Rows past the last full block run one at a time.
  void gemm(Value m, int64_t n, Value kEnd,
            function_ref<Value(Value, Value)> a,
            function_ref<Value(Value, Value, int64_t)> bVec,
            function_ref<Value(Value, Value, int64_t)> cLoad,
            function_ref<void(Value, Value, Value)> cStore) {
    int64_t w = lanesFor(n), nv = n / w;
    auto [rr, nvb] = gemmBlocking(nv);
    // A static row count takes the largest block of at least half the rows
    // that divides it (32 rows: 4 x 4 vectors rather than 6 x 4 and two
    // single rows).
    std::optional<int64_t> mc = getConstantIntValue(m);
    if (mc)
      for (int64_t r = rr; r * 2 >= rr; --r)
        if (*mc % r == 0) {
          rr = r;
          break;
        }
    auto block = [&](Value r0, int64_t rows) {
      buildFor(b, loc, c0, idx(nv / nvb), 1, [&](Value blk) {
        Value col0 = arith::MulIOp::create(b, loc, blk, idx(nvb * w));
        SmallVector<Value> cols, init;
        SmallVector<Value> rowIdx;
        for (int64_t j = 0; j < nvb; ++j)
          cols.push_back(arith::AddIOp::create(b, loc, col0, idx(j * w)));
        for (int64_t r = 0; r < rows; ++r)
          rowIdx.push_back(arith::AddIOp::create(b, loc, r0, idx(r)));
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < nvb; ++j)
            init.push_back(cLoad(rowIdx[r], cols[j], w));
        ValueRange acc = buildReduce(
            b, loc, c0, kEnd, init,
            [&](Value k, ValueRange acc) -> SmallVector<Value> {
              SmallVector<Value> bs, next;
              for (int64_t j = 0; j < nvb; ++j)
                bs.push_back(bVec(k, cols[j], w));
              for (int64_t r = 0; r < rows; ++r) {
                Value as = splat(a(rowIdx[r], k), w);
                for (int64_t j = 0; j < nvb; ++j)
                  next.push_back(fma(as, bs[j], acc[r * nvb + j]));
              }
              return next;
            });
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < nvb; ++j)
            cStore(rowIdx[r], cols[j], acc[r * nvb + j]);
      });
    };
    if (mc && *mc % rr == 0) {
      buildFor(b, loc, c0, m, rr, [&](Value r0) { block(r0, rr); });
      return;
    }
    Value full = arith::SubIOp::create(
        b, loc, m, arith::RemUIOp::create(b, loc, m, idx(rr)));
    buildFor(b, loc, c0, full, rr, [&](Value r0) { block(r0, rr); });
    buildFor(b, loc, full, m, 1, [&](Value r0) { block(r0, 1); });
  }

  /// Stores `v` (a vector, or a scalar for one lane) at buf[lead..., c].
  void storeVec(Value v, Value buf, ArrayRef<Value> lead, Value c) {
    if (isa<VectorType>(v.getType()))
      vector::StoreOp::create(b, loc, v, buf, row(lead, c));
    else
      memref::StoreOp::create(b, loc, v, buf, row(lead, c));
  }

  /// body(r, c, v) for each f32 vector v = src[lead, row0 + r, c .. c + w)
  /// (w = lanesFor(n)) of the rows r < rows.
  void forEachRowVector(Value src, ArrayRef<Value> lead, Value row0,
                        Value rows, int64_t n,
                        function_ref<void(Value, Value, Value, int64_t)> body) {
    int64_t w = lanesFor(n);
    buildFor(b, loc, c0, rows, 1, [&](Value r) {
      SmallVector<Value> at(lead.begin(), lead.end());
      at.push_back(arith::AddIOp::create(b, loc, row0, r));
      buildFor(b, loc, c0, idx(n), w,
               [&](Value c) { body(r, c, loadVec(src, at, c, w), w); });
    });
  }

  /// dst[r, :] = src[lead, row0 + r, :] (f32) for r < rows, n elements.
  void packRows(Value src, ArrayRef<Value> lead, Value row0, Value rows,
                int64_t n, Value dst) {
    forEachRowVector(src, lead, row0, rows, n,
                     [&](Value r, Value c, Value v, int64_t) {
                       storeVec(v, dst, {r}, c);
                     });
  }

  /// dst[r, :] = src[bi, h0 + r, 0, :] (f32) for r < rows: query row 0 of
  /// consecutive heads (the packed decode tile).
  void packHeads(Value src, Value bi, Value h0, Value rows, int64_t n,
                 Value dst) {
    int64_t w = lanesFor(n);
    buildFor(b, loc, c0, rows, 1, [&](Value r) {
      SmallVector<Value> at{bi, arith::AddIOp::create(b, loc, h0, r), c0};
      buildFor(b, loc, c0, idx(n), w, [&](Value c) {
        storeVec(loadVec(src, at, c, w), dst, {r}, c);
      });
    });
  }

  /// dst[c, r] = src[lead, row0 + r, c] (f32) for r < rows, zero for
  /// rows <= r < kTile: the transposed tile a product over keys reads.
  void packTransposed(Value src, ArrayRef<Value> lead, Value row0, Value rows,
                      int64_t n, Value dst) {
    forEachRowVector(
        src, lead, row0, rows, n, [&](Value r, Value c, Value v, int64_t w) {
          for (int64_t l = 0; l < w; ++l) {
            Value x =
                w == 1 ? v : vector::ExtractOp::create(b, loc, v, l).getResult();
            Value cl = arith::AddIOp::create(b, loc, c, idx(l));
            memref::StoreOp::create(b, loc, x, dst, ValueRange{cl, r});
          }
        });
    buildFor(b, loc, rows, idx(kTile), 1, [&](Value r) {
      buildFor(b, loc, c0, idx(n), 1, [&](Value c) {
        memref::StoreOp::create(b, loc, zero, dst, ValueRange{c, r});
      });
    });
  }

  /// A vector of `w` consecutive indices from `base`.
  Value indexVector(Value base, int64_t w) {
    SmallVector<APInt> lanes;
    for (int64_t l = 0; l < w; ++l)
      lanes.push_back(APInt(64, l));
    auto type = VectorType::get({w}, b.getIndexType());
    Value iota = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, ArrayRef<APInt>(lanes)));
    return arith::AddIOp::create(
        b, loc, vector::BroadcastOp::create(b, loc, type, base), iota);
  }

  /// 2.+3. tiled: in parallel over (batch, KV head), each owning its dK, dV
  /// and the dQ of its group's heads (every gradient element has one owner
  /// and a fixed order of accumulation, so runs are bit-identical). For each
  /// tile of kTile keys (K, K^T and V^T packed once), for each head of the
  /// group and each tile of query rows that can see a key of it (causal
  /// bounds; tiles the mask hides entirely, as MaskClassifier proves, are
  /// skipped): S = Q K^T and dP = dO V^T by register-blocked products, P and
  /// dR elementwise on vectors of keys (the score, mask and score_grad
  /// regions vectorized), then dV += P^T dO, dK += dR^T Q (f32 tiles kept
  /// across the group's query tiles) and dQ += dR K.
  LogicalResult tiledNest(Value dBuf) {
    Value dq = op.getOutputs()[0], dk = op.getOutputs()[1],
          dvOut = op.getOutputs()[2];
    Type f32t = b.getF32Type();
    bool softmax = op.getNormalizer() == Normalizer::softmax;
    int64_t group = heads / kvHeads;
    // Visibility (mask && causal) as one (b, h, i, j) region; score_grad
    // without its capture accumulations (the capture nest does those).
    Region visibility, scoreGrad;
    bool hasMask = buildMaskRegion(b, loc, op.getMask(), op.getCausal(),
                                   offset, visibility);
    if (hasMask) {
      MaskClassifier classifier(b, loc, visibility.front(), Value(), Value(),
                                Value(), Value(), Value(), Value());
      auto yield = cast<YieldOp>(visibility.front().getTerminator());
      if (std::optional<int64_t> width = MaskClassifier::staticWidth(
              classifier.keyIntervals(yield.getValues()[0]), offset))
        if (*width <= 4 * kBandTile)
          kTile = kBandTile;
    }
    if (!op.getScoreGrad().empty()) {
      IRMapping m;
      op.getScoreGrad().cloneInto(&scoreGrad, m);
      SmallVector<Operation *> accs;
      if (!foldCaptures)
        scoreGrad.walk([&](GradAccumulateOp acc) { accs.push_back(acc); });
      for (Operation *acc : accs)
        acc->erase();
    }
    // Decode (a static query length of 1): the group's query heads are the
    // rows of one query tile, as in the forward's split-KV form, so the
    // products have G rows instead of one. Each row's regions still see
    // its own head; a visibility that reads the head is not classified per
    // tile then (the tile spans several heads).
    auto qShape = cast<MemRefType>(op.getQuery().getType()).getShape();
    bool packHeads = group > 1 && group <= kTile && qShape[2] == 1;
    bool classifyTiles =
        hasMask && !(packHeads && regionReadsArgument(visibility, 1));
    int64_t we = lanesFor(kTile);
    LogicalResult status = success();
    auto tile = [&](int64_t n) { return MemRefType::get({kTile, n}, f32t); };
    Value kt0 = idx(kTile);
    bool parallelBatch = !foldCaptures || foldByBatch;
    // With fewer than 4 KV heads (MQA, MLA's single latent head) the
    // iterations also split the key tiles, interleaved (tile t to part
    // t mod parts, balanced under a causal mask), each part adding into
    // its own f32 copy of dQ; the copies are summed in order of part after
    // the nest (a fixed order whatever the thread count).
    int64_t parts = !foldCaptures && kvHeads < 4 ? 4 / kvHeads : 1;
    Value dqBuf = dq;
    if (parts > 1)
      dqBuf = memref::AllocOp::create(
          b, loc,
          MemRefType::get({parts, ShapedType::kDynamic, heads,
                           ShapedType::kDynamic, d},
                          f32t),
          ValueRange{batch, lq});
    SmallVector<Value> dims = {parallelBatch ? batch : c1, idx(kvHeads)};
    if (parts > 1)
      dims.push_back(idx(parts));
    forall(dims, [&](ValueRange bg) {
      Value g = bg[1];
      Value part = parts > 1 ? bg[2] : Value();
      auto dqLead = [&](Value bi, Value h) {
        return parts > 1 ? SmallVector<Value>{part, bi, h}
                         : SmallVector<Value>{bi, h};
      };
      Value kT = memref::AllocaOp::create(
                b, loc, MemRefType::get({d, kTile}, f32t)),
            vT = memref::AllocaOp::create(
                b, loc, MemRefType::get({dv, kTile}, f32t)),
            kRows = memref::AllocaOp::create(b, loc, tile(d)),
            qTile = memref::AllocaOp::create(b, loc, tile(d)),
            doTile = memref::AllocaOp::create(b, loc, tile(dv)),
            pTile = memref::AllocaOp::create(b, loc, tile(kTile)),
            dsTile = memref::AllocaOp::create(b, loc, tile(kTile)),
            dkAcc = memref::AllocaOp::create(b, loc, tile(d)),
            dvAcc = memref::AllocaOp::create(b, loc, tile(dv));
      Value g0 = arith::MulIOp::create(b, loc, g, idx(group));
      auto perBatch = [&](Value bi) {
      // dQ of the group's heads is accumulated over key tiles: zero it.
      buildFor(b, loc, c0, idx(group), 1, [&](Value hh) {
        Value h = arith::AddIOp::create(b, loc, g0, hh);
        buildFor(b, loc, c0, lq, 1,
                 [&](Value i) { fill(dqBuf, row(dqLead(bi, h), i), d); });
      });
      Value jStart = parts > 1 ? arith::MulIOp::create(b, loc, part, kt0)
                               : c0;
      buildFor(b, loc, jStart, lk, kTile * parts, [&](Value j0) {
        Value nk = arith::MinSIOp::create(
            b, loc, kt0, arith::SubIOp::create(b, loc, lk, j0));
        packTransposed(op.getKey(), {bi, g}, j0, nk, d, kT);
        packTransposed(op.getValue(), {bi, g}, j0, nk, dv, vT);
        packRows(op.getKey(), {bi, g}, j0, nk, d, kRows);
        buildFor(b, loc, c0, kt0, 1, [&](Value c) {
          fill(dkAcc, {c}, d);
          fill(dvAcc, {c}, dv);
        });
        // Rows before j0 - (Lk - Lq) see no key of the tile when causal.
        Value iStart = c0;
        if (op.getCausal())
          iStart = arith::MaxSIOp::create(
              b, loc, c0, arith::SubIOp::create(b, loc, j0, offset));
        auto step = [&](Value h, Value i0, Value nq, Value iMax,
                        Value packedG0) {
            Value live = arith::ConstantIntOp::create(b, loc, 1, 1);
            if (classifyTiles) {
              Value jMax = arith::SubIOp::create(
                  b, loc, arith::AddIOp::create(b, loc, j0, nk), c1);
              MaskClassifier classifier(b, loc, visibility.front(), bi, h, i0,
                                        iMax, j0, jMax);
              Value empty =
                  classifier
                      .classify(cast<YieldOp>(
                                    visibility.front().getTerminator())
                                    .getValues()[0])
                      .second;
              live = arith::XOrIOp::create(
                  b, loc, empty, arith::ConstantIntOp::create(b, loc, 1, 1));
            }
            buildIf(b, loc, live, [&] {
              if (failed(queryTile(bi, h, i0, nq, j0, nk, dBuf, hasMask,
                                   visibility, scoreGrad, softmax, we, kT, vT,
                                   kRows, qTile, doTile, pTile, dsTile, dkAcc,
                                   dvAcc, dqBuf, dqLead, packedG0)))
                status = failure();
            });
        };
        if (packHeads) {
          // One tile: the group's heads, query row 0 (which a causal mask
          // lets see every key).
          step(g0, c0, idx(group), c0, g0);
        } else {
          buildFor(b, loc, c0, idx(group), 1, [&](Value hh) {
            Value h = arith::AddIOp::create(b, loc, g0, hh);
            buildFor(b, loc, iStart, lq, kTile, [&](Value i0) {
              Value nq = arith::MinSIOp::create(
                  b, loc, kt0, arith::SubIOp::create(b, loc, lq, i0));
              Value iMax = arith::SubIOp::create(
                  b, loc, arith::AddIOp::create(b, loc, i0, nq), c1);
              step(h, i0, nq, iMax, Value());
            });
          });
        }
        // The tile's dK, dV rows.
        buildFor(b, loc, c0, nk, 1, [&](Value c) {
          Value j = arith::AddIOp::create(b, loc, j0, c);
          int64_t w = lanesFor(d);
          buildFor(b, loc, c0, idx(d), w, [&](Value e) {
            storeVec(loadVec(dkAcc, {c}, e, w), dk, {bi, g, j}, e);
          });
          int64_t wv = lanesFor(dv);
          buildFor(b, loc, c0, idx(dv), wv, [&](Value e) {
            storeVec(loadVec(dvAcc, {c}, e, wv), dvOut, {bi, g, j}, e);
          });
        });
      });
      };
      if (parallelBatch)
        perBatch(bg[0]);
      else
        buildFor(b, loc, c0, batch, 1, perBatch);
    });
    if (parts > 1) {
      // dQ = the parts' copies summed in order of part.
      int64_t w = lanesFor(d);
      forall({batch, idx(heads)}, [&](ValueRange bh) {
        buildFor(b, loc, c0, lq, 1, [&](Value i) {
          buildFor(b, loc, c0, idx(d), w, [&](Value e) {
            Value sum = loadVec(dqBuf, {c0, bh[0], bh[1], i}, e, w);
            for (int64_t p = 1; p < parts; ++p)
              sum = arith::AddFOp::create(
                  b, loc, sum, loadVec(dqBuf, {idx(p), bh[0], bh[1], i}, e, w));
            storeVec(sum, dq, {bh[0], bh[1], i}, e);
          });
        });
      });
    }
    return status;
  }

  /// One (query tile, key tile) step of the tiled form.
  LogicalResult queryTile(Value bi, Value h, Value i0, Value nq,
                          Value j0, Value nk, Value dBuf, bool hasMask,
                          Region &visibility, Region &scoreGrad, bool softmax,
                          int64_t we, Value kT, Value vT, Value kRows,
                          Value qTile, Value doTile, Value pTile, Value dsTile,
                          Value dkAcc, Value dvAcc, Value dq,
                          function_ref<SmallVector<Value>(Value, Value)> dqLead,
                          Value packedG0) {
    Value kt0 = idx(kTile);
    // Row r of the tile: query row i0 + r of head h, or, with the heads
    // packed, row 0 of head packedG0 + r.
    auto rowHead = [&](Value r) -> Value {
      return packedG0 ? arith::AddIOp::create(b, loc, packedG0, r).getResult()
                      : h;
    };
    auto rowIndex = [&](Value r) -> Value {
      return packedG0 ? c0 : arith::AddIOp::create(b, loc, i0, r).getResult();
    };
    if (packedG0) {
      packHeads(op.getQuery(), bi, packedG0, nq, d, qTile);
      packHeads(op.getGradOut(), bi, packedG0, nq, dv, doTile);
    } else {
      packRows(op.getQuery(), {bi, h}, i0, nq, d, qTile);
      packRows(op.getGradOut(), {bi, h}, i0, nq, dv, doTile);
    }
    auto scalarAt = [&](Value buf) {
      return [this, buf](Value r, Value k) -> Value {
        return memref::LoadOp::create(b, loc, buf, ValueRange{r, k});
      };
    };
    auto transposedAt = [&](Value buf) {
      return [this, buf](Value r, Value k) -> Value {
        return memref::LoadOp::create(b, loc, buf, ValueRange{k, r});
      };
    };
    auto rowsOf = [&](Value buf) {
      return [this, buf](Value k, Value c, int64_t w) -> Value {
        return loadVec(buf, {k}, c, w);
      };
    };
    auto storeTo = [&](Value buf) {
      return [this, buf](Value r, Value c, Value v) {
        storeVec(v, buf, {r}, c);
      };
    };
    auto zeroVec = [&](Value, Value, int64_t w) { return splat(zero, w); };

    // S = Q K^T into pTile, dP = dO V^T into dsTile.
    gemm(nq, kTile, idx(d), scalarAt(qTile), rowsOf(kT), zeroVec,
         storeTo(pTile));
    gemm(nq, kTile, idx(dv), scalarAt(doTile), rowsOf(vT), zeroVec,
         storeTo(dsTile));

    // P and scale * dR, elementwise over vectors of keys; invisible pairs
    // (masked, a row without keys) are 0.
    LogicalResult status = success();
    Value scaleV = splat(scale, we), zeroV = splat(zero, we);
    buildFor(b, loc, c0, nq, 1, [&](Value r) {
      Value i = rowIndex(r);
      Value h = rowHead(r);
      Value lse, dRow;
      Value rowLive = arith::ConstantIntOp::create(b, loc, 1, 1);
      if (softmax) {
        lse = memref::LoadOp::create(b, loc, op.getLse(), ValueRange{bi, h, i});
        dRow = memref::LoadOp::create(b, loc, dBuf, ValueRange{bi, h, i});
        rowLive = arith::CmpFOp::create(
            b, loc, arith::CmpFPredicate::OGT, lse,
            f32(-std::numeric_limits<float>::infinity()));
      }
      buildFor(b, loc, c0, kt0, we, [&](Value c) {
        Value j = arith::AddIOp::create(b, loc, j0, c);
        Value jv = indexVector(j, we);
        // Keys past Lk (the tile's zero padding) need no test for dK, dV
        // and dQ: their P and dR only reach dK/dV rows that are never
        // written out, and dQ's product stops at the tile's last key. Folded
        // capture accumulations would count them (P = exp(s(0) - LSE)).
        Value vis = vector::BroadcastOp::create(
            b, loc, VectorType::get({we}, b.getI1Type()), rowLive);
        if (foldCaptures)
          vis = arith::AndIOp::create(
              b, loc, vis,
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::slt, jv,
                  vector::BroadcastOp::create(
                      b, loc, VectorType::get({we}, b.getIndexType()), lk)));
        if (hasMask) {
          FailureOr<Value> m = vectorizeRegion(
              b, loc, visibility.front(), {bi, h, i, jv}, we, op);
          if (failed(m)) {
            status = failure();
            return;
          }
          vis = arith::AndIOp::create(b, loc, vis,
                                      broadcastToVector(b, loc, *m, we));
        }
        Value rv = arith::MulFOp::create(b, loc, scaleV,
                                         loadVec(pTile, {r}, c, we));
        Value s = rv;
        if (!op.getScore().empty()) {
          FailureOr<Value> sv = vectorizeRegion(
              b, loc, op.getScore().front(), {rv, bi, h, i, jv}, we, op);
          if (failed(sv)) {
            status = failure();
            return;
          }
          s = broadcastToVector(b, loc, *sv, we);
        }
        Value dp = loadVec(dsTile, {r}, c, we);
        Value p, ds;
        if (softmax) {
          p = math::ExpOp::create(
              b, loc, arith::SubFOp::create(b, loc, s, splat(lse, we)));
          ds = arith::MulFOp::create(
              b, loc, p, arith::SubFOp::create(b, loc, dp, splat(dRow, we)));
        } else {
          Value one = splat(f32(1.0f), we);
          p = arith::DivFOp::create(
              b, loc, one,
              arith::AddFOp::create(
                  b, loc, one,
                  math::ExpOp::create(b, loc,
                                      arith::NegFOp::create(b, loc, s))));
          ds = arith::MulFOp::create(
              b, loc, dp,
              arith::MulFOp::create(b, loc, p,
                                    arith::SubFOp::create(b, loc, one, p)));
        }
        Value dr = ds;
        if (!scoreGrad.empty()) {
          // Folded capture accumulations: the visible lanes' values added
          // at their indices (summed first when no index varies).
          auto scatter = [&](Operation &o, ArrayRef<Value> operands,
                             IRMapping &) -> bool {
            auto acc = dyn_cast<GradAccumulateOp>(o);
            if (!acc)
              return false;
            Value buf = op.getCaptureGrads()[acc.getCapture()];
            Value val = arith::SelectOp::create(
                b, loc, vis, broadcastToVector(b, loc, operands[0], we),
                zeroV);
            ArrayRef<Value> at = operands.drop_front();
            if (llvm::none_of(at, [](Value v) {
                  return isa<VectorType>(v.getType());
                })) {
              Value sum = vector::ReductionOp::create(
                  b, loc, vector::CombiningKind::ADD, val);
              Value old = memref::LoadOp::create(b, loc, buf, at);
              memref::StoreOp::create(
                  b, loc, arith::AddFOp::create(b, loc, old, sum), buf, at);
              return true;
            }
            // Invisible lanes add 0 at an index clamped into the buffer
            // (keys past Lk).
            for (int64_t l = 0; l < we; ++l) {
              SmallVector<Value> idxs;
              for (auto [k, v] : llvm::enumerate(at)) {
                if (!isa<VectorType>(v.getType())) {
                  idxs.push_back(v);
                  continue;
                }
                Value x = vector::ExtractOp::create(b, loc, v, l);
                Value last = arith::SubIOp::create(
                    b, loc, memref::DimOp::create(b, loc, buf, k), c1);
                idxs.push_back(arith::MinSIOp::create(
                    b, loc, arith::MaxSIOp::create(b, loc, x, c0), last));
              }
              Value x = vector::ExtractOp::create(b, loc, val, l);
              Value old = memref::LoadOp::create(b, loc, buf, idxs);
              memref::StoreOp::create(
                  b, loc, arith::AddFOp::create(b, loc, old, x), buf, idxs);
            }
            return true;
          };
          FailureOr<Value> gv = vectorizeRegion(
              b, loc, scoreGrad.front(), {rv, ds, bi, h, i, jv}, we, op,
              nullptr, foldCaptures ? CustomVectorizer(scatter) : nullptr);
          if (failed(gv)) {
            status = failure();
            return;
          }
          dr = broadcastToVector(b, loc, *gv, we);
        }
        dr = arith::MulFOp::create(b, loc, dr, scaleV);
        storeVec(arith::SelectOp::create(b, loc, vis, p, zeroV), pTile, {r}, c);
        storeVec(arith::SelectOp::create(b, loc, vis, dr, zeroV), dsTile, {r},
               c);
      });
    });
    if (failed(status))
      return failure();

    // dV += P^T dO, dK += dR^T Q over the tile's rows; dQ += dR K.
    gemm(kt0, dv, nq, transposedAt(pTile), rowsOf(doTile),
         rowsOf(dvAcc), storeTo(dvAcc));
    gemm(kt0, d, nq, transposedAt(dsTile), rowsOf(qTile), rowsOf(dkAcc),
         storeTo(dkAcc));
    auto dqRow = [&](Value r) {
      return row(dqLead(bi, rowHead(r)), rowIndex(r));
    };
    gemm(
        nq, d, nk, scalarAt(dsTile), rowsOf(kRows),
        [&](Value r, Value c, int64_t w) { return loadVec(dq, dqRow(r), c, w); },
        [&](Value r, Value c, Value v) { storeVec(v, dq, dqRow(r), c); });
    return success();
  }

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(float v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }

  /// An element of `buf` at `at` (+ `[c]`) as f32.
  Value load(Value buf, ArrayRef<Value> at) {
    Value x = memref::LoadOp::create(b, loc, buf, at);
    if (!x.getType().isF32())
      x = arith::ExtFOp::create(b, loc, b.getF32Type(), x);
    return x;
  }

  static SmallVector<Value> row(ArrayRef<Value> lead, Value c) {
    SmallVector<Value> at(lead.begin(), lead.end());
    at.push_back(c);
    return at;
  }

  /// The lanes that rows of `n` elements are processed in: the widest power
  /// of two <= the target's vector width that divides n (1: scalar).
  int64_t lanesFor(int64_t n) const {
    for (int64_t w = vectorWidth; w >= 4; w /= 2)
      if (n % w == 0)
        return w;
    return 1;
  }

  /// `w` elements of `buf` at `at` (+ `[c]`) as an f32 vector (a scalar for
  /// w = 1).
  Value loadVec(Value buf, ArrayRef<Value> lead, Value c, int64_t w) {
    if (w == 1)
      return load(buf, row(lead, c));
    Type elem = cast<MemRefType>(buf.getType()).getElementType();
    Value x = vector::LoadOp::create(b, loc, VectorType::get({w}, elem), buf,
                                     row(lead, c));
    if (!elem.isF32())
      x = arith::ExtFOp::create(b, loc, VectorType::get({w}, b.getF32Type()),
                                x);
    return x;
  }

  Value splat(Value s, int64_t w) {
    return w == 1 ? s
                  : vector::BroadcastOp::create(
                        b, loc, VectorType::get({w}, b.getF32Type()), s)
                        .getResult();
  }

  /// The end of the keys row `i` sees: Lk, or min(Lk, i + Lk - Lq + 1)
  /// when causal.
  Value keysEnd(Value i) {
    if (!op.getCausal())
      return lk;
    return arith::MinSIOp::create(
        b, loc, lk,
        arith::AddIOp::create(b, loc, arith::AddIOp::create(b, loc, i, offset),
                              c1));
  }

  /// a * x + y, elementwise.
  Value fma(Value a, Value x, Value y) {
    if (isa<VectorType>(a.getType()))
      return vector::FMAOp::create(b, loc, a, x, y);
    return arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, a, x),
                                 y);
  }

  /// sum_c x[xl, c] y[yl, c] over c < n, in f32 (vectors of lanes, then one
  /// reduction).
  Value dot(Value x, ArrayRef<Value> xl, Value y, ArrayRef<Value> yl,
            int64_t n) {
    int64_t w = lanesFor(n);
    Value acc = buildReduce(
        b, loc, c0, idx(n / w), ValueRange{splat(zero, w)},
        [&](Value k, ValueRange acc) -> SmallVector<Value> {
          Value c = arith::MulIOp::create(b, loc, k, idx(w));
          return {fma(loadVec(x, xl, c, w), loadVec(y, yl, c, w), acc[0])};
        })[0];
    if (w == 1)
      return acc;
    return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, acc);
  }

  /// sum_c x[xl, c] y[yl, c] over c < n as one chain of f32 FMAs in order
  /// of c: the rounding of one lane of gemm()'s products.
  Value chainDot(Value x, ArrayRef<Value> xl, Value y, ArrayRef<Value> yl,
                 int64_t n) {
    return buildReduce(b, loc, c0, idx(n), ValueRange{zero},
                       [&](Value c, ValueRange acc) -> SmallVector<Value> {
                         return {math::FmaOp::create(b, loc, load(x, row(xl, c)),
                                                     load(y, row(yl, c)),
                                                     acc[0])};
                       })[0];
  }

  /// out[ol, c] = 0 for c < n.
  void fill(Value out, ArrayRef<Value> ol, int64_t n) {
    int64_t w = lanesFor(n);
    buildFor(b, loc, c0, idx(n), w,
             [&](Value c) { storeVec(splat(zero, w), out, ol, c); });
  }

  /// out[ol, c] += a x[xl, c] for c < n (out f32).
  void axpy(Value out, ArrayRef<Value> ol, Value a, Value x, ArrayRef<Value> xl,
            int64_t n) {
    int64_t w = lanesFor(n);
    Value av = splat(a, w);
    buildFor(b, loc, c0, idx(n), w, [&](Value c) {
      Value o = loadVec(out, ol, c, w);
      storeVec(fma(av, loadVec(x, xl, c, w), o), out, ol, c);
    });
  }

  /// scf.forall over [0, ubs) with the body at `b`.
  void forall(ArrayRef<Value> ubs, function_ref<void(ValueRange)> body) {
    SmallVector<OpFoldResult> bounds(ubs.begin(), ubs.end());
    auto loop =
        scf::ForallOp::create(b, loc, bounds, ValueRange{}, std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVars());
  }

  /// For a (query i of head h, key j of KV head g) pair: when it is visible,
  /// recomputes P and dR and calls `body(p, dr)`.
  void pair(Value bi, Value h, Value g, Value i, Value j, Value dBuf,
            function_ref<void(Value, Value)> body, bool accumulate = false) {
    bool softmax = op.getNormalizer() == Normalizer::softmax;
    Value lse, visible = arith::ConstantIntOp::create(b, loc, 1, 1);
    if (softmax) {
      lse = memref::LoadOp::create(b, loc, op.getLse(), ValueRange{bi, h, i});
      Value ninf = f32(-std::numeric_limits<float>::infinity());
      visible =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, lse, ninf);
    }
    if (!op.getMask().empty()) {
      Value m = AttentionOp::inlineScalarRegion(b, op.getMask(),
                                                ValueRange{bi, h, i, j});
      visible = arith::AndIOp::create(b, loc, visible, m);
    }
    buildIf(b, loc, visible, [&] {
      Value r = arith::MulFOp::create(
          b, loc, scale,
          dot(op.getQuery(), {bi, h, i}, op.getKey(), {bi, g, j}, d));
      Value s = r;
      if (!op.getScore().empty())
        s = AttentionOp::inlineScalarRegion(b, op.getScore(),
                                            ValueRange{r, bi, h, i, j});
      Value dp =
          dot(op.getGradOut(), {bi, h, i}, op.getValue(), {bi, g, j}, dv);
      Value p, ds;
      if (softmax) {
        // P from the saved LSE; dS = P (dP - D).
        p = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, s, lse));
        Value dRow = memref::LoadOp::create(b, loc, dBuf, ValueRange{bi, h, i});
        ds = arith::MulFOp::create(b, loc, p,
                                   arith::SubFOp::create(b, loc, dp, dRow));
      } else {
        // P = sigmoid(s) = 1 / (1 + exp(-s)); dS = dP P (1 - P).
        Value one = f32(1.0f);
        p = arith::DivFOp::create(
            b, loc, one,
            arith::AddFOp::create(
                b, loc, one,
                math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, s))));
        ds = arith::MulFOp::create(
            b, loc, dp,
            arith::MulFOp::create(b, loc, p,
                                  arith::SubFOp::create(b, loc, one, p)));
      }
      Value dr = ds;
      if (!op.getScoreGrad().empty())
        dr = inlineGrad(op.getScoreGrad(), {r, ds, bi, h, i, j}, accumulate);
      body(p, dr);
    });
  }

  /// Inlines a gradient region (score_grad, sink_grad) at `b`; its
  /// attn.grad_accumulate ops become load/add/store on the capture
  /// gradients with `accumulate`, and are dropped otherwise. Returns the
  /// yielded value (null if none).
  Value inlineGrad(Region &region, ArrayRef<Value> args, bool accumulate) {
    IRMapping map;
    Block &block = region.front();
    for (auto [arg, val] : llvm::zip(block.getArguments(), args))
      map.map(arg, val);
    for (Operation &o : block.without_terminator()) {
      auto acc = dyn_cast<GradAccumulateOp>(o);
      if (!acc) {
        b.clone(o, map);
        continue;
      }
      if (!accumulate)
        continue;
      Value buf = op.getCaptureGrads()[acc.getCapture()];
      SmallVector<Value> at;
      for (Value i : acc.getIndices())
        at.push_back(map.lookupOrDefault(i));
      Value old = memref::LoadOp::create(b, loc, buf, at);
      Value sum = arith::AddFOp::create(b, loc, old,
                                        map.lookupOrDefault(acc.getValue()));
      memref::StoreOp::create(b, loc, sum, buf, at);
    }
    Operation *term = block.getTerminator();
    return term->getNumOperands() ? map.lookupOrDefault(term->getOperand(0))
                                  : Value();
  }

  /// Which of (batch, head) every accumulation of `r` (batch and head its
  /// arguments bArg and bArg + 1) is indexed by directly.
  static std::pair<bool, bool> accumulationOwners(Region &r, unsigned bArg) {
    bool byBatch = true, byHead = true;
    if (r.empty())
      return {byBatch, byHead};
    Value bv = r.front().getArgument(bArg),
          hv = r.front().getArgument(bArg + 1);
    r.walk([&](GradAccumulateOp acc) {
      byBatch &= llvm::is_contained(acc.getIndices(), bv);
      byHead &= llvm::is_contained(acc.getIndices(), hv);
    });
    return {byBatch, byHead};
  }

  /// Which of (batch, head) every accumulation is indexed by directly: the
  /// capture nest runs in parallel over those (each gradient element is
  /// then owned by one iteration) and in order over the rest.
  std::pair<bool, bool> captureOwners() {
    bool byBatch = true, byHead = true;
    auto scan = [&](Region &r, unsigned bArg) {
      if (r.empty())
        return;
      Value bv = r.front().getArgument(bArg),
            hv = r.front().getArgument(bArg + 1);
      r.walk([&](GradAccumulateOp acc) {
        byBatch &= llvm::is_contained(acc.getIndices(), bv);
        byHead &= llvm::is_contained(acc.getIndices(), hv);
      });
    };
    scan(op.getScoreGrad(), 2);
    scan(op.getSinkGrad(), 1);
    return {byBatch, byHead};
  }

  /// 4. The gradients of captured tensors: every visible pair (and every
  /// row's sink) again, accumulating through the gradient regions.
  void captureNest(Value dBuf) {
    auto [byBatch, byHead] = captureOwners();
    Value one = c1;
    forall(
        {byBatch ? batch : one, byHead ? idx(heads) : one},
        [&](ValueRange outer) {
          auto inner = [&](Value bi, Value h) {
            Value g = arith::DivUIOp::create(b, loc, h, idx(heads / kvHeads));
            buildFor(b, loc, c0, lq, 1, [&](Value i) {
              if (!op.getSinkGrad().empty()) {
                // g_sink = -exp(sink - LSE) D.
                Value lse = memref::LoadOp::create(b, loc, op.getLse(),
                                                   ValueRange{bi, h, i});
                Value sink = AttentionOp::inlineScalarRegion(
                    b, op.getSink(), ValueRange{bi, h, i});
                Value ps = math::ExpOp::create(
                    b, loc, arith::SubFOp::create(b, loc, sink, lse));
                Value dRow =
                    memref::LoadOp::create(b, loc, dBuf, ValueRange{bi, h, i});
                Value gs = arith::NegFOp::create(
                    b, loc, arith::MulFOp::create(b, loc, ps, dRow));
                inlineGrad(op.getSinkGrad(), {gs, bi, h, i}, true);
              }
              if (op.getScoreGrad().empty() || foldCaptures)
                return;
              buildFor(b, loc, c0, keysEnd(i), 1, [&](Value j) {
                pair(
                    bi, h, g, i, j, dBuf, [&](Value, Value) {}, true);
              });
            });
          };
          auto overHeads = [&](Value bi) {
            if (byHead)
              return inner(bi, outer[1]);
            buildFor(b, loc, c0, idx(heads), 1, [&](Value h) { inner(bi, h); });
          };
          if (byBatch)
            return overHeads(outer[0]);
          buildFor(b, loc, c0, batch, 1, [&](Value bi) { overHeads(bi); });
        });
  }

  AttentionBackwardOp op;
  OpBuilder b;
  Location loc;
  int64_t vectorWidth;
  bool tiled;
  /// The tiled nest does score_grad's accumulations (see run()).
  bool foldCaptures = false, foldByBatch = false;
  int64_t heads = 0, kvHeads = 0, d = 0, dv = 0;
  Value c0, c1, batch, lq, lk, offset, scale, zero;
};

struct LowerAttentionBackward
    : attn::impl::AttnLowerAttentionBackwardPassBase<LowerAttentionBackward> {
  using AttnLowerAttentionBackwardPassBase::AttnLowerAttentionBackwardPassBase;
  void runOnOperation() override {
    SmallVector<AttentionBackwardOp> ops;
    getOperation().walk([&](AttentionBackwardOp op) { ops.push_back(op); });
    for (AttentionBackwardOp op : ops) {
      if (!isa<MemRefType>(op.getQuery().getType())) {
        op.emitOpError("must be bufferized before "
                       "attn-lower-attention-backward");
        return signalPassFailure();
      }
      if (failed(Lowering(op, vectorWidth, tiled).run()))
        return signalPassFailure();
    }
  }
};

} // namespace

void mlir::attn::buildAttentionBackwardCaptures(AttentionBackwardOp op,
                                                Value dBuf,
                                                int64_t vectorWidth) {
  Lowering lowering(op, vectorWidth, /*tiled=*/false);
  lowering.init();
  lowering.captures(dBuf);
}
