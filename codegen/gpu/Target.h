//===- Target.h - NVPTX targets and PTX extraction --------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_GPU_TARGET_H
#define ATTN_CODEGEN_GPU_TARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <string>

namespace mlir {
class DialectRegistry;
namespace attn {

/// An NVIDIA GPU architecture attn compiles for.
struct NVPTXTarget {
  std::string chip;     ///< sm_80, sm_86, sm_89, sm_90, sm_90a
  std::string features; ///< PTX ISA version, e.g. +ptx80
};

/// The names accepted by --chip.
llvm::StringRef getNVPTXChipNames();

/// Looks up a chip by name.
llvm::Expected<NVPTXTarget> lookupNVPTXTarget(llvm::StringRef chip);

/// The PTX text of the kernels of a module lowered by attn-nvptx-pipeline
/// (the object of its gpu.binary). Fails if there is none.
llvm::Expected<std::string> getEmbeddedPTX(ModuleOp module);

/// Registers what the NVPTX path needs: the GPU/NVGPU/NVVM dialects, the
/// NVVM target (PTX generation) and the LLVM IR translations of gpu.binary
/// and gpu.launch_func.
void registerNVPTXDialects(DialectRegistry &registry);

} // namespace attn
} // namespace mlir

#endif // ATTN_CODEGEN_GPU_TARGET_H
