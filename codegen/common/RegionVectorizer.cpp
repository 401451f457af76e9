//===- RegionVectorizer.cpp - vectorize scalar attn regions -----*- C++ -*-===//
//
// Part of the attn project.
//
// Score, mask and epilogue regions are written on scalars; backends evaluate
// them on a vector of lanes (query rows on the CPU, head-dim channels in the
// epilogue). Values that do not depend on a varying argument stay scalar, so
// per-row or per-key work (a slope, a document id) is done once per vector.
//
//===----------------------------------------------------------------------===//

#include "codegen/common/RegionVectorizer.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

Value mlir::attn::broadcastToVector(OpBuilder &b, Location loc, Value v,
                                    int64_t lanes) {
  if (isa<VectorType>(v.getType()))
    return v;
  return vector::BroadcastOp::create(b, loc,
                                     VectorType::get({lanes}, v.getType()), v);
}

/// Gathers a load with varying indices lane by lane. Varying indices are
/// clamped into the buffer: the lanes of masked-out elements (rows past the
/// end of the tile, keys a row does not see) evaluate the region too, and
/// their indices need not be valid. Their values are discarded by the mask.
static Value gatherLanes(OpBuilder &b, Location loc, Operation *load,
                         ArrayRef<Value> operands, int64_t lanes) {
  Value source = operands[0];
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> last(operands.size());
  for (size_t k = 1; k < operands.size(); ++k) {
    if (!isa<VectorType>(operands[k].getType()))
      continue;
    Value dim = isa<MemRefType>(source.getType())
                    ? memref::DimOp::create(b, loc, source, k - 1).getResult()
                    : tensor::DimOp::create(b, loc, source, k - 1).getResult();
    last[k] = arith::SubIOp::create(b, loc, dim, one);
  }
  SmallVector<Value> elements;
  for (int64_t l = 0; l < lanes; ++l) {
    SmallVector<Value> scalarOperands;
    for (size_t k = 0; k < operands.size(); ++k) {
      Value operand = operands[k];
      if (isa<VectorType>(operand.getType())) {
        operand = vector::ExtractOp::create(b, loc, operand, l);
        if (last[k])
          operand = arith::MinSIOp::create(
              b, loc, arith::MaxSIOp::create(b, loc, operand, zero), last[k]);
      }
      scalarOperands.push_back(operand);
    }
    OperationState state(loc, load->getName(), scalarOperands,
                         load->getResultTypes(), load->getAttrs());
    elements.push_back(b.create(state)->getResult(0));
  }
  return vector::FromElementsOp::create(
      b, loc, VectorType::get({lanes}, load->getResult(0).getType()), elements);
}

/// Vectorizes the ops of `block` into `map` (see vectorizeRegion). With
/// `onlyAvailable`, ops with an operand that is not available yet (an
/// unmapped block argument or the result of an op left out) are left out.
/// Ops whose results are already mapped are skipped.
static LogicalResult vectorizeOps(OpBuilder &b, Location loc, Block &block,
                                  IRMapping &map, int64_t lanes,
                                  Operation *diagOp, bool onlyAvailable,
                                  CustomVectorizer custom = nullptr) {
  auto isVarying = [](Value v) { return isa<VectorType>(v.getType()); };
  // The op verifiers guarantee the region ends in attn.yield.
  for (Operation &op : block.without_terminator()) {
    if (op.getNumResults() != 0 && map.contains(op.getResult(0)))
      continue; // Hoisted.
    if (onlyAvailable && llvm::any_of(op.getOperands(), [&](Value v) {
          return v.getParentBlock() == &block && !map.contains(v);
        }))
      continue;
    SmallVector<Value> operands;
    for (Value v : op.getOperands())
      operands.push_back(map.lookupOrDefault(v));
    if (custom && custom(op, operands, map))
      continue;
    if (op.getNumRegions() != 0) {
      return diagOp->emitOpError()
             << "cannot vectorize '" << op.getName()
             << "' in a region: ops with regions are not supported";
    }
    if (llvm::none_of(operands, isVarying)) {
      b.clone(op, map); // Uniform: stays scalar.
      continue;
    }
    if (isa<memref::LoadOp, tensor::ExtractOp>(op)) {
      map.map(op.getResult(0), gatherLanes(b, loc, &op, operands, lanes));
      continue;
    }
    if (!OpTrait::hasElementwiseMappableTraits(&op)) {
      return diagOp->emitOpError()
             << "cannot vectorize '" << op.getName() << "' in a region";
    }
    SmallVector<Value> vecOperands;
    for (Value v : operands)
      vecOperands.push_back(broadcastToVector(b, loc, v, lanes));
    // Division by a constant (a soft-cap's s / cap) as a multiplication by
    // its reciprocal: a vector division per logit vector costs as much as
    // a dozen FMAs; the result differs by at most an ulp or so, below the
    // exponential's polynomial error.
    if (auto div = dyn_cast<arith::DivFOp>(op)) {
      FloatAttr c;
      if (matchPattern(div.getRhs(), m_Constant(&c)) && c.getValueAsDouble() != 0 &&
          std::isfinite(c.getValueAsDouble())) {
        Value inv = arith::ConstantOp::create(
            b, loc, FloatAttr::get(c.getType(), 1.0 / c.getValueAsDouble()));
        Value mul = arith::MulFOp::create(
            b, loc, vecOperands[0], broadcastToVector(b, loc, inv, lanes));
        map.map(op.getResult(0), mul);
        continue;
      }
    }
    SmallVector<Type> resultTypes;
    for (Type t : op.getResultTypes())
      resultTypes.push_back(VectorType::get({lanes}, t));
    OperationState state(loc, op.getName(), vecOperands, resultTypes,
                         op.getAttrs());
    Operation *vec = b.create(state);
    map.map(op.getResults(), vec->getResults());
  }
  return success();
}

FailureOr<Value> mlir::attn::vectorizeRegion(OpBuilder &b, Location loc,
                                             Block &block, ArrayRef<Value> args,
                                             int64_t lanes, Operation *diagOp,
                                             const IRMapping *hoisted,
                                             CustomVectorizer custom) {
  IRMapping map = hoisted ? *hoisted : IRMapping();
  for (auto [arg, value] : llvm::zip(block.getArguments(), args))
    map.map(arg, value);
  if (failed(vectorizeOps(b, loc, block, map, lanes, diagOp,
                          /*onlyAvailable=*/false, custom)))
    return failure();
  auto values = cast<YieldOp>(block.getTerminator()).getValues();
  return values.empty() ? Value() : map.lookupOrDefault(values[0]);
}

FailureOr<IRMapping> mlir::attn::hoistRegionInvariants(
    OpBuilder &b, Location loc, Block &block, ArrayRef<Value> args,
    int64_t lanes, Operation *diagOp) {
  IRMapping map;
  for (auto [arg, value] : llvm::zip(block.getArguments(), args))
    if (value)
      map.map(arg, value);
  if (failed(vectorizeOps(b, loc, block, map, lanes, diagOp,
                          /*onlyAvailable=*/true)))
    return failure();
  // Only op results: the arguments are mapped again by vectorizeRegion.
  IRMapping results;
  for (Operation &op : block.without_terminator())
    for (Value r : op.getResults())
      if (Value v = map.lookupOrNull(r))
        results.map(r, v);
  return results;
}
