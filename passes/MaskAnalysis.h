//===- MaskAnalysis.h - tile classification of mask regions -----*- C++ -*-===//
//
// Part of the attn project.
//
// Shared by the CPU tiling (attn-tile-attention) and the GPU kernels
// (attn-gpu-tile-attention): both skip key tiles that a mask hides from a
// whole query tile and evaluate no mask in tiles it shows entirely.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_MASKANALYSIS_H
#define ATTN_PASSES_MASKANALYSIS_H

#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>

namespace mlir::attn {

/// c + ci * i + cj * j + sum(coeff * value), where the values are defined
/// outside the mask region (or are its batch/head arguments).
struct LinearForm {
  int64_t ci = 0, cj = 0, c = 0;
  SmallVector<std::pair<Value, int64_t>> terms;

  LinearForm scaled(int64_t s) const {
    LinearForm r = *this;
    r.ci *= s;
    r.cj *= s;
    r.c *= s;
    for (auto &t : r.terms)
      t.second *= s;
    return r;
  }
  LinearForm plus(const LinearForm &o) const {
    LinearForm r = *this;
    r.ci += o.ci;
    r.cj += o.cj;
    r.c += o.c;
    r.terms.append(o.terms.begin(), o.terms.end());
    return r;
  }
};

/// Tile-classification emitter for one mask region and one tile.
class MaskClassifier {
public:
  MaskClassifier(OpBuilder &b, Location loc, Block &mask, Value batch,
                 Value head, Value iMin, Value iMax, Value jMin, Value jMax)
      : b(b), loc(loc), mask(mask), batch(batch), head(head), iMin(iMin),
        iMax(iMax), jMin(jMin), jMax(jMax) {}

  /// Returns (full, empty) as i1 values.
  std::pair<Value, Value> classify(Value pred) {
    if (auto c = getConstantIntValue(pred))
      return {boolean(*c != 0), boolean(*c == 0)};
    Operation *def = pred.getDefiningOp();
    if (def && def->getBlock() == &mask) {
      if (auto andOp = dyn_cast<arith::AndIOp>(def)) {
        auto [fa, ea] = classify(andOp.getLhs());
        auto [fb, eb] = classify(andOp.getRhs());
        return {arith::AndIOp::create(b, loc, fa, fb),
                arith::OrIOp::create(b, loc, ea, eb)};
      }
      if (auto orOp = dyn_cast<arith::OrIOp>(def)) {
        auto [fa, ea] = classify(orOp.getLhs());
        auto [fb, eb] = classify(orOp.getRhs());
        return {arith::OrIOp::create(b, loc, fa, fb),
                arith::AndIOp::create(b, loc, ea, eb)};
      }
      if (auto cmp = dyn_cast<arith::CmpIOp>(def))
        if (auto r = classifyCompare(cmp))
          return *r;
    }
    // Opaque: the tile is partial.
    return {boolean(false), boolean(false)};
  }

  /// A conservative key range [lo, hi) of the tile's visible keys: lo is the
  /// largest of the minima of `los` over the tile's rows (no lower bound
  /// when empty), hi the smallest of the maxima of `his` (no upper bound
  /// when empty). The forms are in i (and values defined above), not j.
  struct KeyInterval {
    SmallVector<LinearForm> los, his;
  };
  /// At most this many intervals describe a mask's keys; more become one
  /// unbounded interval.
  static constexpr unsigned kMaxKeyIntervals = 2;

  /// The keys a mask can show to the tile's rows, as a union of intervals
  /// (empty: none; one unbounded interval: every key). Derived from the same
  /// linear comparisons as classify(): `j <= i + c` bounds j above,
  /// `i < j + w` below; `andi` intersects, `ori` unites. The key loop visits
  /// these intervals only, so a band's query tile starts at its first key.
  SmallVector<KeyInterval> keyIntervals(Value pred) {
    SmallVector<KeyInterval> every(1);
    if (auto c = getConstantIntValue(pred))
      return *c != 0 ? every : SmallVector<KeyInterval>{};
    Operation *def = pred.getDefiningOp();
    if (!def || def->getBlock() != &mask)
      return every;
    if (auto andOp = dyn_cast<arith::AndIOp>(def)) {
      SmallVector<KeyInterval> l = keyIntervals(andOp.getLhs());
      SmallVector<KeyInterval> r = keyIntervals(andOp.getRhs());
      if (l.size() * r.size() > kMaxKeyIntervals)
        return l.size() <= r.size() ? l : r; // a superset of the intersection
      SmallVector<KeyInterval> out;
      for (const KeyInterval &x : l)
        for (const KeyInterval &y : r) {
          KeyInterval z = x;
          z.los.append(y.los);
          z.his.append(y.his);
          out.push_back(std::move(z));
        }
      return out;
    }
    if (auto orOp = dyn_cast<arith::OrIOp>(def)) {
      SmallVector<KeyInterval> l = keyIntervals(orOp.getLhs());
      SmallVector<KeyInterval> r = keyIntervals(orOp.getRhs());
      if (l.size() + r.size() > kMaxKeyIntervals)
        return every;
      l.append(r);
      return l;
    }
    auto cmp = dyn_cast<arith::CmpIOp>(def);
    if (!cmp || !cmp.getLhs().getType().isIndex())
      return every;
    auto l = analyze(cmp.getLhs()), r = analyze(cmp.getRhs());
    if (!l || !r)
      return every;
    // e = lhs - rhs = cj * j + f; the predicate compares e with 0.
    LinearForm f = l->plus(r->scaled(-1));
    int64_t cj = f.cj;
    f.cj = 0;
    if (cj != 1 && cj != -1)
      return every;
    using P = arith::CmpIPredicate;
    P p = cmp.getPredicate();
    if (cj == -1) {
      // f - j pred 0  <=>  j - f swapped(pred) 0.
      f = f.scaled(-1);
      switch (p) {
      case P::slt: p = P::sgt; break;
      case P::sle: p = P::sge; break;
      case P::sgt: p = P::slt; break;
      case P::sge: p = P::sle; break;
      default: break; // eq, ne: symmetric; unsigned: every key below
      }
    }
    // Now j + f pred 0, i.e. j pred -f.
    LinearForm g = f.scaled(-1), g1 = g;
    g1.c += 1;
    KeyInterval k;
    switch (p) {
    case P::slt: k.his.push_back(g); break;        // j < g
    case P::sle: k.his.push_back(g1); break;       // j <= g
    case P::sgt: k.los.push_back(g1); break;       // j > g
    case P::sge: k.los.push_back(g); break;        // j >= g
    case P::eq:
      k.los.push_back(g);
      k.his.push_back(g1);
      break;
    default: break; // ne, unsigned: every key
    }
    return {k};
  }

  /// Emits an interval's [lo, hi) clamped to [0, numKeys), hi >= lo.
  std::pair<Value, Value> emitKeyInterval(const KeyInterval &k,
                                          Value numKeys) {
    Value lo = index(0), hi = numKeys;
    for (const LinearForm &f : k.los)
      lo = arith::MaxSIOp::create(b, loc, lo, bound(f, false));
    for (const LinearForm &f : k.his)
      hi = arith::MinSIOp::create(b, loc, hi, bound(f, true));
    lo = arith::MinSIOp::create(b, loc, lo, numKeys);
    hi = arith::MaxSIOp::create(b, loc, hi, lo);
    return {lo, hi};
  }

  /// The number of keys a single row sees through `intervals` when that
  /// does not depend on the row or on run-time values other than `ignored`
  /// (taken as 0: the causal offset Lk - Lq of a prefill), if known.
  static std::optional<int64_t>
  staticWidth(ArrayRef<KeyInterval> intervals, Value ignored) {
    int64_t total = 0;
    for (const KeyInterval &k : intervals) {
      std::optional<int64_t> best;
      for (const LinearForm &lo : k.los)
        for (const LinearForm &hi : k.his) {
          LinearForm w = hi.plus(lo.scaled(-1));
          if (w.ci != 0)
            continue;
          llvm::SmallDenseMap<Value, int64_t> coeffs;
          for (auto [v, c] : w.terms)
            coeffs[v] += c;
          bool constant = llvm::all_of(coeffs, [&](auto &t) {
            return t.second == 0 || t.first == ignored;
          });
          if (constant && (!best || w.c < *best))
            best = w.c;
        }
      if (!best)
        return std::nullopt;
      total += std::max<int64_t>(*best, 0);
    }
    return total;
  }

  /// The ranges of the mask's loads that do not read the key index, over the
  /// tile's rows, emitted here once; classifiers given the map (`useRowRanges`)
  /// reuse them instead of emitting their loops again (a scan over single
  /// keys classifies each key against the same rows).
  using RowRanges = llvm::DenseMap<Operation *, std::pair<Value, Value>>;
  RowRanges computeRowRanges() {
    RowRanges ranges;
    for (auto load : mask.getOps<memref::LoadOp>()) {
      if (llvm::any_of(load.getIndices(), [&](Value idx) {
            auto arg = dyn_cast<BlockArgument>(idx);
            return arg && arg.getOwner() == &mask && arg.getArgNumber() == 3;
          }))
        continue;
      if (auto r = loadRange(load.getResult()))
        ranges[load] = *r;
    }
    return ranges;
  }
  void useRowRanges(const RowRanges *ranges) { rowRanges = ranges; }

private:
  Value boolean(bool v) {
    return arith::ConstantIntOp::create(b, loc, b.getI1Type(), v ? 1 : 0);
  }
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  std::optional<LinearForm> analyze(Value v) {
    LinearForm f;
    if (auto c = getConstantIntValue(v)) {
      f.c = *c;
      return f;
    }
    if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.getOwner() == &mask) {
      switch (arg.getArgNumber()) {
      case 0:
        f.terms.push_back({batch, 1});
        return f;
      case 1:
        f.terms.push_back({head, 1});
        return f;
      case 2:
        f.ci = 1;
        return f;
      default:
        f.cj = 1;
        return f;
      }
    }
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != &mask) {
      // Defined above the region: a run-time invariant of the whole op.
      if (!v.getType().isIndex())
        return std::nullopt;
      f.terms.push_back({v, 1});
      return f;
    }
    if (auto add = dyn_cast<arith::AddIOp>(def)) {
      auto l = analyze(add.getLhs()), r = analyze(add.getRhs());
      if (l && r)
        return l->plus(*r);
    }
    if (auto sub = dyn_cast<arith::SubIOp>(def)) {
      auto l = analyze(sub.getLhs()), r = analyze(sub.getRhs());
      if (l && r)
        return l->plus(r->scaled(-1));
    }
    if (auto mul = dyn_cast<arith::MulIOp>(def)) {
      if (auto c = getConstantIntValue(mul.getRhs()))
        if (auto l = analyze(mul.getLhs()))
          return l->scaled(*c);
      if (auto c = getConstantIntValue(mul.getLhs()))
        if (auto r = analyze(mul.getRhs()))
          return r->scaled(*c);
    }
    return std::nullopt;
  }

  /// Emits the minimum (or maximum) of `f` over the tile.
  Value bound(const LinearForm &f, bool max) {
    Value r = index(f.c);
    auto addTerm = [&](int64_t coeff, Value v) {
      if (coeff == 0)
        return;
      Value t =
          coeff == 1
              ? v
              : arith::MulIOp::create(b, loc, v, index(coeff)).getResult();
      r = arith::AddIOp::create(b, loc, r, t);
    };
    for (auto [v, coeff] : f.terms)
      addTerm(coeff, v);
    addTerm(f.ci, (f.ci > 0) == max ? iMax : iMin);
    addTerm(f.cj, (f.cj > 0) == max ? jMax : jMin);
    return r;
  }

  /// The run-time range [min, max] (signed) of a `memref.load` in the mask
  /// region over the tile, for loads whose indices are the batch or head
  /// argument, values defined above, and at most one of i and j: a small
  /// loop over that index's range in the tile. This is what lets data-
  /// dependent masks (document ids, segment ids) skip tiles.
  std::optional<std::pair<Value, Value>> loadRange(Value v) {
    auto load = v.getDefiningOp<memref::LoadOp>();
    if (!load || load->getBlock() != &mask ||
        load.getMemRef().getParentBlock() == &mask ||
        !isa<IntegerType>(v.getType()))
      return std::nullopt;
    if (rowRanges)
      if (auto it = rowRanges->find(load); it != rowRanges->end())
        return it->second;
    SmallVector<Value> indices;
    int varying = -1; // position of the index that is i or j
    Value lo, hi;
    for (auto [pos, idx] : llvm::enumerate(load.getIndices())) {
      if (auto arg = dyn_cast<BlockArgument>(idx);
          arg && arg.getOwner() == &mask) {
        unsigned n = arg.getArgNumber();
        if (n <= 1) {
          indices.push_back(n == 0 ? batch : head);
          continue;
        }
        if (varying >= 0)
          return std::nullopt;
        varying = pos;
        lo = n == 2 ? iMin : jMin;
        hi = n == 2 ? iMax : jMax;
        indices.push_back(Value());
        continue;
      }
      if (idx.getParentBlock() == &mask && !getConstantIntValue(idx))
        return std::nullopt;
      if (auto c = getConstantIntValue(idx))
        indices.push_back(index(*c));
      else
        indices.push_back(idx);
    }
    if (varying >= 0 && lo == hi) // a single row or key
      indices[varying] = lo;
    if (varying < 0 || lo == hi) {
      Value x = memref::LoadOp::create(b, loc, load.getMemRef(), indices);
      return std::make_pair(x, x);
    }
    // Seed with the first element, then fold min/max over the range.
    indices[varying] = lo;
    Value first = memref::LoadOp::create(b, loc, load.getMemRef(), indices);
    Value end = arith::AddIOp::create(b, loc, hi, index(1));
    auto loop =
        scf::ForOp::create(b, loc, lo, end, index(1), ValueRange{first, first});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      indices[varying] = loop.getInductionVar();
      Value x = memref::LoadOp::create(b, loc, load.getMemRef(), indices);
      Value mn = arith::MinSIOp::create(b, loc, loop.getRegionIterArg(0), x);
      Value mx = arith::MaxSIOp::create(b, loc, loop.getRegionIterArg(1), x);
      scf::YieldOp::create(b, loc, ValueRange{mn, mx});
    }
    return std::make_pair(loop.getResult(0), loop.getResult(1));
  }

  /// (full, empty) of `lhs pred rhs` over a tile where lhs takes values in
  /// [lMin, lMax] and rhs in [rMin, rMax]; signed predicates only.
  std::optional<std::pair<Value, Value>>
  classifyRanges(arith::CmpIPredicate pred, Value lMin, Value lMax, Value rMin,
                 Value rMax) {
    using P = arith::CmpIPredicate;
    auto cmpi = [&](P p, Value a, Value c) -> Value {
      return arith::CmpIOp::create(b, loc, p, a, c);
    };
    auto both = [&](Value a, Value c) -> Value {
      return arith::AndIOp::create(b, loc, a, c);
    };
    auto either = [&](Value a, Value c) -> Value {
      return arith::OrIOp::create(b, loc, a, c);
    };
    // Every pair equal: both ranges are the same single value.
    auto allEqual = [&]() {
      return both(both(cmpi(P::eq, lMin, lMax), cmpi(P::eq, rMin, rMax)),
                  cmpi(P::eq, lMin, rMin));
    };
    auto disjoint = [&]() {
      return either(cmpi(P::slt, lMax, rMin), cmpi(P::slt, rMax, lMin));
    };
    switch (pred) {
    case P::eq:
      return std::make_pair(allEqual(), disjoint());
    case P::ne:
      return std::make_pair(disjoint(), allEqual());
    case P::slt:
      return std::make_pair(cmpi(P::slt, lMax, rMin), cmpi(P::sge, lMin, rMax));
    case P::sle:
      return std::make_pair(cmpi(P::sle, lMax, rMin), cmpi(P::sgt, lMin, rMax));
    case P::sgt:
      return std::make_pair(cmpi(P::sgt, lMin, rMax), cmpi(P::sle, lMax, rMin));
    case P::sge:
      return std::make_pair(cmpi(P::sge, lMin, rMax), cmpi(P::slt, lMax, rMin));
    default:
      return std::nullopt; // unsigned: treat as opaque
    }
  }

  /// Linear comparisons from the tile's corners; any other comparison from
  /// each side's range over the tile (loaded values, such as document ids,
  /// from their run-time ranges; index maps by interval arithmetic).
  std::optional<std::pair<Value, Value>> classifyCompare(arith::CmpIOp cmp) {
    if (cmp.getLhs().getType().isIndex() ||
        cmp.getLhs().getType().isInteger(64)) {
      auto l = analyze(cmp.getLhs()), r = analyze(cmp.getRhs());
      if (l && r) {
        // The predicate on e = lhs - rhs against 0, e bounded over the tile
        // (exact for differences such as i - j, which ranges would lose).
        LinearForm e = l->plus(r->scaled(-1));
        Value zero = index(0);
        return classifyRanges(cmp.getPredicate(), bound(e, false),
                              bound(e, true), zero, zero);
      }
    }
    // Non-linear sides: each side's range over the tile.
    auto l = range(cmp.getLhs());
    if (!l)
      return std::nullopt;
    auto r = range(cmp.getRhs());
    if (!r)
      return std::nullopt;
    return classifyRanges(cmp.getPredicate(), l->first, l->second, r->first,
                          r->second);
  }

  /// Whether `v` is non-negative by construction: the block arguments
  /// (indices), non-negative constants, and sums, products, quotients,
  /// remainders, maxima and minima of such values.
  bool knownNonNegative(Value v, unsigned depth = 0) {
    if (auto c = getConstantIntValue(v))
      return *c >= 0;
    if (auto arg = dyn_cast<BlockArgument>(v))
      return arg.getOwner() == &mask;
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != &mask || depth > 16)
      return false;
    if (isa<arith::MaxSIOp>(def))
      return knownNonNegative(def->getOperand(0), depth + 1) ||
             knownNonNegative(def->getOperand(1), depth + 1);
    if (isa<arith::AddIOp, arith::MulIOp, arith::DivSIOp, arith::DivUIOp,
            arith::FloorDivSIOp, arith::RemSIOp, arith::RemUIOp,
            arith::MinSIOp>(def))
      return knownNonNegative(def->getOperand(0), depth + 1) &&
             knownNonNegative(def->getOperand(1), depth + 1);
    if (isa<arith::IndexCastOp>(def))
      return knownNonNegative(def->getOperand(0), depth + 1);
    return false;
  }

  Value constant(Type t, int64_t c) {
    return t.isIndex() ? index(c)
                       : arith::ConstantOp::create(b, loc, t,
                                                   b.getIntegerAttr(t, c))
                             .getResult();
  }

  /// The run-time range [min, max] (signed) of an integer value of the mask
  /// region over the tile, by interval arithmetic: the block arguments (i
  /// and j over the tile's rows and keys, b and h single values), constants
  /// and values defined above, loads with one varying index (loadRange),
  /// and addi, subi, muli by a constant, divsi / floordivsi / divui and
  /// remsi / remui by a positive constant, minsi / maxsi, select and
  /// index_cast. Maps of the indices such as a token's tile coordinates in
  /// a 3-D grid ((i / 64) / 4 % 4) or a window's clamped centre are exact
  /// where one value covers the tile, so a tile-granular mask classifies
  /// every aligned tile as full or empty. Anything else: no range.
  std::optional<std::pair<Value, Value>> range(Value v) {
    if (auto it = ranges.find(v); it != ranges.end())
      return it->second;
    std::optional<std::pair<Value, Value>> r = computeRange(v);
    if (r)
      ranges[v] = *r;
    return r;
  }

  std::optional<std::pair<Value, Value>> computeRange(Value v) {
    Type t = v.getType();
    if (!t.isIntOrIndex())
      return std::nullopt;
    if (auto c = getConstantIntValue(v)) {
      Value x = constant(t, *c);
      return std::make_pair(x, x);
    }
    if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.getOwner() == &mask) {
      // (A classifier built for other queries may lack some of them.)
      auto known = [](Value lo, Value hi)
          -> std::optional<std::pair<Value, Value>> {
        if (!lo || !hi)
          return std::nullopt;
        return std::make_pair(lo, hi);
      };
      switch (arg.getArgNumber()) {
      case 0:
        return known(batch, batch);
      case 1:
        return known(head, head);
      case 2:
        return known(iMin, iMax);
      default:
        return known(jMin, jMax);
      }
    }
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != &mask)
      return std::make_pair(v, v); // a run-time invariant of the op
    if (isa<memref::LoadOp>(def))
      return loadRange(v);
    auto minOf = [&](Value a, Value c) -> Value {
      return arith::MinSIOp::create(b, loc, a, c);
    };
    auto maxOf = [&](Value a, Value c) -> Value {
      return arith::MaxSIOp::create(b, loc, a, c);
    };
    auto sides = [&](Operation *op)
        -> std::optional<std::pair<std::pair<Value, Value>,
                                   std::pair<Value, Value>>> {
      auto l = range(op->getOperand(0));
      if (!l)
        return std::nullopt;
      auto r = range(op->getOperand(1));
      if (!r)
        return std::nullopt;
      return std::make_pair(*l, *r);
    };
    if (isa<arith::AddIOp, arith::SubIOp, arith::MinSIOp, arith::MaxSIOp>(
            def)) {
      auto lr = sides(def);
      if (!lr)
        return std::nullopt;
      auto [l, r] = *lr;
      if (isa<arith::AddIOp>(def))
        return std::make_pair(
            arith::AddIOp::create(b, loc, l.first, r.first).getResult(),
            arith::AddIOp::create(b, loc, l.second, r.second).getResult());
      if (isa<arith::SubIOp>(def))
        return std::make_pair(
            arith::SubIOp::create(b, loc, l.first, r.second).getResult(),
            arith::SubIOp::create(b, loc, l.second, r.first).getResult());
      if (isa<arith::MinSIOp>(def))
        return std::make_pair(minOf(l.first, r.first),
                              minOf(l.second, r.second));
      return std::make_pair(maxOf(l.first, r.first), maxOf(l.second, r.second));
    }
    if (auto sel = dyn_cast<arith::SelectOp>(def)) {
      auto l = range(sel.getTrueValue());
      if (!l)
        return std::nullopt;
      auto r = range(sel.getFalseValue());
      if (!r)
        return std::nullopt;
      return std::make_pair(minOf(l->first, r->first),
                            maxOf(l->second, r->second));
    }
    if (auto cast = dyn_cast<arith::IndexCastOp>(def)) {
      auto in = range(cast.getIn());
      if (!in)
        return std::nullopt;
      return std::make_pair(
          arith::IndexCastOp::create(b, loc, t, in->first).getResult(),
          arith::IndexCastOp::create(b, loc, t, in->second).getResult());
    }
    // The rest take a constant right operand.
    if (def->getNumOperands() != 2)
      return std::nullopt;
    std::optional<int64_t> c = getConstantIntValue(def->getOperand(1));
    if (!c)
      return std::nullopt;
    if (isa<arith::MulIOp>(def)) {
      auto in = range(def->getOperand(0));
      if (!in)
        return std::nullopt;
      Value k = constant(t, *c);
      Value lo = arith::MulIOp::create(b, loc, in->first, k);
      Value hi = arith::MulIOp::create(b, loc, in->second, k);
      return *c >= 0 ? std::make_pair(lo, hi) : std::make_pair(hi, lo);
    }
    bool unsignedOp = isa<arith::DivUIOp, arith::RemUIOp>(def);
    bool div = isa<arith::DivSIOp, arith::FloorDivSIOp, arith::DivUIOp>(def);
    bool rem = isa<arith::RemSIOp, arith::RemUIOp>(def);
    if ((!div && !rem) || *c <= 0)
      return std::nullopt;
    auto in = range(def->getOperand(0));
    if (!in)
      return std::nullopt;
    using P = arith::CmpIPredicate;
    Value zero = constant(t, 0), k = constant(t, *c);
    Value nonNeg =
        knownNonNegative(def->getOperand(0))
            ? boolean(true)
            : arith::CmpIOp::create(b, loc, P::sge, in->first, zero).getResult();
    auto select = [&](Value cond, Value a, Value c2) -> Value {
      return arith::SelectOp::create(b, loc, cond, a, c2);
    };
    // Floor and truncating division by a positive constant are monotone.
    auto quotient = [&](Value x) -> Value {
      return isa<arith::FloorDivSIOp>(def)
                 ? arith::FloorDivSIOp::create(b, loc, x, k).getResult()
                 : arith::DivSIOp::create(b, loc, x, k).getResult();
    };
    Value qLo = quotient(in->first), qHi = quotient(in->second);
    // Unsigned operations on a range that may hold negative values: any
    // value at all.
    auto guard = [&](Value lo, Value hi) -> std::pair<Value, Value> {
      if (!unsignedOp)
        return {lo, hi};
      unsigned w = t.isIndex() ? 64 : t.getIntOrFloatBitWidth();
      Value min = constant(t, llvm::APInt::getSignedMinValue(w).getSExtValue());
      Value max = constant(t, llvm::APInt::getSignedMaxValue(w).getSExtValue());
      return {select(nonNeg, lo, min), select(nonNeg, hi, max)};
    };
    if (div)
      return guard(qLo, qHi);
    // x rem c over one period of non-negative values is monotone; otherwise
    // [0, c - 1], or [-(c - 1), c - 1] with negative values.
    Value onePeriod = arith::AndIOp::create(
        b, loc, nonNeg, arith::CmpIOp::create(b, loc, P::eq, qLo, qHi));
    Value remLo = arith::RemSIOp::create(b, loc, in->first, k);
    Value remHi = arith::RemSIOp::create(b, loc, in->second, k);
    Value top = constant(t, *c - 1), bottom = constant(t, 1 - *c);
    Value lo = select(onePeriod, remLo, select(nonNeg, zero, bottom));
    Value hi = select(onePeriod, remHi, top);
    return guard(lo, hi);
  }

  OpBuilder &b;
  Location loc;
  Block &mask;
  Value batch, head, iMin, iMax, jMin, jMax;
  const RowRanges *rowRanges = nullptr;
  /// Ranges emitted for this tile, by value (shared sub-expressions).
  llvm::DenseMap<Value, std::pair<Value, Value>> ranges;
};

/// Whether region `r` (possibly empty) uses its block argument `arg`: a
/// score region reading the query head (argument 2) or a mask region reading
/// the query row (argument 2) cannot be evaluated on packed rows.
inline bool regionReadsArgument(Region &r, unsigned arg) {
  return !r.empty() && !r.front().getArgument(arg).use_empty();
}

/// Builds the combined mask region (user mask && causal) with arguments
/// (b, h, i, j) into `into`. Returns false if there is no mask at all.
bool buildMaskRegion(OpBuilder &b, Location loc, AttentionOp op,
                     Value causalOffset, Region &into);
/// The same for any op with a (b, h, i, j) mask region (possibly empty) and
/// a causal flag (attn.attention_backward).
bool buildMaskRegion(OpBuilder &b, Location loc, Region &mask, bool causal,
                     Value causalOffset, Region &into);

} // namespace mlir::attn

#endif // ATTN_PASSES_MASKANALYSIS_H
