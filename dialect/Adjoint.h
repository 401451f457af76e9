//===- Adjoint.h - reverse-mode differentiation helpers ---------*- C++ -*-===//
//
// Part of the attn project.
//
// The pieces of reverse-mode differentiation shared by attn-generate-backward
// and the adjoints of ops with regions: the models of AdjointOpInterface for
// the scalar arith/math ops, and the differentiation of a scalar region.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ADJOINT_H
#define ATTN_DIALECT_ADJOINT_H

#include "dialect/AttnOps.h"

namespace mlir::attn {

/// Attaches AdjointOpInterface to the scalar arith and math ops.
void registerAdjointExternalModels(DialectRegistry &registry);

/// A float tensor read by a region (tensor.extract) whose value the region's
/// result depends on: the extract (in the region) and its adjoint.
struct CapturedAdjoint {
  tensor::ExtractOp extract;
  Value adjoint;
};

/// The reverse sweep shared by functions and regions: walks `ops` last
/// first; for each op with a result adjoint in `adjoints`, `special` may
/// handle it (success: handled), otherwise its AdjointOpInterface adds the
/// gradients of its operands (and of the tensors its regions read) into
/// `adjoints`. Ops without the interface and without float operands are
/// constants; others are an error at their location.
LogicalResult
reverseSweep(OpBuilder &b, llvm::iterator_range<Block::iterator> ops,
             IRMapping &mapping, DenseMap<Value, Value> &adjoints,
             function_ref<LogicalResult(Operation &, ArrayRef<Value>)> special =
                 nullptr);

/// Differentiates a scalar region (one block, `attn.yield` of one value):
/// inlines its body at `b` with `args` for its block arguments (values it
/// reads from above through `mapping`), seeds the yielded value's adjoint
/// with `seed` and walks the body in reverse. Returns one adjoint per block
/// argument (null where none flows). Adjoints that reach a float tensor.extract
/// are appended to `captured` when it is given, and are an error at the
/// extract otherwise.
FailureOr<SmallVector<Value>>
buildRegionAdjoint(OpBuilder &b, Region &region, ValueRange args, Value seed,
                   IRMapping &mapping,
                   SmallVectorImpl<CapturedAdjoint> *captured = nullptr);

/// a + c for adjoints (f32 scalars or f32 tensors of one shape); either may
/// be null.
Value addAdjoints(OpBuilder &b, Location loc, Value a, Value c);

/// An f32 tensor of `like`'s shape filled with zeros.
Value zeroAdjoint(OpBuilder &b, Location loc, Value like);

/// The dynamic sizes of a ranked tensor value, for tensor.empty.
SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value tensor);

} // namespace mlir::attn

#endif // ATTN_DIALECT_ADJOINT_H
