//===- AdjointInterfaceImpl.cpp - adjoints of attn, arith, math -*- C++ -*-===//
//
// Part of the attn project.
//
// Reverse-mode rules, one op at a time. The scalar rules are what the score
// region of an attention (or any scalar region) is differentiated with: its
// derivative is formed symbolically from its own arith/math ops, so a new
// score modifier needs no new backward code. The attention's own adjoint is
// an attn.attention_backward carrying the score and mask regions and the
// derived score_grad region.
//
//===----------------------------------------------------------------------===//

#include "dialect/Adjoint.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

#include "dialect/AttnInterfaces.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

SmallVector<Value> mlir::attn::dynamicSizes(OpBuilder &b, Location loc,
                                            Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(b, loc, tensor, d));
  return sizes;
}

Value mlir::attn::zeroAdjoint(OpBuilder &b, Location loc, Value like) {
  auto type = cast<RankedTensorType>(like.getType());
  auto f32 = RankedTensorType::get(type.getShape(), b.getF32Type());
  Value empty =
      tensor::EmptyOp::create(b, loc, f32, dynamicSizes(b, loc, like));
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

Value mlir::attn::addAdjoints(OpBuilder &b, Location loc, Value a, Value c) {
  if (!a)
    return c;
  if (!c)
    return a;
  if (!isa<RankedTensorType>(a.getType()))
    return arith::AddFOp::create(b, loc, a, c);
  Value empty = tensor::EmptyOp::create(
      b, loc, cast<RankedTensorType>(a.getType()).getShape(), b.getF32Type(),
      dynamicSizes(b, loc, a));
  return linalg::AddOp::create(b, loc, ValueRange{a, c}, ValueRange{empty})
      .getResult(0);
}

/// The adjoint type of a float scalar: f64 for f64, f32 otherwise.
static Type adjointType(OpBuilder &b, Type primal) {
  return primal.isF64() ? Type(b.getF64Type()) : Type(b.getF32Type());
}

/// `v` (a primal float scalar) in its adjoint type.
static Value widen(OpBuilder &b, Location loc, Value v) {
  Type t = adjointType(b, v.getType());
  if (v.getType() == t)
    return v;
  return arith::ExtFOp::create(b, loc, t, v);
}

static Value constantLike(OpBuilder &b, Location loc, Value like, double c) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(like.getType(), c));
}

static bool isDifferentiable(Value v);

//===----------------------------------------------------------------------===//
// Scalar rules
//===----------------------------------------------------------------------===//

namespace {
/// One model for every scalar op: the rule is a function of the op's
/// primal operands x, primal result y (both widened to the adjoint type)
/// and the result's adjoint g, returning one adjoint per operand.
using Rule = llvm::function_ref<SmallVector<Value>(
    OpBuilder &, Location, ArrayRef<Value> x, Value y, Value g)>;

template <typename OpTy>
struct ScalarAdjoint
    : public AdjointOpInterface::ExternalModel<ScalarAdjoint<OpTy>, OpTy> {
  LogicalResult buildAdjoint(Operation *op, OpBuilder &b, IRMapping &mapping,
                             ArrayRef<Value> resultAdjoints,
                             SmallVectorImpl<Value> &operandAdjoints,
                             SmallVectorImpl<std::pair<Value, Value>> &) const {
    Location loc = op->getLoc();
    SmallVector<Value> x;
    for (Value v : op->getOperands()) {
      Value m = mapping.lookupOrDefault(v);
      x.push_back(isa<FloatType>(m.getType()) ? widen(b, loc, m) : m);
    }
    Value y = widen(b, loc, mapping.lookupOrDefault(op->getResult(0)));
    Value g = resultAdjoints[0];
    operandAdjoints = rule(cast<OpTy>(op), b, loc, x, y, g);
    return success();
  }
  static SmallVector<Value> rule(OpTy op, OpBuilder &b, Location loc,
                                 ArrayRef<Value> x, Value y, Value g);
};

#define RULE(OP)                                                               \
  template <>                                                                  \
  SmallVector<Value> ScalarAdjoint<OP>::rule(                                  \
      OP op, OpBuilder &b, Location loc, ArrayRef<Value> x, Value y, Value g)

using arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp;
#define MUL(a, c) arith::MulFOp::create(b, loc, a, c).getResult()
#define DIV(a, c) arith::DivFOp::create(b, loc, a, c).getResult()
#define SUB(a, c) arith::SubFOp::create(b, loc, a, c).getResult()
#define ADD(a, c) arith::AddFOp::create(b, loc, a, c).getResult()
#define NEG(a) arith::NegFOp::create(b, loc, a).getResult()
#define C(v) constantLike(b, loc, g, v)

RULE(arith::AddFOp) { return {g, g}; }
RULE(arith::SubFOp) { return {g, NEG(g)}; }
RULE(arith::MulFOp) { return {MUL(g, x[1]), MUL(g, x[0])}; }
RULE(arith::DivFOp) { return {DIV(g, x[1]), NEG(DIV(MUL(g, y), x[1]))}; }
RULE(arith::NegFOp) { return {NEG(g)}; }
RULE(arith::ExtFOp) { return {g}; }
RULE(arith::TruncFOp) { return {g}; }
RULE(math::FmaOp) { return {MUL(g, x[1]), MUL(g, x[0]), g}; }
RULE(math::ExpOp) { return {MUL(g, y)}; }
RULE(math::Exp2Op) { return {MUL(MUL(g, y), C(M_LN2))}; }
RULE(math::ExpM1Op) { return {MUL(g, ADD(y, C(1.0)))}; }
RULE(math::LogOp) { return {DIV(g, x[0])}; }
RULE(math::Log2Op) { return {DIV(g, MUL(x[0], C(M_LN2)))}; }
RULE(math::Log1pOp) { return {DIV(g, ADD(x[0], C(1.0)))}; }
RULE(math::TanhOp) { return {MUL(g, SUB(C(1.0), MUL(y, y)))}; }
RULE(math::SqrtOp) { return {DIV(MUL(g, C(0.5)), y)}; }
RULE(math::RsqrtOp) { return {MUL(MUL(g, C(-0.5)), MUL(y, MUL(y, y)))}; }
RULE(math::SinOp) { return {MUL(g, math::CosOp::create(b, loc, x[0]))}; }
RULE(math::CosOp) { return {NEG(MUL(g, math::SinOp::create(b, loc, x[0])))}; }
RULE(math::TanOp) { return {MUL(g, ADD(C(1.0), MUL(y, y)))}; }
RULE(math::PowFOp) {
  // y = a^c: da = g c a^(c-1) (0 for c = 0, also at a = 0), dc = g y log a
  // (0 where y = 0: the limit at a = 0).
  Value zero = C(0.0);
  Value constant =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x[1], zero);
  Value da = MUL(MUL(g, x[1]), math::PowFOp::create(b, loc, x[0],
                                                    SUB(x[1], C(1.0))));
  Value vanishes =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, y, zero);
  Value dc = MUL(MUL(g, y), math::LogOp::create(b, loc, x[0]));
  return {arith::SelectOp::create(b, loc, constant, zero, da),
          arith::SelectOp::create(b, loc, vanishes, zero, dc)};
}
RULE(math::AbsFOp) {
  Value neg =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x[0], C(0.0));
  return {arith::SelectOp::create(b, loc, neg, NEG(g), g)};
}
/// max/min: the gradient goes to the operand that was chosen (the first on
/// ties).
static SmallVector<Value> chosen(OpBuilder &b, Location loc, Value first,
                                 Value g) {
  Value zero = constantLike(b, loc, g, 0.0);
  return {arith::SelectOp::create(b, loc, first, g, zero),
          arith::SelectOp::create(b, loc, first, zero, g)};
}
RULE(arith::MaximumFOp) {
  return chosen(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, x[0], x[1]), g);
}
RULE(arith::MaxNumFOp) {
  return chosen(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGE, x[0], x[1]), g);
}
RULE(arith::MinimumFOp) {
  return chosen(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, x[0], x[1]), g);
}
RULE(arith::MinNumFOp) {
  return chosen(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ULE, x[0], x[1]), g);
}
RULE(arith::SelectOp) {
  if (!isa<FloatType>(y.getType()))
    return {Value(), Value(), Value()};
  Value zero = C(0.0);
  return {Value(), arith::SelectOp::create(b, loc, x[0], g, zero),
          arith::SelectOp::create(b, loc, x[0], zero, g)};
}
#undef RULE
#undef MUL
#undef DIV
#undef SUB
#undef ADD
#undef NEG
#undef C
} // namespace

//===----------------------------------------------------------------------===//
// linalg.generic (elementwise, with broadcast inputs)
//===----------------------------------------------------------------------===//

namespace {
/// Whether `op`'s body is a sum into its single output: it yields
/// `addf(out, e)` (either order), the output's argument read nowhere else.
static bool isSumReduction(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  BlockArgument out = body.getArguments().back();
  auto add = body.getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
  return add && out.hasOneUse() &&
         (add.getLhs() == out || add.getRhs() == out);
}

/// A linalg.generic with one output, either elementwise (all loops
/// parallel, the output at the identity map, its value unread) or a sum
/// (`out += e`, the output at a projected permutation of the loops): input
/// k's gradient is a generic over the same iteration space that re-runs the
/// body, differentiates it with respect to argument k (seeded with the
/// result's gradient, read through the output's map) and sums over the dims
/// input k is broadcast along. A sum's initial value gets the result's
/// gradient unless it is a fill or an empty tensor (a constant).
struct GenericAdjoint
    : public AdjointOpInterface::ExternalModel<GenericAdjoint,
                                               linalg::GenericOp> {
  LogicalResult buildAdjoint(Operation *o, OpBuilder &b, IRMapping &mapping,
                             ArrayRef<Value> resultAdjoints,
                             SmallVectorImpl<Value> &operandAdjoints,
                             SmallVectorImpl<std::pair<Value, Value>> &) const {
    auto op = cast<linalg::GenericOp>(o);
    Location loc = op.getLoc();
    if (op.getNumDpsInits() != 1 || op.getNumResults() != 1)
      return op.emitOpError("is differentiated only with one output");
    OpOperand *init = op.getDpsInitOperand(0);
    AffineMap outMap = op.getMatchingIndexingMap(init);
    bool elementwise = op.getNumReductionLoops() == 0 && outMap.isIdentity() &&
                       !op.payloadUsesValueFromOperand(init);
    bool sum = !elementwise && outMap.isProjectedPermutation() &&
               isSumReduction(op);
    if (!elementwise && !sum)
      return op.emitOpError(
          "is differentiated only when elementwise (all loops parallel, one "
          "output at the identity map, its value unread) or a sum into its "
          "output (out + e yielded, the output at a projected permutation)");
    unsigned rank = op.getNumLoops();
    Value dy = resultAdjoints[0];
    operandAdjoints.assign(op->getNumOperands(), Value());
    if (sum && isDifferentiable(init->get()) &&
        !init->get().getDefiningOp<linalg::FillOp>() &&
        !init->get().getDefiningOp<tensor::EmptyOp>())
      operandAdjoints[init->getOperandNumber()] = dy;
    for (OpOperand *in : op.getDpsInputOperands()) {
      if (!isDifferentiable(in->get()) ||
          !isa<RankedTensorType>(in->get().getType()))
        continue;
      AffineMap map = op.getMatchingIndexingMap(in);
      if (!map.isProjectedPermutation())
        return op.emitOpError("is differentiated only with inputs indexed by "
                              "projected permutations");
      Value x = mapping.lookup(in->get());
      Value grad = zeroAdjoint(b, loc, x);
      SmallVector<AffineMap> maps = {outMap};
      SmallVector<Value> ins = {dy};
      for (OpOperand *other : op.getDpsInputOperands()) {
        maps.push_back(op.getMatchingIndexingMap(other));
        ins.push_back(mapping.lookup(other->get()));
      }
      maps.push_back(map);
      SmallVector<utils::IteratorType> iters;
      for (unsigned d = 0; d < rank; ++d)
        iters.push_back(
            llvm::any_of(map.getResults(),
                         [&](AffineExpr e) { return e.isFunctionOfDim(d); })
                ? utils::IteratorType::parallel
                : utils::IteratorType::reduction);
      LogicalResult status = success();
      auto gen = linalg::GenericOp::create(
          b, loc, grad.getType(), ins, ValueRange{grad}, maps, iters,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            // args: dy, the inputs, the gradient being summed.
            // The inputs, then the (unread) output's argument.
            SmallVector<Value> primal(args.drop_front());
            IRMapping regionMapping = mapping;
            FailureOr<SmallVector<Value>> adj = buildRegionAdjoint(
                nb, op.getRegion(), primal, args[0], regionMapping);
            Value sum = args.back();
            if (failed(adj))
              status = failure();
            else if (Value a = (*adj)[in->getOperandNumber()])
              sum = arith::AddFOp::create(
                  nb, nl, sum,
                  a.getType().isF32()
                      ? a
                      : arith::TruncFOp::create(nb, nl, nb.getF32Type(), a)
                            .getResult());
            linalg::YieldOp::create(nb, nl, sum);
          });
      if (failed(status))
        return failure();
      operandAdjoints[in->getOperandNumber()] = gen.getResult(0);
    }
    return success();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// linalg.fill
//===----------------------------------------------------------------------===//

namespace {
/// A fill with a constant (ones for a second attention's values, zeros for
/// an accumulator): nothing flows back. A fill with a computed value would
/// pass the sum of the result's gradient to it: not supported yet.
struct FillAdjoint
    : public AdjointOpInterface::ExternalModel<FillAdjoint, linalg::FillOp> {
  LogicalResult buildAdjoint(Operation *o, OpBuilder &, IRMapping &,
                             ArrayRef<Value>,
                             SmallVectorImpl<Value> &operandAdjoints,
                             SmallVectorImpl<std::pair<Value, Value>> &) const {
    auto op = cast<linalg::FillOp>(o);
    if (!matchPattern(op.value(), m_Constant()))
      return op.emitOpError(
          "is differentiated only with a constant value (its gradient "
          "would be the sum of the result's)");
    operandAdjoints.assign(op->getNumOperands(), Value());
    return success();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// tensor: slices and reshapes (moving values, not computing them)
//===----------------------------------------------------------------------===//

namespace {
/// OpFoldResults of the primal op, with their values mapped.
static SmallVector<OpFoldResult> mapped(ArrayRef<OpFoldResult> ofrs,
                                        IRMapping &mapping) {
  SmallVector<OpFoldResult> out;
  for (OpFoldResult f : ofrs)
    out.push_back(isa<Value>(f)
                      ? OpFoldResult(mapping.lookupOrDefault(cast<Value>(f)))
                      : f);
  return out;
}

static RankedTensorType f32Like(Type t) {
  auto r = cast<RankedTensorType>(t);
  return RankedTensorType::get(r.getShape(), Float32Type::get(t.getContext()));
}

/// insert_slice: the source's gradient is the slice of the result's; the
/// destination's is the result's with the slice zeroed (none for a
/// tensor.empty destination).
struct InsertSliceAdjoint
    : public AdjointOpInterface::ExternalModel<InsertSliceAdjoint,
                                               tensor::InsertSliceOp> {
  LogicalResult buildAdjoint(Operation *o, OpBuilder &b, IRMapping &mapping,
                             ArrayRef<Value> resultAdjoints,
                             SmallVectorImpl<Value> &operandAdjoints,
                             SmallVectorImpl<std::pair<Value, Value>> &) const {
    auto op = cast<tensor::InsertSliceOp>(o);
    Location loc = op.getLoc();
    Value dy = resultAdjoints[0];
    auto offsets = mapped(op.getMixedOffsets(), mapping),
         sizes = mapped(op.getMixedSizes(), mapping),
         strides = mapped(op.getMixedStrides(), mapping);
    operandAdjoints.assign(op->getNumOperands(), Value());
    operandAdjoints[0] = tensor::ExtractSliceOp::create(
        b, loc, f32Like(op.getSourceType()), dy, offsets, sizes, strides);
    if (!op.getDest().getDefiningOp<tensor::EmptyOp>()) {
      Value zero = zeroAdjoint(b, loc, mapping.lookup(op.getSource()));
      operandAdjoints[1] = tensor::InsertSliceOp::create(
          b, loc, zero, dy, offsets, sizes, strides);
    }
    return success();
  }
};

/// extract_slice: the gradient lands in the slice of a zero tensor.
struct ExtractSliceAdjoint
    : public AdjointOpInterface::ExternalModel<ExtractSliceAdjoint,
                                               tensor::ExtractSliceOp> {
  LogicalResult buildAdjoint(Operation *o, OpBuilder &b, IRMapping &mapping,
                             ArrayRef<Value> resultAdjoints,
                             SmallVectorImpl<Value> &operandAdjoints,
                             SmallVectorImpl<std::pair<Value, Value>> &) const {
    auto op = cast<tensor::ExtractSliceOp>(o);
    Location loc = op.getLoc();
    Value zero = zeroAdjoint(b, loc, mapping.lookup(op.getSource()));
    operandAdjoints.assign(op->getNumOperands(), Value());
    operandAdjoints[0] = tensor::InsertSliceOp::create(
        b, loc, resultAdjoints[0], zero, mapped(op.getMixedOffsets(), mapping),
        mapped(op.getMixedSizes(), mapping),
        mapped(op.getMixedStrides(), mapping));
    return success();
  }
};

/// expand_shape / collapse_shape: the inverse reshape of the gradient.
struct ExpandShapeAdjoint
    : public AdjointOpInterface::ExternalModel<ExpandShapeAdjoint,
                                               tensor::ExpandShapeOp> {
  LogicalResult buildAdjoint(Operation *o, OpBuilder &b, IRMapping &mapping,
                             ArrayRef<Value> resultAdjoints,
                             SmallVectorImpl<Value> &operandAdjoints,
                             SmallVectorImpl<std::pair<Value, Value>> &) const {
    auto op = cast<tensor::ExpandShapeOp>(o);
    operandAdjoints.assign(op->getNumOperands(), Value());
    operandAdjoints[0] = tensor::CollapseShapeOp::create(
        b, op.getLoc(), f32Like(op.getSrcType()), resultAdjoints[0],
        op.getReassociationIndices());
    return success();
  }
};

struct CollapseShapeAdjoint
    : public AdjointOpInterface::ExternalModel<CollapseShapeAdjoint,
                                               tensor::CollapseShapeOp> {
  LogicalResult buildAdjoint(Operation *o, OpBuilder &b, IRMapping &mapping,
                             ArrayRef<Value> resultAdjoints,
                             SmallVectorImpl<Value> &operandAdjoints,
                             SmallVectorImpl<std::pair<Value, Value>> &) const {
    auto op = cast<tensor::CollapseShapeOp>(o);
    Location loc = op.getLoc();
    Value src = mapping.lookup(op.getSrc());
    SmallVector<OpFoldResult> shape;
    for (int64_t d = 0; d < op.getSrcType().getRank(); ++d)
      shape.push_back(
          op.getSrcType().isDynamicDim(d)
              ? OpFoldResult(tensor::DimOp::create(b, loc, src, d).getResult())
              : OpFoldResult(b.getIndexAttr(op.getSrcType().getDimSize(d))));
    operandAdjoints.assign(op->getNumOperands(), Value());
    operandAdjoints[0] = tensor::ExpandShapeOp::create(
        b, loc, f32Like(op.getSrcType()), resultAdjoints[0],
        op.getReassociationIndices(), shape);
    return success();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// attn.gate
//===----------------------------------------------------------------------===//

LogicalResult
GateOp::buildAdjoint(OpBuilder &b, IRMapping &mapping,
                     ArrayRef<Value> resultAdjoints,
                     SmallVectorImpl<Value> &operandAdjoints,
                     SmallVectorImpl<std::pair<Value, Value>> &captured) {
  // The gate's elementwise generic, built on the primal values and
  // differentiated like any other; then dropped.
  if (!isa<RankedTensorType>(getInput().getType()))
    return emitOpError("is differentiated on tensors only");
  Value x = mapping.lookup(getInput()), g = mapping.lookup(getGate()),
        out = mapping.lookup(getOutput());
  Operation *generic = buildGeneric(b, x, g, out);
  IRMapping identity;
  for (Value v : generic->getOperands())
    identity.map(v, v);
  identity.map(generic->getResult(0), mapping.lookup(getResult(0)));
  LogicalResult status = cast<AdjointOpInterface>(generic).buildAdjoint(
      b, identity, resultAdjoints, operandAdjoints, captured);
  generic->erase();
  return status;
}

//===----------------------------------------------------------------------===//
// attn.cumsum
//===----------------------------------------------------------------------===//

LogicalResult
CumsumOp::buildAdjoint(OpBuilder &b, IRMapping &mapping,
                       ArrayRef<Value> resultAdjoints,
                       SmallVectorImpl<Value> &operandAdjoints,
                       SmallVectorImpl<std::pair<Value, Value>> &) {
  // The adjoint of a prefix sum is the suffix sum of the gradient.
  Location loc = getLoc();
  Value dy = resultAdjoints[0];
  auto type = cast<RankedTensorType>(dy.getType());
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), b.getF32Type(),
                                       dynamicSizes(b, loc, dy));
  auto rev = CumsumOp::create(b, loc, TypeRange{type}, dy, init, getDimAttr(),
                              getReverse() ? UnitAttr() : b.getUnitAttr());
  operandAdjoints.assign(getNumOperands(), Value());
  operandAdjoints[0] = rev.getResult(0);
  return success();
}

//===----------------------------------------------------------------------===//
// attn.rope
//===----------------------------------------------------------------------===//

LogicalResult
RopeOp::buildAdjoint(OpBuilder &b, IRMapping &mapping,
                     ArrayRef<Value> resultAdjoints,
                     SmallVectorImpl<Value> &operandAdjoints,
                     SmallVectorImpl<std::pair<Value, Value>> &) {
  // y = m R(p) x with R(p) a rotation: dx = m R(p)^T dy = m R(-p) dy, the
  // inverse rotation of the gradient at the same positions. Positions are
  // integers: no gradient.
  Location loc = getLoc();
  Value dy = resultAdjoints[0];
  auto type = cast<RankedTensorType>(dy.getType());
  Value init = tensor::EmptyOp::create(b, loc, type, dynamicSizes(b, loc, dy));
  auto inv = RopeOp::create(b, loc, type, dy,
                            mapping.lookup(getPositions()), init, getRope(),
                            getInverse() ? UnitAttr() : b.getUnitAttr());
  operandAdjoints.assign(getNumOperands(), Value());
  operandAdjoints[0] = inv.getResult();
  return success();
}

//===----------------------------------------------------------------------===//
// attn.evict
//===----------------------------------------------------------------------===//

LogicalResult
EvictOp::buildAdjoint(OpBuilder &b, IRMapping &mapping,
                      ArrayRef<Value> resultAdjoints,
                      SmallVectorImpl<Value> &operandAdjoints,
                      SmallVectorImpl<std::pair<Value, Value>> &) {
  // The kept keys and values are a gather of rows idx[b, h, n] (-1: none);
  // its adjoint is the one-hot contraction
  //   dK[b, h, s, d] = sum_n (idx[b, h, n] == s) dK'[b, h, n, d],
  // a linalg.generic reducing over n. The selection (indices, scores,
  // key norms) is piecewise constant: no gradient.
  Location loc = getLoc();
  if (!isa<RankedTensorType>(getKeys().getType()))
    return emitOpError("is differentiated on tensors only");
  operandAdjoints.assign(getNumOperands(), Value());
  Value idx = mapping.lookup(getResult(0));
  MLIRContext *ctx = b.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  // Loops (b, h, s, n, d).
  AffineMap idxMap = AffineMap::get(5, 0, {d(0), d(1), d(3)}, ctx);
  AffineMap keptMap = AffineMap::get(5, 0, {d(0), d(1), d(3), d(4)}, ctx);
  AffineMap outMap = AffineMap::get(5, 0, {d(0), d(1), d(2), d(4)}, ctx);
  using utils::IteratorType;
  SmallVector<IteratorType> iters = {
      IteratorType::parallel, IteratorType::parallel, IteratorType::parallel,
      IteratorType::reduction, IteratorType::parallel};
  for (auto [k, operand] : {std::pair<unsigned, Value>{1, getKeys()},
                            std::pair<unsigned, Value>{2, getValues()}}) {
    Value dKept = resultAdjoints[k];
    if (!dKept || !isDifferentiable(operand))
      continue;
    Value x = mapping.lookup(operand);
    Value grad = zeroAdjoint(b, loc, x);
    auto gen = linalg::GenericOp::create(
        b, loc, grad.getType(), ValueRange{idx, dKept}, ValueRange{grad},
        SmallVector<AffineMap>{idxMap, keptMap, outMap}, iters,
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value s = arith::IndexCastOp::create(
              nb, nl, nb.getI32Type(), linalg::IndexOp::create(nb, nl, 2));
          Value hit = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                            args[0], s);
          Value g = args[1];
          if (!g.getType().isF32())
            g = arith::ExtFOp::create(nb, nl, nb.getF32Type(), g);
          Value zero =
              arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(0.0f));
          Value add = arith::AddFOp::create(
              nb, nl, args[2], arith::SelectOp::create(nb, nl, hit, g, zero));
          linalg::YieldOp::create(nb, nl, add);
        });
    operandAdjoints[getKeysMutable().getOperandNumber() + (k - 1)] =
        gen.getResult(0);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// attn.route
//===----------------------------------------------------------------------===//

namespace {
/// Builds the linalg.generics of an op written as a differentiable tensor
/// program (a router with its selection fixed, a MoE layer, a scan): one
/// iteration space per generic, inputs at projected maps, an f32 output.
class TensorProgram {
public:
  /// Ops are built at `b`'s insertion point from here on.
  TensorProgram(OpBuilder &b, Location loc)
      : b(b), loc(loc), block(b.getInsertionBlock()),
        end(b.getInsertionPoint()) {
    before = end == block->begin() ? nullptr : &*std::prev(end);
  }

  /// The reverse sweep over every op built so far, seeded with
  /// (value, adjoint) pairs (null adjoints skipped); ops in `constants` pass
  /// no gradient on. Returns the adjoints of the values the program read.
  FailureOr<DenseMap<Value, Value>>
  differentiate(ArrayRef<std::pair<Value, Value>> seeds,
                const DenseSet<Operation *> &constants = {}) {
    Block::iterator first =
        before ? std::next(before->getIterator()) : block->begin();
    auto ops = llvm::make_range(first, end);
    IRMapping identity;
    for (Operation &o : ops) {
      for (Value v : o.getOperands())
        identity.map(v, v);
      for (Value v : o.getResults())
        identity.map(v, v);
    }
    DenseMap<Value, Value> adjoints;
    for (auto [value, adjoint] : seeds)
      if (value && adjoint)
        adjoints[value] = adjoint;
    if (failed(reverseSweep(b, ops, identity, adjoints,
                            [&](Operation &o, ArrayRef<Value>) {
                              return success(constants.contains(&o));
                            })))
      return failure();
    return adjoints;
  }

  /// An f32 tensor of `shape` (dynamic sizes `dyn`): empty, or filled with
  /// `fill` for a reduction's initial value.
  Value init(ArrayRef<int64_t> shape, ValueRange dyn,
             std::optional<float> fill = std::nullopt) {
    Value empty = tensor::EmptyOp::create(b, loc, shape, b.getF32Type(), dyn);
    if (!fill)
      return empty;
    Value c = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(*fill));
    return linalg::FillOp::create(b, loc, c, empty).getResult(0);
  }

  /// A generic over `loops` loops (the output at `outMap`; loops missing
  /// from it are reductions) with `body(args, indices)` yielding one value.
  Value generic(unsigned loops, ValueRange ins, ArrayRef<AffineMap> inMaps,
                Value out, AffineMap outMap,
                function_ref<Value(OpBuilder &, ValueRange)> body) {
    SmallVector<AffineMap> maps(inMaps.begin(), inMaps.end());
    maps.push_back(outMap);
    SmallVector<utils::IteratorType> iters;
    for (unsigned d = 0; d < loops; ++d)
      iters.push_back(outMap.isFunctionOfDim(d)
                          ? utils::IteratorType::parallel
                          : utils::IteratorType::reduction);
    return linalg::GenericOp::create(
               b, loc, out.getType(), ins, ValueRange{out}, maps, iters,
               [&](OpBuilder &nb, Location, ValueRange args) {
                 linalg::YieldOp::create(nb, loc, body(nb, args));
               })
        .getResult(0);
  }

  /// The map of `loops` loops onto the listed dims.
  AffineMap map(unsigned loops, ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(b.getAffineDimExpr(d));
    return AffineMap::get(loops, 0, exprs, b.getContext());
  }

  OpBuilder &b;
  Location loc;

private:
  Block *block;
  Block::iterator end;
  Operation *before;
};

/// Clones `region`'s body at `b` with its block arguments bound to `args` and
/// the values it reads from above through `mapping` (a copy: the caller's is
/// unchanged); returns the yielded value. AttentionOp::inlineScalarRegion
/// without that mapping would read the primal function's values.
static Value inlineRegion(OpBuilder &b, Region &region, ValueRange args,
                          const IRMapping &mapping) {
  IRMapping m = mapping;
  Block &block = region.front();
  for (auto [arg, val] : llvm::zip(block.getArguments(), args))
    m.map(arg, val);
  for (Operation &o : block.without_terminator())
    b.clone(o, m);
  return m.lookupOrDefault(block.getTerminator()->getOperand(0));
}

static Value f32Const(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// `x` as f32.
static Value toF32(OpBuilder &b, Location loc, Value x) {
  if (x.getType().isF32())
    return x;
  if (x.getType().getIntOrFloatBitWidth() > 32)
    return arith::TruncFOp::create(b, loc, b.getF32Type(), x);
  return arith::ExtFOp::create(b, loc, b.getF32Type(), x);
}

/// 1 / s where s > 0, else 0; the division reads 1 where it is dropped, so
/// that its derivative is never 0 * inf (a row whose logits are all -inf).
static Value safeInverse(OpBuilder &b, Location loc, Value s) {
  Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, s,
                                         f32Const(b, loc, 0.0f));
  Value safe =
      arith::SelectOp::create(b, loc, positive, s, f32Const(b, loc, 1.0f));
  return arith::SelectOp::create(
      b, loc, positive,
      arith::DivFOp::create(b, loc, f32Const(b, loc, 1.0f), safe),
      f32Const(b, loc, 0.0f));
}

/// sigmoid(a) as 1 / (1 + t) or t / (1 + t) with t = exp(-|a|): finite, and
/// with finite derivatives, for every finite a.
static Value stableSigmoid(OpBuilder &b, Location loc, Value a) {
  Value t = math::ExpOp::create(
      b, loc, arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, a)));
  Value r = arith::DivFOp::create(
      b, loc, f32Const(b, loc, 1.0f),
      arith::AddFOp::create(b, loc, f32Const(b, loc, 1.0f), t));
  Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, a,
                                         f32Const(b, loc, 0.0f));
  return arith::SelectOp::create(b, loc, positive, r,
                                 arith::MulFOp::create(b, loc, t, r));
}

/// m where m > -inf, else 0 (a row without finite entries).
static Value finiteOrZero(OpBuilder &b, Location loc, Value m) {
  Value finite = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OGT, m,
      f32Const(b, loc, -std::numeric_limits<float>::infinity()));
  return arith::SelectOp::create(b, loc, finite, m, f32Const(b, loc, 0.0f));
}
} // namespace

LogicalResult
RouteOp::buildAdjoint(OpBuilder &b, IRMapping &mapping,
                      ArrayRef<Value> resultAdjoints,
                      SmallVectorImpl<Value> &operandAdjoints,
                      SmallVectorImpl<std::pair<Value, Value>> &) {
  // The selection (indices, groups, capacity, skipping) is piecewise
  // constant. With it held fixed, the weights and the probability sums are
  // smooth functions of the logits, which this writes as linalg.generics
  // (logits -> z -> p -> the chosen slots -> renormalized, scaled weights;
  // p summed over tokens) and differentiates with their own adjoints. The
  // row maxima that stabilize the softmaxes are constants (a softmax does
  // not depend on them). The bias only moves the selection: no gradient.
  Location loc = getLoc();
  // (Called with a result's gradient: the op is on tensors.)
  operandAdjoints.assign(getNumOperands(), Value());
  Value dw = resultAdjoints[0];
  Value dps = resultAdjoints.size() > 3 ? resultAdjoints[3] : Value();
  if (!dw && !dps)
    return success();
  DenseSet<Operation *> constants; // built, but not differentiated
  TensorProgram g(b, loc);
  const float inf = std::numeric_limits<float>::infinity();
  RouteScoring scoring = getScoring();
  int64_t n = cast<RankedTensorType>(getInput().getType()).getRank();
  unsigned lead = n - 2, tDim = n - 2, eDim = n - 1;
  SmallVector<unsigned> rowDims; // (lead..., t)
  for (unsigned d = 0; d + 1 < static_cast<unsigned>(n); ++d)
    rowDims.push_back(d);
  auto plus = [](ArrayRef<unsigned> dims, std::initializer_list<unsigned> more) {
    SmallVector<unsigned> out(dims.begin(), dims.end());
    out.append(more);
    return out;
  };
  Value input = mapping.lookup(getInput());

  // 1. Logits [lead..., T, E] in f32 (x W when the router projects).
  Value logits = input;
  SmallVector<int64_t> lShape;
  SmallVector<Value> lDyn, rowDyn;
  auto inType = cast<RankedTensorType>(input.getType());
  for (unsigned d = 0; d + 1 < static_cast<unsigned>(n); ++d) {
    lShape.push_back(inType.getDimSize(d));
    if (inType.isDynamicDim(d)) {
      lDyn.push_back(tensor::DimOp::create(b, loc, input, d));
      rowDyn.push_back(lDyn.back());
    }
  }
  SmallVector<int64_t> rowShape = lShape;
  if (Value weight = getWeight()) {
    Value w = mapping.lookup(weight);
    auto wType = cast<RankedTensorType>(w.getType());
    int64_t wRank = wType.getRank();
    lShape.push_back(wType.getDimSize(wRank - 1));
    if (wType.isDynamicDim(wRank - 1))
      lDyn.push_back(tensor::DimOp::create(b, loc, w, wRank - 1));
    // Loops (lead..., t, e, m).
    unsigned loops = n + 1, mDim = n;
    SmallVector<unsigned> wDims;
    for (unsigned d = 0; d + 2 < static_cast<unsigned>(wRank); ++d)
      wDims.push_back(d + (lead - (wRank - 2)));
    wDims.push_back(mDim);
    wDims.push_back(eDim);
    logits = g.generic(
        loops, {input, w},
        {g.map(loops, plus(rowDims, {mDim})), g.map(loops, wDims)},
        g.init(lShape, lDyn, 0.0f), g.map(loops, plus(rowDims, {eDim})),
        [&](OpBuilder &nb, ValueRange a) -> Value {
          Value prod = arith::MulFOp::create(nb, loc, toF32(nb, loc, a[0]),
                                             toF32(nb, loc, a[1]));
          return arith::AddFOp::create(nb, loc, a[2], prod);
        });
  } else {
    lShape.push_back(inType.getDimSize(n - 1));
    if (inType.isDynamicDim(n - 1))
      lDyn.push_back(tensor::DimOp::create(b, loc, input, n - 1));
  }

  // 2. z = score(l / temperature, t, e); pruned experts -inf.
  unsigned loops = n;
  AffineMap lMap = g.map(loops, plus(rowDims, {eDim}));
  AffineMap rowMap = g.map(loops, rowDims);
  SmallVector<Value> zIns = {logits};
  SmallVector<AffineMap> zMaps = {lMap};
  if (auto keep = getKeep()) {
    SmallVector<bool> bits(keep->begin(), keep->end());
    auto type = RankedTensorType::get({static_cast<int64_t>(bits.size())},
                                      b.getI1Type());
    zIns.push_back(arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, ArrayRef<bool>(bits))));
    zMaps.push_back(g.map(loops, {eDim}));
  }
  std::optional<float> invTemp;
  if (auto temp = getTemperature())
    invTemp = 1.0f / temp->convertToFloat();
  Value z = g.generic(
      loops, zIns, zMaps, g.init(lShape, lDyn), lMap,
      [&](OpBuilder &nb, ValueRange a) -> Value {
        Value v = toF32(nb, loc, a[0]);
        if (invTemp)
          v = arith::MulFOp::create(nb, loc, v, f32Const(nb, loc, *invTemp));
        if (!getScore().empty())
          v = inlineRegion(nb, getScore(),
                           {v, linalg::IndexOp::create(nb, loc, tDim),
                            linalg::IndexOp::create(nb, loc, eDim)},
                           mapping);
        if (getKeep())
          v = arith::SelectOp::create(nb, loc, a[1], v,
                                      f32Const(nb, loc, -inf));
        return v;
      });

  // 3. Probabilities p.
  auto maxOver = [&](unsigned loops, Value x, AffineMap xMap, AffineMap outMap,
                     ArrayRef<int64_t> shape, ValueRange dyn) {
    Value m = g.generic(loops, {x}, {xMap}, g.init(shape, dyn, -inf), outMap,
                        [&](OpBuilder &nb, ValueRange a) -> Value {
                          return arith::MaximumFOp::create(nb, loc, a[1], a[0]);
                        });
    constants.insert(m.getDefiningOp());
    return m;
  };
  Value p = z;
  bool softmax = scoring == RouteScoring::softmax ||
                 (scoring == RouteScoring::topk_softmax && dps);
  if (softmax) {
    Value m = maxOver(loops, z, lMap, rowMap, rowShape, rowDyn);
    Value ex = g.generic(loops, {z, m}, {lMap, rowMap}, g.init(lShape, lDyn),
                         lMap, [&](OpBuilder &nb, ValueRange a) -> Value {
                           Value s = arith::SubFOp::create(
                               nb, loc, a[0], finiteOrZero(nb, loc, a[1]));
                           return math::ExpOp::create(nb, loc, s);
                         });
    Value sum = g.generic(loops, {ex}, {lMap}, g.init(rowShape, rowDyn, 0.0f),
                          rowMap, [&](OpBuilder &nb, ValueRange a) -> Value {
                            return arith::AddFOp::create(nb, loc, a[1], a[0]);
                          });
    p = g.generic(loops, {ex, sum}, {lMap, rowMap}, g.init(lShape, lDyn), lMap,
                  [&](OpBuilder &nb, ValueRange a) -> Value {
                    return arith::MulFOp::create(nb, loc, a[0],
                                                 safeInverse(nb, loc, a[1]));
                  });
  } else if (scoring == RouteScoring::sigmoid) {
    // sigmoid(z) = 1 / (1 + t) or t / (1 + t) with t = exp(-|z|): finite
    // derivatives everywhere; a pruned expert (-inf) has p = 0.
    p = g.generic(
        loops, {z}, {lMap}, g.init(lShape, lDyn), lMap,
        [&](OpBuilder &nb, ValueRange a) -> Value {
          Value pruned = arith::CmpFOp::create(
              nb, loc, arith::CmpFPredicate::OEQ, a[0], f32Const(nb, loc, -inf));
          Value zz = arith::SelectOp::create(nb, loc, pruned,
                                             f32Const(nb, loc, 0.0f), a[0]);
          return arith::SelectOp::create(nb, loc, pruned,
                                         f32Const(nb, loc, 0.0f),
                                         stableSigmoid(nb, loc, zz));
        });
  }

  // 4. The weights: p (or z) at the chosen experts, through top-k softmax,
  // renormalization and scale; slots the forward dropped are 0.
  Value weights;
  if (dw) {
    Value finalIdx = mapping.lookup(getResult(1));
    Value chosen = finalIdx;
    if (getSkipThresholdAttr() || getCapacityFactorAttr()) {
      // Skipping and capacity only drop slots (index -1, weight 0); the
      // renormalization saw every slot the top-k chose.
      // (A fresh copy of the score region: its arguments unmapped.)
      IRMapping copy = mapping;
      for (Block &blk : getScore())
        for (BlockArgument arg : blk.getArguments())
          copy.erase(arg);
      Operation *all = b.clone(*getOperation(), copy);
      all->removeAttr(getSkipThresholdAttrName());
      all->removeAttr(getCapacityFactorAttrName());
      constants.insert(all);
      chosen = all->getResult(1);
    }
    auto wType = cast<RankedTensorType>(dw.getType());
    SmallVector<int64_t> sShape(wType.getShape());
    SmallVector<Value> sDyn = dynamicSizes(b, loc, dw);
    // Loops (lead..., t, s, e).
    unsigned sl = n + 1, sDim = n - 1, e2 = n;
    AffineMap slotMap = g.map(sl, plus(rowDims, {sDim}));
    AffineMap lAtSlot = g.map(sl, plus(rowDims, {e2}));
    bool fromLogits = scoring == RouteScoring::topk_softmax ||
                      scoring == RouteScoring::none;
    Value u = g.generic(
        sl, {chosen, fromLogits ? z : p}, {slotMap, lAtSlot},
        g.init(sShape, sDyn, 0.0f), slotMap,
        [&](OpBuilder &nb, ValueRange a) -> Value {
          Value e = arith::IndexCastOp::create(
              nb, loc, nb.getI32Type(), linalg::IndexOp::create(nb, loc, e2));
          Value hit =
              arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::eq, a[0], e);
          return arith::AddFOp::create(
              nb, loc, a[2],
              arith::SelectOp::create(nb, loc, hit, a[1],
                                      f32Const(nb, loc, 0.0f)));
        });
    AffineMap sRow = g.map(loops, rowDims);
    AffineMap sId = g.map(loops, plus(rowDims, {sDim}));
    if (scoring == RouteScoring::topk_softmax) {
      Value masked = g.generic(
          loops, {u, chosen}, {sId, sId}, g.init(sShape, sDyn), sId,
          [&](OpBuilder &nb, ValueRange a) -> Value {
            Value valid = arith::CmpIOp::create(
                nb, loc, arith::CmpIPredicate::sge, a[1],
                arith::ConstantIntOp::create(nb, loc, nb.getI32Type(), 0));
            return arith::SelectOp::create(nb, loc, valid, a[0],
                                           f32Const(nb, loc, -inf));
          });
      constants.insert(masked.getDefiningOp());
      Value m = maxOver(loops, masked, sId, sRow, rowShape, rowDyn);
      u = g.generic(loops, {u, m, chosen}, {sId, sRow, sId},
                    g.init(sShape, sDyn), sId,
                    [&](OpBuilder &nb, ValueRange a) -> Value {
                      Value valid = arith::CmpIOp::create(
                          nb, loc, arith::CmpIPredicate::sge, a[2],
                          arith::ConstantIntOp::create(nb, loc,
                                                       nb.getI32Type(), 0));
                      Value ex = math::ExpOp::create(
                          nb, loc,
                          arith::SubFOp::create(nb, loc, a[0],
                                                finiteOrZero(nb, loc, a[1])));
                      return arith::SelectOp::create(nb, loc, valid, ex,
                                                     f32Const(nb, loc, 0.0f));
                    });
    }
    bool renorm = scoring == RouteScoring::topk_softmax || getRenormalize();
    float scale = getRoutedScale() ? getRoutedScale()->convertToFloat() : 1.0f;
    SmallVector<Value> wIns = {u, finalIdx};
    SmallVector<AffineMap> wMaps = {sId, sId};
    if (renorm) {
      wIns.push_back(g.generic(loops, {u}, {sId},
                               g.init(rowShape, rowDyn, 0.0f), sRow,
                               [&](OpBuilder &nb, ValueRange a) -> Value {
                                 return arith::AddFOp::create(nb, loc, a[1],
                                                              a[0]);
                               }));
      wMaps.push_back(sRow);
    }
    weights = g.generic(
        loops, wIns, wMaps, g.init(sShape, sDyn), sId,
        [&](OpBuilder &nb, ValueRange a) -> Value {
          Value w = a[0];
          if (renorm)
            w = arith::MulFOp::create(nb, loc, w, safeInverse(nb, loc, a[2]));
          if (scale != 1.0f)
            w = arith::MulFOp::create(nb, loc, w, f32Const(nb, loc, scale));
          Value kept = arith::CmpIOp::create(
              nb, loc, arith::CmpIPredicate::sge, a[1],
              arith::ConstantIntOp::create(nb, loc, nb.getI32Type(), 0));
          return arith::SelectOp::create(nb, loc, kept, w,
                                         f32Const(nb, loc, 0.0f));
        });
  }

  // 5. The probability sums over every token (lead dims included).
  Value sums;
  if (dps) {
    auto pType = cast<RankedTensorType>(dps.getType());
    sums = g.generic(
        loops, {p}, {lMap},
        g.init(pType.getShape(), dynamicSizes(b, loc, dps), 0.0f),
        g.map(loops, {eDim}), [&](OpBuilder &nb, ValueRange a) -> Value {
          Value isInf = arith::CmpFOp::create(
              nb, loc, arith::CmpFPredicate::OEQ, a[0], f32Const(nb, loc, -inf));
          return arith::AddFOp::create(
              nb, loc, a[1],
              arith::SelectOp::create(nb, loc, isInf, f32Const(nb, loc, 0.0f),
                                      a[0]));
        });
  }

  // 6. The reverse sweep over what was built.
  FailureOr<DenseMap<Value, Value>> adjoints =
      g.differentiate({{weights, dw}, {sums, dps}}, constants);
  if (failed(adjoints))
    return failure();
  operandAdjoints[0] = adjoints->lookup(input);
  if (Value weight = getWeight())
    operandAdjoints[1] = adjoints->lookup(mapping.lookup(weight));
  return success();
}

//===----------------------------------------------------------------------===//
// attn.experts
//===----------------------------------------------------------------------===//

LogicalResult
ExpertsOp::buildAdjoint(OpBuilder &b, IRMapping &mapping,
                        ArrayRef<Value> resultAdjoints,
                        SmallVectorImpl<Value> &operandAdjoints,
                        SmallVectorImpl<std::pair<Value, Value>> &) {
  // The layer written densely over the experts as linalg.generics and
  // differentiated with their own adjoints:
  //   G[t, e]    = sum_s (idx[t, s] == e) w[t, s]       (the routing matrix)
  //   A, B       = x W1[e], x W3[e]                       [T, E, F]
  //   O[t, e, :] = (act(A) * B)[t, e, :] W2[e]
  //   y[t, :]    = sum_e G[t, e] O[t, e, :]
  // Every expert's FFN runs on every token here: E / k times the routed
  // work of the forward, the price of a derived backward (no sorted
  // grouped matmuls yet). The indices are constants.
  Location loc = getLoc();
  // (Called with a result's gradient: the op is on tensors.)
  operandAdjoints.assign(getNumOperands(), Value());
  if (resultAdjoints.size() > 1 && resultAdjoints[1])
    return emitOpError("cannot be differentiated through its expert output "
                       "norms yet (a statistic: use them outside the loss)");
  Value dy = resultAdjoints[0];
  if (!dy)
    return success();
  TensorProgram g(b, loc);
  Value x = mapping.lookup(getInput()), w = mapping.lookup(getWeights()),
        idx = mapping.lookup(getIndices()), w1 = mapping.lookup(getW1()),
        w3 = mapping.lookup(getW3()), w2 = mapping.lookup(getW2());
  auto w1Type = cast<RankedTensorType>(w1.getType());
  int64_t numExperts = w1Type.getDimSize(0), hidden = w1Type.getDimSize(2);
  // (The verifier makes the expert matrices static.)
  int64_t dm = w1Type.getDimSize(1);
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t tokens = xType.getDimSize(0);
  SmallVector<Value> tDyn;
  if (xType.isDynamicDim(0))
    tDyn.push_back(tensor::DimOp::create(b, loc, x, 0));
  auto add = [&](OpBuilder &nb, Value acc, Value v) -> Value {
    return arith::AddFOp::create(nb, loc, acc, v);
  };
  auto mulAdd = [&](OpBuilder &nb, ValueRange a) -> Value {
    Value prod = arith::MulFOp::create(nb, loc, toF32(nb, loc, a[0]),
                                       toF32(nb, loc, a[1]));
    return add(nb, a[2], prod);
  };
  // G: loops (t, e, s).
  Value routing = g.generic(
      3, {w, idx}, {g.map(3, {0, 2}), g.map(3, {0, 2})},
      g.init({tokens, numExperts}, tDyn, 0.0f), g.map(3, {0, 1}),
      [&](OpBuilder &nb, ValueRange a) -> Value {
        Value e = arith::IndexCastOp::create(
            nb, loc, nb.getI32Type(), linalg::IndexOp::create(nb, loc, 1));
        Value hit =
            arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::eq, a[1], e);
        return add(nb, a[2],
                   arith::SelectOp::create(nb, loc, hit, toF32(nb, loc, a[0]),
                                           f32Const(nb, loc, 0.0f)));
      });
  // A, B: loops (t, e, f, m).
  auto project = [&](Value weight) {
    return g.generic(4, {x, weight}, {g.map(4, {0, 3}), g.map(4, {1, 3, 2})},
                     g.init({tokens, numExperts, hidden}, tDyn, 0.0f),
                     g.map(4, {0, 1, 2}), mulAdd);
  };
  Value a1 = project(w1), a3 = project(w3);
  AffineMap id3 = g.map(3, {0, 1, 2});
  Activation act = getActivation();
  Value h = g.generic(3, {a1, a3}, {id3, id3},
                      g.init({tokens, numExperts, hidden}, tDyn), id3,
                      [&](OpBuilder &nb, ValueRange a) -> Value {
                        // Sigmoid-based activations in the stable form: a
                        // token's pre-activation of an expert it was not
                        // routed to can be anything (exp(-a) = inf below
                        // a = -88 would give 0 * inf in the reverse sweep).
                        Value g1 = a[0];
                        Value y;
                        if (act == Activation::sigmoid)
                          y = stableSigmoid(nb, loc, g1);
                        else if (act == Activation::swish)
                          y = arith::MulFOp::create(nb, loc, g1,
                                                    stableSigmoid(nb, loc, g1));
                        else
                          y = GateOp::emitActivation(nb, loc, act, g1);
                        return arith::MulFOp::create(nb, loc, y, a[1]);
                      });
  // O: loops (t, e, d, f).
  Value o = g.generic(4, {h, w2}, {g.map(4, {0, 1, 3}), g.map(4, {1, 3, 2})},
                      g.init({tokens, numExperts, dm}, tDyn, 0.0f),
                      g.map(4, {0, 1, 2}), mulAdd);
  // y: loops (t, d, e).
  Value y = g.generic(3, {routing, o}, {g.map(3, {0, 2}), g.map(3, {0, 2, 1})},
                      g.init({tokens, dm}, tDyn, 0.0f), g.map(3, {0, 1}),
                      mulAdd);
  FailureOr<DenseMap<Value, Value>> adjoints = g.differentiate({{y, dy}});
  if (failed(adjoints))
    return failure();
  operandAdjoints[0] = adjoints->lookup(x);
  operandAdjoints[1] = adjoints->lookup(w);
  operandAdjoints[3] = adjoints->lookup(w1);
  operandAdjoints[4] = adjoints->lookup(w3);
  operandAdjoints[5] = adjoints->lookup(w2);
  return success();
}

//===----------------------------------------------------------------------===//
// attn.merge
//===----------------------------------------------------------------------===//

LogicalResult
MergeOp::buildAdjoint(OpBuilder &b, IRMapping &mapping,
                      ArrayRef<Value> resultAdjoints,
                      SmallVectorImpl<Value> &operandAdjoints,
                      SmallVectorImpl<std::pair<Value, Value>> &) {
  // The generics attn-decompose-merge emits, built on the primal values and
  // differentiated like any other (the LSEs' gradients from both summed).
  operandAdjoints.assign(getNumOperands(), Value());
  if (!isa<RankedTensorType>(getOutputs()[0].getType()))
    return emitOpError("is differentiated on tensors only");
  Value dO = resultAdjoints[0];
  Value dL = resultAdjoints.size() > 1 ? resultAdjoints[1] : Value();
  if (!dO && !dL)
    return success();
  TensorProgram g(b, getLoc());
  SmallVector<Value> partials, lses;
  for (Value p : getPartials())
    partials.push_back(mapping.lookup(p));
  for (Value l : getLses())
    lses.push_back(mapping.lookup(l));
  // A stacked merge's row maximum is a stabilizer: the result does not
  // depend on it, so it passes no gradient on.
  SmallVector<Operation *> stabilizers;
  SmallVector<Value, 2> results = buildGenerics(
      b, getLoc(), partials, lses,
      dO ? mapping.lookup(getOutputs()[0]) : Value(),
      dL ? mapping.lookup(getLseOutput()) : Value(), getStackDim(),
      &stabilizers);
  DenseSet<Operation *> constants(stabilizers.begin(), stabilizers.end());
  FailureOr<DenseMap<Value, Value>> adjoints =
      g.differentiate({{results[0], dO}, {results[1], dL}}, constants);
  if (failed(adjoints))
    return failure();
  // A value passed twice already has its whole adjoint: give it once.
  int64_t n = partials.size();
  DenseSet<Value> given;
  for (int64_t k = 0; k < 2 * n; ++k) {
    Value v = k < n ? partials[k] : lses[k - n];
    if (given.insert(v).second)
      operandAdjoints[k] = adjoints->lookup(v);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// attn.scan
//===----------------------------------------------------------------------===//

LogicalResult
ScanOp::buildAdjoint(OpBuilder &b, IRMapping &mapping,
                     ArrayRef<Value> resultAdjoints,
                     SmallVectorImpl<Value> &operandAdjoints,
                     SmallVectorImpl<std::pair<Value, Value>> &) {
  // The scan in its parallel (one-chunk) form, as linalg.generics that are
  // differentiated with their own adjoints. With Q = phi(q), K = phi(k) and
  // F[t, i] the decay from step i to step t (prod_{i<j<=t} D_j: 1,
  // lambda^(t-i), or exp(G_t - G_i) per channel with G the cumulative log
  // decays, attn.cumsum):
  //   A[t, i] = sum_c Q[t, c] K[i, c] F[t, i, c]   (i <= t)
  //   o[t]    = (sum_i A[t, i] v[i] + (Q[t] F[t, -1]) S0) / (sum_i A[t, i])
  //   S_L     = sum_i (K[i] F[L-1, i])^T v[i] + F[L-1, -1] S0
  // Every exponent of the channel decays is <= 0 where it is used (masked
  // entries are exp(-inf) = 0). O(L^2) work and an [L, L] matrix per
  // (batch, head): the gradients of the recurrence, not a chunked backward.
  Location loc = getLoc();
  // (Called with a result's gradient: the op is on tensors.)
  operandAdjoints.assign(getNumOperands(), Value());
  Value dO = resultAdjoints[0];
  Value dFinal = resultAdjoints.size() > 1 ? resultAdjoints[1] : Value();
  if (!dO && !dFinal)
    return success();
  TensorProgram g(b, loc);
  const float inf = std::numeric_limits<float>::infinity();
  Value q = mapping.lookup(getQuery()), k = mapping.lookup(getKey()),
        v = mapping.lookup(getValue());
  Value decays = getDecays() ? mapping.lookup(getDecays()) : Value();
  Value s0 = getState() ? mapping.lookup(getState()) : Value();
  DecayKind kind = getDecay();
  auto qType = cast<RankedTensorType>(q.getType());
  auto vType = cast<RankedTensorType>(v.getType());
  int64_t dk = qType.getDimSize(3), dv = vType.getDimSize(3);
  if (ShapedType::isDynamic(dk) || ShapedType::isDynamic(dv))
    return emitOpError("is differentiated with static head dims only");
  if (getReverse())
    return emitOpError("cannot be differentiated yet in reverse (its "
                       "parallel form is built for the forward recurrence)");
  SmallVector<int64_t> bhl(qType.getShape().take_front(3));
  SmallVector<Value> bhDyn, bhlDyn;
  SmallVector<Value> dims;
  for (int64_t d = 0; d < 3; ++d)
    dims.push_back(tensor::DimOp::create(b, loc, q, d));
  for (int64_t d = 0; d < 3; ++d)
    if (qType.isDynamicDim(d)) {
      bhlDyn.push_back(dims[d]);
      if (d < 2)
        bhDyn.push_back(dims[d]);
    }
  auto shape = [&](std::initializer_list<int64_t> tail, bool withL) {
    SmallVector<int64_t> s = {bhl[0], bhl[1]};
    if (withL)
      s.push_back(bhl[2]);
    s.append(tail);
    return s;
  };
  SmallVector<Value> bhllDyn = bhlDyn;
  if (qType.isDynamicDim(2))
    bhllDyn.push_back(dims[2]);

  // 1. Feature maps.
  AffineMap id4 = g.map(4, {0, 1, 2, 3});
  auto featureMap = [&](Value x) -> Value {
    return g.generic(4, {x}, {id4}, g.init(shape({dk}, true), bhlDyn), id4,
                     [&](OpBuilder &nb, ValueRange a) -> Value {
                       Value e = toF32(nb, loc, a[0]);
                       if (getFeatureMap().empty())
                         return e;
                       return inlineRegion(
                           nb, getFeatureMap(),
                           {e, linalg::IndexOp::create(nb, loc, 3)}, mapping);
                     });
  };
  Value fq = featureMap(q), fk = featureMap(k);

  // 2. Cumulative log decays (channel).
  Value cum, logs;
  if (kind == DecayKind::channel) {
    // Log decays below -80 (a decay of 0 is -inf) read as -80: e^-80 is 0
    // next to any other term, and G_t - G_i stays finite (-inf - -inf is
    // NaN).
    logs = g.generic(4, {decays}, {id4}, g.init(shape({dk}, true), bhlDyn),
                     id4, [&](OpBuilder &nb, ValueRange a) -> Value {
                       return arith::MaximumFOp::create(
                           nb, loc, toF32(nb, loc, a[0]),
                           f32Const(nb, loc, -80.0f));
                     });
    auto type = cast<RankedTensorType>(logs.getType());
    cum = CumsumOp::create(b, loc, TypeRange{type}, logs,
                           g.init(shape({dk}, true), bhlDyn),
                           b.getI64IntegerAttr(2), UnitAttr())
              .getResult(0);
  }
  // The decay factor from step i to step t (both index values, i <= t) at
  // channel c: exp(G_t[c] - G_i[c]), lambda^(t - i) or 1. `gt`/`gi` are
  // G_t[c], G_i[c]; `lambda` the head's decay.
  auto factor = [&](OpBuilder &nb, Value t, Value i, Value gt, Value gi,
                    Value lambda) -> Value {
    if (kind == DecayKind::channel)
      return math::ExpOp::create(nb, loc, arith::SubFOp::create(nb, loc, gt, gi));
    if (kind == DecayKind::head) {
      Value n = arith::SubIOp::create(nb, loc, t, i);
      Value nf = arith::SIToFPOp::create(
          nb, loc, nb.getF32Type(),
          arith::IndexCastOp::create(nb, loc, nb.getI64Type(), n));
      return math::PowFOp::create(nb, loc, toF32(nb, loc, lambda), nf);
    }
    return f32Const(nb, loc, 1.0f);
  };

  // 3. A[b, h, t, i]: loops (b, h, t, i, c).
  SmallVector<Value> aIns = {fq, fk};
  SmallVector<AffineMap> aMaps = {g.map(5, {0, 1, 2, 4}), g.map(5, {0, 1, 3, 4})};
  if (kind == DecayKind::channel) {
    aIns.append({cum, cum});
    aMaps.append({g.map(5, {0, 1, 2, 4}), g.map(5, {0, 1, 3, 4})});
  } else if (kind == DecayKind::head) {
    aIns.push_back(decays);
    aMaps.push_back(g.map(5, {1}));
  }
  Value scores = g.generic(
      5, aIns, aMaps,
      g.init(shape({bhl[2]}, true), bhllDyn, 0.0f), g.map(5, {0, 1, 2, 3}),
      [&](OpBuilder &nb, ValueRange a) -> Value {
        Value t = linalg::IndexOp::create(nb, loc, 2),
              i = linalg::IndexOp::create(nb, loc, 3);
        Value causal =
            arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::ule, i, t);
        Value qk = arith::MulFOp::create(nb, loc, a[0], a[1]);
        Value f;
        if (kind == DecayKind::channel) {
          // Masked pairs: exp(-inf) = 0 (no overflow for i > t).
          Value diff = arith::SelectOp::create(
              nb, loc, causal, arith::SubFOp::create(nb, loc, a[2], a[3]),
              f32Const(nb, loc, -inf));
          f = math::ExpOp::create(nb, loc, diff);
        } else if (kind == DecayKind::head) {
          Value safeI = arith::SelectOp::create(nb, loc, causal, i, t);
          f = factor(nb, t, safeI, Value(), Value(), a[2]);
        }
        Value term = f ? arith::MulFOp::create(nb, loc, qk, f).getResult() : qk;
        term = arith::SelectOp::create(nb, loc, causal, term,
                                       f32Const(nb, loc, 0.0f));
        return arith::AddFOp::create(nb, loc, a.back(), term);
      });

  // 4. o = A v (+ the initial state's contribution), / sum_i A (normalize).
  Value num = g.generic(
      5, {scores, v}, {g.map(5, {0, 1, 2, 4}), g.map(5, {0, 1, 4, 3})},
      g.init(shape({dv}, true), bhlDyn, 0.0f), g.map(5, {0, 1, 2, 3}),
      [&](OpBuilder &nb, ValueRange a) -> Value {
        return arith::AddFOp::create(
            nb, loc, a[2],
            arith::MulFOp::create(nb, loc, a[0], toF32(nb, loc, a[1])));
      });
  // The decay from the start (step -1) to step t at channel c:
  // exp(G_t[c]) or lambda^(t + 1).
  auto fromStart = [&](OpBuilder &nb, Value t, Value gt, Value lambda) -> Value {
    if (kind == DecayKind::channel)
      return math::ExpOp::create(nb, loc, gt);
    if (kind == DecayKind::head) {
      Value nf = arith::SIToFPOp::create(
          nb, loc, nb.getF32Type(),
          arith::IndexCastOp::create(
              nb, loc, nb.getI64Type(),
              arith::AddIOp::create(nb, loc, t,
                                    arith::ConstantIndexOp::create(nb, loc, 1))));
      return math::PowFOp::create(nb, loc, toF32(nb, loc, lambda), nf);
    }
    return Value();
  };
  if (s0) {
    // Loops (b, h, t, d, c).
    SmallVector<Value> ins = {fq, s0};
    SmallVector<AffineMap> maps = {g.map(5, {0, 1, 2, 4}),
                                   g.map(5, {0, 1, 4, 3})};
    if (kind == DecayKind::channel) {
      ins.push_back(cum);
      maps.push_back(g.map(5, {0, 1, 2, 4}));
    } else if (kind == DecayKind::head) {
      ins.push_back(decays);
      maps.push_back(g.map(5, {1}));
    }
    num = g.generic(5, ins, maps, num, g.map(5, {0, 1, 2, 3}),
                    [&](OpBuilder &nb, ValueRange a) -> Value {
                      Value qs = arith::MulFOp::create(nb, loc, a[0],
                                                       toF32(nb, loc, a[1]));
                      if (kind != DecayKind::none)
                        qs = arith::MulFOp::create(
                            nb, loc, qs,
                            fromStart(nb, linalg::IndexOp::create(nb, loc, 2),
                                      a[2], a[2]));
                      return arith::AddFOp::create(nb, loc, a.back(), qs);
                    });
  }
  Value out = num;
  if (getNormalize()) {
    Value den = g.generic(4, {scores}, {id4},
                          g.init(shape({}, true), bhlDyn, 0.0f),
                          g.map(4, {0, 1, 2}),
                          [&](OpBuilder &nb, ValueRange a) -> Value {
                            return arith::AddFOp::create(nb, loc, a[1], a[0]);
                          });
    out = g.generic(4, {num, den}, {id4, g.map(4, {0, 1, 2})},
                    g.init(shape({dv}, true), bhlDyn), id4,
                    [&](OpBuilder &nb, ValueRange a) -> Value {
                      return arith::DivFOp::create(nb, loc, a[0], a[1]);
                    });
  }

  // 5. The final state: loops (b, h, c, d, i).
  Value final;
  if (dFinal) {
    SmallVector<Value> ins = {fk, v};
    SmallVector<AffineMap> maps = {g.map(5, {0, 1, 4, 2}),
                                   g.map(5, {0, 1, 4, 3})};
    Value cumLast;
    if (kind == DecayKind::channel) {
      // G_{L-1} [B, H, Dk]: the sum of all log decays (0 when L = 0).
      cumLast = g.generic(4, {logs}, {id4}, g.init(shape({dk}, false), bhDyn, 0.0f),
                          g.map(4, {0, 1, 3}),
                          [&](OpBuilder &nb, ValueRange a) -> Value {
                            return arith::AddFOp::create(nb, loc, a[1], a[0]);
                          });
      ins.append({cum, cumLast});
      maps.append({g.map(5, {0, 1, 4, 2}), g.map(5, {0, 1, 2})});
    } else if (kind == DecayKind::head) {
      ins.push_back(decays);
      maps.push_back(g.map(5, {1}));
    }
    AffineMap sMap = g.map(5, {0, 1, 2, 3});
    final = g.generic(
        5, ins, maps, g.init(shape({dk, dv}, false), bhDyn, 0.0f), sMap,
        [&](OpBuilder &nb, ValueRange a) -> Value {
          Value kv = arith::MulFOp::create(nb, loc, a[0], toF32(nb, loc, a[1]));
          if (kind == DecayKind::channel)
            kv = arith::MulFOp::create(nb, loc, kv,
                                       factor(nb, Value(), Value(), a[3], a[2],
                                              Value()));
          else if (kind == DecayKind::head)
            kv = arith::MulFOp::create(
                nb, loc, kv,
                factor(nb, arith::SubIOp::create(
                               nb, loc,
                               tensor::DimOp::create(nb, loc, q, 2),
                               arith::ConstantIndexOp::create(nb, loc, 1)),
                       linalg::IndexOp::create(nb, loc, 4), Value(), Value(),
                       a[2]));
          return arith::AddFOp::create(nb, loc, a.back(), kv);
        });
    if (s0) {
      // Loops (b, h, c, d).
      SmallVector<Value> sIns = {s0};
      SmallVector<AffineMap> sMaps = {id4};
      if (kind == DecayKind::channel) {
        sIns.push_back(cumLast);
        sMaps.push_back(g.map(4, {0, 1, 2}));
      } else if (kind == DecayKind::head) {
        sIns.push_back(decays);
        sMaps.push_back(g.map(4, {1}));
      }
      final = g.generic(
          4, sIns, sMaps, final, id4,
          [&](OpBuilder &nb, ValueRange a) -> Value {
            Value s = toF32(nb, loc, a[0]);
            if (kind != DecayKind::none)
              s = arith::MulFOp::create(
                  nb, loc, s,
                  fromStart(nb, arith::SubIOp::create(
                                    nb, loc,
                                    tensor::DimOp::create(nb, loc, q, 2),
                                    arith::ConstantIndexOp::create(nb, loc, 1)),
                            a[1], a[1]));
            return arith::AddFOp::create(nb, loc, a.back(), s);
          });
    }
  }

  // 6. The reverse sweep.
  FailureOr<DenseMap<Value, Value>> adjoints =
      g.differentiate({{out, dO}, {final, dFinal}});
  if (failed(adjoints))
    return failure();
  operandAdjoints[0] = adjoints->lookup(q);
  operandAdjoints[1] = adjoints->lookup(k);
  operandAdjoints[2] = adjoints->lookup(v);
  unsigned next = 3;
  if (decays)
    operandAdjoints[next++] = adjoints->lookup(decays);
  if (s0)
    operandAdjoints[next++] = adjoints->lookup(s0);
  return success();
}

void mlir::attn::registerAdjointExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, arith::ArithDialect *) {
    arith::AddFOp::attachInterface<ScalarAdjoint<arith::AddFOp>>(*ctx);
    arith::SubFOp::attachInterface<ScalarAdjoint<arith::SubFOp>>(*ctx);
    arith::MulFOp::attachInterface<ScalarAdjoint<arith::MulFOp>>(*ctx);
    arith::DivFOp::attachInterface<ScalarAdjoint<arith::DivFOp>>(*ctx);
    arith::NegFOp::attachInterface<ScalarAdjoint<arith::NegFOp>>(*ctx);
    arith::ExtFOp::attachInterface<ScalarAdjoint<arith::ExtFOp>>(*ctx);
    arith::TruncFOp::attachInterface<ScalarAdjoint<arith::TruncFOp>>(*ctx);
    arith::MaximumFOp::attachInterface<ScalarAdjoint<arith::MaximumFOp>>(*ctx);
    arith::MaxNumFOp::attachInterface<ScalarAdjoint<arith::MaxNumFOp>>(*ctx);
    arith::MinimumFOp::attachInterface<ScalarAdjoint<arith::MinimumFOp>>(*ctx);
    arith::MinNumFOp::attachInterface<ScalarAdjoint<arith::MinNumFOp>>(*ctx);
    arith::SelectOp::attachInterface<ScalarAdjoint<arith::SelectOp>>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::InsertSliceOp::attachInterface<InsertSliceAdjoint>(*ctx);
    tensor::ExtractSliceOp::attachInterface<ExtractSliceAdjoint>(*ctx);
    tensor::ExpandShapeOp::attachInterface<ExpandShapeAdjoint>(*ctx);
    tensor::CollapseShapeOp::attachInterface<CollapseShapeAdjoint>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, linalg::LinalgDialect *) {
    linalg::GenericOp::attachInterface<GenericAdjoint>(*ctx);
    linalg::FillOp::attachInterface<FillAdjoint>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, math::MathDialect *) {
    math::FmaOp::attachInterface<ScalarAdjoint<math::FmaOp>>(*ctx);
    math::ExpOp::attachInterface<ScalarAdjoint<math::ExpOp>>(*ctx);
    math::Exp2Op::attachInterface<ScalarAdjoint<math::Exp2Op>>(*ctx);
    math::ExpM1Op::attachInterface<ScalarAdjoint<math::ExpM1Op>>(*ctx);
    math::LogOp::attachInterface<ScalarAdjoint<math::LogOp>>(*ctx);
    math::Log2Op::attachInterface<ScalarAdjoint<math::Log2Op>>(*ctx);
    math::Log1pOp::attachInterface<ScalarAdjoint<math::Log1pOp>>(*ctx);
    math::TanhOp::attachInterface<ScalarAdjoint<math::TanhOp>>(*ctx);
    math::SqrtOp::attachInterface<ScalarAdjoint<math::SqrtOp>>(*ctx);
    math::RsqrtOp::attachInterface<ScalarAdjoint<math::RsqrtOp>>(*ctx);
    math::SinOp::attachInterface<ScalarAdjoint<math::SinOp>>(*ctx);
    math::CosOp::attachInterface<ScalarAdjoint<math::CosOp>>(*ctx);
    math::TanOp::attachInterface<ScalarAdjoint<math::TanOp>>(*ctx);
    math::PowFOp::attachInterface<ScalarAdjoint<math::PowFOp>>(*ctx);
    math::AbsFOp::attachInterface<ScalarAdjoint<math::AbsFOp>>(*ctx);
  });
}

//===----------------------------------------------------------------------===//
// Regions
//===----------------------------------------------------------------------===//

/// True for a value a gradient can flow through (a float scalar or tensor).
static bool isDifferentiable(Value v) {
  Type t = v.getType();
  if (auto shaped = dyn_cast<ShapedType>(t))
    t = shaped.getElementType();
  return isa<FloatType>(t);
}

LogicalResult mlir::attn::reverseSweep(
    OpBuilder &b, llvm::iterator_range<Block::iterator> ops, IRMapping &mapping,
    DenseMap<Value, Value> &adjoints,
    function_ref<LogicalResult(Operation &, ArrayRef<Value>)> special) {
  // The ops first: adjoints may be emitted right after the range (a
  // reverse iterator at its end would then walk into them).
  SmallVector<Operation *> order;
  for (Operation &o : ops)
    order.push_back(&o);
  for (Operation *op : llvm::reverse(order)) {
    Operation &o = *op;
    SmallVector<Value> resultAdjoints;
    bool any = false;
    for (Value r : o.getResults()) {
      resultAdjoints.push_back(adjoints.lookup(r));
      any |= static_cast<bool>(resultAdjoints.back());
    }
    if (!any || (special && succeeded(special(o, resultAdjoints))))
      continue;
    auto adjoint = dyn_cast<AdjointOpInterface>(o);
    if (!adjoint && !llvm::any_of(o.getOperands(), isDifferentiable))
      continue; // Constants, and floats made of integers (sitofp).
    if (!adjoint)
      return o.emitError("cannot differentiate '")
             << o.getName() << "': it has no adjoint (reverse-mode rule)";
    SmallVector<Value> operandAdjoints;
    SmallVector<std::pair<Value, Value>> captured;
    if (failed(adjoint.buildAdjoint(b, mapping, resultAdjoints, operandAdjoints,
                                    captured)))
      return failure();
    for (auto [operand, adj] : llvm::zip(o.getOperands(), operandAdjoints))
      if (adj && isDifferentiable(operand))
        adjoints[operand] =
            addAdjoints(b, o.getLoc(), adjoints.lookup(operand), adj);
    for (auto [value, adj] : captured)
      adjoints[value] = addAdjoints(b, o.getLoc(), adjoints.lookup(value), adj);
  }
  return success();
}

FailureOr<SmallVector<Value>>
mlir::attn::buildRegionAdjoint(OpBuilder &b, Region &region, ValueRange args,
                               Value seed, IRMapping &mapping,
                               SmallVectorImpl<CapturedAdjoint> *captured) {
  Block &block = region.front();
  for (auto [arg, val] : llvm::zip(block.getArguments(), args))
    mapping.map(arg, val);
  // The primal body, then the adjoints in reverse.
  for (Operation &o : block.without_terminator())
    b.clone(o, mapping);
  DenseMap<Value, Value> adjoints;
  adjoints[block.getTerminator()->getOperand(0)] = seed;
  // A float tensor.extract whose value gets a gradient: a captured
  // tensor's gradient (the caller accumulates it), or an error.
  bool unsupported = false;
  auto readsTensor = [&](Operation &o, ArrayRef<Value> adj) -> LogicalResult {
    auto extract = dyn_cast<tensor::ExtractOp>(o);
    if (!extract)
      return failure(); // not handled here
    if (captured) {
      captured->push_back({extract, adj[0]});
    } else {
      extract.emitError("cannot differentiate with respect to a tensor read "
                        "in this region yet (its gradient is not supported)");
      unsupported = true;
    }
    return success();
  };
  if (failed(reverseSweep(
          b, llvm::make_range(block.begin(), block.without_terminator().end()),
          mapping, adjoints, readsTensor)) ||
      unsupported)
    return failure();
  SmallVector<Value> result;
  for (BlockArgument arg : block.getArguments())
    result.push_back(adjoints.lookup(arg));
  return result;
}

//===----------------------------------------------------------------------===//
// attn.attention
//===----------------------------------------------------------------------===//

/// The float tensors defined above `op` that its `regions` read, in order
/// of first read.
static SmallVector<Value> capturedTensors(Operation *op,
                                          ArrayRef<Region *> regions) {
  SmallVector<Value> captures;
  for (Region *r : regions)
    r->walk([&](tensor::ExtractOp e) {
      Value t = e.getTensor();
      if (isDifferentiable(e.getResult()) &&
          !op->isAncestor(t.getParentRegion()->getParentOp()) &&
          !llvm::is_contained(captures, t))
        captures.push_back(t);
    });
  return captures;
}

/// Emits one attn.grad_accumulate per captured adjoint at `b`.
static void accumulateCaptured(OpBuilder &b, ArrayRef<CapturedAdjoint> adjs,
                               ArrayRef<Value> captures, IRMapping &mapping) {
  for (CapturedAdjoint c : adjs) {
    int64_t k = llvm::find(captures, c.extract.getTensor()) - captures.begin();
    SmallVector<Value> indices;
    for (Value i : c.extract.getIndices())
      indices.push_back(mapping.lookupOrDefault(i));
    Value g = c.adjoint;
    if (!g.getType().isF32())
      g = arith::TruncFOp::create(b, c.extract.getLoc(), b.getF32Type(), g);
    GradAccumulateOp::create(b, c.extract.getLoc(), g, b.getI64IntegerAttr(k),
                             indices);
  }
}

LogicalResult AttentionOp::buildAdjoint(
    OpBuilder &b, IRMapping &mapping, ArrayRef<Value> resultAdjoints,
    SmallVectorImpl<Value> &operandAdjoints,
    SmallVectorImpl<std::pair<Value, Value>> &capturedAdjoints) {
  Location loc = getLoc();
  if (!isa<RankedTensorType>(getQuery().getType()))
    return emitOpError("is differentiated on tensors only");
  auto unsupported = [&](StringRef what) {
    return emitOpError("cannot be differentiated yet: ") << what;
  };
  bool softmax = getNormalizer() == Normalizer::softmax;
  if (getKvLens())
    return unsupported(isPaged() ? "a paged key/value cache (serving reads "
                                   "it; training takes dense keys)"
                                 : "per-request key lengths (kv_lens)");
  if (isQuantized())
    return unsupported("a quantized key/value cache (its codes have no "
                       "gradient)");
  // attn-generate-backward unfuses these stages into generics and second
  // attentions first.
  if (getQuery2() || !getEpilogue().empty() || getRmsNormEps() ||
      getRowEntropy() || getColumnScores())
    return unsupported("a second map, rms_norm, an epilogue or side outputs "
                       "(the training "
                       "forward unfuses them)");
  if (softmax && !getLse())
    return emitOpError("needs its log-sum-exp to be differentiated (the "
                       "training forward adds it)");

  Value q = mapping.lookup(getQuery()), k = mapping.lookup(getKey()),
        v = mapping.lookup(getValue());
  Value o = mapping.lookup(getResult(0));
  Value lse = softmax ? mapping.lookup(getResult(1)) : Value();
  Value dO = resultAdjoints[0] ? resultAdjoints[0] : zeroAdjoint(b, loc, o);
  Value dLse =
      softmax && resultAdjoints.size() > 1 ? resultAdjoints[1] : Value();
  // Tensors the score and sink regions read get gradients too (a sink
  // region that reads none needs nothing: the sink is in the saved LSE).
  SmallVector<Value> sinkCaptures = capturedTensors(*this, {&getSink()});
  SmallVector<Value> captures =
      capturedTensors(*this, {&getScore(), &getSink()});
  SmallVector<Value> outs;
  auto emptyLike = [&](Value x) {
    auto t = cast<RankedTensorType>(x.getType());
    outs.push_back(tensor::EmptyOp::create(b, loc, t.getShape(), b.getF32Type(),
                                           dynamicSizes(b, loc, x)));
  };
  for (Value x : {q, k, v})
    emptyLike(x);
  for (Value c : captures)
    emptyLike(mapping.lookup(c));
  auto grad = AttentionBackwardOp::create(
      b, loc, TypeRange(ValueRange(outs)), q, k, v, o, lse, dO, dLse, outs,
      getCausalAttr(), b.getF32FloatAttr(getScaleValue()), getNormalizerAttr());
  // The score and mask regions as written (values they read mapped into
  // the backward's function), and the derivative of the score region.
  if (!getScore().empty())
    getScore().cloneInto(&grad.getScore(), mapping);
  Type f32 = b.getF32Type(), idx = b.getIndexType();
  if (Value sel = getBlocks()) {
    // A block selection is a mask: key j is visible to row i iff its block
    // j / n is one of the row's selected blocks (entries out of range never
    // match), and the op's own mask allows it.
    OpBuilder::InsertionGuard guard(b);
    Block *block = b.createBlock(&grad.getMask());
    for (int k = 0; k < 4; ++k)
      block->addArgument(idx, loc);
    Value bb = block->getArgument(0), h = block->getArgument(1),
          i = block->getArgument(2), j = block->getArgument(3);
    Value visible = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
    if (!getMask().empty()) {
      IRMapping m = mapping;
      Block &user = getMask().front();
      for (auto [from, to] :
           llvm::zip(user.getArguments(), block->getArguments()))
        m.map(from, to);
      for (Operation &o : user.without_terminator())
        b.clone(o, m);
      visible = m.lookup(user.getTerminator()->getOperand(0));
    }
    Value blk = arith::DivUIOp::create(
        b, loc, j, arith::ConstantIndexOp::create(b, loc, *getBlockSize()));
    Value chosen = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    Value selected = mapping.lookup(sel);
    for (int64_t s = 0; s < getBlocksType().getDimSize(3); ++s) {
      Value x = tensor::ExtractOp::create(
          b, loc, selected,
          ValueRange{bb, h, i, arith::ConstantIndexOp::create(b, loc, s)});
      Value n = arith::IndexCastOp::create(b, loc, idx, x);
      chosen = arith::OrIOp::create(
          b, loc, chosen,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, n, blk));
    }
    YieldOp::create(b, loc,
                    arith::AndIOp::create(b, loc, visible, chosen).getResult());
  } else if (!getMask().empty()) {
    getMask().cloneInto(&grad.getMask(), mapping);
  }
  if (!getScore().empty()) {
    OpBuilder::InsertionGuard guard(b);
    Block *block = b.createBlock(&grad.getScoreGrad());
    for (Type t : {f32, f32, idx, idx, idx, idx})
      block->addArgument(t, loc);
    SmallVector<Value> args = {block->getArgument(0)};
    args.append(block->args_begin() + 2, block->args_end());
    IRMapping regionMapping = mapping;
    SmallVector<CapturedAdjoint> captured;
    FailureOr<SmallVector<Value>> adj = buildRegionAdjoint(
        b, getScore(), args, block->getArgument(1), regionMapping, &captured);
    if (failed(adj))
      return failure();
    accumulateCaptured(b, captured, captures, regionMapping);
    Value dr = (*adj)[0];
    if (!dr)
      dr = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    YieldOp::create(b, loc, dr);
  }
  if (!sinkCaptures.empty()) {
    getSink().cloneInto(&grad.getSink(), mapping);
    OpBuilder::InsertionGuard guard(b);
    Block *block = b.createBlock(&grad.getSinkGrad());
    for (Type t : {f32, idx, idx, idx})
      block->addArgument(t, loc);
    IRMapping regionMapping = mapping;
    SmallVector<CapturedAdjoint> captured;
    if (failed(buildRegionAdjoint(
            b, getSink(), block->getArguments().drop_front(),
            block->getArgument(0), regionMapping, &captured)))
      return failure();
    accumulateCaptured(b, captured, captures, regionMapping);
    YieldOp::create(b, loc);
  }
  operandAdjoints.assign(getNumOperands(), Value());
  operandAdjoints[0] = grad.getResult(0);
  operandAdjoints[1] = grad.getResult(1);
  operandAdjoints[2] = grad.getResult(2);
  for (auto [i, c] : llvm::enumerate(captures))
    capturedAdjoints.push_back({c, grad.getResult(3 + i)});
  return success();
}
