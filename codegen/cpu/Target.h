//===- Target.h - CPU targets and object emission ---------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CODEGEN_CPU_TARGET_H
#define ATTN_CODEGEN_CPU_TARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
} // namespace llvm

namespace mlir::attn {

/// An x86-64 code generation target.
struct CPUTarget {
  std::string name;     ///< x86-64, x86-64-avx2, x86-64-avx512 or native
  std::string cpu;      ///< LLVM CPU name
  std::string features; ///< LLVM feature string
  int64_t vectorWidth;  ///< f32 lanes per vector register
  bool bf16Dot = false; ///< AVX512-BF16 dot products (vdpbf16ps)
};

/// The names accepted by --target.
llvm::StringRef getCPUTargetNames();

/// Looks up a target by name.
llvm::Expected<CPUTarget> lookupCPUTarget(llvm::StringRef name);

/// Registers LLVM's native target, its assembly printer and parser (once per
/// process; safe from several threads).
void initializeNativeTarget();

/// Creates the LLVM target machine (PIC, -O3) for `target`.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const CPUTarget &target);

/// Translates an LLVM-dialect module to LLVM IR and optimizes it at -O3.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(ModuleOp module, llvm::LLVMContext &ctx,
                     llvm::TargetMachine &tm, const CPUTarget &target);

/// Emits a relocatable object file.
llvm::Error emitObject(llvm::Module &module, llvm::TargetMachine &tm,
                       llvm::SmallVectorImpl<char> &object);

} // namespace mlir::attn

#endif // ATTN_CODEGEN_CPU_TARGET_H
