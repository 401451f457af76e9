//===- GenerateBackward.cpp - @f_train and @f_backward ----------*- C++ -*-===//
//
// Part of the attn project.
//
// Reverse-mode differentiation of whole functions. The pass knows no op: it
// recomputes the forward (attentions excepted: their output and LSE are
// saved by the training forward), then asks each op for its adjoint through
// AdjointOpInterface, last op first, summing the gradients of values used
// more than once.
//
//===----------------------------------------------------------------------===//

#include "dialect/Adjoint.h"
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

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGENERATEBACKWARDPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// A tensor whose elements are floats: what gradients flow through.
static bool isFloatTensor(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && isa<FloatType>(r.getElementType());
}

static bool isDifferentiable(Value v) {
  Type t = v.getType();
  if (auto shaped = dyn_cast<ShapedType>(t))
    t = shaped.getElementType();
  return isa<FloatType>(t);
}

/// `x` (a float tensor) converted elementwise to `type`'s element type
/// (truncated or extended).
static Value castTensor(OpBuilder &b, Location loc, Value x, Type type) {
  auto to = cast<RankedTensorType>(type);
  if (x.getType() == to)
    return x;
  Value init = tensor::EmptyOp::create(
      b, loc, to.getShape(), to.getElementType(), dynamicSizes(b, loc, x));
  int64_t rank = to.getRank();
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, to, ValueRange{x}, ValueRange{init}, maps, iters,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Type elem = to.getElementType();
               Value y =
                   elem.getIntOrFloatBitWidth() <
                           args[0].getType().getIntOrFloatBitWidth()
                       ? arith::TruncFOp::create(nb, nl, elem, args[0])
                             .getResult()
                       : arith::ExtFOp::create(nb, nl, elem, args[0])
                             .getResult();
               linalg::YieldOp::create(nb, nl, y);
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// Training form: the fused stages after the attention as generics
//===----------------------------------------------------------------------===//

/// A linalg.generic over the (b, h, i, d) space of `like` computing the
/// scalar region `region` (arguments: `numValues` floats read from
/// `values`, then the indices b, h, i, d) into a tensor of element type
/// `elem`. Each float `tensor.extract` of a tensor defined outside the
/// region at indices that are region indices or constants becomes an input
/// of the generic at the matching map, so that its gradient is a plain
/// broadcast reduction.
static FailureOr<Value> regionAsGeneric(OpBuilder &b, Location loc,
                                        Region &region, ValueRange values,
                                        Value like, Type elem) {
  Block &block = region.front();
  unsigned numValues = values.size();
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(4, ctx);
  SmallVector<Value> ins(values.begin(), values.end());
  SmallVector<AffineMap> maps(numValues, id);
  DenseMap<Operation *, unsigned> promoted; // extract -> input number
  for (Operation &o : block.without_terminator()) {
    auto e = dyn_cast<tensor::ExtractOp>(o);
    if (!e || !isDifferentiable(e.getResult()) ||
        region.isAncestor(e.getTensor().getParentRegion()))
      continue;
    SmallVector<AffineExpr> exprs;
    for (Value i : e.getIndices()) {
      auto arg = dyn_cast<BlockArgument>(i);
      if (arg && arg.getOwner() == &block && arg.getArgNumber() >= numValues) {
        exprs.push_back(getAffineDimExpr(arg.getArgNumber() - numValues, ctx));
        continue;
      }
      IntegerAttr c;
      if (matchPattern(i, m_Constant(&c))) {
        exprs.push_back(getAffineConstantExpr(c.getInt(), ctx));
        continue;
      }
      return e.emitError("is differentiated only at indices that are the "
                         "region's (b, h, i, d) or constants");
    }
    promoted[e] = ins.size();
    ins.push_back(e.getTensor());
    maps.push_back(AffineMap::get(4, 0, exprs, ctx));
  }
  auto likeType = cast<RankedTensorType>(like.getType());
  Value init = tensor::EmptyOp::create(b, loc, likeType.getShape(), elem,
                                       dynamicSizes(b, loc, like));
  maps.push_back(id);
  SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
  auto gen = linalg::GenericOp::create(
      b, loc, init.getType(), ins, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        IRMapping m;
        for (unsigned k = 0; k < numValues; ++k)
          m.map(block.getArgument(k), args[k]);
        for (unsigned d = 0; d < 4; ++d)
          m.map(block.getArgument(numValues + d),
                linalg::IndexOp::create(nb, nl, d));
        for (Operation &o : block.without_terminator()) {
          auto it = promoted.find(&o);
          if (it != promoted.end())
            m.map(o.getResult(0), args[it->second]);
          else
            nb.clone(o, m);
        }
        Value y = m.lookup(block.getTerminator()->getOperand(0));
        if (y.getType() != elem)
          y = arith::TruncFOp::create(nb, nl, elem, y);
        linalg::YieldOp::create(nb, nl, y);
      });
  return gen.getResult(0);
}

/// x / sqrt(mean_d(x^2) + eps) over the head dim of the f32 tensor `x`: a
/// sum into [b, h, i], then an elementwise generic.
static Value rmsNormAsGenerics(OpBuilder &b, Location loc, Value x,
                               double eps) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  Type f32 = b.getF32Type();
  AffineMap id = AffineMap::getMultiDimIdentityMap(4, ctx);
  AffineMap row = AffineMap::get(
      4, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
             getAffineDimExpr(2, ctx)},
      ctx);
  SmallVector<Value> dims = dynamicSizes(b, loc, x);
  SmallVector<Value> rowDims;
  for (int64_t d : {0, 1, 2})
    if (xType.isDynamicDim(d))
      rowDims.push_back(tensor::DimOp::create(b, loc, x, d));
  auto rowType = RankedTensorType::get(
      {xType.getDimSize(0), xType.getDimSize(1), xType.getDimSize(2)}, f32);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value acc = linalg::FillOp::create(
                  b, loc, zero,
                  ValueRange{tensor::EmptyOp::create(b, loc, rowType, rowDims)})
                  .getResult(0);
  using utils::IteratorType;
  Value ss =
      linalg::GenericOp::create(
          b, loc, rowType, ValueRange{x}, ValueRange{acc},
          SmallVector<AffineMap>{id, row},
          SmallVector<IteratorType>{IteratorType::parallel,
                                    IteratorType::parallel,
                                    IteratorType::parallel,
                                    IteratorType::reduction},
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value sq = arith::MulFOp::create(nb, nl, args[0], args[0]);
            linalg::YieldOp::create(
                nb, nl, arith::AddFOp::create(nb, nl, args[1], sq).getResult());
          })
          .getResult(0);
  float invDim = 1.0f / static_cast<float>(xType.getDimSize(3));
  Value init = tensor::EmptyOp::create(b, loc, xType, dims);
  return linalg::GenericOp::create(
             b, loc, xType, ValueRange{x, ss}, ValueRange{init},
             SmallVector<AffineMap>{id, row, id},
             SmallVector<IteratorType>(4, IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value ms = arith::MulFOp::create(
                   nb, nl, args[1],
                   arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(invDim)));
               Value r = math::RsqrtOp::create(
                   nb, nl,
                   arith::AddFOp::create(
                       nb, nl, ms,
                       arith::ConstantOp::create(
                           nb, nl, nb.getF32FloatAttr(static_cast<float>(eps)))));
               linalg::YieldOp::create(
                   nb, nl, arith::MulFOp::create(nb, nl, args[0], r).getResult());
             })
      .getResult(0);
}

/// Rewrites an attention with a second map, rms_norm or an epilogue as the
/// attentions of its maps (f32 outputs, the first keeping the LSE) followed
/// by generics for the combine region, the norm and the epilogue: the same
/// values (in f32 until the epilogue), now made of ops that have adjoints.
/// The fused op stays in @f; the training forward pays the unfused stages.
static LogicalResult unfuseForTraining(AttentionOp op, RewriterBase &rw) {
  if (!op.getQuery2() && !op.getRmsNormEps() && op.getEpilogue().empty())
    return success();
  if (op.getBlocks() || op.getRowEntropy() || op.getColumnScores() ||
      op.getKvLens() || op.isQuantized())
    return success(); // refused with their reason by the adjoint
  Location loc = op.getLoc();
  rw.setInsertionPoint(op);
  Type f32 = rw.getF32Type();
  auto outType = cast<RankedTensorType>(op.getOutputType());
  auto f32Out = RankedTensorType::get(outType.getShape(), f32);
  SmallVector<Value> outDims = dynamicSizes(rw, loc, op.getOutput());
  auto attend = [&](Value q, Value k, bool withLse) {
    SmallVector<Value> outs = {
        tensor::EmptyOp::create(rw, loc, f32Out, outDims)};
    SmallVector<Type> types = {f32Out};
    if (withLse) {
      outs.push_back(op.getLse());
      types.push_back(op.getLse().getType());
    }
    auto a = AttentionOp::create(
        rw, loc, types, q, k, op.getValue(), Value(), Value(), Value(), Value(),
        Value(), Value(), Value(), Value(), Value(), outs, op.getCausalAttr(),
        op.getScaleAttr(),
        op.getNormalizerAttr(), FloatAttr(), IntegerAttr(), UnitAttr(),
        UnitAttr(), FloatAttr(), UnitAttr(), nullptr, nullptr);
    IRMapping m;
    op.getScore().cloneInto(&a.getScore(), m);
    op.getMask().cloneInto(&a.getMask(), m);
    op.getSink().cloneInto(&a.getSink(), m);
    return a;
  };
  AttentionOp first = attend(op.getQuery(), op.getKey(), op.getLse() != nullptr);
  Value x = first.getResult(0);
  if (op.getQuery2()) {
    AttentionOp second = attend(op.getQuery2(), op.getKey2(), false);
    FailureOr<Value> c = regionAsGeneric(
        rw, loc, op.getCombine(), ValueRange{x, second.getResult(0)}, x, f32);
    if (failed(c))
      return failure();
    x = *c;
  }
  if (std::optional<APFloat> eps = op.getRmsNormEps())
    x = rmsNormAsGenerics(rw, loc, x, eps->convertToDouble());
  Value y;
  if (!op.getEpilogue().empty()) {
    FailureOr<Value> e = regionAsGeneric(rw, loc, op.getEpilogue(),
                                         ValueRange{x}, x,
                                         outType.getElementType());
    if (failed(e))
      return failure();
    y = *e;
  } else {
    y = castTensor(rw, loc, x, outType);
  }
  SmallVector<Value> replacements = {y};
  if (op.getLse())
    replacements.push_back(first.getResult(1));
  rw.replaceOp(op, replacements);
  return success();
}

/// @f_train: @f with an LSE on every attention, returning the saved state
/// after its results. Fills `saved` with the saved values' types.
static LogicalResult buildTrain(func::FuncOp train,
                                SmallVectorImpl<Type> &savedTypes) {
  IRRewriter rewriter(train.getContext());
  // Side outputs (row entropy, column scores) as second attentions from the
  // first one's LSE, and generics: their gradients flow through those.
  SmallVector<AttentionOp> withSideOutputs;
  // A fused rotary embedding becomes attn.rope ops on the query and keys,
  // whose adjoint is the inverse rotation of their gradients.
  SmallVector<AttentionOp> rotated;
  train.walk([&](AttentionOp op) {
    if (op->getParentOp() == train && op.getRope() && !op.getKvLens() &&
        !op.isQuantized())
      rotated.push_back(op);
  });
  for (AttentionOp op : rotated)
    if (failed(materializeRope(rewriter, op)))
      return failure();
  train.walk([&](AttentionOp op) {
    if (op->getParentOp() == train &&
        (op.getRowEntropy() || op.getColumnScores()))
      withSideOutputs.push_back(op);
  });
  for (AttentionOp op : withSideOutputs)
    expandSideOutputs(rewriter, op);
  SmallVector<AttentionOp> fused;
  train.walk([&](AttentionOp op) { fused.push_back(op); });
  for (AttentionOp op : fused)
    if (op->getParentOp() == train && failed(unfuseForTraining(op, rewriter)))
      return failure();
  SmallVector<AttentionOp> attentions;
  train.walk([&](AttentionOp op) { attentions.push_back(op); });
  SmallVector<Value> saved;
  for (AttentionOp op : attentions) {
    if (op->getParentOp() != train)
      return op.emitOpError("is differentiated only at the top level of a "
                            "function");
    if (!isa<RankedTensorType>(op.getQuery().getType()))
      return op.emitOpError("is differentiated on tensors only");
    bool softmax = op.getNormalizer() == Normalizer::softmax;
    if (softmax && !op.getLse()) {
      rewriter.setInsertionPoint(op);
      Location loc = op.getLoc();
      auto q = cast<RankedTensorType>(op.getQuery().getType());
      auto lseType = RankedTensorType::get(
          {q.getDimSize(0), q.getDimSize(1), q.getDimSize(2)},
          rewriter.getF32Type());
      SmallVector<Value> dims;
      for (int64_t d : {0, 2})
        if (q.isDynamicDim(d))
          dims.push_back(
              tensor::DimOp::create(rewriter, loc, op.getQuery(), d));
      Value init = tensor::EmptyOp::create(rewriter, loc, lseType, dims);
      SmallVector<Value> operands(op->getOperands());
      size_t outStart = op.getOutputs().getBeginOperandIndex();
      operands.insert(operands.begin() + outStart + 1, init);
      SmallVector<Type> types(op->getResultTypes());
      types.insert(types.begin() + 1, lseType);
      AttentionOp grown = op.cloneWithOperands(rewriter, operands, types);
      SmallVector<Value> replacements(grown->getResults());
      replacements.erase(replacements.begin() + 1);
      rewriter.replaceOp(op, replacements);
      op = grown;
    }
    saved.push_back(op.getResult(0));
    if (softmax)
      saved.push_back(op.getResult(1)); // sigmoid attention has no LSE
  }
  auto ret = cast<func::ReturnOp>(train.getBody().front().getTerminator());
  SmallVector<Value> results(ret.getOperands());
  results.append(saved);
  rewriter.setInsertionPoint(ret);
  func::ReturnOp::create(rewriter, ret.getLoc(), results);
  rewriter.eraseOp(ret);
  for (Value v : saved)
    savedTypes.push_back(v.getType());
  SmallVector<Type> resultTypes;
  for (Value v : results)
    resultTypes.push_back(v.getType());
  train.setFunctionType(FunctionType::get(
      train.getContext(), train.getArgumentTypes(), resultTypes));
  return success();
}

/// @f_backward from @f_train (see the pass description).
static LogicalResult buildBackward(func::FuncOp train, func::FuncOp backward,
                                   unsigned numResults, unsigned numSaved) {
  Block &body = train.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  unsigned numInputs = train.getNumArguments();
  Block *entry = backward.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockBegin(entry);

  IRMapping mapping;
  for (unsigned i = 0; i < numInputs; ++i)
    mapping.map(train.getArgument(i), entry->getArgument(i));
  // The forward: recomputed, the attentions' results taken from `saved`.
  unsigned next = numInputs;
  for (Operation &op : body.without_terminator()) {
    if (auto attn = dyn_cast<AttentionOp>(op)) {
      mapping.map(attn.getResult(0), entry->getArgument(next++));
      if (attn.getNormalizer() == Normalizer::softmax)
        mapping.map(attn.getResult(1), entry->getArgument(next++));
      continue;
    }
    b.clone(op, mapping);
  }
  // Seeds: one gradient per float result.
  DenseMap<Value, Value> adjoints;
  unsigned dy = numInputs + numSaved;
  for (unsigned j = 0; j < numResults; ++j) {
    Value y = ret.getOperand(j);
    if (!isFloatTensor(y.getType()))
      continue;
    Value seed = entry->getArgument(dy++);
    auto seedType = cast<RankedTensorType>(seed.getType());
    seed = castTensor(b, ret.getLoc(), seed,
                      RankedTensorType::get(seedType.getShape(), b.getF32Type()));
    adjoints[y] = addAdjoints(b, ret.getLoc(), adjoints.lookup(y), seed);
  }
  // The reverse sweep.
  if (failed(reverseSweep(
          b, llvm::make_range(body.begin(), body.without_terminator().end()),
          mapping, adjoints)))
    return failure();
  // One gradient per float input.
  SmallVector<Value> grads;
  for (unsigned i = 0; i < numInputs; ++i) {
    BlockArgument x = train.getArgument(i);
    if (!isFloatTensor(x.getType()))
      continue;
    Value g = adjoints.lookup(x);
    Location loc = train.getLoc();
    if (!g)
      g = zeroAdjoint(b, loc, entry->getArgument(i));
    grads.push_back(castTensor(b, loc, g, x.getType()));
  }
  func::ReturnOp::create(b, train.getLoc(), grads);
  return success();
}

/// `attn.arg_roles` on @f_train and @f_backward: what each argument and
/// result is (attn-compile's header prints them).
static void setRoles(func::FuncOp f, func::FuncOp train,
                     func::FuncOp backward) {
  Builder b(f.getContext());
  auto name = [&](unsigned i) {
    return ("x" + Twine(i) + " (input " + Twine(i) + " of @" + f.getSymName() +
            ")")
        .str();
  };
  SmallVector<std::string> trainRoles, backRoles;
  for (unsigned i = 0; i < f.getNumArguments(); ++i) {
    trainRoles.push_back(name(i));
    backRoles.push_back(name(i));
  }
  for (unsigned j = 0; j < f.getNumResults(); ++j)
    trainRoles.push_back(("y" + Twine(j) + " (result " + Twine(j) + ")").str());
  // The saved state, attention by attention: O, then the LSE of a softmax.
  unsigned attention = 0;
  for (AttentionOp op : train.getOps<AttentionOp>()) {
    std::string at = ("attention " + Twine(attention++)).str();
    SmallVector<std::string> saved = {"saved O of " + at};
    if (op.getNormalizer() == Normalizer::softmax)
      saved.push_back("saved LSE of " + at);
    for (const std::string &s : saved) {
      trainRoles.push_back(s);
      backRoles.push_back(s);
    }
  }
  for (auto [j, t] : llvm::enumerate(f.getResultTypes()))
    if (isFloatTensor(t))
      backRoles.push_back(
          ("dy" + Twine(j) + " (gradient of result " + Twine(j) + ")").str());
  for (auto [i, t] : llvm::enumerate(f.getArgumentTypes()))
    if (isFloatTensor(t))
      backRoles.push_back(
          ("dx" + Twine(i) + " (gradient of input " + Twine(i) + ")").str());
  auto attr = [&](ArrayRef<std::string> roles) {
    SmallVector<Attribute> a;
    for (const std::string &r : roles)
      a.push_back(b.getStringAttr(r));
    return b.getArrayAttr(a);
  };
  train->setAttr("attn.arg_roles", attr(trainRoles));
  backward->setAttr("attn.arg_roles", attr(backRoles));
}

/// @f_grad(x..., dy...) -> (dx...): the body of @f_train, then that of
/// @f_backward with the saved values passed straight through.
static func::FuncOp buildCombined(func::FuncOp f, func::FuncOp train,
                                  func::FuncOp backward, StringRef name) {
  unsigned numInputs = f.getNumArguments();
  unsigned numResults = f.getNumResults();
  unsigned numSaved = train.getNumResults() - numResults;
  SmallVector<Type> args(f.getArgumentTypes());
  llvm::append_range(
      args, backward.getArgumentTypes().drop_front(numInputs + numSaved));
  OpBuilder b(f.getContext());
  b.setInsertionPointAfter(backward);
  auto grad = func::FuncOp::create(
      b, f.getLoc(), name, b.getFunctionType(args, backward.getResultTypes()));
  Block *entry = grad.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping trainMap;
  for (unsigned i = 0; i < numInputs; ++i)
    trainMap.map(train.getArgument(i), entry->getArgument(i));
  for (Operation &op : train.getBody().front().without_terminator())
    b.clone(op, trainMap);
  auto trainRet =
      cast<func::ReturnOp>(train.getBody().front().getTerminator());
  IRMapping backMap;
  unsigned next = 0;
  for (unsigned i = 0; i < numInputs; ++i)
    backMap.map(backward.getArgument(next++), entry->getArgument(i));
  for (Value saved : trainRet.getOperands().drop_front(numResults))
    backMap.map(backward.getArgument(next++), trainMap.lookup(saved));
  for (unsigned i = numInputs; i < entry->getNumArguments(); ++i)
    backMap.map(backward.getArgument(next++), entry->getArgument(i));
  for (Operation &op : backward.getBody().front())
    b.clone(op, backMap);
  // Roles: @f_backward's without the saved state.
  if (auto roles = backward->getAttrOfType<ArrayAttr>("attn.arg_roles")) {
    SmallVector<Attribute> kept(roles.getValue().take_front(numInputs));
    llvm::append_range(kept, roles.getValue().drop_front(numInputs + numSaved));
    grad->setAttr("attn.arg_roles", b.getArrayAttr(kept));
  }
  return grad;
}

struct GenerateBackward
    : attn::impl::AttnGenerateBackwardPassBase<GenerateBackward> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> functions;
    for (auto f : module.getOps<func::FuncOp>())
      if (f.isPublic() && !f.isExternal())
        functions.push_back(f);
    for (func::FuncOp f : functions) {
      std::string trainName = (f.getSymName() + "_train").str();
      std::string backwardName = (f.getSymName() + "_backward").str();
      std::string gradName = (f.getSymName() + "_grad").str();
      if (module.lookupSymbol(trainName) || module.lookupSymbol(backwardName)) {
        f.emitError("cannot generate @")
            << backwardName << ": @" << trainName << " or @" << backwardName
            << " already exists";
        return signalPassFailure();
      }
      if (combined && module.lookupSymbol(gradName)) {
        f.emitError("cannot generate @") << gradName << ": it already exists";
        return signalPassFailure();
      }
      if (!f.getBody().hasOneBlock()) {
        f.emitError("is differentiated only with a single-block body");
        return signalPassFailure();
      }
      OpBuilder b(module.getContext());
      b.setInsertionPointAfter(f);
      auto train = cast<func::FuncOp>(b.clone(*f));
      train.setSymName(trainName);
      SmallVector<Type> savedTypes;
      if (failed(buildTrain(train, savedTypes)))
        return signalPassFailure();

      SmallVector<Type> args(f.getArgumentTypes());
      args.append(savedTypes);
      for (Type t : f.getResultTypes())
        if (isFloatTensor(t))
          args.push_back(t);
      SmallVector<Type> results;
      for (Type t : f.getArgumentTypes())
        if (isFloatTensor(t))
          results.push_back(t);
      b.setInsertionPointAfter(train);
      auto backward = func::FuncOp::create(b, f.getLoc(), backwardName,
                                           b.getFunctionType(args, results));
      if (failed(buildBackward(train, backward, f.getNumResults(),
                               savedTypes.size()))) {
        return signalPassFailure();
      }
      setRoles(f, train, backward);
      if (combined)
        buildCombined(f, train, backward, gradName);
    }
  }
};

} // namespace
