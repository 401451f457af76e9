//===- RegionVectorizer.h - vectorize scalar attn regions -------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_COMMON_REGIONVECTORIZER_H
#define ATTN_CODEGEN_COMMON_REGIONVECTORIZER_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::attn {

/// Clones the ops of a scalar attn region body (`block`, ending in attn.yield)
/// at the builder's insertion point, with block argument k replaced by
/// `args[k]`, which is either a scalar ("uniform" across lanes) or a
/// `vector<lanes x T>` ("varying"). Ops with only uniform operands stay
/// scalar; elementwise ops with a varying operand become vector ops (uniform
/// operands are broadcast); loads with varying indices are gathered lane by
/// lane. Returns the yielded value, scalar or vector. Emits an error on
/// `diagOp` and fails for an op it cannot vectorize.
///
/// With `hoisted` (from hoistRegionInvariants), ops whose results it maps are
/// not emitted again: their hoisted values are used.
///
/// With `custom`, each op is first offered to it with its mapped operands;
/// when it returns true the op is handled (its results, if any, mapped by
/// the callback) and not vectorized here (attn.grad_accumulate in a
/// backward's score_grad region, which the caller scatters).
using CustomVectorizer =
    function_ref<bool(Operation &, ArrayRef<Value> operands, IRMapping &)>;
FailureOr<Value> vectorizeRegion(OpBuilder &b, Location loc, Block &block,
                                 ArrayRef<Value> args, int64_t lanes,
                                 Operation *diagOp,
                                 const IRMapping *hoisted = nullptr,
                                 CustomVectorizer custom = nullptr);

/// Emits, at the builder's insertion point, the ops of the region that depend
/// only on the arguments given in `args` (null entries are the arguments that
/// vary inside the caller's loop, e.g. the key index and the logit), as
/// vectorizeRegion would, and returns the mapping to pass back to it. The
/// row-invariant part of a mask or score region (a gathered document id of
/// the query rows, a slope) is then computed once per tile, not per key.
FailureOr<IRMapping> hoistRegionInvariants(OpBuilder &b, Location loc,
                                           Block &block, ArrayRef<Value> args,
                                           int64_t lanes, Operation *diagOp);

/// Broadcasts a scalar to `vector<lanes x T>`; returns vectors unchanged.
Value broadcastToVector(OpBuilder &b, Location loc, Value v, int64_t lanes);

} // namespace mlir::attn

#endif // ATTN_CODEGEN_COMMON_REGIONVECTORIZER_H
