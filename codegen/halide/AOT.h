//===- AOT.h - ahead-of-time Halide compilation -----------------*- C++ -*-===//
//
// Part of the attn project.
//
// The part of the Halide backend the tools call without including Halide.h.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_HALIDE_AOT_H
#define ATTN_CODEGEN_HALIDE_AOT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>

namespace mlir::attn::halide {

/// Compiles `func` (attn on tensors, after attn-fuse-elementwise) with
/// Halide for this machine: LLVM 14 bitcode that defines
/// `int name(halide_buffer_t *...)` and `int name_argv(void **)` (the inputs,
/// then the results) and contains Halide's runtime.
FailureOr<std::string> compileToBitcode(func::FuncOp func, StringRef name);

/// The Halide target string of this machine as the backend uses it.
std::string hostTargetString();

} // namespace mlir::attn::halide

#endif // ATTN_CODEGEN_HALIDE_AOT_H
