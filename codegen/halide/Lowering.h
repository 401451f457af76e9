//===- Lowering.h - attn programs to Halide pipelines -----------*- C++ -*-===//
//
// Part of the attn project.
//
// The Halide backend: a public function of an attn module (on tensors, after
// attn-fuse-elementwise) becomes a Halide 14 pipeline, with the tile
// decisions of the MLIR path expressed as schedules. See README.md beside
// this file. Only the files of this directory and the tool that runs the
// pipelines include Halide.h (Halide links its own LLVM 14; the symbols of
// the two LLVMs are versioned, so both live in one process).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_HALIDE_LOWERING_H
#define ATTN_CODEGEN_HALIDE_LOWERING_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <Halide.h>

#include <vector>

namespace mlir::attn::halide {

/// The Halide form of one function. Tensors are Halide buffers whose
/// dimension 0 is the innermost (last) tensor dimension.
struct LoweredFunction {
  /// One per function argument, of the argument's storage type.
  std::vector<Halide::ImageParam> inputs;
  /// One per result, of the result's storage type (bf16 results are
  /// BFloat(16), i1 results UInt(8)).
  std::vector<Halide::Func> outputs;
  /// The result shapes, outermost dimension first, in terms of the inputs'
  /// extents.
  std::vector<std::vector<Halide::Expr>> outputShapes;
};

/// The Halide type a tensor of `elem` is stored as.
Halide::Type storageType(Type elem);

/// The Halide target of this machine (JIT and ahead of time).
Halide::Target hostTarget();

/// Builds the pipeline of `func`. A construct the backend cannot express is
/// an error at its location (and a failure).
FailureOr<LoweredFunction> lowerToHalide(func::FuncOp func);

} // namespace mlir::attn::halide

#endif // ATTN_CODEGEN_HALIDE_LOWERING_H
