//===- FuseElementwise.cpp - fold elementwise ops into attention -*- C++
//-*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNFUSEELEMENTWISEPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Returns the scalar value of a splat float constant (tensor or scalar).
static std::optional<double> getSplatFloat(Value v) {
  FloatAttr scalar;
  if (matchPattern(v, m_Constant(&scalar)))
    return scalar.getValueAsDouble();
  DenseElementsAttr dense;
  if (matchPattern(v, m_Constant(&dense)) && dense.isSplat() &&
      isa<FloatType>(dense.getElementType()))
    return dense.getSplatValue<APFloat>().convertToDouble();
  return std::nullopt;
}

static bool isIdentityElementwiseGeneric(linalg::GenericOp generic) {
  return generic.getNumDpsInits() == 1 &&
         llvm::all_of(generic.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isIdentity(); }) &&
         llvm::all_of(generic.getIteratorTypesArray(),
                      [](utils::IteratorType t) {
                        return t == utils::IteratorType::parallel;
                      });
}

/// A linalg.generic consumer of `out` that can become an epilogue: all loops
/// parallel, one init, `out` and the init read with the identity map, other
/// inputs broadcast along some dims (projected permutations, e.g. a per-row
/// gate (b, h, i, d) -> (b, h, i)).
static bool isFusibleConsumerGeneric(linalg::GenericOp generic, Value out) {
  if (generic.getNumDpsInits() != 1 ||
      !llvm::all_of(generic.getIteratorTypesArray(), [](utils::IteratorType t) {
        return t == utils::IteratorType::parallel;
      }))
    return false;
  for (OpOperand &operand : generic->getOpOperands()) {
    AffineMap map = generic.getMatchingIndexingMap(&operand);
    bool mustBeIdentity = operand.get() == out || generic.isDpsInit(&operand);
    if (mustBeIdentity ? !map.isIdentity() : !map.isProjectedPermutation())
      return false;
  }
  return true;
}

/// Matches `x * c` or `x / c` (c a splat constant) in arith on tensors or in
/// an elementwise linalg.generic; returns x and the factor.
static std::optional<std::pair<Value, double>> matchScaledTensor(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return std::nullopt;
  if (auto mul = dyn_cast<arith::MulFOp>(def)) {
    if (auto c = getSplatFloat(mul.getRhs()))
      return std::make_pair(mul.getLhs(), *c);
    if (auto c = getSplatFloat(mul.getLhs()))
      return std::make_pair(mul.getRhs(), *c);
  }
  if (auto div = dyn_cast<arith::DivFOp>(def))
    if (auto c = getSplatFloat(div.getRhs()); c && *c != 0.0)
      return std::make_pair(div.getLhs(), 1.0 / *c);
  auto generic = dyn_cast<linalg::GenericOp>(def);
  if (!generic || !isIdentityElementwiseGeneric(generic) ||
      generic.getNumDpsInputs() != 1)
    return std::nullopt;
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Value in = body.getArgument(0);
  Operation *scalarOp = yield.getValues()[0].getDefiningOp();
  if (!scalarOp || scalarOp->getBlock() != &body)
    return std::nullopt;
  Value input = generic.getDpsInputs()[0];
  if (auto mul = dyn_cast<arith::MulFOp>(scalarOp)) {
    if (mul.getLhs() == in)
      if (auto c = getSplatFloat(mul.getRhs()))
        return std::make_pair(input, *c);
    if (mul.getRhs() == in)
      if (auto c = getSplatFloat(mul.getLhs()))
        return std::make_pair(input, *c);
  }
  if (auto div = dyn_cast<arith::DivFOp>(scalarOp))
    if (div.getLhs() == in)
      if (auto c = getSplatFloat(div.getRhs()); c && *c != 0.0)
        return std::make_pair(input, 1.0 / *c);
  return std::nullopt;
}

/// attn.attention(scale(c) * Q) -> attn.attention with scale * c.
struct FoldQueryScale : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics())
      return failure();
    auto scaled = matchScaledTensor(op.getQuery());
    if (!scaled || scaled->first.getType() != op.getQuery().getType())
      return rewriter.notifyMatchFailure(op, "query is not a scaled tensor");
    float newScale = static_cast<float>(op.getScaleValue() * scaled->second);
    if (!std::isfinite(newScale) || newScale == 0.0f)
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      op.getQueryMutable().assign(scaled->first);
      op.setScaleAttr(rewriter.getF32FloatAttr(newScale));
    });
    return success();
  }
};

/// Folds a single-use elementwise consumer of the attention output into the
/// epilogue region.
struct FoldOutputConsumer : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.getNumSideOutputs())
      return failure();
    Value out = op.getResult(0);
    if (!out.hasOneUse())
      return rewriter.notifyMatchFailure(op, "output has several uses");
    Operation *user = *out.getUsers().begin();
    auto outType = cast<RankedTensorType>(out.getType());

    // Describe the consumer as: operands, a scalar body builder and an init.
    auto generic = dyn_cast<linalg::GenericOp>(user);
    bool elementwise = OpTrait::hasElementwiseMappableTraits(user) &&
                       user->getNumResults() == 1 &&
                       llvm::all_of(user->getOperandTypes(), [&](Type t) {
                         auto rt = dyn_cast<RankedTensorType>(t);
                         return rt && rt.getShape() == outType.getShape();
                       });
    if (generic &&
        (!isFusibleConsumerGeneric(generic, out) ||
         generic.getNumResults() != 1 ||
         llvm::any_of(generic.getDpsInits(),
                      [&](Value v) { return v == out; }) ||
         !generic.getRegion().front().getArguments().back().use_empty()))
      return rewriter.notifyMatchFailure(op, "generic consumer is not a map");
    if (!generic && !elementwise)
      return rewriter.notifyMatchFailure(op, "consumer is not elementwise");
    // The epilogue cannot read the attention's own other results (its LSE,
    // as a merge of partials does): they do not exist inside it.
    if (llvm::any_of(user->getOperands(), [&](Value v) {
          return v != out && v.getDefiningOp() == op.getOperation();
        }))
      return rewriter.notifyMatchFailure(op, "consumer reads another result");

    auto resultType = cast<RankedTensorType>(user->getResult(0).getType());
    Type newElem = resultType.getElementType();
    if (!newElem.isF32() && !newElem.isF16() && !newElem.isBF16())
      return rewriter.notifyMatchFailure(op, "unsupported output type");

    rewriter.setInsertionPoint(user);
    Location loc = user->getLoc();
    // The new destination: the generic's init, or a fresh empty tensor.
    Value init;
    if (generic) {
      init = generic.getDpsInits()[0];
    } else {
      SmallVector<OpFoldResult> sizes =
          tensor::getMixedSizes(rewriter, loc, op.getOutput());
      init = tensor::EmptyOp::create(rewriter, loc, sizes, newElem);
    }
    SmallVector<Value> outputs{init};
    if (Value lse = op.getLse())
      outputs.push_back(lse);
    SmallVector<Type> resultTypes{init.getType()};
    if (Value lse = op.getLse())
      resultTypes.push_back(lse.getType());
    auto newOp = AttentionOp::create(
        rewriter, op.getLoc(), resultTypes, op.getQuery(), op.getKey(),
        op.getValue(), op.getQuery2(), op.getKey2(), op.getBlocks(),
        op.getKvLens(), op.getPageTable(), op.getKeyScale(),
        op.getValueScale(), op.getQoIndptr(), op.getPlan(), outputs, op.getCausalAttr(),
        op.getScaleAttr(), op.getNormalizerAttr(), op.getRmsNormEpsAttr(),
        op.getBlockSizeAttr(), /*row_entropy=*/nullptr,
        /*column_scores=*/nullptr,
        /*score_decay=*/nullptr, /*value_norm=*/nullptr,
        op.getPageLayoutAttr(), op.getRopeAttr());
    IRMapping regionMap;
    op.getScore().cloneInto(&newOp.getScore(), regionMap);
    op.getMask().cloneInto(&newOp.getMask(), regionMap);
    op.getSink().cloneInto(&newOp.getSink(), regionMap);
    op.getCombine().cloneInto(&newOp.getCombine(), regionMap);

    // Build the epilogue: the old epilogue (if any), then the consumer.
    Region &epi = newOp.getEpilogue();
    Type idx = rewriter.getIndexType();
    Block *block = rewriter.createBlock(
        &epi, epi.end(), {rewriter.getF32Type(), idx, idx, idx, idx},
        SmallVector<Location>(5, loc));
    Value x = block->getArgument(0);
    if (!op.getEpilogue().empty()) {
      IRMapping m;
      Block &old = op.getEpilogue().front();
      for (auto [a, b] : llvm::zip(old.getArguments(), block->getArguments()))
        m.map(a, b);
      for (Operation &o : old.without_terminator())
        rewriter.clone(o, m);
      x = m.lookup(AttentionOp::getYieldedValue(op.getEpilogue()));
    }
    SmallVector<Value> coords(block->getArguments().drop_front());
    // The consumer's operand at the element's coordinates (through its
    // indexing map, for broadcast operands of a generic).
    auto scalarOperand = [&](Value operand, AffineMap map) -> Value {
      if (operand == out)
        return x;
      Type elem = cast<ShapedType>(operand.getType()).getElementType();
      if (auto c = getSplatFloat(operand))
        return arith::ConstantOp::create(rewriter, loc, elem,
                                         rewriter.getFloatAttr(elem, *c));
      SmallVector<Value> at;
      if (!map)
        at = coords;
      else
        for (AffineExpr e : map.getResults())
          at.push_back(coords[cast<AffineDimExpr>(e).getPosition()]);
      return tensor::ExtractOp::create(rewriter, loc, operand, at);
    };
    Value yielded;
    if (generic) {
      Block &body = generic.getRegion().front();
      IRMapping m;
      for (OpOperand *operand : generic.getDpsInputOperands())
        m.map(body.getArgument(operand->getOperandNumber()),
              scalarOperand(operand->get(),
                            generic.getMatchingIndexingMap(operand)));
      for (Operation &o : body.without_terminator())
        rewriter.clone(o, m);
      yielded =
          m.lookup(cast<linalg::YieldOp>(body.getTerminator()).getValues()[0]);
    } else {
      SmallVector<Value> operands;
      for (Value operand : user->getOperands())
        operands.push_back(scalarOperand(operand, AffineMap()));
      OperationState state(loc, user->getName(), operands, TypeRange{newElem},
                           user->getAttrs());
      yielded = rewriter.create(state)->getResult(0);
    }
    YieldOp::create(rewriter, loc, yielded);

    rewriter.replaceOp(user, newOp.getResult(0));
    if (op.getLse())
      rewriter.replaceAllUsesWith(op.getResult(1), newOp.getResult(1));
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.gate on tensors -> the equivalent elementwise linalg.generic
/// (`x * act(g)`, g through a projected map), which FoldOutputConsumer then
/// folds into the producing attention's epilogue like any other consumer.
struct GateToGeneric : OpRewritePattern<GateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GateOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics())
      return failure();
    Operation *generic = op.buildGeneric(rewriter, op.getInput(),
                                         op.getGate(), op.getOutput());
    rewriter.replaceOp(op, generic->getResults());
    return success();
  }
};

struct FuseElementwise
    : attn::impl::AttnFuseElementwisePassBase<FuseElementwise> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<GateToGeneric, FoldQueryScale, FoldOutputConsumer>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
