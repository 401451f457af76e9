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

#include <cmath>

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
  // y = a^c: da = g c y / a, dc = g y log a.
  return {DIV(MUL(MUL(g, x[1]), y), x[0]),
          MUL(MUL(g, y), math::LogOp::create(b, loc, x[0]))};
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
  for (Operation &o : llvm::reverse(ops)) {
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
  if (getRowEntropy() || getColumnScores())
    return unsupported("side outputs (row_entropy, column_scores)");
  // attn-generate-backward unfuses these stages into generics first.
  if (getQuery2() || !getEpilogue().empty() || getRmsNormEps())
    return unsupported("a second map, rms_norm or an epilogue (the training "
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
