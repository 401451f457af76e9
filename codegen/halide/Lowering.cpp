//===- Lowering.cpp - attn programs to Halide pipelines ---------*- C++ -*-===//
//
// Part of the attn project.
//
// Every tensor value of the function becomes a Halide Func over pure Vars
// (innermost tensor dimension first); scalars become Exprs; the ops' regions
// are translated op by op into Exprs, so the user's score, mask, sink,
// combine and epilogue code is the same code here as on the MLIR path.
// Attention is a two-pass softmax per tile of query rows (scores over the
// tile's key ranges in register tiles, row maxima, sums, P V in register
// tiles); the schedule is described in README.md beside this file.
//
//===----------------------------------------------------------------------===//

#include "codegen/halide/Lowering.h"
#include "codegen/halide/AOT.h"
#include "dialect/AttnOps.h"
#include "passes/MaskAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;
namespace H = Halide;

namespace {

/// A tensor: a Func of its indices (innermost first) and its extents
/// (outermost first, as in MLIR).
struct TensorVal {
  H::Func f;
  std::vector<H::Expr> shape;
};

/// The type values of `elem` are computed in: f32 for every float type (as
/// on the MLIR path), i32 for integers and indices, bool for i1.
H::Type computeType(Type elem) {
  // fp8 values are their codes (0..255): the passes decode them with
  // integer ops and bitcasts (passes/Quant.h).
  if (isa<Float8E4M3FNType, Float8E5M2Type>(elem))
    return H::Int(32);
  if (isa<FloatType>(elem))
    return H::Float(32);
  if (elem.isInteger(1))
    return H::Bool();
  if (elem.isInteger(64))
    return H::Int(64);
  return H::Int(32);
}

std::vector<H::Var> makeVars(size_t n) {
  std::vector<H::Var> v;
  for (size_t i = 0; i < n; ++i)
    v.emplace_back("d" + std::to_string(i));
  return v;
}

std::vector<H::Expr> toExprs(const std::vector<H::Var> &vars) {
  return std::vector<H::Expr>(vars.begin(), vars.end());
}

/// Calls `t` at `idx` (outermost first).
H::Expr at(const TensorVal &t, std::vector<H::Expr> idx) {
  std::reverse(idx.begin(), idx.end());
  return t.f(idx);
}

/// Defines f(vars reversed) = value (vars outermost first).
void define(H::Func &f, const std::vector<H::Var> &vars, H::Expr value) {
  std::vector<H::Var> rev(vars.rbegin(), vars.rend());
  f(rev) = value;
}

H::Expr negInf() { return H::Expr(-std::numeric_limits<float>::infinity()); }

/// tanh through Halide's inline (vectorized) exp: Halide 14 calls libm's
/// scalar tanhf once per lane (soft-cap at L = 2048 on one thread took 98 ms
/// with it, 11 ms with this and the scores evaluated once). (1 - e)/(1 + e) with e = exp(-2|x|) is exact at
/// the ends (+-1, NaN stays NaN) and within 1e-7 absolute near 0.
H::Expr vectorTanh(H::Expr x) {
  if (!x.type().is_float())
    return H::tanh(x);
  H::Expr e = H::exp(-2.0f * H::abs(x));
  H::Expr r = (1.0f - e) / (1.0f + e);
  return H::select(x < 0.0f, -r, r);
}

/// act(g) as the MLIR path computes it (the tanh form of GELU).
H::Expr activation(Activation act, H::Expr g) {
  switch (act) {
  case Activation::sigmoid:
    return 1.0f / (1.0f + H::exp(-g));
  case Activation::swish:
    return g / (1.0f + H::exp(-g));
  case Activation::tanh:
    return vectorTanh(g);
  case Activation::gelu:
    return 0.5f * g *
           (1.0f + vectorTanh(0.7978845608f * (g + 0.044715f * g * g * g)));
  case Activation::relu:
    return H::max(g, 0.0f);
  case Activation::identity:
    return g;
  }
  return g;
}

class Lowerer {
public:
  explicit Lowerer(func::FuncOp func) : func(func) {}
  FailureOr<halide::LoweredFunction> run();

private:
  LogicalResult lowerOp(Operation *op);
  FailureOr<H::Expr> scalarOp(Operation *op, ArrayRef<H::Expr> a);
  FailureOr<H::Expr> region(Region &r, ArrayRef<H::Expr> args);
  LogicalResult bodyOp(Operation &op);
  FailureOr<H::Expr> lookup(Value v, Operation *user);
  LogicalResult attention(AttentionOp op);
  SmallVector<std::pair<H::Expr, H::Expr>>
  tileKeyRanges(AttentionOp op, H::Expr iFirst, H::Expr iLast, H::Expr Lq,
                H::Expr Lk, H::Var b, H::Expr h);
  LogicalResult generic(linalg::GenericOp op);
  LogicalResult gate(GateOp op);
  LogicalResult cumsum(CumsumOp op);
  LogicalResult pool(PoolOp op);
  LogicalResult insertSlice(tensor::InsertSliceOp op);
  LogicalResult route(RouteOp op);
  LogicalResult experts(ExpertsOp op);
  LogicalResult expandShape(tensor::ExpandShapeOp op);
  FailureOr<H::Expr> foldResult(OpFoldResult r, Operation *user);
  FailureOr<TensorVal> tensor(Value v, Operation *user);
  /// Shape of a tensor type, dynamic dims from `dynamic` (in order).
  std::vector<H::Expr> shapeOf(ShapedType type, ValueRange dynamic,
                               Operation *user, bool &ok);

  func::FuncOp func;
  DenseMap<Value, H::Expr> scalars;
  DenseMap<Value, TensorVal> tensors;
  /// Region values while a region is translated.
  DenseMap<Value, H::Expr> local;
};

FailureOr<H::Expr> Lowerer::lookup(Value v, Operation *user) {
  if (auto it = local.find(v); it != local.end())
    return it->second;
  if (auto it = scalars.find(v); it != scalars.end())
    return it->second;
  return user->emitOpError("uses a value the halide backend has no "
                           "expression for");
}

FailureOr<TensorVal> Lowerer::tensor(Value v, Operation *user) {
  auto it = tensors.find(v);
  if (it == tensors.end())
    return user->emitOpError("uses a tensor the halide backend did not "
                             "lower");
  return it->second;
}

std::vector<H::Expr> Lowerer::shapeOf(ShapedType type, ValueRange dynamic,
                                      Operation *user, bool &ok) {
  std::vector<H::Expr> shape;
  unsigned next = 0;
  ok = true;
  for (int64_t d : type.getShape()) {
    if (!ShapedType::isDynamic(d)) {
      shape.push_back(H::Expr(static_cast<int>(d)));
      continue;
    }
    FailureOr<H::Expr> e = lookup(dynamic[next++], user);
    if (failed(e)) {
      ok = false;
      return {};
    }
    shape.push_back(H::cast<int>(*e));
  }
  return shape;
}

/// Scalar arith/math ops (regions and function level alike).
FailureOr<H::Expr> Lowerer::scalarOp(Operation *op, ArrayRef<H::Expr> a) {
  using R = FailureOr<H::Expr>;
  auto unsupported = [&]() -> R {
    return op->emitOpError("is not supported by the halide backend");
  };
  auto toCompute = [&](Type t, H::Expr e) {
    return H::cast(computeType(getElementTypeOrSelf(t)), e);
  };
  Type resultType =
      op->getNumResults() == 1 ? op->getResult(0).getType() : Type();
  return llvm::TypeSwitch<Operation *, R>(op)
      .Case([&](arith::ConstantOp c) -> R {
        if (auto f = dyn_cast<FloatAttr>(c.getValue()))
          return H::Expr(static_cast<float>(f.getValueAsDouble()));
        if (auto i = dyn_cast<IntegerAttr>(c.getValue())) {
          if (i.getType().isInteger(1))
            return H::cast<bool>(H::Expr(static_cast<int>(i.getInt() & 1)));
          return toCompute(i.getType(), H::Expr(i.getInt()));
        }
        return unsupported();
      })
      .Case<arith::AddFOp, arith::AddIOp>([&](auto) -> R { return a[0] + a[1]; })
      .Case<arith::SubFOp, arith::SubIOp>([&](auto) -> R { return a[0] - a[1]; })
      .Case<arith::MulFOp, arith::MulIOp>([&](auto) -> R { return a[0] * a[1]; })
      .Case([&](arith::DivFOp) -> R { return a[0] / a[1]; })
      .Case([&](arith::NegFOp) -> R { return -a[0]; })
      // Halide's integer division rounds towards -inf; MLIR's towards 0.
      .Case([&](arith::DivSIOp) -> R {
        return H::select((a[0] < 0) != (a[1] < 0) && a[0] % a[1] != 0,
                         a[0] / a[1] + 1, a[0] / a[1]);
      })
      .Case([&](arith::DivUIOp) -> R { return a[0] / a[1]; })
      .Case([&](arith::CeilDivUIOp) -> R { return (a[0] + a[1] - 1) / a[1]; })
      .Case([&](arith::RemUIOp) -> R { return a[0] % a[1]; })
      .Case([&](arith::RemSIOp) -> R {
        return a[0] - a[1] * H::select((a[0] < 0) != (a[1] < 0) &&
                                           a[0] % a[1] != 0,
                                       a[0] / a[1] + 1, a[0] / a[1]);
      })
      .Case<arith::MaximumFOp, arith::MaxNumFOp, arith::MaxSIOp,
            arith::MaxUIOp>([&](auto) -> R { return H::max(a[0], a[1]); })
      .Case<arith::MinimumFOp, arith::MinNumFOp, arith::MinSIOp,
            arith::MinUIOp>([&](auto) -> R { return H::min(a[0], a[1]); })
      .Case([&](arith::AndIOp) -> R {
        return a[0].type().is_bool() ? (a[0] && a[1]) : (a[0] & a[1]);
      })
      .Case([&](arith::OrIOp) -> R {
        return a[0].type().is_bool() ? (a[0] || a[1]) : (a[0] | a[1]);
      })
      .Case([&](arith::XOrIOp) -> R {
        return a[0].type().is_bool() ? (a[0] != a[1]) : (a[0] ^ a[1]);
      })
      .Case([&](arith::SelectOp) -> R { return H::select(a[0], a[1], a[2]); })
      // (Shifted as unsigned: MLIR's shifts wrap; Halide's signed overflow
      // is undefined.)
      .Case([&](arith::ShLIOp) -> R {
        H::Type u = a[0].type().with_code(H::Type::UInt);
        return H::cast(a[0].type(), H::cast(u, a[0]) << H::cast(u, a[1]));
      })
      .Case([&](arith::ShRSIOp) -> R { return a[0] >> a[1]; })
      .Case([&](arith::ShRUIOp) -> R {
        H::Type u = a[0].type().with_code(H::Type::UInt);
        return H::cast(a[0].type(), H::cast(u, a[0]) >> H::cast(u, a[1]));
      })
      // Same-width reinterpretations: i32 <-> f32 bits, and fp8 codes <->
      // i8 (both computed as their integer codes).
      .Case([&](arith::BitcastOp c) -> R {
        Type to = getElementTypeOrSelf(c.getType());
        Type from = getElementTypeOrSelf(c.getIn().getType());
        if (to.isF32() && from.isInteger(32))
          return H::reinterpret(H::Float(32), a[0]);
        if (to.isInteger(32) && from.isF32())
          return H::reinterpret(H::Int(32), a[0]);
        if (to.getIntOrFloatBitWidth() == 8 && from.getIntOrFloatBitWidth() == 8)
          return a[0];
        return unsupported();
      })
      .Case([&](arith::CmpFOp c) -> R {
        switch (c.getPredicate()) {
        case arith::CmpFPredicate::OEQ:
        case arith::CmpFPredicate::UEQ:
          return a[0] == a[1];
        case arith::CmpFPredicate::ONE:
        case arith::CmpFPredicate::UNE:
          return a[0] != a[1];
        case arith::CmpFPredicate::OLT:
        case arith::CmpFPredicate::ULT:
          return a[0] < a[1];
        case arith::CmpFPredicate::OLE:
        case arith::CmpFPredicate::ULE:
          return a[0] <= a[1];
        case arith::CmpFPredicate::OGT:
        case arith::CmpFPredicate::UGT:
          return a[0] > a[1];
        case arith::CmpFPredicate::OGE:
        case arith::CmpFPredicate::UGE:
          return a[0] >= a[1];
        default:
          return unsupported();
        }
      })
      .Case([&](arith::CmpIOp c) -> R {
        switch (c.getPredicate()) {
        case arith::CmpIPredicate::eq:
          return a[0] == a[1];
        case arith::CmpIPredicate::ne:
          return a[0] != a[1];
        case arith::CmpIPredicate::slt:
        case arith::CmpIPredicate::ult:
          return a[0] < a[1];
        case arith::CmpIPredicate::sle:
        case arith::CmpIPredicate::ule:
          return a[0] <= a[1];
        case arith::CmpIPredicate::sgt:
        case arith::CmpIPredicate::ugt:
          return a[0] > a[1];
        case arith::CmpIPredicate::sge:
        case arith::CmpIPredicate::uge:
          return a[0] >= a[1];
        }
        return unsupported();
      })
      .Case<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp,
            arith::ExtUIOp, arith::TruncIOp, arith::SIToFPOp, arith::UIToFPOp,
            arith::FPToSIOp, arith::FPToUIOp>(
          [&](auto) -> R { return toCompute(resultType, a[0]); })
      // Floats are computed in f32; a narrowing rounds like the MLIR path.
      .Case([&](arith::TruncFOp t) -> R {
        Type to = getElementTypeOrSelf(t.getType());
        if (to.isBF16())
          return H::cast<float>(H::cast(H::BFloat(16), a[0]));
        if (to.isF16())
          return H::cast<float>(H::cast(H::Float(16), a[0]));
        return a[0];
      })
      .Case([&](arith::ExtFOp) -> R { return a[0]; })
      .Case([&](math::ExpOp) -> R { return H::exp(a[0]); })
      .Case([&](math::Exp2Op) -> R { return H::pow(2.0f, a[0]); })
      .Case([&](math::LogOp) -> R { return H::log(a[0]); })
      .Case([&](math::Log2Op) -> R { return H::log(a[0]) / std::log(2.0f); })
      .Case([&](math::Log1pOp) -> R { return H::log(1.0f + a[0]); })
      .Case([&](math::TanhOp) -> R { return vectorTanh(a[0]); })
      .Case([&](math::SinOp) -> R { return H::sin(a[0]); })
      .Case([&](math::CosOp) -> R { return H::cos(a[0]); })
      .Case([&](math::TanOp) -> R { return H::tan(a[0]); })
      .Case([&](math::ExpM1Op) -> R { return H::exp(a[0]) - 1.0f; })
      .Case([&](math::SqrtOp) -> R { return H::sqrt(a[0]); })
      .Case([&](math::RsqrtOp) -> R { return 1.0f / H::sqrt(a[0]); })
      .Case([&](math::AbsFOp) -> R { return H::abs(a[0]); })
      .Case([&](math::FloorOp) -> R { return H::floor(a[0]); })
      .Case([&](math::CeilOp) -> R { return H::ceil(a[0]); })
      .Case([&](math::PowFOp) -> R { return H::pow(a[0], a[1]); })
      .Case([&](math::ErfOp) -> R { return H::erf(a[0]); })
      .Case([&](math::FmaOp) -> R { return a[0] * a[1] + a[2]; })
      .Default([&](Operation *) -> R { return unsupported(); });
}

/// One op of a region or linalg body: tensor.extract (a call of the
/// tensor's Func) or a scalar op; the result goes to `local`.
LogicalResult Lowerer::bodyOp(Operation &op) {
  if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
    FailureOr<TensorVal> t = tensor(extract.getTensor(), &op);
    if (failed(t))
      return failure();
    std::vector<H::Expr> idx;
    for (Value i : extract.getIndices()) {
      FailureOr<H::Expr> e = lookup(i, &op);
      if (failed(e))
        return failure();
      idx.push_back(H::cast<int>(*e));
    }
    local[extract.getResult()] = at(*t, idx);
    return success();
  }
  SmallVector<H::Expr> operands;
  for (Value v : op.getOperands()) {
    FailureOr<H::Expr> e = lookup(v, &op);
    if (failed(e))
      return failure();
    operands.push_back(*e);
  }
  FailureOr<H::Expr> e = scalarOp(&op, operands);
  if (failed(e))
    return failure();
  local[op.getResult(0)] = *e;
  return success();
}

FailureOr<H::Expr> Lowerer::region(Region &r, ArrayRef<H::Expr> args) {
  Block &block = r.front();
  for (auto [arg, e] : llvm::zip(block.getArguments(), args))
    local[arg] = e;
  for (Operation &op : block) {
    if (auto yield = dyn_cast<YieldOp>(op))
      return lookup(yield.getOperand(0), &op);
    if (failed(bodyOp(op)))
      return failure();
  }
  return r.getParentOp()->emitOpError("region without a terminator");
}

/// Whether `e` reads a tensor (a Func call): such a value (a prefix length
/// extracted from a tensor) is unknown to Halide's bounds inference, so a
/// key bound made of it would bound nothing and cost a second range.
bool readsTensor(const H::Expr &e) {
  struct Finder : H::Internal::IRGraphVisitor {
    bool found = false;
    using H::Internal::IRGraphVisitor::visit;
    void visit(const H::Internal::Call *call) override {
      found |= call->call_type == H::Internal::Call::Halide ||
               call->call_type == H::Internal::Call::Image;
      H::Internal::IRGraphVisitor::visit(call);
    }
  } finder;
  e.accept(&finder);
  return finder.found;
}

/// The keys rows iFirst..iLast can see at most, as one or two disjoint
/// ranges [first, last] within [0, Lk - 1] (none: every key): the causal
/// diagonal and the key intervals of the mask's linear comparisons
/// (MaskClassifier::keyIntervals, the analysis the MLIR path's band tiling
/// uses) — a window, or sinks and a window. A bound with a term the backend
/// has no expression for is dropped (a wider range is still right, only
/// slower). The first range is never empty (a tile whose rows see no key
/// visits one key, which the mask hides); the second may be.
SmallVector<std::pair<H::Expr, H::Expr>>
Lowerer::tileKeyRanges(AttentionOp op, H::Expr iFirst, H::Expr iLast,
                       H::Expr Lq, H::Expr Lk, H::Var b, H::Expr h) {
  struct Range {
    std::optional<H::Expr> lo, hi; // hi inclusive
  };
  auto tighten = [](std::optional<H::Expr> &x, H::Expr e, bool upper) {
    x = !x ? e : upper ? H::min(*x, e) : H::max(*x, e);
  };
  SmallVector<Range, 2> ranges(1);
  if (!op.getMask().empty()) {
    Block &mask = op.getMask().front();
    OpBuilder builder(op.getContext());
    MaskClassifier classifier(builder, op.getLoc(), mask, mask.getArgument(0),
                              mask.getArgument(1), Value(), Value(), Value(),
                              Value());
    SmallVector<MaskClassifier::KeyInterval> intervals = classifier.keyIntervals(
        cast<YieldOp>(mask.getTerminator()).getValues()[0]);
    // A form's extreme over the rows (its minimum, or maximum).
    auto extreme = [&](const LinearForm &f,
                       bool max) -> std::optional<H::Expr> {
      H::Expr e = static_cast<int>(f.c);
      if (f.ci != 0)
        e += static_cast<int>(f.ci) * ((f.ci > 0) == max ? iLast : iFirst);
      for (auto [value, coeff] : f.terms) {
        H::Expr t;
        if (value == mask.getArgument(0))
          t = b;
        else if (value == mask.getArgument(1))
          t = h;
        else if (auto it = scalars.find(value);
                 it != scalars.end() && !readsTensor(it->second))
          t = H::cast<int>(it->second);
        else
          return std::nullopt;
        e += static_cast<int>(coeff) * t;
      }
      return e;
    };
    if (!intervals.empty()) {
      ranges.clear();
      for (const MaskClassifier::KeyInterval &k : intervals) {
        Range r;
        for (const LinearForm &f : k.los)
          if (std::optional<H::Expr> e = extreme(f, false))
            tighten(r.lo, *e, false);
        for (const LinearForm &f : k.his)
          if (std::optional<H::Expr> e = extreme(f, true))
            tighten(r.hi, *e - 1, true);
        ranges.push_back(r);
      }
    }
  }
  if (op.getCausal())
    for (Range &r : ranges)
      tighten(r.hi, iLast + (Lk - Lq), true);
  if (llvm::all_of(ranges, [](const Range &r) { return !r.lo && !r.hi; }))
    return {};
  auto clampKey = [&](H::Expr k) { return H::max(H::min(k, Lk - 1), 0); };
  auto lo = [&](const Range &r) { return r.lo ? clampKey(*r.lo) : H::Expr(0); };
  auto hi = [&](const Range &r) {
    return r.hi ? clampKey(*r.hi) : H::max(Lk - 1, 0);
  };
  if (ranges.size() == 1) {
    H::Expr first = lo(ranges[0]);
    return {{first, H::max(hi(ranges[0]), first)}};
  }
  // Two intervals A, B with A starting first: A, then what B adds after A.
  H::Expr lo0 = lo(ranges[0]), hi0 = hi(ranges[0]);
  H::Expr lo1 = lo(ranges[1]), hi1 = hi(ranges[1]);
  H::Expr swap = lo1 < lo0;
  H::Expr loA = H::select(swap, lo1, lo0), hiA = H::select(swap, hi1, hi0);
  H::Expr loB = H::select(swap, lo0, lo1), hiB = H::select(swap, hi0, hi1);
  hiA = H::max(hiA, loA);
  return {{loA, hiA}, {H::max(loB, hiA + 1), hiB}};
}

LogicalResult Lowerer::attention(AttentionOp op) {
  FailureOr<TensorVal> q = tensor(op.getQuery(), op),
                       k = tensor(op.getKey(), op),
                       v = tensor(op.getValue(), op);
  if (failed(q) || failed(k) || failed(v))
    return failure();
  H::Expr B = q->shape[0], Hq = q->shape[1], Lq = q->shape[2], D = q->shape[3];
  H::Expr Hkv = k->shape[1], Lk = k->shape[2], Dv = v->shape[3];
  H::Expr group = Hq / Hkv;
  float scale = static_cast<float>(op.getScaleValue());
  bool sigmoid = op.getNormalizer() == Normalizer::sigmoid;

  // Tile geometry (codegen/halide/README.md, "Schedules"): a task is one tile of TQ query
  // rows of one head; its scores over the keys are computed in TJ x TQ
  // register tiles (TJ = two vectors of keys), its output in TJ x TQ
  // register tiles of value columns. Rows are (io, ii) with i = io TQ + ii,
  // so that a tile's causal key bound is a function of io alone.
  const int vec = halide::hostTarget().natural_vector_size<float>();
  const int TJ = 2 * vec;
  auto staticDim = [](Value t, unsigned dim) -> int64_t {
    auto type = cast<ShapedType>(t.getType());
    return type.isDynamicDim(dim) ? -1 : type.getDimSize(dim);
  };
  int64_t lqStatic = staticDim(op.getQuery(), 2),
          dStatic = staticDim(op.getQuery(), 3),
          dvStatic = staticDim(op.getValue(), 3);
  // A query length known to be shorter than a tile (a decode step) is the
  // tile; a decode step with a head dim of whole vectors takes its scores
  // as dot products along the head dim, reading K in place (no transposed
  // copy: decode is bound by the bytes of the cache it reads).
  int TQ = vec >= 16 ? 8 : 4;
  if (lqStatic > 0 && lqStatic < TQ)
    TQ = static_cast<int>(lqStatic);
  // GQA decode: the tile's rows are the query heads of one KV head (as the
  // MLIR path packs them), so K and V are read once per group, not once per
  // query head. Only where no region reads the head, and without block
  // selections or a second map.
  int64_t hqStatic = staticDim(op.getQuery(), 1),
          hkvStatic = staticDim(op.getKey(), 1);
  bool pack = lqStatic == 1 && hqStatic > 0 && hkvStatic > 0 &&
              hqStatic % hkvStatic == 0 && hqStatic / hkvStatic > 1 &&
              hqStatic / hkvStatic <= 8 && !op.getBlocks() &&
              !op.getQuery2() && !regionReadsArgument(op.getMask(), 1) &&
              !regionReadsArgument(op.getScore(), 2) &&
              !regionReadsArgument(op.getSink(), 1);
  if (pack)
    TQ = static_cast<int>(hqStatic / hkvStatic);
  bool rowDot = (TQ == 1 || pack) && dStatic > 0 && dStatic % vec == 0;
  H::Var d("d"), j("j"), ii("ii"), io("io"), h("h"), b("b");
  // Inside the attention, h is the query head (packed: the KV head) and
  // (io, ii) the row: the query position io TQ + ii (packed: position io of
  // query head h G + ii).
  H::Expr i = pack ? H::Expr(io) : io * TQ + ii;
  H::Expr qh = pack ? h * TQ + ii : H::Expr(h);
  H::Expr kvh = pack ? H::Expr(h) : h / group;
  // Rows past Lq in the last tile compute a copy of the last row (their
  // results are never stored); keys and value columns past the ends (the
  // register tiles shift inwards, or pad when a dimension is shorter than
  // a tile) read clamped indices. Regions see only positions in range.
  H::Expr iq = H::min(i, Lq - 1);
  H::Expr jq = H::clamp(j, 0, H::max(Lk - 1, 0));

  // Which keys a row sees.
  H::Expr visible = H::cast<bool>(1);
  if (op.getCausal())
    visible = jq <= iq + (Lk - Lq);
  if (Value blocks = op.getBlocks()) {
    FailureOr<TensorVal> sel = tensor(blocks, op);
    if (failed(sel))
      return failure();
    int blockSize = op.getBlockSize() ? static_cast<int>(*op.getBlockSize()) : 1;
    H::RDom c(0, sel->shape[3], "c");
    H::Expr chosen =
        H::maximum(H::select(H::cast<int>(at(*sel, {b, qh, iq, c})) ==
                                 jq / blockSize,
                             1, 0));
    visible = visible && chosen == 1;
  }
  if (!op.getMask().empty()) {
    FailureOr<H::Expr> m = region(op.getMask(), {b, qh, iq, jq});
    if (failed(m))
      return failure();
    visible = visible && *m;
  }
  // The keys a tile's rows can see (tileKeyRanges): bounds inference and
  // Halide's loop trimming turn the predicates below into loop bounds, so
  // no scores, exponentials or P V are computed outside them.
  SmallVector<std::pair<H::Expr, H::Expr>> keyRanges = tileKeyRanges(
      op, pack ? H::Expr(io) : io * TQ,
      pack ? H::Expr(io) : H::min(io * TQ + (TQ - 1), Lq - 1), Lq, Lk, b, qh);
  bool bounded = !keyRanges.empty();
  if (!bounded)
    keyRanges.push_back({H::Expr(0), H::max(Lk - 1, 0)});

  // One map: the rows of a tile (and, with an LSE result, the LSE as
  // column Dv) and the statistics they are normalized by.
  bool withLse = static_cast<bool>(op.getLse());
  // Values: read in place when the register tiles cover the value columns
  // exactly; otherwise a copy with clamped indices, once per call.
  bool directV = dvStatic > 0 && dvStatic % TJ == 0 && !withLse;
  H::Func vP("attn_v");
  if (directV) {
    vP(d, j, h, b) = at(*v, {b, h, jq, d});
  } else {
    vP(d, j, h, b) = at(*v, {b, h, jq, H::clamp(d, 0, Dv - 1)});
    vP.compute_root().parallel(b).parallel(h).vectorize(
        d, vec, H::TailStrategy::GuardWithIf);
  }
  auto attend = [&](const TensorVal &qt, const TensorVal &kt,
                    StringRef name) -> FailureOr<H::Func> {
    std::string base = name.str();
    // K transposed once ([.., D, Lk], keys innermost) with clamped keys, so
    // that the scores of a row are vectors over the keys.
    H::Func kT(base + "_kT");
    if (!rowDot) {
      kT(j, d, h, b) = at(kt, {b, h, jq, d});
      kT.compute_root().parallel(b).parallel(h).vectorize(
          j, vec, H::TailStrategy::GuardWithIf);
    }
    H::RDom rd(0, D, "rd");
    H::Var u("u");
    H::RDom ru(0, vec, "ru");
    H::RDom rdo(0, rowDot ? static_cast<int>(dStatic / vec) : 1, "rdo");
    // Scores through a Q K^T accumulator of their own (a Func per key
    // range: each is computed over its range only). In the row-dot form,
    // `lanes` holds a key's products summed per lane of the head dim.
    auto scores = [&](H::Func &dotAcc, H::Func &lanes) -> FailureOr<H::Expr> {
      dotAcc(j, ii, io, h, b) = 0.0f;
      if (rowDot) {
        H::Expr c = rdo * vec + u;
        lanes(u, j, ii, io, h, b) = 0.0f;
        lanes(u, j, ii, io, h, b) +=
            at(qt, {b, qh, iq, c}) * at(kt, {b, kvh, jq, c});
        dotAcc(j, ii, io, h, b) += lanes(ru, j, ii, io, h, b);
      } else {
        dotAcc(j, ii, io, h, b) +=
            at(qt, {b, qh, iq, rd}) * kT(j, rd, kvh, b);
      }
      H::Expr x = scale * dotAcc(j, ii, io, h, b);
      if (!op.getScore().empty()) {
        FailureOr<H::Expr> s = region(op.getScore(), {x, b, qh, iq, jq});
        if (failed(s))
          return failure();
        x = *s;
      }
      // Keys past Lk (in the last chunk of vec keys) are not there.
      return H::select(visible && j < Lk, x, negInf());
    };

    // Per key range: its scores and probabilities (Funcs of their own, so
    // that each is computed over its range only), and the updates of the
    // row maxima, sums and P V over its keys. Maxima and sums are vectors
    // of partial results over chunks of vec keys, then across the lanes.
    H::Func m(base + "_m"), l(base + "_l"), acc(base + "_acc"),
        row(base + "_row"), lv(base + "_sum_v"), mv(base + "_max_v"),
        m0(base + "_max");
    struct PerRange {
      H::Func dot, lanes, s, p;
      H::RDom rj, rc;
      H::Expr chunkKey, inRange;
    };
    std::vector<PerRange> parts;
    for (auto [r, range] : llvm::enumerate(keyRanges)) {
      auto [firstKey, lastKey] = range;
      std::string suffix = r ? "_" + std::to_string(r) : "";
      PerRange part{H::Func(base + "_dot_acc" + suffix),
                    H::Func(base + "_dot_lanes" + suffix),
                    H::Func(base + "_s" + suffix),
                    H::Func(base + "_p" + suffix),
                    H::RDom(0, Lk, "rj" + suffix),
                    H::RDom(0, (Lk + (vec - 1)) / vec, "rc" + suffix),
                    {}, {}};
      FailureOr<H::Expr> score = scores(part.dot, part.lanes);
      if (failed(score))
        return failure();
      part.s(j, ii, io, h, b) = *score;
      part.chunkKey = part.rc * vec + u;
      part.inRange = part.chunkKey >= firstKey && part.chunkKey <= lastKey;
      if (bounded) {
        part.rj.where(part.rj >= firstKey && part.rj <= lastKey);
        part.rc.where(part.rc >= firstKey / vec && part.rc <= lastKey / vec);
      }
      parts.push_back(part);
    }
    H::Expr sinkTerm = 0.0f;
    if (!sigmoid) {
      mv(u, ii, io, h, b) = negInf();
      for (auto [part, range] : llvm::zip(parts, keyRanges)) {
        // The range's bounds in the index, for bounds inference: the
        // maximum's chunks then need no scores outside it (a repeated key
        // does not change a maximum).
        H::Expr key = part.chunkKey;
        if (bounded)
          key = H::clamp(key, range.first, range.second);
        mv(u, ii, io, h, b) =
            H::max(mv(u, ii, io, h, b), part.s(key, ii, io, h, b));
      }
      m0(ii, io, h, b) = negInf();
      m0(ii, io, h, b) = H::max(m0(ii, io, h, b), mv(ru, ii, io, h, b));
      if (!op.getSink().empty()) {
        FailureOr<H::Expr> sink = region(op.getSink(), {b, qh, iq});
        if (failed(sink))
          return failure();
        // A sink logit joins the denominator (with value 0); -inf is none.
        H::Expr present = *sink > negInf();
        m(ii, io, h, b) = H::select(present, H::max(m0(ii, io, h, b), *sink),
                                    m0(ii, io, h, b));
        sinkTerm = H::select(present, H::exp(*sink - m(ii, io, h, b)), 0.0f);
      } else {
        m(ii, io, h, b) = m0(ii, io, h, b);
      }
    }
    acc(d, ii, io, h, b) = 0.0f;
    lv(u, ii, io, h, b) = 0.0f;
    for (PerRange &part : parts) {
      H::Expr sv = part.s(j, ii, io, h, b);
      part.p(j, ii, io, h, b) =
          sigmoid
              ? H::select(sv > negInf(), 1.0f / (1.0f + H::exp(-sv)), 0.0f)
              : H::select(sv > negInf() && m(ii, io, h, b) > negInf(),
                          H::exp(sv - m(ii, io, h, b)), 0.0f);
      acc(d, ii, io, h, b) +=
          part.p(part.rj, ii, io, h, b) * vP(d, part.rj, kvh, b);
      // Chunk lanes outside the range belong to the other range (or to
      // none): not summed here.
      if (!sigmoid)
        lv(u, ii, io, h, b) +=
            H::select(part.inRange, part.p(part.chunkKey, ii, io, h, b),
                      0.0f);
    }
    H::Expr dc = withLse ? H::min(d, Dv - 1) : H::Expr(d);
    if (sigmoid) {
      row(d, ii, io, h, b) = acc(dc, ii, io, h, b);
    } else {
      l(ii, io, h, b) = 0.0f;
      l(ii, io, h, b) += lv(ru, ii, io, h, b);
      H::Expr sum = l(ii, io, h, b) + sinkTerm;
      H::Expr o = H::select(sum > 0.0f, acc(dc, ii, io, h, b) / sum, 0.0f);
      if (withLse)
        o = H::select(d < Dv, o,
                      H::select(sum > 0.0f, m(ii, io, h, b) + H::log(sum),
                                negInf()));
      row(d, ii, io, h, b) = o;
    }

    // Schedule. One task per (query tile, head, batch).
    H::Var dO("dO"), dI("dI"), jo("jo"), ji("ji"), hb("hb");
    row.compute_root()
        .split(d, dO, dI, TJ, H::TailStrategy::ShiftInwards)
        .reorder(dI, ii, dO, io, h, b)
        .vectorize(dI, vec)
        .fuse(h, b, hb)
        .parallel(hb)
        .parallel(io);
    // P V: a TJ x TQ accumulator tile in registers per key.
    acc.compute_at(row, dO).bound_extent(d, TJ).vectorize(d, vec).unroll(d).unroll(ii);
    for (auto [r, part] : llvm::enumerate(parts)) {
      acc.update(r).reorder(d, ii, part.rj).vectorize(d, vec).unroll(d).unroll(ii);
      // Q K^T: the range's scores, TJ keys x TQ rows in registers per step
      // of the head dim; score and mask regions applied once per score, as
      // the register tile is stored.
      if (rowDot) {
        // Several keys at a time (16 / TQ, at least 2): one vector
        // accumulator per (key, row) over the head dim, then the lanes
        // summed.
        const int keys = std::max(2, 16 / TQ);
        part.s.compute_at(row, io)
            .split(j, jo, ji, keys, H::TailStrategy::ShiftInwards)
            .reorder(ji, ii, jo)
            .vectorize(ji, keys);
        part.dot.compute_at(part.s, jo).bound_extent(j, keys).vectorize(j, keys);
        part.dot.update().reorder(j, ru, ii).vectorize(j, keys).unroll(ii);
        part.lanes.compute_at(part.s, jo).bound_extent(j, keys).vectorize(u).unroll(j).unroll(ii);
        part.lanes.update().reorder(u, j, ii, rdo).vectorize(u).unroll(j).unroll(ii);
      } else {
        part.s.compute_at(row, io)
            .split(j, jo, ji, TJ, H::TailStrategy::ShiftInwards)
            .reorder(ji, ii, jo)
            .vectorize(ji, vec);
        part.dot.compute_at(part.s, jo).bound_extent(j, TJ).vectorize(j, vec).unroll(j).unroll(ii);
        part.dot.update().reorder(j, ii, rd).vectorize(j, vec).unroll(j).unroll(ii);
      }
      part.p.compute_at(row, io).vectorize(j, vec, H::TailStrategy::RoundUp);
      if (!sigmoid) {
        mv.update(r).reorder(u, ii, part.rc).vectorize(u);
        lv.update(r).reorder(u, ii, part.rc).vectorize(u);
      }
    }
    if (!sigmoid) {
      mv.compute_at(row, io).vectorize(u);
      lv.compute_at(row, io).vectorize(u);
      m0.compute_at(row, io);
      m.compute_at(row, io);
      l.compute_at(row, io);
    }
    return row;
  };
  FailureOr<H::Func> first = attend(*q, *k, "attn");
  if (failed(first))
    return failure();
  // The output's rows: row i0 of the tile i0 / TQ.
  H::Var i0("i");
  auto rowAt = [&](H::Func &f, H::Expr col) {
    return pack ? f(col, h % TQ, i0, h / TQ, b) : f(col, i0 % TQ, i0 / TQ, h, b);
  };
  H::Expr o = rowAt(*first, d);
  if (op.getQuery2()) {
    FailureOr<TensorVal> q2 = tensor(op.getQuery2(), op),
                         k2 = tensor(op.getKey2(), op);
    if (failed(q2) || failed(k2))
      return failure();
    FailureOr<H::Func> second = attend(*q2, *k2, "attn2");
    if (failed(second))
      return failure();
    FailureOr<H::Expr> c =
        region(op.getCombine(), {o, rowAt(*second, d), b, h, i0, d});
    if (failed(c))
      return failure();
    o = *c;
  }
  H::Func combined("combined");
  combined(d, i0, h, b) = o;
  if (std::optional<APFloat> eps = op.getRmsNormEps()) {
    H::RDom rv(0, Dv, "rv");
    H::Func ss("rms");
    ss(i0, h, b) = H::sum(combined(rv, i0, h, b) * combined(rv, i0, h, b));
    H::Func normed("normed");
    normed(d, i0, h, b) =
        combined(d, i0, h, b) /
        H::sqrt(ss(i0, h, b) / H::cast<float>(Dv) +
                static_cast<float>(eps->convertToDouble()));
    ss.compute_root();
    combined.compute_root();
    o = normed(d, i0, h, b);
  } else {
    o = combined(d, i0, h, b);
  }
  if (!op.getEpilogue().empty()) {
    FailureOr<H::Expr> e = region(op.getEpilogue(), {o, b, h, i0, d});
    if (failed(e))
      return failure();
    o = *e;
  }
  Type outElem = op.getOutputType().getElementType();
  TensorVal out{H::Func("attention"), {B, Hq, Lq, Dv}};
  out.f(d, i0, h, b) = H::cast(computeType(outElem), o);
  tensors[op.getResult(0)] = out;
  if (op.getLse()) {
    TensorVal lse{H::Func("lse"), {B, Hq, Lq}};
    lse.f(i0, h, b) = rowAt(*first, Dv);
    tensors[op.getResult(1)] = lse;
  }
  return success();
}

/// A linalg.generic with indexing maps of dimensions and constants: parallel
/// loops are pure Vars; reduction loops an RDom over which the body updates
/// the output in place (the combiner is the body itself, with the output's
/// element as the accumulator, as in linalg).
LogicalResult Lowerer::generic(linalg::GenericOp op) {
  unsigned numLoops = op.getNumLoops();
  bool reduces = op.getNumReductionLoops() != 0;
  if (reduces && op.getNumDpsInits() != 1)
    return op.emitOpError("with reductions and several outputs is not "
                          "supported by the halide backend");
  std::vector<H::Var> vars = makeVars(numLoops);
  std::vector<H::Expr> loops = toExprs(vars);
  if (reduces) {
    // Extents of the reduction loops from the operands that index by them.
    H::Region ranges;
    std::vector<unsigned> dims;
    for (auto [n, type] : llvm::enumerate(op.getIteratorTypesArray())) {
      if (type != utils::IteratorType::reduction)
        continue;
      std::optional<H::Expr> extent;
      for (OpOperand &operand : op->getOpOperands()) {
        auto found = tensors.find(operand.get());
        if (found == tensors.end())
          continue;
        AffineMap map = op.getMatchingIndexingMap(&operand);
        for (auto [pos, e] : llvm::enumerate(map.getResults()))
          if (auto dim = dyn_cast<AffineDimExpr>(e);
              dim && dim.getPosition() == n && !extent)
            extent = found->second.shape[pos];
      }
      if (!extent)
        return op.emitOpError("has a reduction loop whose extent the halide "
                              "backend cannot find");
      ranges.push_back(H::Range(0, *extent));
      dims.push_back(static_cast<unsigned>(n));
    }
    H::RDom rdom(ranges, "red");
    for (auto [k, dim] : llvm::enumerate(dims))
      loops[dim] = rdom[static_cast<int>(k)];
  }
  auto indexExprs = [&](AffineMap map, std::vector<H::Expr> &idx) {
    for (AffineExpr e : map.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(e))
        idx.push_back(loops[dim.getPosition()]);
      else if (auto c = dyn_cast<AffineConstantExpr>(e))
        idx.push_back(H::Expr(static_cast<int>(c.getValue())));
      else
        return false;
    }
    return true;
  };
  // The output Funcs, initialized from the outs operands.
  std::vector<TensorVal> outs;
  std::vector<std::vector<H::Expr>> outIdx;
  for (auto [n, init] : llvm::enumerate(op.getDpsInits())) {
    AffineMap map = op.getMatchingIndexingMap(op.getDpsInitOperand(n));
    if (!map.isProjectedPermutation())
      return op.emitOpError("has an output map the halide backend cannot "
                            "express");
    FailureOr<TensorVal> dest = tensor(init, op);
    if (failed(dest))
      return failure();
    std::vector<H::Var> outVars;
    for (AffineExpr e : map.getResults())
      outVars.push_back(vars[cast<AffineDimExpr>(e).getPosition()]);
    TensorVal out{H::Func("generic"), dest->shape};
    if (reduces)
      define(out.f, outVars, at(*dest, toExprs(outVars)));
    outs.push_back(out);
    outIdx.push_back(toExprs(outVars));
  }
  Block &body = *op.getBody();
  for (OpOperand &operand : op->getOpOperands()) {
    BlockArgument arg = body.getArgument(operand.getOperandNumber());
    if (arg.use_empty())
      continue;
    if (op.isDpsInit(&operand)) {
      unsigned n = operand.getOperandNumber() - op.getNumDpsInputs();
      if (reduces) {
        local[arg] = at(outs[n], outIdx[n]);
        continue;
      }
    }
    std::vector<H::Expr> idx;
    if (!indexExprs(op.getMatchingIndexingMap(&operand), idx))
      return op.emitOpError("has an indexing map the halide backend cannot "
                            "express");
    if (!isa<RankedTensorType>(operand.get().getType())) {
      FailureOr<H::Expr> s = lookup(operand.get(), op);
      if (failed(s))
        return failure();
      local[arg] = *s;
      continue;
    }
    FailureOr<TensorVal> t = tensor(operand.get(), op);
    if (failed(t))
      return failure();
    local[arg] = at(*t, idx);
  }
  std::vector<H::Expr> results;
  for (Operation &inner : body) {
    if (auto yield = dyn_cast<linalg::YieldOp>(inner)) {
      for (Value v : yield.getOperands()) {
        FailureOr<H::Expr> e = lookup(v, &inner);
        if (failed(e))
          return failure();
        results.push_back(*e);
      }
      break;
    }
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      local[index.getResult()] = loops[index.getDim()];
      continue;
    }
    if (failed(bodyOp(inner)))
      return failure();
  }
  for (auto [n, init] : llvm::enumerate(op.getDpsInits())) {
    H::Expr value = H::cast(
        computeType(getElementTypeOrSelf(init.getType())), results[n]);
    std::vector<H::Expr> idx(outIdx[n].rbegin(), outIdx[n].rend());
    outs[n].f(idx) = value;
    outs[n].f.compute_root();
    tensors[op.getResult(n)] = outs[n];
  }
  return success();
}

LogicalResult Lowerer::gate(GateOp op) {
  FailureOr<TensorVal> x = tensor(op.getInput(), op),
                       g = tensor(op.getGate(), op);
  if (failed(x) || failed(g))
    return failure();
  std::vector<H::Var> vars = makeVars(x->shape.size());
  std::vector<H::Expr> gi;
  for (int64_t dim : op.getGateDims())
    gi.push_back(vars[dim]);
  H::Expr gv = at(*g, gi);
  H::Expr act = activation(op.getActivation(), gv);
  TensorVal out{H::Func("gate"), x->shape};
  define(out.f, vars, at(*x, toExprs(vars)) * act);
  tensors[op.getResult(0)] = out;
  return success();
}

/// Inclusive prefix sum: an update over an RDom along the dimension, which
/// Halide runs sequentially in that dimension (a scan).
LogicalResult Lowerer::cumsum(CumsumOp op) {
  FailureOr<TensorVal> x = tensor(op.getInput(), op);
  if (failed(x))
    return failure();
  int64_t dim = op.getDim();
  std::vector<H::Var> vars = makeVars(x->shape.size());
  TensorVal out{H::Func("cumsum"), x->shape};
  define(out.f, vars, at(*x, toExprs(vars)));
  H::RDom r(1, H::max(x->shape[dim] - 1, 0), "t");
  std::vector<H::Expr> cur = toExprs(vars), prev = toExprs(vars);
  if (op.getReverse()) {
    // Suffix sums: t = n - 1 - r from n - 2 down to 0, each adding t + 1.
    H::Expr t = x->shape[dim] - 1 - r;
    cur[dim] = t;
    prev[dim] = t + 1;
  } else {
    cur[dim] = r;
    prev[dim] = r - 1;
  }
  std::reverse(cur.begin(), cur.end());
  std::reverse(prev.begin(), prev.end());
  out.f(cur) = out.f(cur) + out.f(prev);
  out.f.compute_root();
  tensors[op.getResult(0)] = out;
  return success();
}

LogicalResult Lowerer::pool(PoolOp op) {
  FailureOr<TensorVal> x = tensor(op.getInput(), op);
  if (failed(x))
    return failure();
  size_t rank = x->shape.size();
  int bs = static_cast<int>(op.getBlock());
  H::Expr L = x->shape[rank - 2], D = x->shape[rank - 1];
  std::vector<H::Var> vars = makeVars(rank);
  H::Var n = vars[rank - 2], cd = vars[rank - 1];
  H::Expr c = cd / D, dd = cd % D;
  H::Expr len = H::min(L - n * bs, bs);
  H::RDom r(0, bs, "r");
  std::vector<H::Expr> idx = toExprs(vars);
  idx[rank - 2] = H::clamp(n * bs + r, 0, H::max(L - 1, 0));
  idx[rank - 1] = dd;
  H::Expr xv = at(*x, idx);
  H::Expr inBlock = r < len;
  H::Expr mx = H::maximum(H::select(inBlock, xv, negInf()));
  H::Expr mn = H::minimum(
      H::select(inBlock, xv, std::numeric_limits<float>::infinity()));
  H::Expr mean = H::sum(H::select(inBlock, xv, 0.0f)) / H::cast<float>(len);
  H::Expr value = mean;
  for (int64_t k = op.getKinds().size() - 1; k >= 0; --k) {
    StringRef kind = cast<StringAttr>(op.getKinds()[k]).getValue();
    H::Expr v = kind == "max" ? mx : kind == "min" ? mn : mean;
    value = H::select(c == static_cast<int>(k), v, value);
  }
  std::vector<H::Expr> shape = x->shape;
  shape[rank - 2] = (L + bs - 1) / bs;
  shape[rank - 1] = D * static_cast<int>(op.getKinds().size());
  TensorVal out{H::Func("pool"), shape};
  define(out.f, vars, value);
  out.f.compute_root();
  tensors[op.getResult(0)] = out;
  return success();
}

FailureOr<H::Expr> Lowerer::foldResult(OpFoldResult r, Operation *user) {
  if (auto attr = dyn_cast<Attribute>(r))
    return H::Expr(static_cast<int>(cast<IntegerAttr>(attr).getInt()));
  FailureOr<H::Expr> e = lookup(cast<Value>(r), user);
  if (failed(e))
    return failure();
  return H::cast<int>(*e);
}

/// A unit-stride insertion of a tensor of the same rank (MLA's
/// concatenated query and key heads): the source inside the slice, the
/// destination elsewhere.
LogicalResult Lowerer::insertSlice(tensor::InsertSliceOp op) {
  FailureOr<TensorVal> src = tensor(op.getSource(), op),
                       dest = tensor(op.getDest(), op);
  if (failed(src) || failed(dest))
    return failure();
  if (op.getSourceType().getRank() != op.getResultType().getRank() ||
      !llvm::all_of(op.getStaticStrides(), [](int64_t s) { return s == 1; }))
    return op.emitOpError("with strides or a rank change is not supported "
                          "by the halide backend");
  std::vector<H::Var> vars = makeVars(dest->shape.size());
  H::Expr inside = H::cast<bool>(1);
  std::vector<H::Expr> srcIdx;
  for (auto [n, offset] : llvm::enumerate(op.getMixedOffsets())) {
    FailureOr<H::Expr> off = foldResult(offset, op);
    if (failed(off))
      return failure();
    H::Expr rel = vars[n] - *off;
    inside = inside && rel >= 0 && rel < src->shape[n];
    srcIdx.push_back(H::clamp(rel, 0, H::max(src->shape[n] - 1, 0)));
  }
  TensorVal out{H::Func("insert_slice"), dest->shape};
  define(out.f, vars,
         H::select(inside, at(*src, srcIdx), at(*dest, toExprs(vars))));
  tensors[op.getResult()] = out;
  return success();
}

LogicalResult Lowerer::expandShape(tensor::ExpandShapeOp op) {
  FailureOr<TensorVal> src = tensor(op.getSrc(), op);
  if (failed(src))
    return failure();
  std::vector<H::Expr> shape;
  for (OpFoldResult r : op.getMixedOutputShape()) {
    FailureOr<H::Expr> e = foldResult(r, op);
    if (failed(e))
      return failure();
    shape.push_back(*e);
  }
  std::vector<H::Var> vars = makeVars(shape.size());
  std::vector<H::Expr> srcIdx;
  for (ReassociationIndices group : op.getReassociationIndices()) {
    H::Expr linear = 0;
    for (int64_t dim : group)
      linear = linear * shape[dim] + vars[dim];
    srcIdx.push_back(linear);
  }
  TensorVal out{H::Func("expand_shape"), shape};
  define(out.f, vars, at(*src, srcIdx));
  tensors[op.getResult()] = out;
  return success();
}

/// The router as Funcs of (expert, row): logits, probabilities, selection
/// keys; top-k as k argmax reductions over the experts, each excluding the
/// experts already chosen (Halide's argmax keeps the first maximum: ties go
/// to the lower expert); group-limited routing by ranking the groups' top-2
/// sums; capacity as a scan over the rows (the count of an expert before a
/// row decides its slots in that row).
LogicalResult Lowerer::route(RouteOp op) {
  FailureOr<TensorVal> in = tensor(op.getInput(), op);
  if (failed(in))
    return failure();
  std::optional<TensorVal> weight, bias;
  if (Value w = op.getWeight()) {
    FailureOr<TensorVal> t = tensor(w, op);
    if (failed(t))
      return failure();
    weight = *t;
  }
  if (Value b = op.getBias()) {
    FailureOr<TensorVal> t = tensor(b, op);
    if (failed(t))
      return failure();
    bias = *t;
  }
  size_t rank = in->shape.size();
  H::Expr cols = in->shape[rank - 1];
  H::Expr E = weight ? weight->shape.back() : cols;
  H::Expr perBatch = rank >= 2 ? in->shape[rank - 2] : H::Expr(1);
  H::Expr rows = 1;
  for (size_t n = 0; n + 1 < rank; ++n)
    rows = rows * in->shape[n];
  int k = static_cast<int>(op.getK());
  H::Var e("e"), r("r"), s("s");
  // The leading indices of row r.
  auto lead = [&](H::Expr row) {
    std::vector<H::Expr> idx(rank - 1);
    for (int64_t n = static_cast<int64_t>(rank) - 2; n >= 0; --n) {
      idx[n] = row % in->shape[n];
      row = row / in->shape[n];
    }
    return idx;
  };
  const float inf = std::numeric_limits<float>::infinity();

  // Logits.
  H::Expr x;
  if (weight) {
    H::RDom rd(0, cols, "rd");
    std::vector<H::Expr> xi = lead(r);
    xi.push_back(rd);
    // W is shared ([Dm, E]) or per batch, with the input's leading dims
    // except the rows.
    std::vector<H::Expr> wi;
    if (weight->shape.size() > 2) {
      std::vector<H::Expr> li = lead(r);
      wi.assign(li.begin(), li.begin() + (weight->shape.size() - 2));
    }
    wi.push_back(rd);
    wi.push_back(e);
    x = H::sum(at(*in, xi) * at(*weight, wi));
  } else {
    std::vector<H::Expr> xi = lead(r);
    xi.push_back(e);
    x = at(*in, xi);
  }
  if (auto t = op.getTemperature())
    x = x / static_cast<float>(t->convertToDouble());
  if (!op.getScore().empty()) {
    FailureOr<H::Expr> sc = region(op.getScore(), {x, r % perBatch, e});
    if (failed(sc))
      return failure();
    x = *sc;
  }
  if (auto keep = op.getKeep())
    for (auto [n, kept] : llvm::enumerate(*keep))
      if (!kept)
        x = H::select(e == static_cast<int>(n), -inf, x);
  H::Func z("route_z");
  z(e, r) = x;
  z.compute_root().parallel(r);

  // Probabilities and selection keys.
  RouteScoring scoring = op.getScoring();
  bool fromProbs =
      scoring == RouteScoring::softmax || scoring == RouteScoring::sigmoid;
  H::RDom re(0, E, "re");
  H::Func p("route_p");
  if (scoring == RouteScoring::softmax || scoring == RouteScoring::topk_softmax) {
    H::Func m("route_m"), sum("route_sum");
    m(r) = H::maximum(z(re, r));
    H::Expr ex = H::select(m(r) > -inf && m(r) < inf, H::exp(z(e, r) - m(r)), 0.0f);
    H::Func ez("route_exp");
    ez(e, r) = ex;
    sum(r) = H::sum(ez(re, r));
    p(e, r) = H::select(sum(r) > 0.0f, ez(e, r) / sum(r), 0.0f);
    m.compute_root();
    sum.compute_root();
  } else if (scoring == RouteScoring::sigmoid) {
    p(e, r) = H::select(z(e, r) == -inf, 0.0f, 1.0f / (1.0f + H::exp(-z(e, r))));
  } else {
    p(e, r) = z(e, r);
  }
  p.compute_root().parallel(r);
  H::Func c("route_key");
  c(e, r) = H::select(z(e, r) == -inf, -inf,
                      (fromProbs ? p(e, r) : z(e, r)) +
                          (bias ? at(*bias, {e}) : H::Expr(0.0f)));
  c.compute_root().parallel(r);
  if (auto groups = op.getGroups()) {
    int n = static_cast<int>((*groups)[0]), top = static_cast<int>((*groups)[1]);
    H::Expr size = E / n;
    H::Var g("g");
    H::RDom rm(0, size, "rm");
    H::Tuple best = H::argmax(c(g * size + rm, r));
    H::Func first("group_best");
    first(g, r) = {best[0], best[1]};
    first.compute_root();
    H::Expr second = H::maximum(
        H::select(rm == first(g, r)[0], -inf, c(g * size + rm, r)));
    H::Func score("group_score");
    score(g, r) = first(g, r)[1] + H::select(size > 1, second, 0.0f);
    score.compute_root();
    H::RDom rg(0, n, "rg");
    H::Func rankOf("group_rank");
    rankOf(g, r) = H::sum(H::select(
        score(rg, r) > score(g, r) || (score(rg, r) == score(g, r) && rg < g),
        1, 0));
    rankOf.compute_root();
    H::Func limited("route_key_limited");
    limited(e, r) = H::select(rankOf(e / size, r) >= top, -inf, c(e, r));
    limited.compute_root();
    c = limited;
  }

  // Top-k: k exclusive argmax sweeps.
  std::vector<H::Func> chosen, wt;
  for (int n = 0; n < k; ++n) {
    H::Expr excluded = H::cast<bool>(0);
    for (H::Func &prev : chosen)
      excluded = excluded || re == prev(r);
    H::Tuple best = H::argmax(H::select(excluded, -inf, c(re, r)));
    H::Func pick("route_pick" + std::to_string(n));
    pick(r) = H::select(best[1] > -inf, H::cast<int>(best[0]), -1);
    pick.compute_root().parallel(r);
    chosen.push_back(pick);
  }
  std::vector<H::Expr> w;
  for (H::Func &pick : chosen) {
    H::Expr safe = H::clamp(pick(r), 0, E - 1);
    w.push_back(H::select(pick(r) >= 0, fromProbs ? p(safe, r) : z(safe, r),
                          0.0f));
  }
  if (scoring == RouteScoring::topk_softmax) {
    H::Expr m = -inf;
    for (int n = 0; n < k; ++n)
      m = H::select(chosen[n](r) >= 0, H::max(m, w[n]), m);
    H::Expr sum = 0.0f;
    for (int n = 0; n < k; ++n) {
      w[n] = H::select(chosen[n](r) >= 0 && m > -inf && m < inf,
                       H::exp(w[n] - m), 0.0f);
      sum = sum + w[n];
    }
    for (H::Expr &x : w)
      x = H::select(sum > 0.0f, x / sum, 0.0f);
  }
  if (op.getRenormalize()) {
    H::Expr sum = 0.0f;
    for (H::Expr &x : w)
      sum = sum + x;
    for (H::Expr &x : w)
      x = H::select(sum > 0.0f, x / sum, 0.0f);
  }
  if (auto scale = op.getRoutedScale())
    for (H::Expr &x : w)
      x = x * static_cast<float>(scale->convertToDouble());
  std::vector<H::Func> weights, pre;
  for (int n = 0; n < k; ++n) {
    H::Func wf("route_w" + std::to_string(n)), pf("route_pre" + std::to_string(n));
    wf(r) = w[n];
    H::Expr idx = chosen[n](r);
    if (auto thr = op.getSkipThreshold())
      idx = H::select(idx >= 0 && wf(r) < static_cast<float>(thr->convertToDouble()),
                      -1, idx);
    pf(r) = idx;
    wf.compute_root();
    pf.compute_root();
    weights.push_back(wf);
    pre.push_back(pf);
  }

  // Capacity: the count of each expert before each row, by a scan.
  std::vector<H::Expr> finalIdx;
  H::Func before("route_count_before");
  if (auto cf = op.getCapacityFactor()) {
    H::Expr cap = H::cast<int>(H::ceil(
        H::Expr(cf->convertToDouble()) * H::cast<double>(rows) *
        H::Expr(static_cast<double>(k)) / H::cast<double>(E)));
    before(e, r) = 0;
    H::RDom ru(1, rows, "ru");
    H::Expr add = 0;
    for (H::Func &pf : pre)
      add = add + H::select(pf(ru - 1) == e && before(e, ru - 1) < cap, 1, 0);
    before(e, ru) = before(e, ru - 1) + add;
    before.compute_root();
    for (H::Func &pf : pre) {
      H::Expr idx = pf(r);
      finalIdx.push_back(H::select(
          idx >= 0 && before(H::clamp(idx, 0, E - 1), r) < cap, idx, -1));
    }
  } else {
    for (H::Func &pf : pre)
      finalIdx.push_back(pf(r));
  }
  std::vector<H::Func> finals;
  for (auto [n, idx] : llvm::enumerate(finalIdx)) {
    H::Func f("route_final" + std::to_string(n));
    f(r) = idx;
    f.compute_root();
    finals.push_back(f);
  }

  // Results: [..., k] weights and indices, then [E] counts and sums.
  std::vector<H::Var> vars = makeVars(rank);
  H::Expr row = 0;
  for (size_t n = 0; n + 1 < rank; ++n)
    row = row * in->shape[n] + vars[n];
  H::Expr slot = vars[rank - 1];
  H::Expr wv = 0.0f, iv = -1;
  for (int n = k - 1; n >= 0; --n) {
    wv = H::select(slot == n, H::select(finals[n](row) >= 0, weights[n](row), 0.0f), wv);
    iv = H::select(slot == n, finals[n](row), iv);
  }
  std::vector<H::Expr> outShape(in->shape.begin(), in->shape.end() - 1);
  outShape.push_back(k);
  TensorVal wOut{H::Func("route_weights"), outShape},
      iOut{H::Func("route_indices"), outShape};
  define(wOut.f, vars, wv);
  define(iOut.f, vars, iv);
  tensors[op.getResult(0)] = wOut;
  tensors[op.getResult(1)] = iOut;
  if (op.getCounts()) {
    H::RDom rr(0, rows, "rr");
    H::Expr hits = 0;
    for (H::Func &f : finals)
      hits = hits + H::select(f(rr) == e, 1, 0);
    TensorVal counts{H::Func("route_counts"), {E}};
    counts.f(e) = H::sum(hits);
    TensorVal sums{H::Func("route_prob_sums"), {E}};
    sums.f(e) = H::sum(H::select(p(e, rr) == -inf, 0.0f, p(e, rr)));
    tensors[op.getResult(2)] = counts;
    if (op.getProbSums())
      tensors[op.getResult(3)] = sums;
  }
  return success();
}

/// The MoE layer token by token: each routed (token, slot) pair gathers its
/// expert's weights by index (a data-dependent Func call), so no grouping by
/// expert is needed; the work is that of the grouped form.
LogicalResult Lowerer::experts(ExpertsOp op) {
  FailureOr<TensorVal> x = tensor(op.getInput(), op),
                       w = tensor(op.getWeights(), op),
                       idx = tensor(op.getIndices(), op),
                       w1 = tensor(op.getW1(), op), w3 = tensor(op.getW3(), op),
                       w2 = tensor(op.getW2(), op);
  if (failed(x) || failed(w) || failed(idx) || failed(w1) || failed(w3) ||
      failed(w2))
    return failure();
  H::Expr Dm = x->shape[1], K = idx->shape[1], E = w1->shape[0],
          F = w1->shape[2];
  H::Var t("t"), sl("slot"), f("f"), d("d");
  H::Expr ei = at(*idx, {t, sl});
  H::Expr e = H::clamp(ei, 0, E - 1);
  H::RDom rd(0, Dm, "rd");
  H::Func a("experts_up"), g("experts_gate"), hidden("experts_hidden");
  a(f, sl, t) = H::sum(at(*x, {t, rd}) * at(*w1, {e, rd, f}));
  g(f, sl, t) = H::sum(at(*x, {t, rd}) * at(*w3, {e, rd, f}));
  H::Expr act = activation(op.getActivation(), a(f, sl, t));
  hidden(f, sl, t) = act * g(f, sl, t);
  H::RDom rf(0, F, "rf");
  H::Func down("experts_down");
  down(d, sl, t) = H::sum(hidden(rf, sl, t) * at(*w2, {e, rf, d}));
  H::RDom rs(0, K, "rs");
  TensorVal y{H::Func("experts"), {x->shape[0], Dm}};
  H::Expr routed = at(*idx, {t, rs});
  y.f(d, t) = H::sum(H::select(routed >= 0 && routed < E,
                               at(*w, {t, rs}) * down(d, rs, t), 0.0f));
  // Schedule: one task per token; its hidden activations per slot, the
  // model dim vectorized.
  y.f.compute_root().parallel(t).vectorize(d, 8, H::TailStrategy::GuardWithIf);
  tensors[op.getResult(0)] = y;
  if (!op.getNorms()) {
    hidden.compute_at(y.f, t).vectorize(f, 8, H::TailStrategy::GuardWithIf);
    down.compute_at(y.f, t).vectorize(d, 8, H::TailStrategy::GuardWithIf);
    return success();
  }
  // The norms read the unweighted expert outputs too: those are then
  // computed once per token for both consumers.
  H::RDom rn(0, Dm, "rn");
  TensorVal norms{H::Func("experts_norms"), {x->shape[0], K}};
  H::Expr own = at(*idx, {t, sl});
  norms.f(sl, t) = H::select(own >= 0 && own < E,
                             H::sqrt(H::sum(down(rn, sl, t) * down(rn, sl, t))),
                             0.0f);
  norms.f.compute_root().parallel(t);
  down.compute_root().parallel(t).vectorize(d, 8, H::TailStrategy::GuardWithIf);
  hidden.compute_at(down, t).vectorize(f, 8, H::TailStrategy::GuardWithIf);
  tensors[op.getResult(1)] = norms;
  return success();
}

LogicalResult Lowerer::lowerOp(Operation *op) {
  local.clear();
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (isa<ShapedType>(c.getType()))
      return op->emitOpError("(a tensor constant) is not supported by the "
                             "halide backend");
  }
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    FailureOr<TensorVal> t = tensor(dim.getSource(), op);
    std::optional<int64_t> index = dim.getConstantIndex();
    if (failed(t) || !index)
      return op->emitOpError("needs a constant dimension on the halide "
                             "backend");
    scalars[dim.getResult()] = t->shape[*index];
    return success();
  }
  if (auto empty = dyn_cast<tensor::EmptyOp>(op)) {
    bool ok;
    std::vector<H::Expr> shape =
        shapeOf(empty.getType(), empty.getDynamicSizes(), op, ok);
    if (!ok)
      return failure();
    // Contents are undefined: zeros.
    TensorVal t{H::Func("empty"), shape};
    std::vector<H::Var> vars = makeVars(shape.size());
    define(t.f, vars,
           H::cast(computeType(empty.getType().getElementType()), 0));
    tensors[empty.getResult()] = t;
    return success();
  }
  if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
    FailureOr<TensorVal> t = tensor(extract.getTensor(), op);
    if (failed(t))
      return failure();
    std::vector<H::Expr> idx;
    for (Value i : extract.getIndices()) {
      FailureOr<H::Expr> e = lookup(i, op);
      if (failed(e))
        return failure();
      idx.push_back(H::cast<int>(*e));
    }
    scalars[extract.getResult()] = at(*t, idx);
    return success();
  }
  if (auto fill = dyn_cast<linalg::FillOp>(op)) {
    FailureOr<H::Expr> value = lookup(fill.getInputs()[0], op);
    FailureOr<TensorVal> dest = tensor(fill.getOutputs()[0], op);
    if (failed(value) || failed(dest))
      return failure();
    TensorVal t{H::Func("fill"), dest->shape};
    define(t.f, makeVars(dest->shape.size()),
           H::cast(computeType(getElementTypeOrSelf(fill.getOutputs()[0].getType())),
                   *value));
    tensors[fill.getResult(0)] = t;
    return success();
  }
  if (auto insert = dyn_cast<tensor::InsertSliceOp>(op))
    return insertSlice(insert);
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
    return expandShape(expand);
  if (auto a = dyn_cast<AttentionOp>(op))
    return attention(a);
  if (auto g = dyn_cast<linalg::GenericOp>(op))
    return generic(g);
  if (auto g = dyn_cast<GateOp>(op))
    return gate(g);
  if (auto c = dyn_cast<CumsumOp>(op))
    return cumsum(c);
  if (auto p = dyn_cast<PoolOp>(op))
    return pool(p);
  if (auto r = dyn_cast<RouteOp>(op))
    return route(r);
  if (auto e = dyn_cast<ExpertsOp>(op))
    return experts(e);
  if (op->getNumResults() == 1 && op->getNumRegions() == 0 &&
      !isa<ShapedType>(op->getResult(0).getType()) &&
      llvm::none_of(op->getOperandTypes(),
                    [](Type t) { return isa<ShapedType>(t); })) {
    SmallVector<H::Expr> operands;
    for (Value v : op->getOperands()) {
      FailureOr<H::Expr> e = lookup(v, op);
      if (failed(e))
        return failure();
      operands.push_back(*e);
    }
    FailureOr<H::Expr> e = scalarOp(op, operands);
    if (failed(e))
      return failure();
    scalars[op->getResult(0)] = *e;
    return success();
  }
  return op->emitOpError("is not supported by the halide backend");
}

FailureOr<halide::LoweredFunction> Lowerer::run() {
  halide::LoweredFunction result;
  for (BlockArgument arg : func.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type)
      return func.emitOpError("argument ")
             << arg.getArgNumber()
             << " is not a ranked tensor (the halide backend takes tensors)";
    H::ImageParam p(halide::storageType(type.getElementType()),
                    static_cast<int>(type.getRank()),
                    "arg" + std::to_string(arg.getArgNumber()));
    TensorVal t{H::Func("in" + std::to_string(arg.getArgNumber())), {}};
    for (int64_t d = 0; d < type.getRank(); ++d)
      t.shape.push_back(p.dim(static_cast<int>(type.getRank() - 1 - d)).extent());
    std::vector<H::Var> vars = makeVars(type.getRank());
    std::vector<H::Var> rev(vars.rbegin(), vars.rend());
    H::Expr value = p(rev);
    if (type.getElementType().isInteger(1))
      value = value != 0;
    else
      value = H::cast(computeType(type.getElementType()), value);
    t.f(rev) = value;
    tensors[arg] = t;
    result.inputs.push_back(p);
  }
  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands()) {
        FailureOr<TensorVal> t = tensor(v, &op);
        if (failed(t))
          return failure();
        auto type = cast<RankedTensorType>(v.getType());
        std::vector<H::Var> vars = makeVars(type.getRank());
        H::Func out("result" + std::to_string(result.outputs.size()));
        H::Expr value = at(*t, toExprs(vars));
        define(out, vars,
               H::cast(halide::storageType(type.getElementType()), value));
        result.outputs.push_back(out);
        result.outputShapes.push_back(t->shape);
      }
      return result;
    }
    if (failed(lowerOp(&op)))
      return failure();
  }
  return func.emitOpError("has no return");
}

} // namespace

H::Type mlir::attn::halide::storageType(Type elem) {
  if (isa<Float8E4M3FNType, Float8E5M2Type>(elem))
    return H::UInt(8);
  if (elem.isBF16())
    return H::BFloat(16);
  if (elem.isF16())
    return H::Float(16);
  if (elem.isF64())
    return H::Float(64);
  if (isa<FloatType>(elem))
    return H::Float(32);
  if (elem.isInteger(1))
    return H::UInt(8);
  unsigned width = elem.isIndex() ? 64 : elem.getIntOrFloatBitWidth();
  return H::Int(static_cast<int>(width));
}

FailureOr<halide::LoweredFunction>
mlir::attn::halide::lowerToHalide(func::FuncOp func) {
  // Halide reports errors in definitions by exceptions.
  try {
    return Lowerer(func).run();
  } catch (const H::Error &e) {
    return func.emitOpError("halide backend: ") << e.what();
  }
}

H::Target mlir::attn::halide::hostTarget() {
  // Halide 14 takes a CPU with AVX512-BF16 (Zen 4/5) for a Sapphire Rapids,
  // whose feature set includes AVX512-FP16 instructions those CPUs lack
  // (SIGILL on bf16 conversions): stop at Cannon Lake's.
  return H::get_host_target().without_feature(H::Target::AVX512_SapphireRapids);
}

std::string mlir::attn::halide::hostTargetString() {
  return hostTarget().to_string();
}

FailureOr<std::string> mlir::attn::halide::compileToBitcode(func::FuncOp func,
                                                            StringRef name) {
  FailureOr<LoweredFunction> lowered = lowerToHalide(func);
  if (failed(lowered))
    return failure();
  llvm::SmallString<128> path;
  if (llvm::sys::fs::createTemporaryFile("attn-halide", "bc", path))
    return func.emitOpError("halide backend: cannot create a temporary file");
  try {
    std::vector<H::Argument> args(lowered->inputs.begin(),
                                  lowered->inputs.end());
    H::Pipeline(lowered->outputs)
        .compile_to_bitcode(path.str().str(), args, name.str(), hostTarget());
  } catch (const H::Error &e) {
    llvm::sys::fs::remove(path);
    return func.emitOpError("halide backend: ") << e.what();
  }
  auto buffer = llvm::MemoryBuffer::getFile(path);
  llvm::sys::fs::remove(path);
  if (!buffer)
    return func.emitOpError("halide backend: cannot read the bitcode Halide "
                            "wrote");
  return (*buffer)->getBuffer().str();
}
