//===- Reference.cpp - scalar reference interpreter -------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "tools/attn-run/Reference.h"

#include "dialect/AttnOps.h"
#include "passes/Passes.h"
#include "tools/attn-run/DType.h"
#include <attn/runtime.h>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>
#include "llvm/ADT/ScopeExit.h"

#include <cstring>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data;
  int64_t linear(ArrayRef<int64_t> idx) const {
    int64_t l = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      l = l * shape[d] + idx[d];
    return l;
  }
  /// The inverse of linear(): the index of element `l` into `idx`.
  void unravel(int64_t l, MutableArrayRef<int64_t> idx) const {
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      idx[d] = l % shape[d];
      l /= shape[d];
    }
  }
};

/// A runtime value: a float, an integer (also index and i1) or a tensor.
struct Val {
  double f = 0;
  int64_t i = 0;
  std::shared_ptr<Tensor> t;
};

double roundBf16(double v) {
  float f = static_cast<float>(v);
  if (std::isnan(f))
    return f;
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits = (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff0000u;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// Rounds a value to what an element of type `t` can hold.
double roundTo(Type t, double v);

/// `x` [B, H, L, D] with every row (b, ., i, .) rotated by `rope` at
/// position pos(b, i) (angles negated for the inverse), in double, each
/// element then rounded to the element type of `type`.
Tensor rotate(const Tensor &x, RopeAttr rope, bool inverse, Type type,
              llvm::function_ref<double(int64_t, int64_t)> pos) {
  Tensor y = x;
  int64_t B = x.shape[0], H = x.shape[1], L = x.shape[2], D = x.shape[3];
  SmallVector<double> freq = rope.getChannelFrequencies(D);
  int64_t r = rope.getRotatedDims(D);
  double m = rope.getMagnitude();
  Type elem = getElementTypeOrSelf(type);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < L; ++i) {
      double p = pos(b, i);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < r; ++d) {
          double a = p * freq[d] * (inverse ? -1.0 : 1.0);
          double xd = x.data[x.linear({b, h, i, d})];
          double xp = x.data[x.linear({b, h, i, rope.getPartner(d, D)})];
          y.data[y.linear({b, h, i, d})] =
              roundTo(elem, m * (xd * std::cos(a) + xp * std::sin(a)));
        }
    }
  return y;
}

/// Set while finite differences run: floats stay float64 everywhere.
bool exactFloats = false;

/// Rounds a value to what an element of type `t` can hold.
double roundTo(Type t, double v) {
  if (exactFloats && isa<FloatType>(t))
    return v;
  if (t.isF32())
    return static_cast<float>(v);
  if (t.isBF16())
    return roundBf16(v);
  if (t.isF16())
    return static_cast<double>(static_cast<_Float16>(v));
  if (isa<Float8E4M3FNType, Float8E5M2Type>(t)) {
    bool e5m2 = isa<Float8E5M2Type>(t);
    return ::attn::decodeFp8(::attn::encodeFp8(v, e5m2), e5m2);
  }
  if (t.isInteger(1))
    return v != 0;
  if (auto it = dyn_cast<IntegerType>(t)) {
    if (it.getWidth() >= 64)
      return static_cast<double>(static_cast<int64_t>(v));
    int64_t x = static_cast<int64_t>(v);
    unsigned w = it.getWidth();
    // Sign-extend the low w bits (shift left unsigned: no UB for x < 0).
    x = static_cast<int64_t>(static_cast<uint64_t>(x) << (64 - w)) >> (64 - w);
    return static_cast<double>(x);
  }
  return v;
}

bool isFloatLike(Type t) { return isa<FloatType>(getElementTypeOrSelf(t)); }

/// The linear index into `scale` (of shape `sshape`) of element `idx` of a
/// quantized tensor, for getScaleBlocks' blocks.
int64_t scaleIndex(const Tensor &scale, ArrayRef<int64_t> blocks,
                   ArrayRef<int64_t> idx) {
  SmallVector<int64_t> at;
  for (auto [block, i] : llvm::zip(blocks, idx))
    at.push_back(block == 0 ? 0 : i / block);
  return scale.linear(at);
}

/// Checks at run time that `scale`'s shape is what `blocks` make of
/// `shape` (dims that were dynamic).
LogicalResult checkScaleShape(Operation *op, const Tensor &x,
                              const Tensor &scale, ArrayRef<int64_t> blocks,
                              StringRef name) {
  for (auto [d, block] : llvm::enumerate(blocks)) {
    int64_t want = block == 0 ? 1 : x.shape[d] / block;
    if (scale.shape[d] != want)
      return op->emitOpError()
             << "the " << name << " " << ::attn::shapeString(scale.shape)
             << " does not fit the quantized operand "
             << ::attn::shapeString(x.shape) << " at run time";
  }
  return success();
}

int64_t wrapInt(Type t, int64_t v) {
  auto it = dyn_cast<IntegerType>(getElementTypeOrSelf(t));
  if (!it || it.getWidth() >= 64)
    return v;
  unsigned w = it.getWidth();
  if (w == 1)
    return v & 1;
  return static_cast<int64_t>(static_cast<uint64_t>(v) << (64 - w)) >>
         (64 - w);
}

class Interpreter {
public:
  /// Count mode: attention ops only count the floating-point work of their
  /// visible (query, key) pairs, 2 (D + Dv) per pair and map, into `flops`,
  /// and produce zeros.
  bool countOnly = false;
  double flops = 0;

  LogicalResult runBlock(Block &block, ArrayRef<Val> args,
                         SmallVectorImpl<Val> &results) {
    for (auto [arg, v] : llvm::zip(block.getArguments(), args))
      env[arg] = v;
    for (Operation &op : block) {
      if (op.hasTrait<OpTrait::IsTerminator>()) {
        for (Value v : op.getOperands())
          results.push_back(env.lookup(v));
        return success();
      }
      if (failed(exec(&op)))
        return failure();
    }
    return success();
  }

  Val get(Value v) { return env.lookup(v); }

private:
  LogicalResult exec(Operation *op);
  FailureOr<Val> scalar(Operation *op, ArrayRef<Val> operands);
  LogicalResult attention(AttentionOp op);
  LogicalResult route(RouteOp op);
  LogicalResult experts(ExpertsOp op);
  LogicalResult gate(GateOp op);
  LogicalResult merge(MergeOp op);
  LogicalResult pool(PoolOp op);
  LogicalResult evict(EvictOp op);
  LogicalResult scan(ScanOp op);
  LogicalResult generic(linalg::GenericOp op);
  /// The loop indices of the innermost linalg.generic being run (for
  /// linalg.index).
  SmallVector<int64_t> genericIvs;
  /// Evaluates a single-block region on scalars.
  FailureOr<Val> evalRegion(Region &region, ArrayRef<Val> args) {
    SmallVector<Val> results;
    if (failed(runBlock(region.front(), args, results)) || results.empty())
      return failure();
    return results[0];
  }

  DenseMap<Value, Val> env;
};

Val fromFloat(double f) {
  Val v;
  v.f = f;
  return v;
}
Val fromInt(int64_t i) {
  Val v;
  v.i = i;
  return v;
}
Val fromTensor(std::shared_ptr<Tensor> t) {
  Val v;
  v.t = std::move(t);
  return v;
}

FailureOr<Val> Interpreter::scalar(Operation *op, ArrayRef<Val> a) {
  Type rt = op->getNumResults() ? op->getResult(0).getType() : Type();
  auto F = [&](double x) -> FailureOr<Val> { return fromFloat(x); };
  auto I = [&](int64_t x) -> FailureOr<Val> { return fromInt(wrapInt(rt, x)); };
  auto fcmp = [](arith::CmpFPredicate p, double x, double y) {
    bool unordered = std::isnan(x) || std::isnan(y);
    using P = arith::CmpFPredicate;
    switch (p) {
    case P::AlwaysFalse:
      return false;
    case P::OEQ:
      return !unordered && x == y;
    case P::OGT:
      return !unordered && x > y;
    case P::OGE:
      return !unordered && x >= y;
    case P::OLT:
      return !unordered && x < y;
    case P::OLE:
      return !unordered && x <= y;
    case P::ONE:
      return !unordered && x != y;
    case P::ORD:
      return !unordered;
    case P::UEQ:
      return unordered || x == y;
    case P::UGT:
      return unordered || x > y;
    case P::UGE:
      return unordered || x >= y;
    case P::ULT:
      return unordered || x < y;
    case P::ULE:
      return unordered || x <= y;
    case P::UNE:
      return unordered || x != y;
    case P::UNO:
      return unordered;
    case P::AlwaysTrue:
      return true;
    }
    return false;
  };
  auto icmp = [](arith::CmpIPredicate p, int64_t x, int64_t y) {
    using P = arith::CmpIPredicate;
    uint64_t ux = x, uy = y;
    switch (p) {
    case P::eq:
      return x == y;
    case P::ne:
      return x != y;
    case P::slt:
      return x < y;
    case P::sle:
      return x <= y;
    case P::sgt:
      return x > y;
    case P::sge:
      return x >= y;
    case P::ult:
      return ux < uy;
    case P::ule:
      return ux <= uy;
    case P::ugt:
      return ux > uy;
    case P::uge:
      return ux >= uy;
    }
    return false;
  };
  return llvm::TypeSwitch<Operation *, FailureOr<Val>>(op)
      .Case([&](arith::AddFOp) { return F(a[0].f + a[1].f); })
      .Case([&](arith::SubFOp) { return F(a[0].f - a[1].f); })
      .Case([&](arith::MulFOp) { return F(a[0].f * a[1].f); })
      .Case([&](arith::DivFOp) { return F(a[0].f / a[1].f); })
      .Case([&](arith::RemFOp) { return F(std::fmod(a[0].f, a[1].f)); })
      .Case([&](arith::NegFOp) { return F(-a[0].f); })
      .Case([&](arith::MaximumFOp) {
        return F(std::isnan(a[0].f) || std::isnan(a[1].f)
                     ? NAN
                     : std::max(a[0].f, a[1].f));
      })
      .Case([&](arith::MinimumFOp) {
        return F(std::isnan(a[0].f) || std::isnan(a[1].f)
                     ? NAN
                     : std::min(a[0].f, a[1].f));
      })
      .Case([&](arith::MaxNumFOp) { return F(std::fmax(a[0].f, a[1].f)); })
      .Case([&](arith::MinNumFOp) { return F(std::fmin(a[0].f, a[1].f)); })
      .Case([&](arith::AddIOp) { return I(a[0].i + a[1].i); })
      .Case([&](arith::SubIOp) { return I(a[0].i - a[1].i); })
      .Case([&](arith::MulIOp) { return I(a[0].i * a[1].i); })
      .Case([&](arith::DivSIOp) -> FailureOr<Val> {
        if (a[1].i == 0)
          return op->emitOpError("division by zero in the reference");
        return I(a[0].i / a[1].i);
      })
      .Case([&](arith::DivUIOp) -> FailureOr<Val> {
        if (a[1].i == 0)
          return op->emitOpError("division by zero in the reference");
        return I(static_cast<int64_t>(static_cast<uint64_t>(a[0].i) /
                                      static_cast<uint64_t>(a[1].i)));
      })
      .Case([&](arith::CeilDivUIOp) -> FailureOr<Val> {
        if (a[1].i == 0)
          return op->emitOpError("division by zero in the reference");
        uint64_t x = static_cast<uint64_t>(a[0].i),
                 y = static_cast<uint64_t>(a[1].i);
        return I(static_cast<int64_t>(x / y + (x % y != 0)));
      })
      .Case([&](arith::FloorDivSIOp) -> FailureOr<Val> {
        if (a[1].i == 0)
          return op->emitOpError("division by zero in the reference");
        int64_t q = a[0].i / a[1].i;
        if ((a[0].i % a[1].i != 0) && ((a[0].i < 0) != (a[1].i < 0)))
          --q;
        return I(q);
      })
      .Case([&](arith::RemSIOp) -> FailureOr<Val> {
        if (a[1].i == 0)
          return op->emitOpError("division by zero in the reference");
        return I(a[0].i % a[1].i);
      })
      .Case([&](arith::RemUIOp) -> FailureOr<Val> {
        if (a[1].i == 0)
          return op->emitOpError("division by zero in the reference");
        return I(static_cast<int64_t>(static_cast<uint64_t>(a[0].i) %
                                      static_cast<uint64_t>(a[1].i)));
      })
      .Case([&](math::CountLeadingZerosOp) {
        unsigned width = op->getResult(0).getType().getIntOrFloatBitWidth();
        uint64_t x = static_cast<uint64_t>(a[0].i);
        int64_t n = 0;
        for (int64_t bit = width - 1; bit >= 0 && !((x >> bit) & 1); --bit)
          ++n;
        return I(n);
      })
      .Case([&](arith::AndIOp) { return I(a[0].i & a[1].i); })
      .Case([&](arith::OrIOp) { return I(a[0].i | a[1].i); })
      .Case([&](arith::XOrIOp) { return I(a[0].i ^ a[1].i); })
      .Case([&](arith::MaxSIOp) { return I(std::max(a[0].i, a[1].i)); })
      .Case([&](arith::MinSIOp) { return I(std::min(a[0].i, a[1].i)); })
      .Case([&](arith::MaxUIOp) {
        return I(static_cast<int64_t>(std::max(static_cast<uint64_t>(a[0].i),
                                               static_cast<uint64_t>(a[1].i))));
      })
      .Case([&](arith::MinUIOp) {
        return I(static_cast<int64_t>(std::min(static_cast<uint64_t>(a[0].i),
                                               static_cast<uint64_t>(a[1].i))));
      })
      .Case([&](arith::ShLIOp) { return I(a[0].i << a[1].i); })
      .Case([&](arith::ShRSIOp) { return I(a[0].i >> a[1].i); })
      .Case([&](arith::CmpFOp c) {
        return I(fcmp(c.getPredicate(), a[0].f, a[1].f));
      })
      .Case([&](arith::CmpIOp c) {
        return I(icmp(c.getPredicate(), a[0].i, a[1].i));
      })
      .Case([&](arith::SelectOp) -> FailureOr<Val> {
        return a[0].i ? a[1] : a[2];
      })
      .Case([&](arith::ExtFOp) { return F(a[0].f); })
      .Case([&](arith::TruncFOp) {
        return F(roundTo(getElementTypeOrSelf(rt), a[0].f));
      })
      .Case([&](arith::SIToFPOp) { return F(static_cast<double>(a[0].i)); })
      .Case([&](arith::UIToFPOp) {
        return F(static_cast<double>(static_cast<uint64_t>(a[0].i)));
      })
      .Case([&](arith::FPToSIOp) { return I(static_cast<int64_t>(a[0].f)); })
      .Case([&](arith::IndexCastOp) { return I(a[0].i); })
      .Case([&](arith::IndexCastUIOp) { return I(a[0].i); })
      .Case([&](arith::ExtSIOp) { return I(a[0].i); })
      .Case([&](arith::ExtUIOp) -> FailureOr<Val> {
        auto it = cast<IntegerType>(
            getElementTypeOrSelf(op->getOperand(0).getType()));
        uint64_t mask =
            it.getWidth() >= 64 ? ~0ull : ((1ull << it.getWidth()) - 1);
        return fromInt(
            static_cast<int64_t>(static_cast<uint64_t>(a[0].i) & mask));
      })
      .Case([&](arith::TruncIOp) { return I(a[0].i); })
      .Case([&](math::ExpOp) { return F(std::exp(a[0].f)); })
      .Case([&](math::Exp2Op) { return F(std::exp2(a[0].f)); })
      .Case([&](math::ExpM1Op) { return F(std::expm1(a[0].f)); })
      .Case([&](math::LogOp) { return F(std::log(a[0].f)); })
      .Case([&](math::Log2Op) { return F(std::log2(a[0].f)); })
      .Case([&](math::Log1pOp) { return F(std::log1p(a[0].f)); })
      .Case([&](math::TanhOp) { return F(std::tanh(a[0].f)); })
      .Case([&](math::SqrtOp) { return F(std::sqrt(a[0].f)); })
      .Case([&](math::RsqrtOp) { return F(1.0 / std::sqrt(a[0].f)); })
      .Case([&](math::AbsFOp) { return F(std::fabs(a[0].f)); })
      .Case([&](math::AbsIOp) { return I(std::llabs(a[0].i)); })
      .Case([&](math::PowFOp) { return F(std::pow(a[0].f, a[1].f)); })
      .Case([&](math::ErfOp) { return F(std::erf(a[0].f)); })
      .Case([&](math::SinOp) { return F(std::sin(a[0].f)); })
      .Case([&](math::CosOp) { return F(std::cos(a[0].f)); })
      .Case([&](math::TanOp) { return F(std::tan(a[0].f)); })
      .Case([&](math::FloorOp) { return F(std::floor(a[0].f)); })
      .Case([&](math::CeilOp) { return F(std::ceil(a[0].f)); })
      .Case([&](math::FmaOp) { return F(a[0].f * a[1].f + a[2].f); })
      .Default([&](Operation *) -> FailureOr<Val> {
        return op->emitOpError("is not supported by the reference backend");
      });
}

LogicalResult Interpreter::exec(Operation *op) {
  SmallVector<Val> operands;
  for (Value v : op->getOperands())
    operands.push_back(env.lookup(v));

  if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
    Attribute value = cst.getValue();
    if (auto f = dyn_cast<FloatAttr>(value)) {
      env[cst] = fromFloat(f.getValueAsDouble());
    } else if (auto i = dyn_cast<IntegerAttr>(value)) {
      env[cst] =
          fromInt(i.getType().isInteger(1) ? i.getValue().getZExtValue()
                                           : i.getValue().getSExtValue());
    } else if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
      auto t = std::make_shared<Tensor>();
      auto denseShape = dense.getType().getShape();
      t->shape.assign(denseShape.begin(), denseShape.end());
      if (isa<FloatType>(dense.getElementType()))
        for (APFloat x : dense.getValues<APFloat>())
          t->data.push_back(x.convertToDouble());
      else
        for (APInt x : dense.getValues<APInt>())
          t->data.push_back(static_cast<double>(x.getSExtValue()));
      env[cst] = fromTensor(t);
    } else {
      return op->emitOpError("constant kind is not supported by the reference");
    }
    return success();
  }
  if (auto empty = dyn_cast<tensor::EmptyOp>(op)) {
    auto type = empty.getType();
    auto t = std::make_shared<Tensor>();
    unsigned dyn = 0;
    int64_t n = 1;
    for (int64_t d : type.getShape()) {
      int64_t size = ShapedType::isDynamic(d) ? operands[dyn++].i : d;
      t->shape.push_back(size);
      n *= size;
    }
    t->data.assign(n, 0.0);
    env[empty] = fromTensor(t);
    return success();
  }
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    env[dim] = fromInt(operands[0].t->shape[operands[1].i]);
    return success();
  }
  if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
    SmallVector<int64_t> idx;
    const Tensor &t = *operands[0].t;
    for (size_t k = 1; k < operands.size(); ++k) {
      int64_t x = operands[k].i;
      if (x < 0 || x >= t.shape[k - 1])
        return op->emitOpError()
               << "index " << x << " out of bounds of dim " << k - 1
               << " (size " << t.shape[k - 1] << ") in the reference";
      idx.push_back(x);
    }
    double x = t.data[t.linear(idx)];
    env[extract] = isFloatLike(extract.getType())
                       ? fromFloat(x)
                       : fromInt(static_cast<int64_t>(x));
    return success();
  }
  if (auto cast = dyn_cast<tensor::CastOp>(op)) {
    env[cast] = operands[0];
    return success();
  }
  if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op)) {
    // Same row-major data, new shape: static dims from the result type,
    // the dynamic one (at most one per group) from the element count.
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    auto t = std::make_shared<Tensor>(*operands[0].t);
    int64_t known = 1, dynamicDim = -1;
    t->shape.assign(type.getShape().begin(), type.getShape().end());
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (type.isDynamicDim(d)) {
        if (dynamicDim >= 0 && isa<tensor::ExpandShapeOp>(op)) {
          // Several dynamic dims: take them from output_shape.
          auto expand = cast<tensor::ExpandShapeOp>(op);
          SmallVector<OpFoldResult> sizes = expand.getMixedOutputShape();
          for (int64_t e = 0; e < type.getRank(); ++e)
            if (auto v = dyn_cast<Value>(sizes[e]))
              t->shape[e] = env.lookup(v).i;
          dynamicDim = -2;
          break;
        }
        dynamicDim = d;
      } else {
        known *= type.getDimSize(d);
      }
    }
    if (dynamicDim >= 0)
      t->shape[dynamicDim] =
          known ? static_cast<int64_t>(t->data.size()) / known : 0;
    env[op->getResult(0)] = fromTensor(t);
    return success();
  }
  if (auto insert = dyn_cast<tensor::InsertSliceOp>(op)) {
    const Tensor &src = *operands[0].t;
    auto dst = std::make_shared<Tensor>(*env.lookup(insert.getDest()).t);
    auto value = [&](OpFoldResult f) -> int64_t {
      if (auto v = dyn_cast<Value>(f))
        return env.lookup(v).i;
      return cast<IntegerAttr>(cast<Attribute>(f)).getInt();
    };
    SmallVector<int64_t> offsets, strides;
    for (OpFoldResult f : insert.getMixedOffsets())
      offsets.push_back(value(f));
    for (OpFoldResult f : insert.getMixedStrides())
      strides.push_back(value(f));
    // Source dims map to the non-dropped destination dims in order.
    llvm::SmallBitVector dropped = insert.getDroppedDims();
    SmallVector<int64_t> idx(src.shape.size(), 0);
    for (size_t e = 0; e < src.data.size(); ++e) {
      SmallVector<int64_t> at(dst->shape.size());
      for (size_t d = 0, s2 = 0; d < dst->shape.size(); ++d) {
        int64_t i = dropped.test(d) ? 0 : idx[s2++];
        at[d] = offsets[d] + i * strides[d];
        if (at[d] < 0 || at[d] >= dst->shape[d])
          return insert.emitOpError("slice out of bounds at run time");
      }
      dst->data[dst->linear(at)] = src.data[e];
      for (int64_t d = static_cast<int64_t>(idx.size()) - 1; d >= 0; --d) {
        if (++idx[d] < src.shape[d])
          break;
        idx[d] = 0;
      }
    }
    env[insert.getResult()] = fromTensor(dst);
    return success();
  }
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    // A loop over values (tensors are immutable here: each iteration's
    // yields become the next one's arguments).
    int64_t lb = operands[0].i, ub = operands[1].i, step = operands[2].i;
    if (step <= 0)
      return op->emitOpError("has a non-positive step (")
             << step << ") at run time";
    SmallVector<Val> iters(operands.begin() + 3, operands.end());
    bool unsignedCmp = loop.getUnsignedCmp();
    for (int64_t iv = lb;
         unsignedCmp ? static_cast<uint64_t>(iv) < static_cast<uint64_t>(ub)
                     : iv < ub;
         iv += step) {
      SmallVector<Val> args = {fromInt(iv)};
      args.append(iters.begin(), iters.end());
      SmallVector<Val> next;
      if (failed(runBlock(*loop.getBody(), args, next)))
        return failure();
      iters = std::move(next);
    }
    for (auto [r, v] : llvm::zip(loop.getResults(), iters))
      env[r] = v;
    return success();
  }
  if (auto index = dyn_cast<linalg::IndexOp>(op)) {
    if (index.getDim() >= genericIvs.size())
      return op->emitOpError("outside a linalg.generic in the reference");
    env[index.getResult()] = fromInt(genericIvs[index.getDim()]);
    return success();
  }
  if (auto copy = dyn_cast<linalg::CopyOp>(op)) {
    const Tensor &src = *operands[0].t;
    if (src.shape != operands[1].t->shape)
      return op->emitOpError("copies ")
             << ::attn::shapeString(src.shape) << " into "
             << ::attn::shapeString(operands[1].t->shape) << " at run time";
    auto t = std::make_shared<Tensor>(src);
    Type elem = getElementTypeOrSelf(copy.getOutputs()[0].getType());
    for (double &v : t->data)
      v = roundTo(elem, v);
    env[op->getResult(0)] = fromTensor(t);
    return success();
  }
  if (auto fill = dyn_cast<linalg::FillOp>(op)) {
    auto t = std::make_shared<Tensor>(*operands[1].t);
    Type elem = getElementTypeOrSelf(fill.getOutputs()[0].getType());
    double x = isFloatLike(elem) ? operands[0].f : operands[0].i;
    std::fill(t->data.begin(), t->data.end(), roundTo(elem, x));
    env[op->getResult(0)] = fromTensor(t);
    return success();
  }
  if (auto g = dyn_cast<linalg::GenericOp>(op))
    return generic(g);
  if (auto a = dyn_cast<AttentionOp>(op))
    return attention(a);
  if (auto r = dyn_cast<RouteOp>(op))
    return route(r);
  if (auto e = dyn_cast<ExpertsOp>(op))
    return experts(e);
  if (auto g = dyn_cast<GateOp>(op))
    return gate(g);
  if (auto m = dyn_cast<MergeOp>(op))
    return merge(m);
  if (auto p = dyn_cast<PoolOp>(op))
    return pool(p);
  if (auto e = dyn_cast<EvictOp>(op))
    return evict(e);
  if (auto sc = dyn_cast<ScanOp>(op))
    return scan(sc);
  if (auto ap = dyn_cast<AppendKVOp>(op)) {
    // New rows into their slots of copies of the pools (a negative slot
    // writes nothing); every slot checked against the pool's rows.
    const Tensor &slots = *env.lookup(ap.getSlots()).t;
    int64_t ps = ap.getPageSize();
    bool nhd = ap.getPageLayout() == PageLayout::nhd;
    std::pair<Value, Value> pairs[] = {{ap.getKeys(), ap.getKeyPool()},
                                       {ap.getValues(), ap.getValuePool()}};
    for (auto [k, pair] : llvm::enumerate(pairs)) {
      const Tensor &src = *env.lookup(pair.first).t;
      auto pool = std::make_shared<Tensor>(*env.lookup(pair.second).t);
      Type elem = getElementTypeOrSelf(pair.second.getType());
      int64_t rows = pool->shape[0] * ps;
      if (src.shape[0] != slots.shape[0] ||
          src.shape[1] != pool->shape[ap.getKvHeadsDim()] ||
          src.shape[2] != pool->shape[3])
        return ap.emitOpError("new rows, slots and pools disagree at run "
                              "time");
      for (int64_t t = 0; t < slots.shape[0]; ++t) {
        double s = slots.data[t];
        if (s < 0)
          continue;
        if (s >= static_cast<double>(rows))
          return ap.emitOpError()
                 << "slot " << static_cast<int64_t>(s) << " of token " << t
                 << " is past the pool's " << rows << " rows";
        int64_t page = static_cast<int64_t>(s) / ps,
                r = static_cast<int64_t>(s) % ps;
        for (int64_t g = 0; g < src.shape[1]; ++g)
          for (int64_t d = 0; d < src.shape[2]; ++d)
            pool->data[nhd ? pool->linear({page, r, g, d})
                           : pool->linear({page, g, r, d})] =
                roundTo(elem, src.data[src.linear({t, g, d})]);
      }
      env[ap.getResult(k)] = fromTensor(pool);
    }
    return success();
  }
  if (auto qk = dyn_cast<QuantizeKVOp>(op)) {
    // Scales (max |x| per group / max code, rounded to the scale type) or
    // the given ones; codes x / s rounded to nearest even and saturated
    // (fp8 codes are their values here).
    const Tensor &x = *env.lookup(qk.getInput()).t;
    Value scaleOut = qk.getScales();
    auto codesType = cast<ShapedType>(qk.getOutputs()[0].getType());
    auto sType = cast<ShapedType>(scaleOut.getType());
    Type code = codesType.getElementType(), sElt = sType.getElementType();
    SmallVector<int64_t> blocks = getScaleBlocks(codesType, sType);
    auto scales = std::make_shared<Tensor>(*env.lookup(scaleOut).t);
    if (failed(checkScaleShape(op, x, *scales, blocks, "scale")))
      return failure();
    double maxCode = getQuantizedMax(code);
    auto forEach = [&](auto fn) {
      SmallVector<int64_t> idx(x.shape.size(), 0);
      for (size_t l = 0; l < x.data.size(); ++l) {
        x.unravel(static_cast<int64_t>(l), idx);
        fn(l, scaleIndex(*scales, blocks, idx));
      }
    };
    if (!qk.getScale()) {
      std::vector<double> amax(scales->data.size(), 0.0);
      forEach([&](size_t l, int64_t s) {
        amax[s] = std::max(amax[s], std::fabs(x.data[l]));
      });
      for (size_t s = 0; s < amax.size(); ++s)
        scales->data[s] = roundTo(sElt, roundTo(FloatType(Float32Type::get(
                                                    op->getContext())),
                                                amax[s] / maxCode));
    }
    auto codes = std::make_shared<Tensor>(*env.lookup(qk.getOutputs()[0]).t);
    codes->shape = x.shape;
    codes->data.assign(x.data.size(), 0.0);
    forEach([&](size_t l, int64_t s) {
      double sc = scales->data[s];
      double y = sc == 0.0 ? 0.0 : x.data[l] / sc;
      y = std::min(maxCode, std::max(-maxCode, y));
      codes->data[l] = code.isInteger(8) ? std::nearbyint(y) : roundTo(code, y);
    });
    env[qk.getResult(0)] = fromTensor(codes);
    if (!qk.getScale())
      env[qk.getResult(1)] = fromTensor(scales);
    return success();
  }
  if (auto r = dyn_cast<RopeOp>(op)) {
    const Tensor &in = *env.lookup(r.getInput()).t;
    const Tensor &pos = *env.lookup(r.getPositions()).t;
    if (pos.shape.size() != 2 || pos.shape[0] != in.shape[0] ||
        pos.shape[1] != in.shape[2])
      return r.emitOpError("positions ")
             << ::attn::shapeString(pos.shape)
             << " disagree with the input " << ::attn::shapeString(in.shape)
             << " at run time";
    auto out = std::make_shared<Tensor>(
        rotate(in, r.getRope(), r.getInverse(), r.getOutput().getType(),
               [&](int64_t b, int64_t i) {
                 return pos.data[b * pos.shape[1] + i];
               }));
    env[r.getResult()] = fromTensor(out);
    return success();
  }
  if (auto c = dyn_cast<CumsumOp>(op)) {
    // Inclusive prefix sum along dim, in double.
    const Tensor &in = *env.lookup(c.getInput()).t;
    auto out = std::make_shared<Tensor>(*env.lookup(c.getOutput()).t);
    if (out->shape != in.shape)
      return c.emitOpError("input and output shapes disagree at run time");
    int64_t dim = c.getDim(), n = in.shape[dim], inner = 1;
    for (size_t d = dim + 1; d < in.shape.size(); ++d)
      inner *= in.shape[d];
    int64_t outer =
        n == 0 ? 0 : static_cast<int64_t>(in.data.size()) / (n * inner);
    Type elem = getElementTypeOrSelf(c.getOutput().getType());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t r = 0; r < inner; ++r) {
        double sum = 0;
        for (int64_t u = 0; u < n; ++u) {
          int64_t t = c.getReverse() ? n - 1 - u : u;
          int64_t at = (o * n + t) * inner + r;
          sum += in.data[at];
          out->data[at] = roundTo(elem, sum);
        }
      }
    env[c.getResult(0)] = fromTensor(out);
    return success();
  }

  // Scalars, and elementwise ops applied to tensors.
  bool tensorResult = op->getNumResults() == 1 &&
                      isa<RankedTensorType>(op->getResult(0).getType());
  if (!tensorResult) {
    FailureOr<Val> r = scalar(op, operands);
    if (failed(r))
      return failure();
    if (op->getNumResults())
      env[op->getResult(0)] = *r;
    return success();
  }
  if (!OpTrait::hasElementwiseMappableTraits(op))
    return op->emitOpError("is not supported by the reference backend");
  auto out = std::make_shared<Tensor>();
  for (const Val &v : operands)
    if (v.t)
      out->shape = v.t->shape;
  int64_t n = 1;
  for (int64_t d : out->shape)
    n *= d;
  out->data.resize(n);
  Type elem = getElementTypeOrSelf(op->getResult(0).getType());
  SmallVector<Val> lane(operands.size());
  for (int64_t e = 0; e < n; ++e) {
    for (auto [k, v] : llvm::enumerate(operands)) {
      if (!v.t) {
        lane[k] = v;
        continue;
      }
      double x = v.t->data[e];
      lane[k] = isFloatLike(op->getOperand(k).getType())
                    ? fromFloat(x)
                    : fromInt(static_cast<int64_t>(x));
    }
    FailureOr<Val> r = scalar(op, lane);
    if (failed(r))
      return failure();
    out->data[e] = roundTo(elem, isFloatLike(elem) ? r->f : r->i);
  }
  env[op->getResult(0)] = fromTensor(out);
  return success();
}

/// The value of an indexing-map result at the loop indices `iv`: dims,
/// constants, and sums, products, divisions and remainders of them.
static int64_t evalIndex(AffineExpr e, ArrayRef<int64_t> iv) {
  if (auto d = dyn_cast<AffineDimExpr>(e))
    return iv[d.getPosition()];
  if (auto c = dyn_cast<AffineConstantExpr>(e))
    return c.getValue();
  auto bin = cast<AffineBinaryOpExpr>(e);
  int64_t l = evalIndex(bin.getLHS(), iv), r = evalIndex(bin.getRHS(), iv);
  switch (e.getKind()) {
  case AffineExprKind::Add:
    return l + r;
  case AffineExprKind::Mul:
    return l * r;
  case AffineExprKind::FloorDiv:
    return r == 0 ? 0 : (l / r - ((l % r != 0) && ((l < 0) != (r < 0))));
  case AffineExprKind::CeilDiv:
    return r == 0 ? 0 : (l / r + ((l % r != 0) && ((l < 0) == (r < 0))));
  case AffineExprKind::Mod:
    return r == 0 ? 0 : ((l % r) + r) % r;
  default:
    return 0;
  }
}

LogicalResult Interpreter::generic(linalg::GenericOp op) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  unsigned numLoops = op.getNumLoops();
  for (AffineMap map : maps)
    if (map.getNumSymbols() != 0)
      return op.emitOpError("indexing maps with symbols are unsupported by "
                            "the reference");
  SmallVector<int64_t> bounds(numLoops, -1);
  SmallVector<Val> operands;
  for (Value v : op->getOperands())
    operands.push_back(env.lookup(v));
  for (auto [k, map] : llvm::enumerate(maps)) {
    for (unsigned r = 0; r < map.getNumResults(); ++r)
      if (auto d = dyn_cast<AffineDimExpr>(map.getResult(r)))
        bounds[d.getPosition()] = operands[k].t->shape[r];
  }
  if (llvm::is_contained(bounds, -1))
    return op.emitOpError("loop bounds not determined by a projected "
                          "permutation; unsupported by the reference");
  SmallVector<std::shared_ptr<Tensor>> outs;
  for (unsigned k = op.getNumDpsInputs(); k < operands.size(); ++k)
    outs.push_back(std::make_shared<Tensor>(*operands[k].t));
  Block &body = op.getRegion().front();
  SmallVector<int64_t> iv(numLoops, 0);
  int64_t total = 1;
  for (int64_t b : bounds)
    total *= b;
  for (int64_t it = 0; it < total; ++it) {
    int64_t rem = it;
    for (int64_t l = numLoops - 1; l >= 0; --l) {
      iv[l] = rem % bounds[l];
      rem /= bounds[l];
    }
    SmallVector<Val> args;
    SmallVector<int64_t> pos;
    for (auto [k, map] : llvm::enumerate(maps)) {
      pos.clear();
      for (AffineExpr e : map.getResults())
        pos.push_back(evalIndex(e, iv));
      const Tensor &t = k < op.getNumDpsInputs()
                            ? *operands[k].t
                            : *outs[k - op.getNumDpsInputs()];
      for (auto [r, p] : llvm::enumerate(pos))
        if (p < 0 || p >= t.shape[r])
          return op.emitOpError()
                 << "operand " << k << " is indexed at " << p << " in its dim "
                 << r << " of size " << t.shape[r];
      double x = t.data[t.linear(pos)];
      args.push_back(isFloatLike(body.getArgument(k).getType())
                         ? fromFloat(x)
                         : fromInt(static_cast<int64_t>(x)));
    }
    SmallVector<Val> results;
    SmallVector<int64_t> outerIvs = genericIvs;
    genericIvs.assign(iv.begin(), iv.end());
    LogicalResult ran = runBlock(body, args, results);
    genericIvs = outerIvs;
    if (failed(ran))
      return failure();
    for (auto [k, r] : llvm::enumerate(results)) {
      AffineMap map = maps[op.getNumDpsInputs() + k];
      pos.clear();
      for (AffineExpr e : map.getResults())
        pos.push_back(evalIndex(e, iv));
      Type elem = getElementTypeOrSelf(op.getResult(k).getType());
      outs[k]->data[outs[k]->linear(pos)] =
          roundTo(elem, isFloatLike(elem) ? r.f : r.i);
    }
  }
  for (auto [k, t] : llvm::enumerate(outs)) {
    env[op.getResult(k)] = fromTensor(t);
  }
  return success();
}

LogicalResult Interpreter::attention(AttentionOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("the reference runs attention on tensors only");
  const Tensor &q0 = *env.lookup(op.getQuery()).t;
  // Quantized caches: scale * code (codes are values here: i8 integers,
  // fp8 decoded), rounded to the query's element type.
  std::shared_ptr<Tensor> keys = env.lookup(op.getKey()).t,
                          values = env.lookup(op.getValue()).t;
  Type qElt = op.getQueryType().getElementType();
  for (auto [data, scaleValue, name] :
       {std::tuple{&keys, op.getKeyScale(), "key scale"},
        {&values, op.getValueScale(), "value scale"}}) {
    if (!scaleValue)
      continue;
    const Tensor &x = **data, &s = *env.lookup(scaleValue).t;
    SmallVector<int64_t> blocks = getScaleBlocks(
        cast<ShapedType>((name[0] == 'k' ? op.getKey() : op.getValue()).getType()),
        cast<ShapedType>(scaleValue.getType()));
    if (failed(checkScaleShape(op, x, s, blocks, name)))
      return failure();
    auto deq = std::make_shared<Tensor>(x);
    SmallVector<int64_t> idx(x.shape.size(), 0);
    for (size_t l = 0; l < x.data.size(); ++l) {
      x.unravel(static_cast<int64_t>(l), idx);
      deq->data[l] =
          roundTo(qElt, x.data[l] * s.data[scaleIndex(s, blocks, idx)]);
    }
    *data = deq;
  }
  // Per-request key lengths, checked; a paged pool read through its table
  // into the logical [B, Hkv, max_pages * page_size, D] keys and values
  // (every entry a request uses checked against the pool).
  std::vector<int64_t> lens;
  Tensor pagedK, pagedV;
  // A ragged batch: the requests are the key lengths' entries, the query's
  // dim 0 its tokens; ptr is qo_indptr, reqOf the request of each token.
  bool ragged = op.isRagged();
  int64_t numRequests = q0.shape[0];
  std::vector<int64_t> ptr, reqOf;
  if (ragged) {
    const Tensor &lt = *env.lookup(op.getKvLens()).t;
    const Tensor &it = *env.lookup(op.getQoIndptr()).t;
    numRequests = lt.shape[0];
    if (it.shape[0] != numRequests + 1)
      return op.emitOpError() << "qo_indptr has " << it.shape[0]
                              << " entries, expected one more than the "
                              << numRequests << " requests";
    for (int64_t r = 0; r <= numRequests; ++r) {
      int64_t x = static_cast<int64_t>(it.data[r]);
      if ((r == 0 && x != 0) || (r > 0 && x < ptr.back()))
        return op.emitOpError() << "qo_indptr[" << r << "] is " << x
                                << (r == 0 ? ", expected 0"
                                           : ", below the entry before it");
      ptr.push_back(x);
    }
    if (ptr.back() != q0.shape[0])
      return op.emitOpError() << "the last qo_indptr entry is " << ptr.back()
                              << ", not the " << q0.shape[0]
                              << " query tokens";
    for (int64_t r = 0; r < numRequests; ++r)
      for (int64_t t = ptr[r]; t < ptr[r + 1]; ++t)
        reqOf.push_back(r);
    if (Value planValue = op.getPlan()) {
      // Any order of the requests is a valid plan; its item offsets must
      // be the batch's (what the runtime checks).
      const Tensor &pl = *env.lookup(planValue).t;
      int64_t n = numRequests + 1, heads = op.getNumQueryHeads(),
              dec = raggedDecodeItems(op), first = 0;
      std::vector<char> seen(numRequests, 0);
      bool decodeSeen = false;
      if (pl.shape[0] != 2 || pl.shape[1] != n ||
          pl.data[numRequests] != ATTNRT_RAGGED_ROWS)
        return op.emitOpError("the plan is not one of this batch");
      for (int64_t k = 0; k <= numRequests; ++k) {
        if (static_cast<int64_t>(pl.data[n + k]) != first)
          return op.emitOpError() << "plan[1, " << k << "] is "
                                  << static_cast<int64_t>(pl.data[n + k])
                                  << ", expected " << first;
        if (k == numRequests)
          break;
        int64_t r = static_cast<int64_t>(pl.data[k]);
        if (r < 0 || r >= numRequests || seen[r])
          return op.emitOpError() << "plan[0, " << k << "] is " << r
                                  << ", not a request listed once";
        seen[r] = 1;
        int64_t lq = ptr[r + 1] - ptr[r];
        if (lq >= 2 && decodeSeen)
          return op.emitOpError() << "plan[0, " << k << "] is request " << r
                                  << ", a chunk after a decode step";
        decodeSeen |= lq == 1;
        first += attnrt_ragged_items(lq, heads, dec);
      }
    }
  }
  if (Value l = op.getKvLens()) {
    const Tensor &lt = *env.lookup(l).t;
    int64_t capacity = 0;
    const Tensor *table = nullptr;
    if (op.isPaged()) {
      table = env.lookup(op.getPageTable()).t.get();
      capacity = table->shape[1] * op.getPageSize();
    } else {
      capacity = keys->shape[2];
    }
    if (lt.shape[0] != numRequests ||
        (table && table->shape[0] != numRequests))
      return op.emitOpError("key lengths or page table disagree with the "
                            "query's batch at run time");
    for (int64_t b = 0; b < numRequests; ++b) {
      double x = lt.data[b];
      if (x < 0 || x > static_cast<double>(capacity))
        return op.emitOpError()
               << "key length " << static_cast<int64_t>(x) << " of request "
               << b << " is outside [0, " << capacity << "] (the "
               << (table ? "page table's capacity" : "key length") << ")";
      lens.push_back(static_cast<int64_t>(x));
    }
    if (table) {
      int64_t ps = op.getPageSize();
      bool nhd = op.getPageLayout() == PageLayout::nhd;
      for (auto [poolTensor, dense] :
           {std::pair{keys.get(), &pagedK}, {values.get(), &pagedV}}) {
        const Tensor &pool = *poolTensor;
        int64_t pages = pool.shape[0], hkv = op.getNumKvHeads();
        int64_t dd = pool.shape[3];
        dense->shape = {numRequests, hkv, capacity, dd};
        dense->data.assign(numRequests * hkv * capacity * dd, 0.0);
        for (int64_t b = 0; b < numRequests; ++b)
          for (int64_t j = 0; j < lens[b]; ++j) {
            double e = table->data[b * table->shape[1] + j / ps];
            if (e < 0 || e >= static_cast<double>(pages))
              return op.emitOpError()
                     << "page table entry [" << b << ", " << j / ps
                     << "] is " << static_cast<int64_t>(e)
                     << ", outside the pool's " << pages << " pages";
            int64_t page = static_cast<int64_t>(e), r = j % ps;
            for (int64_t g = 0; g < hkv; ++g)
              for (int64_t c = 0; c < dd; ++c)
                dense->data[dense->linear({b, g, j, c})] =
                    pool.data[nhd ? pool.linear({page, r, g, c})
                                  : pool.linear({page, g, r, c})];
          }
      }
    }
  }
  const Tensor &k0 = op.isPaged() ? pagedK : *keys;
  // A rotary embedding at the logical positions: key j at j, query row i
  // at i + len_b - Lq.
  Tensor qRot, kRot;
  if (std::optional<RopeAttr> rope = op.getRope()) {
    int64_t lq = q0.shape[2], lk = k0.shape[2];
    qRot = rotate(q0, *rope, false, op.getQuery().getType(),
                  [&](int64_t b, int64_t i) -> double {
                    // A ragged token t: its row plus its chunk's offset.
                    if (ragged)
                      return double(b + lens[reqOf[b]] - ptr[reqOf[b] + 1]);
                    return double(i + (lens.empty() ? lk : lens[b]) - lq);
                  });
    // (Dequantized keys are in the query's type.)
    kRot = rotate(k0, *rope, false,
                  op.getKeyScale() ? op.getQuery().getType()
                                   : op.getKey().getType(),
                  [](int64_t, int64_t j) -> double { return double(j); });
  }
  const Tensor &q = op.getRope() ? qRot : q0;
  const Tensor &k = op.getRope() ? kRot : k0;
  const Tensor &v = op.isPaged() ? pagedV : *values;
  auto out = std::make_shared<Tensor>(*env.lookup(op.getOutput()).t);
  std::shared_ptr<Tensor> lse;
  if (Value l = op.getLse())
    lse = std::make_shared<Tensor>(*env.lookup(l).t);
  // column_scores: sum_i w_i p[i, j] per (batch, kv head, key).
  std::shared_ptr<Tensor> scores;
  if (Value sc = op.getScoresOutput()) {
    scores = std::make_shared<Tensor>(*env.lookup(sc).t);
    std::fill(scores->data.begin(), scores->data.end(), 0.0);
  }
  // row_entropy: -sum p log p per (batch, head, row), the sink included.
  std::shared_ptr<Tensor> entropy;
  if (Value en = op.getEntropyOutput()) {
    entropy = std::make_shared<Tensor>(*env.lookup(en).t);
    std::fill(entropy->data.begin(), entropy->data.end(), 0.0);
  }
  double scoreDecay = op.getScoreDecay()
                          ? op.getScoreDecay()->convertToDouble()
                          : 1.0;
  int64_t B = q.shape[0], H = q.shape[1], Lq = q.shape[2], D = q.shape[3];
  int64_t Hkv = k.shape[1], Lk = k.shape[2], Dv = v.shape[3];
  if (k.shape[0] != numRequests || v.shape[0] != numRequests ||
      v.shape[2] != Lk ||
      out->shape[0] != B || out->shape[2] != Lq)
    return op.emitOpError("operand shapes disagree at run time: query ")
           << ::attn::shapeString(q.shape) << ", key "
           << ::attn::shapeString(k.shape) << ", value "
           << ::attn::shapeString(v.shape) << ", output "
           << ::attn::shapeString(out->shape);
  if (entropy && entropy->shape != std::vector<int64_t>{B, H, Lq})
    return op.emitOpError("row entropy shape ")
           << ::attn::shapeString(entropy->shape)
           << " disagrees with the query at run time";
  if (scores && scores->shape != std::vector<int64_t>{B, Hkv, Lk})
    return op.emitOpError("column scores shape ")
           << ::attn::shapeString(scores->shape)
           << " disagrees with the key at run time";
  int64_t group = H / Hkv;
  double scale = op.getScaleValue();
  Type outElem = op.getOutputType().getElementType();
  std::vector<double> s(Lk), p(Lk), acc(Dv);
  std::vector<char> vis(Lk);
  const Tensor *blocks =
      op.getBlocks() ? env.lookup(op.getBlocks()).t.get() : nullptr;
  int64_t blockK = blocks ? blocks->shape[3] : 0;
  int64_t blockSize = op.getBlockSize() ? *op.getBlockSize() : 1;
  if (blocks && (blocks->shape[0] != B || blocks->shape[1] != H ||
                 blocks->shape[2] != Lq))
    return op.emitOpError("block selection shape ")
           << ::attn::shapeString(blocks->shape)
           << " disagrees with the query at run time";
  bool sigmoid = op.getNormalizer() == Normalizer::sigmoid;
  // One row of one map: the normalized output (before combine/epilogue)
  // into `row`, and the row's log-sum-exp.
  // (Request b's row i is row i of its chunk: token ptr[b] + i of a ragged
  // batch, whose chunk has ptr[b + 1] - ptr[b] rows.)
  auto attendRow = [&](const Tensor &qt, const Tensor &kt, int64_t b, int64_t h,
                       int64_t i, std::vector<double> &row,
                       double &rowLse) -> LogicalResult {
    int64_t hk = h / group;
    int64_t Lq = ragged ? ptr[b + 1] - ptr[b] : q.shape[2];
    const double *qi = &qt.data[ragged ? ((ptr[b] + i) * H + h) * D
                                       : ((b * H + h) * Lq + i) * D];
    double m = -std::numeric_limits<double>::infinity();
    bool any = false;
    // This request's keys (all of the operand's without kv_lens).
    int64_t lkb = lens.empty() ? Lk : lens[b];
    for (int64_t j = 0; j < Lk; ++j) {
      bool visible = j < lkb && (!op.getCausal() || j <= i + (lkb - Lq));
      if (visible && blocks) {
        bool chosen = false;
        for (int64_t c = 0; c < blockK; ++c)
          chosen |= blocks->data[((b * H + h) * Lq + i) * blockK + c] ==
                    static_cast<double>(j / blockSize);
        visible = chosen;
      }
      if (visible && !op.getMask().empty()) {
        FailureOr<Val> r = evalRegion(
            op.getMask(), {fromInt(b), fromInt(h), fromInt(i), fromInt(j)});
        if (failed(r))
          return failure();
        visible = r->i != 0;
      }
      vis[j] = visible;
      if (!visible)
        continue;
      if (countOnly) {
        flops += 2.0 * static_cast<double>(D + Dv);
        continue;
      }
      const double *kj = &kt.data[((b * Hkv + hk) * Lk + j) * D];
      double dot = 0;
      for (int64_t d = 0; d < D; ++d)
        dot += qi[d] * kj[d];
      double x = scale * dot;
      if (!op.getScore().empty()) {
        FailureOr<Val> r =
            evalRegion(op.getScore(), {fromFloat(x), fromInt(b), fromInt(h),
                                       fromInt(i), fromInt(j)});
        if (failed(r))
          return failure();
        x = r->f;
      }
      s[j] = x;
      m = std::max(m, x);
      any = true;
    }
    double l = 0;
    std::fill(acc.begin(), acc.end(), 0.0);
    if (countOnly) {
      std::fill(row.begin(), row.end(), 0.0);
      rowLse = 0;
      return success();
    }
    bool sigmoid = op.getNormalizer() == Normalizer::sigmoid;
    // A sink logit joins the softmax denominator (with value 0).
    std::optional<double> sinkLogit;
    if (!op.getSink().empty()) {
      FailureOr<Val> r =
          evalRegion(op.getSink(), {fromInt(b), fromInt(h), fromInt(i)});
      if (failed(r))
        return failure();
      double sink = r->f;
      sinkLogit = sink;
      if (std::isfinite(sink) || sink > 0) {
        double mNew = any ? std::max(m, sink) : sink;
        l = std::exp(sink - mNew);
        m = mNew;
        any = true;
      }
    }
    if (any && std::isfinite(m)) {
      for (int64_t j = 0; j < Lk; ++j) {
        if (!vis[j])
          continue;
        // sigmoid(x) = 1 / (1 + exp(-x)), written to avoid overflow.
        double e = sigmoid
                       ? (s[j] >= 0 ? 1.0 / (1.0 + std::exp(-s[j]))
                                    : std::exp(s[j]) / (1.0 + std::exp(s[j])))
                       : std::exp(s[j] - m);
        l += e;
        const double *vj = &v.data[((b * Hkv + hk) * Lk + j) * Dv];
        for (int64_t d = 0; d < Dv; ++d)
          acc[d] += e * vj[d];
      }
    }
    for (int64_t d = 0; d < Dv; ++d)
      row[d] = sigmoid ? acc[d] : l > 0 ? acc[d] / l : 0.0;
    rowLse = l > 0 ? m + std::log(l) : -std::numeric_limits<double>::infinity();
    if (entropy && &qt == &q && l > 0) {
      // -sum p log p with log p = s - m - log l; p = 0 terms dropped.
      double logL = std::log(l), hsum = 0;
      for (int64_t j = 0; j < Lk; ++j) {
        double e = vis[j] ? std::exp(s[j] - m) : 0.0;
        if (e > 0)
          hsum -= e / l * (s[j] - m - logL);
      }
      if (sinkLogit) {
        double e = std::exp(*sinkLogit - m);
        if (e > 0)
          hsum -= e / l * (*sinkLogit - m - logL);
      }
      entropy->data[(b * H + h) * Lq + i] = hsum;
    }
    if (scores && &qt == &q && l > 0) {
      double w = std::pow(scoreDecay, static_cast<double>(Lq - 1 - i));
      for (int64_t j = 0; j < Lk; ++j)
        if (vis[j])
          scores->data[(b * Hkv + hk) * Lk + j] += w * std::exp(s[j] - m) / l;
    }
    return success();
  };
  const Tensor *q2 =
      op.getQuery2() ? env.lookup(op.getQuery2()).t.get() : nullptr;
  const Tensor *k2 = op.getKey2() ? env.lookup(op.getKey2()).t.get() : nullptr;
  std::optional<double> eps;
  if (std::optional<APFloat> e = op.getRmsNormEps())
    eps = e->convertToDouble();
  std::vector<double> o1(Dv), o2(Dv);
  for (int64_t b = 0; b < numRequests; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < (ragged ? ptr[b + 1] - ptr[b] : Lq); ++i) {
        // Where the row lands: (b, h, i), or token ptr[b] + i.
        int64_t at = ragged ? (ptr[b] + i) * H + h : (b * H + h) * Lq + i;
        double lse1 = 0, lse2 = 0;
        if (failed(attendRow(q, k, b, h, i, o1, lse1)))
          return failure();
        if (q2) {
          if (failed(attendRow(*q2, *k2, b, h, i, o2, lse2)))
            return failure();
          for (int64_t d = 0; d < Dv; ++d) {
            FailureOr<Val> r =
                evalRegion(op.getCombine(),
                           {fromFloat(o1[d]), fromFloat(o2[d]), fromInt(b),
                            fromInt(h), fromInt(i), fromInt(d)});
            if (failed(r))
              return failure();
            o1[d] = r->f;
          }
        }
        if (eps) {
          double ss = 0;
          for (int64_t d = 0; d < Dv; ++d)
            ss += o1[d] * o1[d];
          double inv = 1.0 / std::sqrt(ss / Dv + *eps);
          for (int64_t d = 0; d < Dv; ++d)
            o1[d] *= inv;
        }
        for (int64_t d = 0; d < Dv; ++d) {
          double x = o1[d];
          if (!op.getEpilogue().empty()) {
            FailureOr<Val> r = evalRegion(
                op.getEpilogue(),
                {fromFloat(x), fromInt(b), fromInt(h), fromInt(i), fromInt(d)});
            if (failed(r))
              return failure();
            x = isFloatLike(outElem) ? r->f : r->i;
          }
          out->data[at * Dv + d] = roundTo(outElem, x);
        }
        if (lse)
          lse->data[at] = roundTo(Float32Type::get(op.getContext()), lse1);
      }
  env[op.getResult(0)] = fromTensor(out);
  if (lse)
    env[op.getResult(1)] = fromTensor(lse);
  if (entropy) {
    for (double &x : entropy->data)
      x = roundTo(Float32Type::get(op.getContext()), x);
    env[op.getResult(lse ? 2 : 1)] = fromTensor(entropy);
  }
  if (scores) {
    if (op.getValueNorm())
      for (int64_t r = 0; r < B * Hkv * Lk; ++r) {
        double n1 = 0;
        for (int64_t d = 0; d < Dv; ++d)
          n1 += std::fabs(v.data[r * Dv + d]);
        scores->data[r] *= n1;
      }
    for (double &x : scores->data)
      x = roundTo(Float32Type::get(op.getContext()), x);
    env[op->getResults().back()] = fromTensor(scores);
  }
  return success();
}

/// act(g) in double (the tanh form of GELU, as the compiled code).
static double activation(Activation act, double g) {
  switch (act) {
  case Activation::sigmoid:
    return 1.0 / (1.0 + std::exp(-g));
  case Activation::swish:
    return g / (1.0 + std::exp(-g));
  case Activation::tanh:
    return std::tanh(g);
  case Activation::gelu:
    return 0.5 * g *
           (1.0 + std::tanh(0.7978845608028654 * (g + 0.044715 * g * g * g)));
  case Activation::relu:
    return std::max(g, 0.0);
  case Activation::identity:
    return g;
  }
  return g;
}

LogicalResult Interpreter::route(RouteOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("the reference runs routers on tensors only");
  const Tensor &in = *env.lookup(op.getInput()).t;
  const Tensor *w = op.getWeight() ? env.lookup(op.getWeight()).t.get()
                                   : nullptr;
  const Tensor *bias = op.getBias() ? env.lookup(op.getBias()).t.get()
                                    : nullptr;
  int64_t rank = in.shape.size();
  int64_t cols = in.shape[rank - 1];
  int64_t E = w ? w->shape.back() : cols;
  int64_t rowsPerBatch = in.shape[rank - 2];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d)
    rows *= in.shape[d];
  int64_t k = op.getK();
  if (w && w->shape[w->shape.size() - 2] != cols)
    return op.emitOpError("router weight shape ")
           << ::attn::shapeString(w->shape) << " disagrees with the input "
           << ::attn::shapeString(in.shape) << " at run time";
  std::vector<std::shared_ptr<Tensor>> outs;
  for (Value o : op.getOutputs())
    outs.push_back(std::make_shared<Tensor>(*env.lookup(o).t));
  Tensor &weights = *outs[0], &indices = *outs[1];
  std::vector<double> counts(E, 0.0), probSums(E, 0.0);
  double temp = op.getTemperature() ? op.getTemperature()->convertToDouble()
                                    : 1.0;
  RouteScoring scoring = op.getScoring();
  const double inf = std::numeric_limits<double>::infinity();
  int64_t capacity = -1;
  if (auto cf = op.getCapacityFactor())
    capacity = static_cast<int64_t>(
        std::ceil(cf->convertToDouble() * rows * k / static_cast<double>(E)));
  std::vector<double> z(E), p(E), c(E);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = r % rowsPerBatch, batchRow = r / rowsPerBatch;
    for (int64_t e = 0; e < E; ++e) {
      double x;
      if (w) {
        // W is shared ([Dm, E]) or has the input's leading dims.
        int64_t wBase = w->shape.size() == 2 ? 0 : batchRow * cols * E;
        x = 0;
        for (int64_t d = 0; d < cols; ++d)
          x += in.data[r * cols + d] * w->data[wBase + d * E + e];
      } else {
        x = in.data[r * cols + e];
      }
      x /= temp;
      if (!op.getScore().empty()) {
        FailureOr<Val> v =
            evalRegion(op.getScore(), {fromFloat(x), fromInt(t), fromInt(e)});
        if (failed(v))
          return failure();
        x = v->f;
      }
      if (auto keep = op.getKeep(); keep && !(*keep)[e])
        x = -inf;
      z[e] = x;
    }
    if (scoring == RouteScoring::softmax ||
        scoring == RouteScoring::topk_softmax) {
      double m = -inf, sum = 0;
      for (double x : z)
        m = std::max(m, x);
      for (int64_t e = 0; e < E; ++e)
        sum += p[e] = std::isfinite(m) ? std::exp(z[e] - m) : 0.0;
      for (double &x : p)
        x = sum > 0 ? x / sum : 0.0;
    } else if (scoring == RouteScoring::sigmoid) {
      for (int64_t e = 0; e < E; ++e)
        p[e] = z[e] == -inf ? 0.0 : 1.0 / (1.0 + std::exp(-z[e]));
    } else {
      p = z;
    }
    bool fromProbs =
        scoring == RouteScoring::softmax || scoring == RouteScoring::sigmoid;
    for (int64_t e = 0; e < E; ++e)
      c[e] = z[e] == -inf ? -inf
                          : (fromProbs ? p[e] : z[e]) +
                                (bias ? bias->data[e] : 0.0);
    if (auto groups = op.getGroups()) {
      int64_t n = (*groups)[0], top = (*groups)[1], size = E / n;
      std::vector<std::pair<double, int64_t>> scores;
      for (int64_t g = 0; g < n; ++g) {
        std::vector<double> members(c.begin() + g * size,
                                    c.begin() + (g + 1) * size);
        std::sort(members.rbegin(), members.rend());
        double score = members[0] + (size > 1 ? members[1] : 0.0);
        scores.push_back({-score, g});
      }
      std::sort(scores.begin(), scores.end());
      for (int64_t rank2 = top; rank2 < n; ++rank2)
        for (int64_t e = 0; e < size; ++e)
          c[scores[rank2].second * size + e] = -inf;
    }
    std::vector<int64_t> order;
    for (int64_t e = 0; e < E; ++e)
      if (c[e] > -inf)
        order.push_back(e);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return c[a] > c[b]; });
    std::vector<int64_t> chosen(k, -1);
    std::vector<double> wt(k, 0.0);
    for (int64_t s2 = 0; s2 < k && s2 < static_cast<int64_t>(order.size());
         ++s2) {
      chosen[s2] = order[s2];
      wt[s2] = fromProbs ? p[order[s2]] : z[order[s2]];
    }
    if (scoring == RouteScoring::topk_softmax) {
      double m = -inf, sum = 0;
      for (int64_t s2 = 0; s2 < k; ++s2)
        if (chosen[s2] >= 0)
          m = std::max(m, wt[s2]);
      for (int64_t s2 = 0; s2 < k; ++s2)
        sum += wt[s2] = chosen[s2] >= 0 && std::isfinite(m)
                            ? std::exp(wt[s2] - m)
                            : 0.0;
      for (double &x : wt)
        x = sum > 0 ? x / sum : 0.0;
    }
    if (op.getRenormalize()) {
      double sum = 0;
      for (double x : wt)
        sum += x;
      for (double &x : wt)
        x = sum > 0 ? x / sum : 0.0;
    }
    if (auto scale = op.getRoutedScale())
      for (double &x : wt)
        x *= scale->convertToDouble();
    for (int64_t s2 = 0; s2 < k; ++s2) {
      int64_t e = chosen[s2];
      if (e >= 0 && op.getSkipThreshold() &&
          wt[s2] < op.getSkipThreshold()->convertToDouble())
        e = -1;
      if (e >= 0 && capacity >= 0 && counts[e] >= capacity)
        e = -1;
      if (e >= 0)
        counts[e] += 1;
      weights.data[r * k + s2] = roundTo(Float32Type::get(op.getContext()), e >= 0 ? wt[s2] : 0.0);
      indices.data[r * k + s2] = static_cast<double>(e);
    }
    for (int64_t e = 0; e < E; ++e)
      probSums[e] += p[e] == -inf ? 0.0 : p[e];
  }
  if (outs.size() == 4) {
    outs[2]->data = counts;
    for (int64_t e = 0; e < E; ++e)
      outs[3]->data[e] = roundTo(Float32Type::get(op.getContext()), probSums[e]);
  }
  for (auto [i, t] : llvm::enumerate(outs)) {
    env[op.getResult(i)] = fromTensor(t);
  }
  return success();
}

LogicalResult Interpreter::experts(ExpertsOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("the reference runs experts on tensors only");
  const Tensor &x = *env.lookup(op.getInput()).t;
  const Tensor &w = *env.lookup(op.getWeights()).t;
  const Tensor &idx = *env.lookup(op.getIndices()).t;
  const Tensor &w1 = *env.lookup(op.getW1()).t;
  const Tensor &w3 = *env.lookup(op.getW3()).t;
  const Tensor &w2 = *env.lookup(op.getW2()).t;
  auto y = std::make_shared<Tensor>(*env.lookup(op.getOutput()).t);
  std::shared_ptr<Tensor> norms;
  if (Value n = op.getNorms())
    norms = std::make_shared<Tensor>(*env.lookup(n).t);
  int64_t T = x.shape[0], Dm = x.shape[1], K = idx.shape[1];
  int64_t E = w1.shape[0], F = w1.shape[2];
  if (w.shape[0] != T || idx.shape[0] != T || w.shape[1] != K ||
      y->shape[0] != T ||
      (norms && (norms->shape[0] != T || norms->shape[1] != K)))
    return op.emitOpError("token counts disagree at run time");
  std::vector<double> h(F);
  std::fill(y->data.begin(), y->data.end(), 0.0);
  if (norms)
    std::fill(norms->data.begin(), norms->data.end(), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s2 = 0; s2 < K; ++s2) {
      double ed = idx.data[t * K + s2];
      if (ed < 0 || ed >= E)
        continue;
      int64_t e = static_cast<int64_t>(ed);
      for (int64_t f = 0; f < F; ++f) {
        double a = 0, g = 0;
        for (int64_t d = 0; d < Dm; ++d) {
          a += x.data[t * Dm + d] * w1.data[(e * Dm + d) * F + f];
          g += x.data[t * Dm + d] * w3.data[(e * Dm + d) * F + f];
        }
        h[f] = activation(op.getActivation(), a) * g;
      }
      double sq = 0;
      for (int64_t d = 0; d < Dm; ++d) {
        double acc = 0;
        for (int64_t f = 0; f < F; ++f)
          acc += h[f] * w2.data[(e * F + f) * Dm + d];
        y->data[t * Dm + d] += w.data[t * K + s2] * acc;
        sq += acc * acc;
      }
      if (norms)
        norms->data[t * K + s2] = std::sqrt(sq);
    }
  for (double &v : y->data)
    v = roundTo(Float32Type::get(op.getContext()), v);
  env[op.getResult(0)] = fromTensor(y);
  if (norms) {
    for (double &v : norms->data)
      v = roundTo(Float32Type::get(op.getContext()), v);
    env[op.getResult(1)] = fromTensor(norms);
  }
  return success();
}

LogicalResult Interpreter::gate(GateOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("the reference runs gates on tensors only");
  const Tensor &x = *env.lookup(op.getInput()).t;
  const Tensor &g = *env.lookup(op.getGate()).t;
  auto out = std::make_shared<Tensor>(*env.lookup(op.getOutput()).t);
  SmallVector<int64_t> dims = op.getGateDims();
  for (auto [pos, d] : llvm::enumerate(dims))
    if (g.shape[pos] != x.shape[d])
      return op.emitOpError("gate shape ")
             << ::attn::shapeString(g.shape) << " disagrees with the input "
             << ::attn::shapeString(x.shape) << " at run time";
  Type elem = getElementTypeOrSelf(op.getOutput().getType());
  SmallVector<int64_t> iv(x.shape.size(), 0);
  std::vector<int64_t> gi(dims.size());
  for (size_t n = 0; n < x.data.size(); ++n) {
    x.unravel(static_cast<int64_t>(n), iv);
    for (auto [pos, d] : llvm::enumerate(dims))
      gi[pos] = iv[d];
    out->data[n] = roundTo(
        elem, x.data[n] * activation(op.getActivation(), g.data[g.linear(gi)]));
  }
  env[op.getResult(0)] = fromTensor(out);
  return success();
}

/// The merge as the catalogue writes it, in double: LSE = log sum_s
/// exp(LSE_s), O = sum_s exp(LSE_s - LSE) O_s (0 and -inf where every
/// partial is -inf).
LogicalResult Interpreter::merge(MergeOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("the reference runs merges on tensors only");
  auto out = std::make_shared<Tensor>(*env.lookup(op.getOutputs()[0]).t);
  int64_t dim = out->shape.back();
  std::vector<int64_t> rowShape(out->shape.begin(), out->shape.end() - 1);
  int64_t rows = 1;
  for (int64_t s : rowShape)
    rows *= s;
  // Partial s of n: separate operands (n = 1), or slices of the stacked
  // ones, whose element for the output's linear index x is at
  // (x / inner) * n * inner + s * inner + x % inner (inner: the output's
  // elements per index of the dims from the partials' one on; oInner for
  // O, lInner for the LSE).
  struct Part {
    const std::vector<double> *o, *l;
    int64_t s, n, oInner, lInner;
    static int64_t at(int64_t x, int64_t s, int64_t n, int64_t inner) {
      return (x / inner) * n * inner + s * inner + x % inner;
    }
    double lse(int64_t r) const { return (*l)[at(r, s, n, lInner)]; }
    double out(int64_t x) const { return (*o)[at(x, s, n, oInner)]; }
  };
  std::vector<Part> parts;
  auto mismatch = [&](StringRef what, const Tensor &t) {
    return op.emitOpError() << what << " shape " << ::attn::shapeString(t.shape)
                            << " disagrees with the output "
                            << ::attn::shapeString(out->shape)
                            << " at run time";
  };
  if (std::optional<int64_t> at = op.getStackDim()) {
    const Tensor &p = *env.lookup(op.getPartials()[0]).t;
    const Tensor &l = *env.lookup(op.getLses()[0]).t;
    std::vector<int64_t> pRows(p.shape), lRows(l.shape);
    if (static_cast<int64_t>(pRows.size()) <= *at ||
        static_cast<int64_t>(lRows.size()) <= *at || p.shape[*at] != l.shape[*at])
      return mismatch("stacked partial", p);
    int64_t n = p.shape[*at];
    pRows.erase(pRows.begin() + *at);
    lRows.erase(lRows.begin() + *at);
    if (pRows != out->shape)
      return mismatch("stacked partial", p);
    if (lRows != rowShape)
      return mismatch("stacked LSE", l);
    int64_t oInner = 1, lInner = 1;
    for (size_t d = *at; d < out->shape.size(); ++d)
      oInner *= out->shape[d];
    for (size_t d = *at; d < rowShape.size(); ++d)
      lInner *= rowShape[d];
    for (int64_t s = 0; s < n; ++s)
      parts.push_back({&p.data, &l.data, s, n, std::max<int64_t>(oInner, 1),
                       std::max<int64_t>(lInner, 1)});
  } else {
    for (auto [p, l] : llvm::zip(op.getPartials(), op.getLses())) {
      const Tensor &pt = *env.lookup(p).t, &lt = *env.lookup(l).t;
      if (pt.shape != out->shape)
        return mismatch("partial", pt);
      if (lt.shape != rowShape)
        return mismatch("LSE", lt);
      parts.push_back({&pt.data, &lt.data, 0, 1, 1, 1});
    }
  }
  std::shared_ptr<Tensor> lseOut;
  if (Value l = op.getLseOutput())
    lseOut = std::make_shared<Tensor>(*env.lookup(l).t);
  Type elem = getElementTypeOrSelf(op.getOutputs()[0].getType());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -std::numeric_limits<double>::infinity();
    for (const Part &p : parts)
      m = std::max(m, p.lse(r));
    double total = 0;
    if (m > -std::numeric_limits<double>::infinity())
      for (const Part &p : parts)
        total += std::exp(p.lse(r) - m);
    // -inf if every partial is -inf (or there is none).
    double lse = total > 0 ? m + std::log(total) : m;
    for (int64_t d = 0; d < dim; ++d) {
      double o = 0;
      if (total > 0)
        for (const Part &p : parts)
          o += std::exp(p.lse(r) - lse) * p.out(r * dim + d);
      out->data[r * dim + d] = roundTo(elem, o);
    }
    if (lseOut)
      lseOut->data[r] = roundTo(Float32Type::get(op.getContext()), lse);
  }
  env[op.getResult(0)] = fromTensor(out);
  if (lseOut)
    env[op.getResult(1)] = fromTensor(lseOut);
  return success();
}

/// The recurrence as written, in double: S_t = D_t S_{t-1} + phi(k_t)^T v_t,
/// o_t = phi(q_t) S_t (/ phi(q_t) . z_t).
LogicalResult Interpreter::scan(ScanOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("the reference runs scans on tensors only");
  const Tensor &q = *env.lookup(op.getQuery()).t;
  const Tensor &k = *env.lookup(op.getKey()).t;
  const Tensor &v = *env.lookup(op.getValue()).t;
  const Tensor *decays =
      op.getDecays() ? env.lookup(op.getDecays()).t.get() : nullptr;
  const Tensor *init = op.getState() ? env.lookup(op.getState()).t.get() : nullptr;
  auto out = std::make_shared<Tensor>(*env.lookup(op.getOutput()).t);
  std::shared_ptr<Tensor> final;
  if (Value f = op.getFinalState())
    final = std::make_shared<Tensor>(*env.lookup(f).t);
  int64_t B = q.shape[0], H = q.shape[1], L = q.shape[2], Dk = q.shape[3];
  int64_t Dv = v.shape[3];
  if (k.shape != q.shape || v.shape[0] != B || v.shape[1] != H ||
      v.shape[2] != L || out->shape != v.shape)
    return op.emitOpError("operand shapes disagree at run time: query ")
           << ::attn::shapeString(q.shape) << ", key "
           << ::attn::shapeString(k.shape) << ", value "
           << ::attn::shapeString(v.shape);
  Type outElem = cast<ShapedType>(op.getOutput().getType()).getElementType();
  auto phi = [&](double x, int64_t d) -> FailureOr<double> {
    if (op.getFeatureMap().empty())
      return x;
    FailureOr<Val> r = evalRegion(op.getFeatureMap(), {fromFloat(x), fromInt(d)});
    if (failed(r))
      return failure();
    return r->f;
  };
  std::vector<double> S(Dk * Dv), z(Dk), pq(Dk), pk(Dk);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < Dk * Dv; ++i)
        S[i] = init ? init->data[(b * H + h) * Dk * Dv + i] : 0.0;
      std::fill(z.begin(), z.end(), 0.0);
      for (int64_t step = 0; step < L; ++step) {
        // reverse: from the last step to the first.
        int64_t t = op.getReverse() ? L - 1 - step : step;
        int64_t row = ((b * H + h) * L + t);
        for (int64_t i = 0; i < Dk; ++i) {
          FailureOr<double> a = phi(q.data[row * Dk + i], i),
                            c = phi(k.data[row * Dk + i], i);
          if (failed(a) || failed(c))
            return failure();
          pq[i] = *a;
          pk[i] = *c;
        }
        for (int64_t i = 0; i < Dk; ++i) {
          double d = op.getDecay() == DecayKind::head ? decays->data[h]
                     : op.getDecay() == DecayKind::channel
                         ? std::exp(decays->data[row * Dk + i])
                         : 1.0;
          z[i] = d * z[i] + pk[i];
          for (int64_t j = 0; j < Dv; ++j)
            S[i * Dv + j] = d * S[i * Dv + j] + pk[i] * v.data[row * Dv + j];
        }
        double den = 0;
        for (int64_t i = 0; i < Dk; ++i)
          den += pq[i] * z[i];
        for (int64_t j = 0; j < Dv; ++j) {
          double o = 0;
          for (int64_t i = 0; i < Dk; ++i)
            o += pq[i] * S[i * Dv + j];
          if (op.getNormalize())
            o /= den;
          out->data[row * Dv + j] = roundTo(outElem, o);
        }
      }
      if (final)
        for (int64_t i = 0; i < Dk * Dv; ++i)
          final->data[(b * H + h) * Dk * Dv + i] = roundTo(Float32Type::get(op.getContext()), S[i]);
    }
  env[op.getResult(0)] = fromTensor(out);
  if (final)
    env[op.getResult(1)] = fromTensor(final);
  return success();
}

LogicalResult Interpreter::pool(PoolOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("the reference runs pooling on tensors only");
  const Tensor &in = *env.lookup(op.getInput()).t;
  auto out = std::make_shared<Tensor>(*env.lookup(op.getOutput()).t);
  int64_t rank = in.shape.size();
  int64_t L = in.shape[rank - 2], D = in.shape[rank - 1];
  int64_t bs = op.getBlock(), nb = (L + bs - 1) / bs;
  int64_t nk = op.getKinds().size();
  int64_t outer = L * D ? static_cast<int64_t>(in.data.size()) / (L * D) : 0;
  if (out->shape[rank - 2] != nb || out->shape[rank - 1] != nk * D)
    return op.emitOpError("output shape ")
           << ::attn::shapeString(out->shape) << " disagrees with the input "
           << ::attn::shapeString(in.shape) << " at run time";
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t n = 0; n < nb; ++n)
      for (int64_t d = 0; d < D; ++d) {
        double mx = -std::numeric_limits<double>::infinity(),
               mn = std::numeric_limits<double>::infinity(), sum = 0;
        int64_t end = std::min(L, (n + 1) * bs);
        for (int64_t r = n * bs; r < end; ++r) {
          double x = in.data[(o * L + r) * D + d];
          mx = std::max(mx, x);
          mn = std::min(mn, x);
          sum += x;
        }
        for (int64_t c = 0; c < nk; ++c) {
          StringRef kind = cast<StringAttr>(op.getKinds()[c]).getValue();
          double v = kind == "max" ? mx : kind == "min" ? mn
                                                        : sum / (end - n * bs);
          out->data[(o * nb + n) * nk * D + c * D + d] = roundTo(Float32Type::get(op.getContext()), v);
        }
      }
  env[op.getResult(0)] = fromTensor(out);
  return success();
}

/// Eviction by sorting: the middle positions ordered best first (stable, so
/// ties keep position order), the first `budget` kept; no radix select.
LogicalResult Interpreter::evict(EvictOp op) {
  if (!op.hasPureTensorSemantics())
    return op.emitOpError("the reference runs eviction on tensors only");
  const Tensor &k = *env.lookup(op.getKeys()).t;
  const Tensor &v = *env.lookup(op.getValues()).t;
  const Tensor *scores =
      op.getScores() ? env.lookup(op.getScores()).t.get() : nullptr;
  std::vector<std::shared_ptr<Tensor>> outs;
  for (Value o : op.getOutputs())
    outs.push_back(std::make_shared<Tensor>(*env.lookup(o).t));
  int64_t rank = k.shape.size();
  int64_t S = k.shape[rank - 2], Dk = k.shape[rank - 1],
          Dv = v.shape[rank - 1], N = op.getNumKept();
  int64_t slices = 1;
  for (int64_t d = 0; d + 2 < rank; ++d)
    slices *= k.shape[d];
  if (v.shape[rank - 2] != S || (scores && scores->shape.back() != S))
    return op.emitOpError("keys, values and scores disagree on the number of "
                          "positions at run time");
  int64_t sink = op.getSink(), recent = op.getRecent();
  for (int64_t sl = 0; sl < slices; ++sl) {
    auto score = [&](int64_t j) {
      double x;
      if (scores) {
        x = scores->data[sl * S + j];
      } else {
        double sq = 0;
        for (int64_t d = 0; d < Dk; ++d)
          sq += k.data[(sl * S + j) * Dk + d] * k.data[(sl * S + j) * Dk + d];
        x = std::sqrt(sq);
      }
      return op.getLowest() ? -x : x;
    };
    int64_t sinkEnd = std::min(S, sink);
    int64_t recentStart = std::max(sinkEnd, S - recent);
    std::vector<int64_t> middle;
    for (int64_t j = sinkEnd; j < recentStart; ++j)
      middle.push_back(j);
    // NaN ranks after everything, -inf included.
    std::stable_sort(middle.begin(), middle.end(), [&](int64_t a, int64_t b) {
      double sa = score(a), sb = score(b);
      if (std::isnan(sa) || std::isnan(sb))
        return !std::isnan(sa) && std::isnan(sb);
      return sa > sb;
    });
    std::vector<bool> kept(S, false);
    for (int64_t j = 0; j < S; ++j)
      kept[j] = j < sinkEnd || j >= recentStart;
    for (size_t m = 0; m < middle.size() && static_cast<int64_t>(m) < op.getBudget(); ++m)
      kept[middle[m]] = true;
    int64_t slot = 0;
    for (int64_t j = 0; j < S; ++j) {
      if (!kept[j])
        continue;
      outs[0]->data[sl * N + slot] = j;
      for (int64_t d = 0; d < Dk; ++d)
        outs[1]->data[(sl * N + slot) * Dk + d] = k.data[(sl * S + j) * Dk + d];
      for (int64_t d = 0; d < Dv; ++d)
        outs[2]->data[(sl * N + slot) * Dv + d] = v.data[(sl * S + j) * Dv + d];
      ++slot;
    }
    for (; slot < N; ++slot) {
      outs[0]->data[sl * N + slot] = -1;
      for (int64_t d = 0; d < Dk; ++d)
        outs[1]->data[(sl * N + slot) * Dk + d] = 0;
      for (int64_t d = 0; d < Dv; ++d)
        outs[2]->data[(sl * N + slot) * Dv + d] = 0;
    }
  }
  for (auto [i, o] : llvm::enumerate(outs)) {
    env[op.getResult(i)] = fromTensor(o);
  }
  return success();
}

} // namespace

static LogicalResult run(Interpreter &interp, func::FuncOp func,
                         const std::vector<::attn::HostArray> &inputs,
                         std::vector<::attn::HostArray> &outputs) {
  SmallVector<Val> args;
  for (const ::attn::HostArray &a : inputs) {
    auto t = std::make_shared<Tensor>();
    t->shape = a.shape;
    int64_t n = a.numElements();
    t->data.resize(n);
    for (int64_t e = 0; e < n; ++e)
      t->data[e] = ::attn::loadElement(a, e);
    Val v;
    v.t = t;
    args.push_back(v);
  }
  SmallVector<Val> results;
  if (failed(interp.runBlock(func.getBody().front(), args, results)))
    return failure();
  for (auto [k, r] : llvm::enumerate(results)) {
    auto type = cast<RankedTensorType>(func.getResultTypes()[k]);
    std::string dtype = dtypeOf(type.getElementType());
    ::attn::HostArray a = ::attn::HostArray::allocate(dtype, r.t->shape);
    for (int64_t i = 0; i < a.numElements(); ++i)
      ::attn::storeElement(a, i, r.t->data[i]);
    outputs.push_back(std::move(a));
  }
  return success();
}

LogicalResult
mlir::attn::runReference(func::FuncOp func,
                         const std::vector<::attn::HostArray> &inputs,
                         std::vector<::attn::HostArray> &outputs) {
  Interpreter interp;
  return run(interp, func, inputs, outputs);
}

FailureOr<double>
mlir::attn::countAttentionFlops(func::FuncOp func,
                                const std::vector<::attn::HostArray> &inputs) {
  Interpreter interp;
  interp.countOnly = true;
  std::vector<::attn::HostArray> outputs;
  if (failed(run(interp, func, inputs, outputs)))
    return failure();
  return interp.flops;
}

LogicalResult
mlir::attn::gradReference(func::FuncOp func,
                          const std::vector<::attn::HostArray> &inputs,
                          const std::vector<::attn::HostArray> &resultGrads,
                          std::vector<::attn::HostArray> &grads,
                          int64_t stride) {
  // f(x) . dy, in float64 with no rounding to the element types.
  exactFloats = true;
  llvm::scope_exit restore([] { exactFloats = false; });
  SmallVector<Val> args;
  for (const ::attn::HostArray &a : inputs) {
    auto t = std::make_shared<Tensor>();
    t->shape = a.shape;
    t->data.resize(a.numElements());
    for (int64_t e = 0; e < a.numElements(); ++e)
      t->data[e] = ::attn::loadElement(a, e);
    Val v;
    v.t = t;
    args.push_back(v);
  }
  auto objective = [&](double &out) -> LogicalResult {
    Interpreter interp;
    SmallVector<Val> results;
    if (failed(interp.runBlock(func.getBody().front(), args, results)))
      return failure();
    double sum = 0;
    size_t g = 0;
    for (auto [k, r] : llvm::enumerate(results)) {
      auto type = dyn_cast<RankedTensorType>(func.getResultTypes()[k]);
      if (!type || !isa<FloatType>(type.getElementType()))
        continue;
      const ::attn::HostArray &dy = resultGrads[g++];
      for (int64_t e = 0; e < dy.numElements(); ++e) {
        double y = r.t->data[e], w = ::attn::loadElement(dy, e);
        // -inf results (an empty row's LSE) carry no gradient.
        if (w != 0 && std::isfinite(y))
          sum += w * y;
      }
    }
    out = sum;
    return success();
  };
  for (auto [k, type] : llvm::enumerate(func.getArgumentTypes())) {
    auto t = dyn_cast<RankedTensorType>(type);
    if (!t || !isa<FloatType>(t.getElementType()))
      continue;
    ::attn::HostArray g =
        ::attn::HostArray::allocate(inputs[k].dtype, inputs[k].shape);
    std::vector<double> &x = args[k].t->data;
    for (size_t e = 0; e < x.size(); ++e) {
      if (stride > 1 && e % stride != 0) {
        ::attn::storeElement(g, static_cast<int64_t>(e),
                             std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      double x0 = x[e], h = 1e-5 * std::max(1.0, std::fabs(x0));
      double plus = 0, minus = 0;
      x[e] = x0 + h;
      if (failed(objective(plus)))
        return failure();
      x[e] = x0 - h;
      if (failed(objective(minus)))
        return failure();
      x[e] = x0;
      ::attn::storeElement(g, static_cast<int64_t>(e),
                           (plus - minus) / (2 * h));
    }
    grads.push_back(std::move(g));
  }
  return success();
}
