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

/// The floating-point work of the attention ops of `func` on `inputs`:
/// 2 (D + Dv) per visible (query, key) pair and map, with the masks
/// evaluated as written (the other ops run normally, attention yields
/// zeros). What bench/run divides by time.
FailureOr<double> countAttentionFlops(func::FuncOp func,
                                      const std::vector<::attn::HostArray> &inputs);

/// Central finite differences of `func` in float64 (no rounding to element
/// types): for each floating-point input, the gradient of
/// sum_k <resultGrads[k], result_k> (one gradient per floating-point
/// result), stored in the input's element type. Two interpretations of the
/// function per input element: for small shapes. With `stride` > 1 only
/// every stride-th element of each input is differentiated (the others are
/// NaN).
LogicalResult gradReference(func::FuncOp func,
                            const std::vector<::attn::HostArray> &inputs,
                            const std::vector<::attn::HostArray> &resultGrads,
                            std::vector<::attn::HostArray> &grads,
                            int64_t stride = 1);

} // namespace mlir::attn

#endif // ATTN_TOOLS_ATTN_RUN_REFERENCE_H
