//===- Reference.h - scalar reference interpreter ---------------*- C++ -*-===//
//
// Part of the attn project.
//
// An independent interpreter of the dialect's semantics, used as a test
// oracle: it evaluates the function as written (no passes), element by
// element in double precision, with the textbook two-pass softmax.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TOOLS_ATTN_RUN_REFERENCE_H
#define ATTN_TOOLS_ATTN_RUN_REFERENCE_H

#include "tools/attn-run/Npy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <vector>

namespace mlir::attn {

/// Runs `func` on `inputs`; fills one array per result (in the result's
/// element type). Reports unsupported ops as errors on the op.
LogicalResult runReference(func::FuncOp func,
                           const std::vector<::attn::HostArray> &inputs,
                           std::vector<::attn::HostArray> &outputs);

} // namespace mlir::attn

#endif // ATTN_TOOLS_ATTN_RUN_REFERENCE_H
