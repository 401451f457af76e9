//===- LowerRoute.cpp - attn.route to loops ---------------------*- C++ -*-===//
//
// Part of the attn project.
//
// Rewrites a memref attn.route into a loop over token rows. Each row keeps
// its logits, probabilities and selection keys in three [E] stack rows and
// runs k argmax sweeps (strict `>`, so ties go to the lower expert and -inf
// is never chosen). Without capacity or load statistics the rows are
// independent and run as an scf.forall over chunks of 32 rows; with them the
// rows run in token order, which is what capacity dropping means.
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

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWERROUTEPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kRowsPerChunk = 32;
constexpr int64_t kLanes = 16;

class RouteLowering {
public:
  RouteLowering(RouteOp op) : op(op), b(op), loc(op.getLoc()) {}

  void run() {
    auto inType = cast<MemRefType>(op.getInput().getType());
    rank = inType.getRank();
    // Flattened rows and the expert count.
    rows = idx(1);
    for (int64_t d = 0; d + 1 < rank; ++d)
      rows = mul(rows, dim(op.getInput(), d));
    numExperts = op.getWeight()
                     ? dim(op.getWeight(),
                           cast<MemRefType>(op.getWeight().getType()).getRank() -
                               1)
                     : dim(op.getInput(), rank - 1);

    bool sequential = op.getCounts() || op.getCapacityFactor();
    if (Value counts = op.getCounts()) {
      zeroFill(counts, b.getI32Type());
      zeroFill(op.getProbSums(), f32());
      counter = counts;
    }
    if (op.getCapacityFactor()) {
      if (!counter) {
        counter = memref::AllocaOp::create(
            b, loc, MemRefType::get({op.getNumExperts()}, b.getI32Type()));
        zeroFill(counter, b.getI32Type());
      }
      // ceil(factor * T * k / E), in f64.
      Type f64 = b.getF64Type();
      auto toF64 = [&](Value v) {
        return arith::UIToFPOp::create(
            b, loc, f64,
            arith::IndexCastOp::create(b, loc, b.getI64Type(), v));
      };
      Value num = arith::MulFOp::create(
          b, loc,
          arith::ConstantOp::create(
              b, loc,
              b.getF64FloatAttr(op.getCapacityFactor()->convertToDouble())),
          toF64(mul(rows, idx(op.getK()))));
      Value cap = math::CeilOp::create(
          b, loc, arith::DivFOp::create(b, loc, num, toF64(numExperts)));
      capacity = arith::FPToSIOp::create(b, loc, b.getI32Type(), cap);
    }

    if (sequential) {
      allocScratch(b);
      forRange(idx(0), rows, [&](Value r) { emitRow(r); });
    } else {
      Value chunks = arith::CeilDivUIOp::create(b, loc, rows,
                                                idx(kRowsPerChunk));
      auto forall = scf::ForallOp::create(
          b, loc, ArrayRef<OpFoldResult>{chunks}, ValueRange{}, std::nullopt);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(forall.getBody());
      // Stack rows live for one chunk (scf.forall iterations are allocation
      // scopes; E may be dynamic).
      allocScratch(b);
      Value first = mul(forall.getInductionVar(0), idx(kRowsPerChunk));
      Value last = arith::MinUIOp::create(b, loc, rows,
                                          add(first, idx(kRowsPerChunk)));
      forRange(first, last, [&](Value r) { emitRow(r); });
    }
    op.erase();
  }

private:
  // Small builders.
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32c(float v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value i32c(int32_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  Type f32() { return b.getF32Type(); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value dim(Value v, int64_t d) { return memref::DimOp::create(b, loc, v, d); }
  Value negInf() { return f32c(-std::numeric_limits<float>::infinity()); }
  Value toF32(Value v) {
    return v.getType().isF32() ? v : arith::ExtFOp::create(b, loc, f32(), v);
  }
  Value load(Value m, ValueRange ivs) {
    return memref::LoadOp::create(b, loc, m, ivs);
  }
  void store(Value v, Value m, ValueRange ivs) {
    memref::StoreOp::create(b, loc, v, m, ivs);
  }

  void forRange(Value lo, Value hi, function_ref<void(Value)> body) {
    buildFor(b, loc, lo, hi, 1, body);
  }
  ValueRange reduceRange(Value lo, Value hi, ValueRange init,
                         function_ref<SmallVector<Value>(Value, ValueRange)>
                             body) {
    return buildReduce(b, loc, lo, hi, init, body);
  }

  void zeroFill(Value m, Type elem) {
    Value zero = elem.isF32() ? f32c(0.0f) : i32c(0);
    forRange(idx(0), dim(m, 0), [&](Value e) { store(zero, m, e); });
  }

  void allocScratch(OpBuilder &bb) {
    int64_t e = op.getNumExperts();
    auto type = MemRefType::get({e}, f32());
    SmallVector<Value> dyn;
    if (ShapedType::isDynamic(e))
      dyn.push_back(numExperts);
    logits = memref::AllocaOp::create(bb, loc, type, dyn);
    probs = memref::AllocaOp::create(bb, loc, type, dyn);
    keys = memref::AllocaOp::create(bb, loc, type, dyn);
    if (auto groups = op.getGroups())
      groupScores = memref::AllocaOp::create(
          bb, loc, MemRefType::get({(*groups)[0]}, f32()));
  }

  /// The multi-index of flattened row r (all dims but the last).
  SmallVector<Value> rowIndex(Value r) {
    SmallVector<Value> ivs(rank - 1);
    Value rest = r;
    for (int64_t d = rank - 2; d >= 0; --d) {
      Value n = dim(op.getInput(), d);
      ivs[d] = arith::RemUIOp::create(b, loc, rest, n);
      rest = arith::DivUIOp::create(b, loc, rest, n);
    }
    return ivs;
  }

  /// logits[e] = sum_d x[row, d] * W[..., d, e]: groups of up to 8 vectors
  /// of experts accumulate in registers over d, a masked vector takes the
  /// experts past the last full vector.
  void emitMatVec(ArrayRef<Value> rowIvs) {
    Value x = op.getInput(), w = op.getWeight();
    auto wType = cast<MemRefType>(w.getType());
    Type wElem = wType.getElementType();
    int64_t wRank = wType.getRank();
    Value dm = dim(x, rank - 1);
    auto vecF32 = VectorType::get({kLanes}, f32());
    auto roundDown = [&](Value n, int64_t m) {
      return mul(arith::DivUIOp::create(b, loc, n, idx(m)), idx(m));
    };
    auto xAt = [&](Value d) {
      SmallVector<Value> ivs(rowIvs.begin(), rowIvs.end());
      ivs.push_back(d);
      return toF32(load(x, ivs));
    };
    auto wAt = [&](Value d, Value e) {
      SmallVector<Value> ivs;
      for (int64_t k = 0; k + 2 < wRank; ++k)
        ivs.push_back(rowIvs[k]);
      ivs.append({d, e});
      return ivs;
    };
    // A group of `group` x 16 experts at e0 (lanes past `mask` off), over d
    // in `ways` interleaved partial sums: a group of fewer than 4 vectors
    // would otherwise wait on its FMA's latency at every d (8 experts, one
    // scalar chain each, took 14% of a whole MoE layer).
    auto emitGroup = [&](Value e0, int64_t group, Value mask) {
      int64_t ways = std::max<int64_t>(1, 4 / group);
      Value zero =
          arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vecF32, 0.0f));
      auto wVec = VectorType::get({kLanes}, wElem);
      Value pass = mask ? arith::ConstantOp::create(
                              b, loc, DenseElementsAttr::get(
                                          wVec, b.getZeroAttr(wElem)))
                              .getResult()
                        : Value();
      auto loadW = [&](Value d, int64_t c) -> Value {
        SmallVector<Value> at = wAt(d, add(e0, idx(c * kLanes)));
        Value wv;
        if (mask) {
          wv = vector::MaskedLoadOp::create(b, loc, wVec, w, at, mask, pass);
        } else {
          wv = vector::LoadOp::create(b, loc, wVec, w, at);
        }
        if (!wElem.isF32())
          wv = arith::ExtFOp::create(b, loc, vecF32, wv);
        return wv;
      };
      auto accumulate = [&](Value d, ValueRange a, int64_t way,
                            SmallVector<Value> &next) {
        Value xb = vector::BroadcastOp::create(b, loc, vecF32, xAt(d));
        for (int64_t c = 0; c < group; ++c)
          next[way * group + c] = vector::FMAOp::create(
              b, loc, xb, loadW(d, c), a[way * group + c]);
      };
      auto loop = [&](Value lo, Value hi, int64_t step, ValueRange init) {
        return SmallVector<Value>(buildReduce(
            b, loc, lo, hi, init,
            [&](Value d, ValueRange a) {
              SmallVector<Value> next(a.begin(), a.end());
              for (int64_t way = 0; way < step; ++way)
                accumulate(way == 0 ? d : add(d, idx(way)), a, way, next);
              return next;
            },
            step));
      };
      Value dWays = roundDown(dm, ways);
      SmallVector<Value> acc =
          loop(idx(0), dWays, ways, SmallVector<Value>(group * ways, zero));
      acc = loop(dWays, dm, 1, acc); // the last dm % ways (way 0)
      for (int64_t c = 0; c < group; ++c) {
        Value sum = acc[c];
        for (int64_t way = 1; way < ways; ++way)
          sum = arith::AddFOp::create(b, loc, sum, acc[way * group + c]);
        SmallVector<Value> at{add(e0, idx(c * kLanes))};
        if (mask)
          vector::MaskedStoreOp::create(b, loc, logits, at, mask, sum);
        else
          vector::StoreOp::create(b, loc, sum, logits, at);
      }
    };
    constexpr int64_t kGroup = 8;
    Value wide = roundDown(numExperts, kGroup * kLanes);
    Value full = roundDown(numExperts, kLanes);
    buildFor(b, loc, idx(0), wide, kGroup * kLanes,
             [&](Value e0) { emitGroup(e0, kGroup, Value()); });
    buildFor(b, loc, wide, full, kLanes,
             [&](Value e0) { emitGroup(e0, 1, Value()); });
    // The last numExperts % 16 experts: one masked vector.
    Value tail = arith::SubIOp::create(b, loc, numExperts, full);
    Value any =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, tail, idx(0));
    buildIf(b, loc, any, [&] {
      Value mask = vector::CreateMaskOp::create(
          b, loc, VectorType::get({kLanes}, b.getI1Type()), ValueRange{tail});
      emitGroup(full, 1, mask);
    });
  }

  void zeroFillF32(Value m) {
    Value zero = f32c(0.0f);
    forRange(idx(0), numExperts, [&](Value e) { store(zero, m, e); });
  }

  Value sigmoid(Value z) {
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, z));
    return arith::DivFOp::create(b, loc, f32c(1.0f),
                                 arith::AddFOp::create(b, loc, f32c(1.0f), e));
  }

  /// The argmax of keys over [lo, hi) with strict `>`: (value, index as i32,
  /// -1 when every key is -inf or NaN).
  std::pair<Value, Value> argmax(Value lo, Value hi) {
    // 16 lanes at a time: per lane the first maximum (strict >), then the
    // lowest index among the lanes holding the overall maximum.
    Value full = mul(arith::DivUIOp::create(b, loc, hi, idx(kLanes)),
                     idx(kLanes));
    auto vecF32 = VectorType::get({kLanes}, f32());
    auto vecI32 = VectorType::get({kLanes}, b.getI32Type());
    SmallVector<int32_t> laneIds = llvm::to_vector(llvm::seq<int32_t>(0, kLanes));
    Value lanes = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vecI32, ArrayRef<int32_t>(laneIds)));
    Value init = vector::BroadcastOp::create(b, loc, vecF32, negInf());
    Value initIdx = vector::BroadcastOp::create(b, loc, vecI32, i32c(-1));
    auto loop = scf::ForOp::create(
        b, loc, lo, full, idx(kLanes), ValueRange{init, initIdx},
        [&](OpBuilder &nb, Location, Value e, ValueRange acc) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value c = vector::LoadOp::create(b, loc, vecF32, keys, e);
          Value better = arith::CmpFOp::create(
              b, loc, arith::CmpFPredicate::OGT, c, acc[0]);
          Value ei = arith::AddIOp::create(
              b, loc, lanes,
              vector::BroadcastOp::create(
                  b, loc, vecI32,
                  arith::IndexCastOp::create(b, loc, b.getI32Type(), e)));
          scf::YieldOp::create(
              b, loc,
              ValueRange{arith::SelectOp::create(b, loc, better, c, acc[0]),
                         arith::SelectOp::create(b, loc, better, ei, acc[1])});
        });
    Value best = vector::ReductionOp::create(
        b, loc, vector::CombiningKind::MAXIMUMF, loop.getResult(0));
    Value atBest = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OEQ, loop.getResult(0),
        vector::BroadcastOp::create(b, loc, vecF32, best));
    Value candidates = arith::SelectOp::create(
        b, loc, atBest, loop.getResult(1),
        vector::BroadcastOp::create(
            b, loc, vecI32, i32c(std::numeric_limits<int32_t>::max())));
    Value first = vector::ReductionOp::create(
        b, loc, vector::CombiningKind::MINSI, candidates);
    Value found = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, best,
                                        negInf());
    first = arith::SelectOp::create(b, loc, found, first, i32c(-1));
    best = arith::SelectOp::create(b, loc, found, best, negInf());
    // The experts past the last full vector.
    ValueRange r = reduceRange(
        full, hi, ValueRange{best, first},
        [&](Value e, ValueRange acc) -> SmallVector<Value> {
          Value c = load(keys, e);
          Value better = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                               c, acc[0]);
          Value ei = arith::IndexCastOp::create(b, loc, b.getI32Type(), e);
          return {arith::SelectOp::create(b, loc, better, c, acc[0]),
                  arith::SelectOp::create(b, loc, better, ei, acc[1])};
        });
    return {r[0], r[1]};
  }

  /// Loads `buf[i]` for an i32 index that may be -1 (then returns `dflt`).
  Value loadAt(Value buf, Value i32Index, Value dflt) {
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                        i32Index, i32c(0));
    Value safe = arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        arith::MaxSIOp::create(b, loc, i32Index, i32c(0)));
    return arith::SelectOp::create(b, loc, valid, load(buf, safe), dflt);
  }

  void emitRow(Value r) {
    SmallVector<Value> ivs = rowIndex(r);
    Value t = ivs.back(); // the token index along the token dim
    RouteScoring scoring = op.getScoring();
    int64_t k = op.getK();

    // 1. Logits, temperature and the score region; pruned experts to -inf.
    if (op.getWeight())
      emitMatVec(ivs);
    std::optional<float> invTemp;
    if (auto temp = op.getTemperature())
      invTemp = 1.0f / temp->convertToFloat();
    forRange(idx(0), numExperts, [&](Value e) {
      Value z;
      if (op.getWeight()) {
        z = load(logits, e);
      } else {
        SmallVector<Value> at = ivs;
        at.push_back(e);
        z = toF32(load(op.getInput(), at));
      }
      if (invTemp)
        z = arith::MulFOp::create(b, loc, z, f32c(*invTemp));
      if (!op.getScore().empty())
        z = AttentionOp::inlineScalarRegion(b, op.getScore(), {z, t, e});
      store(z, logits, e);
    });
    if (auto keep = op.getKeep())
      for (auto [e, kept] : llvm::enumerate(*keep))
        if (!kept)
          store(negInf(), logits, idx(e));

    // 2. Probabilities.
    bool needSoftmax = scoring == RouteScoring::softmax ||
                       (scoring == RouteScoring::topk_softmax &&
                        op.getProbSums());
    if (needSoftmax) {
      Value m = reduceRange(idx(0), numExperts, ValueRange{negInf()},
                            [&](Value e, ValueRange acc) -> SmallVector<Value> {
                              return {arith::MaximumFOp::create(
                                  b, loc, acc[0], load(logits, e))};
                            })[0];
      // All -inf: use 0 so that every exp is 0 (and no NaN).
      Value finite = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                           m, negInf());
      m = arith::SelectOp::create(b, loc, finite, m, f32c(0.0f));
      Value sum = reduceRange(
          idx(0), numExperts, ValueRange{f32c(0.0f)},
          [&](Value e, ValueRange acc) -> SmallVector<Value> {
            Value p = math::ExpOp::create(
                b, loc, arith::SubFOp::create(b, loc, load(logits, e), m));
            store(p, probs, e);
            return {arith::AddFOp::create(b, loc, acc[0], p)};
          })[0];
      Value positive = arith::CmpFOp::create(
          b, loc, arith::CmpFPredicate::OGT, sum, f32c(0.0f));
      Value inv = arith::SelectOp::create(
          b, loc, positive, arith::DivFOp::create(b, loc, f32c(1.0f), sum),
          f32c(0.0f));
      forRange(idx(0), numExperts, [&](Value e) {
        store(arith::MulFOp::create(b, loc, load(probs, e), inv), probs, e);
      });
    } else if (scoring == RouteScoring::sigmoid) {
      forRange(idx(0), numExperts, [&](Value e) {
        store(sigmoid(load(logits, e)), probs, e);
      });
    } else if (scoring == RouteScoring::none && op.getProbSums()) {
      forRange(idx(0), numExperts,
               [&](Value e) { store(load(logits, e), probs, e); });
    }

    // 3. Selection keys.
    bool keyFromProbs =
        scoring == RouteScoring::softmax || scoring == RouteScoring::sigmoid;
    forRange(idx(0), numExperts, [&](Value e) {
      Value c = load(keyFromProbs ? probs : logits, e);
      if (Value bias = op.getBias())
        c = arith::AddFOp::create(b, loc, c, load(bias, e));
      // Pruned experts stay -inf whatever their bias.
      Value pruned = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                           load(logits, e), negInf());
      store(arith::SelectOp::create(b, loc, pruned, negInf(), c), keys, e);
    });

    // 4. Group-limited routing: keep the `top` groups by the sum of their
    // two best keys (rank of each group by a pairwise count; ties to the
    // lower group).
    if (auto groups = op.getGroups())
      emitGroupLimit((*groups)[0], (*groups)[1]);

    // 5. Top-k by k argmax sweeps.
    SmallVector<Value> chosen, weights;
    for (int64_t s = 0; s < k; ++s) {
      auto [best, bi] = argmax(idx(0), numExperts);
      (void)best;
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, bi,
                                          i32c(0));
      buildIf(b, loc, valid, [&] {
        store(negInf(), keys,
              Value(arith::IndexCastOp::create(b, loc, b.getIndexType(), bi)));
      });
      Value w = loadAt(keyFromProbs ? probs : logits, bi, f32c(0.0f));
      chosen.push_back(bi);
      weights.push_back(w);
    }

    // 6. Weights.
    auto isValid = [&](Value bi) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, bi,
                                   i32c(0));
    };
    if (scoring == RouteScoring::topk_softmax) {
      Value m = negInf();
      for (int64_t s = 0; s < k; ++s)
        m = arith::SelectOp::create(
            b, loc, isValid(chosen[s]),
            arith::MaximumFOp::create(b, loc, m, weights[s]), m);
      Value finite = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                           m, negInf());
      m = arith::SelectOp::create(b, loc, finite, m, f32c(0.0f));
      for (int64_t s = 0; s < k; ++s)
        weights[s] = arith::SelectOp::create(
            b, loc, isValid(chosen[s]),
            math::ExpOp::create(b, loc,
                                arith::SubFOp::create(b, loc, weights[s], m)),
            f32c(0.0f));
    }
    if (scoring == RouteScoring::topk_softmax || op.getRenormalize()) {
      Value sum = f32c(0.0f);
      for (int64_t s = 0; s < k; ++s)
        sum = arith::AddFOp::create(b, loc, sum, weights[s]);
      Value positive = arith::CmpFOp::create(
          b, loc, arith::CmpFPredicate::OGT, sum, f32c(0.0f));
      Value inv = arith::SelectOp::create(
          b, loc, positive, arith::DivFOp::create(b, loc, f32c(1.0f), sum),
          f32c(0.0f));
      for (int64_t s = 0; s < k; ++s)
        weights[s] = arith::MulFOp::create(b, loc, weights[s], inv);
    }
    if (auto scale = op.getRoutedScale())
      for (int64_t s = 0; s < k; ++s)
        weights[s] = arith::MulFOp::create(b, loc, weights[s],
                                           f32c(scale->convertToFloat()));

    // 7. Skipping, capacity, statistics, stores.
    for (int64_t s = 0; s < k; ++s) {
      Value bi = chosen[s], w = weights[s];
      if (auto theta = op.getSkipThreshold()) {
        Value below = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                            w, f32c(theta->convertToFloat()));
        bi = arith::SelectOp::create(b, loc, below, i32c(-1), bi);
      }
      if (counter) {
        Value valid = isValid(bi);
        Value safe = arith::IndexCastOp::create(
            b, loc, b.getIndexType(),
            arith::MaxSIOp::create(b, loc, bi, i32c(0)));
        Value count = load(counter, safe);
        if (capacity) {
          Value room = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                             count, capacity);
          valid = arith::AndIOp::create(b, loc, valid, room);
          bi = arith::SelectOp::create(b, loc, valid, bi, i32c(-1));
        }
        Value next = arith::SelectOp::create(
            b, loc, valid, arith::AddIOp::create(b, loc, count, i32c(1)),
            count);
        store(next, counter, safe);
      }
      w = arith::SelectOp::create(b, loc, isValid(bi), w, f32c(0.0f));
      SmallVector<Value> at = ivs;
      at.push_back(idx(s));
      store(w, op.getWeights(), at);
      store(bi, op.getIndices(), at);
    }
    if (Value sums = op.getProbSums()) {
      forRange(idx(0), numExperts, [&](Value e) {
        Value p = load(probs, e);
        // Pruned experts have probability 0 (sigmoid(-inf)); `none` keeps -inf
        // out of the sums.
        Value isInf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                            p, negInf());
        p = arith::SelectOp::create(b, loc, isInf, f32c(0.0f), p);
        store(arith::AddFOp::create(b, loc, load(sums, e), p), sums, e);
      });
    }
  }

  void emitGroupLimit(int64_t numGroups, int64_t top) {
    int64_t e = op.getNumExperts();
    int64_t size = e / numGroups;
    Value scores = groupScores;
    forRange(idx(0), idx(numGroups), [&](Value g) {
      Value lo = mul(g, idx(size));
      ValueRange best2 = reduceRange(
          lo, add(lo, idx(size)), ValueRange{negInf(), negInf()},
          [&](Value ex, ValueRange acc) -> SmallVector<Value> {
            Value c = load(keys, ex);
            Value first = arith::CmpFOp::create(
                b, loc, arith::CmpFPredicate::OGT, c, acc[0]);
            Value second = arith::CmpFOp::create(
                b, loc, arith::CmpFPredicate::OGT, c, acc[1]);
            Value n0 = arith::SelectOp::create(b, loc, first, c, acc[0]);
            Value n1 = arith::SelectOp::create(
                b, loc, first, acc[0],
                arith::SelectOp::create(b, loc, second, c, acc[1]));
            return {n0, n1};
          });
      Value sum = size >= 2 ? arith::AddFOp::create(b, loc, best2[0], best2[1])
                                  .getResult()
                            : best2[0];
      store(sum, scores, g);
    });
    forRange(idx(0), idx(numGroups), [&](Value g) {
      Value mine = load(scores, g);
      Value rank = reduceRange(
          idx(0), idx(numGroups), ValueRange{idx(0)},
          [&](Value o, ValueRange acc) -> SmallVector<Value> {
            Value other = load(scores, o);
            Value gt = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                             other, mine);
            Value eq = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                             other, mine);
            Value lower = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::ult, o, g);
            Value ahead = arith::OrIOp::create(
                b, loc, gt, arith::AndIOp::create(b, loc, eq, lower));
            return {arith::SelectOp::create(b, loc, ahead, add(acc[0], idx(1)),
                                            acc[0])};
          })[0];
      Value dropped = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                            rank, idx(top));
      buildIf(b, loc, dropped, [&] {
        Value lo = mul(g, idx(size));
        forRange(lo, add(lo, idx(size)),
                 [&](Value ex) { store(negInf(), keys, ex); });
      });
    });
  }

  RouteOp op;
  OpBuilder b;
  Location loc;
  int64_t rank = 0;
  Value rows, numExperts, counter, capacity;
  Value logits, probs, keys, groupScores;
};

struct LowerRoute : attn::impl::AttnLowerRoutePassBase<LowerRoute> {
  void runOnOperation() override {
    SmallVector<RouteOp> ops;
    getOperation().walk([&](RouteOp op) { ops.push_back(op); });
    for (RouteOp op : ops) {
      if (!isa<MemRefType>(op.getInput().getType())) {
        op.emitOpError("must be bufferized before attn-lower-route");
        return signalPassFailure();
      }
      RouteLowering(op).run();
    }
  }
};

} // namespace
