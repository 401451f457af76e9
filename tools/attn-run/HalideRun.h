//===- HalideRun.h - attn-run --backend=halide ------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TOOLS_ATTN_RUN_HALIDERUN_H
#define ATTN_TOOLS_ATTN_RUN_HALIDERUN_H

#include "tools/attn-run/Npy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <vector>

namespace mlir::attn {

/// Fuses `func`'s module (attn-fuse-elementwise), lowers `func` to a Halide
/// pipeline, JIT-compiles it for this machine and runs it on `inputs`
/// (whose dtypes and ranks attn-run has checked). With `benchmark` > 0,
/// also times that many runs and returns their median in `medianMs`.
LogicalResult runHalide(func::FuncOp func,
                        const std::vector<::attn::HostArray> &inputs,
                        std::vector<::attn::HostArray> &outputs,
                        int benchmark, double &medianMs);

} // namespace mlir::attn

#endif // ATTN_TOOLS_ATTN_RUN_HALIDERUN_H
