//===- AttnOps.cpp - attn operations ----------------------------*- C++ -*-===//
//
// Part of the attn project.
//
// Verifiers state every invariant of the ops with a message that names the
// offending values; each message has an expected-error test in
// test/Dialect/invalid.mlir.
//
//===----------------------------------------------------------------------===//

#include "dialect/AttnOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/IR/PatternMatch.h"

#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static std::string formatDim(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

static bool isSupportedFloat(Type t) {
  return t.isF32() || t.isF16() || t.isBF16();
}

bool mlir::attn::isQuantizedKVType(Type t) {
  return t.isInteger(8) || isa<Float8E4M3FNType, Float8E5M2Type>(t);
}

double mlir::attn::getQuantizedMax(Type t) {
  if (isa<Float8E4M3FNType>(t))
    return 448.0;
  if (isa<Float8E5M2Type>(t))
    return 57344.0;
  return 127.0;
}

SmallVector<int64_t> mlir::attn::getScaleBlocks(ShapedType data,
                                                ShapedType scale) {
  SmallVector<int64_t> blocks;
  for (int64_t d = 0; d < data.getRank(); ++d) {
    int64_t n = data.getDimSize(d), s = scale.getDimSize(d);
    if (s == 1)
      blocks.push_back(0);
    else if (ShapedType::isDynamic(s) || ShapedType::isDynamic(n))
      blocks.push_back(1);
    else
      blocks.push_back(n / s);
  }
  return blocks;
}

LogicalResult mlir::attn::verifyQuantScale(Operation *op, ShapedType data,
                                           Type scaleType, StringRef name) {
  if (!isQuantizedKVType(data.getElementType()))
    return op->emitOpError()
           << "expected an 8-bit operand (i8, f8E4M3FN or f8E5M2) with a "
           << name << ", got " << data.getElementType();
  auto scale = dyn_cast<ShapedType>(scaleType);
  if (!scale || !scale.hasRank() || scale.getRank() != data.getRank() ||
      !(scale.getElementType().isF32() || scale.getElementType().isF16() ||
        scale.getElementType().isBF16()))
    return op->emitOpError()
           << "expected the " << name << " to be an f32, f16 or bf16 buffer of "
           << "rank " << data.getRank() << ", got " << scaleType;
  for (int64_t d = 0; d < data.getRank(); ++d) {
    int64_t n = data.getDimSize(d), s = scale.getDimSize(d);
    bool ok = s == 1 || (ShapedType::isDynamic(s) && ShapedType::isDynamic(n)) ||
              (!ShapedType::isDynamic(s) && !ShapedType::isDynamic(n) &&
               s > 0 && n % s == 0);
    if (!ok)
      return op->emitOpError()
             << "expected dim " << d << " of the " << name << " ("
             << formatDim(s) << ") to be 1, the operand's size ("
             << formatDim(n) << ") or a static divisor of it";
  }
  return success();
}

/// Emits an error unless `a` and `b` are equal or one is dynamic.
static LogicalResult checkDimsMatch(Operation *op, int64_t a, int64_t b,
                                    StringRef aName, StringRef bName) {
  if (ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b)
    return success();
  return op->emitOpError() << "expected " << aName << " (" << a << ") to match "
                           << bName << " (" << b << ")";
}

/// Verifies that `region` is empty or holds one block with the given argument
/// types, terminated by an attn.yield of one value of type `yieldType`.
static LogicalResult verifyScalarRegion(Operation *op, Region &region,
                                        StringRef name, TypeRange argTypes,
                                        Type yieldType) {
  if (region.empty())
    return success();
  if (!region.hasOneBlock())
    return op->emitOpError()
           << "expected the " << name << " region to have one block";
  Block &block = region.front();
  if (block.getArgumentTypes() != argTypes) {
    std::string types;
    llvm::raw_string_ostream os(types);
    llvm::interleaveComma(argTypes, os);
    return op->emitOpError()
           << "expected the " << name << " region to take (" << types << ")";
  }
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      yield.getValues()[0].getType() != yieldType)
    return op->emitOpError()
           << "expected the " << name << " region to yield one " << yieldType;
  return success();
}

Value AttentionOp::getYieldedValue(Region &region) {
  if (region.empty())
    return {};
  auto yield = cast<YieldOp>(region.front().getTerminator());
  return yield.getValues()[0];
}

Value AttentionOp::inlineScalarRegion(OpBuilder &b, Region &region,
                                      ValueRange args) {
  IRMapping map;
  Block &block = region.front();
  for (auto [arg, val] : llvm::zip(block.getArguments(), args))
    map.map(arg, val);
  for (Operation &o : block.without_terminator())
    b.clone(o, map);
  return map.lookupOrDefault(getYieldedValue(region));
}

float AttentionOp::getScaleValue() {
  if (std::optional<APFloat> s = getScale())
    return s->convertToFloat();
  return 1.0f / std::sqrt(static_cast<float>(getHeadDim()));
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  Operation *op = getOperation();
  auto checkOperand = [&](Value v, StringRef name, int64_t rank,
                          bool floatOnly) -> FailureOr<ShapedType> {
    auto type = dyn_cast<ShapedType>(v.getType());
    if (!type || !type.hasRank() || type.getRank() != rank ||
        !isa<RankedTensorType, MemRefType>(type)) {
      return op->emitOpError() << "expected " << name
                               << " to be a ranked tensor or memref of rank "
                               << rank << ", got " << v.getType();
    }
    if (floatOnly && !isSupportedFloat(type.getElementType()))
      return op->emitOpError()
             << "expected " << name
             << " element type to be f32, f16 or bf16, got "
             << type.getElementType()
             << (isQuantizedKVType(type.getElementType())
                     ? (name == "key" ? " (8-bit keys take a key_scale)"
                                      : (name == "value"
                                             ? " (8-bit values take a value_scale)"
                                             : ""))
                     : "");
    return type;
  };

  FailureOr<ShapedType> q = checkOperand(getQuery(), "query", 4, true);
  FailureOr<ShapedType> k =
      checkOperand(getKey(), "key", 4, /*floatOnly=*/!getKeyScale());
  FailureOr<ShapedType> v =
      checkOperand(getValue(), "value", 4, /*floatOnly=*/!getValueScale());
  if (failed(q) || failed(k) || failed(v))
    return failure();
  // Quantized caches: 8-bit keys/values with their scales.
  if ((getKeyScale() &&
       failed(verifyQuantScale(op, *k, getKeyScale().getType(), "key scale"))) ||
      (getValueScale() &&
       failed(verifyQuantScale(op, *v, getValueScale().getType(),
                               "value scale"))))
    return failure();
  if (isQuantized() && (getQuery2() || getBlocks() || getRmsNormEps() ||
                        getColumnScores() || getRowEntropy()))
    return emitOpError("reads no quantized keys or values with a second map, "
                       "a block selection, rms_norm, column scores or a row "
                       "entropy");

  size_t numOutputs = getOutputs().size();
  size_t minOutputs = 1 + getNumSideOutputs();
  if (numOutputs < minOutputs || numOutputs > minOutputs + 1) {
    InFlightDiagnostic diag = emitOpError()
                              << "expected " << minOutputs << " or "
                              << minOutputs + 1
                              << " outputs (output, optional log-sum-exp";
    if (getRowEntropy())
      diag << ", row entropy";
    if (getColumnScores())
      diag << ", column scores";
    return diag << "), got " << numOutputs;
  }
  FailureOr<ShapedType> o = checkOperand(getOutput(), "output", 4, true);
  if (failed(o))
    return failure();

  bool isTensor = isa<RankedTensorType>(*q);
  for (Value operand : getOperands())
    if (isa<RankedTensorType>(operand.getType()) != isTensor)
      return emitOpError("expected operands to be all tensors or all memrefs");

  // Static structure: head counts and head dims (a pool's heads are at dim
  // 2 in the nhd layout, its page size at dim 1).
  bool paged = isPaged();
  unsigned kvHeads = getKvHeadsDim(), rowsDim = getKeyRowsDim();
  for (auto [type, name, headsDim] :
       {std::tuple{*q, "query", 1u}, {*k, "key", kvHeads},
        {*v, "value", kvHeads}, {*o, "output", 1u}}) {
    if (type.isDynamicDim(headsDim))
      return emitOpError() << "expected the number of " << name
                           << " heads to be static";
    if (type.isDynamicDim(3))
      return emitOpError() << "expected the " << name
                           << " head dim to be static";
  }
  if (failed(checkDimsMatch(op, k->getDimSize(3), q->getDimSize(3),
                            "key head dim", "query head dim")) ||
      failed(checkDimsMatch(op, v->getDimSize(kvHeads),
                            k->getDimSize(kvHeads), "value heads",
                            "key heads")) ||
      failed(checkDimsMatch(op, o->getDimSize(1), q->getDimSize(1),
                            "output heads", "query heads")) ||
      failed(checkDimsMatch(op, o->getDimSize(3), v->getDimSize(3),
                            "output head dim", "value head dim")))
    return failure();
  int64_t hq = q->getDimSize(1), hkv = k->getDimSize(kvHeads);
  if (hkv <= 0 || hq % hkv != 0)
    return emitOpError() << "expected the number of query heads (" << hq
                         << ") to be a multiple of the key/value heads (" << hkv
                         << ")";

  // Dynamic dims must agree where both are static (a pool's dim 0 counts
  // pages, not requests).
  // A ragged batch's query dim 0 counts tokens: the requests are the key
  // lengths' entries.
  bool ragged = isRagged();
  if ((!paged && !ragged &&
       (failed(checkDimsMatch(op, k->getDimSize(0), q->getDimSize(0),
                              "key batch", "query batch")) ||
        failed(checkDimsMatch(op, v->getDimSize(0), q->getDimSize(0),
                              "value batch", "query batch")))) ||
      (!paged && ragged &&
       failed(checkDimsMatch(op, v->getDimSize(0), k->getDimSize(0),
                             "value batch", "key batch"))) ||
      (paged && failed(checkDimsMatch(op, v->getDimSize(0), k->getDimSize(0),
                                      "value pages", "key pages"))) ||
      failed(checkDimsMatch(op, o->getDimSize(0), q->getDimSize(0),
                            "output batch", "query batch")) ||
      failed(checkDimsMatch(op, v->getDimSize(rowsDim),
                            k->getDimSize(rowsDim),
                            paged ? "value page size" : "value length",
                            paged ? "key page size" : "key length")) ||
      failed(checkDimsMatch(op, o->getDimSize(2), q->getDimSize(2),
                            "output length", "query length")))
    return failure();

  // The rank-3 f32 statistics outputs: [batch, heads, query length] per
  // query row, [batch, kv heads, key length] per key.
  auto checkStats = [&](Value out, StringRef name,
                        bool perKey) -> LogicalResult {
    auto t = dyn_cast<ShapedType>(out.getType());
    if (!t || !t.hasRank() || t.getRank() != 3 || !t.getElementType().isF32())
      return emitOpError() << "expected the " << name
                           << " output to be a rank-3 f32 "
                           << (perKey ? "[batch, kv heads, key length]"
                                      : "[batch, heads, query length]")
                           << " buffer, got " << out.getType();
    ShapedType rows = perKey ? *k : *q;
    std::string n = name.str();
    return success(
        succeeded(checkDimsMatch(op, t.getDimSize(0), q->getDimSize(0),
                                 n + " batch", "query batch")) &&
        succeeded(checkDimsMatch(op, t.getDimSize(1), rows.getDimSize(1),
                                 n + " heads",
                                 perKey ? "key heads" : "query heads")) &&
        succeeded(checkDimsMatch(op, t.getDimSize(2), rows.getDimSize(2),
                                 n + " length",
                                 perKey ? "key length" : "query length")));
  };
  if (Value lse = getLse())
    if (failed(checkStats(lse, "log-sum-exp", false)))
      return failure();

  if (Value entropy = getEntropyOutput()) {
    if (failed(checkStats(entropy, "row entropy", false)))
      return failure();
    if (getNormalizer() != Normalizer::softmax)
      return emitOpError("computes a row entropy with the softmax normalizer "
                         "only");
    if (getQuery2())
      return emitOpError("computes no row entropy with a second map");
  }

  if (Value scores = getScoresOutput()) {
    if (failed(checkStats(scores, "column scores", true)))
      return failure();
    if (getNormalizer() != Normalizer::softmax)
      return emitOpError("computes column scores with the softmax normalizer "
                         "only");
    if (getQuery2())
      return emitOpError("computes no column scores with a second map");
    if (getBlocks())
      return emitOpError("computes no column scores with a block selection");
  } else if (getScoreDecay() || getValueNorm()) {
    return emitOpError("has score_decay or value_norm without column_scores");
  }
  if (std::optional<APFloat> a = getScoreDecay()) {
    float alpha = a->convertToFloat();
    if (!(alpha > 0.0f && alpha <= 1.0f))
      return emitOpError() << "expected a score_decay in (0, 1], got "
                           << alpha;
  }

  if (isTensor) {
    if (getResults().getTypes() != getOutputs().getTypes())
      return emitOpError("expected the result types to match the output types");
  } else if (!getResults().empty()) {
    return emitOpError("expected no results when operating on memrefs");
  }

  if (std::optional<APFloat> s = getScale()) {
    float value = s->convertToFloat();
    if (!std::isfinite(value) || value == 0.0f)
      return emitOpError() << "expected a finite, non-zero scale, got "
                           << value;
  }
  if (bool(getQuery2()) != bool(getKey2()))
    return emitOpError("expected both a second query and a second key");
  if (getQuery2()) {
    if (getQuery2().getType() != getQuery().getType() ||
        getKey2().getType() != getKey().getType())
      return emitOpError() << "expected the second query and key to have the "
                              "types of the first ("
                           << getQuery().getType() << ", " << getKey().getType()
                           << ")";
    if (getLse())
      return emitOpError("has no log-sum-exp output with a second map");
    if (!getSink().empty())
      return emitOpError("takes no sink region with a second map");
  }
  if (std::optional<RopeAttr> rope = getRope()) {
    int64_t d = q->getDimSize(3);
    if (getQuery2())
      return emitOpError("takes no rope with a second map");
    if (failed(verifyRopeDims(op, *rope, d)))
      return failure();
  }
  if (Value blocks = getBlocks()) {
    auto bt = dyn_cast<ShapedType>(blocks.getType());
    if (!bt || !bt.hasRank() || bt.getRank() != 4 ||
        !bt.getElementType().isInteger(32))
      return emitOpError() << "expected the block selection to be a rank-4 "
                              "i32 [batch, heads, query length, k] buffer, got "
                           << blocks.getType();
    if (failed(checkDimsMatch(op, bt.getDimSize(0), q->getDimSize(0),
                              "block selection batch", "query batch")) ||
        failed(checkDimsMatch(op, bt.getDimSize(1), q->getDimSize(1),
                              "block selection heads", "query heads")) ||
        failed(checkDimsMatch(op, bt.getDimSize(2), q->getDimSize(2),
                              "block selection length", "query length")))
      return failure();
    if (bt.isDynamicDim(3))
      return emitOpError("expected a static number of selected blocks");
    if (!getBlockSize() || *getBlockSize() <= 0)
      return emitOpError("expected a positive block_size with a block "
                         "selection");
  } else if (getBlockSize()) {
    return emitOpError("has a block_size but no block selection");
  }
  if (Value lens = getKvLens()) {
    auto lt = dyn_cast<ShapedType>(lens.getType());
    if (!lt || !lt.hasRank() || lt.getRank() != 1 ||
        !lt.getElementType().isInteger(32))
      return emitOpError() << "expected the key lengths to be a rank-1 i32 "
                              "[batch] buffer, got "
                           << lens.getType();
    if (!ragged && failed(checkDimsMatch(op, lt.getDimSize(0),
                                         q->getDimSize(0),
                                         "key lengths batch", "query batch")))
      return failure();
    if (ragged && !paged &&
        failed(checkDimsMatch(op, k->getDimSize(0), lt.getDimSize(0),
                              "key batch", "key lengths batch")))
      return failure();
    StringRef what = paged ? "pages" : "kv_lens";
    if (getQuery2())
      return emitOpError() << "takes no second map with " << what;
    if (getBlocks())
      return emitOpError() << "takes no block selection with " << what;
    if (getScoresOutput() || getEntropyOutput())
      return emitOpError() << "computes no column scores or row entropy with "
                           << what;
  }
  if (Value table = getPageTable()) {
    if (!getKvLens())
      return emitOpError("expected kv_lens with a page table (the keys of "
                         "each request)");
    auto tt = dyn_cast<ShapedType>(table.getType());
    if (!tt || !tt.hasRank() || tt.getRank() != 2 ||
        !tt.getElementType().isInteger(32))
      return emitOpError() << "expected the page table to be a rank-2 i32 "
                              "[batch, max_pages] buffer, got "
                           << table.getType();
    if (failed(checkDimsMatch(
            op, tt.getDimSize(0),
            ragged ? cast<ShapedType>(getKvLens().getType()).getDimSize(0)
                   : q->getDimSize(0),
            "page table batch", ragged ? "key lengths batch" : "query batch")))
      return failure();
    int64_t ps = k->getDimSize(rowsDim);
    if (ShapedType::isDynamic(ps) || ps <= 0)
      return emitOpError() << "expected a static, positive page size (dim "
                           << rowsDim << " of the key pool), got "
                           << (ShapedType::isDynamic(ps) ? "?"
                                                         : std::to_string(ps));
    // (Both pools are addressed with the key pool's page size.)
    if (v->isDynamicDim(rowsDim))
      return emitOpError() << "expected the value pool's page size (dim "
                           << rowsDim << ") to be static";
  } else if (getPageLayout() != PageLayout::nhd) {
    return emitOpError("has a page_layout but no page table");
  }
  if (Value indptr = getQoIndptr()) {
    if (!getKvLens())
      return emitOpError("expected kv_lens with qo_indptr (the keys of each "
                         "request)");
    auto it = dyn_cast<ShapedType>(indptr.getType());
    if (!it || !it.hasRank() || it.getRank() != 1 ||
        !it.getElementType().isInteger(32))
      return emitOpError() << "expected qo_indptr to be a rank-1 i32 "
                              "[batch + 1] buffer, got "
                           << indptr.getType();
    int64_t nl = cast<ShapedType>(getKvLens().getType()).getDimSize(0);
    if (!it.isDynamicDim(0) && !ShapedType::isDynamic(nl) &&
        it.getDimSize(0) != nl + 1)
      return emitOpError() << "expected qo_indptr to have one entry more "
                              "than the key lengths ("
                           << nl + 1 << "), got " << it.getDimSize(0);
    if (q->getDimSize(2) != 1)
      return emitOpError() << "expected a ragged query [tokens, heads, 1, D] "
                              "(query length 1) with qo_indptr, got length "
                           << (q->isDynamicDim(2)
                                   ? std::string("?")
                                   : std::to_string(q->getDimSize(2)));
  }
  if (Value plan = getPlan()) {
    if (!getQoIndptr())
      return emitOpError("has a plan but no qo_indptr (a plan partitions a "
                         "ragged batch)");
    auto pt = dyn_cast<ShapedType>(plan.getType());
    if (!pt || !pt.hasRank() || pt.getRank() != 2 ||
        !pt.getElementType().isInteger(32) || pt.getDimSize(0) != 2)
      return emitOpError() << "expected the plan to be an i32 [2, batch + 1] "
                              "buffer, got "
                           << plan.getType();
    if (failed(checkDimsMatch(
            op, pt.getDimSize(1),
            cast<ShapedType>(getQoIndptr().getType()).getDimSize(0),
            "plan length", "qo_indptr length")))
      return failure();
  }
  if (std::optional<APFloat> eps = getRmsNormEps())
    if (!std::isfinite(eps->convertToFloat()) || eps->convertToFloat() < 0)
      return emitOpError() << "expected a finite, non-negative rms_norm "
                              "epsilon, got "
                           << eps->convertToFloat();
  if (getNormalizer() == Normalizer::sigmoid) {
    if (getLse())
      return emitOpError("has no log-sum-exp output with normalizer(sigmoid)");
    if (!getSink().empty())
      return emitOpError("takes no sink region with normalizer(sigmoid)");
  }
  return success();
}

/// The score and mask regions both attention ops carry.
static LogicalResult verifyScoreAndMask(Operation *op, Region &score,
                                        Region &mask) {
  Builder b(op->getContext());
  Type idx = b.getIndexType(), f32 = b.getF32Type();
  return failure(
      failed(verifyScalarRegion(op, score, "score", {f32, idx, idx, idx, idx},
                                f32)) ||
      failed(verifyScalarRegion(op, mask, "mask", {idx, idx, idx, idx},
                                b.getI1Type())));
}

LogicalResult AttentionOp::verifyRegions() {
  Builder b(getContext());
  Type idx = b.getIndexType(), f32 = b.getF32Type();
  if (failed(verifyScoreAndMask(*this, getScore(), getMask())) ||
      failed(
          verifyScalarRegion(*this, getSink(), "sink", {idx, idx, idx}, f32)) ||
      failed(verifyScalarRegion(*this, getCombine(), "combine",
                                {f32, f32, idx, idx, idx, idx}, f32)))
    return failure();
  if (getQuery2() && getCombine().empty())
    return emitOpError("expected a combine region with a second map");
  if (!getQuery2() && !getCombine().empty())
    return emitOpError("has a combine region but no second map");
  auto outType = dyn_cast<ShapedType>(getOutput().getType());
  if (!outType)
    return success(); // Reported by verify().
  return verifyScalarRegion(*this, getEpilogue(), "epilogue",
                            {f32, idx, idx, idx, idx},
                            outType.getElementType());
}

static void getDpsEffects(
    Operation *op,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects);

void AttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

//===----------------------------------------------------------------------===//
// AttentionBackwardOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionBackwardOp::verify() {
  Operation *op = getOperation();
  auto shaped = [&](Value v, StringRef name, int64_t rank, bool f32Only)
      -> FailureOr<ShapedType> {
    auto type = dyn_cast<ShapedType>(v.getType());
    if (!type || !type.hasRank() || type.getRank() != rank)
      return op->emitOpError() << "expected " << name << " to be of rank "
                               << rank << ", got " << v.getType();
    Type e = type.getElementType();
    if (f32Only ? !e.isF32() : !isSupportedFloat(e))
      return op->emitOpError()
             << "expected " << name << " element type to be "
             << (f32Only ? "f32" : "f32, f16 or bf16") << ", got " << e;
    return type;
  };
  FailureOr<ShapedType> q, k, v, o, dO;
  if (failed(q = shaped(getQuery(), "query", 4, false)) ||
      failed(k = shaped(getKey(), "key", 4, false)) ||
      failed(v = shaped(getValue(), "value", 4, false)) ||
      failed(o = shaped(getOut(), "saved output", 4, false)) ||
      failed(dO = shaped(getGradOut(), "output gradient", 4, false)))
    return failure();
  bool softmax = getNormalizer() == Normalizer::softmax;
  if (softmax != static_cast<bool>(getLse()))
    return emitOpError(softmax ? "expected a saved log-sum-exp (lse) with the "
                                 "softmax normalizer"
                               : "expected no log-sum-exp with the sigmoid "
                                 "normalizer");
  if (!softmax && (getGradLse() || !getSinkGrad().empty()))
    return emitOpError("expected no grad_lse and no sink_grad with the "
                       "sigmoid normalizer");
  if (getOutputs().size() < 3)
    return emitOpError() << "expected at least 3 outputs (query, key and "
                            "value gradients, then capture gradients), got "
                         << getOutputs().size();
  for (Value g : getCaptureGrads()) {
    auto t = dyn_cast<ShapedType>(g.getType());
    if (!t || !t.hasRank() || !t.getElementType().isF32())
      return emitOpError() << "expected capture gradients to be ranked f32, "
                              "got "
                           << g.getType();
  }
  FailureOr<ShapedType> dq = shaped(getOutputs()[0], "query gradient", 4, true);
  if (failed(dq))
    return failure();
  FailureOr<ShapedType> dk = shaped(getOutputs()[1], "key gradient", 4, true);
  if (failed(dk))
    return failure();
  FailureOr<ShapedType> dv = shaped(getOutputs()[2], "value gradient", 4, true);
  if (failed(dv))
    return failure();
  SmallVector<std::pair<ShapedType, StringRef>> rows;
  if (getLse()) {
    FailureOr<ShapedType> lse =
        shaped(getLse(), "saved log-sum-exp", 3, true);
    if (failed(lse))
      return failure();
    rows.push_back({*lse, "saved log-sum-exp"});
  }
  if (getGradLse()) {
    FailureOr<ShapedType> dl = shaped(getGradLse(), "log-sum-exp gradient", 3,
                                      true);
    if (failed(dl))
      return failure();
    rows.push_back({*dl, "log-sum-exp gradient"});
  }
  // Each tensor against the one it is shaped like.
  auto same = [&](ShapedType a, StringRef an, ShapedType b, StringRef bn,
                  ArrayRef<std::pair<int, int>> dims) -> LogicalResult {
    for (auto [da, db] : dims) {
      std::string x = (an + " dim " + Twine(da)).str(),
                  y = (bn + " dim " + Twine(db)).str();
      if (failed(checkDimsMatch(op, a.getDimSize(da), b.getDimSize(db), x, y)))
        return failure();
    }
    return success();
  };
  SmallVector<std::pair<int, int>> all4 = {{0, 0}, {1, 1}, {2, 2}, {3, 3}};
  if (failed(same(*k, "key", *q, "query", {{0, 0}, {3, 3}})) ||
      failed(same(*v, "value", *k, "key", {{0, 0}, {1, 1}, {2, 2}})) ||
      failed(same(*o, "saved output", *q, "query", {{0, 0}, {1, 1}, {2, 2}})) ||
      failed(same(*o, "saved output", *v, "value", {{3, 3}})) ||
      failed(same(*dO, "output gradient", *o, "saved output", all4)) ||
      failed(same(*dq, "query gradient", *q, "query", all4)) ||
      failed(same(*dk, "key gradient", *k, "key", all4)) ||
      failed(same(*dv, "value gradient", *v, "value", all4)))
    return failure();
  for (auto [t, name] : rows)
    if (failed(same(t, name, *q, "query", {{0, 0}, {1, 1}, {2, 2}})))
      return failure();
  int64_t hq = q->getDimSize(1), hkv = k->getDimSize(1);
  if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hkv) || hkv <= 0 ||
      hq % hkv != 0)
    return emitOpError() << "expected static head counts with the query "
                            "heads a multiple of the key/value heads";
  bool isTensor = isa<RankedTensorType>(*q);
  for (Value operand : getOperands())
    if (isa<RankedTensorType>(operand.getType()) != isTensor)
      return emitOpError("expected operands to be all tensors or all memrefs");
  unsigned numResults = isTensor ? getOutputs().size() : 0;
  if (getNumResults() != numResults)
    return emitOpError() << "expected " << numResults << " results, got "
                         << getNumResults();
  return success();
}

LogicalResult AttentionBackwardOp::verifyRegions() {
  Builder b(getContext());
  Type idx = b.getIndexType(), f32 = b.getF32Type();
  if (failed(verifyScoreAndMask(*this, getScore(), getMask())) ||
      failed(verifyScalarRegion(*this, getScoreGrad(), "score_grad",
                                {f32, f32, idx, idx, idx, idx}, f32)))
    return failure();
  if (getScore().empty() != getScoreGrad().empty())
    return emitOpError("expected a score_grad region exactly when there is a "
                       "score region");
  if (failed(verifyScalarRegion(*this, getSink(), "sink", {idx, idx, idx},
                                f32)))
    return failure();
  if (!getSinkGrad().empty()) {
    if (getSink().empty())
      return emitOpError("has a sink_grad region but no sink region");
    Block &block = getSinkGrad().front();
    if (!getSinkGrad().hasOneBlock() ||
        block.getArgumentTypes() != TypeRange{f32, idx, idx, idx} ||
        !isa<YieldOp>(block.getTerminator()) ||
        block.getTerminator()->getNumOperands() != 0)
      return emitOpError("expected the sink_grad region to take (f32, index, "
                         "index, index) and yield nothing");
  }
  // Each accumulation names an existing capture gradient with its rank.
  auto grads = getCaptureGrads();
  WalkResult walked = getOperation()->walk([&](GradAccumulateOp acc) {
    int64_t k = acc.getCapture();
    if (k < 0 || k >= static_cast<int64_t>(grads.size())) {
      acc.emitOpError() << "names capture " << k << " but the op has "
                        << grads.size() << " capture gradient(s)";
      return WalkResult::interrupt();
    }
    int64_t rank = cast<ShapedType>(grads[k].getType()).getRank();
    if (static_cast<int64_t>(acc.getIndices().size()) != rank) {
      acc.emitOpError() << "expected " << rank << " indices for capture " << k
                        << ", got " << acc.getIndices().size();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walked.wasInterrupted());
}

void AttentionBackwardOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

//===----------------------------------------------------------------------===//
// TileAttendOp / TileFinalizeOp
//===----------------------------------------------------------------------===//

/// Checks the shared shape of the online-softmax state: maxes [TQ], sums [TQ],
/// acc [TQ, Dv] with a static tile height.
static LogicalResult verifyState(Operation *op, MemRefType maxes,
                                 MemRefType sums, MemRefType acc, int64_t dv) {
  if (!maxes.hasStaticShape() || !sums.hasStaticShape() ||
      !acc.hasStaticShape())
    return op->emitOpError("expected the online-softmax state to have a "
                           "static shape");
  int64_t tq = maxes.getDimSize(0);
  if (sums.getDimSize(0) != tq || acc.getDimSize(0) != tq)
    return op->emitOpError()
           << "expected the state buffers to have " << tq << " rows";
  if (!ShapedType::isDynamic(dv) && acc.getDimSize(1) < dv)
    return op->emitOpError() << "expected the accumulator to have at least "
                             << dv << " columns, got " << acc.getDimSize(1);
  return success();
}

LogicalResult TileAttendOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType(),
       v = getValue().getType();
  if (q.isDynamicDim(1) || k.isDynamicDim(1) || v.isDynamicDim(1))
    return emitOpError("expected static head dims in the tiles");
  if (failed(checkDimsMatch(*this, k.getDimSize(1), q.getDimSize(1),
                            "key head dim", "query head dim")) ||
      failed(checkDimsMatch(*this, v.getDimSize(0), k.getDimSize(0),
                            "value rows", "key rows")))
    return failure();
  if (failed(verifyState(*this, getMaxes().getType(), getSums().getType(),
                         getAcc().getType(), v.getDimSize(1))))
    return failure();
  if (!q.isDynamicDim(0) &&
      q.getDimSize(0) > getMaxes().getType().getDimSize(0))
    return emitOpError() << "expected at most "
                         << getMaxes().getType().getDimSize(0)
                         << " query rows, got " << q.getDimSize(0);
  if (Value weights = getWeights()) {
    auto wt = cast<MemRefType>(weights.getType());
    if (failed(checkDimsMatch(*this, wt.getDimSize(0), k.getDimSize(0),
                              "weights rows", "key rows")) ||
        failed(checkDimsMatch(*this, wt.getDimSize(1),
                              getMaxes().getType().getDimSize(0),
                              "weights columns", "query tile rows")))
      return failure();
    if (getNormalizer() != Normalizer::softmax)
      return emitOpError("stores weights with the softmax normalizer only");
  }
  if (Value u = getLogitSums()) {
    if (failed(checkDimsMatch(*this, cast<MemRefType>(u.getType()).getDimSize(0),
                              getMaxes().getType().getDimSize(0),
                              "entropy sums rows", "query tile rows")))
      return failure();
    if (getNormalizer() != Normalizer::softmax)
      return emitOpError("keeps entropy sums with the softmax normalizer only");
  }
  return success();
}

LogicalResult TileColumnScoresOp::verifyRegions() {
  Builder b(getContext());
  Type idx = b.getIndexType();
  return verifyScalarRegion(*this, getSink(), "sink", {idx, idx, idx},
                            b.getF32Type());
}

LogicalResult TileColumnScoresOp::verify() {
  auto wt = getWeights().getType();
  int64_t tq = getMaxes().getType().getDimSize(0);
  if (failed(checkDimsMatch(*this, getSums().getType().getDimSize(0), tq,
                            "row sums", "row maxima")) ||
      failed(checkDimsMatch(*this, getStepMaxes().getType().getDimSize(0),
                            tq, "step maxima", "row maxima")) ||
      failed(checkDimsMatch(*this, wt.getDimSize(1), tq, "weights columns",
                            "row maxima")) ||
      failed(checkDimsMatch(*this, getPartial().getType().getDimSize(0),
                            wt.getDimSize(0), "partial sums", "weights rows")))
    return failure();
  if (std::optional<APFloat> a = getScoreDecay()) {
    float alpha = a->convertToFloat();
    if (!(alpha > 0.0f && alpha <= 1.0f))
      return emitOpError() << "expected a score_decay in (0, 1], got "
                           << alpha;
  }
  return success();
}

LogicalResult TileAttendOp::verifyRegions() {
  Builder b(getContext());
  Type idx = b.getIndexType(), f32 = b.getF32Type();
  if (failed(verifyScalarRegion(*this, getScore(), "score",
                                {f32, idx, idx, idx, idx}, f32)))
    return failure();
  return verifyScalarRegion(*this, getMask(), "mask", {idx, idx, idx, idx},
                            b.getI1Type());
}

LogicalResult TileFinalizeOp::verify() {
  auto o = getOutput().getType();
  if (o.isDynamicDim(1))
    return emitOpError("expected a static output head dim");
  if (failed(verifyState(*this, getMaxes().getType(), getSums().getType(),
                         getAcc().getType(), o.getDimSize(1))))
    return failure();
  if (Value lse = getLse())
    if (failed(
            checkDimsMatch(*this, cast<MemRefType>(lse.getType()).getDimSize(0),
                           o.getDimSize(0), "log-sum-exp rows", "output rows")))
      return failure();
  if (getNormalizer() == Normalizer::sigmoid &&
      (getLse() || !getSink().empty() || getEntropy()))
    return emitOpError("takes no log-sum-exp or entropy output and no sink "
                       "region with normalizer(sigmoid)");
  if (Value u = getLogitSums()) {
    if (!getEntropy())
      return emitOpError("expected an entropy output with entropy sums");
    if (failed(checkDimsMatch(
            *this, cast<MemRefType>(u.getType()).getDimSize(0),
            getMaxes().getType().getDimSize(0), "entropy sums rows",
            "query tile rows")) ||
        failed(checkDimsMatch(
            *this, cast<MemRefType>(getEntropy().getType()).getDimSize(0),
            o.getDimSize(0), "entropy rows", "output rows")))
      return failure();
  }
  return success();
}

LogicalResult TileFinalizeOp::verifyRegions() {
  Builder b(getContext());
  Type idx = b.getIndexType();
  if (failed(verifyScalarRegion(*this, getSink(), "sink", {idx, idx, idx},
                                b.getF32Type())))
    return failure();
  return verifyScalarRegion(*this, getEpilogue(), "epilogue",
                            {b.getF32Type(), idx, idx, idx, idx},
                            getOutput().getType().getElementType());
}

//===----------------------------------------------------------------------===//
// ParallelForOp
//===----------------------------------------------------------------------===//

LogicalResult ParallelForOp::verifyRegions() {
  Region &body = getBody();
  if (body.empty() || body.front().getNumArguments() != 1 ||
      !body.front().getArgument(0).getType().isInteger(64))
    return emitOpError("expected the body to take one i64 iteration index");
  return success();
}

namespace {
/// Folds `tensor.cast`s that only erase static information into the op
/// (e.g. the cast canonicalization leaves when a `tensor.empty` has a
/// constant size). Runs before the tensor dialect's generic DPS cast folding,
/// which cannot clone ops with empty optional regions.
struct FoldCastIntoAttention : OpRewritePattern<AttentionOp> {
  FoldCastIntoAttention(MLIRContext *ctx)
      : OpRewritePattern<AttentionOp>(ctx, /*benefit=*/10) {}
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics())
      return failure();
    SmallVector<Value> operands;
    bool changed = false;
    for (Value v : op->getOperands()) {
      auto cast = v.getDefiningOp<tensor::CastOp>();
      if (cast && tensor::canFoldIntoConsumerOp(cast)) {
        operands.push_back(cast.getSource());
        changed = true;
      } else {
        operands.push_back(v);
      }
    }
    if (!changed)
      return failure();
    ValueRange outs = ValueRange(operands).take_back(op.getOutputs().size());
    AttentionOp newOp =
        op.cloneWithOperands(rewriter, operands, TypeRange(outs));
    SmallVector<Value> results;
    for (auto [oldRes, newRes] : llvm::zip(op.getResults(), newOp.getResults()))
      results.push_back(oldRes.getType() == newRes.getType()
                            ? Value(newRes)
                            : tensor::CastOp::create(rewriter, op.getLoc(),
                                                     oldRes.getType(), newRes)
                                  .getResult());
    rewriter.replaceOp(op, results);
    return success();
  }
};
} // namespace

AttentionOp AttentionOp::cloneWithOperands(RewriterBase &rewriter,
                                           ValueRange operands,
                                           TypeRange resultTypes) {
  bool second = bool(getQuery2());
  bool blocks = bool(getBlocks());
  bool lens = bool(getKvLens()), table = bool(getPageTable());
  size_t n = 3;
  auto next = [&](bool present) -> Value {
    return present ? operands[n++] : Value();
  };
  Value q2 = next(second), k2 = next(second), sel = next(blocks),
        lensV = next(lens), tableV = next(table),
        ks = next(bool(getKeyScale())), vs = next(bool(getValueScale())),
        indptr = next(bool(getQoIndptr())), plan = next(bool(getPlan()));
  ValueRange outs = operands.drop_front(n);
  auto newOp = AttentionOp::create(
      rewriter, getLoc(), resultTypes, operands[0], operands[1], operands[2],
      q2, k2, sel, lensV, tableV, ks, vs, indptr, plan, outs, getCausalAttr(), getScaleAttr(),
      getNormalizerAttr(), getRmsNormEpsAttr(), getBlockSizeAttr(),
      getRowEntropyAttr(), getColumnScoresAttr(), getScoreDecayAttr(),
      getValueNormAttr(), getPageLayoutAttr(), getRopeAttr());
  for (auto [from, to] :
       llvm::zip(getOperation()->getRegions(), newOp->getRegions()))
    rewriter.inlineRegionBefore(from, to, to.end());
  return newOp;
}

void AttentionOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *ctx) {
  results.add<FoldCastIntoAttention>(ctx);
}

//===----------------------------------------------------------------------===//
// QuantizeKVOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeKVOp::verify() {
  auto in = cast<RankedTensorType>(getInput().getType());
  if (!isSupportedFloat(in.getElementType()))
    return emitOpError() << "expected an f32, f16 or bf16 input, got "
                         << in.getElementType();
  size_t expected = getScale() ? 1 : 2;
  if (getOutputs().size() != expected)
    return emitOpError() << "expected " << expected
                         << (getScale() ? " output (the codes; the scales are "
                                          "given)"
                                        : " outputs (the codes and the "
                                          "scales)")
                         << ", got " << getOutputs().size();
  if (getResults().getTypes() != getOutputs().getTypes())
    return emitOpError("expected the result types to match the output types");
  auto codes = cast<RankedTensorType>(getOutputs()[0].getType());
  if (codes.getRank() != in.getRank())
    return emitOpError() << "expected the codes to have the input's rank ("
                         << in.getRank() << "), got " << codes;
  for (int64_t d = 0; d < in.getRank(); ++d)
    if (failed(checkDimsMatch(*this, codes.getDimSize(d), in.getDimSize(d),
                              "codes dim " + std::to_string(d),
                              "input dim " + std::to_string(d))))
      return failure();
  return verifyQuantScale(*this, codes, getScales().getType(), "scale");
}

//===----------------------------------------------------------------------===//
// AppendKVOp
//===----------------------------------------------------------------------===//

LogicalResult AppendKVOp::verify() {
  if (getOutputs().size() != 2)
    return emitOpError() << "expected two outputs (the key and value pools), "
                            "got "
                         << getOutputs().size();
  auto shaped = [&](Value v, StringRef name, int64_t rank,
                    bool isFloat) -> FailureOr<ShapedType> {
    auto t = dyn_cast<ShapedType>(v.getType());
    if (!t || !t.hasRank() || t.getRank() != rank ||
        (isFloat ? !(isSupportedFloat(t.getElementType()) ||
                     isQuantizedKVType(t.getElementType()))
                 : !t.getElementType().isInteger(32)))
      return emitOpError() << "expected " << name << " to be a rank-" << rank
                           << (isFloat ? " f32, f16, bf16 or 8-bit (i8, "
                                         "f8E4M3FN, f8E5M2)"
                                       : " i32")
                           << " buffer, got " << v.getType();
    return t;
  };
  FailureOr<ShapedType> k, v, s, kp, vp;
  if (failed(k = shaped(getKeys(), "the new keys", 3, true)) ||
      failed(v = shaped(getValues(), "the new values", 3, true)) ||
      failed(s = shaped(getSlots(), "the slots", 1, false)) ||
      failed(kp = shaped(getKeyPool(), "the key pool", 4, true)) ||
      failed(vp = shaped(getValuePool(), "the value pool", 4, true)))
    return failure();
  // 8-bit rows are stored as they are (attn.quantize_kv made them): no
  // conversion into or out of a quantized pool.
  for (auto [rows, pool, name] :
       {std::tuple{*k, *kp, "key"}, {*v, *vp, "value"}}) {
    Type re = rows.getElementType(), pe = pool.getElementType();
    if ((isQuantizedKVType(re) || isQuantizedKVType(pe)) && re != pe)
      return emitOpError() << "expected the new " << name << "s ("
                           << re << ") to have the " << name
                           << " pool's 8-bit type (" << pe
                           << "): quantize them with attn.quantize_kv";
  }
  bool isTensor = isa<RankedTensorType>(*k);
  for (Value operand : getOperands())
    if (isa<RankedTensorType>(operand.getType()) != isTensor)
      return emitOpError("expected operands to be all tensors or all memrefs");
  if (isTensor ? getResults().getTypes() != getOutputs().getTypes()
               : !getResults().empty())
    return emitOpError("expected one result per pool on tensors and none on "
                       "memrefs");
  Operation *op = getOperation();
  unsigned heads = getKvHeadsDim(), rows = getPageRowsDim();
  if (kp->isDynamicDim(rows) || kp->getDimSize(rows) <= 0)
    return emitOpError() << "expected a static, positive page size (dim "
                         << rows << " of the key pool)";
  // The scatter's loops and addresses are built from these sizes.
  for (auto [t, name, dims] :
       {std::tuple{*k, "new keys", SmallVector<unsigned>{1, 2}},
        {*v, "new values", SmallVector<unsigned>{1, 2}},
        {*kp, "key pool", SmallVector<unsigned>{1, 2, 3}},
        {*vp, "value pool", SmallVector<unsigned>{1, 2, 3}}})
    for (unsigned d : dims)
      if (t.isDynamicDim(d))
        return emitOpError() << "expected dim " << d << " of the " << name
                             << " to be static (heads, page size and head "
                                "dim are)";
  return success(
      succeeded(checkDimsMatch(op, k->getDimSize(0), s->getDimSize(0),
                               "new keys", "slots")) &&
      succeeded(checkDimsMatch(op, v->getDimSize(0), s->getDimSize(0),
                               "new values", "slots")) &&
      succeeded(checkDimsMatch(op, kp->getDimSize(0), vp->getDimSize(0),
                               "key pages", "value pages")) &&
      succeeded(checkDimsMatch(op, vp->getDimSize(rows), kp->getDimSize(rows),
                               "value page size", "key page size")) &&
      succeeded(checkDimsMatch(op, k->getDimSize(1), kp->getDimSize(heads),
                               "new key heads", "key pool heads")) &&
      succeeded(checkDimsMatch(op, v->getDimSize(1), vp->getDimSize(heads),
                               "new value heads", "value pool heads")) &&
      succeeded(checkDimsMatch(op, k->getDimSize(2), kp->getDimSize(3),
                               "new key dim", "key pool dim")) &&
      succeeded(checkDimsMatch(op, v->getDimSize(2), vp->getDimSize(3),
                               "new value dim", "value pool dim")));
}

void AppendKVOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!isa<MemRefType>(getKeys().getType()))
    return;
  for (OpOperand *in :
       {&getKeysMutable(), &getValuesMutable(), &getSlotsMutable()})
    effects.emplace_back(MemoryEffects::Read::get(), in,
                         SideEffects::DefaultResource::get());
  for (OpOperand &out : getOutputsMutable()) {
    effects.emplace_back(MemoryEffects::Read::get(), &out,
                         SideEffects::DefaultResource::get());
    effects.emplace_back(MemoryEffects::Write::get(), &out,
                         SideEffects::DefaultResource::get());
  }
}

//===----------------------------------------------------------------------===//
// CumsumOp
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult mlir::attn::verifyRopeDims(Operation *op, RopeAttr rope,
                                         int64_t headDim) {
  if (ShapedType::isDynamic(headDim))
    return op->emitOpError("expected a static head dim with rope");
  int64_t r = rope.getRotatedDims(headDim);
  if (r % 2 || r > headDim)
    return op->emitOpError()
           << "expected rope to rotate an even number of channels, at most "
              "the head dim ("
           << headDim << "), got " << r;
  return success();
}

LogicalResult RopeOp::verify() {
  auto in = getInput().getType(), out = getOutput().getType();
  auto pos = getPositions().getType();
  if (in.getRank() != 4)
    return emitOpError() << "expected a [batch, heads, len, head_dim] input, got "
                         << in;
  if (!isSupportedFloat(in.getElementType()) ||
      !isSupportedFloat(out.getElementType()))
    return emitOpError("expected f32, f16 or bf16 input and output");
  if (out.getShape() != in.getShape() && out.getRank() == 4) {
    for (int64_t d = 0; d < 4; ++d)
      if (failed(checkDimsMatch(*this, out.getDimSize(d), in.getDimSize(d),
                                "output dim " + std::to_string(d),
                                "input dim " + std::to_string(d))))
        return failure();
  }
  if (out.getRank() != 4)
    return emitOpError() << "expected the output to have the input's rank, got "
                         << out;
  if (getResult().getType() != out)
    return emitOpError("expected the result type to be the output type");
  if (pos.getRank() != 2 || !isa<IntegerType>(pos.getElementType()) ||
      !(pos.getElementType().isInteger(32) ||
        pos.getElementType().isInteger(64)))
    return emitOpError() << "expected i32 or i64 [batch, len] positions, got "
                         << pos;
  if (failed(checkDimsMatch(*this, pos.getDimSize(0), in.getDimSize(0),
                            "positions batch", "input batch")) ||
      failed(checkDimsMatch(*this, pos.getDimSize(1), in.getDimSize(2),
                            "positions length", "input length")))
    return failure();
  return verifyRopeDims(*this, getRope(), in.getDimSize(3));
}

LogicalResult CumsumOp::verify() {
  auto in = cast<ShapedType>(getInput().getType());
  auto out = cast<ShapedType>(getOutput().getType());
  if (isa<RankedTensorType>(in) != isa<RankedTensorType>(out) ||
      isa<MemRefType>(in) != isa<MemRefType>(out) || !in.hasRank())
    return emitOpError("expected ranked input and output, both tensors or "
                       "both memrefs");
  if (getNumResults() != (isa<RankedTensorType>(out) ? 1u : 0u))
    return emitOpError("expected one result on tensors and none on memrefs");
  if (getNumResults() == 1 && getResult(0).getType() != out)
    return emitOpError("expected the result type to be the output type");
  if (!isa<FloatType>(in.getElementType()) ||
      !isa<FloatType>(out.getElementType()))
    return emitOpError("expected floating-point input and output");
  if (in.getRank() != out.getRank())
    return emitOpError() << "expected input rank (" << in.getRank()
                         << ") to match output rank (" << out.getRank() << ")";
  for (int64_t d = 0; d < in.getRank(); ++d)
    if (!in.isDynamicDim(d) && !out.isDynamicDim(d) &&
        in.getDimSize(d) != out.getDimSize(d))
      return emitOpError() << "expected input dim " << d << " ("
                           << in.getDimSize(d) << ") to match output dim " << d
                           << " (" << out.getDimSize(d) << ")";
  if (getDim() < 0 || getDim() >= in.getRank())
    return emitOpError() << "expected dim (" << getDim() << ") to be in [0, "
                         << in.getRank() << ")";
  return success();
}

void CumsumOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!isa<MemRefType>(getOutput().getType()))
    return;
  effects.emplace_back(MemoryEffects::Read::get(), &getInputMutable(),
                       SideEffects::DefaultResource::get());
  effects.emplace_back(MemoryEffects::Write::get(), &getOutputMutable(),
                       SideEffects::DefaultResource::get());
}


//===----------------------------------------------------------------------===//
// Shared by the routing ops
//===----------------------------------------------------------------------===//

/// Reads every non-init memref operand and writes every init; regions may
/// read buffers defined above (bias tables, document ids).
static void getDpsEffects(
    Operation *op,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  auto dps = cast<DestinationStyleOpInterface>(op);
  for (OpOperand &operand : op->getOpOperands()) {
    if (!isa<MemRefType>(operand.get().getType()))
      continue;
    if (dps.isDpsInit(&operand))
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
    else
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
  }
  for (Region &region : op->getRegions())
    region.walk([&](MemoryEffectOpInterface nested) {
      SmallVector<MemoryEffects::EffectInstance> nestedEffects;
      nested.getEffects(nestedEffects);
      for (auto &e : nestedEffects)
        if (e.getValue() && !region.isAncestor(e.getValue().getParentRegion()))
          effects.push_back(e);
    });
}

/// Operands all tensors (with one result per init) or all memrefs (none).
static LogicalResult verifyDpsForm(Operation *op) {
  auto dps = cast<DestinationStyleOpInterface>(op);
  bool anyTensor = false, anyMemref = false;
  for (Value v : op->getOperands()) {
    anyTensor |= isa<RankedTensorType>(v.getType());
    anyMemref |= isa<MemRefType>(v.getType());
    if (!isa<RankedTensorType, MemRefType>(v.getType()))
      return op->emitOpError() << "expected ranked tensors or memrefs, got "
                               << v.getType();
  }
  if (anyTensor && anyMemref)
    return op->emitOpError("expected all operands to be tensors or all to be "
                           "memrefs");
  if (anyTensor) {
    if (TypeRange(op->getResultTypes()) != TypeRange(dps.getDpsInits()))
      return op->emitOpError(
          "expected the result types to match the output types");
  } else if (op->getNumResults() != 0) {
    return op->emitOpError("expected no results when operating on memrefs");
  }
  return success();
}

static std::string formatShape(ShapedType t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "[";
  llvm::interleaveComma(t.getShape(), os,
                        [&](int64_t d) { os << formatDim(d); });
  os << "]";
  return s;
}

//===----------------------------------------------------------------------===//
// RouteOp
//===----------------------------------------------------------------------===//

int64_t RouteOp::getNumExperts() {
  auto t = cast<ShapedType>(getWeight() ? getWeight().getType()
                                        : getInput().getType());
  return t.getDimSize(t.getRank() - 1);
}

//===----------------------------------------------------------------------===//
// attn.scan
//===----------------------------------------------------------------------===//

void ScanOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

LogicalResult ScanOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyDpsForm(op)))
    return failure();
  auto q = cast<ShapedType>(getQuery().getType());
  auto k = cast<ShapedType>(getKey().getType());
  auto v = cast<ShapedType>(getValue().getType());
  for (auto [name, t] : {std::pair<StringRef, ShapedType>{"query", q},
                         {"key", k}, {"value", v}})
    if (!t.hasRank() || t.getRank() != 4 ||
        !isSupportedFloat(t.getElementType()))
      return emitOpError() << "expected the " << name
                           << " to be [B, H, L, D] of f32, f16 or bf16, got "
                           << t;
  auto compatible = [](int64_t a, int64_t b) {
    return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
  };
  for (int64_t d = 0; d < 4; ++d)
    if (!compatible(q.getDimSize(d), k.getDimSize(d)))
      return emitOpError() << "expected the query and key shapes to match, got "
                           << q << " and " << k;
  for (int64_t d = 0; d < 3; ++d)
    if (!compatible(q.getDimSize(d), v.getDimSize(d)))
      return emitOpError() << "expected the value to share batch, heads and "
                              "length with the query, got "
                           << v;
  SmallVector<int64_t> stateShape{q.getDimSize(0), q.getDimSize(1),
                                  k.getDimSize(3), v.getDimSize(3)};
  auto checkState = [&](Value s, StringRef what) -> LogicalResult {
    auto t = cast<ShapedType>(s.getType());
    if (!t.hasRank() || t.getRank() != 4 || !t.getElementType().isF32())
      return emitOpError() << "expected the " << what
                           << " to be [B, H, Dk, Dv] of f32, got " << t;
    for (int64_t d = 0; d < 4; ++d)
      if (!compatible(t.getDimSize(d), stateShape[d]))
        return emitOpError() << "expected the " << what
                             << " to be [B, H, Dk, Dv] = "
                             << formatShape(RankedTensorType::get(
                                    stateShape, t.getElementType()))
                             << ", got " << t;
    return success();
  };
  if (getOutputs().empty() || getOutputs().size() > 2)
    return emitOpError("expected the output and optionally the final state "
                       "as outputs");
  auto o = cast<ShapedType>(getOutput().getType());
  if (!o.hasRank() || o.getRank() != 4 || !isa<FloatType>(o.getElementType()))
    return emitOpError() << "expected the output to be [B, H, L, Dv], got "
                         << o;
  for (int64_t d = 0; d < 4; ++d)
    if (!compatible(o.getDimSize(d), v.getDimSize(d)))
      return emitOpError() << "expected the output shape to be the value's, "
                              "got "
                           << o;
  if (Value s = getState(); s && failed(checkState(s, "state")))
    return failure();
  if (Value s = getFinalState(); s && failed(checkState(s, "final state")))
    return failure();
  switch (getDecay()) {
  case DecayKind::none:
    if (getDecays())
      return emitOpError("with decay(none) takes no decays");
    break;
  case DecayKind::head: {
    auto t = getDecays() ? cast<ShapedType>(getDecays().getType()) : nullptr;
    if (!t || !t.hasRank() || t.getRank() != 1 ||
        !compatible(t.getDimSize(0), q.getDimSize(1)) ||
        !isSupportedFloat(t.getElementType()))
      return emitOpError("with decay(head) expects decays [H], one per head");
    break;
  }
  case DecayKind::channel: {
    auto t = getDecays() ? cast<ShapedType>(getDecays().getType()) : nullptr;
    bool ok = t && t.hasRank() && t.getRank() == 4 &&
              isSupportedFloat(t.getElementType());
    for (int64_t d = 0; ok && d < 4; ++d)
      ok = compatible(t.getDimSize(d), k.getDimSize(d));
    if (!ok)
      return emitOpError("with decay(channel) expects log-decays shaped like "
                         "the keys");
    break;
  }
  }
  Region &phi = getFeatureMap();
  if (!phi.empty()) {
    Block &block = phi.front();
    if (block.getNumArguments() != 2 ||
        !isa<FloatType>(block.getArgument(0).getType()) ||
        !block.getArgument(1).getType().isIndex())
      return emitOpError("expected the feature_map region to take (element: "
                         "float, head-dim index: index)");
    auto yield = dyn_cast<YieldOp>(block.getTerminator());
    if (!yield || yield.getValues().size() != 1 ||
        !isa<FloatType>(yield.getValues()[0].getType()))
      return emitOpError("expected the feature_map region to yield one float");
  }
  return success();
}

LogicalResult RouteOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyDpsForm(op)))
    return failure();
  auto in = cast<ShapedType>(getInput().getType());
  if (in.getRank() < 2 || !isSupportedFloat(in.getElementType()))
    return emitOpError() << "expected the input to be [..., tokens, "
                         << (getWeight() ? "model dim" : "experts")
                         << "] of f32, f16 or bf16, got " << in;
  int64_t batchRank = in.getRank() - 2;
  if (Value w = getWeight()) {
    auto wt = cast<ShapedType>(w.getType());
    if (wt.getElementType() != in.getElementType())
      return emitOpError() << "expected the router weight to have the input's "
                              "element type "
                           << in.getElementType() << ", got " << wt;
    if (wt.getRank() != 2 && wt.getRank() != in.getRank())
      return emitOpError() << "expected the router weight to be [model dim, "
                              "experts] or to have the input's leading dims, "
                              "got "
                           << formatShape(wt) << " for input "
                           << formatShape(in);
    for (int64_t d = 0; d + 2 < wt.getRank(); ++d)
      if (failed(checkDimsMatch(op, wt.getDimSize(d), in.getDimSize(d),
                                "router weight dim", "input dim")))
        return failure();
    if (failed(checkDimsMatch(op, wt.getDimSize(wt.getRank() - 2),
                              in.getDimSize(in.getRank() - 1),
                              "router weight rows", "input model dim")))
      return failure();
  }
  int64_t e = getNumExperts();
  int64_t k = getK();
  if (k < 1 || (!ShapedType::isDynamic(e) && k > e))
    return emitOpError() << "expected k (" << k << ") to be in [1, "
                         << formatDim(e) << "]";
  size_t nOut = getOutputs().size();
  if (nOut != 2 && nOut != 4)
    return emitOpError() << "expected 2 outputs (weights, indices) or 4 "
                            "(weights, indices, counts, prob_sums), got "
                         << nOut;
  auto checkTokenOutput = [&](Value v, Type elem,
                              StringRef name) -> LogicalResult {
    auto t = cast<ShapedType>(v.getType());
    if (t.getElementType() != elem || t.getRank() != in.getRank())
      return emitOpError() << "expected the " << name << " output to be [..., "
                           << "tokens, " << k << "] of " << elem << ", got "
                           << v.getType();
    for (int64_t d = 0; d <= batchRank; ++d)
      if (failed(checkDimsMatch(op, t.getDimSize(d), in.getDimSize(d),
                                (name + " dim").str(), "input dim")))
        return failure();
    if (t.getDimSize(batchRank + 1) != k)
      return emitOpError() << "expected the " << name << " output to have k ("
                           << k << ") columns, got "
                           << formatDim(t.getDimSize(batchRank + 1));
    return success();
  };
  Builder b(getContext());
  if (failed(checkTokenOutput(getWeights(), b.getF32Type(), "weights")) ||
      failed(checkTokenOutput(getIndices(), b.getI32Type(), "indices")))
    return failure();
  auto checkExpertVector = [&](Value v, Type elem,
                               StringRef name) -> LogicalResult {
    auto t = cast<ShapedType>(v.getType());
    if (t.getRank() != 1 || t.getElementType() != elem)
      return emitOpError() << "expected the " << name << " to be [experts] of "
                           << elem << ", got " << v.getType();
    return checkDimsMatch(op, t.getDimSize(0), e, (name + " length").str(),
                          "the number of experts");
  };
  if (nOut == 4 &&
      (failed(checkExpertVector(getCounts(), b.getI32Type(), "counts")) ||
       failed(checkExpertVector(getProbSums(), b.getF32Type(), "prob_sums"))))
    return failure();
  if (Value bias = getBias())
    if (failed(checkExpertVector(bias, b.getF32Type(), "bias")))
      return failure();
  if (ShapedType::isDynamic(e) &&
      (getGroups() || getKeep() || getCounts() || getCapacityFactor()))
    return emitOpError("expected a static number of experts with groups, "
                       "keep, capacity or load statistics");
  if (auto groups = getGroups()) {
    if (groups->size() != 2)
      return emitOpError() << "expected groups = [number of groups, groups "
                              "kept], got "
                           << groups->size() << " values";
    int64_t n = (*groups)[0], top = (*groups)[1];
    if (n < 1 || e % n != 0)
      return emitOpError() << "expected the number of groups (" << n
                           << ") to divide the number of experts (" << e << ")";
    if (top < 1 || top > n)
      return emitOpError() << "expected the groups kept (" << top
                           << ") to be in [1, " << n << "]";
    if (k > top * (e / n))
      return emitOpError() << "expected k (" << k << ") to be at most the "
                           << top * (e / n) << " experts of the kept groups";
  }
  if (auto keep = getKeep())
    if (static_cast<int64_t>(keep->size()) != e)
      return emitOpError() << "expected keep to have one entry per expert ("
                           << e << "), got " << keep->size();
  auto positive = [&](std::optional<APFloat> v,
                      StringRef name) -> LogicalResult {
    if (v && !(v->convertToFloat() > 0 && std::isfinite(v->convertToFloat())))
      return emitOpError() << "expected a finite, positive " << name << ", got "
                           << v->convertToFloat();
    return success();
  };
  if (failed(positive(getTemperature(), "temperature")) ||
      failed(positive(getRoutedScale(), "routed_scale")) ||
      failed(positive(getCapacityFactor(), "capacity_factor")))
    return failure();
  if (getRenormalize() && (getScoring() == RouteScoring::topk_softmax ||
                           getScoring() == RouteScoring::none))
    return emitOpError() << "renormalize has no meaning with scoring("
                         << stringifyRouteScoring(getScoring()) << ")";
  return success();
}

LogicalResult RouteOp::verifyRegions() {
  Builder b(getContext());
  Type idx = b.getIndexType(), f32 = b.getF32Type();
  return verifyScalarRegion(*this, getScore(), "score", {f32, idx, idx}, f32);
}

void RouteOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

//===----------------------------------------------------------------------===//
// ExpertsOp
//===----------------------------------------------------------------------===//

LogicalResult ExpertsOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyDpsForm(op)))
    return failure();
  auto x = cast<ShapedType>(getInput().getType());
  auto w = cast<ShapedType>(getWeights().getType());
  auto idx = cast<ShapedType>(getIndices().getType());
  auto w1 = cast<ShapedType>(getW1().getType());
  auto w3 = cast<ShapedType>(getW3().getType());
  auto w2 = cast<ShapedType>(getW2().getType());
  if (getOutputs().empty() || getOutputs().size() > 2)
    return emitOpError() << "expected an output and optionally the norms, got "
                         << getOutputs().size() << " outputs";
  auto y = cast<ShapedType>(getOutput().getType());
  if (x.getRank() != 2 || !x.getElementType().isF32())
    return emitOpError() << "expected the input to be [tokens, model dim] f32, "
                            "got "
                         << x;
  if (y.getRank() != 2 || !y.getElementType().isF32())
    return emitOpError() << "expected the output to be [tokens, model dim] "
                            "f32, got "
                         << y;
  if (w.getRank() != 2 || !w.getElementType().isF32())
    return emitOpError() << "expected the routing weights to be [tokens, k] "
                            "f32, got "
                         << w;
  if (idx.getRank() != 2 || !idx.getElementType().isInteger(32))
    return emitOpError() << "expected the routing indices to be [tokens, k] "
                            "i32, got "
                         << idx;
  // (After the ranks of the input and the weights are known.)
  if (Value norms = getNorms()) {
    auto n = cast<ShapedType>(norms.getType());
    if (n.getRank() != 2 || !n.getElementType().isF32())
      return emitOpError() << "expected the norms to be [tokens, k] f32, got "
                           << n;
    if (failed(checkDimsMatch(op, n.getDimSize(0), x.getDimSize(0),
                              "norm tokens", "input tokens")) ||
        failed(checkDimsMatch(op, n.getDimSize(1), w.getDimSize(1),
                              "norm columns", "routing weight columns")))
      return failure();
  }
  for (auto [t, name] : {std::pair{w1, "W1"}, {w3, "W3"}, {w2, "W2"}})
    if (t.getRank() != 3 || !t.hasStaticShape() ||
        !t.getElementType().isF32())
      return emitOpError() << "expected " << name
                           << " to be a static rank-3 f32 buffer, got " << t;
  if (w1 != w3)
    return emitOpError() << "expected W1 and W3 to have the same type, got "
                         << w1 << " and " << w3;
  int64_t e = w1.getDimSize(0), dm = w1.getDimSize(1), f = w1.getDimSize(2);
  if (w2.getDimSize(0) != e || w2.getDimSize(1) != f || w2.getDimSize(2) != dm)
    return emitOpError() << "expected W2 to be [" << e << ", " << f << ", "
                         << dm << "] (experts, hidden, model), got "
                         << formatShape(w2);
  if (failed(checkDimsMatch(op, x.getDimSize(1), dm, "input model dim",
                            "W1 model dim")) ||
      failed(checkDimsMatch(op, y.getDimSize(1), dm, "output model dim",
                            "W1 model dim")) ||
      failed(checkDimsMatch(op, y.getDimSize(0), x.getDimSize(0),
                            "output tokens", "input tokens")) ||
      failed(checkDimsMatch(op, w.getDimSize(0), x.getDimSize(0),
                            "routing weight tokens", "input tokens")) ||
      failed(checkDimsMatch(op, idx.getDimSize(0), x.getDimSize(0),
                            "routing index tokens", "input tokens")) ||
      failed(checkDimsMatch(op, idx.getDimSize(1), w.getDimSize(1),
                            "routing index columns", "routing weight columns")))
    return failure();
  return success();
}

void ExpertsOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

//===----------------------------------------------------------------------===//
// GateOp
//===----------------------------------------------------------------------===//

SmallVector<int64_t> GateOp::getGateDims() {
  if (auto dims = getDims())
    return SmallVector<int64_t>(dims->begin(), dims->end());
  return llvm::to_vector(llvm::seq<int64_t>(
      0, cast<ShapedType>(getInput().getType()).getRank()));
}

Value GateOp::emitActivation(OpBuilder &b, Location loc, Activation act,
                             Value g) {
  // Scalars or vectors: constants are splats of g's type.
  Type f32 = b.getF32Type();
  auto vecType = dyn_cast<VectorType>(g.getType());
  Type type = vecType ? Type(vecType.clone(f32)) : f32;
  if (getElementTypeOrSelf(g.getType()) != f32)
    g = arith::ExtFOp::create(b, loc, type, g);
  auto cst = [&](float v) -> Value {
    if (vecType)
      return arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(cast<ShapedType>(type), v));
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  };
  // sigmoid(v) = 1 / (1 + t) for v >= 0, t / (1 + t) below, t = e^{-|v|}:
  // no overflow, so the reverse sweep through it (attn.gate's adjoint
  // differentiates this form) never forms 0 * inf for v < -88.
  auto sigmoid = [&](Value v) -> Value {
    Value t = math::ExpOp::create(
        b, loc, arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, v)));
    Value r = arith::DivFOp::create(
        b, loc, cst(1.0f), arith::AddFOp::create(b, loc, cst(1.0f), t));
    Value positive =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, v, cst(0.0f));
    return arith::SelectOp::create(b, loc, positive, r,
                                   arith::MulFOp::create(b, loc, t, r));
  };
  switch (act) {
  case Activation::sigmoid:
    return sigmoid(g);
  case Activation::swish:
    return arith::MulFOp::create(b, loc, g, sigmoid(g));
  case Activation::tanh:
    return math::TanhOp::create(b, loc, g);
  case Activation::gelu: {
    // 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)))
    Value g3 = arith::MulFOp::create(b, loc, g, arith::MulFOp::create(b, loc, g, g));
    Value inner = arith::MulFOp::create(
        b, loc, cst(0.7978845608f),
        math::FmaOp::create(b, loc, cst(0.044715f), g3, g));
    Value t = math::TanhOp::create(b, loc, inner);
    return arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, cst(0.5f), g),
        arith::AddFOp::create(b, loc, cst(1.0f), t));
  }
  case Activation::relu:
    return arith::MaximumFOp::create(b, loc, g, cst(0.0f));
  case Activation::identity:
    return g;
  }
  return g;
}

Operation *GateOp::buildGeneric(OpBuilder &b, Value input, Value gate,
                                Value output) {
  MLIRContext *ctx = getContext();
  int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
  SmallVector<AffineExpr> gExprs;
  for (int64_t d : getGateDims())
    gExprs.push_back(getAffineDimExpr(d, ctx));
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap gMap = AffineMap::get(rank, 0, gExprs, ctx);
  Activation act = getActivation();
  Type outElem = cast<ShapedType>(output.getType()).getElementType();
  return linalg::GenericOp::create(
      b, getLoc(), TypeRange{output.getType()}, ValueRange{input, gate},
      ValueRange{output}, ArrayRef<AffineMap>{id, gMap, id},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        Value x = args[0];
        if (!x.getType().isF32())
          x = arith::ExtFOp::create(nb, loc, nb.getF32Type(), x);
        Value y = arith::MulFOp::create(
            nb, loc, x, GateOp::emitActivation(nb, loc, act, args[1]));
        if (outElem != y.getType())
          y = arith::TruncFOp::create(nb, loc, outElem, y);
        linalg::YieldOp::create(nb, loc, y);
      });
}

LogicalResult GateOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyDpsForm(op)))
    return failure();
  auto x = cast<ShapedType>(getInput().getType());
  auto g = cast<ShapedType>(getGate().getType());
  auto o = cast<ShapedType>(getOutput().getType());
  if (!isSupportedFloat(x.getElementType()) ||
      !isSupportedFloat(g.getElementType()) ||
      !isSupportedFloat(o.getElementType()))
    return emitOpError("expected f32, f16 or bf16 operands");
  if (o.getRank() != x.getRank())
    return emitOpError() << "expected the output rank (" << o.getRank()
                         << ") to match the input rank (" << x.getRank() << ")";
  for (int64_t d = 0; d < x.getRank(); ++d)
    if (failed(checkDimsMatch(op, o.getDimSize(d), x.getDimSize(d),
                              "output dim " + std::to_string(d),
                              "input dim " + std::to_string(d))))
      return failure();
  SmallVector<int64_t> dims = getGateDims();
  if (static_cast<int64_t>(dims.size()) != g.getRank())
    return emitOpError() << "expected the gate rank (" << g.getRank()
                         << ") to equal the number of gated dims ("
                         << dims.size() << ")";
  for (auto [pos, d] : llvm::enumerate(dims)) {
    if (d < 0 || d >= x.getRank() || (pos > 0 && d <= dims[pos - 1]))
      return emitOpError() << "expected dims to be increasing input dims in "
                              "[0, "
                           << x.getRank() << ")";
    if (failed(checkDimsMatch(op, g.getDimSize(pos), x.getDimSize(d),
                              "gate dim " + std::to_string(pos),
                              "input dim " + std::to_string(d))))
      return failure();
  }
  return success();
}

void GateOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

//===----------------------------------------------------------------------===//
// MergeOp
//===----------------------------------------------------------------------===//

/// After `stacked`: `(p)`, or nothing for the partials' dim first.
static ParseResult parseStackDim(OpAsmParser &parser, IntegerAttr &dim) {
  int64_t p = 0;
  if (succeeded(parser.parseOptionalLParen()) &&
      (parser.parseInteger(p) || parser.parseRParen()))
    return failure();
  dim = parser.getBuilder().getI64IntegerAttr(p);
  return success();
}

static void printStackDim(OpAsmPrinter &printer, Operation *,
                          IntegerAttr dim) {
  if (dim && dim.getInt() != 0)
    printer << "(" << dim.getInt() << ")";
}

LogicalResult MergeOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyDpsForm(op)))
    return failure();
  if (getPartials().empty())
    return emitOpError("expected at least one partial output");
  if (getLses().size() != getPartials().size())
    return emitOpError() << "expected one LSE per partial output, got "
                         << getLses().size() << " for "
                         << getPartials().size();
  if (getOutputs().empty() || getOutputs().size() > 2)
    return emitOpError() << "expected the merged output and optionally the "
                            "merged LSE as outputs, got "
                         << getOutputs().size();
  auto out = cast<ShapedType>(getOutputs()[0].getType());
  if (out.getRank() < 2 || !isSupportedFloat(out.getElementType()))
    return emitOpError() << "expected the output to be [..., length, dim] of "
                            "f32, f16 or bf16, got "
                         << out;
  int64_t rank = out.getRank();
  std::optional<int64_t> stackDim = getStackDim();
  if (stackDim && getPartials().size() != 1)
    return emitOpError() << "expected one stacked partial operand, got "
                         << getPartials().size();
  if (stackDim && (*stackDim < 0 || *stackDim > rank - 1))
    return emitOpError() << "expected the stacked dim to be in [0, "
                         << rank - 1 << "] (before the output's last dim), got "
                         << *stackDim;
  // `t` has the output's first `r` dims, with the partials' dim inserted at
  // `at` when `at` is set (a stacked operand).
  auto checkShape = [&](ShapedType t, int64_t r, std::optional<int64_t> at,
                        StringRef what) -> LogicalResult {
    int64_t want = r + (at ? 1 : 0);
    if (t.getRank() != want)
      return emitOpError() << "expected " << what << " to have rank " << want
                           << ", got " << t;
    for (int64_t d = 0; d < r; ++d) {
      int64_t td = at && d >= *at ? d + 1 : d;
      if (failed(checkDimsMatch(op, t.getDimSize(td), out.getDimSize(d),
                                (what + " dim " + Twine(td)).str(),
                                "output dim " + std::to_string(d))))
        return failure();
    }
    return success();
  };
  std::optional<int64_t> lead = stackDim;
  for (auto [k, p] : llvm::enumerate(getPartials())) {
    auto t = cast<ShapedType>(p.getType());
    if (!isSupportedFloat(t.getElementType()))
      return emitOpError() << "expected partial " << k
                           << " to be f32, f16 or bf16, got " << t;
    if (failed(checkShape(t, rank, lead, ("partial " + Twine(k)).str())))
      return failure();
  }
  SmallVector<Value> lses(getLses());
  if (Value l = getLseOutput())
    lses.push_back(l);
  for (auto [k, l] : llvm::enumerate(lses)) {
    auto t = cast<ShapedType>(l.getType());
    bool input = k < getLses().size();
    std::string what =
        input ? "LSE " + std::to_string(k) : std::string("the LSE output");
    if (!t.getElementType().isF32())
      return emitOpError() << "expected " << what << " to be f32, got " << t;
    if (failed(checkShape(t, rank - 1, input ? lead : std::nullopt, what)))
      return failure();
  }
  if (stackDim) {
    std::string dim = " dim " + std::to_string(*stackDim);
    return checkDimsMatch(
        op, cast<ShapedType>(getLses()[0].getType()).getDimSize(*stackDim),
        cast<ShapedType>(getPartials()[0].getType()).getDimSize(*stackDim),
        "LSE 0" + dim, "partial 0" + dim);
  }
  return success();
}

namespace {
/// The row statistics of the partials' LSEs `lses` (f32 block arguments):
/// the weights exp(LSE_s - m) and their sum, with m = max_s LSE_s read as 0
/// where every LSE is -inf (so that the weights are exp(-inf) = 0, not NaN).
struct MergeRowStats {
  Value m;
  SmallVector<Value> weights;
  Value den;
  /// den > 0 (some partial saw a key), and den where it is, else 1.
  Value seen, safeDen;
};
} // namespace

static Value mergeF32(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

static MergeRowStats mergeRowStats(OpBuilder &b, Location loc,
                                   ValueRange lses) {
  const float inf = std::numeric_limits<float>::infinity();
  Value m = lses[0];
  for (Value l : lses.drop_front())
    m = arith::MaximumFOp::create(b, loc, m, l);
  Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m,
                                     mergeF32(b, loc, -inf));
  MergeRowStats s;
  s.m = arith::SelectOp::create(b, loc, none, mergeF32(b, loc, 0.0f), m);
  s.den = mergeF32(b, loc, 0.0f);
  for (Value l : lses) {
    Value w = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, l, s.m));
    s.weights.push_back(w);
    s.den = arith::AddFOp::create(b, loc, s.den, w);
  }
  s.seen = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, s.den,
                                 mergeF32(b, loc, 0.0f));
  s.safeDen = arith::SelectOp::create(b, loc, s.seen, s.den,
                                      mergeF32(b, loc, 1.0f));
  return s;
}

/// The stacked merge (`P [rows..., D]`, `LSE [rows...]` with the partials'
/// dim S inserted at `at`) as reductions over S: the row maximum m (a
/// stabilizer), the
/// weights' sum den = sum_s exp(LSE_s - m'), the numerator
/// sum_s exp(LSE_s - m') P_s in f32 (m' = m, or 0 where every LSE is -inf),
/// then O = num / den and LSE = m' + log(den) elementwise.
static SmallVector<Value, 2>
buildStackedMergeGenerics(OpBuilder &b, Location loc, Value partial,
                          Value lse, Value output, Value lseOutput, int64_t at,
                          SmallVectorImpl<Operation *> *stabilizers) {
  MLIRContext *ctx = b.getContext();
  const float inf = std::numeric_limits<float>::infinity();
  Type f32 = b.getF32Type();
  auto lseType = cast<RankedTensorType>(lse.getType());
  // Row dims: the LSE's but the partials' one.
  int64_t rows = lseType.getRank() - 1;
  SmallVector<int64_t> rowShape(lseType.getShape());
  rowShape.erase(rowShape.begin() + at);
  SmallVector<Value> rowDyn;
  for (int64_t d = 0; d < rows; ++d)
    if (ShapedType::isDynamic(rowShape[d]))
      rowDyn.push_back(
          tensor::DimOp::create(b, loc, lse, d >= at ? d + 1 : d));
  auto filled = [&](ArrayRef<int64_t> shape, ValueRange dyn,
                    float v) -> Value {
    Value e = tensor::EmptyOp::create(b, loc, shape, f32, dyn);
    return linalg::FillOp::create(b, loc, mergeF32(b, loc, v), e).getResult(0);
  };
  // Maps of `loops` loops onto the listed dims.
  auto map = [&](unsigned loops, ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(getAffineDimExpr(d, ctx));
    return AffineMap::get(loops, 0, exprs, ctx);
  };
  auto iters = [&](unsigned loops, unsigned parallel) {
    SmallVector<utils::IteratorType> it(loops, utils::IteratorType::parallel);
    for (unsigned d = parallel; d < loops; ++d)
      it[d] = utils::IteratorType::reduction;
    return it;
  };
  SmallVector<unsigned> rowDims = llvm::to_vector(llvm::seq<unsigned>(0, rows));
  // `dims` with loop `s` inserted at the partials' position.
  auto withS = [&](ArrayRef<unsigned> dims, unsigned s) {
    SmallVector<unsigned> r(dims);
    r.insert(r.begin() + at, s);
    return r;
  };
  // Over (rows..., s): the LSE at (rows... with s), a row value at (rows...).
  unsigned loops = rows + 1;
  SmallVector<unsigned> lseDims = withS(rowDims, rows);
  AffineMap lseMap = map(loops, lseDims), rowMap = map(loops, rowDims);
  auto safeMax = [&](OpBuilder &nb, Location l, Value m) -> Value {
    Value none = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, m,
                                       mergeF32(nb, l, -inf));
    return arith::SelectOp::create(nb, l, none, mergeF32(nb, l, 0.0f), m);
  };
  auto maxOp = linalg::GenericOp::create(
      b, loc, TypeRange{RankedTensorType::get(rowShape, f32)}, ValueRange{lse},
      ValueRange{filled(rowShape, rowDyn, -inf)},
      ArrayRef<AffineMap>{lseMap, rowMap}, iters(loops, rows),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        linalg::YieldOp::create(nb, l,
                                ValueRange{arith::MaximumFOp::create(
                                    nb, l, a[1], a[0])});
      });
  if (stabilizers)
    stabilizers->push_back(maxOp);
  Value m = maxOp.getResult(0);
  auto weight = [&](OpBuilder &nb, Location l, Value ls, Value mx) -> Value {
    return math::ExpOp::create(
        nb, l, arith::SubFOp::create(nb, l, ls, safeMax(nb, l, mx)));
  };
  Value den =
      linalg::GenericOp::create(
          b, loc, TypeRange{m.getType()}, ValueRange{lse, m},
          ValueRange{filled(rowShape, rowDyn, 0.0f)},
          ArrayRef<AffineMap>{lseMap, rowMap, rowMap}, iters(loops, rows),
          [&](OpBuilder &nb, Location l, ValueRange a) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::AddFOp::create(nb, l, a[2],
                                                 weight(nb, l, a[0], a[1]))});
          })
          .getResult(0);
  auto seenAndSafe = [&](OpBuilder &nb, Location l, Value d) {
    Value seen = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, d,
                                       mergeF32(nb, l, 0.0f));
    return std::make_pair(
        seen, arith::SelectOp::create(nb, l, seen, d, mergeF32(nb, l, 1.0f))
                  .getResult());
  };
  SmallVector<Value, 2> results(2);
  if (output) {
    // Over (rows..., dim, s).
    auto outType = cast<RankedTensorType>(output.getType());
    unsigned oLoops = rows + 2;
    SmallVector<unsigned> outDims = llvm::to_vector(
        llvm::seq<unsigned>(0, rows + 1));
    SmallVector<unsigned> partDims = withS(outDims, rows + 1);
    SmallVector<unsigned> sRows = withS(rowDims, rows + 1);
    // (The output's own dynamic dims: the verifier lets a static dim of
    // one operand match a dynamic one of another.)
    SmallVector<Value> outDyn;
    for (int64_t d = 0; d <= rows; ++d)
      if (outType.isDynamicDim(d))
        outDyn.push_back(tensor::DimOp::create(b, loc, output, d));
    Value num =
        linalg::GenericOp::create(
            b, loc,
            TypeRange{RankedTensorType::get(outType.getShape(), f32)},
            ValueRange{partial, lse, m},
            ValueRange{filled(outType.getShape(), outDyn, 0.0f)},
            ArrayRef<AffineMap>{map(oLoops, partDims), map(oLoops, sRows),
                                map(oLoops, rowDims), map(oLoops, outDims)},
            iters(oLoops, rows + 1),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value o = a[0];
              if (!o.getType().isF32())
                o = arith::ExtFOp::create(nb, l, nb.getF32Type(), o);
              Value t = arith::MulFOp::create(nb, l, weight(nb, l, a[1], a[2]),
                                              o);
              linalg::YieldOp::create(
                  nb, l, ValueRange{arith::AddFOp::create(nb, l, a[3], t)});
            })
            .getResult(0);
    Type elem = outType.getElementType();
    AffineMap id = b.getMultiDimIdentityMap(rows + 1);
    results[0] =
        linalg::GenericOp::create(
            b, loc, TypeRange{outType}, ValueRange{num, den},
            ValueRange{output},
            ArrayRef<AffineMap>{id, map(rows + 1, rowDims), id},
            iters(rows + 1, rows + 1),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value o = arith::DivFOp::create(nb, l, a[0],
                                              seenAndSafe(nb, l, a[1]).second);
              if (!elem.isF32())
                o = arith::TruncFOp::create(nb, l, elem, o);
              linalg::YieldOp::create(nb, l, o);
            })
            .getResult(0);
  }
  if (lseOutput) {
    AffineMap id = b.getMultiDimIdentityMap(rows);
    results[1] =
        linalg::GenericOp::create(
            b, loc, TypeRange{lseOutput.getType()}, ValueRange{m, den},
            ValueRange{lseOutput}, ArrayRef<AffineMap>{id, id, id},
            iters(rows, rows),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              auto [seen, safeDen] = seenAndSafe(nb, l, a[1]);
              Value v = arith::AddFOp::create(
                  nb, l, safeMax(nb, l, a[0]),
                  math::LogOp::create(nb, l, safeDen));
              v = arith::SelectOp::create(nb, l, seen, v,
                                          mergeF32(nb, l, -inf));
              linalg::YieldOp::create(nb, l, v);
            })
            .getResult(0);
  }
  return results;
}

SmallVector<Value, 2>
MergeOp::buildGenerics(OpBuilder &b, Location loc, ValueRange partials,
                       ValueRange lses, Value output, Value lseOutput,
                       std::optional<int64_t> stackDim,
                       SmallVectorImpl<Operation *> *stabilizers) {
  if (stackDim)
    return buildStackedMergeGenerics(b, loc, partials[0], lses[0], output,
                                     lseOutput, *stackDim, stabilizers);
  MLIRContext *ctx = b.getContext();
  int64_t n = partials.size();
  SmallVector<Value, 2> results(2);
  if (output) {
    // O = sum_s w_s O_s / den: ins(O_1..O_n, LSE_1..LSE_n), the LSEs at the
    // element's row.
    auto type = cast<RankedTensorType>(output.getType());
    int64_t rank = type.getRank();
    AffineMap id = b.getMultiDimIdentityMap(rank);
    SmallVector<AffineExpr> rowExprs;
    for (int64_t d = 0; d + 1 < rank; ++d)
      rowExprs.push_back(getAffineDimExpr(d, ctx));
    AffineMap row = AffineMap::get(rank, 0, rowExprs, ctx);
    SmallVector<Value> ins(partials);
    llvm::append_range(ins, lses);
    SmallVector<AffineMap> maps(n, id);
    maps.append(n, row);
    maps.push_back(id);
    Type elem = type.getElementType();
    results[0] =
        linalg::GenericOp::create(
            b, loc, TypeRange{type}, ins, ValueRange{output}, maps,
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &nb, Location l, ValueRange args) {
              MergeRowStats s = mergeRowStats(nb, l, args.slice(n, n));
              Value num = mergeF32(nb, l, 0.0f);
              for (int64_t k = 0; k < n; ++k) {
                Value o = args[k];
                if (!o.getType().isF32())
                  o = arith::ExtFOp::create(nb, l, nb.getF32Type(), o);
                num = arith::AddFOp::create(
                    nb, l, num, arith::MulFOp::create(nb, l, s.weights[k], o));
              }
              Value o = arith::DivFOp::create(nb, l, num, s.safeDen);
              if (!elem.isF32())
                o = arith::TruncFOp::create(nb, l, elem, o);
              linalg::YieldOp::create(nb, l, o);
            })
            .getResult(0);
  }
  if (lseOutput) {
    // LSE = m + log(den), -inf where no partial saw a key.
    auto type = cast<RankedTensorType>(lseOutput.getType());
    int64_t rank = type.getRank();
    SmallVector<AffineMap> maps(n + 1, b.getMultiDimIdentityMap(rank));
    results[1] =
        linalg::GenericOp::create(
            b, loc, TypeRange{type}, lses, ValueRange{lseOutput}, maps,
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &nb, Location l, ValueRange args) {
              MergeRowStats s = mergeRowStats(nb, l, args.take_front(n));
              Value v = arith::AddFOp::create(
                  nb, l, s.m, math::LogOp::create(nb, l, s.safeDen));
              v = arith::SelectOp::create(
                  nb, l, s.seen, v,
                  mergeF32(nb, l, -std::numeric_limits<float>::infinity()));
              linalg::YieldOp::create(nb, l, v);
            })
            .getResult(0);
  }
  return results;
}

void MergeOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

//===----------------------------------------------------------------------===//
// PoolOp
//===----------------------------------------------------------------------===//

LogicalResult PoolOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyDpsForm(op)))
    return failure();
  auto in = cast<ShapedType>(getInput().getType());
  auto out = cast<ShapedType>(getOutput().getType());
  if (in.getRank() < 2 || !isSupportedFloat(in.getElementType()))
    return emitOpError() << "expected the input to be [..., length, dim] of "
                            "f32, f16 or bf16, got "
                         << in;
  if (out.getRank() != in.getRank() || !out.getElementType().isF32())
    return emitOpError() << "expected the output to be f32 of rank "
                         << in.getRank() << ", got " << out;
  if (getBlock() < 1)
    return emitOpError() << "expected a positive block, got " << getBlock();
  if (getKinds().empty())
    return emitOpError("expected at least one pooling kind");
  for (Attribute a : getKinds()) {
    StringRef kind = cast<StringAttr>(a).getValue();
    if (kind != "max" && kind != "min" && kind != "mean")
      return emitOpError() << "expected pooling kinds among \"max\", \"min\", "
                              "\"mean\", got \""
                           << kind << "\"";
  }
  int64_t r = in.getRank();
  for (int64_t d = 0; d + 2 < r; ++d)
    if (failed(checkDimsMatch(op, out.getDimSize(d), in.getDimSize(d),
                              "output dim " + std::to_string(d),
                              "input dim " + std::to_string(d))))
      return failure();
  if (!in.isDynamicDim(r - 2) && !out.isDynamicDim(r - 2) &&
      out.getDimSize(r - 2) !=
          (in.getDimSize(r - 2) + getBlock() - 1) / getBlock())
    return emitOpError() << "expected " << (in.getDimSize(r - 2) + getBlock() - 1) / getBlock()
                         << " pooled rows (ceil(" << in.getDimSize(r - 2)
                         << " / " << getBlock() << ")), got "
                         << out.getDimSize(r - 2);
  int64_t d = in.getDimSize(r - 1);
  if (!ShapedType::isDynamic(d) && !out.isDynamicDim(r - 1) &&
      out.getDimSize(r - 1) != d * static_cast<int64_t>(getKinds().size()))
    return emitOpError() << "expected the output's last dim to be "
                         << d * static_cast<int64_t>(getKinds().size())
                         << " (kinds x dim), got " << out.getDimSize(r - 1);
  return success();
}

void PoolOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

//===----------------------------------------------------------------------===//
// EvictOp
//===----------------------------------------------------------------------===//

LogicalResult EvictOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyDpsForm(op)))
    return failure();
  // I64Attr reads back unsigned.
  auto budget = static_cast<int64_t>(getBudget()),
       sink = static_cast<int64_t>(getSink()),
       recent = static_cast<int64_t>(getRecent());
  if (budget < 0 || sink < 0 || recent < 0)
    return emitOpError() << "expected a non-negative budget, sink and recent, "
                            "got "
                         << budget << ", " << sink << ", " << recent;
  constexpr int64_t kMaxKept = std::numeric_limits<int32_t>::max();
  if (budget > kMaxKept || sink > kMaxKept || recent > kMaxKept ||
      getNumKept() > kMaxKept)
    return emitOpError() << "expected sink + budget + recent to fit the i32 "
                            "indices, got "
                         << sink << " + " << budget << " + " << recent;
  if (getNumKept() < 1)
    return emitOpError("expected to keep at least one position (sink + "
                       "budget + recent > 0)");
  if (getKeyNorm() == static_cast<bool>(getScores()))
    return emitOpError(getKeyNorm()
                           ? "takes no scores operand with key_norm (it ranks "
                             "by the keys' L2 norms)"
                           : "expected a scores operand or key_norm");
  auto k = cast<ShapedType>(getKeys().getType());
  auto v = cast<ShapedType>(getValues().getType());
  if (k.getRank() < 2 || !isSupportedFloat(k.getElementType()))
    return emitOpError() << "expected the keys to be [..., positions, dim] of "
                            "f32, f16 or bf16, got "
                         << k;
  if (v.getRank() != k.getRank() || !isSupportedFloat(v.getElementType()))
    return emitOpError() << "expected the values to be f32, f16 or bf16 of "
                            "the keys' rank "
                         << k.getRank() << ", got " << v;
  int64_t r = k.getRank();
  for (int64_t d = 0; d + 1 < r; ++d)
    if (failed(checkDimsMatch(op, v.getDimSize(d), k.getDimSize(d),
                              "values dim " + std::to_string(d),
                              "keys dim " + std::to_string(d))))
      return failure();
  if (Value scores = getScores()) {
    auto s = cast<ShapedType>(scores.getType());
    if (s.getRank() != r - 1 || !isSupportedFloat(s.getElementType()))
      return emitOpError() << "expected the scores to be [..., positions] of "
                              "f32, f16 or bf16 with rank "
                           << r - 1 << ", got " << s;
    for (int64_t d = 0; d + 1 < r; ++d)
      if (failed(checkDimsMatch(op, s.getDimSize(d), k.getDimSize(d),
                                "scores dim " + std::to_string(d),
                                "keys dim " + std::to_string(d))))
        return failure();
  }
  if (getOutputs().size() != 3)
    return emitOpError() << "expected 3 outputs (indices, keys, values), got "
                         << getOutputs().size();
  auto idx = cast<ShapedType>(getIndicesOutput().getType());
  auto ko = cast<ShapedType>(getKeysOutput().getType());
  auto vo = cast<ShapedType>(getValuesOutput().getType());
  if (idx.getRank() != r - 1 || !idx.getElementType().isInteger(32))
    return emitOpError() << "expected the indices output to be i32 of rank "
                         << r - 1 << ", got " << idx;
  if (ko.getRank() != r || ko.getElementType() != k.getElementType())
    return emitOpError() << "expected the keys output to have the keys' rank "
                            "and element type, got "
                         << ko << " for keys " << k;
  if (vo.getRank() != r || vo.getElementType() != v.getElementType())
    return emitOpError() << "expected the values output to have the values' "
                            "rank and element type, got "
                         << vo << " for values " << v;
  for (int64_t d = 0; d + 2 < r; ++d) {
    std::string kd = "keys dim " + std::to_string(d);
    if (failed(checkDimsMatch(op, idx.getDimSize(d), k.getDimSize(d),
                              "indices output dim " + std::to_string(d), kd)) ||
        failed(checkDimsMatch(op, ko.getDimSize(d), k.getDimSize(d),
                              "keys output dim " + std::to_string(d), kd)) ||
        failed(checkDimsMatch(op, vo.getDimSize(d), k.getDimSize(d),
                              "values output dim " + std::to_string(d), kd)))
      return failure();
  }
  int64_t n = getNumKept();
  for (auto [name, size] :
       {std::pair<StringRef, int64_t>{"indices", idx.getDimSize(r - 2)},
        {"keys", ko.getDimSize(r - 2)},
        {"values", vo.getDimSize(r - 2)}})
    if (ShapedType::isDynamic(size) || size != n)
      return emitOpError() << "expected the " << name << " output to hold "
                           << n << " positions (static: sink " << sink
                           << " + budget " << budget << " + recent " << recent
                           << "), got " << formatDim(size);
  if (failed(checkDimsMatch(op, ko.getDimSize(r - 1), k.getDimSize(r - 1),
                            "keys output dim", "keys dim")) ||
      failed(checkDimsMatch(op, vo.getDimSize(r - 1), v.getDimSize(r - 1),
                            "values output dim", "values dim")))
    return failure();
  return success();
}

void EvictOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getDpsEffects(getOperation(), effects);
}

#include "dialect/AttnEnums.cpp.inc"

#define GET_OP_CLASSES
#include "dialect/AttnOps.cpp.inc"
