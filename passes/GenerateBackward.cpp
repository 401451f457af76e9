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
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
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

/// `x` (an f32 tensor) converted elementwise to `type`'s element type.
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
               Value y = arith::TruncFOp::create(nb, nl, to.getElementType(),
                                                 args[0]);
               linalg::YieldOp::create(nb, nl, y);
             })
      .getResult(0);
}

/// @f_train: @f with an LSE on every attention, returning the saved state
/// after its results. Fills `saved` with the saved values' types.
static LogicalResult buildTrain(func::FuncOp train,
                                SmallVectorImpl<Type> &savedTypes) {
  IRRewriter rewriter(train.getContext());
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
    if (!cast<RankedTensorType>(seed.getType()).getElementType().isF32()) {
      auto t = cast<RankedTensorType>(seed.getType());
      Value init =
          tensor::EmptyOp::create(b, ret.getLoc(), t.getShape(), b.getF32Type(),
                                  dynamicSizes(b, ret.getLoc(), seed));
      int64_t rank = t.getRank();
      SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
      SmallVector<utils::IteratorType> iters(rank,
                                             utils::IteratorType::parallel);
      seed = linalg::GenericOp::create(
                 b, ret.getLoc(), init.getType(), ValueRange{seed},
                 ValueRange{init}, maps, iters,
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   linalg::YieldOp::create(
                       nb, nl,
                       arith::ExtFOp::create(nb, nl, nb.getF32Type(), args[0])
                           .getResult());
                 })
                 .getResult(0);
    }
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
