//===- LowerExperts.cpp - attn.experts to grouped matmuls -------*- C++ -*-===//
//
// Part of the attn project.
//
// Rewrites a memref attn.experts into
//
//   count pairs per expert; order[] = pair ids sorted by expert  (scalar)
//   scf.forall %item in (sum_e ceil(count[e] / 64)) {
//     e, rows = the item's expert and its (up to) 64 pairs
//     Xp = gather x rows (zero padded to 8)
//     for each 32-column panel f of W1/W3:
//       H[:, f] = act(Xp W1[e][:, f]) * (Xp W3[e][:, f])    4 rows x 2 x 2 vectors
//     for each 32-column panel d of W2:
//       Y2[pair, d] = w_pair * (H W2[e][:, d])              8 rows x 2 vectors
//   }
//   scf.forall over tokens: y[t] = sum of the valid Y2[t * k + s]
//
// Only routed pairs are computed: dropped and skipped slots (index -1) are
// never ordered. The weight panels stay in L2 while an item's 64 rows pass
// over them.
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
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWEREXPERTSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kLanes = 16;
constexpr int64_t kPanel = 2 * kLanes; // columns per panel
constexpr int64_t kItemRows = 64;      // pairs per work item
constexpr int64_t kRowPad = 8;         // rows are padded to a multiple of 8

class ExpertsLowering {
public:
  ExpertsLowering(ExpertsOp op) : op(op), b(op), loc(op.getLoc()) {}

  LogicalResult run() {
    auto w1Type = cast<MemRefType>(op.getW1().getType());
    numExperts = w1Type.getDimSize(0);
    dm = w1Type.getDimSize(1);
    hidden = w1Type.getDimSize(2);
    if (dm % kPanel != 0 || hidden % kPanel != 0)
      return op.emitOpError() << "attn-lower-experts needs model and hidden "
                                 "dims that are multiples of "
                              << kPanel << ", got " << dm << " and " << hidden;
    Value tokens = memref::DimOp::create(b, loc, op.getInput(), 0);
    slots = memref::DimOp::create(b, loc, op.getIndices(), 1);
    Value pairs = mul(tokens, slots);

    // 1. Counting sort of the valid pairs by expert.
    auto idxRow = [&](int64_t n) {
      return memref::AllocaOp::create(
          b, loc, MemRefType::get({n}, b.getIndexType()));
    };
    Value count = idxRow(numExperts), start = idxRow(numExperts + 1),
          cursor = idxRow(numExperts), blockStart = idxRow(numExperts + 1);
    forRange(idx(0), idx(numExperts),
             [&](Value e) { store(idx(0), count, e); });
    Value order = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI32Type()),
        ValueRange{pairs});
    forRange(idx(0), pairs, [&](Value p) {
      auto [valid, e] = expertOf(p);
      ifThen(valid, [&] { store(add(load(count, e), idx(1)), count, e); });
    });
    store(idx(0), start, idx(0));
    store(idx(0), blockStart, idx(0));
    forRange(idx(0), idx(numExperts), [&](Value e) {
      Value n = load(count, e);
      Value s = load(start, e);
      store(s, cursor, e);
      Value e1 = add(e, idx(1));
      store(add(s, n), start, e1);
      Value blocks = arith::CeilDivUIOp::create(b, loc, n, idx(kItemRows));
      store(add(load(blockStart, e), blocks), blockStart, e1);
    });
    forRange(idx(0), pairs, [&](Value p) {
      auto [valid, e] = expertOf(p);
      ifThen(valid, [&] {
        Value at = load(cursor, e);
        store(arith::IndexCastOp::create(b, loc, b.getI32Type(), p), order,
              at);
        store(add(at, idx(1)), cursor, e);
      });
    });

    // 2. Grouped matmuls over the items.
    auto f32 = b.getF32Type();
    Value y2 = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic, dm}, f32),
        ValueRange{pairs});
    // With norms: each pair's sum of squares of its unweighted output,
    // accumulated over the column panels of step 2.
    if (op.getNorms()) {
      normSq = memref::AllocOp::create(
          b, loc, MemRefType::get({ShapedType::kDynamic}, f32),
          ValueRange{pairs});
      Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
      forRange(idx(0), pairs, [&](Value p) { store(zero, normSq, p); });
    }
    // The loop runs over a bound of the item count that does not depend on
    // the routing (sum over e of ceil(n_e / R) <= ceil(pairs / R) + E), so
    // that its size is known without reading the counts back (on a GPU, the
    // grid); items past the real count do nothing.
    Value items = load(blockStart, idx(numExperts));
    Value maxItems =
        add(arith::CeilDivUIOp::create(b, loc, pairs, idx(kItemRows)),
            idx(numExperts));
    {
      auto forall = scf::ForallOp::create(
          b, loc, ArrayRef<OpFoldResult>{maxItems}, ValueRange{},
          std::nullopt);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(forall.getBody());
      Value item = forall.getInductionVar(0);
      Value live = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         item, items);
      ifThen(live, [&] { emitItem(item, start, blockStart, order, y2); });
    }

    // 3. Weighted combine per token (the weights were applied in step 2).
    {
      auto forall = scf::ForallOp::create(
          b, loc, ArrayRef<OpFoldResult>{tokens}, ValueRange{}, std::nullopt);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(forall.getBody());
      emitCombine(forall.getInductionVar(0), y2);
    }
    op.erase();
    return success();
  }

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value load(Value m, ValueRange ivs) {
    return memref::LoadOp::create(b, loc, m, ivs);
  }
  void store(Value v, Value m, ValueRange ivs) {
    memref::StoreOp::create(b, loc, v, m, ivs);
  }
  VectorType vec() { return VectorType::get({kLanes}, b.getF32Type()); }
  Value zeroVec() {
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(vec(), 0.0f));
  }

  void forRange(Value lo, Value hi, function_ref<void(Value)> body,
                int64_t step = 1) {
    buildFor(b, loc, lo, hi, step, body);
  }
  void ifThen(Value cond, function_ref<void()> body) {
    buildIf(b, loc, cond, body);
  }

  /// (valid, expert) of pair p = t * k + s: valid when 0 <= idx < E.
  std::pair<Value, Value> expertOf(Value p) {
    Value t = arith::DivUIOp::create(b, loc, p, slots);
    Value s = arith::RemUIOp::create(b, loc, p, slots);
    Value e = load(op.getIndices(), {t, s});
    Value i32E = arith::ConstantOp::create(
        b, loc, b.getI32IntegerAttr(static_cast<int32_t>(numExperts)));
    Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    Value valid = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, e, zero),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, e, i32E));
    Value safe = arith::IndexCastOp::create(
        b, loc, b.getIndexType(), arith::MaxSIOp::create(b, loc, e, zero));
    Value clamped = arith::MinUIOp::create(b, loc, safe, idx(numExperts - 1));
    return {valid, clamped};
  }

  /// acc[r][j] += A[r0 + r, kk] * B[kk, c0 + 16 j] over kk in [0, depth) for
  /// `rowsPerStep` rows and each of `mats` B matrices; returns the
  /// accumulators as [mat][r][j].
  SmallVector<Value> emitPanel(Value a, Value r0, ArrayRef<Value> bMats,
                               ArrayRef<Value> bLead, Value c0, int64_t depth,
                               int64_t rowsPerStep) {
    int64_t perMat = rowsPerStep * 2;
    SmallVector<Value> init(bMats.size() * perMat, zeroVec());
    auto loop = scf::ForOp::create(
        b, loc, idx(0), idx(depth), idx(1), init,
        [&](OpBuilder &nb, Location, Value kk, ValueRange acc) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> bv;
          for (auto [m, lead] : llvm::zip(bMats, bLead))
            for (int64_t j = 0; j < 2; ++j)
              bv.push_back(vector::LoadOp::create(
                  b, loc, vec(), m,
                  ValueRange{lead, kk, add(c0, idx(j * kLanes))}));
          SmallVector<Value> next(acc.begin(), acc.end());
          for (int64_t r = 0; r < rowsPerStep; ++r) {
            Value xa = load(a, {add(r0, idx(r)), kk});
            Value xb = vector::BroadcastOp::create(b, loc, vec(), xa);
            for (size_t m = 0; m < bMats.size(); ++m)
              for (int64_t j = 0; j < 2; ++j) {
                int64_t at = m * perMat + r * 2 + j;
                next[at] =
                    vector::FMAOp::create(b, loc, xb, bv[m * 2 + j], next[at]);
              }
          }
          scf::YieldOp::create(b, loc, next);
        });
    return SmallVector<Value>(loop.getResults());
  }

  void emitItem(Value item, Value start, Value blockStart, Value order,
                Value y2) {
    Type f32 = b.getF32Type();
    // The item's expert: the last e with blockStart[e] <= item.
    Value e = idx(0);
    for (int64_t x = 1; x < numExperts; ++x) {
      Value past = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                         item, load(blockStart, idx(x)));
      e = arith::SelectOp::create(b, loc, past, idx(x), e);
    }
    Value first =
        add(load(start, e),
            mul(arith::SubIOp::create(b, loc, item, load(blockStart, e)),
                idx(kItemRows)));
    Value end = load(start, add(e, idx(1)));
    Value n = arith::MinUIOp::create(
        b, loc, idx(kItemRows), arith::SubIOp::create(b, loc, end, first));
    Value padded =
        mul(arith::CeilDivUIOp::create(b, loc, n, idx(kRowPad)), idx(kRowPad));

    // Gather the rows (zero padding).
    Value xp = memref::AllocaOp::create(
        b, loc, MemRefType::get({kItemRows, dm}, f32));
    Value h = memref::AllocaOp::create(
        b, loc, MemRefType::get({kItemRows, hidden}, f32));
    auto pairAt = [&](Value r) {
      return arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                        load(order, add(first, r)));
    };
    forRange(idx(0), padded, [&](Value r) {
      Value inRange =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, r, n);
      auto copy = scf::IfOp::create(b, loc, inRange, true);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(&copy.getThenRegion().front());
        Value t = arith::DivUIOp::create(b, loc, pairAt(r), slots);
        forRange(
            idx(0), idx(dm),
            [&](Value d) {
              Value v = vector::LoadOp::create(b, loc, vec(), op.getInput(),
                                               ValueRange{t, d});
              vector::StoreOp::create(b, loc, v, xp, ValueRange{r, d});
            },
            kLanes);
        b.setInsertionPointToStart(&copy.getElseRegion().front());
        forRange(
            idx(0), idx(dm),
            [&](Value d) {
              vector::StoreOp::create(b, loc, zeroVec(), xp, ValueRange{r, d});
            },
            kLanes);
      }
    });

    // H = act(Xp W1) * (Xp W3), 4 rows x 32 columns of both at a time.
    Activation act = op.getActivation();
    forRange(
        idx(0), idx(hidden),
        [&](Value c0) {
          forRange(
              idx(0), padded,
              [&](Value r0) {
                SmallVector<Value> acc =
                    emitPanel(xp, r0, {op.getW1(), op.getW3()}, {e, e}, c0, dm,
                              /*rowsPerStep=*/4);
                for (int64_t r = 0; r < 4; ++r)
                  for (int64_t j = 0; j < 2; ++j) {
                    Value g = GateOp::emitActivation(b, loc, act,
                                                     acc[r * 2 + j]);
                    Value v = arith::MulFOp::create(b, loc, g,
                                                    acc[8 + r * 2 + j]);
                    vector::StoreOp::create(
                        b, loc, v, h,
                        ValueRange{add(r0, idx(r)), add(c0, idx(j * kLanes))});
                  }
              },
              4);
        },
        kPanel);

    // Y2[pair] = w_pair * (H W2), 8 rows x 32 columns at a time.
    forRange(
        idx(0), idx(dm),
        [&](Value c0) {
          forRange(
              idx(0), padded,
              [&](Value r0) {
                SmallVector<Value> acc = emitPanel(h, r0, {op.getW2()}, {e},
                                                   c0, hidden,
                                                   /*rowsPerStep=*/8);
                for (int64_t r = 0; r < 8; ++r) {
                  Value row = add(r0, idx(r));
                  Value real = arith::CmpIOp::create(
                      b, loc, arith::CmpIPredicate::ult, row, n);
                  ifThen(real, [&] {
                    Value p = pairAt(row);
                    Value t = arith::DivUIOp::create(b, loc, p, slots);
                    Value s = arith::RemUIOp::create(b, loc, p, slots);
                    Value w = load(op.getWeights(), {t, s});
                    Value wb = vector::BroadcastOp::create(b, loc, vec(), w);
                    for (int64_t j = 0; j < 2; ++j)
                      vector::StoreOp::create(
                          b, loc,
                          arith::MulFOp::create(b, loc, wb, acc[r * 2 + j]),
                          y2, ValueRange{p, add(c0, idx(j * kLanes))});
                    if (normSq) {
                      Value sq = arith::MulFOp::create(b, loc, acc[r * 2],
                                                       acc[r * 2]);
                      sq = vector::FMAOp::create(b, loc, acc[r * 2 + 1],
                                                 acc[r * 2 + 1], sq);
                      Value part = vector::ReductionOp::create(
                          b, loc, vector::CombiningKind::ADD, sq);
                      store(arith::AddFOp::create(b, loc, load(normSq, p), part),
                            normSq, p);
                    }
                  });
                }
              },
              8);
        },
        kPanel);
  }

  void emitCombine(Value t, Value y2) {
    forRange(
        idx(0), idx(dm),
        [&](Value d) {
          auto loop = scf::ForOp::create(
              b, loc, idx(0), slots, idx(1), ValueRange{zeroVec()},
              [&](OpBuilder &nb, Location, Value s, ValueRange acc) {
                OpBuilder::InsertionGuard g(b);
                b.setInsertionPoint(nb.getInsertionBlock(),
                                    nb.getInsertionPoint());
                Value p = add(mul(t, slots), s);
                // Rows of unrouted pairs hold garbage: select, not add.
                Value valid = expertOf(p).first;
                Value v = vector::LoadOp::create(b, loc, vec(), y2,
                                                 ValueRange{p, d});
                Value sum = arith::AddFOp::create(b, loc, acc[0], v);
                scf::YieldOp::create(
                    b, loc,
                    ValueRange{arith::SelectOp::create(b, loc, valid, sum,
                                                       acc[0])});
              });
          vector::StoreOp::create(b, loc, loop.getResult(0), op.getOutput(),
                                  ValueRange{t, d});
        },
        kLanes);
    if (!normSq)
      return;
    // norms[t, s] = sqrt(sum of squares), 0 for an unrouted slot (whose
    // normSq entry was zeroed and never accumulated).
    forRange(idx(0), slots, [&](Value s) {
      Value p = add(mul(t, slots), s);
      Value root = math::SqrtOp::create(b, loc, load(normSq, p));
      store(root, op.getNorms(), {t, s});
    });
  }

  ExpertsOp op;
  OpBuilder b;
  Location loc;
  int64_t numExperts = 0, dm = 0, hidden = 0;
  Value slots, normSq;
};

struct LowerExperts : attn::impl::AttnLowerExpertsPassBase<LowerExperts> {
  void runOnOperation() override {
    SmallVector<ExpertsOp> ops;
    getOperation().walk([&](ExpertsOp op) { ops.push_back(op); });
    for (ExpertsOp op : ops) {
      if (!isa<MemRefType>(op.getInput().getType())) {
        op.emitOpError("must be bufferized before attn-lower-experts");
        return signalPassFailure();
      }
      if (failed(ExpertsLowering(op).run()))
        return signalPassFailure();
    }
  }
};

} // namespace
