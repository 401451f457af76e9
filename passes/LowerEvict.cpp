//===- LowerEvict.cpp - attn.evict to loops ---------------------*- C++ -*-===//
//
// Part of the attn project.
//
// Rewrites a memref attn.evict into an scf.forall over the (leading dims,
// KV head) slices. Per slice the budget-th best score among the middle
// positions is found by an O(S) radix select on an order-preserving 32-bit
// image of the scores (four 8-bit histogram passes, no sort, a 256-entry
// histogram on the stack), which also gives how many positions tied
// with it to keep. One ordered pass then writes the kept positions and
// gathers their key and value rows; the tail is padded. With key_norm the
// squared norms of the middle keys are computed once into a heap buffer
// shaped like a scores operand, which then stands in for the scores.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/LoopBuilders.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNLOWEREVICTPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

class EvictLowering {
public:
  explicit EvictLowering(EvictOp op) : op(op), b(op), loc(op.getLoc()) {}

  void run() {
    auto keysType = cast<MemRefType>(op.getKeys().getType());
    int64_t rank = keysType.getRank();
    SmallVector<OpFoldResult> ubs;
    for (int64_t d = 0; d + 2 < rank; ++d)
      ubs.push_back(memref::DimOp::create(b, loc, op.getKeys(), d).getResult());
    if (ubs.empty())
      ubs.push_back(b.getIndexAttr(1));
    ranked = op.getScores();
    if (op.getKeyNorm()) {
      // The key norms play the scores' part: computed once per middle
      // position into a buffer shaped like a scores operand, then read by
      // every radix pass and the ordered pass.
      SmallVector<int64_t> shape(keysType.getShape().drop_back());
      SmallVector<Value> dyn;
      for (auto [d, size] : llvm::enumerate(shape))
        if (ShapedType::isDynamic(size))
          dyn.push_back(memref::DimOp::create(b, loc, op.getKeys(), d));
      ranked = memref::AllocOp::create(
          b, loc, MemRefType::get(shape, b.getF32Type()), dyn);
    }
    auto forall =
        scf::ForallOp::create(b, loc, ubs, ValueRange{}, std::nullopt);
    b.setInsertionPointToStart(forall.getBody());
    if (rank > 2)
      lead = SmallVector<Value>(forall.getInductionVars());
    emitSlice();
    op.erase();
  }

private:
  EvictOp op;
  OpBuilder b;
  Location loc;
  /// The slice's leading indices.
  SmallVector<Value> lead;
  /// What positions are ranked by, [..., S]: the scores operand or the
  /// key-norm buffer.
  Value ranked;
  Value length, dimK, dimV;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  SmallVector<Value> at(ArrayRef<Value> tail) {
    SmallVector<Value> r = lead;
    r.append(tail.begin(), tail.end());
    return r;
  }
  Value toF32(Value x) {
    return x.getType().isF32()
               ? x
               : arith::ExtFOp::create(b, loc, b.getF32Type(), x).getResult();
  }
  Value select(Value c, Value t, Value f) {
    return arith::SelectOp::create(b, loc, c, t, f);
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }

  /// ||k_j||^2 (the square root does not change the order), over vectors
  /// of 16 (or 8) channels when the key dim allows.
  Value keyNormSquared(Value j) {
    auto keysType = cast<MemRefType>(op.getKeys().getType());
    int64_t dk = keysType.getShape().back();
    auto f32 = b.getF32Type();
    if (ShapedType::isDynamic(dk) || dk % 8 != 0 ||
        !keysType.isLastDimUnitStride())
      return buildReduce(
          b, loc, idx(0), dimK,
          ValueRange{arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f))},
          [&](Value d, ValueRange acc) -> SmallVector<Value> {
            Value e = toF32(
                memref::LoadOp::create(b, loc, op.getKeys(), at({j, d})));
            return {arith::AddFOp::create(b, loc, acc[0],
                                          arith::MulFOp::create(b, loc, e, e))};
          })[0];
    int64_t w = dk % 16 == 0 ? 16 : 8;
    auto vf = VectorType::get({w}, f32);
    auto vt = VectorType::get({w}, keysType.getElementType());
    Value zero = arith::ConstantOp::create(
        b, loc, vf, DenseElementsAttr::get(vf, b.getF32FloatAttr(0.0f)));
    Value acc = buildReduce(
        b, loc, idx(0), idx(dk / w), ValueRange{zero},
        [&](Value c, ValueRange a) -> SmallVector<Value> {
          Value col = arith::MulIOp::create(b, loc, c, idx(w));
          Value e =
              vector::LoadOp::create(b, loc, vt, op.getKeys(), at({j, col}));
          if (!vt.getElementType().isF32())
            e = arith::ExtFOp::create(b, loc, vf, e);
          return {vector::FMAOp::create(b, loc, e, e, a[0])};
        })[0];
    return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, acc);
  }

  /// The rank key of position `j` as an i32 whose unsigned order is the
  /// preference order (larger is kept first); NaN is 0, ranked last.
  Value image(Value j) {
    Value x = toF32(memref::LoadOp::create(b, loc, ranked, at({j})));
    // -0 + 0 = +0: the two zeros tie.
    x = arith::AddFOp::create(b, loc, x,
                              arith::ConstantOp::create(
                                  b, loc, b.getF32FloatAttr(0.0f)));
    // Order-preserving map of IEEE floats onto unsigned integers: flip all
    // bits of negatives, the sign bit of the rest.
    Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), x);
    Value neg = cmp(arith::CmpIPredicate::slt, bits, i32(0));
    Value u = select(neg, arith::XOrIOp::create(b, loc, bits, i32(-1)),
                     arith::XOrIOp::create(b, loc, bits, i32(INT32_MIN)));
    if (op.getLowest())
      u = arith::XOrIOp::create(b, loc, u, i32(-1));
    Value nan = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
    return select(nan, i32(0), u);
  }

  void emitSlice() {
    int64_t rank = cast<MemRefType>(op.getKeys().getType()).getRank();
    length = memref::DimOp::create(b, loc, op.getKeys(), rank - 2);
    dimK = memref::DimOp::create(b, loc, op.getKeys(), rank - 1);
    dimV = memref::DimOp::create(b, loc, op.getValues(), rank - 1);
    // Sinks [0, sinkEnd), middle [sinkEnd, recentStart), recent after.
    Value sinkEnd = arith::MinUIOp::create(b, loc, length, idx(op.getSink()));
    Value recent = idx(op.getRecent());
    Value recentStart = arith::MaxUIOp::create(
        b, loc, sinkEnd,
        select(cmp(arith::CmpIPredicate::ugt, length, recent),
               arith::SubIOp::create(b, loc, length, recent), idx(0)));
    Value middle = arith::SubIOp::create(b, loc, recentStart, sinkEnd);
    if (op.getKeyNorm())
      buildFor(b, loc, sinkEnd, recentStart, 1, [&](Value j) {
        memref::StoreOp::create(b, loc, keyNormSquared(j), ranked, at({j}));
      });
    Value budget = idx(op.getBudget());

    // The threshold image and how many middle positions equal to it to keep
    // (in position order). With no more middle positions than the budget,
    // every one is kept: threshold 0, all ties.
    Value overBudget = cmp(arith::CmpIPredicate::ugt, middle, budget);
    auto ifOp = scf::IfOp::create(
        b, loc, TypeRange{b.getI32Type(), b.getI32Type()}, overBudget,
        /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      auto [threshold, need] = radixSelect(sinkEnd, recentStart);
      scf::YieldOp::create(b, loc, ValueRange{threshold, need});
      b.setInsertionPointToStart(ifOp.elseBlock());
      Value all = arith::IndexCastOp::create(b, loc, b.getI32Type(), middle);
      scf::YieldOp::create(b, loc, ValueRange{i32(0), all});
    }
    Value threshold = ifOp.getResult(0), need = ifOp.getResult(1);

    // The ordered pass: keep, write the index, gather the rows.
    int64_t n = op.getNumKept();
    Value slots = idx(n);
    ValueRange fin = buildReduce(
        b, loc, idx(0), length, ValueRange{idx(0), i32(0)},
        [&](Value j, ValueRange acc) -> SmallVector<Value> {
          Value cursor = acc[0], ties = acc[1];
          Value inMiddle = arith::AndIOp::create(
              b, loc, cmp(arith::CmpIPredicate::uge, j, sinkEnd),
              cmp(arith::CmpIPredicate::ult, j, recentStart));
          auto mid = scf::IfOp::create(
              b, loc, TypeRange{b.getI1Type(), b.getI32Type()}, inMiddle,
              /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPointToStart(mid.thenBlock());
            Value u = image(j);
            Value above = cmp(arith::CmpIPredicate::ugt, u, threshold);
            Value takeTie = arith::AndIOp::create(
                b, loc, cmp(arith::CmpIPredicate::eq, u, threshold),
                cmp(arith::CmpIPredicate::slt, ties, need));
            Value keep = arith::OrIOp::create(b, loc, above, takeTie);
            Value nextTies = arith::AddIOp::create(
                b, loc, ties,
                arith::ExtUIOp::create(b, loc, b.getI32Type(), takeTie));
            scf::YieldOp::create(b, loc, ValueRange{keep, nextTies});
            b.setInsertionPointToStart(mid.elseBlock());
            scf::YieldOp::create(
                b, loc,
                ValueRange{arith::ConstantIntOp::create(b, loc, 1, 1), ties});
          }
          // The slot bound cannot be reached by construction; checking it
          // keeps every store in bounds regardless.
          Value keep = arith::AndIOp::create(
              b, loc, mid.getResult(0),
              cmp(arith::CmpIPredicate::ult, cursor, slots));
          buildIf(b, loc, keep, [&] {
            memref::StoreOp::create(
                b, loc, arith::IndexCastOp::create(b, loc, b.getI32Type(), j),
                op.getIndicesOutput(), at({cursor}));
            copyRow(op.getKeys(), op.getKeysOutput(), dimK, j, cursor);
            copyRow(op.getValues(), op.getValuesOutput(), dimV, j, cursor);
          });
          Value next = arith::AddIOp::create(
              b, loc, cursor, arith::IndexCastOp::create(
                                  b, loc, b.getIndexType(),
                                  arith::ExtUIOp::create(
                                      b, loc, b.getI32Type(), keep)));
          return {next, mid.getResult(1)};
        });

    // Pad the unused slots (fewer positions than slots).
    buildFor(b, loc, fin[0], slots, 1, [&](Value c) {
      memref::StoreOp::create(b, loc, i32(-1), op.getIndicesOutput(),
                              at({c}));
      zeroRow(op.getKeysOutput(), dimK, c);
      zeroRow(op.getValuesOutput(), dimV, c);
    });
  }

  /// Four 8-bit digit passes from the most significant: each histograms the
  /// candidates that share the digits chosen so far and picks the digit
  /// holding the `need`-th best. Returns the budget-th best image and how
  /// many candidates equal to it are kept.
  std::pair<Value, Value> radixSelect(Value lo, Value hi) {
    Value hist = memref::AllocaOp::create(
        b, loc, MemRefType::get({256}, b.getI32Type()));
    Value need0 = i32(op.getBudget());
    ValueRange res = buildReduce(
        b, loc, idx(0), idx(4), ValueRange{i32(0), i32(0), need0},
        [&](Value pass, ValueRange acc) -> SmallVector<Value> {
          Value prefix = acc[0], mask = acc[1], need = acc[2];
          // shift = 24 - 8 * pass
          Value shift = arith::SubIOp::create(
              b, loc, i32(24),
              arith::MulIOp::create(
                  b, loc, i32(8),
                  arith::IndexCastOp::create(b, loc, b.getI32Type(), pass)));
          buildFor(b, loc, idx(0), idx(256), 1, [&](Value d) {
            memref::StoreOp::create(b, loc, i32(0), hist, ValueRange{d});
          });
          buildFor(b, loc, lo, hi, 1, [&](Value j) {
            Value u = image(j);
            Value match = cmp(arith::CmpIPredicate::eq,
                              arith::AndIOp::create(b, loc, u, mask), prefix);
            buildIf(b, loc, match, [&] {
              Value digit = arith::AndIOp::create(
                  b, loc, arith::ShRUIOp::create(b, loc, u, shift), i32(255));
              Value at = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                    digit);
              Value c = memref::LoadOp::create(b, loc, hist, ValueRange{at});
              memref::StoreOp::create(b, loc,
                                      arith::AddIOp::create(b, loc, c, i32(1)),
                                      hist, ValueRange{at});
            });
          });
          // From the best digit down: the first whose running count reaches
          // `need` holds the need-th best; `need` becomes its rank within.
          ValueRange scan = buildReduce(
              b, loc, idx(0), idx(256),
              ValueRange{i32(0), need, i32(0),
                         arith::ConstantIntOp::create(b, loc, 0, 1)},
              [&](Value i, ValueRange s) -> SmallVector<Value> {
                Value cum = s[0], rest = s[1], digit = s[2], found = s[3];
                Value d = arith::SubIOp::create(b, loc, idx(255), i);
                Value c = memref::LoadOp::create(b, loc, hist, ValueRange{d});
                Value reach = arith::AddIOp::create(b, loc, cum, c);
                Value hit = arith::AndIOp::create(
                    b, loc,
                    arith::XOrIOp::create(
                        b, loc, found,
                        arith::ConstantIntOp::create(b, loc, 1, 1)),
                    cmp(arith::CmpIPredicate::sge, reach, rest));
                Value d32 = arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                                       d);
                return {reach,
                        select(hit,
                                     arith::SubIOp::create(b, loc, rest, cum),
                                     rest),
                        select(hit, d32, digit),
                        arith::OrIOp::create(b, loc, found, hit)};
              });
          Value nextPrefix = arith::OrIOp::create(
              b, loc, prefix, arith::ShLIOp::create(b, loc, scan[2], shift));
          Value nextMask = arith::OrIOp::create(
              b, loc, mask, arith::ShLIOp::create(b, loc, i32(255), shift));
          return {nextPrefix, nextMask, scan[1]};
        });
    return {res[0], res[2]};
  }

  void copyRow(Value from, Value to, Value dim, Value j, Value slot) {
    buildFor(b, loc, idx(0), dim, 1, [&](Value d) {
      Value x = memref::LoadOp::create(b, loc, from, at({j, d}));
      memref::StoreOp::create(b, loc, x, to, at({slot, d}));
    });
  }

  void zeroRow(Value to, Value dim, Value slot) {
    Type t = cast<MemRefType>(to.getType()).getElementType();
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(t, 0.0));
    buildFor(b, loc, idx(0), dim, 1, [&](Value d) {
      memref::StoreOp::create(b, loc, zero, to, at({slot, d}));
    });
  }
};

struct LowerEvict : attn::impl::AttnLowerEvictPassBase<LowerEvict> {
  void runOnOperation() override {
    SmallVector<EvictOp> ops;
    getOperation().walk([&](EvictOp op) { ops.push_back(op); });
    for (EvictOp op : ops) {
      if (!isa<MemRefType>(op.getKeys().getType())) {
        op.emitOpError("must be bufferized before attn-lower-evict");
        return signalPassFailure();
      }
      EvictLowering(op).run();
    }
  }
};

} // namespace
