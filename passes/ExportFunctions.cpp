//===- ExportFunctions.cpp - C ABI for public functions ---------*- C++ -*-===//
//
// Part of the attn project.
//
// Gives each public function destination arguments for its results and an
// `attn.abi` signature: element types, static dims and symbols for the
// dynamic dims that the program's ops require to be equal, and the lower
// bounds the regions' reads impose on the tensors they read. The runtime
// checks every call against the signature, so kernels can trust their
// shapes.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/EquivalenceClasses.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNEXPORTFUNCTIONSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// A dimension of a shaped SSA value, or a loop dimension of an op.
using DimKey = std::pair<const void *, unsigned>;

/// Union-find over dims that must be equal at run time.
class DimEquivalence {
public:
  void unite(DimKey a, DimKey b) { classes.unionSets(a, b); }
  void uniteValues(Value a, Value b) {
    auto ta = dyn_cast<ShapedType>(a.getType());
    auto tb = dyn_cast<ShapedType>(b.getType());
    if (!ta || !tb || !ta.hasRank() || !tb.hasRank() ||
        ta.getRank() != tb.getRank())
      return;
    for (unsigned d = 0; d < ta.getRank(); ++d)
      unite(key(a, d), key(b, d));
  }
  void uniteDims(Value a, unsigned da, Value b, unsigned db) {
    if (a && b)
      unite(key(a, da), key(b, db));
  }
  static DimKey key(Value v, unsigned d) { return {v.getAsOpaquePointer(), d}; }
  DimKey leader(DimKey k) {
    classes.insert(k);
    return classes.getLeaderValue(k);
  }

private:
  llvm::EquivalenceClasses<DimKey> classes;
};

/// The shape relations of an attention's q, k, v, output O and optional
/// LSE (shared by attn.attention and attn.attention_backward): one batch,
/// O has q's rows, v has k's keys, the LSE is [batch, heads, rows].
static void uniteAttentionDims(DimEquivalence &eq, Value q, Value k, Value v,
                               Value o, Value lse) {
  for (Value x : {k, v, o})
    eq.uniteDims(q, 0, x, 0);
  eq.uniteDims(q, 2, o, 2);
  eq.uniteDims(k, 2, v, 2);
  if (lse)
    for (unsigned d = 0; d < 3; ++d)
      eq.uniteDims(q, d, lse, d);
}

/// A quantized operand's scale: its dims of one scale per index are the
/// operand's.
static void uniteScaleDims(DimEquivalence &eq, Value data, Value scale) {
  if (!scale)
    return;
  auto dt = cast<ShapedType>(data.getType());
  for (auto [d, block] : llvm::enumerate(
           getScaleBlocks(dt, cast<ShapedType>(scale.getType()))))
    if (block == 1)
      eq.uniteDims(data, d, scale, d);
}

/// Records the dim equalities the ops of `func` impose.
static void collectEqualities(func::FuncOp func, DimEquivalence &eq) {
  func.walk([&](Operation *op) {
    if (auto attn = dyn_cast<AttentionOp>(op)) {
      uniteScaleDims(eq, attn.getKey(), attn.getKeyScale());
      uniteScaleDims(eq, attn.getValue(), attn.getValueScale());
    }
    if (auto quant = dyn_cast<QuantizeKVOp>(op)) {
      eq.uniteValues(quant.getInput(), quant.getOutputs()[0]);
      uniteScaleDims(eq, quant.getOutputs()[0], quant.getScales());
    }
    if (auto attn = dyn_cast<AttentionOp>(op)) {
      Value q = attn.getQuery(), k = attn.getKey();
      // A ragged batch: queries, outputs and LSE per token; keys, lengths
      // and table per request (dim 0 of the pointer is one more).
      Value perRequest = attn.isRagged() ? attn.getKvLens() : q;
      if (attn.isRagged() && !attn.isPaged()) {
        Value o = attn.getOutput();
        eq.uniteDims(q, 0, o, 0);
        eq.uniteDims(k, 0, attn.getValue(), 0);
        eq.uniteDims(k, 2, attn.getValue(), 2);
        eq.uniteDims(k, 0, perRequest, 0);
        if (Value lse = attn.getLse())
          for (unsigned d = 0; d < 3; ++d)
            eq.uniteDims(q, d, lse, d);
      } else if (attn.isPaged()) {
        // Pools: [pages, ...] each, the table [batch, max_pages].
        Value o = attn.getOutput();
        eq.uniteDims(q, 0, o, 0);
        eq.uniteDims(q, 2, o, 2);
        eq.uniteDims(k, 0, attn.getValue(), 0);
        if (Value lse = attn.getLse())
          for (unsigned d = 0; d < 3; ++d)
            eq.uniteDims(q, d, lse, d);
        eq.uniteDims(perRequest, 0, attn.getPageTable(), 0);
      } else {
        uniteAttentionDims(eq, q, k, attn.getValue(), attn.getOutput(),
                           attn.getLse());
      }
      if (Value lens = attn.getKvLens())
        eq.uniteDims(perRequest, 0, lens, 0);
      if (Value plan = attn.getPlan())
        eq.uniteDims(attn.getQoIndptr(), 0, plan, 1);
      if (Value scores = attn.getScoresOutput()) {
        eq.uniteDims(q, 0, scores, 0);
        eq.uniteDims(k, 2, scores, 2);
      }
      if (Value q2 = attn.getQuery2()) {
        for (int64_t d = 0; d < 4; ++d) {
          eq.uniteDims(q, d, q2, d);
          eq.uniteDims(k, d, attn.getKey2(), d);
        }
      }
    }
    if (auto attn = dyn_cast<AttentionOp>(op); attn && attn.getBlocks())
      for (int64_t d = 0; d < 3; ++d)
        eq.uniteDims(attn.getQuery(), d, attn.getBlocks(), d);
    if (auto route = dyn_cast<RouteOp>(op)) {
      Value in = route.getInput();
      int64_t rank = cast<ShapedType>(in.getType()).getRank();
      for (Value out : {route.getWeights(), route.getIndices()})
        for (int64_t d = 0; d + 1 < rank; ++d)
          eq.uniteDims(in, d, out, d);
      if (Value w = route.getWeight()) {
        int64_t wRank = cast<ShapedType>(w.getType()).getRank();
        for (int64_t d = 0; d + 2 < wRank; ++d)
          eq.uniteDims(in, d, w, d);
        eq.uniteDims(in, rank - 1, w, wRank - 2);
      }
    }
    if (auto experts = dyn_cast<ExpertsOp>(op)) {
      for (Value v : {Value(experts.getWeights()), Value(experts.getIndices()),
                      experts.getOutput()})
        eq.uniteDims(experts.getInput(), 0, v, 0);
      eq.uniteDims(experts.getWeights(), 1, experts.getIndices(), 1);
      if (Value norms = experts.getNorms()) {
        eq.uniteDims(experts.getInput(), 0, norms, 0);
        eq.uniteDims(experts.getWeights(), 1, norms, 1);
      }
    }
    if (auto gate = dyn_cast<GateOp>(op)) {
      int64_t rank = cast<ShapedType>(gate.getInput().getType()).getRank();
      for (int64_t d = 0; d < rank; ++d)
        eq.uniteDims(gate.getInput(), d, gate.getOutput(), d);
      for (auto [pos, d] : llvm::enumerate(gate.getGateDims()))
        eq.uniteDims(gate.getInput(), d, gate.getGate(), pos);
    }
    if (auto pool = dyn_cast<PoolOp>(op)) {
      int64_t rank = cast<ShapedType>(pool.getInput().getType()).getRank();
      for (int64_t d = 0; d + 2 < rank; ++d)
        eq.uniteDims(pool.getInput(), d, pool.getOutput(), d);
    }
    if (auto evict = dyn_cast<EvictOp>(op)) {
      Value k = evict.getKeys();
      int64_t rank = cast<ShapedType>(k.getType()).getRank();
      for (int64_t d = 0; d + 1 < rank; ++d) {
        eq.uniteDims(k, d, evict.getValues(), d);
        if (Value s = evict.getScores())
          eq.uniteDims(k, d, s, d);
      }
      for (int64_t d = 0; d + 2 < rank; ++d)
        for (Value o : evict.getOutputs())
          eq.uniteDims(k, d, o, d);
      eq.uniteDims(evict.getKeysOutput(), rank - 2, evict.getIndicesOutput(),
                   rank - 2);
      eq.uniteDims(evict.getValuesOutput(), rank - 2,
                   evict.getIndicesOutput(), rank - 2);
      eq.uniteDims(k, rank - 1, evict.getKeysOutput(), rank - 1);
      eq.uniteDims(evict.getValues(), rank - 1, evict.getValuesOutput(),
                   rank - 1);
    }
    if (auto append = dyn_cast<AppendKVOp>(op)) {
      eq.uniteDims(append.getKeys(), 0, append.getSlots(), 0);
      eq.uniteDims(append.getValues(), 0, append.getSlots(), 0);
      eq.uniteDims(append.getKeyPool(), 0, append.getValuePool(), 0);
    }
    if (auto cumsum = dyn_cast<CumsumOp>(op)) {
      int64_t rank = cast<ShapedType>(cumsum.getInput().getType()).getRank();
      for (int64_t d = 0; d < rank; ++d)
        eq.uniteDims(cumsum.getInput(), d, cumsum.getOutput(), d);
    }
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(op)) {
      for (OpResult r : op->getResults())
        eq.uniteValues(r, dps.getTiedOpOperand(r)->get());
      if (auto generic = dyn_cast<linalg::LinalgOp>(op)) {
        // Each operand dim equals the loop dim its indexing map names
        // (generics and the named ops: linalg.add's operands are one shape).
        for (OpOperand &operand : op->getOpOperands()) {
          AffineMap map = generic.getMatchingIndexingMap(&operand);
          for (unsigned d = 0; d < map.getNumResults(); ++d)
            if (auto dimExpr = dyn_cast<AffineDimExpr>(map.getResult(d)))
              eq.unite(DimEquivalence::key(operand.get(), d),
                       {op, dimExpr.getPosition()});
        }
      }
    }
    if (OpTrait::hasElementwiseMappableTraits(op)) {
      SmallVector<Value> shaped;
      for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults()))
        if (isa<RankedTensorType>(v.getType()))
          shaped.push_back(v);
      for (size_t i = 1; i < shaped.size(); ++i)
        eq.uniteValues(shaped[0], shaped[i]);
    }
    if (auto empty = dyn_cast<tensor::EmptyOp>(op)) {
      auto type = empty.getType();
      for (unsigned d = 0; d < type.getRank(); ++d) {
        if (!type.isDynamicDim(d))
          continue;
        auto dim = empty.getDynamicSize(d).getDefiningOp<tensor::DimOp>();
        std::optional<int64_t> index =
            dim ? getConstantIntValue(dim.getDimension()) : std::nullopt;
        if (index)
          eq.uniteDims(empty.getResult(), d, dim.getSource(), *index);
      }
    }
    if (auto cast = dyn_cast<tensor::CastOp>(op))
      eq.uniteValues(cast.getSource(), cast.getResult());
    if (auto grad = dyn_cast<AttentionBackwardOp>(op)) {
      // The forward's shape relations between q, k, v and O, LSE, dO (and
      // the gradients have their primal's shape): the runtime then rejects
      // saved state of another call's shape.
      Value q = grad.getQuery(), k = grad.getKey(), v = grad.getValue(),
            o = grad.getOut();
      uniteAttentionDims(eq, q, k, v, o, grad.getLse());
      uniteAttentionDims(eq, q, k, v, o, grad.getGradLse());
      eq.uniteDims(q, 1, o, 1);
      eq.uniteDims(k, 1, v, 1);
      eq.uniteValues(o, grad.getGradOut());
      eq.uniteValues(q, grad.getOutputs()[0]);
      eq.uniteValues(k, grad.getOutputs()[1]);
      eq.uniteValues(v, grad.getOutputs()[2]);
    }
    // A dynamic size written as tensor.dim of another value.
    auto uniteSize = [&](Value v, unsigned d, OpFoldResult size) {
      auto val = dyn_cast<Value>(size);
      auto dim = val ? val.getDefiningOp<tensor::DimOp>() : tensor::DimOp();
      if (std::optional<int64_t> index =
              dim ? getConstantIntValue(dim.getDimension()) : std::nullopt)
        eq.uniteDims(v, d, dim.getSource(), *index);
    };
    if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op);
        slice && slice.getType().getRank() == slice.getSourceType().getRank())
      for (auto [d, size] : llvm::enumerate(slice.getMixedSizes()))
        uniteSize(slice.getResult(), d, size);
    if (auto insert = dyn_cast<tensor::InsertSliceOp>(op)) {
      eq.uniteValues(insert.getResult(), insert.getDest());
      if (insert.getSourceType().getRank() == insert.getType().getRank())
        for (auto [d, size] : llvm::enumerate(insert.getMixedSizes()))
          uniteSize(insert.getSource(), d, size);
    }
    // Reshapes: a group of one dynamic dim and static 1s keeps its size.
    auto uniteGroups = [&](Value flat, Value full,
                           ArrayRef<ReassociationIndices> groups) {
      auto type = cast<ShapedType>(full.getType());
      for (auto [g, group] : llvm::enumerate(groups)) {
        SmallVector<int64_t> dyn;
        bool ones = true;
        for (int64_t d : group) {
          if (type.isDynamicDim(d))
            dyn.push_back(d);
          else
            ones &= type.getDimSize(d) == 1;
        }
        if (dyn.size() == 1 && ones)
          eq.uniteDims(flat, g, full, dyn[0]);
      }
    };
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
      uniteGroups(expand.getSrc(), expand.getResult(),
                  expand.getReassociationIndices());
    if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op))
      uniteGroups(collapse.getResult(), collapse.getSrc(),
                  collapse.getReassociationIndices());
    if (auto branch = dyn_cast<scf::IfOp>(op))
      for (Region *region : {&branch.getThenRegion(), &branch.getElseRegion()})
        if (!region->empty())
          for (auto [r, y] : llvm::zip(
                   branch.getResults(),
                   region->front().getTerminator()->getOperands()))
            if (isa<RankedTensorType>(r.getType()))
              eq.uniteValues(r, y);
    if (auto mat = dyn_cast<bufferization::MaterializeInDestinationOp>(op)) {
      eq.uniteValues(mat.getSource(), mat.getDest());
      if (mat.getResult())
        eq.uniteValues(mat.getResult(), mat.getDest());
    }
  });
  // Loops over tensors: a loop-carried tensor keeps its init's shape when
  // the body yields it back with the shape it received. Checked by
  // induction on a copy: assume each iter arg has its init's dims; if every
  // yielded value then has its iter arg's dims, the assumption holds for
  // every iteration and the results have the inits' dims.
  func.walk([&](scf::ForOp loop) {
    DimEquivalence assumed = eq;
    auto carried = llvm::zip(loop.getInitArgs(), loop.getRegionIterArgs(),
                             loop.getYieldedValues(), loop.getResults());
    for (auto [init, arg, yielded, result] : carried)
      if (isa<RankedTensorType>(arg.getType()))
        assumed.uniteValues(init, arg);
    for (auto [init, arg, yielded, result] : carried) {
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      if (!type)
        continue;
      for (unsigned d = 0; d < type.getRank(); ++d)
        if (type.isDynamicDim(d) &&
            assumed.leader(DimEquivalence::key(yielded, d)) !=
                assumed.leader(DimEquivalence::key(arg, d)))
          return;
    }
    for (auto [init, arg, yielded, result] : carried) {
      if (!isa<RankedTensorType>(arg.getType()))
        continue;
      eq.uniteValues(init, arg);
      eq.uniteValues(init, yielded);
      eq.uniteValues(init, result);
    }
  });
}

/// A dim of a tensor a region reads with tensor.extract at one of the
/// region's iteration indices, and the extent that index ranges over:
/// dim(tensor, dim) >= dim(extent, extentDim) must hold, or the kernels read
/// out of bounds (the reference interpreter reports it; compiled code would
/// not).
struct RegionBound {
  tensor::ExtractOp extract;
  unsigned dim;
  Value extent;
  unsigned extentDim;
  /// The index's name in messages: batch, head, query, key, channel.
  StringRef role;
};

/// The bounds the regions of attention ops (forward and backward) impose on
/// the tensors they read: an extract index that is the region's batch, head,
/// query, key or channel argument ranges over the attention's extent.
static void collectRegionBounds(func::FuncOp func,
                                SmallVectorImpl<RegionBound> &bounds) {
  // Each region with the position of its first index argument and the
  // indices it has: (b, h, i, j) or (b, h, i) or, for the epilogue,
  // (b, h, i, d).
  auto scan = [&](Region &region, unsigned first, ArrayRef<StringRef> roles,
                  ArrayRef<std::pair<Value, unsigned>> extents) {
    if (region.empty())
      return;
    Block &block = region.front();
    region.walk([&](tensor::ExtractOp extract) {
      for (auto [d, index] : llvm::enumerate(extract.getIndices())) {
        auto arg = dyn_cast<BlockArgument>(index);
        if (!arg || arg.getOwner() != &block || arg.getArgNumber() < first ||
            arg.getArgNumber() - first >= roles.size())
          continue;
        unsigned k = arg.getArgNumber() - first;
        bounds.push_back({extract, static_cast<unsigned>(d), extents[k].first,
                          extents[k].second, roles[k]});
      }
    });
  };
  StringRef pairRoles[] = {"batch", "head", "query", "key"};
  StringRef epilogueRoles[] = {"batch", "head", "query", "channel"};
  func.walk([&](Operation *op) {
    Value q, k, v;
    if (auto attn = dyn_cast<AttentionOp>(op)) {
      q = attn.getQuery(), k = attn.getKey(), v = attn.getValue();
      std::pair<Value, unsigned> pair[] = {{q, 0}, {q, 1}, {q, 2}, {k, 2}};
      std::pair<Value, unsigned> epi[] = {{q, 0}, {q, 1}, {q, 2}, {v, 3}};
      if (attn.isRagged()) {
        // Regions see the request (kv_lens' entries) and the row within
        // its chunk (below the token count).
        pair[0] = epi[0] = {attn.getKvLens(), 0};
        pair[2] = epi[2] = {q, 0};
      }
      scan(attn.getScore(), 1, pairRoles, pair);
      scan(attn.getMask(), 0, pairRoles, pair);
      scan(attn.getSink(), 0, ArrayRef<StringRef>(pairRoles).take_front(3),
           ArrayRef<std::pair<Value, unsigned>>(pair).take_front(3));
      scan(attn.getEpilogue(), 1, epilogueRoles, epi);
    } else if (auto grad = dyn_cast<AttentionBackwardOp>(op)) {
      q = grad.getQuery(), k = grad.getKey();
      std::pair<Value, unsigned> pair[] = {{q, 0}, {q, 1}, {q, 2}, {k, 2}};
      scan(grad.getScore(), 1, pairRoles, pair);
      scan(grad.getMask(), 0, pairRoles, pair);
      scan(grad.getScoreGrad(), 2, pairRoles, pair);
      scan(grad.getSink(), 0, ArrayRef<StringRef>(pairRoles).take_front(3),
           ArrayRef<std::pair<Value, unsigned>>(pair).take_front(3));
    }
  });
}

static std::optional<StringRef> dtypeName(Type t) {
  if (t.isF32())
    return StringRef("f32");
  if (t.isF16())
    return StringRef("f16");
  if (t.isBF16())
    return StringRef("bf16");
  if (t.isF64())
    return StringRef("f64");
  if (t.isInteger(1))
    return StringRef("i1");
  if (t.isInteger(8))
    return StringRef("i8");
  if (isa<Float8E4M3FNType>(t))
    return StringRef("f8e4m3");
  if (isa<Float8E5M2Type>(t))
    return StringRef("f8e5m2");
  if (t.isInteger(32))
    return StringRef("i32");
  if (t.isInteger(64))
    return StringRef("i64");
  return std::nullopt;
}

struct ExportFunctions
    : attn::impl::AttnExportFunctionsPassBase<ExportFunctions> {
  void runOnOperation() override {
    // Page tables, key lengths and slots are checked at an exported
    // function's call: their ops must be in one (not in a callee).
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPrivate() || func.isExternal() || func->hasAttr(kAbiAttrName))
        continue;
      WalkResult r = func.walk([](Operation *op) {
        auto attn = dyn_cast<AttentionOp>(op);
        if ((attn && attn.getKvLens()) || isa<AppendKVOp>(op)) {
          op->emitOpError("must be in an exported (public) function: the "
                          "runtime checks its lengths, page table or slots "
                          "at that function's call");
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
      if (r.wasInterrupted())
        return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isPrivate() || func.isExternal() || func->hasAttr(kAbiAttrName))
        continue;
      if (failed(exportFunction(func)))
        return signalPassFailure();
    }
  }

  /// `v` through tensor.cast ops.
  static Value stripCasts(Value v) {
    while (auto cast = v.getDefiningOp<tensor::CastOp>())
      v = cast.getSource();
    return v;
  }

  /// The tensor.empty ops that the branches of the scf.if defining `r`
  /// build their results in (the tied init of a destination-style op,
  /// through tensor.cast on either side), one per branch, each used only
  /// there and cast-compatible with `type`; none if a branch has no such.
  static SmallVector<tensor::EmptyOp> dispatchedInits(Value r, Type type) {
    auto branch = r.getDefiningOp<scf::IfOp>();
    if (!branch || branch.getElseRegion().empty())
      return {};
    unsigned n = cast<OpResult>(r).getResultNumber();
    SmallVector<tensor::EmptyOp> inits;
    for (Region *region : {&branch.getThenRegion(), &branch.getElseRegion()}) {
      Value y = stripCasts(region->front().getTerminator()->getOperand(n));
      auto dps = y.getDefiningOp<DestinationStyleOpInterface>();
      if (!dps)
        return {};
      OpOperand *tied = dps.getTiedOpOperand(cast<OpResult>(y));
      Value init = tied->get();
      if (auto cast = init.getDefiningOp<tensor::CastOp>()) {
        if (!cast->hasOneUse())
          return {};
        init = cast.getSource();
      }
      auto empty = init.getDefiningOp<tensor::EmptyOp>();
      if (!empty || !empty->hasOneUse() ||
          !tensor::CastOp::areCastCompatible(type, empty.getType()))
        return {};
      inits.push_back(empty);
    }
    return inits;
  }

  LogicalResult exportFunction(func::FuncOp func) {
    FunctionType type = func.getFunctionType();
    for (auto [i, t] : llvm::enumerate(
             llvm::concat<const Type>(type.getInputs(), type.getResults()))) {
      auto tensor = dyn_cast<RankedTensorType>(t);
      if (!tensor || !dtypeName(tensor.getElementType()))
        return func.emitOpError()
               << "exported functions take and return ranked tensors of f32, "
                  "f16, bf16, f64, i1, i8, f8E4M3FN, f8E5M2, i32 or i64; got "
               << t;
    }
    auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());

    DimEquivalence eq;
    collectEqualities(func, eq);

    // Results that an op updating its destination in place (attn.append_kv)
    // wrote into an argument: that argument becomes in/out ("io") and the
    // result gets no destination of its own ("alias:K:A").
    SmallVector<BlockArgument> inPlace(ret.getNumOperands());
    for (auto [k, r] : llvm::enumerate(ret.getOperands())) {
      Value res = stripCasts(r);
      auto append = res.getDefiningOp<AppendKVOp>();
      if (!append)
        continue;
      OpOperand *tied = append.getTiedOpOperand(cast<OpResult>(res));
      auto arg = dyn_cast<BlockArgument>(stripCasts(tied->get()));
      if (!arg || arg.getOwner() != &func.getBody().front() ||
          arg.getType() != r.getType() || llvm::is_contained(inPlace, arg))
        continue;
      inPlace[k] = arg;
    }
    auto isInOut = [&](BlockArgument arg) {
      return llvm::is_contained(inPlace, arg);
    };
    // The C ABI's arguments: the function's, then the results' destinations.
    SmallVector<Value> abiArgs(func.getArguments());
    for (auto [k, r] : llvm::enumerate(ret.getOperands()))
      if (!inPlace[k])
        abiArgs.push_back(r);

    // Signature: inputs, then one output per result.
    std::string sig;
    llvm::DenseMap<DimKey, int> symbols;
    auto appendArg = [&](StringRef dir, Value v) {
      auto t = cast<RankedTensorType>(v.getType());
      if (!sig.empty())
        sig += ";";
      sig += (dir + ":" + *dtypeName(t.getElementType()) + ":").str();
      for (unsigned d = 0; d < t.getRank(); ++d) {
        if (d)
          sig += ",";
        if (!t.isDynamicDim(d)) {
          sig += std::to_string(t.getDimSize(d));
          continue;
        }
        DimKey leader = eq.leader(DimEquivalence::key(v, d));
        auto it = symbols.try_emplace(leader, (int)symbols.size()).first;
        sig += "?" + std::to_string(it->second);
      }
    };
    for (BlockArgument arg : func.getArguments())
      appendArg(isInOut(arg) ? "io" : "in", arg);
    for (auto [k, r] : llvm::enumerate(ret.getOperands()))
      if (!inPlace[k])
        appendArg("out", r);

    // Bounds of the tensors regions read (`ge:A.d:B.e:role`: dim d of
    // argument A is at least dim e of argument B, or a number): checked
    // here where both sizes are static, by the runtime otherwise.
    llvm::DenseMap<DimKey, std::pair<unsigned, unsigned>> argDims;
    for (auto [a, v] : llvm::enumerate(abiArgs)) {
      auto t = cast<RankedTensorType>(v.getType());
      for (unsigned d = 0; d < t.getRank(); ++d)
        if (t.isDynamicDim(d))
          argDims.try_emplace(eq.leader(DimEquivalence::key(v, d)),
                              std::make_pair((unsigned)a, d));
    }
    SmallVector<RegionBound> bounds;
    collectRegionBounds(func, bounds);
    llvm::StringSet<> clauses;
    for (RegionBound &bound : bounds) {
      Value tensor = bound.extract.getTensor();
      auto tType = cast<RankedTensorType>(tensor.getType());
      auto eType = cast<ShapedType>(bound.extent.getType());
      bool tStatic = !tType.isDynamicDim(bound.dim);
      bool eStatic = !eType.isDynamicDim(bound.extentDim);
      int64_t tSize = tType.getDimSize(bound.dim);
      int64_t eSize = eType.getDimSize(bound.extentDim);
      if (tStatic && eStatic) {
        if (tSize < eSize)
          return bound.extract.emitOpError()
                 << "reads dim " << bound.dim << " (size " << tSize
                 << ") at the " << bound.role << " index, which goes up to "
                 << eSize - 1;
        continue;
      }
      DimKey tKey = eq.leader(DimEquivalence::key(tensor, bound.dim));
      DimKey eKey = eq.leader(DimEquivalence::key(bound.extent, bound.extentDim));
      if (!tStatic && !eStatic && tKey == eKey)
        continue; // equal by construction
      std::string lhs, rhs;
      auto ref = [&](Value v, unsigned d, DimKey key,
                     std::string &out) -> bool {
        if (auto arg = dyn_cast<BlockArgument>(stripCasts(v));
            arg && arg.getOwner() == &func.getBody().front()) {
          out = std::to_string(arg.getArgNumber()) + "." + std::to_string(d);
          return true;
        }
        auto it = argDims.find(key);
        if (it == argDims.end())
          return false;
        out = std::to_string(it->second.first) + "." +
              std::to_string(it->second.second);
        return true;
      };
      if (eStatic)
        rhs = std::to_string(eSize);
      else if (!ref(bound.extent, bound.extentDim, eKey, rhs))
        continue;
      if (!ref(tensor, bound.dim, tKey, lhs))
        continue; // a computed tensor whose size no argument carries
      std::string clause =
          ("ge:" + lhs + ":" + rhs + ":" + bound.role).str();
      if (clauses.insert(clause).second)
        sig += ";" + clause;
    }

    // The contents of key lengths, page tables and slots: the runtime
    // checks them before a call (`lens:L:E`, `pages:T:L:E:ps`,
    // `slots:S:E:ps`, E the extent they index: "A.d" or a static size), so
    // they must be arguments.
    std::string indexError;
    auto argOf = [&](Value v) -> int {
      if (auto arg = dyn_cast<BlockArgument>(stripCasts(v));
          arg && arg.getOwner() == &func.getBody().front())
        return (int)arg.getArgNumber();
      return -1;
    };
    // Dim d of `v` as an extent clause field ("" if no argument gives it).
    auto extentOf = [&](Value v, unsigned d) -> std::string {
      auto t = cast<ShapedType>(v.getType());
      if (!t.isDynamicDim(d))
        return std::to_string(t.getDimSize(d));
      if (int a = argOf(v); a >= 0)
        return std::to_string(a) + "." + std::to_string(d);
      auto it = argDims.find(eq.leader(DimEquivalence::key(v, d)));
      if (it == argDims.end())
        return "";
      return std::to_string(it->second.first) + "." +
             std::to_string(it->second.second);
    };
    auto addClause = [&](const std::string &clause) {
      if (clauses.insert(clause).second)
        sig += ";" + clause;
    };
    auto refuse = [&](Operation *op, const Twine &what) {
      if (indexError.empty())
        op->emitOpError(what);
      indexError = "x";
    };
    func.walk([&](AttentionOp attn) {
      Value lens = attn.getKvLens();
      if (!lens)
        return;
      Value table = attn.getPageTable();
      int l = argOf(lens), t = table ? argOf(table) : 0;
      if (l < 0 || t < 0)
        return refuse(attn, Twine("takes its ") +
                                (l < 0 ? "key lengths" : "page table") +
                                " from an argument of the exported function "
                                "(the runtime checks its entries before a "
                                "call)");
      // Both pools' pages (dim 0), or both dense operands' length (dim 2).
      for (Value operand : {attn.getKey(), attn.getValue()}) {
        std::string extent = extentOf(operand, table ? 0 : 2);
        if (extent.empty())
          return refuse(attn, Twine("reads a ") +
                                  (table ? "pool whose pages" :
                                           "key tensor whose length") +
                                  " no argument of the exported function "
                                  "gives (the runtime checks the key lengths "
                                  "against it)");
        addClause(table ? "pages:" + std::to_string(t) + ":" +
                              std::to_string(l) + ":" + extent + ":" +
                              std::to_string(attn.getPageSize())
                        : "lens:" + std::to_string(l) + ":" + extent);
      }
      // A ragged batch: the pointer against the lengths and the tokens
      // (`ragged:I:L:E`), the plan against the pointer (`plan:P:I:H:D`, H
      // the query heads, D the work items of a decode request).
      if (Value indptr = attn.getQoIndptr()) {
        int i = argOf(indptr);
        if (i < 0)
          return refuse(attn, "takes its qo_indptr from an argument of the "
                              "exported function (the runtime checks it "
                              "before a call)");
        std::string tokens = extentOf(attn.getQuery(), 0);
        if (tokens.empty())
          return refuse(attn, "reads a ragged query whose token count no "
                              "argument of the exported function gives");
        addClause("ragged:" + std::to_string(i) + ":" + std::to_string(l) +
                  ":" + tokens);
        if (Value plan = attn.getPlan()) {
          int p = argOf(plan);
          if (p < 0)
            return refuse(attn, "takes its plan from an argument of the "
                                "exported function (the runtime checks it "
                                "before a call)");
          addClause("plan:" + std::to_string(p) + ":" + std::to_string(i) +
                    ":" + std::to_string(attn.getNumQueryHeads()) + ":" +
                    std::to_string(raggedDecodeItems(attn)));
        }
      }
    });
    func.walk([&](AppendKVOp append) {
      int s = argOf(append.getSlots());
      if (s < 0)
        return refuse(append, "takes its slots from an argument of the "
                              "exported function (the runtime checks them "
                              "before a call)");
      for (Value pool : {append.getKeyPool(), append.getValuePool()}) {
        std::string extent = extentOf(pool, 0);
        if (extent.empty())
          return refuse(append, "writes a pool whose pages no argument of "
                                "the exported function gives (the runtime "
                                "checks the slots against it)");
        addClause("slots:" + std::to_string(s) + ":" + extent + ":" +
                  std::to_string(append.getPageSize()));
      }
    });
    if (!indexError.empty())
      return failure();
    for (auto [k, arg] : llvm::enumerate(inPlace))
      if (arg)
        sig += ";alias:" + std::to_string(k) + ":" +
               std::to_string(arg.getArgNumber());

    // Destination arguments for the results (in-place ones: the argument
    // they update, made writable).
    OpBuilder b(ret);
    Builder builder(func.getContext());
    unsigned numInputs = func.getNumArguments();
    StringRef writableName =
        bufferization::BufferizationDialect::kWritableAttrName;
    NamedAttribute writable(builder.getStringAttr(writableName),
                            builder.getBoolAttr(true));
    SmallVector<BlockArgument> dests;
    unsigned numDests = 0;
    for (auto [k, r] : llvm::enumerate(ret.getOperands())) {
      if (inPlace[k]) {
        func.setArgAttr(inPlace[k].getArgNumber(), writableName,
                        builder.getBoolAttr(true));
        continue;
      }
      if (failed(func.insertArgument(numInputs + numDests, r.getType(),
                                     builder.getDictionaryAttr(writable),
                                     func.getLoc())))
        return failure();
      ++numDests;
    }
    for (unsigned k = 0, next = numInputs; k < ret.getNumOperands(); ++k)
      dests.push_back(inPlace[k] ? inPlace[k] : func.getArgument(next++));
    for (unsigned k = 0; k < ret.getNumOperands(); ++k) {
      Value r = ret.getOperand(k);
      BlockArgument dest = dests[k];
      if (inPlace[k]) {
        auto mat = bufferization::MaterializeInDestinationOp::create(
            b, ret.getLoc(), r, dest);
        ret.setOperand(k, mat.getResult());
        continue;
      }
      // Write in place when the result comes from a DPS op whose init is a
      // tensor.empty used only there.
      if (auto dps = r.getDefiningOp<DestinationStyleOpInterface>()) {
        OpOperand *tied = dps.getTiedOpOperand(cast<OpResult>(r));
        auto empty = tied->get().getDefiningOp<tensor::EmptyOp>();
        if (empty && empty->hasOneUse() &&
            tied->get().getType() == dest.getType()) {
          tied->set(dest);
          continue;
        }
      }
      // So does a run-time dispatch (scf.if) whose branches each build the
      // result in a tensor.empty of their own (through tensor.cast).
      if (SmallVector<tensor::EmptyOp> inits =
              dispatchedInits(r, dest.getType());
          !inits.empty()) {
        for (tensor::EmptyOp empty : inits) {
          OpBuilder eb(empty);
          Value to = dest;
          if (empty.getType() != dest.getType())
            to = tensor::CastOp::create(eb, empty.getLoc(), empty.getType(),
                                        dest);
          empty.getResult().replaceAllUsesWith(to);
          empty.erase();
        }
        // The materialization below then copies a buffer onto itself (a
        // copy that folds away) and marks the result as the argument.
      }
      auto mat = bufferization::MaterializeInDestinationOp::create(
          b, ret.getLoc(), r, dest);
      ret.setOperand(k, mat.getResult());
    }
    func->setAttr(kAbiAttrName, builder.getStringAttr(sig));
    func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
    // From here on the function's only public interface is its C entry point;
    // making it private lets drop-equivalent-buffer-results remove the
    // results that alias the destination arguments.
    func.setPrivate();
    return success();
  }
};
} // namespace
