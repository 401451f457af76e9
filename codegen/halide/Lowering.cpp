//===- Lowering.cpp - attn programs to Halide pipelines ---------*- C++ -*-===//
//
// Part of the attn project.
//
// Every tensor value of the function becomes a Halide Func over pure Vars
// (innermost tensor dimension first); scalars become Exprs; the ops' regions
// are translated op by op into Exprs, so the user's score, mask, sink,
// combine and epilogue code is the same code here as on the MLIR path.
// Attention is the two-pass softmax (row maximum, then sums), which Halide
// evaluates per query tile by the schedule below.
//
//===----------------------------------------------------------------------===//

#include "codegen/halide/Lowering.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/TypeSwitch.h"

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

class Lowerer {
public:
  explicit Lowerer(func::FuncOp func) : func(func) {}
  FailureOr<halide::LoweredFunction> run();

private:
  LogicalResult lowerOp(Operation *op);
  FailureOr<H::Expr> scalarOp(Operation *op, ArrayRef<H::Expr> a);
  FailureOr<H::Expr> region(Region &r, ArrayRef<H::Expr> args);
  FailureOr<H::Expr> lookup(Value v, Operation *user);
  LogicalResult attention(AttentionOp op);
  LogicalResult generic(linalg::GenericOp op);
  LogicalResult gate(GateOp op);
  LogicalResult cumsum(CumsumOp op);
  LogicalResult pool(PoolOp op);
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
      .Case([&](math::TanhOp) -> R { return H::tanh(a[0]); })
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

FailureOr<H::Expr> Lowerer::region(Region &r, ArrayRef<H::Expr> args) {
  Block &block = r.front();
  for (auto [arg, e] : llvm::zip(block.getArguments(), args))
    local[arg] = e;
  for (Operation &op : block) {
    if (auto yield = dyn_cast<YieldOp>(op))
      return lookup(yield.getOperand(0), &op);
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
      continue;
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
  }
  return r.getParentOp()->emitOpError("region without a terminator");
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
  H::Var d("d"), j("j"), i("i"), h("h"), b("b");

  // Which keys a row sees.
  H::Expr visible = H::cast<bool>(1);
  if (op.getCausal())
    visible = j <= i + (Lk - Lq);
  if (Value blocks = op.getBlocks()) {
    FailureOr<TensorVal> sel = tensor(blocks, op);
    if (failed(sel))
      return failure();
    int blockSize = op.getBlockSize() ? static_cast<int>(*op.getBlockSize()) : 1;
    H::RDom c(0, sel->shape[3], "c");
    H::Expr chosen =
        H::maximum(H::select(H::cast<int>(at(*sel, {b, h, i, c})) ==
                                 j / blockSize,
                             1, 0));
    visible = visible && chosen == 1;
  }
  if (!op.getMask().empty()) {
    FailureOr<H::Expr> m = region(op.getMask(), {b, h, i, j});
    if (failed(m))
      return failure();
    visible = visible && *m;
  }

  // One map: the normalized rows and their log-sum-exp.
  struct Map {
    H::Func row, lse;
  };
  // With an LSE output the row statistics are computed once per row at the
  // root (the LSE is a result of its own), from their own evaluations of the
  // scores; otherwise everything is computed per query tile.
  bool rootStats = static_cast<bool>(op.getLse());
  auto attend = [&](const TensorVal &qt, const TensorVal &kt,
                    StringRef name) -> FailureOr<Map> {
    std::string base = name.str();
    auto scores = [&](StringRef suffix, H::Func &dot) -> FailureOr<H::Func> {
      H::RDom rd(0, D, "rd");
      dot = H::Func(base + "_dot" + suffix.str());
      dot(j, i, h, b) =
          H::sum(at(qt, {b, h, i, rd}) * at(kt, {b, h / group, j, rd}));
      H::Expr x = scale * dot(j, i, h, b);
      if (!op.getScore().empty()) {
        FailureOr<H::Expr> s = region(op.getScore(), {x, b, h, i, j});
        if (failed(s))
          return failure();
        x = *s;
      }
      H::Func s(base + "_s" + suffix.str());
      s(j, i, h, b) = H::select(visible, x, negInf());
      return s;
    };
    H::Func dotTile, dotStats;
    FailureOr<H::Func> sTile = scores("", dotTile);
    if (failed(sTile))
      return failure();
    FailureOr<H::Func> sStats = sTile;
    if (rootStats)
      sStats = scores("_stats", dotStats);
    if (failed(sStats))
      return failure();
    H::RDom rj(0, Lk, "rj");
    H::Func m0(base + "_max"), m(base + "_m");
    m0(i, h, b) = H::maximum((*sStats)(rj, i, h, b));
    H::Expr sinkTerm = 0.0f;
    if (!op.getSink().empty()) {
      FailureOr<H::Expr> sink = region(op.getSink(), {b, h, i});
      if (failed(sink))
        return failure();
      // A sink logit joins the denominator (with value 0); -inf is none.
      H::Expr present = *sink > negInf();
      m(i, h, b) = H::select(present, H::max(m0(i, h, b), *sink), m0(i, h, b));
      sinkTerm = H::select(present, H::exp(*sink - m(i, h, b)), 0.0f);
    } else {
      m(i, h, b) = m0(i, h, b);
    }
    auto prob = [&](H::Func &s, H::Expr key) {
      H::Expr sv = s(key, i, h, b);
      if (sigmoid)
        return H::select(sv > negInf(), 1.0f / (1.0f + H::exp(-sv)), 0.0f);
      return H::select(sv > negInf() && m(i, h, b) > negInf(),
                       H::exp(sv - m(i, h, b)), 0.0f);
    };
    H::Func l(base + "_l"), acc(base + "_acc");
    l(i, h, b) = H::sum(prob(*sStats, rj)) + sinkTerm;
    acc(d, i, h, b) = 0.0f;
    acc(d, i, h, b) += prob(*sTile, rj) * at(*v, {b, h / group, rj, d});
    Map map{H::Func(base + "_row"), H::Func(base + "_lse")};
    map.row(d, i, h, b) =
        sigmoid ? acc(d, i, h, b)
                : H::select(l(i, h, b) > 0.0f, acc(d, i, h, b) / l(i, h, b),
                            0.0f);
    map.lse(i, h, b) = H::select(l(i, h, b) > 0.0f,
                                 m(i, h, b) + H::log(l(i, h, b)), negInf());
    // Schedule: the MLIR path's tiles. One task per (8-row query tile, head,
    // batch); the scores of a tile over all keys, its maxima, sums and
    // accumulators are computed in the task; the head dim is vectorized.
    H::Var io("io"), ii("ii");
    map.row.compute_root()
        .split(i, io, ii, 8, H::TailStrategy::GuardWithIf)
        .reorder(d, ii, io, h, b)
        .parallel(b)
        .parallel(h)
        .vectorize(d, 8, H::TailStrategy::GuardWithIf);
    dotTile.compute_at(map.row, io).vectorize(j, 8,
                                              H::TailStrategy::GuardWithIf);
    acc.compute_at(map.row, io);
    acc.update().reorder(d, rj, i).vectorize(d, 8,
                                             H::TailStrategy::GuardWithIf);
    if (rootStats) {
      m0.compute_root().parallel(b).parallel(h);
      m.compute_root().parallel(b).parallel(h);
      l.compute_root().parallel(b).parallel(h);
      // dotStats stays inline: evaluated where the maximum and the sum need
      // it (the scores are computed three times for such programs).
    } else {
      m0.compute_at(map.row, io);
      m.compute_at(map.row, io);
      l.compute_at(map.row, io);
    }
    return map;
  };
  FailureOr<Map> first = attend(*q, *k, "attn");
  if (failed(first))
    return failure();
  H::Expr o = first->row(d, i, h, b);
  if (op.getQuery2()) {
    FailureOr<TensorVal> q2 = tensor(op.getQuery2(), op),
                         k2 = tensor(op.getKey2(), op);
    if (failed(q2) || failed(k2))
      return failure();
    FailureOr<Map> second = attend(*q2, *k2, "attn2");
    if (failed(second))
      return failure();
    FailureOr<H::Expr> c =
        region(op.getCombine(), {o, second->row(d, i, h, b), b, h, i, d});
    if (failed(c))
      return failure();
    o = *c;
  }
  H::Func combined("combined");
  combined(d, i, h, b) = o;
  if (std::optional<APFloat> eps = op.getRmsNormEps()) {
    H::RDom rv(0, Dv, "rv");
    H::Func ss("rms");
    ss(i, h, b) = H::sum(combined(rv, i, h, b) * combined(rv, i, h, b));
    H::Func normed("normed");
    normed(d, i, h, b) =
        combined(d, i, h, b) /
        H::sqrt(ss(i, h, b) / H::cast<float>(Dv) +
                static_cast<float>(eps->convertToDouble()));
    ss.compute_root();
    combined.compute_root();
    o = normed(d, i, h, b);
  } else {
    o = combined(d, i, h, b);
  }
  if (!op.getEpilogue().empty()) {
    FailureOr<H::Expr> e = region(op.getEpilogue(), {o, b, h, i, d});
    if (failed(e))
      return failure();
    o = *e;
  }
  Type outElem = op.getOutputType().getElementType();
  TensorVal out{H::Func("attention"), {B, Hq, Lq, Dv}};
  out.f(d, i, h, b) = H::cast(computeType(outElem), o);
  tensors[op.getResult(0)] = out;
  if (op.getLse()) {
    TensorVal lse{H::Func("lse"), {B, Hq, Lq}};
    lse.f(i, h, b) = first->lse(i, h, b);
    tensors[op.getResult(1)] = lse;
  }
  return success();
}

/// An elementwise linalg.generic (an unfused gate or GLU): every loop
/// parallel, indexing maps of dimensions and constants.
LogicalResult Lowerer::generic(linalg::GenericOp op) {
  if (op.getNumReductionLoops() != 0)
    return op.emitOpError("with reductions is not supported by the halide "
                          "backend");
  std::vector<H::Var> loops = makeVars(op.getNumLoops());
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
  Block &body = *op.getBody();
  for (OpOperand &operand : op->getOpOperands()) {
    BlockArgument arg = body.getArgument(operand.getOperandNumber());
    if (arg.use_empty())
      continue;
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
    if (isa<linalg::IndexOp>(inner)) {
      local[inner.getResult(0)] =
          loops[cast<linalg::IndexOp>(inner).getDim()];
      continue;
    }
    SmallVector<H::Expr> operands;
    for (Value v : inner.getOperands()) {
      FailureOr<H::Expr> e = lookup(v, &inner);
      if (failed(e))
        return failure();
      operands.push_back(*e);
    }
    FailureOr<H::Expr> e = scalarOp(&inner, operands);
    if (failed(e))
      return failure();
    local[inner.getResult(0)] = *e;
  }
  for (auto [n, init] : llvm::enumerate(op.getDpsInits())) {
    AffineMap map = op.getMatchingIndexingMap(op.getDpsInitOperand(n));
    if (!map.isPermutation())
      return op.emitOpError("has an output map the halide backend cannot "
                            "express");
    FailureOr<TensorVal> dest = tensor(init, op);
    if (failed(dest))
      return failure();
    std::vector<H::Var> outVars;
    for (AffineExpr e : map.getResults())
      outVars.push_back(loops[cast<AffineDimExpr>(e).getPosition()]);
    TensorVal out{H::Func("generic"), dest->shape};
    define(out.f, outVars,
           H::cast(computeType(getElementTypeOrSelf(init.getType())),
                   results[n]));
    out.f.compute_root();
    tensors[op.getResult(n)] = out;
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
  H::Expr gv = at(*g, gi), act;
  switch (op.getActivation()) {
  case Activation::sigmoid:
    act = 1.0f / (1.0f + H::exp(-gv));
    break;
  case Activation::swish:
    act = gv / (1.0f + H::exp(-gv));
    break;
  case Activation::tanh:
    act = H::tanh(gv);
    break;
  case Activation::gelu:
    act = 0.5f * gv *
          (1.0f + H::tanh(0.7978845608f * (gv + 0.044715f * gv * gv * gv)));
    break;
  case Activation::relu:
    act = H::max(gv, 0.0f);
    break;
  case Activation::identity:
    act = gv;
    break;
  }
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
  cur[dim] = r;
  prev[dim] = r - 1;
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
  idx[rank - 2] = n * bs + H::min(r, len - 1);
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
  if (isa<RouteOp>(op))
    return op->emitOpError(
        "is not supported by the halide backend: top-k selection is a "
        "data-dependent sort, which a Halide Func (a pure function of its "
        "coordinates with bounded reductions) cannot express without "
        "running k argmax reductions over the experts");
  if (isa<ExpertsOp>(op))
    return op->emitOpError(
        "is not supported by the halide backend: grouping tokens by expert "
        "(a counting sort with data-dependent extents) has no Halide form");
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
  return Lowerer(func).run();
}
